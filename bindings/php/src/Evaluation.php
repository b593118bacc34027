<?php

declare(strict_types=1);

namespace Flags;

/**
 * The detail of one evaluation: whether the flag is on, the variant, why,
 * and the bucket (0..9999) the bucket key fell in when it was used.
 *
 * Reasons are the library's, in evaluation order: KILL_ALL, FLAG_NOT_FOUND,
 * KILLED, REQUIREMENT_UNMET, DENIED, PILOT, ROLLOUT_IN, ROLLOUT_OUT,
 * MISSING_BUCKET_KEY; plus INVALID_CONTEXT, given by this package when the
 * context array could not be turned into attributes (a float, an array or
 * an object as a value, an empty attribute name, bytes that are not UTF-8);
 * $error then says which attribute and why.
 *
 * For a migration flag (docs/migrations.md) $variant is its stage (off,
 * dualwrite, shadow, live, rampdown, complete), whether $enabled is true
 * or false.
 */
final class Evaluation
{
    public const KILL_ALL = 'KILL_ALL';
    public const FLAG_NOT_FOUND = 'FLAG_NOT_FOUND';
    public const KILLED = 'KILLED';
    public const REQUIREMENT_UNMET = 'REQUIREMENT_UNMET';
    public const DENIED = 'DENIED';
    public const PILOT = 'PILOT';
    public const ROLLOUT_IN = 'ROLLOUT_IN';
    public const ROLLOUT_OUT = 'ROLLOUT_OUT';
    public const MISSING_BUCKET_KEY = 'MISSING_BUCKET_KEY';
    public const INVALID_CONTEXT = 'INVALID_CONTEXT';

    /** @internal the library's FLAGS_REASON_* numbers, in order */
    public const REASONS = [
        self::KILL_ALL,
        self::FLAG_NOT_FOUND,
        self::KILLED,
        self::REQUIREMENT_UNMET,
        self::DENIED,
        self::PILOT,
        self::ROLLOUT_IN,
        self::ROLLOUT_OUT,
        self::MISSING_BUCKET_KEY,
    ];

    public function __construct(
        public readonly bool $enabled,
        public readonly ?string $variant,
        public readonly string $reason,
        public readonly ?int $bucket,
        public readonly ?string $error = null,
    ) {
    }

    /** @return array{enabled: bool, variant: ?string, reason: string, bucket: ?int} */
    public function toArray(): array
    {
        return [
            'enabled' => $this->enabled,
            'variant' => $this->variant,
            'reason' => $this->reason,
            'bucket' => $this->bucket,
        ];
    }
}
