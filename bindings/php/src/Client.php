<?php

declare(strict_types=1);

namespace Flags;

use FFI;
use FFI\CData;
use Flags\Internal\Context;
use Flags\Internal\Native;

/**
 * The client mode: a flag server's answers for one context, for PHP code
 * that must not hold the flag file and its pilot lists (a frontend tier,
 * a worker facing the public), and whose token may therefore only
 * evaluate (a `client`-scoped token of `flags serve`).
 *
 * ```php
 * $client = Flags\Client::open('https://flags.internal/', ['user_id' => 42], [
 *     'token' => getenv('FLAGS_CLIENT_TOKEN'),
 *     'cache_path' => '/var/cache/myapp/flags-client.json',
 * ]);
 * if ($client->isEnabled('new_checkout')) { ... }
 * $client->setContext(['user_id' => 7]);   // another user: asked at once
 * ```
 *
 * The server evaluates (POST /ofrep/v1/evaluate/flags with the context,
 * with ETags); a background thread of the library asks again every
 * refresh_interval_ms and when /v1/stream announces a change (with
 * 'stream' => true). Reading an answer makes no request and never throws:
 * a flag the server did not answer is off. The last good answers are
 * kept when the server fails, and in cache_path for an offline start,
 * only ever for the context they were evaluated for.
 *
 * Not cached per process (each object is one context). It starts a
 * thread: open it in the worker, after any fork, not in a preload script.
 */
final class Client
{
    /** @var CData|null `bool[1]` for flags_client_refresh */
    private ?CData $changed = null;
    private ?CData $evaluation = null;

    private function __construct(
        private FFI $ffi,
        /** the native client; null once released */
        private ?CData $client,
        private string $url,
    ) {
    }

    /**
     * Asks the server at $url for the answers for $context and keeps them
     * up to date. Blocks for the first answer (at most timeout_ms). When
     * the server cannot be used, starts from cache_path's answers for the
     * same context (status(): healthy false, stale true, last_error says
     * why).
     *
     * @param array<string, string|int|bool|null> $context as for Flags::isEnabled()
     * @param array{cache_path?: string, token?: string, refresh_interval_ms?: int,
     *              timeout_ms?: int, stream?: bool, library?: string} $options as for
     *        Flags::remote() (stream defaults to false here too)
     * @throws FlagsException REMOTE when the server cannot be used and no cache for
     *         this context can be, INVALID_ARGUMENT for a bad URL or option,
     *         INVALID_CONTEXT for a context that cannot be attributes
     */
    public static function open(string $url, array $context = [], array $options = []): self
    {
        $ffi = Native::ffi($options['library'] ?? null);
        $keep = [];
        $o = Flags::remoteOptions($ffi, $url, $options, $keep);
        $ctx = self::context($ffi, $context);
        $out = $ffi->new('flags_client *[1]');
        $code = $ffi->flags_client_open(FFI::addr($o), $ctx?->ptr, $out, Native::stringOut());
        unset($keep, $ctx);
        if ($code !== 0) {
            Native::fail("Cannot open the flag server $url as a client", $code);
        }
        return new self($ffi, $out[0], $url);
    }

    /** Whether the server answered true for $flag. No request; never throws. */
    public function isEnabled(string $flag): bool
    {
        return $this->ffi->flags_client_is_enabled($this->handle(), $flag, \strlen($flag));
    }

    /** The variant the server named for $flag, or null. No request. */
    public function variant(string $flag): ?string
    {
        $code = $this->ffi->flags_client_variant($this->handle(), $flag, \strlen($flag), Native::stringOut());
        $variant = Native::takeString();
        return $code === 0 ? $variant : null;
    }

