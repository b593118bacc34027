<?php

declare(strict_types=1);

namespace Flags\Tests;

use Flags\Flags;

/**
 * `clone` of an object holding native memory must never give a wrong answer
 * or a crash. Flags (every kind of source) and the native context refuse
 * to be cloned; Scoped may be, as its native context is a PHP object that
 * the copy shares by reference count.
 *
 * Each scenario runs in a child php process: a use after free or a double
 * free then fails the test with the child's exit status and output instead
 * of killing PHPUnit.
 */
final class CloneTest extends TestCase
{
    private const ON = '{"version": 1, "flags": {"on": {"percentage": 100}}}';
    /** Another source, for the memory of a freed one to be reused by. */
    private const KILL_ALL = '{"version": 1, "kill_all": true, "flags": {"other": {"percentage": 100}}}';
    private const PILOT = '{"version": 1, "flags": {"pilot": {"pilots": {"user_id": ["42"]}, "percentage": 0}}}';

    /** @return array<string, array{string}> PHP code that sets $flags, for each kind of source */
    public static function sources(): array
    {
        return [
            'fromJson' => ['$flags = Flags\Flags::fromJson(ON);'],
            'open' => ['file_put_contents(DIR . "/flags.json", ON); $flags = Flags\Flags::open(DIR . "/flags.json");'],
            'remote, started from its cache' => [
                'file_put_contents(DIR . "/cache.json", ON);'
                . '$flags = Flags\Flags::remote("http://127.0.0.1:9/", '
                . '["cache_path" => DIR . "/cache.json", "timeout_ms" => 500, "refresh_interval_ms" => 60000]);',
            ],
        ];
    }

    /** @dataProvider sources */
    public function testFlagsCannotBeCloned(string $open): void
    {
        $out = $this->runPhp($open . '
            try {
                $copy = clone $flags;
                echo "cloned\n";
            } catch (LogicException $e) {
                echo $e->getMessage(), "\n";
            }
            echo $flags->evaluate("on", ["user_id" => 1])->reason, "\n";
            unset($flags);
            Flags\Flags::clearCache();
            gc_collect_cycles();
            $other = Flags\Flags::fromJson(KILL_ALL);
            if (isset($copy)) {
                echo "the copy answers ", $copy->evaluate("on", ["user_id" => 1])->reason, "\n";
            }
            unset($copy, $other);
            gc_collect_cycles();
            echo "done\n";');
        $this->assertSame(
            'A Flags\Flags object cannot be cloned: it holds a native flag source, released with the object. '
            . "Share the object itself (it is safe to share), or open the source again.\nROLLOUT_IN\ndone\n",
            $out,
        );
    }

    public function testTheNativeContextCannotBeCloned(): void
    {
        $out = $this->runPhp('
            $flags = Flags\Flags::fromJson(PILOT);
            $ffi = Flags\Internal\Native::ffi();
            $context = Flags\Internal\Context::fromArray($ffi, ["user_id" => 42]);
            try {
                $copy = clone $context;
                echo "cloned\n";
            } catch (LogicException $e) {
                echo $e->getMessage(), "\n";
            }
            unset($copy);
            gc_collect_cycles();
            $other = Flags\Internal\Context::fromArray($ffi, ["user_id" => 7]);
            echo (new Flags\Scoped($flags, $context))->evaluate("pilot")->reason, "\n";
            unset($context, $other);
            gc_collect_cycles();
            echo "done\n";');
        $this->assertSame(
            'A Flags\Internal\Context object cannot be cloned: it holds a native context, released with the object. '
            . "Share the object itself, or build another one.\nPILOT\ndone\n",
            $out,
        );
    }

    public function testAClonedScopedKeepsItsContext(): void
    {
        $out = $this->runPhp('
            $flags = Flags\Flags::fromJson(PILOT);
            $me = $flags->for(["user_id" => 42]);
            $copy = clone $me;
            unset($me);
            gc_collect_cycles();
            $other = $flags->for(["user_id" => 7]);
            echo $copy->evaluate("pilot")->reason, " ", $other->evaluate("pilot")->reason, "\n";
            unset($copy, $other, $flags);
            gc_collect_cycles();
            echo "done\n";');
        $this->assertSame("PILOT ROLLOUT_OUT\ndone\n", $out);
    }

    /** An Evaluation is a plain value: its copy is equal and holds nothing native. */
    public function testAClonedEvaluationIsEqual(): void
    {
        $evaluation = Flags::fromJson(self::PILOT)->evaluate('pilot', ['user_id' => 42]);
        $copy = clone $evaluation;
        unset($evaluation);
        $this->assertSame(['enabled' => true, 'variant' => null, 'reason' => 'PILOT', 'bucket' => null], $copy->toArray());
    }

    /**
     * Runs $code in a child php process (the package loaded; the constants
     * ON, KILL_ALL, PILOT and DIR, a fresh directory, defined) and gives
     * its standard output, after checking that it exited with status 0.
     * A child still running after 60 s is killed and fails the test.
     */
    /** Runs $code in a child php process with this test's constants and DIR defined. */
    private function runPhp(string $code): string
    {
        return $this->runChildPhp($code, ['ON' => self::ON, 'KILL_ALL' => self::KILL_ALL, 'PILOT' => self::PILOT]);
    }
}
