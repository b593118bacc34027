<?php

declare(strict_types=1);

// Served by php-fpm in the end-to-end test (php-fpm-e2e). It has no
// autoloader: the Flags classes come from opcache.preload, and the library
// and its header from ffi.preload. Answers in `key=value` lines.

use Flags\Flags;

$file = (string) ($_SERVER['FLAG_FILE'] ?? '');
$interval = (int) ($_SERVER['CHECK_INTERVAL_MS'] ?? 100);

// What a request pays (php-fpm-e2e prints the medians): PHP resets static
// properties between requests, so the first open of every request loads
// the FFI scope (timed apart here; Flags::open does it on first use) and
// asks the library for its shared source.
$t0 = hrtime(true);
\Flags\Internal\Native::ffi();
$t1 = hrtime(true);
$flags = Flags::open($file, ['check_interval_ms' => $interval]);
$t2 = hrtime(true);
$again = Flags::open($file, ['check_interval_ms' => $interval]);
$t3 = hrtime(true);
$context = ['user_id' => 42, 'tenant_id' => 'acme'];
$enabled = $flags->isEnabled('checkout', $context);  // builds the native context
$t4 = hrtime(true);
for ($i = 0; $i < 100; $i++) {
    $flags->isEnabled('checkout', $context);
}
$t5 = hrtime(true);
for ($i = 0; $i < 100; $i++) {
    $flags->isEnabled('checkout');
}
$t6 = hrtime(true);
$evaluation = $flags->for($context)->evaluate('checkout');

// This script is not preloaded: under ffi.enable=preload it may not use FFI itself.
try {
    FFI::cdef('int abs(int);');
    $direct = 'allowed';
} catch (\Throwable $e) {
    $direct = 'refused (' . get_class($e) . ': ' . $e->getMessage() . ')';
}

$answer = [
    'pid' => getmypid(),
    'enabled' => $enabled ? 'true' : 'false',
    'reason' => $evaluation->reason,
    'version' => $flags->version(),
    'generation' => $flags->generation(),
    'same_object' => $again === $flags ? 'true' : 'false',
    'scope_us' => round(($t1 - $t0) / 1000, 2),
    'open_us' => round(($t2 - $t1) / 1000, 2),
    'reopen_us' => round(($t3 - $t2) / 1000, 2),
    'first_is_enabled_us' => round(($t4 - $t3) / 1000, 2),
    'is_enabled_ns' => intdiv($t5 - $t4, 100),
    'is_enabled_no_context_ns' => intdiv($t6 - $t5, 100),
    'mode' => \Flags\Internal\Native::$mode,
    'sapi' => PHP_SAPI,
    'ffi_enable' => ini_get('ffi.enable'),
    'ffi_direct' => $direct,
];

usleep(1000 * (int) ($_SERVER['SLEEP_MS'] ?? 0));

header('Content-Type: text/plain');
foreach ($answer as $key => $value) {
    echo "$key=$value\n";
}
