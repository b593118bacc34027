<?php

// Nothing here uses a database; artisan's commands need the `db` binding.
return [
    'default' => 'sqlite',
    'connections' => [
        'sqlite' => ['driver' => 'sqlite', 'database' => ':memory:', 'prefix' => ''],
    ],
    'migrations' => 'migrations',
];
