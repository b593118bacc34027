<?php

declare(strict_types=1);

namespace Flags\Internal;

use FFI;
use FFI\CData;
use Flags\Evaluation;
use Flags\FlagsException;

/**
 * The loaded library, as static state: one per process in the CLI and in
 * long-running workers, one per request under php-fpm (PHP resets static
 * properties between requests; the library itself stays loaded when
 * preloaded). Static rather than an object because under php-fpm it is
 * set up again in every request, and there every object and every call
 * on the way to the first flag costs microseconds (see
 * tests/e2e/app.php's timings).
 *
 * Every FFI API call of the package happens in this class or in another
 * class of this package, so that preloading the package is enough to use
 * FFI under ffi.enable=preload.
 *
 * @internal
 */
final class Native
{
    /** The FFI scope name the generated preload header declares. */
    public const SCOPE = 'flags';

    /** The loaded library; null until ffi() loads it. */
    public static ?FFI $ffi = null;

    /** "scope" (preloaded with ffi.preload) or "cdef"; "" until loaded. */
    public static string $mode = '';

    /** The library file, or null when it came from a preloaded scope. */
    public static ?string $library = null;

    /**
     * Reusable out-parameters, made on first use (under php-fpm every
     * request starts without them). Each is a one-element array, which FFI
     * passes as a pointer to its element (no FFI::addr() object), and
     * reading `[0]` copies the written pointer into a CData of its own
     * (or gives null for NULL), so one cell serves every open of a request.
     *
     * @var CData|null `flags_source *[1]`
     */
    public static ?CData $sourceOut = null;
    /** @var CData|null `flags_context *[1]` */
    public static ?CData $contextOut = null;
    /** @var CData|null `char *[1]`: an owned string or an error message */
    private static ?CData $string = null;
    /** @var CData|null `char *[1]`: the error message of a call that also has a `char **out` */
    private static ?CData $error = null;
    private static ?CData $evaluation = null;
    private static ?CData $evaluationPtr = null;

    /** @var array<string, mixed>|null|false false: not read yet */
    private static array|null|false $config = false;

    private function __construct()
    {
    }

    /**
     * The loaded library; loads it on first use.
     *
     * @param string|null $library a libflags_ffi.so to load instead of the
     *                             installed one (ignored when preloaded)
     */
    public static function ffi(?string $library = null): FFI
    {
        $ffi = self::$ffi;
        if ($ffi === null) {
            // The php-fpm case first, without asking the ini settings: this
            // runs at the first use of every request there.
            try {
                $ffi = FFI::scope(self::SCOPE);
                self::$mode = 'scope';
            } catch (\Throwable $e) {
                $ffi = self::load($library, $e);
            }
            return self::$ffi = $ffi;
        }
        if ($library !== null && self::$mode === 'cdef' && self::$library !== self::absolute($library)) {
            throw new FlagsException(
                'The flags library is already loaded from ' . self::$library . '; a process loads one library ('
                . "asked for $library)",
                FlagsException::LIBRARY,
            );
        }
        return $ffi;
    }

    /** The generated install configuration (build/config.php), if any. */
    public static function config(): ?array
    {
        if (self::$config === false) {
            $file = dirname(__DIR__, 2) . '/build/config.php';
            self::$config = is_file($file) ? (require $file) : null;
        }
        return self::$config;
    }

    /** Loads the library when there is no preloaded scope ($noScope says why not). */
    private static function load(?string $library, \Throwable $noScope): FFI
    {
        $scopeError = $noScope->getMessage();
        if (!extension_loaded('ffi')) {
            throw new FlagsException(
                'The PHP FFI extension is not loaded: install or enable ext-ffi (Debian: php8.2-cli has it).',
                FlagsException::LIBRARY,
            );
        }
        $enable = strtolower(trim((string) ini_get('ffi.enable')));
        if (in_array($enable, ['', '0', 'off', 'false', 'no'], true)) {
            throw new FlagsException(
                "FFI is disabled (ffi.enable=$enable): set ffi.enable=preload and preload this package "
                . '(see bindings/php/README.md), or ffi.enable=true.',
                FlagsException::LIBRARY,
            );
        }
        if ((string) ini_get('ffi.preload') === '') {
            $scopeError = null;
        }
        if ($enable === 'preload' && PHP_SAPI !== 'cli' && PHP_SAPI !== 'phpdbg') {
            throw new FlagsException(
                'FFI is restricted to preloaded code here (ffi.enable=preload under ' . PHP_SAPI . ') and the "'
                . self::SCOPE . '" FFI scope is not loaded'
                . ($scopeError === null ? ' (ffi.preload is not set)' : " ($scopeError)")
                . ': run bin/flags-php-install and add the php.ini lines it prints '
                . '(opcache.preload, ffi.preload, opcache.preload_user, ffi.enable=preload), or set ffi.enable=true.',
                FlagsException::LIBRARY,
            );
        }

        $config = self::config();
        $env = getenv('FLAGS_FFI_LIB');
        $library ??= ($env !== false && $env !== '') ? $env : ($config['library'] ?? null);
        if ($library === null) {
            throw new FlagsException(
                'The flags native library was not found: build it with `cargo build -p flags-ffi --release` '
                . 'and run bindings/php/bin/flags-php-install (it records the library\'s absolute path in '
                . 'build/config.php), or set FLAGS_FFI_LIB to the path of libflags_ffi.so.',
                FlagsException::LIBRARY,
            );
        }
        $library = self::absolute($library);
        if (!is_file($library)) {
            throw new FlagsException(
                "The flags native library $library does not exist: build it with `cargo build -p flags-ffi "
                . '--release` and run bindings/php/bin/flags-php-install, or set FLAGS_FFI_LIB.',
                FlagsException::LIBRARY,
            );
        }
        $env = getenv('FLAGS_FFI_HEADER');
        $header = ($env !== false && $env !== '') ? $env : ($config['header'] ?? null);
        $header ??= dirname(__DIR__, 4) . '/flags-ffi/include/flags_php.h';
        $text = is_file($header) ? file_get_contents($header) : false;
        if ($text === false) {
            throw new FlagsException(
                "The flags PHP header $header cannot be read: run bindings/php/bin/flags-php-install, "
                . 'or set FLAGS_FFI_HEADER to flags-ffi/include/flags_php.h.',
                FlagsException::LIBRARY,
            );
        }
        try {
            $ffi = FFI::cdef($text, $library);
        } catch (\FFI\Exception $e) {
            throw new FlagsException(
                "FFI could not load $library with the header $header: " . $e->getMessage(),
                FlagsException::LIBRARY,
                '',
                $e,
            );
        }
        self::$mode = 'cdef';
        self::$library = $library;
        return $ffi;
    }

