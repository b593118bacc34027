<?php

declare(strict_types=1);

namespace Flags\Laravel\Commands;

use Flags\FlagFile;

/**
 * `flags:set FLAG --percentage=N` or `--ramp=POINTS`: the flag's rollout,
 * as `flags set` sets it (a percentage replaces a ramp and the reverse).
 */
final class SetCommand extends EditCommand
{
    protected $signature = 'flags:set {flag : The flag whose rollout to set}
        {--percentage= : The share of users who get it, 0 to 100, at most two decimals (12.5)}
        {--ramp= : A percentage that rises with time: PERCENT@TIME,... e.g. "10@2026-11-21T00:00:00Z,100@2026-11-22T00:00:00Z"}'
        . self::OPTIONS;

    protected $description = 'Set a flag\'s rollout: a percentage, or a ramp over time';

    public function handle(): int
    {
        $percentage = $this->option('percentage');
        $ramp = $this->option('ramp');
        if (($percentage === null) === ($ramp === null)) {
            $this->error('flags:set needs exactly one of --percentage=N (0 to 100) and --ramp=PERCENT@TIME,...');
            return self::INVALID;
        }
        $flag = (string) $this->argument('flag');
        if ($percentage !== null) {
            $percentage = trim((string) $percentage);
            return $this->edit(static fn (FlagFile $file, bool $dryRun) => $file->setPercentage($flag, $percentage, $dryRun));
        }
        $points = self::rampPoints((string) $ramp);
        if (\is_string($points)) {
            $this->error($points);
            return self::INVALID;
        }
        return $this->edit(static fn (FlagFile $file, bool $dryRun) => $file->setRamp($flag, $points, $dryRun));
    }

    /**
     * "10@2026-11-21T00:00:00Z,100@..." as [[10, '2026-11-21T00:00:00Z'], ...],
     * or a message saying what is wrong. The library checks the values
     * (range, decimals, times, order).
     *
     * @return list<array{int|float, string}>|string
     */
    public static function rampPoints(string $ramp): array|string
    {
        $points = [];
        foreach (explode(',', $ramp) as $i => $point) {
            $point = trim($point);
            if (!preg_match('/^(\d+(?:\.\d+)?)@(\S+)$/', $point, $m)) {
                return sprintf(
                    '--ramp: point %d is "%s"; expected PERCENT@TIME, e.g. 10@2026-11-21T00:00:00Z '
                    . '(points separated by commas)',
                    $i + 1,
                    $point,
                );
            }
            $points[] = [str_contains($m[1], '.') ? (float) $m[1] : (int) $m[1], $m[2]];
        }
        return $points;
    }
}
