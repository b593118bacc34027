<?php

declare(strict_types=1);

namespace Flags\Tests;

use FFI;
use Flags\Evaluation;
use Flags\Flags;
use Flags\FlagsException;
use Flags\Scoped;

/** The public API: opening, caching, contexts, scoped objects, errors. */
final class FlagsTest extends TestCase
{
    private const FLAGS = [
        'on' => ['percentage' => 100],
        'off' => ['percentage' => 0],
        'killed' => ['killed' => true, 'percentage' => 100],
        'pro_only' => [
            'requires' => [['attribute' => 'plan', 'op' => 'in', 'values' => ['pro']]],
            'percentage' => 100,
        ],
        'pilot_42' => ['pilots' => ['user_id' => ['42']], 'percentage' => 0],
        'staff' => ['pilots' => ['is_staff' => ['true']], 'percentage' => 0],
        'ab' => [
            'percentage' => 100,
            'variants' => [['name' => 'control', 'weight' => 50], ['name' => 'treatment', 'weight' => 50]],
        ],
        'half' => ['percentage' => 50],
    ];

    private static function flags(): Flags
    {
        static $flags = null;
        return $flags ??= Flags::fromJson(self::flagFile(self::FLAGS));
    }

    private static function file(): string
    {
        static $path = null;
        if ($path === null) {
            $path = self::tempDir() . '/flags.json';
            file_put_contents($path, self::flagFile(self::FLAGS));
        }
        return $path;
    }

    public function testOpenIsCachedPerProcessByPathAndOptions(): void
    {
        $path = self::file();
        $flags = Flags::open($path);
        $this->assertSame($flags, Flags::open($path));
        $this->assertSame($flags, Flags::open(dirname($path) . '/.//' . basename($path)), 'same path');
        $cwd = getcwd();
        chdir(dirname($path));
        try {
            $this->assertSame($flags, Flags::open(basename($path)), 'relative to the working directory');
        } finally {
            chdir($cwd);
        }
        $this->assertNotSame($flags, Flags::open($path, ['check_interval_ms' => 250]), 'other options');
        $this->assertSame($path, $flags->source());
        $this->assertTrue($flags->isEnabled('on'));
    }

    /** The address of the native source behind a Flags object. */
    private static function address(Flags $flags): int
    {
        return FFI::cast('uintptr_t', $flags->source)->cdata;
    }

    /**
     * What php-fpm does in every request: PHP forgets its objects and its
     * cache, open() asks the library again, and the library answers with
     * the source it keeps for the process.
     */
    public function testOpenUsesTheProcessLifetimeSourceOfTheLibrary(): void
    {
        $path = self::tempDir() . '/flags.json';
        file_put_contents($path, self::flagFile(self::FLAGS));
        $first = Flags::open($path);
        $this->assertTrue($first->isEnabled('on'));
        $this->assertTrue($first->isEnabled('pilot_42', ['user_id' => 42]));
        $this->assertSame('ROLLOUT_IN', $first->for(['user_id' => 1])->evaluate('on')->reason);
        $this->assertSame('file', $first->status()['kind']);
        $address = self::address($first);

        // A new request: PHP's cache is empty, the library's is not.
        Flags::clearCache();
        $second = Flags::open($path);
        $this->assertNotSame($first, $second);
        $this->assertSame($address, self::address($second), 'the same native source');
        $this->assertNotSame(
            $address,
            self::address(Flags::open($path, ['check_interval_ms' => 250])),
            'another check interval, another source',
        );

        // The end of a request: the objects die, the source is not freed.
        $first->__destruct();
        $this->assertFalse($first->isEnabled('on'), 'a released object answers off');
        $this->assertTrue($second->isEnabled('on'), 'the other object still works');
        unset($first, $second);
        Flags::clearCache();
        // With the file gone, the next open still works: it is a lookup in
        // the library, not a read.
        unlink($path);
        $third = Flags::open($path);
        $this->assertSame($address, self::address($third));
        $this->assertTrue($third->isEnabled('on'));
        $this->assertSame(self::flags()->version(), $third->version());
    }

