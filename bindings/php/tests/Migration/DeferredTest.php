<?php

declare(strict_types=1);

namespace Flags\Tests\Migration;

use Flags\Migration\Deferred;
use Flags\Tests\TestCase;

/**
 * The other side of a read or a write runs after the caller has its
 * answer: at the end of a CLI script, and under php-fpm after the response
 * has reached the client (fastcgi_finish_request()).
 */
final class DeferredTest extends TestCase
{
    public function testInTheCliTheOtherSideRunsWhenTheScriptEndsAfterTheAnswer(): void
    {
        $out = $this->runChildPhp(<<<'PHP'
            use Flags\Migration\{Migrator, Reporter, Stage};
            $migrator = new Migrator();
            $answer = $migrator->readIn(Stage::Shadow, 'orders', function () { echo "old ran\n"; return 'old'; },
                function () { echo "new ran\n"; return 'new'; }, function ($a, $b) { echo "compared\n"; return $a === $b; });
            echo "caller got $answer\n";
            $migrator->writeIn(Stage::Live, 'orders', function () { echo "old written\n"; }, function () { echo "new written\n"; });
            echo "script done; pending: ", $migrator->deferred()->pending(), "\n";
            register_shutdown_function(function () use ($migrator) {
                echo "recorded: ", implode(',', array_column($migrator->recorder()->take(), 'consistent')) === '' ? 'none' : 'both', "\n";
            });
            PHP);
        $this->assertSame(
            "old ran\ncaller got old\nnew written\nscript done; pending: 2\nnew ran\ncompared\nold written\nrecorded: both\n",
            $out,
        );
    }

    public function testRunRunsTheQueueInOrderThenTheEndTasksAndContainsExceptions(): void
    {
        $deferred = new Deferred();
        $log = [];
        $deferred->atEnd('report', function () use (&$log): void {
            $log[] = 'end';
        });
        $deferred->defer(function () use (&$log, $deferred): void {
            $log[] = 'a';
            $deferred->defer(function () use (&$log): void {
                $log[] = 'c';
            });
        });
        $deferred->defer(static function (): never {
            throw new \RuntimeException('a broken task');
        });
        $deferred->defer(function () use (&$log): void {
            $log[] = 'b';
        });
        $this->assertSame([], $log);
        $this->assertSame(3, $deferred->pending());
        $previous = ini_set('error_log', self::tempDir() . '/error.log');
        try {
            $deferred->run();
        } finally {
            ini_set('error_log', (string) $previous);
        }
        $this->assertSame(['a', 'b', 'c', 'end'], $log);
        $this->assertSame(0, $deferred->pending());

        $inline = new Deferred(Deferred::INLINE);
        $inline->defer(function () use (&$log): void {
            $log[] = 'now';
        });
        $this->assertSame('now', end($log));
        $this->expectExceptionMessage('Unknown deferral mode "later"; expected "after_response" or "inline"');
        new Deferred('later');
    }

