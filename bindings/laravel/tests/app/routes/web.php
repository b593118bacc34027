<?php

use Flags\Laravel\Contracts\Features;
use Flags\Laravel\Facades\Flags;
use Illuminate\Support\Facades\Route;

// Through the facade.
Route::get('/flags/{flag}', static fn (string $flag) => response()->json([
    'active' => Flags::active($flag),
    'variant' => Flags::variant($flag),
    'reason' => Flags::evaluate($flag)->reason,
    'bucket' => Flags::evaluate($flag)->bucket,
    'context' => (object) Flags::context(),
]));

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

// What a request pays for its flags (bench/ and the php-fpm test read it).
Route::get('/bench', static function () {
    $t0 = hrtime(true);
    $first = Flags::active('checkout');
    $t1 = hrtime(true);
    $n = 100;
    for ($i = 0; $i < $n; $i++) {
        Flags::active('search');
    }
    $t2 = hrtime(true);
    return response()->json([
        'first' => $first,
        'first_flag_ns' => $t1 - $t0,
        'further_flag_ns' => intdiv($t2 - $t1, $n),
        'pid' => getmypid(),
        'mode' => \Flags\Internal\Native::$mode,
        'version' => Flags::getFacadeRoot() instanceof \Flags\Laravel\FeatureManager
            ? Flags::getFacadeRoot()->flags()->version() : null,
    ]);
});
