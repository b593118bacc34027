<?php

declare(strict_types=1);

namespace Flags\Tests;

use Flags\Flags;

/**
 * Every case of the shared golden vectors (tests/vectors/*.json), evaluated
 * through FFI at the case's time: the same answers, reasons and buckets as
 * the Rust core and the C test.
 */
final class GoldenVectorsTest extends TestCase
{
    /** @var array<string, Flags> one source per vector file */
    private static array $sources = [];

    /** @return iterable<string, array{string, array}> */
    public static function cases(): iterable
    {
        $files = glob(self::vectorsDir() . '/*.json') ?: [];
        sort($files);
        foreach ($files as $file) {
            $name = basename($file);
            if ($name === 'invalid-files.json') {
                continue;
            }
            $vectors = json_decode((string) file_get_contents($file), false, 512, JSON_THROW_ON_ERROR);
            foreach ($vectors->cases as $i => $case) {
                // The context as PHP users write it: an array with int, bool
                // and null values as they appear in the JSON.
                $context = json_decode(json_encode($case->context, JSON_THROW_ON_ERROR), true, 512, JSON_THROW_ON_ERROR);
                yield "$name #$i: {$case->name}" => [$name, $case->flag, $context, $case->now, (array) $case->expected];
            }
        }
    }

    public function testTheVectorsAreThere(): void
    {
        $count = iterator_count(self::cases());
        $this->assertGreaterThan(1000, $count, 'expected the shared golden vectors in ' . self::vectorsDir());
    }

    /**
     * @dataProvider cases
     * @param array<string, mixed> $context
     * @param array{enabled: bool, variant: ?string, reason: string, bucket: ?int} $expected
     */
    public function testCase(string $file, string $flag, array $context, string $now, array $expected): void
    {
        $flags = self::source($file);
        $at = new \DateTimeImmutable($now);

        $evaluation = $flags->evaluateAt($flag, $context, $at);
        $this->assertSame($expected, $evaluation->toArray(), 'evaluateAt with the context array');

        $scoped = $flags->for($context)->evaluateAt($flag, $at);
        $this->assertSame($expected, $scoped->toArray(), 'evaluateAt through a scoped context');
    }

    private static function source(string $file): Flags
    {
        if (!isset(self::$sources[$file])) {
            // Decoded as objects so that {} stays {} when encoded again.
            $vectors = json_decode((string) file_get_contents(self::vectorsDir() . "/$file"), false, 512, JSON_THROW_ON_ERROR);
            self::$sources[$file] = Flags::fromJson(json_encode($vectors->file, JSON_THROW_ON_ERROR | JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION));
        }
        return self::$sources[$file];
    }
}
