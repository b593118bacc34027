<?php

declare(strict_types=1);

// What a migration read or write costs in PHP on top of the two systems'
// own work: recording it (the target: <= 2 us a read), the stage decision
// (one evaluation), and the Migrator around trivial callables. Run it with
// the release library:
//
//   cargo build -p flags-ffi --release
//   FLAGS_FFI_LIB=target/release/libflags_ffi.so php -d opcache.enable_cli=1 bindings/php/bench/migration.php
//
// As bench.php (harness.php): every case runs 7 times, round-robin with the others; the
// figures are the median and the best run in ns per operation, with the
// cost of the empty loop subtracted. Sending the records is not measured
// here: it happens after the response (see tests/Migration/DeferredTest).

use Flags\Flags;
use Flags\Migration\Deferred;
use Flags\Migration\Migrator;
use Flags\Migration\Recorder;
use Flags\Migration\Stage;

require dirname(__DIR__) . '/bootstrap/autoload.php';

$quick = in_array('--quick', $argv, true);
$scale = $quick ? 0.1 : 1.0;

require __DIR__ . '/harness.php';

$flags = Flags::fromJson(json_encode(['version' => 1, 'flags' => [
    'orders_reads' => [
        'migration' => ['stages' => 6, 'stage' => 'dualwrite', 'next' => 'shadow'],
        'percentage' => 50,
    ],
]]));
$scoped = $flags->for(['user_id' => 42]);
$n = static fn (int $count): int => max(10, (int) ($count * $scale));

$recorder = new Recorder();
$old = ['seconds' => 0.0012, 'error' => false];
$new = ['seconds' => 0.0034, 'error' => false];
$inline = new Migrator($flags, new Recorder(), defer: Deferred::INLINE);
$deferred = new Migrator($flags, new Recorder());
$oldSide = static fn (): int => 1;
$newSide = static fn (): int => 1;
$same = static fn (int $a, int $b): bool => $a === $b;
// The records are taken every 1024 operations, as a flush would.
$drain = static function (int $i, Migrator $m): void {
    if (($i & 1023) === 0) {
        $m->flush();
        $m->recorder()->take();
    }
};

$cases = [
    'record a compared read (Recorder::record, both sides)' => [$n(1_000_000), static function (int $i) use ($recorder, $old, $new): void {
        $recorder->record('orders_reads', 'shadow', 'read', $old, $new, true);
        if (($i & 1023) === 0) {
            $recorder->take();
        }
    }],
    'record a one-side read (Recorder::record)' => [$n(1_000_000), static function (int $i) use ($recorder, $old): void {
        $recorder->record('orders_reads', 'off', 'read', $old, null);
        if (($i & 1023) === 0) {
            $recorder->take();
        }
    }],
    'stage decision: $migrator->stage($flag, $scoped) (one evaluation)' => [$n(300_000), static fn (int $i) => $inline->stage('orders_reads', $scoped)],
    'for comparison: $scoped->evaluate($flag)' => [$n(300_000), static fn (int $i) => $scoped->evaluate('orders_reads')],
    'readIn(Off): old side only, timed and recorded' => [$n(300_000), static function (int $i) use ($inline, $oldSide, $newSide, $drain): void {
        $inline->readIn(Stage::Off, 'orders_reads', $oldSide, $newSide);
        $drain($i, $inline);
    }],
    'readIn(Shadow), inline: both sides, compared, recorded' => [$n(300_000), static function (int $i) use ($inline, $oldSide, $newSide, $same, $drain): void {
        $inline->readIn(Stage::Shadow, 'orders_reads', $oldSide, $newSide, $same);
        $drain($i, $inline);
    }],
    'readIn(Shadow), deferred: queued, run by flush() (amortized)' => [$n(300_000), static function (int $i) use ($deferred, $oldSide, $newSide, $same): void {
        $deferred->readIn(Stage::Shadow, 'orders_reads', $oldSide, $newSide, $same);
        if (($i & 1023) === 1023) {
            // After the response in real life; counted here, amortized.
            $deferred->flush();
            $deferred->recorder()->take();
        }
    }],
    'read($flag, $scoped, ...): stage decision + read, inline' => [$n(300_000), static function (int $i) use ($inline, $scoped, $oldSide, $newSide, $same, $drain): void {
        $inline->read('orders_reads', $scoped, $oldSide, $newSide, $same);
        $drain($i, $inline);
    }],
];
$results = measureAll($cases);
printf(
    "PHP %s (%s), opcache.enable_cli=%s; flags library %s (%s)\n\n",
    PHP_VERSION,
    PHP_SAPI,
    ini_get('opcache.enable_cli') ?: '0',
    Flags::libraryVersion(),
    \Flags\Internal\Native::$library ?? 'preloaded scope',
);
printf("%-66s %8s %8s\n", 'operation (ns/op)', 'median', 'best');
foreach ($results as $name => [$median, $best]) {
    printf("%-66s %8.0f %8.0f\n", $name, $median, $best);
}
$recording = $results['record a compared read (Recorder::record, both sides)'][0];
printf("\ntarget: recording a read <= 2 us: %s (median %.0f ns)\n", $recording <= 2000 ? 'met' : 'MISSED', $recording);
