<?php

declare(strict_types=1);

namespace Flags\Tests;

use Flags\FlagFile;
use Flags\FlagsException;

/**
 * FlagFile::monitor() is `flags status FILE --prometheus URL --json`: the
 * same document, from the same code, against a fake Prometheus
 * (tests/fixtures/fake-prometheus.php under `php -S`); a Prometheus that
 * never answers costs no more than the timeout and throws nothing.
 */
final class MonitorTest extends TestCase
{
    private const GUARDED = <<<'JSON'
        {
          "version": 1,
          "flags": {
            "checkout": {
              "percentage": 100,
              "guard": {"query": "checkout_error_ratio", "above": 0.05, "for": "2m", "action": "kill"}
            },
            "search": {
              "percentage": 50,
              "guard": {"query": "search_success_ratio", "below": 0.99, "for": "1m", "action": "pause"}
            },
            "plain": {"percentage": 10}
          }
        }
        JSON;

    private ?PhpServer $prometheus = null;

    private string $dir;

    protected function setUp(): void
    {
        $this->dir = self::tempDir();
        file_put_contents("$this->dir/flags.json", self::GUARDED);
    }

    protected function tearDown(): void
    {
        $this->prometheus?->stop();
        $this->prometheus = null;
    }

    /** Starts the fake Prometheus answering $values (query => value text); its URL. */
    private function startPrometheus(array $values): string
    {
        $this->prometheus = new PhpServer(
            __DIR__ . '/fixtures/fake-prometheus.php',
            ['FAKE_PROMETHEUS_VALUES' => json_encode($values)],
            '/api/v1/query?query=up',
        );
        return $this->prometheus->url;
    }

    /** `flags status flags.json --prometheus URL --json` in the test's directory, decoded. */
    private function cli(string $url): array
    {
        $process = proc_open(
            [self::flagsBinary(), 'status', 'flags.json', '--prometheus', $url, '--json'],
            [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']],
            $pipes,
            $this->dir,
        );
        $this->assertIsResource($process);
        $out = (string) stream_get_contents($pipes[1]);
        $err = (string) stream_get_contents($pipes[2]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        $this->assertSame(0, proc_close($process), $err);
        return json_decode($out, true, 64, JSON_THROW_ON_ERROR);
    }

    public function testMonitorIsTheDocumentOfFlagsStatusPrometheusJson(): void
    {
        $url = $this->startPrometheus(['checkout_error_ratio' => '0.09', 'search_success_ratio' => '0.995']);
        chdir($this->dir);
        $doc = (new FlagFile('flags.json'))->monitor($url, 10000);
        $expected = $this->cli($url);
        // The same document but for the clock's reading.
        unset($doc['now'], $expected['now']);
        $this->assertSame($expected, $doc);
        $checkout = $doc['flags'][0];
        $this->assertSame('checkout', $checkout['key']);
        $this->assertSame(0.09, $checkout['guard']['now']['value']);
        $this->assertTrue($checkout['guard']['now']['crossed']);
        $this->assertSame(
            'GUARD CROSSED on checkout: 0.09 above 0.05 -- a running `flags guard` kills it once it has held '
                . 'for 2m; or run `flags kill flags.json checkout` now',
            $doc['recommendation'],
        );
        $this->assertArrayNotHasKey('guard', $doc['flags'][1]);
    }

    public function testASilentPrometheusIsNoDataWithinTheTimeout(): void
    {
        // Accepts connections (the kernel's backlog) and never answers.
        $silent = stream_socket_server('tcp://127.0.0.1:0');
        $this->assertIsResource($silent);
        $url = 'http://' . stream_socket_get_name($silent, false);
        $started = microtime(true);
        $doc = (new FlagFile("$this->dir/flags.json"))->monitor($url, 300);
        $this->assertLessThan(30.0, microtime(true) - $started);
        fclose($silent);
        $now = $doc['flags'][0]['guard']['now'];
        $this->assertNull($now['value']);
        $this->assertStringContainsString('gave no answer within 300 ms', $now['no_data']);
        $this->assertStringStartsWith('NO DATA for the guard of checkout, search', $doc['recommendation']);
    }

    public function testBadArgumentsThrowSayingWhich(): void
    {
        $file = new FlagFile("$this->dir/flags.json");
        foreach (
            [
                ['localhost:9090', 1000, 'localhost:9090: expected an http:// or https:// URL'],
                ['http://127.0.0.1:9', 0, '$timeoutMs: expected milliseconds from 1 to 60000, found 0'],
                ['http://127.0.0.1:9', 4294967396, 'expected milliseconds from 1 to 60000, found 4294967396'],
            ] as [$url, $ms, $says]
        ) {
            try {
                $file->monitor($url, $ms);
                $this->fail("monitor($url, $ms) was accepted");
            } catch (FlagsException $e) {
                $this->assertSame('INVALID_ARGUMENT', $e->getResultName());
                $this->assertStringContainsString($says, $e->getMessage());
            }
        }
        try {
            (new FlagFile("$this->dir/missing.json"))->monitor('http://127.0.0.1:9', 1000);
            $this->fail('a missing file');
        } catch (FlagsException $e) {
            $this->assertSame('IO', $e->getResultName());
        }
    }
}
