<?php

declare(strict_types=1);

namespace Flags;

/**
 * Thrown when a source cannot be opened, an edit of a flag file fails
 * (FlagFile), or the native library cannot be loaded. Evaluation never
 * throws.
 *
 * The code is the library's stable result code (the FLAGS_ERROR_* numbers
 * of flags.h), or LIBRARY (-1) when the library itself could not be loaded.
 * The message starts with one summary line; for INVALID_FLAGS and
 * INVALID_CONTEXT every problem follows on its own line as
 * `SOURCE:LINE:COL: PATH: message` (also given by getDiagnostics()).
 */
class FlagsException extends \RuntimeException
{
    /** The native library or its header could not be found or loaded (PHP side). */
    public const LIBRARY = -1;
    public const NULL_ARGUMENT = 1;
    public const INVALID_UTF8 = 2;
    /** The flag file or JSON failed validation. */
    public const INVALID_FLAGS = 3;
    /** The flag file could not be read. */
    public const IO = 4;
    public const INVALID_CONTEXT = 5;
    /** The flag server could not be used (unreachable, refused the token, or a bad answer) and no cache could be used. */
    public const REMOTE = 6;
    /** A bad option, URL or attribute name; an edit that cannot be made (an unknown flag). */
    public const INVALID_ARGUMENT = 7;
    /** An internal bug, caught at the library boundary. */
    public const PANIC = 8;
    /**
     * An edit (FlagFile) found the file changed since it read it, or another
     * edit held it longer than the wait: nothing was written; run it again.
     */
    public const CONFLICT = 9;

    private const NAMES = [
        self::LIBRARY => 'LIBRARY',
        0 => 'OK',
        self::NULL_ARGUMENT => 'NULL_ARGUMENT',
        self::INVALID_UTF8 => 'INVALID_UTF8',
        self::INVALID_FLAGS => 'INVALID_FLAGS',
        self::IO => 'IO',
        self::INVALID_CONTEXT => 'INVALID_CONTEXT',
        self::REMOTE => 'REMOTE',
        self::INVALID_ARGUMENT => 'INVALID_ARGUMENT',
        self::PANIC => 'PANIC',
        self::CONFLICT => 'CONFLICT',
    ];

    /** @var list<string> */
    private array $diagnostics;

    /**
     * @param string $detail the library's message: one diagnostic per line
     * @internal
     */
    public function __construct(string $summary, int $code, string $detail = '', ?\Throwable $previous = null)
    {
        $detail = trim($detail);
        $this->diagnostics = $detail === '' ? [] : explode("\n", $detail);
        parent::__construct($detail === '' ? $summary : $summary . "\n" . $detail, $code, $previous);
    }

    /** The name of the result code: "INVALID_FLAGS", "IO", ... */
    public function getResultName(): string
    {
        return self::NAMES[$this->getCode()] ?? 'UNKNOWN';
    }

    /**
     * The library's diagnostic lines (`SOURCE:LINE:COL: PATH: message` for
     * validation errors), without the summary line.
     *
     * @return list<string>
     */
    public function getDiagnostics(): array
    {
        return $this->diagnostics;
    }
}
