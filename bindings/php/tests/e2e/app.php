<?php

declare(strict_types=1);

// Served by php-fpm in the end-to-end test (php-fpm-e2e). It has no
// autoloader: the Flags classes come from opcache.preload, and the library
// and its header from ffi.preload. Answers in `key=value` lines.

use Flags\Flags;

$file = (string) ($_SERVER['FLAG_FILE'] ?? '');
$interval = (int) ($_SERVER['CHECK_INTERVAL_MS'] ?? 100);

$tn = hrtime(true);
\Flags\Internal\Native::get();
$t0 = hrtime(true);
$flags = Flags::open($file, ['check_interval_ms' => $interval]);
$t1 = hrtime(true);
$again = Flags::open($file, ['check_interval_ms' => $interval]);
$t2 = hrtime(true);

$context = ['user_id' => 42, 'tenant_id' => 'acme'];
$enabled = $flags->isEnabled('checkout', $context);
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
    'native_us' => round(($t0 - $tn) / 1000, 1),
    'open_us' => round(($t1 - $t0) / 1000, 1),
    'reopen_us' => round(($t2 - $t1) / 1000, 2),
    'mode' => \Flags\Internal\Native::get()->mode,
    'sapi' => PHP_SAPI,
    'ffi_enable' => ini_get('ffi.enable'),
    'ffi_direct' => $direct,
];

usleep(1000 * (int) ($_SERVER['SLEEP_MS'] ?? 0));

header('Content-Type: text/plain');
foreach ($answer as $key => $value) {
    echo "$key=$value\n";
}
