<?php

declare(strict_types=1);

namespace Flags\Laravel\Commands;

use Flags\EditResult;
use Flags\FlagFile;
use Flags\FlagsException;
use Flags\Laravel\FlagSource;
use Illuminate\Console\Command;
use Illuminate\Console\ConfirmableTrait;
use Symfony\Component\Console\Input\ArgvInput;

/**
 * What every editing command shares: the options, the production
 * confirmation, and the edit itself, made by the flags library
 * (Flags\FlagFile, the same code as the `flags` commands): validated
 * before writing, written atomically under the directory lock, refused
 * when someone else changed the file meanwhile, and recorded in the
 * audit log with who ran artisan and the command typed.
 */
abstract class EditCommand extends Command
{
    use ConfirmableTrait;

    /** The options every editing command takes (appended to its signature). */
    public const OPTIONS = '
        {--dry-run : Print what would change; write nothing}
        {--force : Do not ask for confirmation in production}
        {--file= : The flag file to edit (default: the file of config/flags.php)}
        {--actor= : Who makes the change, for the audit log (default: $SUDO_USER, else the login name)}';

    /**
     * Runs $edit on the flag file and prints the result the way the
     * `flags` commands do. Exit status 0 when written, unchanged or a dry
     * run; 1 on any error (one clear message) or a refused confirmation.
     *
     * @param \Closure(FlagFile, bool): EditResult $edit
     */
    protected function edit(\Closure $edit): int
    {
        $path = $this->flagFile();
        if ($path === null) {
            return self::FAILURE;
        }
        $dryRun = (bool) $this->option('dry-run');
        if (!$dryRun && !$this->confirmToProceed()) {
            return self::FAILURE;
        }
        try {
            $result = $edit(new FlagFile($path, $this->auditOptions()), $dryRun);
        } catch (FlagsException $e) {
            $this->error(self::inOptionWords($e->getMessage()));
            return self::FAILURE;
        }
        $this->printResult($result, $path);
        return self::SUCCESS;
    }

    /**
     * The library names a bad value by its place in the edit request
     * (`ops[0].percentage`, `ops[0].points[1]`, `ops[0].ids[0]`); an
     * operator typed an option: say that instead.
     */
    public static function inOptionWords(string $message): string
    {
        return (string) preg_replace_callback(
            '/^ops\[\d+\]\.(percentage|points\[(\d+)\]|ids\[(\d+)\])(?=: )/',
            static fn (array $m): string => match (true) {
                $m[1] === 'percentage' => '--percentage',
                str_starts_with($m[1], 'points') => sprintf('--ramp: point %d', (int) $m[2] + 1),
                default => sprintf('id %d', (int) $m[3] + 1),
            },
            $message,
        );
    }

    /** The flag file to edit, or null (after saying why) when the flags come from a server. */
    protected function flagFile(): ?string
    {
        $file = $this->option('file');
        if (\is_string($file) && $file !== '') {
            return $file;
        }
        $source = $this->laravel->make(FlagSource::class);
        if ($source->file() === null) {
            $this->error(sprintf(
                '%s edits a flag file, but this application reads its flags from the flags server %s '
                . '(flags.server.url); edit the file that server serves, where it lives (`flags` or this '
                . 'command with --file=PATH)',
                $this->getName(),
                $source->serverUrl(),
            ));
            return null;
        }
        return $source->file();
    }

    /** @return array{actor?: string, command: string} */
    protected function auditOptions(): array
    {
        $options = ['command' => $this->typedCommand()];
        $actor = $this->option('actor');
        if ($actor !== null) {
            $options['actor'] = (string) $actor;
        }
        return $options;
    }

    /**
     * The command as typed, for the audit log: "php artisan flags:kill
     * checkout", each word quoted where a shell would read it otherwise.
     * From the process's arguments when artisan was run from a shell;
     * rebuilt from the arguments and the options given otherwise
     * (Artisan::call(), a scheduler, another command).
     */
    protected function typedCommand(): string
    {
        $argv = $_SERVER['argv'] ?? null;
        if ($this->input instanceof ArgvInput && \is_array($argv) && ($argv[1] ?? null) === $this->getName()) {
            $words = \array_slice($argv, 1);
        } else {
            $words = [(string) $this->getName()];
            foreach ($this->getDefinition()->getArguments() as $name => $argument) {
                $value = $this->argument($name);
                if ($name !== 'command' && $value !== null && $value !== $argument->getDefault()) {
                    array_push($words, ...(array) $value);
                }
            }
            foreach ($this->getDefinition()->getOptions() as $name => $option) {
                $value = $this->option($name);
                if ($value === null || $value === false || $value === [] || $value === $option->getDefault()) {
                    continue;
                }
                foreach ((array) $value as $item) {
                    $words[] = $item === true ? "--$name" : "--$name=$item";
                }
            }
        }
        return 'php artisan ' . implode(' ', array_map(self::quote(...), $words));
    }

    /** $word as a POSIX shell reads it back: as it is, or in single (or double) quotes. */
    private static function quote(string $word): string
    {
        if ($word !== '' && preg_match('{^[A-Za-z0-9_@%+=:,./-]+$}', $word)) {
            return $word;
        }
        if (!str_contains($word, "'")) {
            return "'$word'";
        }
        return '"' . addcslashes($word, '"\\$`') . '"';
    }

    protected function printResult(EditResult $result, string $path): void
    {
        if ($result->dryRun) {
            foreach ($result->changes as $line) {
                $this->line($line);
            }
            $this->line("dry run: nothing was written to $path");
            return;
        }
        // As `flags` prints it: "flags.json: checkout: killed".
        $this->info("$path: {$result->summary}");
        if ($result->written && $result->auditLog !== null) {
            $this->line("recorded in {$result->auditLog}");
        }
    }

    /**
     * The values of a repeatable option, each also split on commas
     * (`--add=1 --add=2` or `--add=1,2`).
     *
     * @return list<string>
     */
    protected function listOption(string $name): array
    {
        $values = [];
        foreach ((array) $this->option($name) as $value) {
            foreach (explode(',', (string) $value) as $item) {
                $item = trim($item);
                if ($item !== '') {
                    $values[] = $item;
                }
            }
        }
        return $values;
    }
}
