<?php

declare(strict_types=1);

namespace Flags;

use FFI;
use Flags\Internal\Context;
use Flags\Internal\Native;

/**
 * Flags for one context, built once: the cheapest way to ask several
 * questions about the same user. Made by Flags::for(). The native context
 * is released when this object is destroyed.
 *
 * ```php
 * $me = $flags->for(['user_id' => 42, 'tenant_id' => 'acme']);
 * $me->isEnabled('new_checkout');
 * ```
 *
 * Like Flags, it never throws when evaluating: with a context array that
 * was not valid attributes every flag is off with reason INVALID_CONTEXT.
 */
final class Scoped
{
    private FFI $ffi;

    /** @internal use Flags::for() */
    public function __construct(
        private Flags $flags,
        private Context $context,
    ) {
        $this->ffi = $flags->ffi;
    }

    public function isEnabled(string $flag): bool
    {
        $ctx = $this->context->ptr;
        return $ctx !== null && $this->ffi->flags_is_enabled($this->flags->source, $flag, \strlen($flag), $ctx);
    }

    public function variant(string $flag): ?string
    {
        return $this->evaluate($flag)->variant;
    }

    public function evaluate(string $flag): Evaluation
    {
        $ctx = $this->context->ptr;
        if ($ctx === null) {
            return $this->invalid();
        }
        return Native::evaluate($this->flags->source, $flag, $ctx, null);
    }

    /** evaluate() at a given time instead of now. */
    public function evaluateAt(string $flag, \DateTimeInterface $now): Evaluation
    {
        $ctx = $this->context->ptr;
        if ($ctx === null) {
            return $this->invalid();
        }
        return Native::evaluate($this->flags->source, $flag, $ctx, Native::unixMillis($now));
    }

    /** @return list<string> the keys of the flags that are on, in key order */
    public function enabledFlags(): array
    {
        $ctx = $this->context->ptr;
        return $ctx === null ? [] : Native::enabledFlags($this->flags->source, $ctx);
    }

    /** @return array<string, Evaluation> every flag, by key, in key order */
    public function evaluateAll(): array
    {
        $ctx = $this->context->ptr;
        return $ctx === null ? [] : Native::evaluateAll($this->flags->source, $ctx, null);
    }

    /** Whether the context array was valid attributes. */
    public function isValid(): bool
    {
        return $this->context->ptr !== null;
    }

    /** Why the context array is not valid attributes, or null. */
    public function contextError(): ?string
    {
        return $this->context->error;
    }

    private function invalid(): Evaluation
    {
        return new Evaluation(false, null, Evaluation::INVALID_CONTEXT, null, $this->context->error ?? 'released');
    }
}
