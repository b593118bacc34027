<?php

declare(strict_types=1);

namespace Flags\Tests\Migration;

use Flags\Migration\Deferred;
use Flags\Migration\Migrator;
use Flags\Migration\Recorder;
use Flags\Migration\Reporter;
use Flags\Migration\Stage;
use Flags\Tests\PhpServer;
use Flags\Tests\TestCase;

/**
 * The batches the Reporter sends, captured by a small HTTP server
 * (fixtures/capture-server.php under `php -S`), and what it does when the
 * server is down, silent or refusing: nothing thrown, the timeout kept.
 */
final class ReporterTest extends TestCase
{
    private ?PhpServer $server = null;
    private string $capture = '';
    private string|false $errorLog = false;

    protected function setUp(): void
    {
        // The Reporter's one line for a failure goes to error_log(): here, a file.
        $this->errorLog = ini_set('error_log', self::tempDir() . '/error.log');
    }

    protected function tearDown(): void
    {
        if ($this->errorLog !== false) {
            ini_set('error_log', $this->errorLog);
        }
        $this->server?->stop();
        $this->server = null;
    }

    /** Starts the capture server (answering $status when not 0); its URL. */
    private function startServer(int $status = 0): string
    {
        $this->capture = self::tempDir() . '/requests.jsonl';
        $this->server = new PhpServer(
            __DIR__ . '/fixtures/capture-server.php',
            ['CAPTURE_FILE' => $this->capture, 'CAPTURE_STATUS' => (string) $status],
            '/ready',
            'ready',
        );
        return $this->server->url;
    }

    /** @return list<array<string, mixed>> the requests the capture server received */
    private function requests(): array
    {
        $lines = is_file($this->capture) ? file($this->capture, FILE_IGNORE_NEW_LINES) : [];
        return array_map(static fn (string $line) => json_decode($line, true, 512, JSON_THROW_ON_ERROR), $lines ?: []);
    }

    public function testABatchIsTheDesignsBodyWithTheBearerToken(): void
    {
        $url = $this->startServer();
        $reporter = new Reporter($url . '/', 'client-token-1');
        $migrator = new Migrator(reporter: $reporter, defer: Deferred::INLINE);
        $migrator->readIn(Stage::Shadow, 'orders_reads', fn () => 1, fn () => throw new \RuntimeException('down'), static fn ($a, $b) => $a === $b);
        $migrator->readIn(Stage::Live, 'orders_reads', fn () => 1, fn () => 2, static fn ($a, $b) => $a === $b);
        $migrator->writeIn(Stage::Complete, 'orders_writes', fn () => 1, fn () => 1);
        $this->assertSame([], $this->requests(), 'nothing is sent before the flush');
        $migrator->flush();

        $requests = $this->requests();
        $this->assertCount(1, $requests, 'one batch for the request');
        [$request] = $requests;
        $this->assertSame(['POST', '/v1/migrations', 'Bearer client-token-1', 'application/json'], [
            $request['method'], $request['path'], $request['authorization'], $request['content_type'],
        ]);
        $body = json_decode($request['body'], true, 512, JSON_THROW_ON_ERROR);
        $this->assertSame(['records'], array_keys($body));
        [$shadow, $live, $write] = $body['records'];
        // The design's record: flag, stage, op, old/new for the sides that
        // ran ({seconds, error}), consistent (true/false for compared reads
        // where both succeeded, else null).
        $this->assertSame(['flag', 'stage', 'op', 'old', 'new', 'consistent'], array_keys($shadow));
        $this->assertSame(['orders_reads', 'shadow', 'read', null], [$shadow['flag'], $shadow['stage'], $shadow['op'], $shadow['consistent']]);
        $this->assertSame([false, true], [$shadow['old']['error'], $shadow['new']['error']]);
        $this->assertIsFloat($shadow['old']['seconds']);
        $this->assertIsFloat($shadow['new']['seconds']);
        $this->assertSame(['live', false], [$live['stage'], $live['consistent']]);
        $this->assertSame(['flag', 'stage', 'op', 'new', 'consistent'], array_keys($write));
        $this->assertSame(['orders_writes', 'complete', 'write', false, null], [$write['flag'], $write['stage'], $write['op'], $write['new']['error'], $write['consistent']]);
        $this->assertSame(['batches' => 1, 'records' => 3, 'accepted' => 3, 'dropped' => 0, 'failures' => 0, 'lost' => 0, 'last_error' => null], $reporter->stats());
        $this->assertSame(0, $migrator->recorder()->count());
    }

