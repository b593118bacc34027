<?php

declare(strict_types=1);

// The cost of asking for a flag from PHP, next to the pure-PHP checks the
// migration guides replace. Run it with the release library:
//
//   cargo build -p flags-ffi --release
//   FLAGS_FFI_LIB=target/release/libflags_ffi.so php bindings/php/bench/bench.php
//   (add -d opcache.enable_cli=1 to run with opcache, as php-fpm does)
//
// Every case runs 7 times, round-robin with the others; the figures are the
// median and the best run, in nanoseconds per operation, with the cost of
// the empty benchmark loop subtracted. On a busy machine, trust "best".

use Flags\Flags;

require dirname(__DIR__) . '/bootstrap/autoload.php';

$quick = in_array('--quick', $argv, true);
$scale = $quick ? 0.1 : 1.0;

// A realistic flag file: 30 flags; "checkout" is a 25% rollout by user_id
// with a tenant requirement, a deny list and 10 pilots.
$flagsJson = ['version' => 1, 'flags' => []];
for ($i = 0; $i < 30; $i++) {
    $flagsJson['flags']["feature_$i"] = ['percentage' => ($i * 7) % 101];
}
$flagsJson['flags']['checkout'] = [
    'requires' => [['attribute' => 'tenant_id', 'op' => 'not_in', 'values' => ['legacy']]],
    'deny' => ['user_id' => ['666']],
    'pilots' => ['user_id' => array_map('strval', range(1000, 1009))],
    'percentage' => 25,
];
$dir = sys_get_temp_dir() . '/flags-php-bench-' . getmypid();
@mkdir($dir);
$path = "$dir/flags.json";
file_put_contents($path, json_encode($flagsJson, JSON_PRETTY_PRINT));
register_shutdown_function(static function () use ($dir, $path): void {
    @unlink($path);
    @rmdir($dir);
});

$flags = Flags::open($path);
$context = ['user_id' => 42, 'tenant_id' => 'acme'];
$scoped = $flags->for($context);

// The pure-PHP baselines.
$config = ['features' => ['checkout' => true, 'search_v2' => false]];
$pilots10 = range(1000, 1009);
$pilots10000 = range(100000, 109999);
$userId = 42;
$percentage = 25;

require __DIR__ . '/harness.php';

$n = static fn (int $count): int => max(10, (int) ($count * $scale));
$results = [];
// The floor: what PHP's FFI charges for calls, without this package.
$ffi = \Flags\Internal\Native::ffi();
$source = $flags->source;
$nativeContext = \Flags\Internal\Context::fromArray($ffi, $context); // owns it
$native = $nativeContext->ptr;
$results['floor: FFI call, no arguments (flags_library_version)'] =
    measure($n(1_000_000), static fn (int $i) => $ffi->flags_library_version());
$results['floor: raw $ffi->flags_is_enabled($source, $flag, $len, $ctx)'] =
    measure($n(1_000_000), static fn (int $i) => $ffi->flags_is_enabled($source, 'checkout', 8, $native));
$results['isEnabled, scoped context reused ($scoped->isEnabled)'] =
    measure($n(1_000_000), static fn (int $i) => $scoped->isEnabled('checkout'));
$results['isEnabled, the same context array each call'] =
    measure($n(1_000_000), static fn (int $i) => $flags->isEnabled('checkout', $context));
$results['isEnabled, a new user each call (context built per call)'] =
    measure($n(300_000), static fn (int $i) => $flags->isEnabled('checkout', ['user_id' => $i, 'tenant_id' => 'acme']));
$results['isEnabled, empty context'] =
    measure($n(1_000_000), static fn (int $i) => $flags->isEnabled('feature_3'));
$results['evaluate (detail object), scoped'] =
    measure($n(300_000), static fn (int $i) => $scoped->evaluate('checkout'));
$results['for($context): build a scoped context'] =
    measure($n(300_000), static fn (int $i) => $flags->for(['user_id' => $i, 'tenant_id' => 'acme']));
$results['Flags::open, again (the cached object)'] =
    measure($n(1_000_000), static fn (int $i) => Flags::open($path));
// What php-fpm's first open of every request does, minus the FFI scope and
// PHP's per-request cold start (tests/e2e/php-fpm-e2e measures those):
// one call returning the library's shared source pointer and a new object.
$results['Flags::open, first in a request (cache cleared, shared source)'] =
    measure($n(300_000), static function (int $i) use ($path): void {
        Flags::clearCache();
        Flags::open($path);
    });
$results['baseline: config array lookup'] =
    measure($n(1_000_000), static fn (int $i) => $config['features']['checkout'] ?? false);
$results['baseline: in_array($id, $pilotIds), 10 ids'] =
    measure($n(1_000_000), static fn (int $i) => in_array($userId, $pilots10));
$results['baseline: in_array($id, $pilotIds), 10,000 ids'] =
    measure($n(20_000), static fn (int $i) => in_array($userId, $pilots10000));
$results['baseline: $userId % 100 < $percentage'] =
    measure($n(1_000_000), static fn (int $i) => $userId % 100 < $percentage);

$results = measureAll($results);
Flags::clearCache();
printf(
    "PHP %s (%s), opcache.enable_cli=%s, jit=%s; flags library %s (%s)\n\n",
    PHP_VERSION,
    PHP_SAPI,
    ini_get('opcache.enable_cli') ?: '0',
    (function_exists('opcache_get_status') && (opcache_get_status(false)['jit']['on'] ?? false)) ? 'on' : 'off',
    Flags::libraryVersion(),
    \Flags\Internal\Native::$library ?? 'preloaded scope',
);
printf("%-62s %8s %8s\n", 'operation (ns/op)', 'median', 'best');
foreach ($results as $name => [$median, $best]) {
    printf("%-62s %8.0f %8.0f\n", $name, $median, $best);
}
$check = [
    'isEnabled, scoped context reused ($scoped->isEnabled)' => 400,
    'isEnabled, the same context array each call' => 400,
    'Flags::open, first in a request (cache cleared, shared source)' => 5000,
];
echo "\ntargets: isEnabled <= 400 ns, per-request open <= 5 us\n";
foreach ($check as $name => $limit) {
    printf("  %-60s %s (median)\n", $name, $results[$name][0] <= $limit ? 'met' : 'MISSED');
}
