<?php

declare(strict_types=1);

namespace Flags\Tests;

/** Temporary files and the shared golden vectors. */
abstract class TestCase extends \PHPUnit\Framework\TestCase
{
    private static ?string $tempRoot = null;
    private static ?string $flags = null;

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

    /**
     * Runs $code in a child php process (the package autoloaded, each of
     * $constants defined, DIR a fresh temporary directory) and returns its
     * output. A crash (a signal), a non-zero exit or a run longer than
     * $timeout seconds fails the test instead of taking PHPUnit down or
     * hanging it.
     *
     * @param array<string, string> $constants
     */
    protected function runChildPhp(string $code, array $constants = [], float $timeout = 60.0): string
    {
        $dir = self::tempDir();
        $script = "$dir/script.php";
        $defines = '';
        foreach ($constants + ['DIR' => $dir] as $name => $value) {
            $defines .= "const $name = " . var_export($value, true) . ";\n";
        }
        file_put_contents($script, "<?php\ndeclare(strict_types=1);\n"
            . 'require ' . var_export(dirname(__DIR__) . '/bootstrap/autoload.php', true) . ";\n"
            . $defines . $code . "\n");
        $process = proc_open(
            [PHP_BINARY, $script],
            [0 => ['file', '/dev/null', 'r'], 1 => ['file', "$dir/out", 'w'], 2 => ['file', "$dir/err", 'w']],
            $pipes,
        );
        $this->assertIsResource($process);
        $deadline = microtime(true) + $timeout;
        while (($status = proc_get_status($process))['running'] && microtime(true) < $deadline) {
            usleep(20000);
        }
        if ($status['running']) {
            proc_terminate($process, 9);
        }
        proc_close($process);
        $out = (string) file_get_contents("$dir/out");
        $err = (string) file_get_contents("$dir/err");
        $this->assertFalse($status['running'], "the child php did not finish within $timeout s\n$out$err");
        $this->assertFalse(
            $status['signaled'],
            "the child php was killed by signal {$status['termsig']} (a crash)\n$out$err",
        );
        $this->assertSame(0, $status['exitcode'], "exit status of the child php\n$out$err");
        return $out;
    }

    /** The `flags` binary: FLAGS_BIN, else built from this repository (a no-op when up to date). */
    protected static function flagsBinary(): string
    {
        if (self::$flags !== null) {
            return self::$flags;
        }
        $given = getenv('FLAGS_BIN');
        if ($given !== false && $given !== '') {
            self::assertTrue(is_executable($given), "FLAGS_BIN=$given is not an executable");
            return self::$flags = $given;
        }
        $repo = dirname(__DIR__, 3);
        exec('cd ' . escapeshellarg($repo) . ' && cargo build -q -p flags-server --bin flags 2>&1', $output, $status);
        self::assertSame(0, $status, "cargo build -p flags-server --bin flags failed:\n" . implode("\n", $output));
        $target = getenv('CARGO_TARGET_DIR');
        $target = ($target === false || $target === '') ? "$repo/target" : $target;
        if ($target[0] !== '/') {
            $target = "$repo/$target";
        }
        $binary = "$target/debug/flags";
        self::assertTrue(is_executable($binary), "no flags binary at $binary");
        return self::$flags = $binary;
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
