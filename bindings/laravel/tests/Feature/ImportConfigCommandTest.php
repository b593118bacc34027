<?php

declare(strict_types=1);

namespace Flags\Laravel\Tests\Feature;

use Flags\Laravel\Import\ConfigImporter;
use Flags\Laravel\Tests\TestCase;

/** `php artisan flags:import-config`: the sample config/features.php written as a flag file, through the edit path. */
final class ImportConfigCommandTest extends TestCase
{
    public function testWritesTheFileAuditsItAndWarnsAboutBucketing(): void
    {
        $path = self::tempDir() . '/flags.json';
        config(['flags.file' => $path]);
        [$status, $output] = $this->runArtisan('flags:import-config', ['--actor' => 'oncall']);
        $this->assertSame(0, $status, $output);
        $this->assertSame(json_decode(ConfigImporter::toFlagFile(config('features')), true), json_decode((string) file_get_contents($path), true));
        $this->assertStringContainsString('WHICH users are in a 10% rollout changes', str_replace("\n", ' ', $output));
        $this->assertStringContainsString('Pilots stay exactly the same', $output);
        $records = array_values(array_filter(explode("\n", (string) file_get_contents("$path.audit.jsonl"))));
        $this->assertCount(1, $records);
        $record = json_decode($records[0], true);
        $this->assertSame('oncall', $record['actor']);
        $this->assertSame('php artisan flags:import-config --actor=oncall', $record['command']);
    }

    public function testRefusesToOverwriteUnlessForced(): void
    {
        $path = $this->useFlagFile(['old' => ['percentage' => 5]]);
        $before = file_get_contents($path);
        [$status, $output] = $this->runArtisan('flags:import-config');
        $this->assertSame(1, $status);
        $this->assertStringContainsString("$path already exists; pass --force to replace it", $output);
        $this->assertSame($before, file_get_contents($path));
        [$status, $output] = $this->runArtisan('flags:import-config', ['--force' => true, '--actor' => 'oncall']);
        $this->assertSame(0, $status, $output);
        $this->assertArrayHasKey('community_dual_write', json_decode((string) file_get_contents($path), true)['flags']);
        $this->assertArrayNotHasKey('old', json_decode((string) file_get_contents($path), true)['flags']);
    }

    public function testDryRunShowsTheFileAndWritesNothing(): void
    {
        $path = self::tempDir() . '/flags.json';
        config(['flags.file' => $path]);
        [$status, $output] = $this->runArtisan('flags:import-config', ['--dry-run' => true]);
        $this->assertSame(0, $status, $output);
        $this->assertStringContainsString('"community_dual_write"', $output);
        $this->assertStringContainsString("dry run: nothing was written to $path", $output);
        $this->assertFileDoesNotExist($path);
    }

    public function testAConfigThatCannotBeImportedNamesTheKey(): void
    {
        config(['flags.file' => self::tempDir() . '/flags.json', 'features.broken' => ['enabled' => 'yes']]);
        [$status, $output] = $this->runArtisan('flags:import-config');
        $this->assertSame(1, $status);
        $this->assertStringContainsString("config/features.php cannot be imported: features.broken.enabled: expected true or false, found 'yes'", $output);
        [$status, $output] = $this->runArtisan('flags:import-config', ['key' => 'nothing_here']);
        $this->assertSame(1, $status);
        $this->assertStringContainsString("config('nothing_here') is not set", $output);
    }
}
