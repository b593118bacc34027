<?php

declare(strict_types=1);

namespace Flags\Migration;

/**
 * The records of a process's migration reads and writes, kept until they
 * are taken (by a Reporter, to send them to the flags server), and counted
 * by flag, stage and operation for the process's own use (stats()).
 *
 * One record per operation, as POST /v1/migrations takes them:
 *
 * ```php
 * ['flag' => 'orders_reads', 'stage' => 'shadow', 'op' => 'read',
 *  'old' => ['seconds' => 0.0012, 'error' => false],
 *  'new' => ['seconds' => 0.0034, 'error' => true],
 *  'consistent' => null]
 * ```
 *
 * Memory is bounded: past $capacity records waiting, a record is dropped
 * (and counted in stats()['dropped']).
 */
final class Recorder
{
    /** @var list<array<string, mixed>> */
    private array $records = [];
    private int $count = 0;
    private int $dropped = 0;
    /** @var array<string, array{ops: int, errors_old: int, errors_new: int, consistent: int, inconsistent: int}> */
    private array $totals = [];

    /** @param int $capacity the most records kept waiting (1 or more) */
    public function __construct(private int $capacity = 10000)
    {
        if ($capacity < 1) {
            throw new \InvalidArgumentException("a Recorder's capacity is 1 or more records, not $capacity");
        }
    }

    /**
     * Records one operation. $old and $new are the sides that ran
     * (['seconds' => float, 'error' => bool], plus 'timeout' => true for a
     * side that timed out), null for a side that did not run.
     */
    public function record(
        string $flag,
        string $stage,
        string $op,
        ?array $old,
        ?array $new,
        ?bool $consistent = null,
    ): void {
        $key = "$flag $stage $op";
        $t = &$this->totals[$key];
        $t ??= ['ops' => 0, 'errors_old' => 0, 'errors_new' => 0, 'consistent' => 0, 'inconsistent' => 0];
        $t['ops']++;
        $record = ['flag' => $flag, 'stage' => $stage, 'op' => $op];
        if ($old !== null) {
            $record['old'] = $old;
            if ($old['error']) {
                $t['errors_old']++;
            }
        }
        if ($new !== null) {
            $record['new'] = $new;
            if ($new['error']) {
                $t['errors_new']++;
            }
        }
        if ($consistent !== null) {
            $consistent ? $t['consistent']++ : $t['inconsistent']++;
        }
        $record['consistent'] = $consistent;
        if ($this->count >= $this->capacity) {
            $this->dropped++;
            return;
        }
        $this->records[] = $record;
        $this->count++;
    }

    /** How many records are waiting. */
    public function count(): int
    {
        return $this->count;
    }

    /**
     * Takes up to $max waiting records (all of them by default), oldest
     * first: they are no longer kept here.
     *
     * @return list<array<string, mixed>>
     */
    public function take(?int $max = null): array
    {
        if ($max === null || $max >= $this->count) {
            $taken = $this->records;
            $this->records = [];
            $this->count = 0;
            return $taken;
        }
        $taken = array_splice($this->records, 0, max(0, $max));
        $this->count = \count($this->records);
        return $taken;
    }

    /**
     * What this process recorded so far (taken or not), by "flag stage op":
     * ops, errors_old, errors_new, consistent, inconsistent; and dropped:
     * the records not kept because $capacity were waiting.
     *
     * @return array{dropped: int, by: array<string, array{ops: int, errors_old: int, errors_new: int,
     *               consistent: int, inconsistent: int}>}
     */
    public function stats(): array
    {
        return ['dropped' => $this->dropped, 'by' => $this->totals];
    }
}
