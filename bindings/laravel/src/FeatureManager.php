<?php

declare(strict_types=1);

namespace Flags\Laravel;

use Carbon\Carbon;
use Flags\Evaluation;
use Flags\Flags;
use Flags\Laravel\Concerns\ComposesChecks;
use Flags\Laravel\Contracts\Features;

/**
 * The Features the container gives (and the facade, Blade and the
 * middleware use): flags for the current user, whose context is built on
 * every call from the auth guard and the request (see ContextFactory).
 *
 * It holds no user and no request, so one instance serves every request
 * of a long-lived application (Octane, queue workers) correctly.
 */
final class FeatureManager implements Features
{
    use ComposesChecks;

    public function __construct(private FlagSource $source, private ContextFactory $contexts)
    {
    }

    public function active(string $flag): bool
    {
        // The call a request makes most: Clock::testNow() inlined (no test
        // time unless Carbon is loaded and has one).
        if (class_exists(Carbon::class, false) && Carbon::hasTestNow()) {
            return $this->evaluate($flag)->enabled;
        }
        return $this->source->flags()->isEnabled($flag, $this->contexts->current());
    }

    public function variant(string $flag): ?string
    {
        return $this->evaluate($flag)->variant;
    }

    public function evaluate(string $flag): Evaluation
    {
        return Clock::evaluate($this->source->flags(), $flag, $this->contexts->current(), Clock::testNow());
    }

    public function enabled(): array
    {
        $flags = $this->source->flags();
        $context = $this->contexts->current();
        $now = Clock::testNow();
        return $now === null ? $flags->enabledFlags($context) : Clock::enabledAt($flags, null, $context, $now);
    }

    public function for(mixed $scope): Features
    {
        return new ScopedFeatures($this->source->flags(), $this->contexts->of($scope), $this->contexts, $this->source);
    }

    public function context(): array
    {
        return $this->contexts->current();
    }

    /** @internal the source these flags come from */
    public function source(): FlagSource
    {
        return $this->source;
    }

    /** @internal the factory of the current context */
    public function contexts(): ContextFactory
    {
        return $this->contexts;
    }

    /** The underlying flags of bindings/php: version(), status(), evaluateAt()... */
    public function flags(): Flags
    {
        return $this->source->flags();
    }
}
