<?php

declare(strict_types=1);

namespace Flags;

use Flags\Internal\Native;

/**
 * Edits a flag file exactly as the `flags` commands do, through the same
 * code (the library's flags_file_edit): the directory lock shared with
 * every other edit, validation before writing, an atomic write refused when
 * someone else changed the file meanwhile, and one audit record per edit.
 *
 * ```php
 * $file = new Flags\FlagFile('/etc/myapp/flags.json', ['actor' => 'oncall']);
 * $file->kill('checkout');                       // EditResult: summary "checkout: killed"
 * $file->setPercentage('search_v2', '12.5');
 * $file->apply([                                 // one read, one write, one audit record
 *     ['op' => 'kill', 'flag' => 'checkout'],
 *     ['op' => 'add_pilots', 'flag' => null, 'ids' => ['42']],
 * ]);
 * $file->status();                               // the document of `flags status FILE --json`
 * $file->monitor('http://127.0.0.1:9090');       // ... of `flags status FILE --prometheus URL --json`
 * ```
 *
 * Every failure throws a FlagsException whose message is the one `flags`
 * prints: CONFLICT when the file changed since it was read or another edit
 * held it too long (run it again), INVALID_FLAGS for an invalid file (or a
 * replace() with invalid text) with every diagnostic, INVALID_ARGUMENT for an
 * operation that cannot be made (an unknown flag, a bad percentage), IO.
 * Nothing is written when it throws, except for the one IO error that says
 * "written, but the audit log ... could not be appended".
 */
final class FlagFile
{
    private const OPTIONS = ['audit_log' => true, 'actor' => true, 'command' => true, 'reason' => true, 'lock_wait_ms' => true, 'library' => true];

    private readonly ?string $auditLog;
    private readonly ?string $actor;
    private readonly string $command;
    private readonly ?string $reason;
    private readonly ?int $lockWaitMs;
    private readonly ?string $library;

    /**
     * @param array{audit_log?: string, actor?: string, command?: string, reason?: string, lock_wait_ms?: int, library?: string} $options
     *        audit_log: where to append the audit record (default FILE.audit.jsonl beside the file, as `flags` does);
     *        actor: who makes the change, not blank (default, as `flags`: $SUDO_USER, else the login name of the
     *        process's uid, else uid:N);
     *        command: the audit record's "command", e.g. "php artisan flags:kill checkout" (default: the PHP
     *        script's command line, each word quoted for a shell);
     *        reason: why the changes are made, the audit record's "reason" (as `flags --reason`; default none);
     *        lock_wait_ms: how long to wait for another edit of the same directory, 0 to 60000 (default 30000);
     *        library: a libflags_ffi.so to load (as Flags::open())
     * @throws FlagsException INVALID_ARGUMENT for an unknown or bad option
     */
    public function __construct(private readonly string $path, array $options = [])
    {
        foreach ($options as $name => $value) {
            if (!isset(self::OPTIONS[$name])) {
                throw new FlagsException(
                    "Unknown option \"$name\"; known options: " . implode(', ', array_keys(self::OPTIONS)),
                    FlagsException::INVALID_ARGUMENT,
                );
            }
            $ok = match ($name) {
                'lock_wait_ms' => \is_int($value) && $value >= 0 && $value <= 60000,
                default => \is_string($value) && ($name !== 'actor' || trim($value) !== ''),
            };
            if (!$ok) {
                $expected = match ($name) {
                    'lock_wait_ms' => 'milliseconds from 0 to 60000',
                    'actor' => 'a name, not blank (leave the option out to record the login name)',
                    default => 'a string',
                };
                throw new FlagsException(
                    "Option \"$name\": expected $expected, got " . self::describe($value),
                    FlagsException::INVALID_ARGUMENT,
                );
            }
        }
        if ($path === '') {
            throw new FlagsException('The flag file path is empty', FlagsException::INVALID_ARGUMENT);
        }
        $this->auditLog = $options['audit_log'] ?? null;
        $this->actor = $options['actor'] ?? null;
        $this->command = $options['command'] ?? self::defaultCommand();
        $this->reason = $options['reason'] ?? null;
        $this->lockWaitMs = $options['lock_wait_ms'] ?? null;
        $this->library = $options['library'] ?? null;
    }

    /** The flag file, as given. */
    public function path(): string
    {
        return $this->path;
    }

