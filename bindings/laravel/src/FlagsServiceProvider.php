<?php

declare(strict_types=1);

namespace Flags\Laravel;

use Flags\Laravel\Contracts\Features;
use Flags\Laravel\Middleware\EnsureFlagsAreEnabled;
use Illuminate\Contracts\Debug\ExceptionHandler;
use Illuminate\Contracts\Foundation\Application;
use Illuminate\Support\ServiceProvider;
use Illuminate\View\Compilers\BladeCompiler;

/**
 * Registers the flags: the Features contract (the facade's root), Blade's
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
