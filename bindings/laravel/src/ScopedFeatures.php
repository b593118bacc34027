<?php

declare(strict_types=1);

namespace Flags\Laravel;

use Flags\Evaluation;
use Flags\Flags;
use Flags\Laravel\Concerns\ComposesChecks;
use Flags\Laravel\Contracts\Features;
use Flags\Scoped;

/**
 * Features for one explicit scope, what Flags::for($user) returns: the
 * native context is built once, so several checks for the same user cost
 * one context.
 */
final class ScopedFeatures implements Features
{
    use ComposesChecks;

    private Scoped $scoped;

    /** @param array<string, string|int|bool|null> $context */
    public function __construct(
        private Flags $flags,
        private array $context,
        private ContextFactory $contexts,
        private FlagSource $source,
    ) {
        $this->scoped = $flags->for($context);
    }

    public function active(string $flag): bool
    {
        $now = Clock::testNow();
        return $now === null ? $this->scoped->isEnabled($flag) : $this->scoped->evaluateAt($flag, $now)->enabled;
    }

    public function variant(string $flag): ?string
    {
        return $this->evaluate($flag)->variant;
    }

    public function evaluate(string $flag): Evaluation
    {
        $now = Clock::testNow();
        return $now === null ? $this->scoped->evaluate($flag) : $this->scoped->evaluateAt($flag, $now);
    }

    public function enabled(): array
    {
        $now = Clock::testNow();
        return $now === null ? $this->scoped->enabledFlags() : Clock::enabledAt($this->flags, $this->scoped, $this->context, $now);
    }

    public function for(mixed $scope): Features
    {
        return new self($this->source->flags(), $this->contexts->of($scope), $this->contexts, $this->source);
    }

    public function context(): array
    {
        return $this->context;
    }
}