    public function testUnderPhpFpmTheResponseArrivesBeforeTheShadowSideRuns(): void
    {
        $fpm = self::phpFpm();
        $dir = self::tempDir();
        // The pool's user (nobody when the test runs as root) reads and writes here.
        chmod(\dirname($dir), 0711);
        chmod($dir, 0777);
        $user = posix_getuid() === 0 ? "user = nobody\ngroup = " . (posix_getgrnam('nogroup') ? 'nogroup' : 'nobody') . "\n" : '';
        file_put_contents("$dir/php-fpm.conf", <<<CONF
            [global]
            error_log = $dir/php-fpm.log
            daemonize = no
            [migration]
            {$user}listen = $dir/php-fpm.sock
            listen.mode = 0666
            pm = static
            pm.max_children = 1
            clear_env = no
            CONF);
        $app = __DIR__ . '/fixtures/fpm-app.php';
        $fpmProcess = proc_open(
            array_merge([$fpm, '-F', '-n', '-y', "$dir/php-fpm.conf"], posix_getuid() === 0 ? ['-R'] : []),
            [0 => ['file', '/dev/null', 'r'], 1 => ['file', "$dir/fpm.out", 'w'], 2 => ['file', "$dir/fpm.out", 'a']],
            $pipes,
        );
        $this->assertIsResource($fpmProcess);
        try {
            $deadline = microtime(true) + 30.0;
            while (!file_exists("$dir/php-fpm.sock")) {
                $this->assertTrue(proc_get_status($fpmProcess)['running'], 'php-fpm exited: ' . @file_get_contents("$dir/fpm.out"));
                $this->assertLessThan($deadline, microtime(true), 'php-fpm did not open its socket within 30 s');
                usleep(20000);
            }
            $started = hrtime(true);
            $response = self::fastcgi("$dir/php-fpm.sock", [
                'SCRIPT_FILENAME' => $app,
                'SCRIPT_NAME' => '/fpm-app.php',
                'REQUEST_METHOD' => 'GET',
                'MIGRATION_DIR' => $dir,
                'FLAGS_AUTOLOAD' => \dirname(__DIR__, 2) . '/bootstrap/autoload.php',
            ], 30.0);
            $elapsed = (hrtime(true) - $started) / 1e9;
            // The shadow read waits (up to 20 s) for the "go" file this
            // test writes only once it holds the response: had it run
            // before the response, the response would take 20 s and say so.
            $this->assertStringContainsString('caller got same', $response);
            $this->assertFalse(file_exists("$dir/shadow-done"), 'the shadow side finished before the response arrived');
            $this->assertLessThan(15.0, $elapsed, "the response took $elapsed s: it waited for the shadow side");
            touch("$dir/go");
            $deadline = microtime(true) + 30.0;
            while (!file_exists("$dir/shadow-done") && microtime(true) < $deadline) {
                usleep(20000);
            }
            $this->assertFileExists("$dir/shadow-done", 'the shadow side did not finish within 30 s of "go"');
            $this->assertSame('saw go after the response; compared: true; recorded: shadow read', file_get_contents("$dir/shadow-done"));
        } finally {
            proc_terminate($fpmProcess, 3);   // SIGQUIT: graceful stop
            $deadline = microtime(true) + 10.0;
            while (proc_get_status($fpmProcess)['running'] && microtime(true) < $deadline) {
                usleep(20000);
            }
            if (proc_get_status($fpmProcess)['running']) {
                proc_terminate($fpmProcess, 9);
            }
            proc_close($fpmProcess);
        }
    }

    private static function phpFpm(): string
    {
        foreach (array_merge([(string) getenv('PHP_FPM')], glob('/usr/sbin/php-fpm*') ?: []) as $candidate) {
            if ($candidate !== '' && is_executable($candidate)) {
                return $candidate;
            }
        }
        self::fail('php-fpm not found (apt-get install php-fpm, or set PHP_FPM): bindings/php/run installs it');
    }

    /**
     * One FastCGI request to the php-fpm socket: the response's stdout.
     * Returns when php-fpm ends the request (FCGI_END_REQUEST), which
     * fastcgi_finish_request() sends before the script's end.
     *
     * @param array<string, string> $params
     */
    private static function fastcgi(string $socket, array $params, float $timeout): string
    {
        $encoded = '';
        foreach ($params as $name => $value) {
            foreach ([$name, $value] as $text) {
                $length = \strlen($text);
                $encoded .= $length < 128 ? \chr($length) : pack('N', $length | 0x80000000);
            }
            $encoded .= $name . $value;
        }
        $record = static fn (int $type, string $content): string
            => pack('CCnnCx', 1, $type, 1, \strlen($content), 0) . $content;
        $connection = stream_socket_client("unix://$socket", $errno, $error, 10.0);
        self::assertIsResource($connection, "cannot connect to $socket: $error");
        stream_set_timeout($connection, (int) $timeout);
        fwrite($connection, $record(1, pack('nCx5', 1, 0)) . $record(4, $encoded) . $record(4, '') . $record(5, ''));
        $output = '';
        while (($header = stream_get_contents($connection, 8)) !== false && \strlen($header) === 8) {
            ['type' => $type, 'length' => $length, 'padding' => $padding] =
                unpack('Cversion/Ctype/nid/nlength/Cpadding/Creserved', $header);
            $content = $length + $padding > 0 ? (string) stream_get_contents($connection, $length + $padding) : '';
            if ($type === 6) {
                $output .= substr($content, 0, $length);
            } elseif ($type === 3) {
                break;
            }
        }
        fclose($connection);
        return $output;
    }
}
