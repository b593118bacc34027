<?php

// A runbook-style feature config, as the teams' applications have it
// (read with config('features.x') and a hand-written FeatureFlag class):
// the sample that `php artisan flags:import-config` is tested on.

return [
    'communities' => env('FEATURE_COMMUNITIES', true),
    'legacy_search' => false,
    'community_dual_write' => [
        'enabled' => true,
        'pilot_user_ids' => [7, 12, '4711'],
        'rollout_percentage' => 10,
        'owner' => 'communities-platform',
    ],
    'enrollment_service' => [
        'enabled' => true,
        'pilot_user_ids' => [],
        'rollout_percentage' => 12.5,
        'description' => 'Route enrollments to the new service',
    ],
    'new_editor' => [
        'enabled' => false,
        'pilot_user_ids' => [42],
        'rollout_percentage' => 50,
    ],
];
