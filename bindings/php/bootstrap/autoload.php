<?php

declare(strict_types=1);

// PSR-4 autoloading of the Flags\ namespace without Composer: used by the
// tests, the benchmark and the preload script. With Composer, its own
// vendor/autoload.php does the same from composer.json.

if (!defined('FLAGS_PHP_AUTOLOAD')) {
    define('FLAGS_PHP_AUTOLOAD', dirname(__DIR__) . '/src/');
    spl_autoload_register(static function (string $class): void {
        if (strncmp($class, 'Flags\\', 6) !== 0) {
            return;
        }
        $file = FLAGS_PHP_AUTOLOAD . str_replace('\\', '/', substr($class, 6)) . '.php';
        if (is_file($file)) {
            require $file;
        }
    });
}
