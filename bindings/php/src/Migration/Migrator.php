<?php

declare(strict_types=1);

namespace Flags\Migration;

use Flags\Client;
use Flags\Flags;
use Flags\Scoped;

/**
 * Reads and writes under a migration flag: the flag's stage for the
 * context (the evaluation's variant) says which system runs, which one
 * answers, and whether the other is compared (see Stage).
 *
 * ```php
 * $migrator = new Flags\Migration\Migrator(
 *     Flags\Flags::open('/etc/myapp/flags.json'),
 *     reporter: new Flags\Migration\Reporter('https://flags.internal', getenv('FLAGS_CLIENT_TOKEN')),
 * );
 * $order = $migrator->read('orders_reads', ['user_id' => $userId],
 *     old: fn () => $legacy->order($id),
 *     new: fn () => $projection->order($id),
 *     compare: fn ($old, $new) => $old == $new,
 * );
 * $migrator->write('orders_writes', ['user_id' => $userId],
 *     old: fn () => $legacy->save($order),
 *     new: fn () => $projection->save($order),
 * );
 * ```
 *
 * The caller gets the authoritative side's result, or its exception. The
 * other side never changes that: its exception is recorded (and given to
 * $onError), never thrown. It runs after the response (see Deferred):
 * under php-fpm the client has its answer before the shadow read or the
 * second write starts, so their latency adds nothing to the request's; in
 * the CLI it runs when the script ends; with Deferred::INLINE, at once,
 * after the authoritative side. When the authoritative write fails, the
 * other write is not attempted.
 *
 * Every operation makes one record (Recorder): the stage, each side that
 * ran with its latency (hrtime) and whether it failed, and for a compared
 * read whether the two results agreed. With a Reporter, the records are
 * sent to the flags server once per request, after the response and after
 * the deferred sides (and every $flushEvery records, for workers).
 */
final class Migrator
{
    private Recorder $recorder;
    private Deferred $deferred;

    /**
     * @param Flags|Client|null $flags where stages come from (null: only readIn() and writeIn())
     * @param Recorder|null $recorder where records go (default: a new one)
     * @param Reporter|null $reporter sends the records to the flags server (default: they stay in $recorder)
     * @param Deferred|string $defer when the non-authoritative side runs: Deferred::AFTER_RESPONSE
     *        (default), Deferred::INLINE, or a Deferred shared with other code
     * @param int $flushEvery with a reporter: send as soon as this many records wait (1 to 1000)
     * @param (\Closure(\Throwable, string, Stage, string, Side): void)|null $onError told of each exception
     *        of the non-authoritative side and of $compare: (exception, flag, stage, "read"|"write", side)
     */
    public function __construct(
        private Flags|Client|null $flags = null,
        ?Recorder $recorder = null,
        private ?Reporter $reporter = null,
        Deferred|string $defer = Deferred::AFTER_RESPONSE,
        private int $flushEvery = Reporter::MAX_RECORDS,
        private ?\Closure $onError = null,
    ) {
        if ($flushEvery < 1 || $flushEvery > Reporter::MAX_RECORDS) {
            throw new \InvalidArgumentException("\$flushEvery: expected 1 to 1000 records, found $flushEvery");
        }
        $this->recorder = $recorder ?? new Recorder();
        $this->deferred = $defer instanceof Deferred ? $defer : new Deferred($defer);
    }

    /**
     * The stage of $flag for $context: the variant its evaluation names;
     * Off when the flag does not exist, is not a migration flag or the
     * context is not valid attributes. One evaluation.
     *
     * @param array<string, string|int|bool|null>|Scoped $context as for Flags::evaluate(); with a
     *        Client, [] (a Client answers for the context it holds)
     */
    public function stage(string $flag, array|Scoped $context = []): Stage
    {
        if ($context instanceof Scoped) {
            return Stage::fromEvaluation($context->evaluate($flag));
        }
        $flags = $this->flags ?? throw new \LogicException(
            'This Migrator has no flags to evaluate: construct it with a Flags or a Client, or use readIn()/writeIn()',
        );
        if ($flags instanceof Client) {
            if ($context !== []) {
                throw new \InvalidArgumentException(
                    'A Flags\Client answers for the context it was opened with: pass [] (or call setContext() first)',
                );
            }
            return Stage::fromEvaluation($flags->evaluate($flag));
        }
        return Stage::fromEvaluation($flags->evaluate($flag, $context));
    }

    /**
     * A read of $flag's stage for $context: old() and/or new(), and the
     * authoritative one's result (or exception).
     *
     * @template T
     * @param array<string, string|int|bool|null>|Scoped $context
     * @param callable(): T $old reads the old system
     * @param callable(): T $new reads the new system
     * @param (callable(mixed, mixed): bool)|null $compare given (old result, new result) in shadow and
     *        live when both succeeded: whether they agree (none: not compared)
     * @return T
     */
    public function read(string $flag, array|Scoped $context, callable $old, callable $new, ?callable $compare = null): mixed
    {
        return $this->readIn($this->stage($flag, $context), $flag, $old, $new, $compare);
    }

