<?php

declare(strict_types=1);

namespace Flags\Laravel\Contracts;

use Flags\Evaluation;

/**
 * Feature flags for a scope: by default the current request's user
 * (see FeatureManager), or the one given to for().
 *
 * The facade, the Blade directives, the route middleware and injection
 * all resolve this contract from the container, so Flags::fake() (which
 * binds a Testing\FakeFeatures in its place) is honoured everywhere.
 *
 * Checking never throws: an unknown flag, or a context that cannot be
 * attributes, is off.
 */
interface Features
{
    /** Whether $flag is on. */
    public function active(string $flag): bool;

    /** Whether $flag is off. */
    public function inactive(string $flag): bool;

    /** @param list<string> $flags whether every one of them is on */
    public function allAreActive(array $flags): bool;

    /** @param list<string> $flags whether at least one of them is on */
    public function someAreActive(array $flags): bool;

    /** The variant $flag serves ("control", "treatment", ...), or null when off or without variants. */
    public function variant(string $flag): ?string;

    /** The detail: enabled, variant, reason (PILOT, ROLLOUT_IN, KILLED, ...) and bucket (0..9999). */
    public function evaluate(string $flag): Evaluation;

    /**
     * The keys of every flag that is on, in key order: what a page or a
     * mobile app's API response needs at once.
     *
     * @return list<string>
     */
    public function enabled(): array;

    /**
     * The same questions for another scope: an Authenticatable (its id and
     * HasFlagsContext attributes), any HasFlagsContext object, an id (the
     * user_id), an array of attributes as it is, or null (no attributes).
     */
    public function for(mixed $scope): self;

    /**
     * The context these answers are for.
     *
     * @return array<string, string|int|bool|null>
     */
    public function context(): array;
}