    /**
     * Applies $ops, in order, to one read of the file, validates the result
     * and writes it once, with ONE audit record whose summary lists every
     * change ("a: killed; b: percentage 10% -> 25%"). With $dryRun, computes
     * the change and writes nothing.
     *
     * Each operation is an array: ['op' => 'set_percentage', 'flag' => 'x', 'percentage' => '12.5'],
     * ['op' => 'set_ramp', 'flag' => 'x', 'points' => [[10, '2026-11-21T00:00:00Z'], [100, '...']]],
     * ['op' => 'add_pilots' | 'remove_pilots', 'flag' => 'x' or null (the top-level pilots),
     *  'ids' => ['1', '2'], 'attribute' => 'user_id'], ['op' => 'kill' | 'unkill', 'flag' => 'x'],
     * ['op' => 'kill_all' | 'unkill_all'], ['op' => 'create', 'flag' => 'x', 'description' => ?string,
     * 'owner' => ?string], ['op' => 'delete', 'flag' => 'x'], ['op' => 'replace', 'text' => '...'].
     * Integer ids are taken as their decimal text; a ramp time may be a DateTimeInterface.
     *
     * @param list<array<string, mixed>> $ops
     * @throws FlagsException see the class documentation
     */
    public function apply(array $ops, bool $dryRun = false): EditResult
    {
        if ($ops === [] || !array_is_list($ops)) {
            throw new FlagsException(
                'The operations must be a non-empty list, such as [[\'op\' => \'kill\', \'flag\' => \'checkout\']]',
                FlagsException::INVALID_ARGUMENT,
            );
        }
        $request = ['path' => $this->path, 'ops' => array_map(self::normalize(...), $ops), 'dry_run' => $dryRun];
        $request += array_filter([
            'audit_log' => $this->auditLog,
            'actor' => $this->actor,
            'command' => $this->command,
            'reason' => $this->reason,
            'lock_wait_ms' => $this->lockWaitMs,
        ], static fn ($v) => $v !== null);
        try {
            $json = json_encode($request, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE
                | JSON_PRESERVE_ZERO_FRACTION);
        } catch (\JsonException $e) {
            $utf8 = $e->getCode() === JSON_ERROR_UTF8;
            throw new FlagsException(
                "{$this->path}: the edit cannot be sent to the library: "
                . ($utf8 ? 'a string in it is not valid UTF-8' : $e->getMessage()),
                $utf8 ? FlagsException::INVALID_UTF8 : FlagsException::INVALID_ARGUMENT,
                '',
                $e,
            );
        }
        $ffi = Native::ffi($this->library);
        $code = $ffi->flags_file_edit($json, \strlen($json), Native::stringOut(), Native::errorOut());
        $out = Native::takeString();
        $error = Native::takeError();
        if ($code !== 0) {
            throw self::failure($code, $error);
        }
        $result = json_decode((string) $out, true, 16, JSON_THROW_ON_ERROR);
        return new EditResult(
            (bool) $result['written'],
            (bool) $result['dry_run'],
            (string) $result['summary'],
            array_map('strval', $result['changes']),
            (string) $result['before'],
            (string) $result['after'],
            $result['audit_log'] ?? null,
        );
    }

    /** `flags set FILE FLAG --percentage N`: 0 to 100, at most two decimals ("12.5", 12.5, "12.5%"). */
    public function setPercentage(string $flag, string|int|float $percentage, bool $dryRun = false): EditResult
    {
        return $this->apply([['op' => 'set_percentage', 'flag' => $flag, 'percentage' => $percentage]], $dryRun);
    }

    /**
     * `flags set FILE FLAG --ramp POINTS`: [[percentage, time], ...], each time RFC 3339 with an offset
     * (or a DateTimeInterface), strictly increasing.
     *
     * @param list<array{0: string|int|float, 1: string|\DateTimeInterface}> $points
     */
    public function setRamp(string $flag, array $points, bool $dryRun = false): EditResult
    {
        return $this->apply([['op' => 'set_ramp', 'flag' => $flag, 'points' => $points]], $dryRun);
    }

    /**
     * `flags pilots FILE FLAG --add ID...`; a null $flag edits the top-level pilots (`--global`).
     *
     * @param list<string|int> $ids
     */
    public function addPilots(?string $flag, array $ids, string $attribute = 'user_id', bool $dryRun = false): EditResult
    {
        return $this->apply([['op' => 'add_pilots', 'flag' => $flag, 'ids' => $ids, 'attribute' => $attribute]], $dryRun);
    }

