<?php

declare(strict_types=1);

// The measuring loop the PHP benchmarks share (bench.php, migration.php).

/** ns per iteration of $f($i) over $n iterations. */
function run(int $n, callable $f): float
{
    $t = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        $f($i);
    }
    return (hrtime(true) - $t) / $n;
}

/** Queues a case; measureAll() runs them. */
function measure(int $iterations, callable $body): array
{
    return [$iterations, $body];
}

/**
 * Runs every case 7 times, round-robin (so that a busy moment of the
 * machine hits every case alike), and gives, per case, the median and the
 * best run in ns/op, minus the cost of the empty loop.
 *
 * @param array<string, array{int, callable}> $cases
 * @return array<string, array{float, float}>
 */
function measureAll(array $cases): array
{
    $empty = static function (int $i): void {
    };
    $cases = ['(empty loop)' => [1_000_000, $empty]] + $cases;
    foreach ($cases as [$iterations, $body]) {
        run(max(1, intdiv($iterations, 10)), $body); // warm up
    }
    $samples = [];
    for ($k = 0; $k < 7; $k++) {
        foreach ($cases as $name => [$iterations, $body]) {
            $samples[$name][] = run($iterations, $body);
        }
    }
    $stats = [];
    foreach ($samples as $name => $runs) {
        sort($runs);
        $stats[$name] = [$runs[3], $runs[0]];
    }
    [$emptyMedian, $emptyBest] = $stats['(empty loop)'];
    unset($stats['(empty loop)']);
    foreach ($stats as $name => [$median, $best]) {
        $stats[$name] = [max(0.0, $median - $emptyMedian), max(0.0, $best - $emptyBest)];
    }
    return $stats;
}
