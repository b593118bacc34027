<?php

declare(strict_types=1);

namespace Flags\Laravel\Tests\Feature;

use App\Models\User;
use Flags\Laravel\Contracts\Features;
use Flags\Laravel\Facades\Flags;
use Flags\Laravel\Tests\TestCase;
use Illuminate\Support\Carbon;

/**
 * Every case of the shared golden vectors (tests/vectors/*.json), asked
 * through the facade, through the injected contract and as the logged-in
 * user: the expected enabled, variant, reason and bucket come from the
 * vectors. Time is moved to each case's time the Laravel way (travelTo);
 * flags without a ramp, whose answer does not depend on the time, are also
 * asked at the real time.
 */
final class GoldenVectorsTest extends TestCase
{
    /** @return iterable<string, array{string}> */
    public static function files(): iterable
    {
        $files = glob(self::vectorsDir() . '/*.json') ?: [];
        sort($files);
        foreach ($files as $file) {
            if (basename($file) !== 'invalid-files.json') {
                yield basename($file) => [$file];
            }
        }
    }

    public function testTheVectorsAreThere(): void
    {
        $cases = 0;
        foreach (self::files() as [$file]) {
            $cases += \count(json_decode((string) file_get_contents($file))->cases);
        }
        $this->assertGreaterThan(1000, $cases, 'expected the shared golden vectors in ' . self::vectorsDir());
    }

    /** @dataProvider files */
    public function testEveryCase(string $file): void
    {
        // Decoded as objects so that {} stays {} when encoded again.
        $vectors = json_decode((string) file_get_contents($file), false, 512, JSON_THROW_ON_ERROR);
        $this->useFlagFile(json_encode($vectors->file, JSON_THROW_ON_ERROR | JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION));
        $ramps = [];
        foreach ((array) ($vectors->file->flags ?? []) as $key => $flag) {
            if (isset($flag->ramp)) {
                $ramps[$key] = true;
            }
        }
        $injected = $this->app->make(Features::class);
        $failures = [];
        $asUser = 0;
        $realTime = 0;
        foreach ($vectors->cases as $i => $case) {
            $context = json_decode(json_encode($case->context, JSON_THROW_ON_ERROR), true, 512, JSON_THROW_ON_ERROR);
            $expected = (array) $case->expected;
            $name = basename($file) . " #$i {$case->name}";
            $ways = [];
            Carbon::setTestNow(Carbon::parse($case->now));
            $ways['facade for(array)'] = static fn () => Flags::for($context);
            $ways['injected for(array)'] = static fn () => $injected->for($context);
            $id = $context['user_id'] ?? null;
            if (\is_string($id) || \is_int($id)) {
                // The current user's context: user_id from the auth
                // identifier, the rest from HasFlagsContext.
                $rest = $context;
                unset($rest['user_id']);
                $this->actingAs(new User($id, $rest));
                $ways['facade, logged-in user'] = static fn () => Flags::getFacadeRoot();
                $asUser++;
            }
            foreach ($ways as $way => $features) {
                $this->check($features(), $case->flag, $expected, "$name ($way, at the case's time)", $failures);
            }
            Carbon::setTestNow();
            if (!isset($ramps[$case->flag])) {
                $realTime++;
                foreach ($ways as $way => $features) {
                    $this->check($features(), $case->flag, $expected, "$name ($way, real time)", $failures);
                }
            }
            $this->app['auth']->forgetGuards();
        }
        $this->assertSame([], $failures, \count($failures) . ' mismatches');
        $this->assertGreaterThan(0, \count($vectors->cases));
        $this->addToAssertionCount(\count($vectors->cases) + $asUser + $realTime);
    }

    /**
     * @param array{enabled: bool, variant: ?string, reason: string, bucket: ?int} $expected
     * @param list<string> $failures
     */
    private function check(Features $features, string $flag, array $expected, string $name, array &$failures): void
    {
        $got = $features->evaluate($flag)->toArray();
        if ($got !== $expected) {
            $failures[] = "$name: expected " . json_encode($expected) . ', got ' . json_encode($got);
        }
        if ($features->active($flag) !== $expected['enabled'] || $features->variant($flag) !== $expected['variant']) {
            $failures[] = "$name: active()/variant() disagree with " . json_encode($expected);
        }
        if (\in_array($flag, $features->enabled(), true) !== $expected['enabled']) {
            $failures[] = "$name: enabled() disagrees with " . json_encode($expected);
        }
    }
}
