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

        // Singletons that hold no user and no request: the context is
        // built on every call (ContextFactory), so they are safe to keep
        // across the requests of Octane and the jobs of a queue worker.
        $this->app->singleton(FlagSource::class, static fn (Application $app): FlagSource => new FlagSource(
            (array) $app['config']->get('flags', []),
            static function (\Throwable $e) use ($app): void {
                $app->make(ExceptionHandler::class)->report($e);
            },
        ));
        $this->app->singleton(ContextFactory::class, static fn (Application $app): ContextFactory => new ContextFactory(
            $app,
            $app['auth'],
            $app['config']->get('flags.context.guard'),
            $app['config']->get('flags.context.app_version_header'),
            $app['config']->get('flags.context.resolver'),
        ));
        $this->app->singleton(FeatureManager::class);
        // Everything resolves the contract, so a fake bound in its place
        // (Flags::fake()) is used by the facade, Blade and the middleware.
        $this->app->singleton(Features::class, static fn (Application $app): Features => $app->make(FeatureManager::class));
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
