<?php

declare(strict_types=1);

namespace Flags;

/**
 * What an edit of a flag file did (FlagFile::apply() and its shorthands):
 * what the `flags` command of the same name prints, and the content hashes
 * of its audit record.
 */
final class EditResult
{
    /**
     * @param list<string> $changes
     * @internal made by FlagFile
     */
    public function __construct(
        /** True only when the file was replaced (false on a dry run and when nothing changed). */
        public readonly bool $written,
        public readonly bool $dryRun,
        /**
         * The line `flags` prints after an edit, without "FILE: ": the audit
         * record's summary ("checkout: killed"), or "no changes; nothing was
         * written".
         */
        public readonly string $summary,
        /** The lines `flags ... --dry-run` prints: what changed, one line each. */
        public readonly array $changes,
        /** The content hash (32 hex digits) before the edit. */
        public readonly string $before,
        /** The content hash after (the same as $before when nothing changed). */
        public readonly string $after,
        /** The absolute path of the audit log appended; null when nothing was written. */
        public readonly ?string $auditLog,
    ) {
    }

    /**
     * @return array{written: bool, dry_run: bool, summary: string, changes: list<string>,
     *               before: string, after: string, audit_log: ?string}
     */
    public function toArray(): array
    {
        return [
            'written' => $this->written,
            'dry_run' => $this->dryRun,
            'summary' => $this->summary,
            'changes' => $this->changes,
            'before' => $this->before,
            'after' => $this->after,
            'audit_log' => $this->auditLog,
        ];
    }
}
