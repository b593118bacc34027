<?php

declare(strict_types=1);

namespace Flags\Tests;

use Flags\Client;
use Flags\Evaluation;
use Flags\Flags;
use Flags\FlagsException;

/**
 * Flags\Client against a real `flags serve` process (the binary of this
 * repository, or FLAGS_BIN) whose only token has the `client` scope: it
 * may evaluate (OFREP, /v1/stream) and gets 403 on /v1/flags.
 */
final class ClientTest extends TestCase
{
    private const TOKEN = 'php-client-token';

    /** @var resource|null */
    private $server = null;
    private string $dir = '';
    private string $url = '';

    protected function setUp(): void
    {
        $this->dir = self::tempDir();
        file_put_contents("$this->dir/flags.json", self::flagFile([
            'beta' => ['pilots' => ['user_id' => ['7']]],
            'theme' => ['percentage' => 100, 'variants' => [['name' => 'dark', 'weight' => 100]]],
        ]));
        $this->startServer();
    }

    protected function tearDown(): void
    {
        $this->stopServer();
    }

    private function startServer(): void
    {
        $probe = stream_socket_server('tcp://127.0.0.1:0');
        $this->assertIsResource($probe);
        $address = (string) stream_socket_get_name($probe, false);
        fclose($probe);
        $this->url = "http://$address/";
        $env = getenv();
        unset($env['FLAGS_TOKENS']);
        $this->server = proc_open(
            [self::flagsBinary(), 'serve', "$this->dir/flags.json", '--listen', $address],
            [0 => ['file', '/dev/null', 'r'], 1 => ['file', "$this->dir/server.out", 'w'],
                2 => ['file', "$this->dir/server.err", 'w']],
            $pipes,
            null,
            ['FLAGS_CLIENT_TOKENS' => self::TOKEN] + $env,
        );
        $this->assertIsResource($this->server);
        $deadline = microtime(true) + 30.0;
        while (@file_get_contents("{$this->url}readyz") === false) {
            $status = proc_get_status($this->server);
            $this->assertTrue($status['running'], 'flags serve exited: ' . file_get_contents("$this->dir/server.err"));
            $this->assertLessThan($deadline, microtime(true), 'flags serve did not become ready within 30 s');
            usleep(50000);
        }
    }

    private function stopServer(): void
    {
        if ($this->server !== null) {
            proc_terminate($this->server);
            proc_close($this->server);
            $this->server = null;
        }
    }

    /** @param array<string, mixed> $options */
    private function open(array $context, array $options = []): Client
    {
        return Client::open($this->url, $context, $options + ['token' => self::TOKEN, 'timeout_ms' => 5000]);
    }

    /** Polls $condition for up to 20 s. */
    private function waitFor(string $what, callable $condition): void
    {
        $deadline = microtime(true) + 20.0;
        while (!$condition()) {
            $this->assertLessThan($deadline, microtime(true), "timed out waiting for $what");
            usleep(20000);
        }
    }

    public function testAClientTokenGetsTheAnswersForItsContext(): void
    {
        $pilot = $this->open(['user_id' => 7]);
        $other = $this->open(['user_id' => '8']);
        $this->assertTrue($pilot->isEnabled('beta'));
        $this->assertFalse($other->isEnabled('beta'));
        $this->assertFalse($pilot->isEnabled('no_such_flag'));
        $this->assertSame('dark', $pilot->variant('theme'));
        $this->assertNull($pilot->variant('no_such_flag'));
        $detail = $pilot->evaluate('beta');
        $this->assertSame([true, Evaluation::PILOT], [$detail->enabled, $detail->reason]);
        $this->assertSame(Evaluation::ROLLOUT_OUT, $other->evaluate('beta')->reason);
        $this->assertSame(Evaluation::FLAG_NOT_FOUND, $pilot->evaluate('no_such_flag')->reason);
        $status = $pilot->status();
        $this->assertSame(['client', true, false, null], [$status['kind'], $status['healthy'], $status['stale'], $status['last_error']]);
        $this->assertSame($status['version'], $pilot->version());
        $this->assertMatchesRegularExpression('/^[0-9a-f]{32}$/', $pilot->version());

        // The same token cannot download the flag file: that is the point.
        try {
            Flags::remote($this->url, ['token' => self::TOKEN]);
            $this->fail('a client token read /v1/flags');
        } catch (FlagsException $e) {
            $this->assertSame(FlagsException::REMOTE, $e->getCode());
            $this->assertStringContainsString('403', $e->getMessage());
        }
    }

