<?php

declare(strict_types=1);

namespace Flags\Laravel\Commands;

use Flags\FlagFile;

/** `flags:kill FLAG`: the flag's kill switch: off for everyone, pilots included; the rollout is kept. */
final class KillCommand extends EditCommand
{
    protected $signature = 'flags:kill {flag : The flag to turn off for everyone}' . self::OPTIONS;

    protected $description = 'Turn a flag off for everyone, pilots included (its kill switch; flags:unkill lifts it)';

    public function handle(): int
    {
        $flag = (string) $this->argument('flag');
        return $this->edit(static fn (FlagFile $file, bool $dryRun) => $file->kill($flag, $dryRun));
    }
}
