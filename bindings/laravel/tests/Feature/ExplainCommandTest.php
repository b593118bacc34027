<?php

declare(strict_types=1);

namespace Flags\Laravel\Tests\Feature;

use Flags\Laravel\Tests\TestCase;

/** `php artisan flags:explain FLAG --user=ID [--attr k=v]`. */
final class ExplainCommandTest extends TestCase
{
    public function testOnOrOffTheReasonAndTheBucketOfAVectorCase(): void
    {
        // Cases of the shared golden vectors decided by the rollout, for a
        // context of user_id alone: the expected answer comes from the vectors.
        $vectors = json_decode((string) file_get_contents(self::vectorsDir() . '/rollout.json'), false, 512, JSON_THROW_ON_ERROR);
        $this->useFlagFile(json_encode($vectors->file, JSON_THROW_ON_ERROR | JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION));
        $checked = ['ROLLOUT_IN' => 0, 'ROLLOUT_OUT' => 0];
        foreach ($vectors->cases as $case) {
            $context = (array) $case->context;
            $reason = $case->expected->reason;
            if (array_keys($context) !== ['user_id'] || !\is_string($context['user_id']) || !isset($checked[$reason])
                || $checked[$reason] >= 3 || isset($vectors->file->flags->{$case->flag}->ramp)) {
                continue;
            }
            $checked[$reason]++;
            [$status, $output] = $this->runArtisan('flags:explain', ['flag' => $case->flag, '--user' => $context['user_id']]);
            $this->assertSame(0, $status, $output);
            $state = $case->expected->enabled ? 'ON' : 'OFF';
            $this->assertStringContainsString("{$case->flag} is $state for user_id=" . json_encode($context['user_id'], JSON_UNESCAPED_UNICODE), $output);
            $this->assertStringContainsString("reason:  $reason: the bucket is", $output);
            $this->assertStringContainsString("bucket:  {$case->expected->bucket} of 0..9999", $output);
        }
        $this->assertSame(['ROLLOUT_IN' => 3, 'ROLLOUT_OUT' => 3], $checked);
    }

    public function testTheUserIsLookedUpForItsAttributesAndAttrsAreAdded(): void
    {
        $this->useFlagFile([
            'for_acme' => ['pilots' => ['tenant_id' => ['acme']]],
            'new_app' => ['requires' => [['attribute' => 'app_version', 'op' => 'semver_gte', 'value' => '3.2.0']], 'percentage' => 100],
        ]);
        [$status, $output] = $this->runArtisan('flags:explain', ['flag' => 'for_acme', '--user' => '1']);
        $this->assertSame(0, $status);
        $this->assertStringContainsString('for_acme is ON for user_id="1" tenant_id="acme" plan="pro"', $output);
        $this->assertStringContainsString('reason:  PILOT: a pilot', $output);
        $this->assertStringContainsString('bucket:  - (the rollout did not decide)', $output);

        [, $output] = $this->runArtisan('flags:explain', ['flag' => 'new_app', '--user' => '1', '--attr' => ['app_version=3.1.0']]);
        $this->assertStringContainsString('new_app is OFF for user_id="1" tenant_id="acme" plan="pro" app_version="3.1.0"', $output);
        $this->assertStringContainsString('reason:  REQUIREMENT_UNMET', $output);

        [, $output] = $this->runArtisan('flags:explain', ['flag' => 'for_acme', '--user' => '999']);
        $this->assertStringContainsString('no user 999 found by the auth provider; explaining with user_id alone', $output);
        $this->assertStringContainsString('for_acme is OFF for user_id="999"', $output);
    }

    public function testJsonUnknownFlagsAndBadInput(): void
    {
        $path = $this->useFlagFile(['checkout' => ['killed' => true, 'percentage' => 100]]);
        [$status, $output] = $this->runArtisan('flags:explain', ['flag' => 'checkout', '--attr' => ['user_id=5'], '--json' => true]);
        $this->assertSame(0, $status);
        $this->assertSame(
            ['flag' => 'checkout', 'context' => ['user_id' => '5'], 'enabled' => false, 'variant' => null, 'reason' => 'KILLED', 'bucket' => null,
                'why' => 'the flag\'s kill switch is on (php artisan flags:unkill lifts it)'],
            json_decode($output, true),
        );
        [, $output] = $this->runArtisan('flags:explain', ['flag' => 'chekout', '--user' => '5']);
        $this->assertStringContainsString("reason:  FLAG_NOT_FOUND: there is no flag of that name in $path", $output);
        [$status, $output] = $this->runArtisan('flags:explain', ['flag' => 'checkout', '--attr' => ['tenant']]);
        $this->assertSame(2, $status);
        $this->assertStringContainsString('--attr: expected KEY=VALUE (e.g. tenant_id=acme), found "tenant"', $output);
        [$status, $output] = $this->runArtisan('flags:explain', ['flag' => 'checkout', '--now' => 'yesterday']);
        $this->assertSame(2, $status);
        $this->assertStringContainsString('--now: expected an RFC 3339 time with an offset, such as 2026-11-21T12:00:00Z, found "yesterday"', $output);
    }

    public function testAtAGivenTime(): void
    {
        $this->useFlagFile(['ramped' => ['ramp' => [['at' => '2026-11-21T00:00:00Z', 'percentage' => 0], ['at' => '2026-11-22T00:00:00Z', 'percentage' => 100]]]]);
        [, $before] = $this->runArtisan('flags:explain', ['flag' => 'ramped', '--user' => '5', '--now' => '2026-11-20T00:00:00Z']);
        [, $after] = $this->runArtisan('flags:explain', ['flag' => 'ramped', '--user' => '5', '--now' => '2026-11-23T00:00:00Z']);
        $this->assertStringContainsString('ramped is OFF', $before);
        $this->assertStringContainsString('ramped is ON', $after);
    }
}
