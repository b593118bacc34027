<?php

declare(strict_types=1);

namespace Flags\Laravel\Tests\Feature;

use Flags\Laravel\Contracts\Features;
use Flags\Laravel\FeatureManager;
use Flags\Laravel\FlagsServiceProvider;
use Flags\Laravel\Middleware\EnsureFlagsAreEnabled;
use Flags\Laravel\Tests\TestCase;
use Illuminate\Support\ServiceProvider;

/** The package as Composer installed it and Laravel discovered it. */
final class PackageTest extends TestCase
{
    public function testTheProviderIsDiscoveredNotListed(): void
    {
        $manifest = require self::appDir() . '/bootstrap/cache/packages.php';
        $this->assertSame([FlagsServiceProvider::class], $manifest['flags/laravel']['providers']);
        $this->assertNotContains(FlagsServiceProvider::class, config('app.providers'));
        $this->assertNotNull($this->app->getProvider(FlagsServiceProvider::class), 'the provider was registered');
    }

    public function testInstalledFromThePathRepositories(): void
    {
        $installed = json_decode((string) file_get_contents(self::appDir() . '/vendor/composer/installed.json'), true);
        $names = array_column($installed['packages'] ?? $installed, 'dist', 'name');
        $this->assertSame('path', $names['flags/laravel']['type'] ?? null);
        $this->assertSame('path', $names['flags/flags']['type'] ?? null);
        $this->assertSame(realpath(dirname(__DIR__, 2) . '/src/FeatureManager.php'), (new \ReflectionClass(FeatureManager::class))->getFileName());
    }

    public function testTheFacadeAliasTheContractAndTheMiddleware(): void
    {
        $this->assertInstanceOf(FeatureManager::class, $this->app->make(Features::class));
        $this->assertSame($this->app->make(Features::class), $this->app->make(Features::class), 'one instance');
        $this->assertSame(\Flags\Laravel\Facades\Flags::class, (new \ReflectionClass('Flags'))->getName(), 'the Flags alias');
        $this->assertSame(EnsureFlagsAreEnabled::class, $this->app['router']->getMiddleware()['flag'] ?? null);
    }

    public function testTheConfigIsMergedAndPublishable(): void
    {
        $this->assertSame(base_path('flags.json'), config('flags.file'));
        $this->assertSame('X-App-Version', config('flags.context.app_version_header'));
        $this->assertSame(404, config('flags.middleware.status'));
        $paths = ServiceProvider::pathsToPublish(FlagsServiceProvider::class, 'flags-config');
        $this->assertSame([realpath(dirname(__DIR__, 2) . '/config/flags.php')], array_map('realpath', array_keys($paths)));
        $this->assertSame([config_path('flags.php')], array_values($paths));
    }

    public function testTheCommandsAreRegistered(): void
    {
        $commands = array_keys(\Illuminate\Support\Facades\Artisan::all());
        foreach (['flags:status', 'flags:explain', 'flags:toggle', 'flags:set', 'flags:pilots', 'flags:kill', 'flags:unkill', 'flags:kill-all', 'flags:unkill-all', 'flags:import-config'] as $name) {
            $this->assertContains($name, $commands);
        }
    }
}
