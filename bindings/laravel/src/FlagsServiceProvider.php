<?php

declare(strict_types=1);

namespace Flags\Laravel;

use Flags\Laravel\Contracts\Features;
use Flags\Laravel\Contracts\Migrator as MigratorContract;
use Flags\Laravel\Middleware\EnsureFlagsAreEnabled;
use Flags\Migration\Deferred;
use Flags\Migration\Migrator;
use Flags\Migration\Reporter;
use Illuminate\Contracts\Debug\ExceptionHandler;
use Illuminate\Contracts\Foundation\Application;
use Illuminate\Queue\Events\JobFailed;
use Illuminate\Queue\Events\JobProcessed;
use Illuminate\Support\ServiceProvider;
use Illuminate\View\Compilers\BladeCompiler;

/**
 * Registers the flags: the Features contract (the facade's root), the
 * Migrator contract (reads and writes under migration flags), Blade's
 * @flag and @variant, the `flag` route middleware, the artisan commands
 * and the publishable config/flags.php. Discovered by Laravel through
 * composer.json's extra.laravel.
 */
final class FlagsServiceProvider extends ServiceProvider
{
    public const COMMANDS = [
        Commands\StatusCommand::class,
        Commands\ExplainCommand::class,
        Commands\ToggleCommand::class,
        Commands\SetCommand::class,
        Commands\PilotsCommand::class,
        Commands\KillCommand::class,
        Commands\UnkillCommand::class,
        Commands\KillAllCommand::class,
        Commands\UnkillAllCommand::class,
        Commands\ImportConfigCommand::class,
    ];

    public function register(): void
    {
        $this->mergeConfigFrom(__DIR__ . '/../config/flags.php', 'flags');

        // Singletons that hold no user and no request (see ContextFactory),
        // so they are safe to keep across the requests of Octane and the
        // jobs of a queue worker. A request's first flag resolves the
        // contract only: one container lookup and one read of the config
        // build all three (each container lookup costs a php-fpm request
        // microseconds); the others give the same objects.
        $this->app->singleton(Features::class, static fn (Application $app): Features => self::manager($app));
        $this->app->singleton(FeatureManager::class, static function (Application $app): FeatureManager {
            $features = $app->make(Features::class);
            // Flags::fake() bound a fake in the contract's place: the real
            // manager is still there for the commands.
            return $features instanceof FeatureManager ? $features : self::manager($app);
        });
        $this->app->singleton(FlagSource::class, static fn (Application $app): FlagSource => $app->make(FeatureManager::class)->source());
        $this->app->singleton(ContextFactory::class, static fn (Application $app): ContextFactory => $app->make(FeatureManager::class)->contexts());

        // Holds no user either (the stage comes from Features on each call):
        // its deferred sides and records are the process's, flushed after
        // each response and each queue job (see boot()).
        $this->app->singleton(MigratorContract::class, static fn (Application $app): MigratorContract => self::migrator($app));
        $this->app->singleton(
            MigrationManager::class,
            static fn (Application $app): MigrationManager => self::migrationManager($app),
        );
    }

    /** The migrator from config/flags.php's migrations (and server, for the reporter's default). */
    private static function migrator(Application $app): MigrationManager
    {
        $config = (array) $app['config']->get('flags', []);
        $migrations = (array) ($config['migrations'] ?? []);
        $server = (array) ($config['server'] ?? []);
        $url = $migrations['report_url'] ?? null;
        $url = ($url === null || $url === '') ? ($server['url'] ?? null) : $url;
        $token = $migrations['token'] ?? null;
        $token = ($token === null || $token === '') ? ($server['token'] ?? null) : $token;
        $reporter = ($url === null || $url === '' || ($migrations['report'] ?? true) === false)
            ? null
            : new Reporter((string) $url, $token === null ? null : (string) $token, (int) ($migrations['timeout_ms'] ?? 250));
        $onError = null;
        if ((bool) ($migrations['report_errors'] ?? false)) {
            $onError = static function (\Throwable $e) use ($app): void {
                $app->make(ExceptionHandler::class)->report($e);
            };
        }
        return new MigrationManager($app, new Migrator(
            reporter: $reporter,
            defer: (string) ($migrations['defer'] ?? Deferred::AFTER_RESPONSE),
            flushEvery: (int) ($migrations['flush_every'] ?? Reporter::MAX_RECORDS),
            onError: $onError,
        ));
    }

    private static function migrationManager(Application $app): MigrationManager
    {
        $migrator = $app->make(MigratorContract::class);
        // Migrator::fake-style bindings aside, the contract is the manager.
        return $migrator instanceof MigrationManager ? $migrator : self::migrator($app);
    }

    /** The manager, its source and its context factory, from config/flags.php. */
    private static function manager(Application $app): FeatureManager
    {
        $config = (array) $app['config']->get('flags', []);
        $context = (array) ($config['context'] ?? []);
        $source = new FlagSource($config, static function (\Throwable $e) use ($app): void {
            $app->make(ExceptionHandler::class)->report($e);
        });
        $contexts = new ContextFactory(
            $app,
            $app['auth'],
            $context['guard'] ?? null,
            \array_key_exists('app_version_header', $context) ? $context['app_version_header'] : 'X-App-Version',
            $context['resolver'] ?? null,
        );
        // Told of every request the container binds, as Laravel's guards are.
        $contexts->setRequest($app->refresh('request', $contexts, 'setRequest'));
        return new FeatureManager($source, $contexts);
    }

    public function boot(): void
    {
        $this->publishes([__DIR__ . '/../config/flags.php' => $this->app->configPath('flags.php')], 'flags-config');

        $this->app['router']->aliasMiddleware('flag', EnsureFlagsAreEnabled::class);

        // The other side of migration reads and writes, and sending their
        // records, after the response (terminating callbacks run once it is
        // sent, and at the end of an artisan command) and after each queue
        // job (a worker has no "after the response"). Nothing to do, and
        // nothing resolved, when no migration ran.
        $app = $this->app;
        $flush = static function () use ($app): void {
            if ($app->resolved(MigratorContract::class)) {
                $app->make(MigratorContract::class)->flush();
            }
        };
        $this->app->terminating($flush);
        $this->app['events']->listen([JobProcessed::class, JobFailed::class], $flush);

        $this->callAfterResolving('blade.compiler', static function (BladeCompiler $blade): void {
            // @flag('x') ... @elseflag('y') ... @else ... @endflag, and @unlessflag('x').
            $blade->if('flag', static fn (string $flag): bool => app(Features::class)->active($flag));
            // @variant('checkout_copy', 'treatment') ... @elsevariant(...) ... @else ... @endvariant.
            $blade->if(
                'variant',
                static fn (string $flag, string $variant): bool => app(Features::class)->variant($flag) === $variant,
            );
        });

        if ($this->app->runningInConsole()) {
            $this->commands(self::COMMANDS);
        }
    }
}
