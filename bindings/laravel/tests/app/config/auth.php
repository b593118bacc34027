<?php

return [
    'defaults' => ['guard' => 'web'],
    'guards' => [
        'web' => ['driver' => 'header', 'provider' => 'users'],
    ],
    'providers' => [
        'users' => ['driver' => 'config'],
    ],
    // The test application's users (no database).
    'users' => [
        1 => ['name' => 'Ada', 'context' => ['tenant_id' => 'acme', 'plan' => 'pro']],
        2 => ['name' => 'Grace', 'context' => ['tenant_id' => 'initech', 'plan' => 'free']],
        42 => ['name' => 'Douglas', 'context' => ['tenant_id' => 'acme', 'plan' => 'free']],
    ],
];
