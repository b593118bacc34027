<?php

declare(strict_types=1);

namespace Flags\Laravel\Tests\Feature;

use Flags\Laravel\Tests\TestCase;
use Flags\Tests\PhpServer;

/** `php artisan flags:status`: the table, --json, --now, --prometheus. */
final class StatusCommandTest extends TestCase
{
    private string $path;

    /** The fake Prometheus (bindings/php/tests/fixtures/fake-prometheus.php under php -S). */
    private ?PhpServer $prometheus = null;

    protected function tearDown(): void
    {
        $this->prometheus?->stop();
        $this->prometheus = null;
        parent::tearDown();
    }

    /** Starts a fake Prometheus answering $values (query => value text); its URL. */
    private function startPrometheus(array $values): string
    {
        $this->prometheus = new PhpServer(
            \dirname(__DIR__, 3) . '/php/tests/fixtures/fake-prometheus.php',
            ['FAKE_PROMETHEUS_VALUES' => json_encode($values)],
            '/api/v1/query?query=up',
        );
        return $this->prometheus->url;
    }

    /** A flag file with two guarded flags and one without. */
    private function useGuardedFile(): void
    {
        $this->path = $this->useFlagFile([
            'checkout' => [
                'percentage' => 100,
                'guard' => ['query' => 'checkout_error_ratio', 'above' => 0.05, 'for' => '2m', 'action' => 'kill'],
            ],
            'search' => [
                'percentage' => 50,
                'guard' => ['query' => 'search_success_ratio', 'below' => 0.99, 'for' => '1m', 'action' => 'pause'],
            ],
            'plain' => ['percentage' => 10],
        ]);
    }

    public function testPrometheusShowsEachGuardAgainstItsThresholdAndWhatToDo(): void
    {
        $this->useGuardedFile();
        $url = $this->startPrometheus(['checkout_error_ratio' => '0.09', 'search_success_ratio' => '0.995']);
        [$status, $output] = $this->runArtisan('flags:status', ['--prometheus' => $url]);
        $this->assertSame(0, $status, $output);
        // The flags table is still there.
        $this->assertMatchesRegularExpression('/\| plain +\| partial +\| 10% +\|/', $output);
        $this->assertMatchesRegularExpression('/\| Guard +\| Value +\| Threshold +\| For +\| Action +\| Status +\|/', $output);
        $this->assertMatchesRegularExpression('/\| checkout +\| 0\.09 +\| above 0\.05 +\| 2m +\| kill +\| CROSSED +\|/', $output);
        $this->assertMatchesRegularExpression('/\| search +\| 0\.995 +\| below 0\.99 +\| 1m +\| pause +\| ok +\|/', $output);
        $this->assertStringContainsString(
            "GUARD CROSSED on checkout: 0.09 above 0.05 -- a running `flags guard` kills it once it has held for 2m; "
                . "or run `flags kill {$this->path} checkout` now",
            $output,
        );
        // --json is the document of `flags status --prometheus --json`.
        [, $json] = $this->runArtisan('flags:status', ['--prometheus' => $url, '--json' => true]);
        $doc = json_decode($json, true, 64, JSON_THROW_ON_ERROR);
        $this->assertSame(0.09, $doc['flags'][0]['guard']['now']['value']);
        $this->assertStringStartsWith('GUARD CROSSED on checkout', $doc['recommendation']);
    }

    public function testPrometheusFromTheConfigAndNoDataSaidAsSuch(): void
    {
        $this->useGuardedFile();
        // checkout answers; search's metric is not scraped yet (no series).
        config(['flags.prometheus' => $this->startPrometheus(['checkout_error_ratio' => '0.01'])]);
        [$status, $output] = $this->runArtisan('flags:status');
        $this->assertSame(0, $status, $output);
        $this->assertMatchesRegularExpression('/\| checkout +\| 0\.01 +\| above 0\.05 +\| 2m +\| kill +\| ok +\|/', $output);
        $this->assertMatchesRegularExpression('/\| search +\| - +\| below 0\.99 +\| 1m +\| pause +\| NO DATA: the query answered no series/', $output);
        $this->assertStringContainsString('NO DATA for the guard of search: it cannot act; check the query and Prometheus', $output);
        // Without one, no guard table.
        config(['flags.prometheus' => null]);
        [, $output] = $this->runArtisan('flags:status');
        $this->assertStringNotContainsString('Threshold', $output);
    }

    public function testPrometheusBadInput(): void
    {
        $this->useGuardedFile();
        [$status, $output] = $this->runArtisan('flags:status', ['--prometheus' => 'localhost:9090']);
        $this->assertSame(1, $status);
        $this->assertStringContainsString('localhost:9090: expected an http:// or https:// URL', $output);
        [$status, $output] = $this->runArtisan('flags:status', ['--prometheus' => 'http://127.0.0.1:9', '--now' => '2026-11-21T12:00:00Z']);
        $this->assertSame(2, $status);
        $this->assertStringContainsString('--now cannot be used with --prometheus', $output);
    }

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

    public function testAMigrationFlagShowsItsStageMix(): void
    {
        $this->path = $this->useFlagFile([
            'orders_reads' => [
                'migration' => ['stages' => 6, 'stage' => 'dualwrite', 'next' => 'shadow', 'pilot_stage' => 'live'],
                'ramp' => [['at' => '2026-11-21T00:00:00Z', 'percentage' => 10], ['at' => '2026-11-22T00:00:00Z', 'percentage' => 100]],
            ],
            'orders_writes' => [
                'migration' => ['stages' => 4, 'stage' => 'shadow', 'next' => 'live', 'safe' => 'shadow'],
                'killed' => true,
                'percentage' => 50,
            ],
        ], ['pilots' => ['user_id' => ['42']]]);
        [$status, $output] = $this->runArtisan('flags:status', ['--now' => '2026-11-21T12:00:00Z']);
        $this->assertSame(0, $status, $output);
        // Half way through the ramp: 10% + 90% / 2 = 55% at shadow; the file's pilot at live.
        $this->assertMatchesRegularExpression('/\| orders_reads +\| ramping +\| 55% -> 100% at 2026-11-22T00:00:00Z +\| - +\| - +\| dualwrite 45% \/ shadow 55% \/ live: pilots +\|/', $output);
        // Killed: everyone at its safe stage, pilots too.
        $this->assertMatchesRegularExpression('/\| orders_writes +\| killed +\| 50% +\| - +\| - +\| shadow 100% +\|/', $output);
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