    /** A file that cannot be opened throws every time, and is opened once it is fixed. */
    public function testOpenFailuresThrowAndAreNotRemembered(): void
    {
        $path = self::tempDir() . '/later.json';
        foreach ([
            'missing' => [null, FlagsException::IO, 'No such file'],
            'invalid' => ['{"version": 1, "flags": {"x": {"percentage": 101}}}', FlagsException::INVALID_FLAGS, "$path:1:"],
        ] as $what => [$content, $code, $detail]) {
            if ($content !== null) {
                file_put_contents($path, $content);
            }
            for ($attempt = 1; $attempt <= 2; $attempt++) {
                try {
                    Flags::open($path);
                    $this->fail("$what, attempt $attempt: no exception");
                } catch (FlagsException $e) {
                    $this->assertSame($code, $e->getCode(), $e->getMessage());
                    $this->assertStringStartsWith("Cannot open the flag file $path: ", $e->getMessage());
                    $this->assertStringContainsString($detail, $e->getMessage());
                }
            }
        }
        file_put_contents($path, self::flagFile(self::FLAGS));
        $this->assertTrue(Flags::open($path)->isEnabled('on'));
    }

    public function testIsEnabled(): void
    {
        $flags = self::flags();
        $this->assertTrue($flags->isEnabled('on'));
        $this->assertFalse($flags->isEnabled('off'));
        $this->assertFalse($flags->isEnabled('killed'));
        $this->assertTrue($flags->isEnabled('pro_only', ['plan' => 'pro', 'user_id' => 1]));
        $this->assertFalse($flags->isEnabled('pro_only', ['plan' => 'free', 'user_id' => 1]));
        $this->assertFalse($flags->isEnabled('pro_only'));
    }

    public function testIntegerAndBooleanIds(): void
    {
        $flags = self::flags();
        $this->assertTrue($flags->isEnabled('pilot_42', ['user_id' => 42]));
        $this->assertTrue($flags->isEnabled('pilot_42', ['user_id' => '42']));
        $this->assertFalse($flags->isEnabled('pilot_42', ['user_id' => 43]));
        $this->assertSame(Evaluation::PILOT, $flags->evaluate('pilot_42', ['user_id' => 42, 'tenant_id' => 'acme'])->reason);
        $this->assertTrue($flags->isEnabled('staff', ['is_staff' => true]));
        $this->assertFalse($flags->isEnabled('staff', ['is_staff' => false]));
        // null means absent
        $this->assertSame(
            Evaluation::MISSING_BUCKET_KEY,
            $flags->evaluate('half', ['user_id' => null, 'tenant_id' => 'acme'])->reason,
        );
        // 42 and "42" land in the same bucket, 9685 (the golden vectors
        // "half: integer 42" and "half: string '42'" of tests/vectors/context.json;
        // flags_ref.bucket_of("half", "42") == 9685)
        $this->assertSame(9685, $flags->evaluate('half', ['user_id' => 42])->bucket);
        $this->assertSame(9685, $flags->evaluate('half', ['user_id' => '42'])->bucket);
        // a numeric-string key becomes an int key in PHP; it is still an attribute name
        $this->assertSame(Evaluation::ROLLOUT_IN, $flags->evaluate('on', ['7' => 'x', 'user_id' => 1])->reason);
    }

    public function testEvaluationDetail(): void
    {
        $flags = self::flags();
        // The golden vector "ab: variant bucket 0 -> control" of
        // tests/vectors/variants.json (the same flag):
        // flags_ref.bucket_of("ab", "user-41819") == 5363 and
        // flags_ref.variant_bucket_of("ab", "user-41819") == 0
        $e = $flags->evaluate('ab', ['user_id' => 'user-41819']);
        $this->assertTrue($e->enabled);
        $this->assertSame('control', $e->variant);
        $this->assertSame(Evaluation::ROLLOUT_IN, $e->reason);
        $this->assertSame(5363, $e->bucket);
        $this->assertNull($e->error);
        $this->assertSame($e->variant, $flags->variant('ab', ['user_id' => 'user-41819']));
        $this->assertNull($flags->variant('on', ['user_id' => 1]));

        $killed = $flags->evaluate('killed', ['user_id' => 1]);
        $this->assertSame([false, null, 'KILLED'], [$killed->enabled, $killed->variant, $killed->reason]);
    }

