<?php

declare(strict_types=1);

namespace Flags\Laravel;

use Flags\Flags;
use Flags\FlagsException;

/**
 * The application's flags: the flag file (or flags server) of the
 * configuration, opened on first use and kept. A singleton: it holds no
 * user and no request, only the source, which hot-reloads by itself.
 *
 * Opening is cheap after the first time in a process: bindings/php keeps
 * the source for the process's life (under php-fpm, each request's first
 * open is one lookup in the library).
 *
 * When the source cannot be opened (a missing or invalid file, a server
 * that cannot be reached and no cache), the error is reported once through
 * the exception handler and every flag is off until it can be; opening is
 * tried again at most once per check interval.
 */
final class FlagSource
{
    private ?Flags $flags = null;
    private ?float $retryAt = null;
    private ?Flags $empty = null;

    /**
     * @param array<string, mixed> $config the `flags` configuration
     * @param \Closure(\Throwable): void $report
     */
    public function __construct(private array $config, private \Closure $report)
    {
    }

    /** The open source; an empty one (every flag off) while it cannot be opened. */
    public function flags(): Flags
    {
        return $this->flags ?? $this->open();
    }

    /**
     * The source, opened now: throws what opening throws (for commands,
     * where an error should be shown, not swallowed).
     *
     * @throws FlagsException
     */
    public function open(bool $throw = false): Flags
    {
        if ($this->flags !== null) {
            return $this->flags;
        }
        if (!$throw && $this->retryAt !== null && microtime(true) < $this->retryAt) {
            return $this->empty();
        }
        try {
            return $this->flags = $this->serverUrl() !== null
                ? Flags::remote($this->serverUrl(), $this->remoteOptions())
                : Flags::open($this->file(), ['check_interval_ms' => $this->checkInterval()]);
        } catch (FlagsException $e) {
            if ($throw) {
                throw $e;
            }
            $first = $this->retryAt === null;
            $this->retryAt = microtime(true) + $this->checkInterval() / 1000;
            if ($first) {
                ($this->report)($e);
            }
            return $this->empty();
        }
    }

    /** The flag file, or null when the flags come from a server. */
    public function file(): ?string
    {
        return $this->serverUrl() === null ? (string) ($this->config['file'] ?? '') : null;
    }

    /** The flags server's URL, or null when the flags come from a file. */
    public function serverUrl(): ?string
    {
        $url = $this->config['server']['url'] ?? null;
        return $url === null || $url === '' ? null : (string) $url;
    }

    /** What the flags come from, for messages: the file path or the server URL. */
    public function describe(): string
    {
        return $this->serverUrl() ?? (string) $this->file();
    }

    private function checkInterval(): int
    {
        return (int) ($this->config['check_interval_ms'] ?? 1000);
    }

    /** @return array<string, mixed> */
    private function remoteOptions(): array
    {
        $server = $this->config['server'] ?? [];
        $options = [];
        foreach (['token' => 'string', 'cache_path' => 'string', 'refresh_interval_ms' => 'int', 'stream' => 'bool'] as $name => $type) {
            $value = $server[$name] ?? null;
            if ($value !== null && $value !== '') {
                settype($value, $type);
                $options[$name] = $value;
            }
        }
        return $options;
    }

    private function empty(): Flags
    {
        return $this->empty ??= Flags::fromJson('{"version": 1, "flags": {}}');
    }
}
