<?php

declare(strict_types=1);

namespace Flags\Tests\Migration;

use Flags\Flags;
use Flags\Migration\Deferred;
use Flags\Migration\Migrator;
use Flags\Migration\Stage;
use Flags\Tests\TestCase;

/**
 * Real migration flags (the flag file's `migration` object): the stage the
 * Migrator runs at is the one the design's evaluation table gives for the
 * evaluation's reason, through the existing C ABI (the variant).
 */
final class MigrationFlagTest extends TestCase
{
    /** The design's table (section 2): reason => which field of `migration` gives the stage. */
    private const STAGE_BY_REASON = [
        'KILL_ALL' => 'safe',
        'KILLED' => 'safe',
        'REQUIREMENT_UNMET' => 'stage',
        'DENIED' => 'stage',
        'PILOT' => 'pilot_stage',
        'ROLLOUT_IN' => 'next',
        'ROLLOUT_OUT' => 'stage',
        'MISSING_BUCKET_KEY' => 'stage',
    ];

    private const MIGRATION = ['stages' => 6, 'stage' => 'dualwrite', 'next' => 'shadow', 'pilot_stage' => 'live', 'safe' => 'off'];

    public function testTheStageFollowsTheReasonAsTheDesignSays(): void
    {
        $flags = Flags::fromJson(self::flagFile([
            'orders' => [
                'migration' => self::MIGRATION,
                'requires' => [['attribute' => 'tenant_id', 'op' => 'not_in', 'values' => ['legacy']]],
                'deny' => ['user_id' => ['666']],
                'pilots' => ['user_id' => ['7']],
                'percentage' => 50,
            ],
            'killed_orders' => ['migration' => self::MIGRATION, 'killed' => true, 'percentage' => 100],
        ]));
        $migrator = new Migrator($flags, defer: Deferred::INLINE);
        $contexts = [
            ['orders', ['user_id' => 7, 'tenant_id' => 'acme']],
            ['orders', ['user_id' => 666, 'tenant_id' => 'acme']],
            ['orders', ['user_id' => 1, 'tenant_id' => 'legacy']],
            ['orders', ['tenant_id' => 'acme']],
            ['killed_orders', ['user_id' => 1]],
        ];
        for ($user = 100; $user < 140; $user++) {
            $contexts[] = ['orders', ['user_id' => $user, 'tenant_id' => 'acme']];
        }
        $seen = [];
        foreach ($contexts as [$flag, $context]) {
            $reason = $flags->evaluate($flag, $context)->reason;
            $expected = Stage::from(self::MIGRATION[self::STAGE_BY_REASON[$reason]]);
            $this->assertSame($expected, $migrator->stage($flag, $context), "$flag " . json_encode($context) . " ($reason)");
            $seen[$reason] = true;
        }
        ksort($seen);
        $this->assertSame(
            ['DENIED', 'KILLED', 'MISSING_BUCKET_KEY', 'PILOT', 'REQUIREMENT_UNMET', 'ROLLOUT_IN', 'ROLLOUT_OUT'],
            array_keys($seen),
        );
        $this->assertSame(Stage::Off, $migrator->stage('no_such_flag', ['user_id' => 1]));

        // kill_all sends every migration flag to its safe stage.
        $all = Flags::fromJson(self::flagFile(['orders' => ['migration' => ['stages' => 4, 'stage' => 'live', 'safe' => 'shadow']]], ['kill_all' => true]));
        $this->assertSame(Stage::Shadow, (new Migrator($all))->stage('orders', ['user_id' => 1]));
    }

    public function testAPilotReadsFromTheNewSystemComparedWithTheOld(): void
    {
        $flags = Flags::fromJson(self::flagFile([
            'orders' => ['migration' => self::MIGRATION, 'pilots' => ['user_id' => ['7']], 'percentage' => 0],
        ]));
        $migrator = new Migrator($flags, defer: Deferred::INLINE);
        $calls = [];
        $answer = $migrator->read('orders', ['user_id' => 7], function () use (&$calls) {
            $calls[] = 'old';
            return 'a';
        }, function () use (&$calls) {
            $calls[] = 'new';
            return 'b';
        }, static fn ($old, $new) => $old === $new);
        $this->assertSame(['b', ['new', 'old']], [$answer, $calls]);
        [$record] = $migrator->recorder()->take();
        $this->assertSame(['live', false], [$record['stage'], $record['consistent']]);
    }
}