    /**
     * `flags pilots FILE FLAG --remove ID...`; a null $flag edits the top-level pilots (`--global`).
     *
     * @param list<string|int> $ids
     */
    public function removePilots(?string $flag, array $ids, string $attribute = 'user_id', bool $dryRun = false): EditResult
    {
        return $this->apply([['op' => 'remove_pilots', 'flag' => $flag, 'ids' => $ids, 'attribute' => $attribute]], $dryRun);
    }

    /** `flags kill FILE FLAG`. */
    public function kill(string $flag, bool $dryRun = false): EditResult
    {
        return $this->apply([['op' => 'kill', 'flag' => $flag]], $dryRun);
    }

    /** `flags unkill FILE FLAG`. */
    public function unkill(string $flag, bool $dryRun = false): EditResult
    {
        return $this->apply([['op' => 'unkill', 'flag' => $flag]], $dryRun);
    }

    /**
     * `flags pause FILE FLAG`: the flag's ramp stays at its percentage of
     * $at (default now) until resume() (writes `paused_at`; a flag already
     * paused keeps its earlier time). The flag must have a ramp.
     */
    public function pause(string $flag, ?\DateTimeInterface $at = null, bool $dryRun = false): EditResult
    {
        $op = ['op' => 'pause', 'flag' => $flag];
        if ($at !== null) {
            $op['at'] = $at->format('Y-m-d\TH:i:s.vP');
        }
        return $this->apply([$op], $dryRun);
    }

    /** `flags resume FILE FLAG`: the ramp follows its schedule again (removes `paused_at`). */
    public function resume(string $flag, bool $dryRun = false): EditResult
    {
        return $this->apply([['op' => 'resume', 'flag' => $flag]], $dryRun);
    }

    /**
     * `flags stage FILE FLAG [--stage S] [--next N] [--pilot-stage P] [--safe S]`:
     * moves a migration flag (docs/migrations.md). Each stage given (off,
     * dualwrite, shadow, live, rampdown, complete) is written into its
     * `migration`; null leaves it as it is. The file must stay valid (next
     * and pilot stage not before the stage, safe where the old system answers).
     */
    public function stage(
        string $flag,
        ?string $stage = null,
        ?string $next = null,
        ?string $pilotStage = null,
        ?string $safe = null,
        bool $dryRun = false,
    ): EditResult {
        $op = ['op' => 'stage', 'flag' => $flag];
        foreach (['stage' => $stage, 'next' => $next, 'pilot_stage' => $pilotStage, 'safe' => $safe] as $name => $value) {
            if ($value !== null) {
                $op[$name] = $value;
            }
        }
        return $this->apply([$op], $dryRun);
    }

    /**
     * `flags stage FILE FLAG --rollback`: nobody past the migration flag's
     * stage any more (next and pilot stage written as the stage), as a
     * `rollback` guard does.
     */
    public function rollback(string $flag, bool $dryRun = false): EditResult
    {
        return $this->apply([['op' => 'rollback', 'flag' => $flag]], $dryRun);
    }

    /** `flags kill-all FILE`. */
    public function killAll(bool $dryRun = false): EditResult
    {
        return $this->apply([['op' => 'kill_all']], $dryRun);
    }

    /** `flags unkill-all FILE`. */
    public function unkillAll(bool $dryRun = false): EditResult
    {
        return $this->apply([['op' => 'unkill_all']], $dryRun);
    }

    /** `flags create FILE FLAG [--description TEXT] [--owner TEXT]`: a new flag, off. */
    public function create(string $flag, ?string $description = null, ?string $owner = null, bool $dryRun = false): EditResult
    {
        return $this->apply([['op' => 'create', 'flag' => $flag, 'description' => $description, 'owner' => $owner]], $dryRun);
    }

    /** `flags delete FILE FLAG`. */
    public function delete(string $flag, bool $dryRun = false): EditResult
    {
        return $this->apply([['op' => 'delete', 'flag' => $flag]], $dryRun);
    }

    /**
     * Replaces the whole file with $text, which must be a valid flag file;
     * creates the file when it does not exist (its "before" is then the
     * content hash of no bytes).
     */
    public function replace(string $text, bool $dryRun = false): EditResult
    {
        return $this->apply([['op' => 'replace', 'text' => $text]], $dryRun);
    }