    public function testRefreshIsA304AndSetContextAsksForTheNewUser(): void
    {
        $client = $this->open(['user_id' => 7]);
        $this->assertFalse($client->refresh(), 'unchanged');
        $this->assertSame(0, $client->generation());
        $client->setContext(['user_id' => 8]);
        $this->assertFalse($client->isEnabled('beta'));
        $this->assertTrue($client->isEnabled('theme'));
        $this->assertSame(1, $client->generation());
        $client->setContext(['user_id' => '7']);
        $this->assertTrue($client->isEnabled('beta'), 'the pilot again');
        $this->assertSame(2, $client->generation());
    }

    public function testAnEditReachesTheClientThroughTheStream(): void
    {
        $client = $this->open(['user_id' => 8], ['stream' => true, 'refresh_interval_ms' => 3600000]);
        $this->assertFalse($client->isEnabled('beta'));
        self::writeAtomically("$this->dir/flags.json", self::flagFile(['beta' => ['percentage' => 100]]));
        $this->waitFor('the edit to reach the client', fn () => $client->isEnabled('beta'));
        $this->assertSame(Evaluation::FLAG_NOT_FOUND, $client->evaluate('theme')->reason, 'the removed flag is gone');
    }

    public function testTheLastGoodAnswersStayAndTheCacheServesAnOfflineStartForTheSameContextOnly(): void
    {
        $cache = "$this->dir/client-cache.json";
        $client = $this->open(['user_id' => 7], ['cache_path' => $cache]);
        $this->assertFileExists($cache);
        $this->stopServer();

        try {
            $client->refresh();
            $this->fail('refreshed from a stopped server');
        } catch (FlagsException $e) {
            $this->assertSame(FlagsException::REMOTE, $e->getCode());
        }
        $this->assertTrue($client->isEnabled('beta'), 'the last good answers');
        $this->assertFalse($client->status()['healthy']);

        $offline = $this->open(['user_id' => 7], ['cache_path' => $cache, 'timeout_ms' => 2000]);
        $this->assertTrue($offline->isEnabled('beta'));
        $status = $offline->status();
        $this->assertSame([false, true], [$status['healthy'], $status['stale']]);
        $this->assertStringContainsString('serving the cached answers from', (string) $status['last_error']);

        try {
            $this->open(['user_id' => 8], ['cache_path' => $cache, 'timeout_ms' => 2000]);
            $this->fail("user 8 got user 7's cached answers");
        } catch (FlagsException $e) {
            $this->assertSame(FlagsException::REMOTE, $e->getCode());
            $this->assertStringContainsString('holds answers for another context', $e->getMessage());
        }
    }

    public function testBadArgumentsAreClearErrors(): void
    {
        try {
            $this->open(['user_id' => 1.5]);
            $this->fail('a float attribute was accepted');
        } catch (FlagsException $e) {
            $this->assertSame(FlagsException::INVALID_CONTEXT, $e->getCode());
            $this->assertStringContainsString('user_id', $e->getMessage());
        }
        try {
            Client::open('ftp://flags.example/', []);
            $this->fail('an ftp URL was accepted');
        } catch (FlagsException $e) {
            $this->assertSame(FlagsException::INVALID_ARGUMENT, $e->getCode());
            $this->assertStringContainsString('expected an http or https URL', $e->getMessage());
        }
        try {
            Client::open($this->url, [], ['tokn' => 'x']);
            $this->fail('an unknown option was accepted');
        } catch (FlagsException $e) {
            $this->assertSame(FlagsException::INVALID_ARGUMENT, $e->getCode());
            $this->assertStringContainsString('Unknown option "tokn"', $e->getMessage());
        }
        try {
            Client::open($this->url, ['user_id' => 7]);
            $this->fail('opened without a token');
        } catch (FlagsException $e) {
            $this->assertSame(FlagsException::REMOTE, $e->getCode());
            $this->assertStringContainsString('401', $e->getMessage());
        }
    }
}
