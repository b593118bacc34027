<?php

declare(strict_types=1);

namespace Flags\Laravel\Commands;

use Flags\FlagFile;
use Flags\Laravel\Import\ConfigImporter;

/**
 * `flags:import-config [features]`: writes a flag file from a runbook-style
 * config/features.php (see ConfigImporter for the shapes), through the
 * library's edit path (validated, locked, audited). Refuses to overwrite
 * an existing file unless --force.
 */
final class ImportConfigCommand extends EditCommand
{
    public const WARNING = 'Bucketing changes: config/features.php put a user in a rollout when `id % 100 < percentage`; '
        . 'flags hashes each flag\'s salt with the user id (SipHash), so WHICH users are in a 10% rollout changes '
        . '(about as many users, but different ones, and a different set for each flag). '
        . 'Pilots stay exactly the same, and 0% and 100% mean what they meant.';

    protected $signature = 'flags:import-config {key=features : The config key holding the features (config/features.php)}'
        . self::OPTIONS;

    protected $description = 'Write a flag file from a config/features.php (booleans, pilot_user_ids, rollout_percentage)';

    public function handle(): int
    {
        $key = (string) $this->argument('key');
        $features = config($key);
        if (!\is_array($features)) {
            $this->error("config('$key') is " . ($features === null ? 'not set' : 'not an array')
                . ": expected the features of config/$key.php (feature => true|false|['enabled' => ..., "
                . "'pilot_user_ids' => [...], 'rollout_percentage' => N])");
            return self::FAILURE;
        }
        try {
            $text = ConfigImporter::toFlagFile($features, $key);
        } catch (\InvalidArgumentException $e) {
            $this->error("config/$key.php cannot be imported: " . $e->getMessage());
            return self::FAILURE;
        }
        $path = $this->flagFile();
        if ($path === null) {
            return self::FAILURE;
        }
        if (file_exists($path) && !$this->option('force') && !$this->option('dry-run')) {
            $this->error("$path already exists; pass --force to replace it (the audit log keeps the edit)");
            return self::FAILURE;
        }
        $this->warn(self::WARNING);
        if ($this->option('dry-run')) {
            $this->line($text);
        }
        return $this->edit(static fn (FlagFile $file, bool $dryRun) => $file->replace($text, $dryRun));
    }
}
