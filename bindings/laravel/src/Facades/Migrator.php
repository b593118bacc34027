<?php

declare(strict_types=1);

namespace Flags\Laravel\Facades;

use Flags\Laravel\Contracts\Migrator as MigratorContract;
use Illuminate\Support\Facades\Facade;

/**
 * Reads and writes under a migration flag, for the current user (or
 * ->for($user)):
 *
 * ```php
 * $order = Migrator::read('orders_reads',
 *     fn () => Order::find($id),
 *     fn () => OrderProjection::find($id),
 *     fn ($old, $new) => $old?->total === $new?->total,
 * );
 * ```
 *
 * @method static mixed read(string $flag, callable $old, callable $new, ?callable $compare = null)
 * @method static mixed write(string $flag, callable $old, callable $new)
 * @method static \Flags\Migration\Stage stage(string $flag)
 * @method static \Flags\Laravel\Contracts\Migrator for(mixed $scope)
 * @method static void flush()
 *
 * @see \Flags\Laravel\Contracts\Migrator
 * @see \Flags\Laravel\MigrationManager
 */
class Migrator extends Facade
{
    protected static function getFacadeAccessor(): string
    {
        return MigratorContract::class;
    }
}
