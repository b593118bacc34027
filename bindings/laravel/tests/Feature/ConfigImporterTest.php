<?php

declare(strict_types=1);

namespace Flags\Laravel\Tests\Feature;

use Flags\Flags;
use Flags\Laravel\Import\ConfigImporter;
use Flags\Laravel\Tests\TestCase;

/** A runbook's config/features.php turned into a flag file (the test application's sample). */
final class ConfigImporterTest extends TestCase
{
    public function testTheSampleConfig(): void
    {
        $text = ConfigImporter::toFlagFile(config('features'));
        $this->assertSame([
            'version' => 1,
            'flags' => [
                'communities' => ['percentage' => 100],
                'legacy_search' => ['percentage' => 0],
                'community_dual_write' => [
                    'owner' => 'communities-platform',
                    'pilots' => ['user_id' => ['7', '12', '4711']],
                    'percentage' => 10,
                ],
                'enrollment_service' => [
                    'description' => 'Route enrollments to the new service',
                    'percentage' => 12.5,
                ],
                'new_editor' => [
                    'killed' => true,
                    'pilots' => ['user_id' => ['42']],
                    'percentage' => 50,
                ],
            ],
        ], json_decode($text, true));
        $this->assertStringContainsString('"percentage": 12.5', $text);
    }

    /**
     * What the runbooks' FeatureFlag::isEnabled() answered (a sketch of it
     * below) is what the imported file answers for every pilot, for
     * disabled features and for 0% and 100%; only who is inside a partial
     * percentage changes.
     */
    public function testPilotsAndTheExtremesAnswerAsBefore(): void
    {
        $features = config('features');
        $flags = Flags::fromJson(ConfigImporter::toFlagFile($features));
        $before = static function (array|bool $feature, int $id): bool {
            if (\is_bool($feature)) {
                return $feature;
            }
            if (!($feature['enabled'] ?? true)) {
                return false;
            }
            if (\in_array($id, array_map('intval', $feature['pilot_user_ids'] ?? []), true)) {
                return true;
            }
            return $id % 100 < ($feature['rollout_percentage'] ?? 100);
        };
        $inRollout = 0;
        foreach ($features as $key => $feature) {
            $pilots = \is_array($feature) ? array_map('intval', $feature['pilot_user_ids'] ?? []) : [];
            $partial = \is_array($feature) && ($feature['enabled'] ?? true)
                && ($feature['rollout_percentage'] ?? 100) > 0 && ($feature['rollout_percentage'] ?? 100) < 100;
            foreach (array_merge($pilots, range(1, 300)) as $id) {
                $now = $flags->isEnabled($key, ['user_id' => $id]);
                if ($partial && !\in_array($id, $pilots, true)) {
                    $inRollout += (int) $now;
                    continue;   // who is in a partial rollout changes: the point of the warning
                }
                $this->assertSame($before($feature, $id), $now, "$key for user $id");
            }
        }
        $this->assertGreaterThan(0, $inRollout, 'the partial rollouts let some users in');
    }

    /** @return iterable<string, array{mixed, string}> */
    public static function badConfigs(): iterable
    {
        yield 'a string' => [['x' => 'yes'], "features.x: expected true, false or an array with keys enabled, pilot_user_ids, rollout_percentage, description, owner, found 'yes'"];
        yield 'an unknown key' => [['x' => ['enabled' => true, 'percent' => 5]], 'features.x.percent: unknown key; known keys: enabled, pilot_user_ids, rollout_percentage, description, owner'];
        yield 'a percentage over 100' => [['x' => ['rollout_percentage' => 120]], 'features.x.rollout_percentage: expected a number from 0 to 100 with at most two decimals, found 120'];
        yield 'three decimals' => [['x' => ['rollout_percentage' => '12.345']], "features.x.rollout_percentage: expected a number from 0 to 100 with at most two decimals, found '12.345'"];
        yield 'a pilot that is not an id' => [['x' => ['pilot_user_ids' => [1, ['a']]]], 'features.x.pilot_user_ids[1]: expected a user id (an integer or a non-empty string), found array'];
        yield 'enabled as a string' => [['x' => ['enabled' => 'no']], "features.x.enabled: expected true or false, found 'no'"];
        yield 'a bad key' => [['new checkout' => true], 'features.new checkout: a flag key is 1 to 128 characters, each one of A-Z a-z 0-9 _ - . (rename the feature)'];
    }

    /** @dataProvider badConfigs */
    public function testWhatIsRefusedNamesTheKey(array $features, string $message): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage($message);
        ConfigImporter::toFlagFile($features);
    }
}
