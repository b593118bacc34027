<?php

declare(strict_types=1);

// Loaded by opcache.preload, through the build/preload.php that
// bin/flags-php-install writes. It only defines the Flags classes: code
// compiled here is "preloaded", which is what lets it use FFI in php-fpm
// under the default ffi.enable=preload. It loads no library and opens
// nothing (the library and its header come from ffi.preload; see README).

require_once __DIR__ . '/autoload.php';

$src = dirname(__DIR__) . '/src';
$files = new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator($src, \FilesystemIterator::SKIP_DOTS));
foreach ($files as $file) {
    if ($file->getExtension() === 'php') {
        require_once $file->getPathname();
    }
}
if (!class_exists(\Flags\Flags::class, false)) {
    throw new \LogicException("flags preload: no Flags\\Flags class under $src");
}
