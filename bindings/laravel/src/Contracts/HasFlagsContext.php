<?php

declare(strict_types=1);

namespace Flags\Laravel\Contracts;

/**
 * Implemented by a User model (or a Team, a Tenant...) to give flags more
 * attributes than its id: what a flag's requirements, pilots, deny lists
 * and bucket_by look at.
 *
 * ```php
 * class User extends Authenticatable implements HasFlagsContext
 * {
 *     public function toFlagsContext(): array
 *     {
 *         return ['tenant_id' => (string) $this->tenant_id, 'plan' => $this->plan];
 *     }
 * }
 * ```
 */
interface HasFlagsContext
{
    /**
     * Attribute name => value: strings as they are, integers as their
     * decimal text, booleans as "true"/"false", null for absent. A float,
     * an array or an object makes the context invalid (every flag off).
     *
     * @return array<string, string|int|bool|null>
     */
    public function toFlagsContext(): array;
}
