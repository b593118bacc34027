<?php

declare(strict_types=1);

namespace Flags\Tests;

/** Temporary files and the shared golden vectors. */
abstract class TestCase extends \PHPUnit\Framework\TestCase
{
    private static ?string $tempRoot = null;

    /** The repository's shared golden vectors. */
    public static function vectorsDir(): string
    {
        $dir = getenv('FLAGS_VECTORS_DIR');
        return ($dir !== false && $dir !== '') ? $dir : dirname(__DIR__, 3) . '/tests/vectors';
    }

    /** A fresh directory under the system temp dir, removed at exit. */
    protected static function tempDir(): string
    {
        if (self::$tempRoot === null) {
            $root = sys_get_temp_dir() . '/flags-php-tests-' . getmypid() . '-' . bin2hex(random_bytes(4));
            mkdir($root, 0700);
            self::$tempRoot = $root;
            $owner = getmypid();
            register_shutdown_function(static function () use ($root, $owner): void {
                if (getmypid() === $owner) {
                    self::remove($root);
                }
            });
        }
        $dir = self::$tempRoot . '/' . bin2hex(random_bytes(6));
        mkdir($dir);
        return $dir;
    }

    /** Replaces $path atomically (write a temporary file, then rename), as editors and deploys do. */
    protected static function writeAtomically(string $path, string $content): void
    {
        $tmp = $path . '.tmp-' . bin2hex(random_bytes(4));
        file_put_contents($tmp, $content);
        rename($tmp, $path);
    }

    /** @param array<string, mixed> $flags a "flags" object */
    protected static function flagFile(array $flags, array $top = []): string
    {
        return json_encode(['version' => 1] + $top + ['flags' => (object) $flags], JSON_PRETTY_PRINT | JSON_THROW_ON_ERROR) . "\n";
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
