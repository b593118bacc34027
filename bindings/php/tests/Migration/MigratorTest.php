<?php

declare(strict_types=1);

namespace Flags\Tests\Migration;

use Flags\Flags;
use Flags\Migration\Deferred;
use Flags\Migration\Migrator;
use Flags\Migration\Recorder;
use Flags\Migration\Side;
use Flags\Migration\Stage;
use Flags\Tests\TestCase;

/**
 * What a read and a write do at each stage (Deferred::INLINE, so the other
 * side runs at once, after the authoritative one), what they record, and
 * that the other side's failure never reaches the caller.
 */
final class MigratorTest extends TestCase
{
    /**
     * From the design's table: the calls a read and a write make, in order,
     * and the side whose result the caller gets.
     *
     * stage => [read calls, read answer, write calls, write answer]
     */
    private const EXPECTED = [
        'off' => [['old'], 'old', ['old'], 'old'],
        'dualwrite' => [['old'], 'old', ['old', 'new'], 'old'],
        'shadow' => [['old', 'new'], 'old', ['old', 'new'], 'old'],
        'live' => [['new', 'old'], 'new', ['new', 'old'], 'new'],
        'rampdown' => [['new'], 'new', ['new', 'old'], 'new'],
        'complete' => [['new'], 'new', ['new'], 'new'],
    ];

    /** @var list<string> */
    private array $calls = [];

    private function side(string $name, mixed $result = null): \Closure
    {
        return function () use ($name, $result): mixed {
            $this->calls[] = $name;
            return $result ?? "$name result";
        };
    }

    private function failing(string $name): \Closure
    {
        return function () use ($name): never {
            $this->calls[] = $name;
            throw new \RuntimeException("$name is down");
        };
    }

    public function testEachStageRunsTheSidesOfTheDesignInOrderAndAnswersWithTheAuthoritativeOne(): void
    {
        foreach (self::EXPECTED as $name => [$readCalls, $readAnswer, $writeCalls, $writeAnswer]) {
            $migrator = new Migrator(defer: Deferred::INLINE);
            $stage = Stage::from($name);

            $this->calls = [];
            $answer = $migrator->readIn($stage, 'orders', $this->side('old'), $this->side('new'));
            $this->assertSame($readCalls, $this->calls, "$name: the sides a read ran");
            $this->assertSame("$readAnswer result", $answer, "$name: who answered the read");

            $this->calls = [];
            $answer = $migrator->writeIn($stage, 'orders', $this->side('old'), $this->side('new'));
            $this->assertSame($writeCalls, $this->calls, "$name: the sides a write ran");
            $this->assertSame("$writeAnswer result", $answer, "$name: who answered the write");

            // One record each, with the sides that ran and only those.
            [$read, $write] = $migrator->recorder()->take();
            $this->assertSame(['orders', $name, 'read'], [$read['flag'], $read['stage'], $read['op']]);
            $this->assertSame(['orders', $name, 'write'], [$write['flag'], $write['stage'], $write['op']]);
            $this->assertSame(array_values(array_intersect(['old', 'new'], $readCalls)), self::sides($read), $name);
            $this->assertSame(array_values(array_intersect(['old', 'new'], $writeCalls)), self::sides($write), $name);
        }
    }

