<?php

declare(strict_types=1);

namespace Flags\Laravel\Contracts;

use Flags\Migration\Stage;

/**
 * Reads and writes under a migration flag for a scope: by default the
 * current request's user, or the one given to for(). The flag's stage
 * (its evaluation's variant, through the Features contract, so
 * Flags::fake(['orders_reads' => 'shadow']) sets it in tests) says which
 * system runs and which one answers (see Flags\Migration\Stage).
 *
 * The other side (the shadow read, the second write) runs after the
 * response, from the application's terminating callbacks (and after each
 * queue job); its exception is recorded, never thrown. The records go to
 * the flags server (config flags.migrations) after the response.
 */
interface Migrator
{
    /**
     * Reads with old() and/or new() as $flag's stage says; the
     * authoritative side's result (or exception).
     *
     * @template T
     * @param callable(): T $old
     * @param callable(): T $new
     * @param (callable(mixed, mixed): bool)|null $compare (old result, new result): whether they agree
     * @return T
     */
    public function read(string $flag, callable $old, callable $new, ?callable $compare = null): mixed;

    /**
     * Writes with the authoritative side, then (dualwrite to rampdown) the other.
     *
     * @template T
     * @param callable(): T $old
     * @param callable(): T $new
     * @return T the authoritative side's result
     */
    public function write(string $flag, callable $old, callable $new): mixed;

    /** $flag's stage for this scope (Off when it is not a migration flag). */
    public function stage(string $flag): Stage;

    /** The same for another scope, as Features::for() takes it. */
    public function for(mixed $scope): self;

    /** Runs the deferred sides and sends the records now (a long job's checkpoint). */
    public function flush(): void;
}
