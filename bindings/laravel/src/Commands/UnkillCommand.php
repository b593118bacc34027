<?php

declare(strict_types=1);

namespace Flags\Laravel\Commands;

use Flags\FlagFile;

/** `flags:unkill FLAG`: lifts the flag's kill switch; its pilots and rollout apply again. */
final class UnkillCommand extends EditCommand
{
    protected $signature = 'flags:unkill {flag : The flag whose kill switch to lift}' . self::OPTIONS;

    protected $description = 'Lift a flag\'s kill switch: its pilots and rollout apply again';

    public function handle(): int
    {
        $flag = (string) $this->argument('flag');
        return $this->edit(static fn (FlagFile $file, bool $dryRun) => $file->unkill($flag, $dryRun));
    }
}