    public function testUnknownFlagIsOffAndSaysWhy(): void
    {
        $flags = self::flags();
        $this->assertFalse($flags->isEnabled('no_such_flag', ['user_id' => 1]));
        $e = $flags->evaluate('no_such_flag', ['user_id' => 1]);
        $this->assertSame(['enabled' => false, 'variant' => null, 'reason' => 'FLAG_NOT_FOUND', 'bucket' => null], $e->toArray());
        $this->assertNull($flags->variant('no_such_flag'));
    }

    public function testScopedContextIsBuiltOnce(): void
    {
        $flags = self::flags();
        $me = $flags->for(['user_id' => 42, 'plan' => 'pro', 'is_staff' => true]);
        $this->assertInstanceOf(Scoped::class, $me);
        $this->assertTrue($me->isValid());
        $this->assertTrue($me->isEnabled('pilot_42'));
        $this->assertTrue($me->isEnabled('pro_only'));
        $this->assertTrue($me->isEnabled('staff'));
        $this->assertFalse($me->isEnabled('off'));
        $this->assertFalse($me->isEnabled('no_such_flag'));
        $this->assertSame($flags->variant('ab', ['user_id' => 42]), $me->variant('ab'));
        $this->assertSame(Evaluation::PILOT, $me->evaluate('pilot_42')->reason);
        // several scoped objects alive at once keep their own contexts
        $other = $flags->for(['user_id' => 43]);
        $empty = $flags->for([]);
        $this->assertTrue($me->isEnabled('pilot_42'));
        $this->assertFalse($other->isEnabled('pilot_42'));
        $this->assertTrue($empty->isValid());
        $this->assertSame('MISSING_BUCKET_KEY', $empty->evaluate('half')->reason);
        $this->assertTrue($me->isEnabled('pilot_42'));
        // Not `half`: user 42 is in its bucket 9685, outside the 50%
        // (flags_ref.bucket_of("half", "42") == 9685).
        $this->assertSame(['ab', 'on', 'pilot_42', 'pro_only', 'staff'], $me->enabledFlags());
        $this->assertSame(
            $flags->evaluateAt('ab', ['user_id' => 42], new \DateTimeImmutable('2026-11-21T12:00:00Z'))->toArray(),
            $me->evaluateAt('ab', new \DateTimeImmutable('2026-11-21T12:00:00Z'))->toArray(),
        );
        $all = $me->evaluateAll();
        $this->assertSame(array_keys(self::sortedFlags()), array_keys($all));
        $this->assertSame($me->evaluate('ab')->toArray(), $all['ab']->toArray());
    }

    private static function sortedFlags(): array
    {
        $flags = self::FLAGS;
        ksort($flags, SORT_STRING);
        return $flags;
    }

    public function testEnabledFlags(): void
    {
        $flags = self::flags();
        // Not `half`: user 42 is in its bucket 9685, outside the 50%
        // (flags_ref.bucket_of("half", "42") == 9685).
        $this->assertSame(
            ['ab', 'on', 'pilot_42', 'pro_only'],
            $flags->enabledFlags(['user_id' => 42, 'plan' => 'pro']),
        );
        $this->assertSame(['ab', 'on'], array_values(array_intersect($flags->enabledFlags(), ['ab', 'on'])));
        $this->assertNotContains('half', $flags->enabledFlags(), 'no bucket key: MISSING_BUCKET_KEY');
        $this->assertSame([], $flags->enabledFlags(['user_id' => 1.5]));
    }

