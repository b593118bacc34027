<?php

// Composer's autoloader (the flags packages, from path repositories) and
// Debian's Laravel (php-laravel-framework, on PHP's include path), which
// Composer does not see.

require __DIR__ . '/../vendor/autoload.php';
require_once 'Illuminate/autoload.php';
