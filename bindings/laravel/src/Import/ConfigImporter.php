<?php

declare(strict_types=1);

namespace Flags\Laravel\Import;

/**
 * Turns a runbook-style config/features.php into a flag file.
 *
 * Shapes understood, per feature key:
 *   'x' => true | false                      on / off for everyone (100% / 0%)
 *   'x' => [
 *       'enabled' => bool,                   false: the flag is killed (off for
 *                                            everyone, pilots included; its
 *                                            pilots and percentage are kept)
 *       'pilot_user_ids' => [1, 2, ...],     pilots by user_id (exactly the same users)
 *       'rollout_percentage' => 0..100,      the share of users, at most two decimals
 *                                            (default 100: "enabled" means everyone)
 *       'description' => '...', 'owner' => '...',
 *   ]
 * Anything else is refused with a message naming the key.
 */
final class ConfigImporter
{
    public const KNOWN = ['enabled', 'pilot_user_ids', 'rollout_percentage', 'description', 'owner'];

    /**
     * The flag file's text for $features (config('features')).
     *
     * @param array<mixed> $features
     * @param string $name the config key, for messages ("features")
     * @throws \InvalidArgumentException naming the first bad key and what was expected
     */
    public static function toFlagFile(array $features, string $name = 'features'): string
    {
        $flags = [];
        foreach ($features as $key => $feature) {
            $key = (string) $key;
            $path = "$name.$key";
            if (!preg_match('/^[A-Za-z0-9_.-]{1,128}$/', $key)) {
                throw new \InvalidArgumentException(
                    "$path: a flag key is 1 to 128 characters, each one of A-Z a-z 0-9 _ - . (rename the feature)",
                );
            }
            $flags[$key] = self::flag($feature, $path);
        }
        $file = ['version' => 1, 'flags' => (object) $flags];
        return json_encode($file, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR) . "\n";
    }

    /** @return array<string, mixed> */
    private static function flag(mixed $feature, string $path): array
    {
        if (\is_bool($feature)) {
            return ['percentage' => $feature ? 100 : 0];
        }
        if (!\is_array($feature)) {
            throw new \InvalidArgumentException(sprintf(
                "%s: expected true, false or an array with keys %s, found %s",
                $path,
                implode(', ', self::KNOWN),
                self::show($feature),
            ));
        }
        foreach (array_keys($feature) as $k) {
            if (!\in_array($k, self::KNOWN, true)) {
                throw new \InvalidArgumentException(sprintf(
                    '%s.%s: unknown key; known keys: %s',
                    $path,
                    $k,
                    implode(', ', self::KNOWN),
                ));
            }
        }
        $flag = [];
        foreach (['description', 'owner'] as $text) {
            if (isset($feature[$text])) {
                if (!\is_string($feature[$text])) {
                    throw new \InvalidArgumentException("$path.$text: expected a string, found " . self::show($feature[$text]));
                }
                $flag[$text] = $feature[$text];
            }
        }
        $enabled = $feature['enabled'] ?? true;
        if (!\is_bool($enabled)) {
            throw new \InvalidArgumentException("$path.enabled: expected true or false, found " . self::show($enabled));
        }
        if (!$enabled) {
            $flag['killed'] = true;
        }
        $pilots = $feature['pilot_user_ids'] ?? [];
        if (!\is_array($pilots)) {
            throw new \InvalidArgumentException("$path.pilot_user_ids: expected a list of user ids, found " . self::show($pilots));
        }
        $ids = [];
        foreach (array_values($pilots) as $i => $id) {
            if (!\is_int($id) && !(\is_string($id) && $id !== '')) {
                throw new \InvalidArgumentException(
                    "$path.pilot_user_ids[$i]: expected a user id (an integer or a non-empty string), found " . self::show($id),
                );
            }
            $ids[] = (string) $id;
        }
        if ($ids !== []) {
            $flag['pilots'] = ['user_id' => array_values(array_unique($ids))];
        }
        $flag['percentage'] = self::percentage($feature['rollout_percentage'] ?? 100, "$path.rollout_percentage");
        return $flag;
    }

    private static function percentage(mixed $value, string $path): int|float
    {
        $text = \is_int($value) ? (string) $value : (\is_float($value) || \is_string($value) ? trim((string) $value) : null);
        if ($text === null || !preg_match('/^\d+(\.\d{1,2})?$/', $text) || (float) $text > 100) {
            throw new \InvalidArgumentException(
                "$path: expected a number from 0 to 100 with at most two decimals, found " . self::show($value),
            );
        }
        return str_contains($text, '.') ? (float) $text : (int) $text;
    }

    private static function show(mixed $value): string
    {
        return \is_scalar($value) || $value === null ? var_export($value, true) : get_debug_type($value);
    }
}