    /**
     * The document `flags status FILE --json [--now T]` prints, decoded:
     * file, content_hash, now, kill_all, interrupted_edit, pilots, flags.
     *
     * @return array<string, mixed>
     * @throws FlagsException IO, INVALID_FLAGS
     */
    public function status(?\DateTimeInterface $now = null): array
    {
        $ffi = Native::ffi($this->library);
        $ms = $now === null ? PHP_INT_MIN : Native::unixMillis($now);
        $code = $ffi->flags_file_status_json($this->path, \strlen($this->path), $ms, Native::stringOut(), Native::errorOut());
        $out = Native::takeString();
        $error = Native::takeError();
        if ($code !== 0) {
            $message = $ffi->flags_result_message($code);
            throw new FlagsException("Cannot read the status of {$this->path}: $message", $code, (string) $error);
        }
        return json_decode((string) $out, true, 64, JSON_THROW_ON_ERROR);
    }

    /**
     * The document `flags status FILE --prometheus URL --json` prints, now:
     * status() with, in each guarded flag, `guard.now` (value, crossed,
     * no_data, done, seen_crossed_for_seconds, query) and a top-level
     * `recommendation` line (flags_file_monitor_json). Each guard's query is
     * asked of the Prometheus at $prometheusUrl; the call returns within
     * about $timeoutMs whatever Prometheus does: an unreachable or silent
     * Prometheus is `no_data` with the reason, never a value, and no
     * exception.
     *
     * @return array<string, mixed>
     * @throws FlagsException INVALID_ARGUMENT for a URL that is not http:// or https:// or a
     *         $timeoutMs outside 1..60000; IO or INVALID_FLAGS for the file
     */
    public function monitor(string $prometheusUrl, int $timeoutMs = 5000): array
    {
        if ($timeoutMs < 1 || $timeoutMs > 60000) {
            throw new FlagsException(
                "\$timeoutMs: expected milliseconds from 1 to 60000, found $timeoutMs",
                FlagsException::INVALID_ARGUMENT,
            );
        }
        $ffi = Native::ffi($this->library);
        $code = $ffi->flags_file_monitor_json(
            $this->path,
            \strlen($this->path),
            $prometheusUrl,
            \strlen($prometheusUrl),
            $timeoutMs,
            Native::stringOut(),
            Native::errorOut(),
        );
        $out = Native::takeString();
        $error = Native::takeError();
        if ($code !== 0) {
            throw self::failure($code, $error);
        }
        return json_decode((string) $out, true, 64, JSON_THROW_ON_ERROR);
    }

    /** The exception for a failed edit: the library's (the `flags` CLI's) message, diagnostics after its first line. */
    private static function failure(int $code, ?string $error): FlagsException
    {
        $lines = explode("\n", trim((string) $error), 2);
        return new FlagsException($lines[0], $code, $lines[1] ?? '');
    }

    /**
     * One operation as the library reads it: integer ids as decimal text,
     * DateTimeInterface ramp times as RFC 3339. Anything else is passed on
     * for the library to check (its message names the operation and field).
     */
    private static function normalize(mixed $op): mixed
    {
        if (!\is_array($op)) {
            return $op;
        }
        if (isset($op['ids']) && \is_array($op['ids'])) {
            $op['ids'] = array_map(static fn ($id) => \is_int($id) ? (string) $id : $id, $op['ids']);
        }
        if (isset($op['points']) && \is_array($op['points'])) {
            $op['points'] = array_map(static function ($point) {
                if (\is_array($point) && isset($point[1]) && $point[1] instanceof \DateTimeInterface) {
                    $point[1] = $point[1]->format('Y-m-d\TH:i:s.vP');
                }
                return $point;
            }, $op['points']);
        }
        return $op;
    }

    /** The PHP script's command line, each word quoted for a POSIX shell where needed. */
    private static function defaultCommand(): string
    {
        $argv = $_SERVER['argv'] ?? null;
        if (\is_array($argv) && $argv !== []) {
            return implode(' ', array_map(self::quote(...), ['php', ...array_map('strval', $argv)]));
        }
        $request = trim(($_SERVER['REQUEST_METHOD'] ?? '') . ' ' . ($_SERVER['REQUEST_URI'] ?? ''));
        return trim(PHP_SAPI . ' ' . ($request !== '' ? $request : ($_SERVER['SCRIPT_FILENAME'] ?? '')));
    }

    private static function quote(string $word): string
    {
        if ($word !== '' && preg_match('~^[A-Za-z0-9_@%+=:,./-]+$~', $word) === 1) {
            return $word;
        }
        return "'" . str_replace("'", "'\\''", $word) . "'";
    }

    private static function describe(mixed $value): string
    {
        return match (true) {
            \is_string($value) => '"' . $value . '"',
            \is_int($value), \is_float($value) => (string) $value,
            default => get_debug_type($value),
        };
    }
}
