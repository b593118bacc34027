<?php

declare(strict_types=1);

namespace Flags;

use FFI;
use FFI\CData;
use Flags\Internal\Context;
use Flags\Internal\Native;

/**
 * Feature flags, evaluated by the flags core through its C ABI.
 *
 * ```php
 * $flags = Flags\Flags::open('/etc/myapp/flags.json');
 * if ($flags->isEnabled('new_checkout', ['user_id' => 42, 'tenant_id' => 'acme'])) { ... }
 * $user = $flags->for(['user_id' => $user->id]);   // build the context once
 * $user->isEnabled('new_checkout'); $user->variant('checkout_copy');
 * ```
 *
 * Opening throws FlagsException; evaluation never throws: an unknown flag
 * is off with reason FLAG_NOT_FOUND, a context that cannot be attributes is
 * off with reason INVALID_CONTEXT.
 */
final class Flags
{
    /** @var array<string, Flags> open sources by absolute path (or URL) and options */
    private static array $registry = [];

    private const OPEN_OPTIONS = ['check_interval_ms' => true, 'library' => true];
    /** The defaults of the millisecond options, used when an option is left out. */
    private const DEFAULT_MS = ['check_interval_ms' => 1000, 'refresh_interval_ms' => 30000, 'timeout_ms' => 5000];
    private const REMOTE_OPTIONS = [
        'cache_path' => true,
        'token' => true,
        'refresh_interval_ms' => true,
        'timeout_ms' => true,
        'stream' => true,
        'library' => true,
    ];

    /** The last context array given to isEnabled/variant/evaluate, and its native form. */
    private ?array $lastArray = null;
    private ?Context $lastContext = null;

    /**
     * Plain (not readonly) properties, and the FFI object rather than a
     * Native one: php-fpm makes a Flags object in every request, where
     * each readonly property and each extra object costs time.
     */
    private function __construct(
        /** @internal the loaded library */
        public FFI $ffi,
        /** @internal the native source; null once released */
        public ?CData $source,
        private string $description,
        /** false for the library's process-lifetime source, which is never freed */
        private bool $owned = true,
    ) {
    }

    /**
     * Opens a flag file, hot-reloading: on access, at most once per
     * check interval, the file's metadata is checked and a changed, valid
     * file swapped in (a bad edit keeps the last good flags). No thread is
     * started, so a source opened before a fork keeps working in the child.
     *
     * Cached per process: opening the same file with the same options again
     * returns the same object. Under php-fpm, where PHP forgets objects
     * between requests, the library itself keeps the opened file for the
     * worker's life, so the first open of each request is a lookup, not a
     * read and a parse. The cache key is
     * the absolute path as written (with "." segments and repeated slashes
     * removed), not the symlink-resolved one: the library watches the path
     * you give, so a symlink swap (Kubernetes ConfigMap "..data") is seen
     * as an edit of the file.
     *
     * @param array{check_interval_ms?: int, library?: string} $options
     *        check_interval_ms: how often, at most, the file is checked, in
     *        milliseconds from 1 to 4294967295 (default 1000; 0 is refused:
     *        leave the option out for the default);
     *        library: a libflags_ffi.so to load (default: FLAGS_FFI_LIB, then
     *        the installed one; ignored when the library is preloaded)
     *
     * @throws FlagsException IO when the file cannot be read, INVALID_FLAGS
     *         (with every problem as FILE:LINE:COL: PATH: message) when it is
     *         not a valid flag file, INVALID_ARGUMENT for a bad option,
     *         LIBRARY when the library cannot be loaded
     */
    public static function open(string $path, array $options = []): self
    {
        // Under php-fpm this runs in every request with PHP's caches cold,
        // where each call, object and FFI operation costs a microsecond or
        // more: the first open of a request is kept to one native call and
        // one object (see tests/e2e/app.php's timings).
        $interval = 1000;
        if ($options !== []) {
            // A valid check_interval_ms, with or without a library, passes
            // here; anything else is checked (and refused with a message)
            // by checkInterval().
            $interval = $options['check_interval_ms'] ?? null;
            if (!\is_int($interval) || $interval < 1 || $interval > 0xFFFFFFFF
                || \count($options) !== (isset($options['library']) ? 2 : 1)) {
                $interval = self::checkInterval($options);
            }
        }
        if ($path === '' || $path[0] !== '/' || str_contains($path, '//') || str_contains($path, '/.')) {
            $path = self::absolutePath($path);
        }
        $key = $path . "\0" . $interval;
        if (isset(self::$registry[$key])) {
            return self::$registry[$key];
        }
        $ffi = Native::ffi($options['library'] ?? null);
        // The library keeps one source per (path, interval) for the life of
        // the process and returns a pointer to it, so the first open of
        // every php-fpm request (which starts with empty statics) is one
        // lookup: no read and parse, no out-parameter to make, no handle to
        // free when the request ends.
        $source = $ffi->flags_source_shared($path, \strlen($path), $interval);
        if ($source !== null) {
            return self::$registry[$key] = new self($ffi, $source, $path, false);
        }
        // It returns NULL on any failure; the same open with an out-parameter
        // says why. Should the file have become valid in between, that open
        // succeeds and its handle (owned, freed with the object) is used.
        $out = Native::$sourceOut ??= $ffi->new('flags_source *[1]');
        $code = $ffi->flags_source_open_file_shared($path, \strlen($path), $interval, $out, Native::stringOut());
        if ($code !== 0) {
            Native::fail("Cannot open the flag file $path", $code);
        }
        return self::$registry[$key] = new self($ffi, $out[0], $path);
    }

