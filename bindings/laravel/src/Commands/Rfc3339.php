<?php

declare(strict_types=1);

namespace Flags\Laravel\Commands;

/**
 * `--now` values: an RFC 3339 time with an explicit offset, as the flag
 * file's ramp times and `flags status --now` take them.
 *
 * @internal
 */
final class Rfc3339
{
    public const EXPECTED = 'expected an RFC 3339 time with an offset, such as 2026-11-21T12:00:00Z';

    public static function parse(string $text): ?\DateTimeImmutable
    {
        if (!preg_match('/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$/', $text)) {
            return null;
        }
        $time = \DateTimeImmutable::createFromFormat(str_contains($text, '.') ? 'Y-m-d\TH:i:s.uP' : 'Y-m-d\TH:i:sP', $text);
        $errors = \DateTimeImmutable::getLastErrors();
        return $time === false || ($errors !== false && $errors['warning_count'] > 0) ? null : $time;
    }

    /**
     * A command's `--now`: null when not given, false (after telling
     * `$error` why) when it is not an RFC 3339 time.
     *
     * @param \Closure(string): void $error
     */
    public static function option(mixed $value, \Closure $error): \DateTimeImmutable|false|null
    {
        if ($value === null) {
            return null;
        }
        $now = self::parse((string) $value);
        if ($now === null) {
            $error('--now: ' . self::EXPECTED . ', found "' . $value . '"');
            return false;
        }
        return $now;
    }
}
