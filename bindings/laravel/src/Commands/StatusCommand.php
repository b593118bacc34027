<?php

declare(strict_types=1);

namespace Flags\Laravel\Commands;

use Flags\FlagFile;
use Flags\FlagsException;
use Flags\Laravel\FlagSource;
use Illuminate\Console\Command;

/**
 * `flags:status`: every flag of the flag file, what `rollout:monitor`
 * showed: state, the percentage in effect now (and the next ramp point),
 * pilots, requirements, variants, owner. `--json` prints the document of
 * `flags status --json`. With `--prometheus=URL` (or config
 * `flags.prometheus`), what `flags status --prometheus` shows too: each
 * guard's query asked now against its threshold, and one recommendation
 * line (FlagFile::monitor(), the same code as the `flags` command).
 */
final class StatusCommand extends Command
{
    protected $signature = 'flags:status
        {--json : One JSON document (the one `flags status --json` prints)}
        {--now= : Show the state at this time (RFC 3339) instead of now}
        {--file= : The flag file (default: the file of config/flags.php)}
        {--prometheus= : Ask this Prometheus every guard\'s query, e.g. http://127.0.0.1:9090 (default: config flags.prometheus)}';

    protected $description = 'Show every flag: state, percentage now, pilots, requirements, variants, owner';

    public function handle(FlagSource $source): int
    {
        $path = $this->option('file') ?: $source->file();
        if ($path === null) {
            $this->error(sprintf(
                'flags:status reads a flag file, but this application reads its flags from the flags server %s; '
                . 'pass --file=PATH (for example its offline cache, %s) or run `flags status` where the file lives',
                $source->serverUrl(),
                config('flags.server.cache_path') ?? 'flags.server.cache_path',
            ));
            return self::FAILURE;
        }
        $now = Rfc3339::option($this->option('now'), fn (string $message) => $this->error($message));
        if ($now === false) {
            return self::INVALID;
        }
        $prometheus = $this->option('prometheus') ?: config('flags.prometheus');
        if ($prometheus !== null && $prometheus !== '' && $now !== null) {
            $this->error('--now cannot be used with --prometheus: the guards\' queries are asked now');
            return self::INVALID;
        }
        try {
            $file = new FlagFile((string) $path);
            $status = $prometheus !== null && $prometheus !== ''
                ? $file->monitor((string) $prometheus, (int) config('flags.prometheus_timeout_ms', 5000))
                : $file->status($now);
        } catch (FlagsException $e) {
            $this->error($e->getMessage());
            return self::FAILURE;
        }
        if ($this->option('json')) {
            $this->line(json_encode($status, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR));
            return self::SUCCESS;
        }
        $this->printTable($status);
        if (\array_key_exists('recommendation', $status)) {
            $this->printGuards($status);
        }
        return self::SUCCESS;
    }

    /**
     * The guards as `flags status --prometheus` shows them: value,
     * threshold, for, action, status; then the recommendation line.
     *
     * @param array<string, mixed> $status
     */
    private function printGuards(array $status): void
    {
        $rows = [];
        foreach ($status['flags'] ?? [] as $flag) {
            $guard = $flag['guard'] ?? null;
            if (!\is_array($guard) || !isset($guard['now'])) {
                continue;
            }
            $now = $guard['now'];
            $comparison = \array_key_exists('above', $guard) ? 'above' : 'below';
            $rows[] = [
                $flag['key'],
                $now['value'] === null ? '-' : self::number($now['value']),
                $comparison . ' ' . self::number($guard[$comparison]),
                $guard['for'],
                $guard['action'],
                self::guardState($guard['action'], $now),
            ];
        }
        if ($rows !== []) {
            $this->table(['Guard', 'Value', 'Threshold', 'For', 'Action', 'Status'], $rows);
        }
        $line = (string) $status['recommendation'];
        if (str_starts_with($line, 'GUARD CROSSED') || str_starts_with($line, 'NO DATA')) {
            $this->error($line);
        } else {
            $this->line($line);
        }
    }

    /** @param array<string, mixed> $now a guard's `now` */
    private static function guardState(string $action, array $now): string
    {
        if ($now['done']) {
            return $action === 'kill' ? 'done: the flag is off' : 'done: the ramp is paused';
        }
        if ($now['no_data'] !== null) {
            return 'NO DATA: ' . $now['no_data'];
        }
        if (!$now['crossed']) {
            return 'ok';
        }
        return $now['seen_crossed_for_seconds'] === null
            ? 'CROSSED'
            : 'CROSSED, seen for ' . (int) $now['seen_crossed_for_seconds'] . 's';
    }

    /** A number as the `flags` command prints it: 0.05, 1, -2.5. */
    private static function number(int|float $value): string
    {
        return \is_int($value) || floor($value) !== $value ? (string) $value : (string) (int) $value;
    }

    /** @param array<string, mixed> $status */
    private function printTable(array $status): void
    {
        $flags = $status['flags'] ?? [];
        $this->line(sprintf(
            '%s: %d flag%s, content hash %s, at %s',
            $status['file'] ?? '?',
            \count($flags),
            \count($flags) === 1 ? '' : 's',
            $status['content_hash'] ?? '?',
            $status['now'] ?? '?',
        ));
        if (!empty($status['kill_all'])) {
            $this->error('KILL_ALL is ON: every flag is off for everyone (`php artisan flags:unkill-all` lifts it)');
        }
        if (!empty($status['interrupted_edit'])) {
            $this->warn('an interrupted edit left its audit record unconfirmed; the next edit of the file settles it');
        }
        if (!empty($status['pilots'])) {
            $this->line('global pilots (every flag): ' . self::counts($status['pilots']));
        }
        $rows = [];
        foreach ($flags as $flag) {
            $rows[] = [
                $flag['key'],
                $flag['state'],
                self::now($flag),
                self::counts($flag['pilots'] ?? []),
                self::requires($flag['requires'] ?? []),
                isset($flag['migration'])
                    ? self::stageMix($flag, !empty($status['pilots']), !empty($status['kill_all']))
                    : self::variants($flag['variants'] ?? []),
                $flag['owner'] ?? '-',
            ];
        }
        $this->table(['Flag', 'State', 'Now', 'Pilots', 'Requires', 'Variants', 'Owner'], $rows);
    }

    /** @param array<string, mixed> $flag */
    private static function now(array $flag): string
    {
        $now = self::percent($flag['percentage_now'] ?? 0);
        if (isset($flag['next']['percentage'], $flag['next']['at'])) {
            $now .= ' -> ' . self::percent($flag['next']['percentage']) . ' at ' . $flag['next']['at'];
        }
        return $now;
    }

    private static function percent(int|float|string $value): string
    {
        return rtrim(rtrim(number_format((float) $value, 2, '.', ''), '0'), '.') . '%';
    }

    /** @param array<string, int> $counts distinct ids per attribute */
    private static function counts(array $counts): string
    {
        if ($counts === []) {
            return '-';
        }
        $parts = [];
        foreach ($counts as $attribute => $count) {
            $parts[] = "$attribute $count";
        }
        return implode(', ', $parts);
    }

    /** @param list<array<string, mixed>> $requires */
    private static function requires(array $requires): string
    {
        if ($requires === []) {
            return '-';
        }
        $ops = ['in' => 'in', 'not_in' => 'not in', 'semver_gte' => '>=', 'semver_lt' => '<'];
        $parts = [];
        foreach ($requires as $condition) {
            $value = isset($condition['values'])
                ? '[' . implode(', ', (array) $condition['values']) . ']'
                : (string) ($condition['value'] ?? '');
            $parts[] = $condition['attribute'] . ' ' . ($ops[$condition['op']] ?? $condition['op']) . ' ' . $value;
        }
        return implode('; ', $parts);
    }

    /**
     * A migration flag's stage mix, as `flags status` writes it:
     * `dualwrite 90% / shadow 10% / live: pilots`.
     *
     * @param array<string, mixed> $flag
     */
    private static function stageMix(array $flag, bool $globalPilots, bool $killAll): string
    {
        $migration = $flag['migration'];
        $parts = array_map(
            static fn (array $share): string => $share['stage'] . ' ' . self::percent($share['percentage']),
            $migration['mix'] ?? [],
        );
        $pilots = !empty($flag['pilots']) || $globalPilots;
        if ($pilots && !$killAll && empty($flag['killed'])) {
            $parts[] = $migration['pilot_stage'] . ': pilots';
        }
        return implode(' / ', $parts);
    }

    /** @param list<array{name: string, weight: int|float}> $variants */
    private static function variants(array $variants): string
    {
        if ($variants === []) {
            return '-';
        }
        return implode(' / ', array_map(static fn (array $v): string => $v['name'] . ' ' . $v['weight'], $variants));
    }
}
