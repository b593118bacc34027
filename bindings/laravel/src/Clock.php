<?php

declare(strict_types=1);

namespace Flags\Laravel;

use Flags\Evaluation;
use Flags\Flags;
use Flags\Scoped;
use Carbon\Carbon;

/**
 * Laravel's test clock for flags: when a test moved time
 * (`$this->travelTo(...)`, `Carbon::setTestNow(...)`), ramps are evaluated
 * at that time; otherwise at the real time, by the library.
 *
 * @internal
 */
final class Clock
{
    /** The test time, or null when none is set (the usual case). */
    public static function testNow(): ?\DateTimeInterface
    {
        // Loading Carbon costs a request hundreds of microseconds: when it
        // is not loaded, no test moved the time.
        return class_exists(Carbon::class, false) && Carbon::hasTestNow() ? Carbon::now() : null;
    }

    /**
     * The keys of the flags on at $now (the library's enabledFlags() has
     * no time argument; only tests that moved time come here).
     *
     * @param array<string, mixed> $context
     * @return list<string>
     */
    public static function enabledAt(Flags $flags, ?Scoped $scoped, array $context, \DateTimeInterface $now): array
    {
        $keys = [];
        $all = $scoped !== null ? $scoped->evaluateAll() : $flags->evaluateAll($context);
        foreach (array_keys($all) as $key) {
            $key = (string) $key;
            $evaluation = $scoped !== null ? $scoped->evaluateAt($key, $now) : $flags->evaluateAt($key, $context, $now);
            if ($evaluation->enabled) {
                $keys[] = $key;
            }
        }
        return $keys;
    }

    /** @param array<string, mixed> $context */
    public static function evaluate(Flags $flags, string $flag, array $context, ?\DateTimeInterface $now): Evaluation
    {
        return $now === null ? $flags->evaluate($flag, $context) : $flags->evaluateAt($flag, $context, $now);
    }
}
