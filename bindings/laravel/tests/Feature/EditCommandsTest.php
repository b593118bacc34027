<?php

declare(strict_types=1);

namespace Flags\Laravel\Tests\Feature;

use Flags\Laravel\Tests\TestCase;

/**
 * The artisan edit commands against a real flag file: the file and its
 * audit log checked afterwards. The edits are the library's (Flags\FlagFile),
 * the same code as the `flags` commands.
 */
final class EditCommandsTest extends TestCase
{
    private string $path;

    protected function setUp(): void
    {
        parent::setUp();
        $this->path = $this->useFlagFile([
            'checkout' => ['owner' => 'payments', 'pilots' => ['user_id' => ['1']], 'percentage' => 10],
            'search' => ['percentage' => 100],
        ]);
    }

    /** @return array<string, mixed> the flag file as it is on disk */
    private function file(): array
    {
        return json_decode((string) file_get_contents($this->path), true, 512, JSON_THROW_ON_ERROR);
    }

    /** @return list<array<string, mixed>> the audit records */
    private function audit(): array
    {
        $log = $this->path . '.audit.jsonl';
        if (!is_file($log)) {
            return [];
        }
        return array_map(
            static fn (string $line): array => json_decode($line, true, 512, JSON_THROW_ON_ERROR),
            array_values(array_filter(explode("\n", (string) file_get_contents($log)))),
        );
    }

    /** @param array<string, mixed> $parameters @return string the output, after checking the exit status */
    private function ok(string $command, array $parameters = []): string
    {
        [$status, $output] = $this->runArtisan($command, $parameters + ['--actor' => 'oncall']);
        $this->assertSame(0, $status, $output);
        return $output;
    }

    public function testKillAndUnkill(): void
    {
        $output = $this->ok('flags:kill', ['flag' => 'checkout']);
        $this->assertTrue($this->file()['flags']['checkout']['killed']);
        $this->assertSame(10, $this->file()['flags']['checkout']['percentage'], 'the rollout is kept');
        [$record] = $this->audit();
        $this->assertSame('oncall', $record['actor']);
        $this->assertSame("php artisan flags:kill checkout --actor=oncall", $record['command']);
        $this->assertSame(realpath($this->path), $record['file']);
        $this->assertStringContainsString('checkout', $record['summary']);
        $this->assertStringContainsString("{$this->path}: {$record['summary']}", $output);
        $this->assertStringContainsString("recorded in {$this->path}.audit.jsonl", $output);
        $this->assertFalse($this->app->make(\Flags\Laravel\Contracts\Features::class)->for(['user_id' => '1'])->active('checkout'), 'the pilot is off too');

        $this->ok('flags:unkill', ['flag' => 'checkout']);
        $this->assertFalse($this->file()['flags']['checkout']['killed'] ?? false);
        $this->assertCount(2, $this->audit());
        $this->assertSame($this->audit()[0]['after'], $this->audit()[1]['before'], 'the records chain');
    }

    public function testToggleOffIsTheKillSwitch(): void
    {
        $this->ok('flags:toggle', ['flag' => 'checkout', '--off' => true]);
        $flag = $this->file()['flags']['checkout'];
        $this->assertTrue($flag['killed']);
        $this->assertSame(10, $flag['percentage']);
        $this->assertSame(['1'], $flag['pilots']['user_id']);
    }

    public function testToggleOnLiftsTheKillSwitchAndSets100PercentInOneEdit(): void
    {
        $this->ok('flags:kill', ['flag' => 'checkout']);
        $this->ok('flags:toggle', ['flag' => 'checkout', '--on' => true]);
        $flag = $this->file()['flags']['checkout'];
        $this->assertFalse($flag['killed'] ?? false);
        $this->assertSame(100, $flag['percentage']);
        $this->assertCount(2, $this->audit(), 'one record for the kill, ONE for the toggle');
        $this->assertSame('php artisan flags:toggle checkout --on --actor=oncall', $this->audit()[1]['command']);
    }

    public function testToggleNeedsExactlyOneOfOnAndOff(): void
    {
        foreach ([[], ['--on' => true, '--off' => true]] as $options) {
            [$status, $output] = $this->runArtisan('flags:toggle', ['flag' => 'checkout'] + $options);
            $this->assertSame(2, $status);
            $this->assertStringContainsString('flags:toggle needs exactly one of --on', $output);
        }
        $this->assertSame([], $this->audit());
    }

    public function testSetAPercentageOrARamp(): void
    {
        $this->ok('flags:set', ['flag' => 'checkout', '--percentage' => '12.5']);
        $this->assertSame(12.5, $this->file()['flags']['checkout']['percentage']);
        $this->ok('flags:set', ['flag' => 'checkout', '--ramp' => '10@2026-11-21T00:00:00Z,100@2026-11-22T00:00:00Z']);
        $flag = $this->file()['flags']['checkout'];
        $this->assertArrayNotHasKey('percentage', $flag);
        $this->assertSame([['at' => '2026-11-21T00:00:00Z', 'percentage' => 10], ['at' => '2026-11-22T00:00:00Z', 'percentage' => 100]], $flag['ramp']);
        $this->assertCount(2, $this->audit());
    }