    public function testTheOtherSidesExceptionIsRecordedNeverThrown(): void
    {
        $errors = [];
        $migrator = new Migrator(
            defer: Deferred::INLINE,
            onError: static function (\Throwable $e, string $flag, Stage $stage, string $op, Side $side) use (&$errors): void {
                $errors[] = [$e->getMessage(), $flag, $stage, $op, $side];
            },
        );
        $this->assertSame('old result', $migrator->readIn(Stage::Shadow, 'orders', $this->side('old'), $this->failing('new')));
        $this->assertSame('new result', $migrator->readIn(Stage::Live, 'orders', $this->failing('old'), $this->side('new')));
        $this->assertSame('old result', $migrator->writeIn(Stage::DualWrite, 'orders', $this->side('old'), $this->failing('new')));
        $this->assertSame(['old', 'new', 'new', 'old', 'old', 'new'], $this->calls);
        [$shadow, $live, $dual] = $migrator->recorder()->take();
        $this->assertSame([false, true, null], [$shadow['old']['error'], $shadow['new']['error'], $shadow['consistent']]);
        $this->assertSame([true, false], [$live['old']['error'], $live['new']['error']]);
        $this->assertSame([false, true], [$dual['old']['error'], $dual['new']['error']]);
        $this->assertSame([
            ['new is down', 'orders', Stage::Shadow, 'read', Side::New],
            ['old is down', 'orders', Stage::Live, 'read', Side::Old],
            ['new is down', 'orders', Stage::DualWrite, 'write', Side::New],
        ], $errors);
    }

    public function testTheAuthoritativeSidesExceptionReachesTheCaller(): void
    {
        $migrator = new Migrator(defer: Deferred::INLINE);
        try {
            $migrator->readIn(Stage::Live, 'orders', $this->side('old'), $this->failing('new'));
            $this->fail('the failed authoritative read did not throw');
        } catch (\RuntimeException $e) {
            $this->assertSame('new is down', $e->getMessage());
        }
        // The compared read still ran (and is recorded), not compared.
        $this->assertSame(['new', 'old'], $this->calls);
        $this->calls = [];
        try {
            $migrator->writeIn(Stage::Shadow, 'orders', $this->failing('old'), $this->side('new'));
            $this->fail('the failed authoritative write did not throw');
        } catch (\RuntimeException $e) {
            $this->assertSame('old is down', $e->getMessage());
        }
        $this->assertSame(['old'], $this->calls, 'after a failed authoritative write, the other is not attempted');
        [$read, $write] = $migrator->recorder()->take();
        $this->assertSame([true, false, null], [$read['new']['error'], $read['old']['error'], $read['consistent']]);
        $this->assertSame(['old'], self::sides($write));
        $this->assertTrue($write['old']['error']);
    }

    public function testComparedReadsRecordWhetherTheResultsAgree(): void
    {
        $migrator = new Migrator(defer: Deferred::INLINE);
        $given = [];
        $compare = static function ($old, $new) use (&$given): bool {
            $given[] = [$old, $new];
            return $old === $new;
        };
        $migrator->readIn(Stage::Shadow, 'orders', $this->side('old', 7), $this->side('new', 7), $compare);
        $migrator->readIn(Stage::Shadow, 'orders', $this->side('old', 7), $this->side('new', 8), $compare);
        // At live too the compare function gets (old, new), in that order.
        $migrator->readIn(Stage::Live, 'orders', $this->side('old', 1), $this->side('new', 2), $compare);
        // No compare function: not compared.
        $migrator->readIn(Stage::Shadow, 'orders', $this->side('old', 1), $this->side('new', 2));
        // Not a compared stage.
        $migrator->readIn(Stage::RampDown, 'orders', $this->side('old', 1), $this->side('new', 2), $compare);
        $this->assertSame([[7, 7], [7, 8], [1, 2]], $given);
        $consistent = array_column($migrator->recorder()->take(), 'consistent');
        $this->assertSame([true, false, false, null, null], $consistent);
        $by = $migrator->recorder()->stats()['by'];
        $this->assertSame(['ops' => 3, 'errors_old' => 0, 'errors_new' => 0, 'consistent' => 1, 'inconsistent' => 1], $by['orders shadow read']);
        $this->assertSame(1, $by['orders live read']['inconsistent']);
    }

