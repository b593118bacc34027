<?php

declare(strict_types=1);

namespace Flags\Laravel\Middleware;

use Closure;
use Flags\Laravel\Contracts\Features;
use Illuminate\Contracts\Config\Repository;
use Illuminate\Http\Request;

/**
 * The route middleware `flag:a,b`: the request goes on when every flag
 * named is on for the current user; otherwise it is answered with
 * flags.middleware.status (404 by default), or redirected to
 * flags.middleware.redirect_to when that is set.
 *
 * ```php
 * Route::get('/checkout/v2', ...)->middleware('flag:checkout_v2');
 * ```
 */
final class EnsureFlagsAreEnabled
{
    public function __construct(private Features $features, private Repository $config)
    {
    }

    /** @return mixed */
    public function handle(Request $request, Closure $next, string ...$flags)
    {
        if ($flags === []) {
            throw new \InvalidArgumentException('The flag middleware needs at least one flag name: ->middleware(\'flag:checkout_v2\')');
        }
        if ($this->features->allAreActive($flags)) {
            return $next($request);
        }
        $redirect = $this->config->get('flags.middleware.redirect_to');
        if (\is_string($redirect) && $redirect !== '') {
            return redirect($redirect);
        }
        abort((int) $this->config->get('flags.middleware.status', 404));
    }
}
