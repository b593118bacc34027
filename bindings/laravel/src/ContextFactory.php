<?php

declare(strict_types=1);

namespace Flags\Laravel;

use Flags\Laravel\Contracts\HasFlagsContext;
use Illuminate\Contracts\Auth\Authenticatable;
use Illuminate\Contracts\Auth\Factory as AuthFactory;
use Illuminate\Contracts\Container\Container;
use Illuminate\Http\Request;
use Illuminate\Support\Facades\Request as RequestFacade;

/**
 * Builds the context of a check: the attributes a flag looks at.
 *
 * Nothing is remembered between calls: the user and the request are looked
 * up on every call, so an application that serves many requests (Octane, a
 * queue worker, a test) never answers for the previous request's user, and
 * a login in the middle of a request is seen by the next check.
 */
final class ContextFactory
{
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
     * The current context: the authenticated user's, the request's
     * app_version header, then the resolver's attributes.
     *
     * @return array<string, string|int|bool|null>
     */
    public function current(): array
    {
        $user = $this->auth->guard($this->guard)->user();
        $context = $user === null ? [] : self::user($user);
        if ($this->header !== null) {
            // The facade's root is the current request (the HTTP kernel and
            // Octane replace it and clear the facade's cache per request).
            $request = RequestFacade::getFacadeRoot();
            $version = $request?->headers->get($this->header);
            if ($version !== null && $version !== '') {
                $context['app_version'] = $version;
            }
        }
        if ($this->resolver !== null) {
            $context = array_replace($context, $this->resolve($user, RequestFacade::getFacadeRoot()));
        }
        return $context;
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
