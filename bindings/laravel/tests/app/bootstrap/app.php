<?php

// A minimal Laravel 8 application (Debian ships the framework, not the
// skeleton): the HTTP and console kernels, an exception handler, config/.

$app = new Illuminate\Foundation\Application(dirname(__DIR__));

// Writable paths can be moved (php-fpm's workers run as another user).
if (($storage = $_SERVER['APP_STORAGE'] ?? getenv('APP_STORAGE')) !== false && $storage !== null && $storage !== '') {
    $app->useStoragePath($storage);
}
foreach (['framework/views', 'logs'] as $dir) {
    if (!is_dir($app->storagePath($dir))) {
        @mkdir($app->storagePath($dir), 0777, true);
    }
}

$app->singleton(Illuminate\Contracts\Http\Kernel::class, App\Http\Kernel::class);
$app->singleton(Illuminate\Contracts\Console\Kernel::class, App\Console\Kernel::class);
$app->singleton(Illuminate\Contracts\Debug\ExceptionHandler::class, App\Exceptions\Handler::class);

return $app;