    public function testSetRefusesBadValuesAndWritesNothing(): void
    {
        $before = file_get_contents($this->path);
        [$status, $output] = $this->runArtisan('flags:set', ['flag' => 'checkout', '--percentage' => '101']);
        $this->assertSame(1, $status);
        $this->assertStringContainsString('--percentage: invalid percentage "101": expected a number from 0 to 100', $output);
        $this->assertStringNotContainsString('ops[0]', $output);
        [$status, $output] = $this->runArtisan('flags:set', ['flag' => 'checkout', '--ramp' => '10@2026-11-21T00:00:00Z,100@tomorrow']);
        $this->assertSame(1, $status);
        $this->assertStringContainsString('--ramp: point 2: invalid time `tomorrow`', $output);
        [$status, $output] = $this->runArtisan('flags:set', ['flag' => 'checkout', '--ramp' => '10 at noon']);
        $this->assertSame(2, $status);
        $this->assertStringContainsString('--ramp: point 1 is "10 at noon"; expected PERCENT@TIME', $output);
        [$status] = $this->runArtisan('flags:set', ['flag' => 'checkout']);
        $this->assertSame(2, $status);
        [$status, $output] = $this->runArtisan('flags:set', ['flag' => 'chekout', '--percentage' => '5']);
        $this->assertSame(1, $status);
        $this->assertStringContainsString('no flag named "chekout"; did you mean "checkout"?', $output);
        $this->assertSame($before, file_get_contents($this->path));
        $this->assertSame([], $this->audit());
    }

    public function testPilotsAddAndRemoveInOneEdit(): void
    {
        $this->ok('flags:pilots', ['flag' => 'checkout', '--add' => ['7', '8,9'], '--remove' => ['1']]);
        $this->assertSame(['7', '8', '9'], $this->file()['flags']['checkout']['pilots']['user_id']);
        $this->assertCount(1, $this->audit());
        $this->ok('flags:pilots', ['--global' => true, '--add' => ['42'], '--attribute' => 'tenant_id']);
        $this->assertSame(['42'], $this->file()['pilots']['tenant_id']);
        [$status, $output] = $this->runArtisan('flags:pilots', ['flag' => 'checkout', '--global' => true, '--add' => ['1']]);
        $this->assertSame(2, $status);
        $this->assertStringContainsString('flags:pilots needs a flag, or --global', $output);
        [$status] = $this->runArtisan('flags:pilots', ['flag' => 'checkout']);
        $this->assertSame(2, $status);
    }

    public function testKillAllAndUnkillAll(): void
    {
        $this->ok('flags:kill-all');
        $this->assertTrue($this->file()['kill_all']);
        $this->assertFalse($this->app->make(\Flags\Laravel\Contracts\Features::class)->for(['user_id' => '1'])->active('search'));
        $this->ok('flags:unkill-all');
        $this->assertFalse($this->file()['kill_all']);
        $this->assertCount(2, $this->audit());
    }

    public function testDryRunPrintsTheChangeAndWritesNothing(): void
    {
        $before = file_get_contents($this->path);
        $output = $this->ok('flags:set', ['flag' => 'checkout', '--percentage' => '25', '--dry-run' => true]);
        $this->assertStringContainsString('checkout', $output);
        $this->assertStringContainsString('25%', $output);
        $this->assertStringContainsString("dry run: nothing was written to {$this->path}", $output);
        $this->assertSame($before, file_get_contents($this->path));
        $this->assertSame([], $this->audit());
    }

    public function testNothingToChangeWritesNothing(): void
    {
        $output = $this->ok('flags:set', ['flag' => 'search', '--percentage' => '100']);
        $this->assertStringContainsString('no changes; nothing was written', $output);
        $this->assertSame([], $this->audit());
    }

    public function testProductionAsksForConfirmation(): void
    {
        $this->app['env'] = 'production';
        $this->artisan('flags:kill', ['flag' => 'checkout'])
            ->expectsConfirmation('Do you really wish to run this command?', 'no')
            ->assertExitCode(1);
        $this->assertArrayNotHasKey('killed', $this->file()['flags']['checkout']);
        $this->artisan('flags:kill', ['flag' => 'checkout'])
            ->expectsConfirmation('Do you really wish to run this command?', 'yes')
            ->assertExitCode(0);
        $this->assertTrue($this->file()['flags']['checkout']['killed']);
        $this->artisan('flags:unkill', ['flag' => 'checkout', '--force' => true])->assertExitCode(0);
        $this->assertFalse($this->file()['flags']['checkout']['killed'] ?? false);
        $this->artisan('flags:kill', ['flag' => 'checkout', '--dry-run' => true])->assertExitCode(0);
    }

    public function testAServerSourceIsRefusedUnlessAFileIsGiven(): void
    {
        config(['flags.server.url' => 'http://127.0.0.1:9']);
        [$status, $output] = $this->runArtisan('flags:kill', ['flag' => 'checkout']);
        $this->assertSame(1, $status);
        $this->assertStringContainsString('flags:kill edits a flag file, but this application reads its flags from the flags server http://127.0.0.1:9', $output);
        $this->ok('flags:kill', ['flag' => 'checkout', '--file' => $this->path]);
        $this->assertTrue($this->file()['flags']['checkout']['killed']);
    }

    /** The runbook way: `php artisan ...` in a shell; the actor is who runs it. */
    public function testRunFromAShellTheActorIsTheLoginName(): void
    {
        $command = [PHP_BINARY, self::appDir() . '/artisan', 'flags:kill', 'checkout', '--file=' . $this->path];
        $process = proc_open($command, [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, self::appDir(), ['SUDO_USER' => ''] + getenv());
        $this->assertIsResource($process);
        $output = stream_get_contents($pipes[1]) . stream_get_contents($pipes[2]);
        $this->assertSame(0, proc_close($process), $output);
        [$record] = $this->audit();
        $this->assertSame(posix_getpwuid(posix_geteuid())['name'], $record['actor']);
        $this->assertSame("php artisan flags:kill checkout --file={$this->path}", $record['command']);
    }
}
