<?php

declare(strict_types=1);

namespace Flags\Laravel\Tests\Feature;

use Flags\Laravel\Tests\TestCase;

/** `php artisan flags:status`: the table, --json, --now. */
final class StatusCommandTest extends TestCase
{
    private string $path;

    protected function setUp(): void
    {
        parent::setUp();
        $this->path = $this->useFlagFile([
            'checkout' => [
                'owner' => 'payments',
                'pilots' => ['user_id' => ['1', '2'], 'tenant_id' => ['acme']],
                'requires' => [['attribute' => 'app_version', 'op' => 'semver_gte', 'value' => '3.2.0']],
                'ramp' => [['at' => '2026-11-21T00:00:00Z', 'percentage' => 10], ['at' => '2026-11-22T00:00:00Z', 'percentage' => 100]],
                'variants' => [['name' => 'control', 'weight' => 50], ['name' => 'treatment', 'weight' => 50]],
            ],
            'search' => ['killed' => true, 'percentage' => 12.5],
        ], ['pilots' => ['user_id' => ['42']]]);
    }

    public function testTheTable(): void
    {
        [$status, $output] = $this->runArtisan('flags:status', ['--now' => '2026-11-21T12:00:00Z']);
        $this->assertSame(0, $status, $output);
        $this->assertStringContainsString("{$this->path}: 2 flags, content hash ", $output);
        $this->assertStringContainsString('global pilots (every flag): user_id 1', $output);
        $this->assertMatchesRegularExpression('/\| checkout +\| ramping +\| 55% -> 100% at 2026-11-22T00:00:00Z +\| user_id 2, tenant_id 1 +\| app_version >= 3\.2\.0 +\| control 50 \/ treatment 50 +\| payments +\|/', $output);
        $this->assertMatchesRegularExpression('/\| search +\| killed +\| 12\.5% +\| - +\| - +\| - +\| - +\|/', $output);
    }

    public function testKillAllIsShoutedOut(): void
    {
        $this->runArtisan('flags:kill-all', ['--actor' => 'oncall']);
        [, $output] = $this->runArtisan('flags:status');
        $this->assertStringContainsString('KILL_ALL is ON: every flag is off for everyone', $output);
    }

    public function testJson(): void
    {
        [$status, $output] = $this->runArtisan('flags:status', ['--json' => true, '--now' => '2026-11-21T12:00:00Z']);
        $this->assertSame(0, $status, $output);
        $status = json_decode($output, true, 512, JSON_THROW_ON_ERROR);
        $this->assertSame(['checkout', 'search'], array_column($status['flags'], 'key'));
        $this->assertSame(5500, $status['flags'][0]['basis_points_now']);
        $this->assertSame('killed', $status['flags'][1]['state']);
        $this->assertSame(['user_id' => 1], $status['pilots']);
    }

    public function testBadInput(): void
    {
        [$status, $output] = $this->runArtisan('flags:status', ['--now' => 'tomorrow']);
        $this->assertSame(2, $status);
        $this->assertStringContainsString('--now: expected an RFC 3339 time', $output);
    }

    public function testAServerSourceNeedsAFile(): void
    {
        config(['flags.server.url' => 'http://127.0.0.1:9']);
        [$status, $output] = $this->runArtisan('flags:status');
        $this->assertSame(1, $status);
        $this->assertStringContainsString('flags:status reads a flag file, but this application reads its flags from the flags server http://127.0.0.1:9; pass --file=PATH', $output);
        [$status] = $this->runArtisan('flags:status', ['--file' => $this->path]);
        $this->assertSame(0, $status);
    }
}
