<?php

declare(strict_types=1);

namespace Flags\Laravel\Commands;

use Flags\FlagFile;

/**
 * `flags:toggle FLAG --on|--off`, the runbooks' verb, in this model:
 *   --off  the flag's kill switch (flags:kill): off for everyone, pilots
 *          included; the rollout is kept, so --on or flags:unkill brings
 *          it back;
 *   --on   lifts the kill switch and sets the percentage to 100: on for
 *          everyone (deny lists and requirements still apply), as ONE edit
 *          (one write, one audit record).
 */
final class ToggleCommand extends EditCommand
{
    protected $signature = 'flags:toggle {flag : The flag to turn on or off}
        {--on : On for everyone: lift the kill switch and set 100%}
        {--off : Off for everyone, pilots included: the kill switch (the rollout is kept)}' . self::OPTIONS;

    protected $description = 'Turn a flag on for everyone (--on: unkill + 100%) or off for everyone (--off: kill)';

    public function handle(): int
    {
        $on = (bool) $this->option('on');
        $off = (bool) $this->option('off');
        if ($on === $off) {
            $this->error('flags:toggle needs exactly one of --on (on for everyone: lift the kill switch and set 100%) '
                . 'and --off (off for everyone: the kill switch)');
            return self::INVALID;
        }
        $flag = (string) $this->argument('flag');
        if ($off) {
            return $this->edit(static fn (FlagFile $file, bool $dryRun) => $file->kill($flag, $dryRun));
        }
        return $this->edit(static fn (FlagFile $file, bool $dryRun) => $file->apply([
            ['op' => 'unkill', 'flag' => $flag],
            ['op' => 'set_percentage', 'flag' => $flag, 'percentage' => '100'],
        ], $dryRun));
    }
}
