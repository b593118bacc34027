<?php

namespace App\Providers;

use App\Auth\ConfigUserProvider;
use Illuminate\Http\Request;
use Illuminate\Support\Facades\Auth;
use Illuminate\Support\Facades\Route;
use Illuminate\Support\ServiceProvider;

class AppServiceProvider extends ServiceProvider
{
    public function boot(): void
    {
        // Users from config, authenticated by the X-User-Id header (a
        // stand-in for a session or a token: the flags package only asks
        // the guard for its user).
        Auth::provider('config', static fn ($app, array $config) => new ConfigUserProvider($app['config']->get('auth.users', [])));
        Auth::viaRequest('header', static function (Request $request) {
            $id = $request->header('X-User-Id');
            return $id === null ? null : Auth::createUserProvider('users')->retrieveById($id);
        });

        Route::middleware('web')->group(base_path('routes/web.php'));
    }
}