    public function testBatchesHoldAtMostAThousandRecords(): void
    {
        $url = $this->startServer();
        $reporter = new Reporter($url);
        $recorder = new Recorder();
        for ($i = 0; $i < 2500; $i++) {
            $recorder->record('orders_reads', 'off', 'read', ['seconds' => 0.001, 'error' => false], null);
        }
        $reporter->flush($recorder);
        $sizes = array_map(static fn (array $r) => \count(json_decode($r['body'], true)['records']), $this->requests());
        $this->assertSame([1000, 1000, 500], $sizes);
        $this->assertNull($this->requests()[0]['authorization'], 'no token, no Authorization header');
        $this->assertSame(2500, $reporter->stats()['accepted']);
    }

    public function testAWorkerSendsEveryNRecords(): void
    {
        $url = $this->startServer();
        $migrator = new Migrator(reporter: new Reporter($url), defer: Deferred::INLINE, flushEvery: 2);
        for ($i = 0; $i < 5; $i++) {
            $migrator->readIn(Stage::Off, 'orders_reads', fn () => 1, fn () => 1);
        }
        $this->assertCount(2, $this->requests(), 'two batches of two, one record waiting');
        $this->assertSame(1, $migrator->recorder()->count());
        $migrator->flush();
        $this->assertCount(3, $this->requests());
    }

    public function testARefusedBatchIsDroppedCountedAndNotThrown(): void
    {
        $url = $this->startServer(403);
        $reporter = new Reporter($url, 'wrong');
        $this->assertFalse($reporter->send([['flag' => 'f', 'stage' => 'off', 'op' => 'read', 'consistent' => null]]));
        $stats = $reporter->stats();
        $this->assertSame([1, 1, 1], [$stats['batches'], $stats['failures'], $stats['lost']]);
        $this->assertSame('the server answered 403: {"error":"refused by the test"}', $stats['last_error']);
    }

    public function testADownServerDoesNotThrowNorWaitPastTheTimeout(): void
    {
        // A port nobody listens on: refused at once.
        $probe = stream_socket_server('tcp://127.0.0.1:0');
        $this->assertIsResource($probe);
        $closed = 'http://' . stream_socket_get_name($probe, false);
        fclose($probe);
        // A server that accepts (the kernel's backlog) and never answers.
        $silent = stream_socket_server('tcp://127.0.0.1:0');
        $this->assertIsResource($silent);
        $hanging = 'http://' . stream_socket_get_name($silent, false);

        foreach ([$closed => 'cannot connect', $hanging => 'no answer within 250 ms'] as $url => $why) {
            $reporter = new Reporter($url, 'token', 250);
            $migrator = new Migrator(reporter: $reporter, defer: Deferred::INLINE);
            $this->assertSame(1, $migrator->readIn(Stage::Off, 'orders_reads', fn () => 1, fn () => 2));
            $started = hrtime(true);
            $migrator->flush();
            $elapsed = (hrtime(true) - $started) / 1e9;
            $this->assertLessThan(0.25 + 0.5, $elapsed, "$url: the flush waited $elapsed s, timeout 250 ms");
            $stats = $reporter->stats();
            $this->assertSame([1, 1], [$stats['failures'], $stats['lost']], $url);
            $this->assertStringContainsString($why, (string) $stats['last_error']);
        }
        fclose($silent);
    }

    public function testAFlushToASilentServerWaitsOneTimeoutNotOnePerBatch(): void
    {
        $silent = stream_socket_server('tcp://127.0.0.1:0');
        $this->assertIsResource($silent);
        $reporter = new Reporter('http://' . stream_socket_get_name($silent, false), 'token', 250);
        $recorder = new Recorder();
        for ($i = 0; $i < 2500; $i++) {   // three batches' worth
            $recorder->record('orders_reads', 'off', 'read', ['seconds' => 0.001, 'error' => false], null);
        }
        $started = hrtime(true);
        $reporter->flush($recorder);
        $elapsed = (hrtime(true) - $started) / 1e9;
        $this->assertLessThan(0.25 + 0.5, $elapsed, "the flush waited $elapsed s, timeout 250 ms");
        $stats = $reporter->stats();
        $this->assertSame([1, 1, 2500], [$stats['batches'], $stats['failures'], $stats['lost']]);
        $this->assertSame(0, $recorder->count());
        fclose($silent);
    }

    public function testABadUrlOrTimeoutIsRefusedSayingWhy(): void
    {
        foreach ([
            ['flags.internal', 250, 'flags.internal: expected the flags server\'s URL, http(s)://host[:port][/path]'],
            ['ftp://flags.internal', 250, 'expected the flags server\'s URL'],
            ['http://flags.internal', 0, '$timeoutMs: expected milliseconds from 1 to 60000, found 0'],
        ] as [$url, $timeout, $says]) {
            try {
                new Reporter($url, null, $timeout);
                $this->fail("new Reporter($url, null, $timeout) was accepted");
            } catch (\InvalidArgumentException $e) {
                $this->assertStringContainsString($says, $e->getMessage());
            }
        }
    }
}
