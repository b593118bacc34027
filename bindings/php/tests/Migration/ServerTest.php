<?php

declare(strict_types=1);

namespace Flags\Tests\Migration;

use Flags\Flags;
use Flags\Migration\Deferred;
use Flags\Migration\Migrator;
use Flags\Migration\Reporter;
use Flags\Tests\TestCase;

/**
 * End to end: a PHP process's migration records reach the real
 * `flags serve` (POST /v1/migrations with a `client` token) and show in its
 * /metrics as the flags_migration_* series the guards query.
 */
final class ServerTest extends TestCase
{
    /** @var resource|null */
    private $server = null;

    protected function tearDown(): void
    {
        if ($this->server !== null) {
            proc_terminate($this->server);
            proc_close($this->server);
            $this->server = null;
        }
    }

    public function testRecordsSentByPhpShowInTheServersMetrics(): void
    {
        $dir = self::tempDir();
        file_put_contents("$dir/flags.json", self::flagFile([
            'orders_reads' => ['migration' => ['stages' => 4, 'stage' => 'shadow']],
        ]));
        file_put_contents("$dir/tokens", "client-token-3 client\n");
        $probe = stream_socket_server('tcp://127.0.0.1:0');
        $this->assertIsResource($probe);
        $address = (string) stream_socket_get_name($probe, false);
        fclose($probe);
        $this->server = proc_open(
            [self::flagsBinary(), 'serve', "$dir/flags.json", '--listen', $address, '--tokens-file', "$dir/tokens"],
            [0 => ['file', '/dev/null', 'r'], 1 => ['file', "$dir/serve.log", 'w'], 2 => ['file', "$dir/serve.log", 'a']],
            $pipes,
        );
        $this->assertIsResource($this->server);
        $url = "http://$address";
        $deadline = microtime(true) + 30.0;
        while (@file_get_contents("$url/readyz") === false && microtime(true) < $deadline) {
            $this->assertTrue(proc_get_status($this->server)['running'], 'flags serve exited: ' . file_get_contents("$dir/serve.log"));
            usleep(50000);
        }

        $reporter = new Reporter($url, 'client-token-3');
        $migrator = new Migrator(Flags::open("$dir/flags.json"), reporter: $reporter, defer: Deferred::INLINE);
        $same = static fn ($a, $b) => $a === $b;
        foreach ([[1, 1], [2, 2], [3, 4]] as [$old, $new]) {
            $this->assertSame($old, $migrator->read('orders_reads', ['user_id' => $old], fn () => $old, fn () => $new, $same));
        }
        $migrator->write('orders_reads', ['user_id' => 1], fn () => 1, fn () => throw new \RuntimeException('down'));
        $migrator->flush();
        $this->assertSame(['batches' => 1, 'records' => 4, 'accepted' => 4, 'dropped' => 0, 'failures' => 0, 'lost' => 0, 'last_error' => null], $reporter->stats());

        $metrics = (string) file_get_contents("$url/metrics");
        foreach ([
            'flags_migration_ops_total{flag="orders_reads",stage="shadow",op="read"} 3',
            'flags_migration_ops_total{flag="orders_reads",stage="shadow",op="write"} 1',
            'flags_migration_consistency_total{flag="orders_reads",stage="shadow",consistent="true"} 2',
            'flags_migration_consistency_total{flag="orders_reads",stage="shadow",consistent="false"} 1',
            'flags_migration_errors_total{flag="orders_reads",stage="shadow",op="write",side="new"} 1',
            'flags_migration_latency_seconds_count{flag="orders_reads",op="read",side="new"} 3',
        ] as $line) {
            $this->assertStringContainsString("\n$line\n", $metrics);
        }
    }
}
