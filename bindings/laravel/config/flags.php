<?php

// The flags package's configuration (publish it with
// `php artisan vendor:publish --tag=flags-config`).

return [

    /*
    | Where the flags come from: a flag file on this machine (hot-reloading:
    | an edit is seen within check_interval_ms), or, when server.url is set,
    | a flags server (`flags serve`), with its offline cache.
    */

    'file' => env('FLAGS_FILE', base_path('flags.json')),

    // How often, at most, an access checks the file for a change (ms, >= 1).
    'check_interval_ms' => (int) env('FLAGS_CHECK_INTERVAL_MS', 1000),

    'server' => [
        // e.g. https://flags.internal.example.com; null: use 'file'.
        'url' => env('FLAGS_SERVER_URL'),
        // Sent as a bearer token (`flags serve --tokens-file`).
        'token' => env('FLAGS_SERVER_TOKEN'),
        // The last good flags, used when the server cannot be reached at start.
        'cache_path' => env('FLAGS_CACHE_PATH', storage_path('framework/flags-cache.json')),
        'refresh_interval_ms' => (int) env('FLAGS_REFRESH_INTERVAL_MS', 30000),
        // Follow /v1/stream for changes as they happen (a background thread).
        'stream' => (bool) env('FLAGS_STREAM', false),
    ],

    /*
    | The Prometheus `php artisan flags:status` asks every guard's query of
    | (as `flags status --prometheus`), e.g. http://127.0.0.1:9090; null:
    | no guard column. --prometheus=URL overrides it. The command waits for
    | Prometheus at most prometheus_timeout_ms (1 to 60000).
    */

    'prometheus' => env('FLAGS_PROMETHEUS_URL'),

    'prometheus_timeout_ms' => (int) env('FLAGS_PROMETHEUS_TIMEOUT_MS', 5000),

    /*
    | The context of a check: the attributes a flag's pilots, deny lists,
    | requirements and rollout look at. Built on every call, never cached:
    |   user_id      the authenticated user's getAuthIdentifier(), as a string
    |                (guest: no user_id, so a percentage rollout is off);
    |   + the user's toFlagsContext() when the User model implements
    |     Flags\Laravel\Contracts\HasFlagsContext (tenant_id, plan, ...);
    |   + app_version from the request header below, when present;
    |   + what the resolver returns (it wins over the others).
    */

    'context' => [
        // The auth guard whose user is the current user; null: the default guard.
        'guard' => null,

        // The request header holding a mobile client's version; null: none.
        'app_version_header' => 'X-App-Version',

        // null, an invokable class name, or a callable
        // fn (?Authenticatable $user, ?Request $request): array
        // (a class keeps `php artisan config:cache` working).
        'resolver' => null,
    ],

    /*
    | The route middleware `flag:a,b` lets a request through when every flag
    | named is on; otherwise it aborts with this status, or redirects.
    */

    'middleware' => [
        'status' => 404,
        // A URL or path to redirect to instead of aborting; null: abort.
        'redirect_to' => null,
    ],

    /*
    | Migration flags (Migrator::read / Migrator::write): the other side of a
    | read or a write runs after the response ('after_response': from the
    | terminating callbacks, and after each queue job) or at once ('inline').
    | Their records are sent to the flags server's POST /v1/migrations after
    | the response, at most timeout_ms each batch (it never throws; a lost
    | batch is counted and logged once); report_url and token default to
    | server.url and server.token (a `client`-scoped token is enough); no
    | URL: the records stay in the process. report_errors: also report the
    | other side's exceptions to the exception handler.
    */

    'migrations' => [
        'defer' => env('FLAGS_MIGRATIONS_DEFER', 'after_response'),
        'report' => (bool) env('FLAGS_MIGRATIONS_REPORT', true),
        'report_url' => env('FLAGS_MIGRATIONS_URL'),
        'token' => env('FLAGS_MIGRATIONS_TOKEN'),
        'timeout_ms' => (int) env('FLAGS_MIGRATIONS_TIMEOUT_MS', 250),
        // A long-running worker sends as soon as this many records wait.
        'flush_every' => (int) env('FLAGS_MIGRATIONS_FLUSH_EVERY', 1000),
        'report_errors' => (bool) env('FLAGS_MIGRATIONS_REPORT_ERRORS', false),
    ],

];
