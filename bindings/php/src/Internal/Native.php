<?php

declare(strict_types=1);

namespace Flags\Internal;

use FFI;
use FFI\CData;
use Flags\Evaluation;
use Flags\FlagsException;

/**
 * The loaded library: one per process in the CLI and in long-running
 * workers, one per request under php-fpm (PHP resets static properties
 * between requests; the library itself stays loaded when preloaded).
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

    private static ?Native $instance = null;

    /** @var array<string, mixed>|null|false false: not read yet */
    private static array|null|false $config = false;

    /**
     * Reusable out-parameters, made on first use: under php-fpm every
     * request starts without them, and the first use of an FFI type in a
     * request costs microseconds.
     */
    private ?CData $evaluation = null;
    private ?CData $evaluationPtr = null;
    private ?CData $string = null;
    private ?CData $stringPtr = null;
    private ?\FFI\CType $contextType = null;
    private ?\FFI\CType $sourceType = null;

    private function __construct(
        public readonly FFI $ffi,
        /** "scope" (preloaded with ffi.preload) or "cdef" */
        public readonly string $mode,
        /** the library file, or null when it came from a preloaded scope */
        public readonly ?string $library,
    ) {
    }

    /**
     * The loaded library; loads it on first use.
     *
     * @param string|null $library a libflags_ffi.so to load instead of the
     *                             installed one (ignored when preloaded)
     */
    public static function get(?string $library = null): self
    {
        $native = self::$instance ??= self::load($library);
        if ($library !== null && $native->mode === 'cdef' && $native->library !== self::absolute($library)) {
            throw new FlagsException(
                "The flags library is already loaded from {$native->library}; a process loads one library ("
                . "asked for $library)",
                FlagsException::LIBRARY,
            );
        }
        return $native;
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

    private static function load(?string $library): self
    {
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
        $scopeError = null;
        if ((string) ini_get('ffi.preload') !== '') {
            try {
                return new self(FFI::scope(self::SCOPE), 'scope', null);
            } catch (\FFI\Exception $e) {
                $scopeError = $e->getMessage();
            }
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
        return new self($ffi, 'cdef', $library);
    }

    private static function absolute(string $path): string
    {
        $real = realpath($path);
        return $real === false ? $path : $real;
    }

    /**
     * Reads and frees the `char *` the last call wrote through
     * $this->stringPtr; null when it wrote NULL.
     */
    public function takeString(): ?string
    {
        $string = $this->string;
        if ($string === null || FFI::isNull($string)) {
            return null;
        }
        $text = FFI::string($string);
        $this->ffi->flags_string_free($string);
        return $text;
    }

    /** The address of the reusable `char *` out-parameter. */
    public function stringOut(): CData
    {
        if ($this->stringPtr === null) {
            $this->string = $this->ffi->new('char *');
            $this->stringPtr = FFI::addr($this->string);
        }
        return $this->stringPtr;
    }

    /** A fresh `flags_source *` cell and its address, for an open call. */
    public function newSourceCell(): array
    {
        $cell = $this->ffi->new($this->sourceType ??= $this->ffi->type('flags_source *'));
        return [$cell, FFI::addr($cell)];
    }

    /** A fresh `flags_context *` cell and its address. */
    public function newContextCell(): array
    {
        $cell = $this->ffi->new($this->contextType ??= $this->ffi->type('flags_context *'));
        return [$cell, FFI::addr($cell)];
    }

    /**
     * Turns a failed open into an exception.
     *
     * @return never
     */
    public function fail(string $what, int $code): void
    {
        $detail = (string) $this->takeString();
        $message = $this->ffi->flags_result_message($code);
        throw new FlagsException("$what: $message", $code, $detail);
    }

    /**
     * One evaluation, with the detail. Never throws.
     */
    public function evaluate(?CData $source, string $flag, ?CData $context, ?int $nowMs): Evaluation
    {
        if ($this->evaluation === null) {
            $this->evaluation = $this->ffi->new('flags_evaluation');
            $this->evaluationPtr = FFI::addr($this->evaluation);
        }
        $ev = $this->evaluation;
        $code = $nowMs === null
            ? $this->ffi->flags_evaluate($source, $flag, \strlen($flag), $context, $this->evaluationPtr)
            : $this->ffi->flags_evaluate_at($source, $flag, \strlen($flag), $context, $nowMs, $this->evaluationPtr);
        $variant = $ev->variant;
        if ($variant !== null && !FFI::isNull($variant)) {
            $variant = FFI::string($variant);
            $this->ffi->flags_evaluation_clear($this->evaluationPtr);
        } else {
            $variant = null;
        }
        $reason = $ev->reason;
        $bucket = $ev->bucket;
        return new Evaluation(
            $ev->enabled,
            $variant,
            Evaluation::REASONS[$reason] ?? $this->ffi->flags_reason_name($reason),
            $bucket < 0 ? null : $bucket,
            $code === 0 ? null : $this->ffi->flags_result_message($code),
        );
    }

    /**
     * Every flag for a context, decoded from flags_evaluate_all_json.
     *
     * @return array<string, Evaluation> by flag key, in key order
     */
    public function evaluateAll(?CData $source, ?CData $context, ?int $nowMs): array
    {
        $code = $nowMs === null
            ? $this->ffi->flags_evaluate_all_json($source, $context, $this->stringOut())
            : $this->ffi->flags_evaluate_all_json_at($source, $context, $nowMs, $this->stringOut());
        $json = $this->takeString();
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
    public function enabledFlags(?CData $source, ?CData $context): array
    {
        $code = $this->ffi->flags_evaluate_all_json($source, $context, $this->stringOut());
        $json = $this->takeString();
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