    /**
     * The answer for $flag: enabled, variant, reason (the server's exact
     * flags reason; FLAG_NOT_FOUND when it did not answer the flag; UNKNOWN
     * when it gave none) and bucket. No request; never throws.
     */
    public function evaluate(string $flag): Evaluation
    {
        $ffi = $this->ffi;
        $ev = $this->evaluation ??= $ffi->new('flags_evaluation');
        $code = $ffi->flags_client_evaluate($this->handle(), $flag, \strlen($flag), FFI::addr($ev));
        $variant = $ev->variant;
        if ($variant !== null && !FFI::isNull($variant)) {
            $variant = FFI::string($variant);
            $ffi->flags_evaluation_clear(FFI::addr($ev));
        } else {
            $variant = null;
        }
        $reason = $ev->reason;
        $bucket = $ev->bucket;
        return new Evaluation(
            $ev->enabled,
            $variant,
            Evaluation::REASONS[$reason] ?? $ffi->flags_reason_name($reason),
            $bucket < 0 ? null : $bucket,
            $code === 0 ? null : $ffi->flags_result_message($code),
        );
    }

    /**
     * Asks about $context from now on, at once, and waits for the answer.
     * Until it arrives the old answers are served; if it cannot be had, no
     * answers are served (every flag off) until a later refresh gets them,
     * never the old context's.
     *
     * @param array<string, string|int|bool|null> $context
     * @throws FlagsException REMOTE when the server could not be used,
     *         INVALID_CONTEXT for a context that cannot be attributes
     */
    public function setContext(array $context): void
    {
        $ctx = self::context($this->ffi, $context);
        $code = $this->ffi->flags_client_set_context($this->handle(), $ctx?->ptr, Native::stringOut());
        if ($code !== 0) {
            Native::fail("Cannot get the answers for the new context from {$this->url}", $code);
        }
    }

    /**
     * Asks the server now and waits for the answer: true when the answers
     * changed.
     *
     * @throws FlagsException REMOTE when the server could not be used (the
     *         last good answers stay)
     */
    public function refresh(): bool
    {
        $changed = $this->changed ??= $this->ffi->new('bool[1]');
        $code = $this->ffi->flags_client_refresh($this->handle(), $changed, Native::stringOut());
        if ($code !== 0) {
            Native::fail("Cannot refresh from {$this->url}", $code);
        }
        return (bool) $changed[0];
    }

    /**
     * The client's health: version (content hash of the answers served),
     * healthy, stale (serving the cache file because the server could not
     * be used yet), last_error, reloads, failures, kind ("client").
     *
     * @return array<string, mixed>
     */
    public function status(): array
    {
        $code = $this->ffi->flags_client_status_json($this->handle(), Native::stringOut());
        $json = Native::takeString();
        return $code === 0 && $json !== null ? json_decode($json, true, 8, JSON_THROW_ON_ERROR) : [];
    }

    /** The content hash of the answers served ("" when there are none). */
    public function version(): string
    {
        $code = $this->ffi->flags_client_version($this->handle(), Native::stringOut());
        return $code === 0 ? (string) Native::takeString() : '';
    }

    /** How many times new answers were swapped in since opening. */
    public function generation(): int
    {
        return $this->ffi->flags_client_generation($this->handle());
    }

    /** The server URL, as given. */
    public function url(): string
    {
        return $this->url;
    }

    /** Releases the native client and stops its thread. */
    public function __destruct()
    {
        if ($this->client !== null) {
            $this->ffi->flags_client_free($this->client);
            $this->client = null;
        }
    }

    /**
     * Refuses to clone: the copy would share the native client, and the
     * first of the two to be destroyed would free it under the other.
     *
     * @throws \LogicException always
     */
    public function __clone()
    {
        $this->client = null;
        throw new \LogicException(
            'A ' . self::class . ' object cannot be cloned: it holds a native client, released with the '
            . 'object. Share the object itself, or open another one.',
        );
    }

    private function handle(): CData
    {
        return $this->client ?? throw new \LogicException('this ' . self::class . ' was released');
    }

    /**
     * The native context of $context (null for the empty one).
     *
     * @param array<string, string|int|bool|null> $context
     */
    private static function context(FFI $ffi, array $context): ?Context
    {
        if ($context === []) {
            return null;
        }
        $ctx = Context::fromArray($ffi, $context);
        if ($ctx->ptr === null) {
            throw new FlagsException(
                'Invalid context for the flags client',
                FlagsException::INVALID_CONTEXT,
                (string) $ctx->error,
            );
        }
        return $ctx;
    }
}
