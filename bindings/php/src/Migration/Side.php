<?php

declare(strict_types=1);

namespace Flags\Migration;

/** Which of the two systems of a migration: the one migrated from, or to. */
enum Side: string
{
    case Old = 'old';
    case New = 'new';

    /** The other side. */
    public function other(): self
    {
        return $this === self::Old ? self::New : self::Old;
    }
}
