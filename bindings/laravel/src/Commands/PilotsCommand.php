<?php

declare(strict_types=1);

namespace Flags\Laravel\Commands;

use Flags\FlagFile;

/**
 * `flags:pilots FLAG --add=ID --remove=ID` (or `--global`): pilots get the
 * flag whatever its percentage (not when it is killed). Adding and
 * removing in one command is one edit.
 */
final class PilotsCommand extends EditCommand
{
    protected $signature = 'flags:pilots {flag? : The flag (none for the pilots of every flag)}
        {--global : The pilots of every flag (the file\'s top-level pilots)}
        {--add=* : Ids to add (repeat the option, or separate with commas)}
        {--remove=* : Ids to remove}
        {--attribute=user_id : The attribute the ids are values of (user_id, tenant_id, ...)}' . self::OPTIONS;

    protected $description = 'Add or remove pilots: users (or tenants...) who get a flag whatever its percentage';

    public function handle(): int
    {
        $flag = $this->argument('flag');
        $global = (bool) $this->option('global');
        if (($flag === null) !== $global) {
            $this->error('flags:pilots needs a flag, or --global for the pilots of every flag (not both)');
            return self::INVALID;
        }
        $add = $this->listOption('add');
        $remove = $this->listOption('remove');
        if ($add === [] && $remove === []) {
            $this->error('flags:pilots needs ids to --add or --remove (e.g. --add=42 --add=43, or --add=42,43)');
            return self::INVALID;
        }
        $attribute = (string) $this->option('attribute');
        $ops = [];
        foreach (['add_pilots' => $add, 'remove_pilots' => $remove] as $op => $ids) {
            if ($ids !== []) {
                $ops[] = ['op' => $op, 'flag' => $global ? null : (string) $flag, 'ids' => $ids, 'attribute' => $attribute];
            }
        }
        return $this->edit(static fn (FlagFile $file, bool $dryRun) => $file->apply($ops, $dryRun));
    }
}
