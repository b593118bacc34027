<?php

declare(strict_types=1);

namespace Flags\Laravel;

use Flags\Laravel\Contracts\HasFlagsContext;
use Illuminate\Auth\AuthManager;
use Illuminate\Contracts\Auth\Authenticatable;
use Illuminate\Contracts\Auth\Factory as AuthFactory;
use Illuminate\Contracts\Auth\Guard;
use Illuminate\Contracts\Container\Container;
use Illuminate\Http\Request;

/**
 * Builds the context of a check: the attributes a flag looks at.
 *
 * The current context is the current request's user's: on every call the
 * guard is asked for its user, so a login or logout in the middle of a
 * request is seen by the next check, and an application that serves many
 * requests (Octane, a queue worker, a test) never answers for the previous
 * request's user. What is reused, within one request and for one user
 * only, is the array built from that user and the request's header, so
 * that a further check costs a few hundred nanoseconds: asking the auth
 * manager for the default guard costs a php-fpm request microseconds, so
 * it is asked again for each new request (the container tells this object
 * when it binds one, as it tells Laravel's own guards) and after every
 * Auth::shouldUse(). The request, the guard and the user are held by weak
 * references, for identity checks only: nothing here keeps a request or a
 * user alive.
 */
final class ContextFactory
{
    /** @var \WeakReference<Request>|null the current request, set by the container */
    private ?\WeakReference $request = null;
    /** @var \WeakReference<\Closure>|null the auth manager's user resolver when the memo was made (Auth::shouldUse replaces it) */
    private ?\WeakReference $userResolver = null;
    /** @var \WeakReference<Guard>|null the guard of the memo; null: no memo */
    private ?\WeakReference $guardRef = null;
    /** @var \WeakReference<Authenticatable>|null the user of the memo; null: a guest */
    private ?\WeakReference $user = null;
    /** @var array<string, string|int|bool|null> the user's and the header's attributes */
    private array $memo = [];

    /**
     * @param callable|string|null $resolver fn (?Authenticatable, ?Request): array, or an invokable class name
     */
    public function __construct(
        private Container $container,
        private AuthFactory $auth,
        private ?string $guard = null,
        private ?string $header = 'X-App-Version',
        private mixed $resolver = null,
    ) {
        if ($header === '') {
            $this->header = null;
        }
    }

    /**
     * The request being served; called by the container each time it binds
     * one (Container::refresh('request', ...), as for Laravel's guards).
     * A new request starts a new memo.
     */
    public function setRequest(mixed $request): void
    {
        $this->request = $request instanceof Request ? \WeakReference::create($request) : null;
        $this->guardRef = null;
    }

    /**
     * The current context: the authenticated user's, the request's
     * app_version header, then the resolver's attributes.
     *
     * @return array<string, string|int|bool|null>
     */
    public function current(): array
    {
        $resolver = $this->auth instanceof AuthManager ? $this->auth->userResolver() : null;
        $guard = $this->guardRef?->get();
        if ($guard === null || $resolver === null || $this->userResolver?->get() !== $resolver) {
            // A new request, or the default guard may have changed: ask the
            // auth manager (the costly part) and start a new memo.
            $guard = $this->auth->guard($this->guard);
            $this->guardRef = \WeakReference::create($guard);
            $this->userResolver = $resolver === null ? null : \WeakReference::create($resolver);
            $user = $guard->user();
            $this->memo = $this->build($user);
        } else {
            $user = $guard->user();
            if ($user !== $this->user?->get()) {
                $this->memo = $this->build($user);
            }
        }
        if ($this->resolver === null) {
            return $this->memo;
        }
        // The resolver is asked on every call: what it reads (the route,
        // the session) may change during the request.
        return array_replace($this->memo, $this->resolve($user, $this->request?->get()));
    }

    /**
     * The context of an explicit scope (no request attributes).
     *
     * @return array<string, string|int|bool|null>
     */
    public function of(mixed $scope): array
    {
        if (\is_array($scope)) {
            return $scope;
        }
        if ($scope === null) {
            return [];
        }
        if ($scope instanceof Authenticatable) {
            $context = self::user($scope);
            return $this->resolver === null ? $context : array_replace($context, $this->resolve($scope, null));
        }
        if ($scope instanceof HasFlagsContext) {
            return $scope->toFlagsContext();
        }
        if (\is_string($scope) || \is_int($scope)) {
            return ['user_id' => (string) $scope];
        }
        throw new \InvalidArgumentException(
            'Flags::for() takes an Authenticatable, a ' . HasFlagsContext::class . ', a user id (string or int), '
            . 'an array of attributes or null; got ' . get_debug_type($scope),
        );
    }

    /** @return array<string, string|int|bool|null> the user's attributes and the header's app_version */
    private function build(?Authenticatable $user): array
    {
        $this->user = $user === null ? null : \WeakReference::create($user);
        $context = $user === null ? [] : self::user($user);
        $request = $this->request?->get();
        if ($this->header !== null && $request !== null) {
            $version = $request->headers->get($this->header);
            if ($version !== null && $version !== '') {
                $context['app_version'] = $version;
            }
        }
        return $context;
    }

    /** @return array<string, string|int|bool|null> user_id, then the user's own attributes */
    private static function user(Authenticatable $user): array
    {
        $id = $user->getAuthIdentifier();
        $context = $id === null ? [] : ['user_id' => (string) $id];
        return $user instanceof HasFlagsContext ? array_replace($context, $user->toFlagsContext()) : $context;
    }

    /** @return array<string, string|int|bool|null> */
    private function resolve(?Authenticatable $user, ?Request $request): array
    {
        $resolver = \is_string($this->resolver) && !\is_callable($this->resolver)
            ? $this->container->make($this->resolver)
            : $this->resolver;
        if (!\is_callable($resolver)) {
            throw new \InvalidArgumentException(
                'flags.context.resolver must be a callable or the name of an invokable class, got '
                . get_debug_type($resolver),
            );
        }
        $attributes = $resolver($user, $request);
        if (!\is_array($attributes)) {
            throw new \UnexpectedValueException(
                'flags.context.resolver must return an array of attributes, returned ' . get_debug_type($attributes),
            );
        }
        return $attributes;
    }
}
