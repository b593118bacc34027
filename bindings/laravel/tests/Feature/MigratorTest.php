<?php

declare(strict_types=1);

namespace Flags\Laravel\Tests\Feature;

use App\Models\User;
use Flags\Laravel\Contracts\Migrator as MigratorContract;
use Flags\Laravel\Facades\Flags;
use Flags\Laravel\Facades\Migrator;
use Flags\Laravel\MigrationManager;
use Flags\Laravel\Tests\TestCase;
use Flags\Migration\Deferred;
use Flags\Migration\Stage;
use Flags\Tests\PhpServer;

/**
 * Migrator: the stage for the current user (or for($user)) from the flags
 * (or a fake), the other side after the response (terminating) and after
 * a queue job, and the records sent to the flags server afterwards.
 */
final class MigratorTest extends TestCase
{
    /** @var list<string> */
    private static array $log = [];

    private ?PhpServer $server = null;
    private string $capture = '';

    protected function setUp(): void
    {
        parent::setUp();
        self::$log = [];
        // Variants named after stages, as a migration flag's variant is its stage.
        $this->useFlagFile([
            'orders_reads' => [
                'pilots' => ['user_id' => ['7']],
                'percentage' => 0,
                'variants' => [['name' => 'shadow', 'weight' => 100]],
            ],
            'orders_writes' => ['percentage' => 100, 'variants' => [['name' => 'live', 'weight' => 100]]],
        ]);
    }

    protected function tearDown(): void
    {
        $this->server?->stop();
        $this->server = null;
        parent::tearDown();
    }

    private static function side(string $name, mixed $result = null): \Closure
    {
        return static function () use ($name, $result): mixed {
            self::$log[] = $name;
            return $result ?? $name;
        };
    }

    public function testTheContractIsTheManagerAndTheStageIsTheUsersVariant(): void
    {
        $this->assertInstanceOf(MigrationManager::class, $this->app->make(MigratorContract::class));
        $this->assertSame($this->app->make(MigratorContract::class), $this->app->make(MigrationManager::class));
        $this->actingAs(new User(7));
        $this->assertSame(Stage::Shadow, Migrator::stage('orders_reads'), 'a pilot');
        $this->assertSame(Stage::Off, Migrator::for(new User(8))->stage('orders_reads'), 'not a pilot, 0%');
        $this->assertSame(Stage::Live, Migrator::for(8)->stage('orders_writes'));
        $this->assertSame(Stage::Off, Migrator::stage('no_such_flag'));
    }

    public function testAFakeSetsTheStage(): void
    {
        config(['flags.migrations.defer' => Deferred::INLINE]);
        Flags::fake(['orders_reads' => 'live']);
        $answer = Migrator::read('orders_reads', self::side('old'), self::side('new'), static fn ($a, $b) => $a === $b);
        $this->assertSame(['new', ['new', 'old']], [$answer, self::$log]);
        self::$log = [];
        Flags::fake(['orders_reads' => 'complete']);
        $this->assertSame('new', Migrator::write('orders_reads', self::side('old'), self::side('new')));
        $this->assertSame(['new'], self::$log);
    }

    public function testInARequestTheShadowSideRunsAfterTheResponseAndTheRecordsAreSent(): void
    {
        $url = $this->startServer();
        config(['flags.migrations.report_url' => $url, 'flags.migrations.token' => 'client-token-2']);
        $this->app['router']->get('/orders/{id}', static function (string $id) {
            $order = Migrator::read('orders_reads', self::side('old', "order $id"), self::side('new', "order $id"), static fn ($a, $b) => $a === $b);
            self::$log[] = 'response';
            return response($order);
        });
        $this->actingAs(new User(7));
        $response = $this->get('/orders/12');
        $response->assertOk();
        $this->assertSame('order 12', $response->getContent());
        // The kernel's terminate ran the shadow read after the response was made.
        $this->assertSame(['old', 'response', 'new'], self::$log);

        $requests = $this->requests();
        $this->assertCount(1, $requests, 'one batch, after the response');
        $this->assertSame(['/v1/migrations', 'Bearer client-token-2'], [$requests[0]['path'], $requests[0]['authorization']]);
        $records = json_decode($requests[0]['body'], true, 512, JSON_THROW_ON_ERROR)['records'];
        $this->assertCount(1, $records);
        $this->assertSame(['orders_reads', 'shadow', 'read', true], [$records[0]['flag'], $records[0]['stage'], $records[0]['op'], $records[0]['consistent']]);
        $this->assertSame([false, false], [$records[0]['old']['error'], $records[0]['new']['error']]);
    }

    public function testAQueueJobsDeferredSideRunsWhenTheJobEnds(): void
    {
        $this->actingAs(new User(7));
        dispatch(static function (): void {
            Migrator::for(7)->write('orders_writes', self::side('old'), self::side('new'));
            self::$log[] = 'job body done';
        });
        // The sync queue ran the job; JobProcessed ran the second write.
        $this->assertSame(['new', 'job body done', 'old'], self::$log);
        $records = $this->app->make(MigrationManager::class)->migrator()->recorder()->take();
        $this->assertSame([['orders_writes', 'live', 'write']], array_map(static fn ($r) => [$r['flag'], $r['stage'], $r['op']], $records));
    }

    public function testTheOtherSidesExceptionNeverReachesTheRequest(): void
    {
        $this->app['router']->get('/shadow-fails', static fn () => response(Migrator::read(
            'orders_reads',
            self::side('old'),
            static fn () => throw new \RuntimeException('the projection is down'),
        )));
        $this->actingAs(new User(7));
        $response = $this->get('/shadow-fails');
        $response->assertOk();
        $this->assertSame('old', $response->getContent());
        [$record] = $this->app->make(MigrationManager::class)->migrator()->recorder()->take();
        $this->assertTrue($record['new']['error']);
        $this->assertNull($record['consistent']);
    }

    /** Starts bindings/php's capture server (a stand-in for POST /v1/migrations); its URL. */
    private function startServer(): string
    {
        $this->capture = self::tempDir() . '/requests.jsonl';
        $this->server = new PhpServer(
            \dirname(__DIR__, 3) . '/php/tests/Migration/fixtures/capture-server.php',
            ['CAPTURE_FILE' => $this->capture, 'CAPTURE_STATUS' => '0'],
            '/ready',
            'ready',
        );
        return $this->server->url;
    }

    /** @return list<array<string, mixed>> */
    private function requests(): array
    {
        $lines = is_file($this->capture) ? file($this->capture, FILE_IGNORE_NEW_LINES) : [];
        return array_map(static fn (string $line) => json_decode($line, true, 512, JSON_THROW_ON_ERROR), $lines ?: []);
    }
}
