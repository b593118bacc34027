<?php

declare(strict_types=1);

// The test application's autoloaders (Composer's, with the flags packages
// installed from path repositories, then Debian's Laravel); Debian's
// phpunit has loaded PHPUnit itself; Mockery is Debian's php-mockery. bindings/laravel/run installs the
// application first (composer install, offline).

$autoload = __DIR__ . '/app/vendor/autoload.php';
if (!is_file($autoload)) {
    fwrite(STDERR, "The test application is not installed: run bindings/laravel/run (it runs composer install in tests/app).\n");
    exit(2);
}
require __DIR__ . '/app/bootstrap/autoload.php';
// Laravel's artisan test helpers (expectsOutput, expectsConfirmation) use Mockery (Debian: php-mockery).
require_once 'Mockery/autoload.php';
require __DIR__ . '/TestCase.php';
