<?php

use Flags\Laravel\Contracts\Features;
use Flags\Laravel\Facades\Flags;
use Illuminate\Support\Facades\Route;

// Through the facade. (pid and ?sleep_ms= let the php-fpm test reach each worker.)
Route::get('/flags/{flag}', static function (string $flag) {
    $answer = [
        'active' => Flags::active($flag),
        'variant' => Flags::variant($flag),
        'reason' => Flags::evaluate($flag)->reason,
        'bucket' => Flags::evaluate($flag)->bucket,
        'context' => (object) Flags::context(),
        'pid' => getmypid(),
    ];
    usleep(1000 * min(1000, (int) request()->query('sleep_ms', '0')));
    return response()->json($answer);
});

// Through injection of the contract.
Route::get('/injected/{flag}', static fn (Features $features, string $flag) => response()->json([
    'active' => $features->active($flag),
    'enabled' => $features->enabled(),
]));

// Every enabled flag, for a mobile app.
Route::get('/enabled', static fn () => response()->json(['flags' => Flags::enabled()]));

// The route middleware.
Route::get('/checkout-v2', static fn () => 'checkout v2')->middleware('flag:checkout');
Route::get('/checkout-and-search', static fn () => 'both')->middleware('flag:checkout,search');

// Blade.
Route::get('/page', static fn () => view('page'));

// What a request pays for its flags (bench/ and the php-fpm test read it):
// the first flag of the request (the contract resolved from the container,
// the library's FFI scope and shared source, the context built from the
// user and the request's header), then each further flag. The user is
// authenticated first, as an auth middleware would have done: looking the
// user up is the application's cost, not the flags'.
Route::get('/bench', static function () {
    \Illuminate\Support\Facades\Auth::user();
    $t0 = hrtime(true);
    $first = Flags::active('checkout');
    $t1 = hrtime(true);
    Flags::active('search');
    $t2 = hrtime(true);
    $n = 200;
    for ($i = 0; $i < $n; $i++) {
        Flags::active('search');
    }
    $t3 = hrtime(true);
    return response()->json([
        'first' => $first,
        'first_flag_ns' => $t1 - $t0,
        'second_flag_ns' => $t2 - $t1,
        'further_flag_ns' => intdiv($t3 - $t2, $n),
        'pid' => getmypid(),
        'mode' => \Flags\Internal\Native::$mode,
        'version' => Flags::getFacadeRoot() instanceof \Flags\Laravel\FeatureManager
            ? Flags::getFacadeRoot()->flags()->version() : null,
    ]);
});