    /**
     * A source over a flag file held in a string (tests, bundled assets).
     * Not cached: every call parses the JSON; the source is released with
     * the returned object.
     *
     * @param array{library?: string} $options
     * @throws FlagsException INVALID_FLAGS (lines name the source <input>)
     */
    public static function fromJson(string $json, array $options = []): self
    {
        self::checkOptions($options, ['library' => true]);
        $ffi = Native::ffi($options['library'] ?? null);
        $out = Native::$sourceOut ??= $ffi->new('flags_source *[1]');
        $code = $ffi->flags_source_open_json($json, \strlen($json), $out, Native::stringOut());
        if ($code !== 0) {
            Native::fail('Invalid flags JSON', $code);
        }
        return new self($ffi, $out[0], '<input>');
    }

    /**
     * A source that follows a flag server: GET /v1/flags with ETag, refreshed
     * on an interval (and on /v1/stream events with 'stream' => true); the
     * last good flags are kept in 'cache_path' and used when the server
     * cannot be reached at start. refresh_interval_ms (default 30000) and
     * timeout_ms (default 5000, per request) are milliseconds from 1 to
     * 4294967295; 0 is refused (leave an option out for its default).
     * Cached per process like open(). A remote
     * source refreshes from a background thread: open it after forking
     * (in the worker), not in a preload script.
     *
     * @param array{cache_path?: string, token?: string, refresh_interval_ms?: int,
     *              timeout_ms?: int, stream?: bool, library?: string} $options
     * @throws FlagsException REMOTE when the server cannot be used and no cache
     *         can be used, INVALID_ARGUMENT for a bad URL or option
     */
    public static function remote(string $url, array $options = []): self
    {
        self::checkOptions($options, self::REMOTE_OPTIONS);
        $opts = $options;
        unset($opts['library']);
        ksort($opts);
        $key = "remote\0" . $url . "\0" . serialize($opts);
        if (isset(self::$registry[$key])) {
            return self::$registry[$key];
        }
        $ffi = Native::ffi($options['library'] ?? null);
        $keep = [];
        $o = self::remoteOptions($ffi, $url, $options, $keep);
        $out = Native::$sourceOut ??= $ffi->new('flags_source *[1]');
        $code = $ffi->flags_source_open_remote(FFI::addr($o), $out, Native::stringOut());
        unset($keep);
        if ($code !== 0) {
            Native::fail("Cannot open the flag server $url", $code);
        }
        return self::$registry[$key] = new self($ffi, $out[0], $url);
    }

    /**
     * The native flags_remote_options for $url and $options (those of
     * remote(), already checked by the caller), its strings kept alive in
     * $keep for the call.
     *
     * @internal shared with Client::open()
     * @param array<string, mixed> $options
     * @param list<CData> $keep
     */
    public static function remoteOptions(FFI $ffi, string $url, array $options, array &$keep): CData
    {
        self::checkOptions($options, self::REMOTE_OPTIONS);
        $o = $ffi->new('flags_remote_options');
        $o->url = self::cString($ffi, $url, 'url', $keep);
        if (isset($options['cache_path'])) {
            $o->cache_path = self::cString($ffi, (string) $options['cache_path'], 'cache_path', $keep);
        }
        if (isset($options['token'])) {
            $o->token = self::cString($ffi, (string) $options['token'], 'token', $keep);
        }
        foreach (['refresh_interval_ms', 'timeout_ms'] as $name) {
            // Left out (or null): 0, the C ABI's "default".
            $o->{$name} = isset($options[$name]) ? self::milliseconds($options, $name) : 0;
        }
        $o->stream = (bool) ($options['stream'] ?? false);
        return $o;
    }

