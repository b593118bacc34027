<?php

declare(strict_types=1);

namespace Flags\Laravel\Commands;

use Flags\FlagFile;

/** `flags:unkill-all`: lifts the global kill switch; each flag's own state applies again. */
final class UnkillAllCommand extends EditCommand
{
    protected $signature = 'flags:unkill-all' . self::OPTIONS;

    protected $description = 'Lift the global kill switch: each flag\'s own state applies again';

    public function handle(): int
    {
        return $this->edit(static fn (FlagFile $file, bool $dryRun) => $file->unkillAll($dryRun));
    }
}
