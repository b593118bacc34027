<?php

declare(strict_types=1);

namespace Flags\Laravel;

use Flags\Laravel\Contracts\Features;
use Flags\Laravel\Contracts\Migrator as MigratorContract;
use Flags\Migration\Migrator;
use Flags\Migration\Stage;
use Illuminate\Contracts\Container\Container;

/**
 * The Migrator the container gives (and the Migrator facade uses): the
 * stage from the Features contract, resolved on every call (so a
 * Flags::fake() applies, and no user is kept between requests), the reads
 * and writes by bindings/php's Flags\Migration\Migrator.
 */
final class MigrationManager implements MigratorContract
{
    /** @param bool $scoped whether $scope was given (null is a scope: no attributes) */
    public function __construct(
        private Container $app,
        private Migrator $migrator,
        private mixed $scope = null,
        private bool $scoped = false,
    ) {
    }

    public function read(string $flag, callable $old, callable $new, ?callable $compare = null): mixed
    {
        return $this->migrator->readIn($this->stage($flag), $flag, $old, $new, $compare);
    }

    public function write(string $flag, callable $old, callable $new): mixed
    {
        return $this->migrator->writeIn($this->stage($flag), $flag, $old, $new);
    }

    public function stage(string $flag): Stage
    {
        $features = $this->app->make(Features::class);
        if ($this->scoped) {
            $features = $features->for($this->scope);
        }
        return Stage::fromEvaluation($features->evaluate($flag));
    }

    public function for(mixed $scope): MigratorContract
    {
        return new self($this->app, $this->migrator, $scope, true);
    }

    public function flush(): void
    {
        $this->migrator->flush();
    }

    /** The underlying migrator of bindings/php: its recorder(), reporter(), deferred(). */
    public function migrator(): Migrator
    {
        return $this->migrator;
    }
}
