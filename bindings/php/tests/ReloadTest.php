<?php

declare(strict_types=1);

namespace Flags\Tests;

use Flags\Flags;

/**
 * A file source follows edits of its file (checked on access, at most once
 * per interval), keeps the last good flags on a bad edit, and keeps
 * following them in a child process forked after it was opened.
 */
final class ReloadTest extends TestCase
{
    private const INTERVAL_MS = 100;

    private static function waitUntil(callable $condition, float $seconds = 10.0): bool
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

    public function testHotReload(): void
    {
        $path = self::tempDir() . '/flags.json';
        file_put_contents($path, self::flagFile(['checkout' => ['percentage' => 100]]));
        $flags = Flags::open($path, ['check_interval_ms' => self::INTERVAL_MS]);
        $this->assertTrue($flags->isEnabled('checkout', ['user_id' => 42]));
        $version = $flags->version();
        $generation = $flags->generation();

        self::writeAtomically($path, self::flagFile(['checkout' => ['killed' => true, 'percentage' => 100]]));
        $started = microtime(true);
        $this->assertTrue(
            self::waitUntil(static fn () => !$flags->isEnabled('checkout', ['user_id' => 42])),
            'the edit was not seen within 3 s',
        );
        $this->assertLessThan(2.0, microtime(true) - $started);
        $this->assertSame('KILLED', $flags->evaluate('checkout', ['user_id' => 42])->reason);
        $this->assertNotSame($version, $flags->version());
        $this->assertGreaterThan($generation, $flags->generation());

        // A new flag appears; the scoped object built before sees it.
        $me = $flags->for(['user_id' => 42]);
        self::writeAtomically($path, self::flagFile([
            'checkout' => ['percentage' => 100],
            'brand_new' => ['percentage' => 100],
        ]));
        $this->assertTrue(self::waitUntil(static fn () => $me->isEnabled('brand_new')));
        $this->assertSame(['brand_new', 'checkout'], $me->enabledFlags());
    }

    public function testABadEditKeepsTheLastGoodFlags(): void
    {
        $path = self::tempDir() . '/flags.json';
        file_put_contents($path, self::flagFile(['checkout' => ['percentage' => 100]]));
        $flags = Flags::open($path, ['check_interval_ms' => self::INTERVAL_MS]);
        $version = $flags->version();

        self::writeAtomically($path, '{"version": 1, "flags": {"checkout": {"percentage": 1');
        // Every access in the meantime keeps answering from the last good flags.
        $this->assertTrue(self::waitUntil(static fn () => $flags->isEnabled('checkout', ['user_id' => 42])
            && $flags->status()['failures'] > 0));
        $this->assertTrue($flags->isEnabled('checkout', ['user_id' => 42]));
        $this->assertSame($version, $flags->version());
        $status = $flags->status();
        $this->assertGreaterThan(0, $status['failures'], 'the failed reload is reported: ' . json_encode($status));
        $this->assertFalse($status['healthy']);
        $this->assertStringContainsString($path, (string) $status['last_error'], 'the failed reload is reported');

        file_put_contents($path, '');
        usleep(3 * self::INTERVAL_MS * 1000);
        $this->assertTrue($flags->isEnabled('checkout', ['user_id' => 42]), 'an empty file is never swapped in');

        self::writeAtomically($path, self::flagFile(['checkout' => ['percentage' => 0]]));
        $this->assertTrue(self::waitUntil(static fn () => !$flags->isEnabled('checkout', ['user_id' => 42])));
    }