    /**
     * A write of $flag's stage for $context: the authoritative side, then
     * (at dualwrite, shadow, live and rampdown) the other one.
     *
     * @template T
     * @param array<string, string|int|bool|null>|Scoped $context
     * @param callable(): T $old writes to the old system
     * @param callable(): T $new writes to the new system
     * @return T the authoritative side's result
     */
    public function write(string $flag, array|Scoped $context, callable $old, callable $new): mixed
    {
        return $this->writeIn($this->stage($flag, $context), $flag, $old, $new);
    }

    /**
     * read() at a stage known already (a framework's evaluation, a test).
     *
     * @template T
     * @param callable(): T $old
     * @param callable(): T $new
     * @return T
     */
    public function readIn(Stage $stage, string $flag, callable $old, callable $new, ?callable $compare = null): mixed
    {
        return $this->run($stage, $flag, 'read', $stage->read(), $old, $new, $compare);
    }

    /**
     * write() at a stage known already.
     *
     * @template T
     * @param callable(): T $old
     * @param callable(): T $new
     * @return T
     */
    public function writeIn(Stage $stage, string $flag, callable $old, callable $new): mixed
    {
        return $this->run($stage, $flag, 'write', $stage->write(), $old, $new, null);
    }

    /**
     * Runs the deferred sides now and sends the records (with a reporter).
     * For long-running workers (between jobs) and frameworks' terminating
     * hooks; under php-fpm and in the CLI it happens by itself after the
     * response. Never throws.
     */
    public function flush(): void
    {
        $this->deferred->run();
        $this->reporter?->flush($this->recorder);
    }

    public function recorder(): Recorder
    {
        return $this->recorder;
    }

    public function deferred(): Deferred
    {
        return $this->deferred;
    }

    public function reporter(): ?Reporter
    {
        return $this->reporter;
    }

    private function run(Stage $stage, string $flag, string $op, Plan $plan, callable $old, callable $new, ?callable $compare): mixed
    {
        $oldFirst = $plan->authoritative === Side::Old;
        $start = hrtime(true);
        $result = null;
        $error = null;
        try {
            $result = $oldFirst ? $old() : $new();
        } catch (\Throwable $e) {
            $error = $e;
        }
        $first = ['seconds' => (hrtime(true) - $start) / 1e9, 'error' => $error !== null];
        // The other side: not for a single-side stage, nor after a failed write.
        if (!$plan->both || ($error !== null && $op === 'write')) {
            $this->record($flag, $stage, $op, $oldFirst ? $first : null, $oldFirst ? null : $first, null);
        } else {
            $this->deferred->defer(function () use ($stage, $flag, $op, $oldFirst, $old, $new, $compare, $first, $result, $error): void {
                $start = hrtime(true);
                $otherResult = null;
                $otherError = null;
                try {
                    $otherResult = $oldFirst ? $new() : $old();
                } catch (\Throwable $e) {
                    $otherError = $e;
                }
                $second = ['seconds' => (hrtime(true) - $start) / 1e9, 'error' => $otherError !== null];
                $side = $oldFirst ? Side::New : Side::Old;
                if ($otherError !== null) {
                    $this->tell($otherError, $flag, $stage, $op, $side);
                }
                $consistent = null;
                if ($compare !== null && $error === null && $otherError === null) {
                    try {
                        $consistent = (bool) ($oldFirst ? $compare($result, $otherResult) : $compare($otherResult, $result));
                    } catch (\Throwable $e) {
                        $this->tell($e, $flag, $stage, $op, $side);
                    }
                }
                $this->record($flag, $stage, $op, $oldFirst ? $first : $second, $oldFirst ? $second : $first, $consistent);
            });
        }
        if ($error !== null) {
            throw $error;
        }
        return $result;
    }

    private function record(string $flag, Stage $stage, string $op, ?array $old, ?array $new, ?bool $consistent): void
    {
        $this->recorder->record($flag, $stage->value, $op, $old, $new, $consistent);
        if ($this->reporter === null) {
            return;
        }
        if ($this->recorder->count() >= $this->flushEvery) {
            $this->reporter->flush($this->recorder);
        } else {
            $this->deferred->atEnd('flags.migration.report.' . spl_object_id($this), $this->sendRecords(...));
        }
    }

    private function sendRecords(): void
    {
        $this->reporter?->flush($this->recorder);
    }

    private function tell(\Throwable $e, string $flag, Stage $stage, string $op, Side $side): void
    {
        if ($this->onError === null) {
            return;
        }
        try {
            ($this->onError)($e, $flag, $stage, $op, $side);
        } catch (\Throwable) {
            // The hook's own failure must not reach the caller either.
        }
    }
}
