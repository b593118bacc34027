<?php

declare(strict_types=1);

namespace Flags\Laravel\Concerns;

/**
 * The checks of the Features contract that are made of active().
 *
 * @internal
 */
trait ComposesChecks
{
    public function inactive(string $flag): bool
    {
        return !$this->active($flag);
    }

    /** @param list<string> $flags */
    public function allAreActive(array $flags): bool
    {
        foreach ($flags as $flag) {
            if (!$this->active($flag)) {
                return false;
            }
        }
        return true;
    }

    /** @param list<string> $flags */
    public function someAreActive(array $flags): bool
    {
        foreach ($flags as $flag) {
            if ($this->active($flag)) {
                return true;
            }
        }
        return false;
    }
}