    /**
     * The path turned into a named pipe with no writer: every access still
     * returns (at once, from the last good flags) and the pipe is reported,
     * where opening it would wait for a writer forever. Run in a child
     * process so that a hang fails the test instead of PHPUnit.
     */
    public function testANamedPipeAtThePathDoesNotHangAccess(): void
    {
        if (!\function_exists('posix_mkfifo')) {
            $this->fail('the posix extension (posix_mkfifo) is needed for this test');
        }
        $out = $this->runChildPhp('
            $path = DIR . "/flags.json";
            file_put_contents($path, ON);
            $flags = Flags\Flags::open($path, ["check_interval_ms" => 1]);
            unlink($path);
            posix_mkfifo($path, 0600);
            for ($i = 0; $i < 20; $i++) {
                usleep(10000);
                $on = $flags->isEnabled("on", ["user_id" => 1]);
            }
            echo $on ? "on" : "off", "\n", $flags->status()["last_error"], "\n";
            $again = null;
            try {
                Flags\Flags::open($path, ["check_interval_ms" => 2]);
            } catch (Flags\FlagsException $e) {
                $again = $e->getMessage();
            }
            echo $again, "\n";', ['ON' => self::flagFile(['on' => ['percentage' => 100]])], 30.0);
        [$on, $error, $open] = explode("\n", $out, 3);
        $this->assertSame('on', $on, 'the last good flags answer');
        $this->assertStringContainsString('not a regular file but a named pipe (FIFO)', $error);
        $this->assertStringContainsString('not a regular file but a named pipe (FIFO)', $open);
    }

    /**
     * Kubernetes ConfigMap volumes: flags.json -> ..data/flags.json, and an
     * update swaps the ..data symlink to a new directory and deletes the old.
     */
    public function testSymlinkSwapIsAnEdit(): void
    {
        $dir = self::tempDir();
        mkdir("$dir/..v1");
        file_put_contents("$dir/..v1/flags.json", self::flagFile(['checkout' => ['percentage' => 100]]));
        symlink('..v1', "$dir/..data");
        symlink('..data/flags.json', "$dir/flags.json");
        $flags = Flags::open("$dir/flags.json", ['check_interval_ms' => self::INTERVAL_MS]);
        $this->assertTrue($flags->isEnabled('checkout', ['user_id' => 42]));

        mkdir("$dir/..v2");
        file_put_contents("$dir/..v2/flags.json", self::flagFile(['checkout' => ['percentage' => 0]]));
        symlink('..v2', "$dir/..data_tmp");
        rename("$dir/..data_tmp", "$dir/..data");
        unlink("$dir/..v1/flags.json");
        rmdir("$dir/..v1");
        $this->assertTrue(self::waitUntil(static fn () => !$flags->isEnabled('checkout', ['user_id' => 42])));
        $this->assertSame('ROLLOUT_OUT', $flags->evaluate('checkout', ['user_id' => 42])->reason);
    }

    /**
     * The php-fpm shape: a source opened in the parent, then fork(); the
     * child evaluates after the parent edited the file and must see the
     * edit (no thread is needed, so nothing is lost in the fork).
     *
     * @requires extension pcntl
     */
    public function testForkedWorkerFollowsEdits(): void
    {
        $dir = self::tempDir();
        $path = "$dir/flags.json";
        $go = "$dir/edited";
        file_put_contents($path, self::flagFile(['checkout' => ['percentage' => 100]]));
        $flags = Flags::open($path, ['check_interval_ms' => self::INTERVAL_MS]);
        $this->assertTrue($flags->isEnabled('checkout', ['user_id' => 42]));
        $scoped = $flags->for(['user_id' => 42]);

        $pid = pcntl_fork();
        $this->assertNotSame(-1, $pid, 'fork failed');
        if ($pid === 0) {
            // Child: the handles came from the parent. Exit codes: 0 saw the
            // edit, 1 never did, 2 the file was not edited, 3 was wrong before.
            $code = 1;
            try {
                if (!$flags->isEnabled('checkout', ['user_id' => 42])) {
                    $code = 3;
                } elseif (!self::waitUntil(static fn () => is_file($go), 10.0)) {
                    $code = 2;
                } elseif (self::waitUntil(static fn () => !$flags->isEnabled('checkout', ['user_id' => 42])
                    && !$scoped->isEnabled('checkout')
                    && $flags->evaluate('checkout', ['user_id' => 42])->reason === 'KILLED')) {
                    $code = 0;
                }
            } catch (\Throwable) {
                $code = 4;
            }
            // Leave without PHPUnit's shutdown work (output, temp dir removal).
            while (ob_get_level() > 0) {
                ob_end_clean();
            }
            exit($code);
        }

        usleep(2 * self::INTERVAL_MS * 1000);
        self::writeAtomically($path, self::flagFile(['checkout' => ['killed' => true, 'percentage' => 100]]));
        touch($go);
        pcntl_waitpid($pid, $status);
        $this->assertTrue(pcntl_wifexited($status), 'the child did not exit normally');
        $this->assertSame(0, pcntl_wexitstatus($status), 'exit code of the forked worker (1: never saw the edit)');
        $this->assertTrue(self::waitUntil(static fn () => !$flags->isEnabled('checkout', ['user_id' => 42])), 'the parent too');
    }
}