    public function testARecordIsTheDesignsShapeWithMeasuredSeconds(): void
    {
        $migrator = new Migrator(defer: Deferred::INLINE);
        $slow = function (): string {
            $until = hrtime(true) + 30_000_000;   // busy for 30 ms: a measurable latency
            while (hrtime(true) < $until) {
            }
            return 'x';
        };
        $migrator->readIn(Stage::Shadow, 'orders_reads', $slow, fn () => 'x', static fn ($a, $b) => $a === $b);
        [$record] = $migrator->recorder()->take();
        $this->assertSame(['flag', 'stage', 'op', 'old', 'new', 'consistent'], array_keys($record));
        $this->assertSame(['orders_reads', 'shadow', 'read', true], [$record['flag'], $record['stage'], $record['op'], $record['consistent']]);
        $this->assertSame(['seconds', 'error'], array_keys($record['old']));
        $this->assertGreaterThanOrEqual(0.03, $record['old']['seconds']);
        // Each side timed on its own (a busy machine may stretch the quick
        // one, never to the slow one's 30 ms of work).
        $this->assertLessThan($record['old']['seconds'], $record['new']['seconds']);
        $this->assertFalse($record['new']['error']);
    }

    public function testTheStageComesFromTheFlagsVariant(): void
    {
        // Flags whose variant is a stage name, as a migration flag's is.
        $flags = Flags::fromJson(self::flagFile([
            'in_shadow' => ['percentage' => 100, 'variants' => [['name' => 'shadow', 'weight' => 100]]],
            'live_for_pilots' => [
                'pilots' => ['user_id' => ['7']],
                'percentage' => 0,
                'variants' => [['name' => 'live', 'weight' => 100]],
            ],
            'plain' => ['percentage' => 100],
        ]));
        $migrator = new Migrator($flags, defer: Deferred::INLINE);
        $this->assertSame(Stage::Shadow, $migrator->stage('in_shadow', ['user_id' => 1]));
        $this->assertSame(Stage::Live, $migrator->stage('live_for_pilots', ['user_id' => 7]));
        $this->assertSame(Stage::Off, $migrator->stage('live_for_pilots', ['user_id' => 8]));
        $this->assertSame(Stage::Off, $migrator->stage('plain', ['user_id' => 1]));
        $this->assertSame(Stage::Off, $migrator->stage('no_such_flag', ['user_id' => 1]));
        $this->assertSame(Stage::Live, $migrator->stage('live_for_pilots', $flags->for(['user_id' => 7])));

        $answer = $migrator->read('live_for_pilots', ['user_id' => 7], $this->side('old'), $this->side('new'));
        $this->assertSame(['new result', ['new', 'old']], [$answer, $this->calls]);
        $this->calls = [];
        $answer = $migrator->write('live_for_pilots', ['user_id' => 8], $this->side('old'), $this->side('new'));
        $this->assertSame(['old result', ['old']], [$answer, $this->calls]);
        $this->assertSame(['live', 'off'], array_column($migrator->recorder()->take(), 'stage'));
    }

    public function testWithoutFlagsOnlyAStageGivenWorks(): void
    {
        $this->expectException(\LogicException::class);
        $this->expectExceptionMessage('construct it with a Flags or a Client, or use readIn()/writeIn()');
        (new Migrator())->read('orders', [], $this->side('old'), $this->side('new'));
    }

    public function testTheRecorderKeepsAtMostItsCapacity(): void
    {
        $recorder = new Recorder(3);
        $migrator = new Migrator(recorder: $recorder, defer: Deferred::INLINE);
        for ($i = 0; $i < 5; $i++) {
            $migrator->readIn(Stage::Off, 'orders', $this->side('old'), $this->side('new'));
        }
        $this->assertSame(3, $recorder->count());
        $this->assertSame(2, $recorder->stats()['dropped']);
        $this->assertSame(5, $recorder->stats()['by']['orders off read']['ops']);
        $this->assertCount(2, $recorder->take(2));
        $this->assertCount(1, $recorder->take());
        $this->assertSame(0, $recorder->count());
    }

    /** @return list<string> the sides a record has, in the record's order */
    private static function sides(array $record): array
    {
        return array_values(array_intersect(['old', 'new'], array_keys($record)));
    }
}
