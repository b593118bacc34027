<?php

declare(strict_types=1);

namespace Flags\Tests\Migration;

use Flags\Evaluation;
use Flags\Migration\Side;
use Flags\Migration\Stage;
use Flags\Tests\TestCase;

/**
 * The stages and their plans against the table of the migration design
 * (docs/migrations.md), written out here from the design, not from the code.
 */
final class StageTest extends TestCase
{
    /**
     * stage name => [read: authoritative, read: other side compared,
     *                write: authoritative, write: other side written too]
     *
     * | stage     | read                       | write          |
     * | off       | old                        | old            |
     * | dualwrite | old                        | old, then new  |
     * | shadow    | old answers, new compared  | old, then new  |
     * | live      | new answers, old compared  | new, then old  |
     * | rampdown  | new                        | new, then old  |
     * | complete  | new                        | new            |
     */
    private const DESIGN = [
        'off' => ['old', false, 'old', false],
        'dualwrite' => ['old', false, 'old', true],
        'shadow' => ['old', true, 'old', true],
        'live' => ['new', true, 'new', true],
        'rampdown' => ['new', false, 'new', true],
        'complete' => ['new', false, 'new', false],
    ];

    public function testEveryStageFollowsTheDesignTable(): void
    {
        $this->assertSame(array_keys(self::DESIGN), array_map(static fn (Stage $s) => $s->value, Stage::cases()));
        foreach (self::DESIGN as $name => [$readAuthority, $compared, $writeAuthority, $writesBoth]) {
            $stage = Stage::from($name);
            $read = $stage->read();
            $write = $stage->write();
            $this->assertSame($readAuthority, $read->authoritative->value, "$name: who answers a read");
            $this->assertSame($compared, $read->both, "$name: a read runs both sides");
            $this->assertSame($compared, $read->compare, "$name: a read compares");
            $this->assertSame($writeAuthority, $write->authoritative->value, "$name: who answers a write");
            $this->assertSame($writesBoth, $write->both, "$name: a write runs both sides");
            $this->assertFalse($write->compare, "$name: writes are never compared");
            $this->assertSame($readAuthority, $stage->authoritative()->value);
        }
    }

    public function testSetsOfTwoFourAndSixStages(): void
    {
        $names = static fn (array $set): array => array_map(static fn (Stage $s) => $s->value, $set);
        $this->assertSame(['off', 'complete'], $names(Stage::set(2)));
        $this->assertSame(['off', 'shadow', 'live', 'complete'], $names(Stage::set(4)));
        $this->assertSame(['off', 'dualwrite', 'shadow', 'live', 'rampdown', 'complete'], $names(Stage::set(6)));
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('a migration has 2, 4 or 6 stages, not 3');
        Stage::set(3);
    }

    public function testTheStageIsTheVariantAndNoStageIsOff(): void
    {
        $ev = static fn (?string $variant, string $reason = 'ROLLOUT_IN') => new Evaluation(true, $variant, $reason, 10);
        $this->assertSame(Stage::Live, Stage::fromEvaluation($ev('live')));
        $this->assertSame(Stage::RampDown, Stage::fromEvaluation($ev('rampdown')));
        // Not found, an invalid context, not a migration flag: the old system.
        $this->assertSame(Stage::Off, Stage::fromEvaluation(new Evaluation(false, null, 'FLAG_NOT_FOUND', null)));
        $this->assertSame(Stage::Off, Stage::fromEvaluation(new Evaluation(false, null, 'INVALID_CONTEXT', null)));
        $this->assertSame(Stage::Off, Stage::fromEvaluation($ev('treatment')));
        $this->assertSame(Stage::Off, Stage::fromEvaluation($ev('Shadow')));
        $this->assertSame(Side::New, Side::Old->other());
        $this->assertSame(Side::Old, Side::New->other());
    }
}
