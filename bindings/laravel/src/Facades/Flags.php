<?php

declare(strict_types=1);

namespace Flags\Laravel\Facades;

use Flags\Laravel\ContextFactory;
use Flags\Laravel\Contracts\Features;
use Flags\Laravel\Testing\FakeFeatures;
use Illuminate\Support\Facades\Facade;

/**
 * Feature flags for the current user (or ->for($user)).
 *
 * @method static bool inactive(string $flag)
 * @method static bool allAreActive(array $flags)
 * @method static bool someAreActive(array $flags)
 * @method static \Flags\Evaluation evaluate(string $flag)
 * @method static list<string> enabled()
 * @method static \Flags\Laravel\Contracts\Features for(mixed $scope)
 * @method static array context()
 *
 * @see \Flags\Laravel\Contracts\Features
 * @see \Flags\Laravel\FeatureManager
 */
class Flags extends Facade
{
    /**
     * Whether $flag is on for the current user. Declared rather than left
     * to __callStatic: it is the call a request makes most, and the magic
     * path costs it a few hundred nanoseconds more.
     */
    public static function active(string $flag): bool
    {
        return (static::$resolvedInstance[Features::class] ?? static::getFacadeRoot())->active($flag);
    }

    /** The variant $flag serves the current user, or null (declared for the same reason as active()). */
    public static function variant(string $flag): ?string
    {
        return (static::$resolvedInstance[Features::class] ?? static::getFacadeRoot())->variant($flag);
    }

    /**
     * Replaces the flags with a fake everywhere (facade, Blade, middleware,
     * injection): each given flag forced (true, false, a variant name or
     * fn (array $context)), every other flag off, and checks recorded.
     *
     * @param array<string, bool|string|\Closure> $flags
     */
    public static function fake(array $flags = []): FakeFeatures
    {
        $fake = new FakeFeatures($flags, static::getFacadeApplication()->make(ContextFactory::class));
        static::swap($fake);
        return $fake;
    }

    protected static function getFacadeAccessor(): string
    {
        return Features::class;
    }
}
