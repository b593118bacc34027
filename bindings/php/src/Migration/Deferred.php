<?php

declare(strict_types=1);

namespace Flags\Migration;

/**
 * Work a request does not wait for: the shadow side of a compared read,
 * the second write, sending the records.
 *
 * AFTER_RESPONSE (the default) queues the work and runs it from a shutdown
 * function: under php-fpm after fastcgi_finish_request(), so the client
 * has its response and the work adds nothing to the request's latency;
 * in the CLI (and other SAPIs) when the script ends. A framework that has
 * its own after-the-response hook (Laravel's terminating callbacks, the
 * end of a queue job) calls run() there, earlier; the shutdown function
 * then finds nothing left to do. INLINE runs the work at once (tests,
 * long-running workers that have no "after the response").
 *
 * The queue is bounded: when MAX_QUEUED tasks are waiting (a worker that
 * never calls run()), a new task runs at once instead of being queued.
 */
final class Deferred
{
    public const AFTER_RESPONSE = 'after_response';
    public const INLINE = 'inline';

    /** The most tasks waiting at once. */
    public const MAX_QUEUED = 10000;

    /** @var list<callable(): void> */
    private array $tasks = [];
    /** @var array<string, callable(): void> */
    private array $atEnd = [];
    private bool $hooked = false;
    private bool $running = false;
    private static bool $logged = false;

    /**
     * @param string $mode self::AFTER_RESPONSE or self::INLINE
     * @throws \InvalidArgumentException for another mode
     */
    public function __construct(private string $mode = self::AFTER_RESPONSE)
    {
        if ($mode !== self::AFTER_RESPONSE && $mode !== self::INLINE) {
            throw new \InvalidArgumentException(
                "Unknown deferral mode \"$mode\"; expected \"" . self::AFTER_RESPONSE . '" or "' . self::INLINE . '"',
            );
        }
    }

    public function mode(): string
    {
        return $this->mode;
    }

    /** Runs $task after the response (or now, INLINE or when the queue is full). Never throws. */
    public function defer(callable $task): void
    {
        if ($this->mode === self::INLINE || \count($this->tasks) >= self::MAX_QUEUED) {
            self::runOne($task);
            return;
        }
        $this->tasks[] = $task;
        $this->hook();
    }

    /**
     * Runs $task once, after every deferred task has run (at the end of
     * run(), which the shutdown function calls), whatever the mode: the
     * Migrator sends its records this way, once per request. A second
     * $task under the same $key before then replaces the first.
     */
    public function atEnd(string $key, callable $task): void
    {
        $this->atEnd[$key] = $task;
        $this->hook();
    }

    /** How many tasks are waiting. */
    public function pending(): int
    {
        return \count($this->tasks);
    }

    /**
     * Runs every waiting task now, in the order they were deferred (and
     * those they defer in turn), then the atEnd() tasks. Never throws: a task's exception is
     * logged (once per process) and the next task runs.
     */
    public function run(): void
    {
        if ($this->running) {
            return;
        }
        $this->running = true;
        try {
            while ($this->tasks !== [] || $this->atEnd !== []) {
                while ($this->tasks !== []) {
                    self::runOne(array_shift($this->tasks));
                }
                $atEnd = $this->atEnd;
                $this->atEnd = [];
                foreach ($atEnd as $task) {
                    self::runOne($task);
                }
            }
        } finally {
            $this->running = false;
        }
    }

    /**
     * The shutdown function: ends the response first where the SAPI can
     * (php-fpm, and FastCGI SAPIs that have fastcgi_finish_request), then
     * runs the queue.
     *
     * @internal
     */
    public function runAfterResponse(): void
    {
        $this->hooked = false;
        if ($this->tasks === [] && $this->atEnd === []) {
            return;
        }
        if (\function_exists('fastcgi_finish_request')) {
            fastcgi_finish_request();
        } elseif (\function_exists('litespeed_finish_request')) {
            litespeed_finish_request();
        }
        $this->run();
    }

    private function hook(): void
    {
        if ($this->hooked) {
            return;
        }
        $this->hooked = true;
        register_shutdown_function([$this, 'runAfterResponse']);
    }

    private static function runOne(callable $task): void
    {
        try {
            $task();
        } catch (\Throwable $e) {
            if (!self::$logged) {
                self::$logged = true;
                error_log('flags: a deferred migration task failed (logged once per process): '
                    . \get_class($e) . ': ' . $e->getMessage());
            }
        }
    }
}
