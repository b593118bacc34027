<?php

declare(strict_types=1);

namespace Flags\Laravel\Commands;

use Flags\FlagFile;

/** `flags:kill-all`: the emergency rollback: every flag off for everyone. */
final class KillAllCommand extends EditCommand
{
    protected $signature = 'flags:kill-all' . self::OPTIONS;

    protected $description = 'Emergency rollback: every flag off for everyone (flags:unkill-all lifts it)';

    public function handle(): int
    {
        return $this->edit(static fn (FlagFile $file, bool $dryRun) => $file->killAll($dryRun));
    }
}
