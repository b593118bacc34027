<?php

declare(strict_types=1);

namespace Flags\Tests;

use Flags\Flags;
use Flags\FlagsException;

/**
 * tests/vectors/invalid-files.json: every invalid file is refused with
 * INVALID_FLAGS, and the message lists every expected error as
 * SOURCE:LINE:COL: PATH: ..., in document order, from a string and from a
 * file alike.
 */
final class InvalidFilesTest extends TestCase
{
    /** @return iterable<string, array{string, list<array{path: string, line: int, column: int}>}> */
    public static function cases(): iterable
    {
        $vectors = json_decode((string) file_get_contents(self::vectorsDir() . '/invalid-files.json'), true, 512, JSON_THROW_ON_ERROR);
        foreach ($vectors['cases'] as $i => $case) {
            $bytes = isset($case['hex']) ? (string) hex2bin($case['hex']) : $case['text'];
            yield "#$i: {$case['name']}" => [$bytes, $case['errors']];
        }
    }

    /**
     * @dataProvider cases
     * @param list<array{path: string, line: int, column: int}> $errors
     */
    public function testRefusedFromJson(string $bytes, array $errors): void
    {
        $e = $this->refusal(static fn () => Flags::fromJson($bytes));
        $this->assertDiagnostics('<input>', $errors, $e);
    }

    /**
     * @dataProvider cases
     * @param list<array{path: string, line: int, column: int}> $errors
     */
    public function testRefusedFromFile(string $bytes, array $errors): void
    {
        $path = self::tempDir() . '/flags.json';
        file_put_contents($path, $bytes);
        $e = $this->refusal(static fn () => Flags::open($path));
        $this->assertDiagnostics($path, $errors, $e);
        $this->assertStringContainsString("Cannot open the flag file $path", $e->getMessage());
    }

    private function refusal(callable $open): FlagsException
    {
        try {
            $open();
        } catch (FlagsException $e) {
            $this->assertSame(FlagsException::INVALID_FLAGS, $e->getCode(), $e->getMessage());
            $this->assertSame('INVALID_FLAGS', $e->getResultName());
            return $e;
        }
        $this->fail('the file was accepted');
    }

    /** @param list<array{path: string, line: int, column: int}> $errors */
    private function assertDiagnostics(string $source, array $errors, FlagsException $e): void
    {
        $expected = [];
        foreach ($errors as $error) {
            $expected[] = "$source:{$error['line']}:{$error['column']}: {$error['path']}: ";
        }
        $actual = [];
        foreach ($e->getDiagnostics() as $i => $line) {
            $prefix = $expected[$i] ?? "$source:";
            $actual[] = str_starts_with($line, $prefix) ? $prefix : $line;
        }
        $this->assertSame($expected, $actual, $e->getMessage());
    }
}