    /**
     * A scoped view for one context: the native context is built once and
     * used for every evaluation through the returned object.
     *
     * @param array<string, string|int|bool|null> $context
     */
    public function for(array $context): Scoped
    {
        return new Scoped($this, Context::fromArray($this->ffi, $context));
    }

    /**
     * Whether $flag is on for $context. Never throws: false for an unknown
     * flag or an invalid context.
     *
     * Context values: strings as they are, integers as decimal text (42 and
     * "42" agree), booleans as "true"/"false", null as absent; anything else
     * makes the context invalid.
     *
     * @param array<string, string|int|bool|null> $context
     */
    public function isEnabled(string $flag, array $context = []): bool
    {
        if ($context === []) {
            return $this->ffi->flags_is_enabled($this->source, $flag, \strlen($flag), null);
        }
        if ($context !== $this->lastArray) {
            $this->remember($context);
        }
        $ctx = $this->lastContext->ptr;
        return $ctx !== null && $this->ffi->flags_is_enabled($this->source, $flag, \strlen($flag), $ctx);
    }

    /**
     * The variant $flag serves for $context, or null (off, or no variants).
     *
     * @param array<string, string|int|bool|null> $context
     */
    public function variant(string $flag, array $context = []): ?string
    {
        return $this->evaluate($flag, $context)->variant;
    }

    /**
     * The detail of one evaluation: enabled, variant, reason, bucket.
     *
     * @param array<string, string|int|bool|null> $context
     */
    public function evaluate(string $flag, array $context = []): Evaluation
    {
        return $this->evaluateWith($flag, $context, null);
    }

    /**
     * evaluate() at a given time instead of now (for schedules and ramps:
     * tests and previews).
     *
     * @param array<string, string|int|bool|null> $context
     */
    public function evaluateAt(string $flag, array $context, \DateTimeInterface $now): Evaluation
    {
        return $this->evaluateWith($flag, $context, Native::unixMillis($now));
    }

    /**
     * The keys of the flags that are on for $context, in key order.
     *
     * @param array<string, string|int|bool|null> $context
     * @return list<string>
     */
    public function enabledFlags(array $context = []): array
    {
        $ctx = $this->contextOf($context);
        if ($ctx !== null && $ctx->ptr === null) {
            return [];
        }
        return Native::enabledFlags($this->source, $ctx?->ptr);
    }

    /**
     * Every flag evaluated for $context, by key, in key order.
     *
     * @param array<string, string|int|bool|null> $context
     * @return array<string, Evaluation>
     */
    public function evaluateAll(array $context = []): array
    {
        $ctx = $this->contextOf($context);
        if ($ctx !== null && $ctx->ptr === null) {
            return [];
        }
        return Native::evaluateAll($this->source, $ctx?->ptr, null);
    }

    /** The version (content hash) of the flags being served. */
    public function version(): string
    {
        $code = $this->ffi->flags_source_version($this->source, Native::stringOut());
        return $code === 0 ? (string) Native::takeString() : '';
    }

    /** How many times new flags were swapped in since opening. */
    public function generation(): int
    {
        return $this->ffi->flags_source_generation($this->source);
    }

    /**
     * The source's health: version, healthy, stale (a remote source serving
     * its cache file because the server could not be used yet), last_error,
     * reloads, failures, kind ("file", "json" or "remote").
     *
     * @return array<string, mixed>
     */
    public function status(): array
    {
        $code = $this->ffi->flags_source_status_json($this->source, Native::stringOut());
        $json = Native::takeString();
        return $code === 0 && $json !== null ? json_decode($json, true, 8, JSON_THROW_ON_ERROR) : [];
    }

    /** The file path, server URL or "<input>" this source reads. */
    public function source(): string
    {
        return $this->description;
    }

    /** The native library's version, e.g. "0.1.0". */
    public static function libraryVersion(): string
    {
        return Native::ffi()->flags_library_version();
    }

    /**
     * Forgets the cached sources of this process (or request): the next
     * open() opens again. Objects already handed out keep working.
     */
    public static function clearCache(): void
    {
        self::$registry = [];
    }

    /**
     * Releases the native source, unless it is the library's
     * process-lifetime one from open(), which this object only stops using
     * (under php-fpm, at the end of every request: no native call then).
     */
    public function __destruct()
    {
        if ($this->source !== null) {
            if ($this->owned) {
                $this->ffi->flags_source_free($this->source);
            }
            $this->source = null;
        }
    }