    public function testInvalidContextIsOffWithReasonInvalidContext(): void
    {
        $flags = self::flags();
        foreach ([
            'a float' => ['user_id' => 1.5],
            'a list' => ['user_id' => [1, 2]],
            'an object' => ['user_id' => new \stdClass()],
            'an empty attribute name' => ['' => 'x'],
            'a value that is not UTF-8' => ['user_id' => "\xff\xfe"],
            'a name that is not UTF-8' => ["\xc3\x28" => '1'],
        ] as $what => $context) {
            $this->assertFalse($flags->isEnabled('on', $context), $what);
            $e = $flags->evaluate('on', $context);
            $this->assertSame(
                ['enabled' => false, 'variant' => null, 'reason' => 'INVALID_CONTEXT', 'bucket' => null],
                $e->toArray(),
                $what,
            );
            $this->assertIsString($e->error, $what);
            $scoped = $flags->for($context);
            $this->assertFalse($scoped->isValid(), $what);
            $this->assertFalse($scoped->isEnabled('on'), $what);
            $this->assertSame('INVALID_CONTEXT', $scoped->evaluate('on')->reason, $what);
            $this->assertSame([], $scoped->enabledFlags(), $what);
            $this->assertNull($scoped->variant('ab'), $what);
        }
        $error = (string) $flags->evaluate('on', ['tenant_id' => 'acme', 'user_id' => 1.5])->error;
        $this->assertStringContainsString('user_id', $error);
        $this->assertStringContainsString('1.5', $error);
        $this->assertStringContainsString('UTF-8', (string) $flags->evaluate('on', ['user_id' => "\xff"])->error);
        $this->assertStringContainsString(
            'attribute names must not be empty',
            (string) $flags->evaluate('on', ['user_id' => 1, '' => 'x'])->error,
            'the library refuses an empty name, as flags_context_set does',
        );
        // the same flags answer normally right after
        $this->assertTrue($flags->isEnabled('on', ['user_id' => 1]));
    }

    public function testVersionAndStatus(): void
    {
        $flags = Flags::open(self::file());
        $this->assertMatchesRegularExpression('/^[0-9a-f]{8,}$/', $flags->version());
        $this->assertSame($flags->version(), self::flags()->version(), 'same content, same version');
        $status = $flags->status();
        $this->assertSame('file', $status['kind']);
        $this->assertSame($flags->version(), $status['version']);
        $this->assertSame('json', self::flags()->status()['kind']);
        $this->assertMatchesRegularExpression('/^\d+\.\d+\.\d+/', Flags::libraryVersion());
    }

    public function testMissingFileThrowsIo(): void
    {
        $path = self::tempDir() . '/missing.json';
        try {
            Flags::open($path);
            $this->fail('no exception');
        } catch (FlagsException $e) {
            $this->assertSame(FlagsException::IO, $e->getCode(), $e->getMessage());
            $this->assertSame('IO', $e->getResultName());
            $this->assertStringContainsString($path, $e->getMessage());
        }
    }

    public function testBadJsonThrowsInvalidFlagsWithFileLineColumn(): void
    {
        $path = self::tempDir() . '/flags.json';
        file_put_contents($path, "{\n  \"version\": 1,\n  \"flags\": {\n    \"x\": { \"percentage\": 101 }\n  }\n}\n");
        try {
            Flags::open($path);
            $this->fail('no exception');
        } catch (FlagsException $e) {
            $this->assertSame(FlagsException::INVALID_FLAGS, $e->getCode());
            $this->assertCount(1, $e->getDiagnostics());
            $this->assertStringStartsWith("$path:4:26: flags.x.percentage: ", $e->getDiagnostics()[0]);
            $this->assertStringContainsString("\n$path:4:26: flags.x.percentage: ", $e->getMessage());
        }
        try {
            Flags::fromJson('{"version": 1, "flags": ');
            $this->fail('no exception');
        } catch (FlagsException $e) {
            $this->assertSame(FlagsException::INVALID_FLAGS, $e->getCode());
            $this->assertStringStartsWith('<input>:1:25: ', $e->getDiagnostics()[0]);
        }
    }

