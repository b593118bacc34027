<?php

declare(strict_types=1);

namespace Flags\Laravel\Tests;

use Illuminate\Contracts\Console\Kernel;
use Illuminate\Foundation\Application;

// The php -S helper the PHP package's tests use (not autoloaded here: the
// package's autoload-dev is not installed into the test application).
require_once \dirname(__DIR__, 2) . '/php/tests/PhpServer.php';

/**
 * A test booting the test application (tests/app) afresh, with helpers for
 * flag files in temporary directories and the shared golden vectors.
 */
abstract class TestCase extends \Illuminate\Foundation\Testing\TestCase
{
    private static ?string $tempRoot = null;

    public function createApplication(): Application
    {
        $app = require self::appDir() . '/bootstrap/app.php';
        $app->make(Kernel::class)->bootstrap();
        return $app;
    }

    public static function appDir(): string
    {
        return __DIR__ . '/app';
    }

    /** The repository's shared golden vectors. */
    public static function vectorsDir(): string
    {
        $dir = getenv('FLAGS_VECTORS_DIR');
        return ($dir !== false && $dir !== '') ? $dir : dirname(__DIR__, 3) . '/tests/vectors';
    }

    /**
     * Writes a flag file (a "flags" object, or the whole text) to a fresh
     * path and points the application's config/flags.php at it, before
     * anything resolved the flags.
     *
     * @param array<string, mixed>|string $flags
     * @param array<string, mixed> $top more top-level fields (kill_all, pilots)
     */
    protected function useFlagFile(array|string $flags, array $top = []): string
    {
        $path = self::tempDir() . '/flags.json';
        file_put_contents($path, \is_string($flags) ? $flags : self::flagFile($flags, $top));
        config(['flags.file' => $path, 'flags.check_interval_ms' => 20]);
        return $path;
    }

    /** @param array<string, mixed> $flags */
    protected static function flagFile(array $flags, array $top = []): string
    {
        return json_encode(['version' => 1] + $top + ['flags' => (object) $flags], JSON_PRETTY_PRINT | JSON_THROW_ON_ERROR) . "\n";
    }

    /**
     * Runs an artisan command in this application and gives its exit
     * status and everything it printed.
     *
     * @param array<string, mixed> $parameters
     * @return array{int, string}
     */
    protected function runArtisan(string $command, array $parameters = []): array
    {
        $output = new \Symfony\Component\Console\Output\BufferedOutput();
        $status = $this->app->make(Kernel::class)->call($command, $parameters, $output);
        return [$status, $output->fetch()];
    }

    /** Replaces $path atomically (temporary file, then rename), as editors and deploys do. */
    protected static function writeAtomically(string $path, string $content): void
    {
        $tmp = $path . '.tmp-' . bin2hex(random_bytes(4));
        file_put_contents($tmp, $content);
        rename($tmp, $path);
    }

    /** A fresh directory under the system temp dir, removed at exit. */
    protected static function tempDir(): string
    {
        if (self::$tempRoot === null) {
            $root = sys_get_temp_dir() . '/flags-laravel-tests-' . getmypid() . '-' . bin2hex(random_bytes(4));
            mkdir($root, 0700);
            self::$tempRoot = $root;
            register_shutdown_function(static fn () => self::remove($root));
        }
        $dir = self::$tempRoot . '/' . bin2hex(random_bytes(6));
        mkdir($dir);
        return $dir;
    }

    /**
     * Polls $condition until it holds or $seconds pass (a reload, a
     * server): CI runs on two busy cores.
     */
    protected static function waitFor(callable $condition, float $seconds = 10.0): bool
    {
        $deadline = microtime(true) + $seconds;
        do {
            if ($condition()) {
                return true;
            }
            usleep(20000);
        } while (microtime(true) < $deadline);
        return (bool) $condition();
    }

    private static function remove(string $path): void
    {
        if (is_dir($path) && !is_link($path)) {
            foreach (scandir($path) ?: [] as $entry) {
                if ($entry !== '.' && $entry !== '..') {
                    self::remove("$path/$entry");
                }
            }
            @rmdir($path);
        } else {
            @unlink($path);
        }
    }
}