    private static function absolute(string $path): string
    {
        $real = realpath($path);
        return $real === false ? $path : $real;
    }

    /**
     * Reads and frees the `char *` the last call wrote through
     * stringOut(); null when it wrote NULL.
     */
    public static function takeString(): ?string
    {
        $string = self::$string === null ? null : self::$string[0];
        if ($string === null) {
            return null;
        }
        self::$string[0] = null;
        $text = FFI::string($string);
        self::$ffi->flags_string_free($string);
        return $text;
    }

    /** The reusable `char *` out-parameter (a `char *[1]`, passed as `char **`). */
    public static function stringOut(): CData
    {
        return self::$string ??= self::$ffi->new('char *[1]');
    }

    /** A second reusable `char *` out-parameter, for `error_out` beside `out`. */
    public static function errorOut(): CData
    {
        return self::$error ??= self::$ffi->new('char *[1]');
    }

    /** Reads and frees the `char *` the last call wrote through errorOut(); null for NULL. */
    public static function takeError(): ?string
    {
        $string = self::$error === null ? null : self::$error[0];
        if ($string === null) {
            return null;
        }
        self::$error[0] = null;
        $text = FFI::string($string);
        self::$ffi->flags_string_free($string);
        return $text;
    }

    /**
     * Turns a failed open into an exception.
     *
     * @return never
     */
    public static function fail(string $what, int $code): void
    {
        $detail = (string) self::takeString();
        $message = self::$ffi->flags_result_message($code);
        throw new FlagsException("$what: $message", $code, $detail);
    }

    /**
     * One evaluation, with the detail. Never throws.
     */
    public static function evaluate(?CData $source, string $flag, ?CData $context, ?int $nowMs): Evaluation
    {
        $ffi = self::$ffi;
        if (self::$evaluation === null) {
            self::$evaluation = $ffi->new('flags_evaluation');
            self::$evaluationPtr = FFI::addr(self::$evaluation);
        }
        $ev = self::$evaluation;
        $code = $nowMs === null
            ? $ffi->flags_evaluate($source, $flag, \strlen($flag), $context, self::$evaluationPtr)
            : $ffi->flags_evaluate_at($source, $flag, \strlen($flag), $context, $nowMs, self::$evaluationPtr);
        $variant = $ev->variant;
        if ($variant !== null && !FFI::isNull($variant)) {
            $variant = FFI::string($variant);
            $ffi->flags_evaluation_clear(self::$evaluationPtr);
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
     * Every flag for a context, decoded from flags_evaluate_all_json.
     *
     * @return array<string, Evaluation> by flag key, in key order
     */
    public static function evaluateAll(?CData $source, ?CData $context, ?int $nowMs): array
    {
        $code = $nowMs === null
            ? self::$ffi->flags_evaluate_all_json($source, $context, self::stringOut())
            : self::$ffi->flags_evaluate_all_json_at($source, $context, $nowMs, self::stringOut());
        $json = self::takeString();
        if ($code !== 0 || $json === null) {
            return [];
        }
        $all = [];
        foreach (json_decode($json, true, 8, JSON_THROW_ON_ERROR) as $row) {
            $all[(string) $row['flag']] = new Evaluation(
                (bool) $row['enabled'],
                $row['variant'] ?? null,
                (string) $row['reason'],
                $row['bucket'] ?? null,
            );
        }
        return $all;
    }

    /**
     * The keys of the flags that are on for a context, in key order.
     *
     * @return list<string>
     */
    public static function enabledFlags(?CData $source, ?CData $context): array
    {
        $code = self::$ffi->flags_evaluate_all_json($source, $context, self::stringOut());
        $json = self::takeString();
        if ($code !== 0 || $json === null) {
            return [];
        }
        $keys = [];
        foreach (json_decode($json, true, 8, JSON_THROW_ON_ERROR) as $row) {
            if ($row['enabled']) {
                $keys[] = (string) $row['flag'];
            }
        }
        return $keys;
    }

    /** Unix milliseconds of a point in time. */
    public static function unixMillis(\DateTimeInterface $now): int
    {
        return $now->getTimestamp() * 1000 + intdiv((int) $now->format('u'), 1000);
    }
}
