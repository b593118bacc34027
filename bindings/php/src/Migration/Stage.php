<?php

declare(strict_types=1);

namespace Flags\Migration;

use Flags\Evaluation;

/**
 * One stage of a migration flag, in the order a migration goes through
 * them, named as in the flag file, in the evaluation's variant and in the
 * records sent to the server.
 *
 * What a read and a write do at each stage (PLANS, the one table):
 *
 * | stage     | read                       | write                 |
 * |-----------|----------------------------|-----------------------|
 * | off       | old                        | old                   |
 * | dualwrite | old                        | old, then new         |
 * | shadow    | old answers, new compared  | old, then new         |
 * | live      | new answers, old compared  | new, then old         |
 * | rampdown  | new                        | new, then old         |
 * | complete  | new                        | new                   |
 */
enum Stage: string
{
    case Off = 'off';
    case DualWrite = 'dualwrite';
    case Shadow = 'shadow';
    case Live = 'live';
    case RampDown = 'rampdown';
    case Complete = 'complete';

    /**
     * stage => [authoritative side, a read runs both sides and compares
     * them, a write runs both sides].
     */
    private const PLANS = [
        'off' => ['old', false, false],
        'dualwrite' => ['old', false, true],
        'shadow' => ['old', true, true],
        'live' => ['new', true, true],
        'rampdown' => ['new', false, true],
        'complete' => ['new', false, false],
    ];

    /**
     * The stage a migration flag's evaluation names in its variant. No
     * variant (the flag does not exist, the context was not valid) or a
     * variant that is no stage (not a migration flag) is Off: the old
     * system, the one that worked before the migration.
     */
    public static function fromEvaluation(Evaluation $evaluation): self
    {
        return $evaluation->variant === null ? self::Off : (self::tryFrom($evaluation->variant) ?? self::Off);
    }

    /**
     * The stages of a migration of $count stages: 2 (off, complete), 4
     * (off, shadow, live, complete) or 6 (all).
     *
     * @return list<self>
     * @throws \InvalidArgumentException for another count
     */
    public static function set(int $count): array
    {
        return match ($count) {
            2 => [self::Off, self::Complete],
            4 => [self::Off, self::Shadow, self::Live, self::Complete],
            6 => self::cases(),
            default => throw new \InvalidArgumentException("a migration has 2, 4 or 6 stages, not $count"),
        };
    }

    /** The side authoritative for reads and writes at this stage. */
    public function authoritative(): Side
    {
        return Side::from(self::PLANS[$this->value][0]);
    }

    /** What a read does at this stage. */
    public function read(): Plan
    {
        $both = self::PLANS[$this->value][1];
        return new Plan($this->authoritative(), $both, $both);
    }

    /** What a write does at this stage (writes are never compared). */
    public function write(): Plan
    {
        return new Plan($this->authoritative(), self::PLANS[$this->value][2], false);
    }
}