    /**
     * Refuses to clone: the copy would share the native source, and the
     * first of the two to be destroyed would free it under the other (a
     * use after free, then a double free). Share the object itself: it is
     * safe to use from anywhere in the process.
     *
     * @throws \LogicException always
     */
    public function __clone()
    {
        // PHP runs the destructor of the copy when this throws: leave it
        // nothing to free.
        $this->source = null;
        $this->owned = false;
        $this->lastArray = null;
        $this->lastContext = null;
        throw new \LogicException(
            'A ' . self::class . ' object cannot be cloned: it holds a native flag source, released with the '
            . 'object. Share the object itself (it is safe to share), or open the source again.',
        );
    }

    /** @param array<string, string|int|bool|null> $context */
    private function evaluateWith(string $flag, array $context, ?int $nowMs): Evaluation
    {
        $ctx = $this->contextOf($context);
        if ($ctx !== null && $ctx->ptr === null) {
            return new Evaluation(false, null, Evaluation::INVALID_CONTEXT, null, $ctx->error ?? 'released');
        }
        return Native::evaluate($this->source, $flag, $ctx?->ptr, $nowMs);
    }

    private function contextOf(array $context): ?Context
    {
        if ($context === []) {
            return null;
        }
        if ($context !== $this->lastArray) {
            $this->remember($context);
        }
        return $this->lastContext;
    }

    private function remember(array $context): void
    {
        $this->lastContext = Context::fromArray($this->ffi, $context);
        $this->lastArray = $context;
    }

    /**
     * $path made absolute against the working directory, without "." segments
     * and repeated slashes. Symlinks and ".." are left alone: resolving them
     * would pin the target of a symlink that may be swapped later.
     */
    private static function absolutePath(string $path): string
    {
        if ($path === '' || $path[0] !== '/') {
            $cwd = getcwd();
            $path = ($cwd === false ? '' : $cwd) . '/' . $path;
        }
        if (str_contains($path, '//') || str_contains($path, '/./') || str_ends_with($path, '/.')) {
            $kept = [];
            foreach (explode('/', $path) as $segment) {
                if ($segment !== '' && $segment !== '.') {
                    $kept[] = $segment;
                }
            }
            $path = '/' . implode('/', $kept);
        }
        return $path;
    }

    /** @param array<string, true> $known */
    private static function checkOptions(array $options, array $known): void
    {
        foreach ($options as $name => $_) {
            if (!isset($known[$name])) {
                throw new FlagsException(
                    "Unknown option \"$name\"; known options: " . implode(', ', array_keys($known)),
                    FlagsException::INVALID_ARGUMENT,
                );
            }
        }
    }

    /**
     * Checks open()'s options and gives check_interval_ms.
     *
     * @param array<string, mixed> $options
     */
    private static function checkInterval(array $options): int
    {
        self::checkOptions($options, self::OPEN_OPTIONS);
        return isset($options['check_interval_ms'])
            ? self::milliseconds($options, 'check_interval_ms')
            : self::DEFAULT_MS['check_interval_ms'];
    }

    /**
     * The option $name, checked: an integer from 1 to 4294967295. 0 is
     * refused rather than read as the C ABI's "the default": an option
     * that is left out already means that.
     *
     * @param array<string, mixed> $options
     */
    private static function milliseconds(array $options, string $name): int
    {
        $value = $options[$name];
        if (\is_int($value) && $value >= 1 && $value <= 0xFFFFFFFF) {
            return $value;
        }
        throw new FlagsException(
            "$name must be an integer from 1 to 4294967295 (milliseconds), found "
            . (\is_scalar($value) ? var_export($value, true) : get_debug_type($value))
            . '; leave it out for the default, ' . self::DEFAULT_MS[$name],
            FlagsException::INVALID_ARGUMENT,
        );
    }

    /** A NUL-terminated copy of $text, kept alive in $keep for the call. */
    private static function cString(FFI $ffi, string $text, string $name, array &$keep): CData
    {
        if (str_contains($text, "\0")) {
            throw new FlagsException("$name contains a NUL byte", FlagsException::INVALID_ARGUMENT);
        }
        $length = \strlen($text);
        $buffer = $ffi->new('char[' . ($length + 1) . ']');
        if ($length > 0) {
            FFI::memcpy($buffer, $text, $length);
        }
        $keep[] = $buffer;
        return FFI::addr($buffer[0]);
    }
}
