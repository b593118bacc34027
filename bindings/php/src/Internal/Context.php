<?php

declare(strict_types=1);

namespace Flags\Internal;

use FFI;
use FFI\CData;

/**
 * A native flags_context built once from a PHP array, freed when this
 * object is destroyed.
 *
 * An array that cannot be attributes (a float, an array or an object as a
 * value, an empty attribute name, bytes that are not UTF-8) gives an
 * invalid context: $ptr is null, $error says why, and every evaluation
 * with it is off with reason INVALID_CONTEXT.
 *
 * @internal
 */
final class Context
{
    /** The native context; null when invalid (or released). */
    public ?CData $ptr = null;

    /** Why the array is not a valid context; null when it is. */
    public ?string $error = null;

    private const JSON = JSON_FORCE_OBJECT | JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES;

    private function __construct(private FFI $ffi)
    {
    }

    /**
     * Strings are taken as they are, integers as their decimal text,
     * booleans as "true"/"false", and null means the attribute is absent:
     * the rules of a JSON context in every flags SDK. Keys are attribute
     * names (an integer key is its decimal text).
     *
     * The array goes to the library as one JSON object: one call, whatever
     * the number of attributes. (So a JsonSerializable object counts as the
     * value it serializes to.)
     *
     * @param array<array-key, mixed> $attributes
     */
    public static function fromArray(FFI $ffi, array $attributes): self
    {
        $self = new self($ffi);
        // The library checks names and values (an empty name, a float, an
        // array or an object is an error naming the attribute); json_encode
        // refuses bytes that are not UTF-8, INF and NAN.
        $json = json_encode($attributes, self::JSON);
        if ($json === false) {
            $self->error = 'the context cannot be attributes: ' . json_last_error_msg()
                . (json_last_error() === JSON_ERROR_UTF8 ? ' (names and values must be UTF-8)' : '');
            return $self;
        }
        // flags_context_parse returns the context itself: no out cell to
        // make (a C type parse, about 2 us in a php-fpm request's first
        // call). On failure the same JSON through flags_context_from_json
        // says why (building a context is deterministic: it fails alike).
        $ptr = $ffi->flags_context_parse($json, \strlen($json));
        if ($ptr !== null) {
            $self->ptr = $ptr;
            return $self;
        }
        $out = Native::$contextOut ??= $ffi->new('flags_context *[1]');
        $code = $ffi->flags_context_from_json($json, \strlen($json), $out, Native::stringOut());
        if ($code === 0) {
            // Not possible for the same JSON; kept so that nothing leaks.
            $self->ptr = $out[0];
        } else {
            $self->error = Native::takeString() ?? $ffi->flags_result_message($code);
        }
        return $self;
    }

    /**
     * Refuses to clone: the copy would share the native context, and the
     * first of the two to be destroyed would free it under the other.
     *
     * @throws \LogicException always
     */
    public function __clone()
    {
        // PHP runs the destructor of the copy when this throws: leave it
        // nothing to free.
        $this->ptr = null;
        throw new \LogicException(
            'A ' . self::class . ' object cannot be cloned: it holds a native context, released with the '
            . 'object. Share the object itself, or build another one.',
        );
    }

    public function __destruct()
    {
        if ($this->ptr !== null) {
            $this->ffi->flags_context_free($this->ptr);
            $this->ptr = null;
        }
    }
}
