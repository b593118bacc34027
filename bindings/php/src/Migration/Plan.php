<?php

declare(strict_types=1);

namespace Flags\Migration;

/**
 * What one operation (a read or a write) does at a stage: the side whose
 * answer the caller gets (it runs first), whether the other side runs as
 * well, and whether the two results are compared (reads only).
 */
final class Plan
{
    public function __construct(
        public readonly Side $authoritative,
        public readonly bool $both,
        public readonly bool $compare,
    ) {
    }
}
