<?php

declare(strict_types=1);

namespace Flags\Laravel\Testing;

use Flags\Evaluation;
use Flags\Laravel\Concerns\ComposesChecks;
use Flags\Laravel\ContextFactory;
use Flags\Laravel\Contracts\Features;
use PHPUnit\Framework\Assert as PHPUnit;

/**
 * The Features of a test, bound by Flags::fake([...]) in place of the real
 * ones: the facade, Blade, the middleware and injection all use it.
 *
 * Each forced flag is true (on), false (off), a string (on, with that
 * variant) or a closure given the context that returns one of those (or
 * null: off). Every other flag is off. Checks are recorded for
 * assertChecked() and assertNotChecked(); evaluations carry the reason
 * "FAKE".
 */
final class FakeFeatures implements Features
{
    use ComposesChecks;

    public const REASON = 'FAKE';

    /** @var \ArrayObject<int, array{flag: string, context: array<string, mixed>}> shared with the scoped fakes */
    private \ArrayObject $checks;

    /** @var \ArrayObject<string, bool|string|\Closure> shared with the scoped fakes */
    private \ArrayObject $flags;

    /**
     * @param array<string, bool|string|\Closure> $flags
     * @param array<string, mixed>|null $scope the context of for(), null for the current user's
     */
    public function __construct(array $flags, private ContextFactory $contexts, private ?array $scope = null)
    {
        $this->flags = new \ArrayObject();
        $this->checks = new \ArrayObject();
        foreach ($flags as $flag => $value) {
            $this->set((string) $flag, $value);
        }
    }

    /** Forces $flag: true, false, a variant name, or fn (array $context) returning one of those. */
    public function set(string $flag, bool|string|\Closure $value): self
    {
        $this->flags[$flag] = $value;
        return $this;
    }

    public function active(string $flag): bool
    {
        return $this->decide($flag, true)[0];
    }

    public function variant(string $flag): ?string
    {
        return $this->decide($flag, true)[1];
    }

    public function evaluate(string $flag): Evaluation
    {
        [$enabled, $variant] = $this->decide($flag, true);
        return new Evaluation($enabled, $variant, self::REASON, null);
    }

    public function enabled(): array
    {
        $keys = [];
        foreach (array_keys($this->flags->getArrayCopy()) as $flag) {
            if ($this->decide((string) $flag, false)[0]) {
                $keys[] = (string) $flag;
            }
        }
        sort($keys, SORT_STRING);
        return $keys;
    }

    public function for(mixed $scope): Features
    {
        $scoped = new self([], $this->contexts, $this->contexts->of($scope));
        $scoped->flags = $this->flags;
        $scoped->checks = $this->checks;
        return $scoped;
    }

    public function context(): array
    {
        return $this->scope ?? $this->contexts->current();
    }

    /** Asserts that $flag was checked (active, inactive, variant, evaluate, Blade, middleware), $times times if given. */
    public function assertChecked(string $flag, ?int $times = null): self
    {
        $count = \count($this->checksOf($flag));
        if ($times === null) {
            PHPUnit::assertTrue($count > 0, "The flag [$flag] was not checked." . $this->checkedList());
        } else {
            PHPUnit::assertSame($times, $count, "The flag [$flag] was checked $count times instead of $times.");
        }
        return $this;
    }

    /** Asserts that $flag was never checked. */
    public function assertNotChecked(string $flag): self
    {
        $count = \count($this->checksOf($flag));
        PHPUnit::assertSame(0, $count, "The flag [$flag] was checked $count times, expected never.");
        return $this;
    }

    /** Asserts that no flag was checked. */
    public function assertNothingChecked(): self
    {
        PHPUnit::assertSame([], $this->checked(), 'Flags were checked:' . $this->checkedList());
        return $this;
    }

    /**
     * The checks made so far, in order, with the context of each.
     *
     * @return list<array{flag: string, context: array<string, mixed>}>
     */
    public function checks(): array
    {
        return array_values($this->checks->getArrayCopy());
    }

    /** @return list<string> the flags checked, in order */
    public function checked(): array
    {
        return array_map(static fn (array $check): string => $check['flag'], $this->checks());
    }

    /** @return array{bool, ?string} enabled, variant */
    private function decide(string $flag, bool $record): array
    {
        $context = $this->context();
        if ($record) {
            $this->checks[] = ['flag' => $flag, 'context' => $context];
        }
        $value = $this->flags[$flag] ?? false;
        if ($value instanceof \Closure) {
            $value = $value($context);
        }
        return match (true) {
            $value === true => [true, null],
            \is_string($value) => [true, $value],
            $value === false, $value === null => [false, null],
            default => throw new \UnexpectedValueException(
                "Flags::fake(): the closure for [$flag] must return true, false, null or a variant name, returned "
                . get_debug_type($value),
            ),
        };
    }

    /** @return list<array{flag: string, context: array<string, mixed>}> */
    private function checksOf(string $flag): array
    {
        return array_values(array_filter($this->checks(), static fn (array $check): bool => $check['flag'] === $flag));
    }

    private function checkedList(): string
    {
        $checked = array_unique($this->checked());
        return $checked === [] ? ' No flag was checked.' : ' Checked: ' . implode(', ', $checked) . '.';
    }
}
