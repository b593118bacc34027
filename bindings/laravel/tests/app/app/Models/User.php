<?php

namespace App\Models;

use Flags\Laravel\Contracts\HasFlagsContext;
use Illuminate\Contracts\Auth\Authenticatable;

/**
 * A user of the test application (no database: users come from
 * config('auth.users')), with the attributes its flags look at.
 */
class User implements Authenticatable, HasFlagsContext
{
    /** @param array<string, string|int|bool|null> $context */
    public function __construct(public string|int $id, public array $context = [], public string $name = '')
    {
    }

    public function toFlagsContext(): array
    {
        return $this->context;
    }

    public function getAuthIdentifierName()
    {
        return 'id';
    }

    public function getAuthIdentifier()
    {
        return $this->id;
    }

    public function getAuthPassword()
    {
        return '';
    }

    public function getRememberToken()
    {
        return null;
    }

    public function setRememberToken($value)
    {
    }

    public function getRememberTokenName()
    {
        return '';
    }
}
