<?php

namespace App\Auth;

use App\Models\User;
use Illuminate\Contracts\Auth\Authenticatable;
use Illuminate\Contracts\Auth\UserProvider;

/** Users from config('auth.users'): id => ['name' => ..., 'context' => [...]]. */
class ConfigUserProvider implements UserProvider
{
    /** @param array<string|int, array{name?: string, context?: array}> $users */
    public function __construct(private array $users)
    {
    }

    public function retrieveById($identifier)
    {
        $user = $this->users[$identifier] ?? null;
        return $user === null ? null : new User($identifier, $user['context'] ?? [], $user['name'] ?? '');
    }

    public function retrieveByToken($identifier, $token)
    {
        return null;
    }

    public function updateRememberToken(Authenticatable $user, $token)
    {
    }

    public function retrieveByCredentials(array $credentials)
    {
        return isset($credentials['id']) ? $this->retrieveById($credentials['id']) : null;
    }

    public function validateCredentials(Authenticatable $user, array $credentials)
    {
        return false;
    }
}