    /** In a fresh process: a library that is not there is a clear FlagsException. */
    public function testMissingLibraryIsAClearError(): void
    {
        $script = 'require ' . var_export(dirname(__DIR__) . '/bootstrap/autoload.php', true) . ';'
            . 'try { Flags\Flags::open(__FILE__); echo "opened"; }'
            . 'catch (Flags\FlagsException $e) { echo $e->getCode(), "\n", $e->getMessage(); }';
        $env = ['FLAGS_FFI_LIB' => '/nonexistent/libflags_ffi.so', 'PATH' => (string) getenv('PATH')];
        $process = proc_open([PHP_BINARY, '-d', 'ffi.preload=', '-r', $script], [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null, $env);
        $this->assertIsResource($process);
        $out = stream_get_contents($pipes[1]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        proc_close($process);
        [$code, $message] = explode("\n", (string) $out, 2) + ['', ''];
        $this->assertSame((string) FlagsException::LIBRARY, $code, (string) $out);
        $this->assertStringContainsString('/nonexistent/libflags_ffi.so does not exist', $message);
        $this->assertStringContainsString('cargo build -p flags-ffi', $message);
    }

    public function testBadOptionsThrow(): void
    {
        foreach ([
            [['check_interval' => 5], 'Unknown option "check_interval"; known options: check_interval_ms, library'],
            [['check_interval_ms' => -1], 'check_interval_ms must be an integer from 1 to 4294967295 (milliseconds), found -1'],
            [['check_interval_ms' => '100'], "check_interval_ms must be an integer from 1 to 4294967295 (milliseconds), found '100'"],
            [['check_interval_ms' => 1 << 32], 'check_interval_ms must be an integer from 1 to 4294967295 (milliseconds), found 4294967296'],
        ] as [$options, $message]) {
            try {
                Flags::open(self::file(), $options);
                $this->fail('no exception for ' . json_encode($options));
            } catch (FlagsException $e) {
                $this->assertSame(FlagsException::INVALID_ARGUMENT, $e->getCode(), $e->getMessage());
                $this->assertStringStartsWith($message, $e->getMessage());
            }
        }
    }

    /**
     * The C ABI reads a check interval of 0 as "the default"; PHP has named
     * options, so 0 is refused rather than silently meaning 1000.
     */
    public function testZeroMillisecondsIsRefusedNotReadAsTheDefault(): void
    {
        $cache = self::tempDir() . '/cache.json';
        file_put_contents($cache, self::flagFile(self::FLAGS));
        foreach ([
            'check_interval_ms' => [static fn () => Flags::open(self::file(), ['check_interval_ms' => 0]), 1000],
            'refresh_interval_ms' => [
                static fn () => Flags::remote('http://127.0.0.1:9/', ['cache_path' => $cache, 'refresh_interval_ms' => 0]),
                30000,
            ],
            'timeout_ms' => [
                static fn () => Flags::remote('http://127.0.0.1:9/', ['cache_path' => $cache, 'timeout_ms' => 0]),
                5000,
            ],
        ] as $name => [$open, $default]) {
            try {
                $open();
                $this->fail("$name => 0: no exception");
            } catch (FlagsException $e) {
                $this->assertSame(FlagsException::INVALID_ARGUMENT, $e->getCode(), $e->getMessage());
                $this->assertSame(
                    "$name must be an integer from 1 to 4294967295 (milliseconds), found 0; "
                    . "leave it out for the default, $default",
                    $e->getMessage(),
                );
            }
        }
        $this->assertTrue(Flags::open(self::file(), ['check_interval_ms' => 1])->isEnabled('on'), 'the smallest interval');
        $this->assertSame(Flags::open(self::file()), Flags::open(self::file(), ['check_interval_ms' => 1000]), 'the default');
    }

    public function testRemoteErrorsThrow(): void
    {
        try {
            Flags::remote('', ['cache_path' => self::tempDir() . '/cache.json']);
            $this->fail('no exception');
        } catch (FlagsException $e) {
            $this->assertSame(FlagsException::INVALID_ARGUMENT, $e->getCode(), $e->getMessage());
        }
        try {
            Flags::remote("http://127.0.0.1:9/\0");
            $this->fail('no exception');
        } catch (FlagsException $e) {
            $this->assertSame(FlagsException::INVALID_ARGUMENT, $e->getCode(), $e->getMessage());
        }
        try {
            // nothing listens on the discard port and there is no cache
            Flags::remote('http://127.0.0.1:9/', ['timeout_ms' => 500, 'refresh_interval_ms' => 60000]);
            $this->fail('no exception');
        } catch (FlagsException $e) {
            $this->assertSame(FlagsException::REMOTE, $e->getCode(), $e->getMessage());
        }
    }

    /** A mobile-style start: the server is unreachable, the cache file has the last good flags. */
    public function testRemoteStartsFromTheCacheOffline(): void
    {
        $cache = self::tempDir() . '/cache.json';
        file_put_contents($cache, self::flagFile(self::FLAGS));
        $options = ['cache_path' => $cache, 'token' => 'secret', 'timeout_ms' => 500, 'refresh_interval_ms' => 60000];
        $flags = Flags::remote('http://127.0.0.1:9/', $options);
        $this->assertSame($flags, Flags::remote('http://127.0.0.1:9/', array_reverse($options, true)), 'cached');
        $this->assertTrue($flags->isEnabled('pilot_42', ['user_id' => 42]));
        $this->assertSame(self::flags()->version(), $flags->version());
        $status = $flags->status();
        $this->assertSame('remote', $status['kind']);
        $this->assertFalse($status['healthy']);
        $this->assertTrue($status['stale'], 'serving the cache file');
        $this->assertNotNull($status['last_error']);
        $this->assertSame('http://127.0.0.1:9/', $flags->source());
    }

    public function testWeirdInputDoesNotCrash(): void
    {
        $flags = self::flags();
        $huge = str_repeat('x', 8 << 20);
        foreach (['', "\xff", "o\xc3", "on\0", "\0", $huge, "\u{1F680}"] as $flag) {
            $this->assertFalse($flags->isEnabled($flag), bin2hex(substr($flag, 0, 8)));
            $this->assertFalse($flags->isEnabled($flag, ['user_id' => 1]));
            $this->assertSame('FLAG_NOT_FOUND', $flags->evaluate($flag, ['user_id' => 1])->reason);
            $this->assertNull($flags->variant($flag));
        }
        $this->assertTrue($flags->isEnabled('on', ['user_id' => $huge, 'tenant_id' => "\u{1F680}\0x", $huge => $huge]));
        $this->assertSame('ROLLOUT_IN', $flags->for(['user_id' => $huge])->evaluate('on')->reason);
        $this->assertTrue($flags->isEnabled('on', ['user_id' => PHP_INT_MIN]));
        $this->assertTrue($flags->isEnabled('pilot_42', ['user_id' => 42, 'user_id ' => 'x']));
        $this->assertTrue($flags->for(array_fill_keys(range(0, 5000), 'v') + ['user_id' => 1])->isEnabled('on'));
        foreach (['', "\xff", "{\"version\": 1, \"flags\": {\"\xff\": {}}}", str_repeat('[', 100000), $huge] as $json) {
            try {
                Flags::fromJson($json);
                $this->fail('accepted ' . bin2hex(substr($json, 0, 16)));
            } catch (FlagsException $e) {
                $this->assertSame(FlagsException::INVALID_FLAGS, $e->getCode());
            }
        }
        try {
            Flags::open("/nonexistent/\xff\0/flags.json");
            $this->fail('no exception');
        } catch (FlagsException $e) {
            $this->assertContains($e->getCode(), [FlagsException::IO, FlagsException::INVALID_UTF8, FlagsException::INVALID_ARGUMENT]);
        }
    }

    public function testClosedSourceIsOffNotACrash(): void
    {
        $flags = Flags::fromJson(self::flagFile(self::FLAGS));
        $scoped = $flags->for(['user_id' => 1]);
        $flags->__destruct();
        $this->assertFalse($flags->isEnabled('on'));
        $this->assertFalse($scoped->isEnabled('on'));
        $this->assertFalse($flags->evaluate('on')->enabled);
        $this->assertSame([], $flags->enabledFlags());
        $this->assertSame('', $flags->version());
    }

    public function testContextsAreReleased(): void
    {
        $flags = self::flags();
        $before = memory_get_usage();
        $rss = self::residentBytes();
        for ($i = 0; $i < 20000; $i++) {
            $flags->for(['user_id' => $i, 'tenant_id' => 'acme'])->isEnabled('half');
            $flags->isEnabled('half', ['user_id' => $i]);
            $flags->evaluate('ab', ['user_id' => $i])->variant;
        }
        $this->assertLessThan(1 << 20, memory_get_usage() - $before);
        $this->assertLessThan(8 << 20, self::residentBytes() - $rss, 'native memory stays bounded');
    }

    private static function residentBytes(): int
    {
        $status = @file_get_contents('/proc/self/status');
        if ($status !== false && preg_match('/^VmRSS:\s+(\d+) kB/m', $status, $m)) {
            return (int) $m[1] * 1024;
        }
        return 0;
    }
}
