<?php

declare(strict_types=1);

// Loads the package without Composer and finds the native library: the
// FLAGS_FFI_LIB environment variable, else the path bin/flags-php-install
// recorded in build/config.php (see README). The shared golden vectors are
// tests/vectors/ of the repository, or FLAGS_VECTORS_DIR.

require dirname(__DIR__) . '/bootstrap/autoload.php';
require __DIR__ . '/TestCase.php';
require __DIR__ . '/PhpServer.php';

try {
    fwrite(STDERR, sprintf(
        "flags library %s (%s)\n",
        \Flags\Flags::libraryVersion(),
        \Flags\Internal\Native::$library ?? 'preloaded scope',
    ));
} catch (\Flags\FlagsException $e) {
    fwrite(STDERR, $e->getMessage() . "\n");
    exit(2);
}
