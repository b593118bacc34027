<?php

declare(strict_types=1);

// The opcache.preload script of a Laravel application using flags/laravel
// (one file, as opcache.preload takes one):
//   1. flags/flags' generated preload script (build/preload.php, written by
//      its bin/flags-php-install): its classes may then use FFI under
//      php-fpm's default ffi.enable=preload;
//   2. the classes of this package that a request's flags go through
//      (the manager, the source, the context, the middleware), so that
//      no request autoloads and links them again: a request's first flag
//      then costs microseconds, not tens of them.
// Classes that extend Laravel's (the facade, the provider, the commands)
// are left to the autoloader: preloading them would mean preloading
// Laravel.
//
//   opcache.preload=/srv/app/vendor/flags/laravel/bootstrap/preload.php

$package = dirname(__DIR__);
$candidates = [
    getenv('FLAGS_PHP_PRELOAD') ?: null,                 // set explicitly
    dirname($package) . '/flags/build/preload.php',      // vendor/flags/laravel beside vendor/flags/flags
    dirname($package) . '/php/build/preload.php',        // this repository: bindings/laravel beside bindings/php
];
$found = null;
foreach ($candidates as $candidate) {
    if ($candidate !== null && is_file($candidate)) {
        $found = $candidate;
        break;
    }
}
if ($found === null) {
    throw new \LogicException(
        'flags/laravel preload: flags/flags\' build/preload.php was not found (looked for '
        . implode(', ', array_filter($candidates)) . '); run vendor/bin/flags-php-install first, '
        . 'or set FLAGS_PHP_PRELOAD to its path',
    );
}
require_once $found;

foreach ([
    'Contracts/Features.php',
    'Contracts/HasFlagsContext.php',
    'Concerns/ComposesChecks.php',
    'Clock.php',
    'FlagSource.php',
    'ContextFactory.php',
    'FeatureManager.php',
    'ScopedFeatures.php',
    'Middleware/EnsureFlagsAreEnabled.php',
] as $file) {
    require_once "$package/src/$file";
}
