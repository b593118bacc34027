<?php

declare(strict_types=1);

namespace Flags\Tests;

use Flags\EditResult;
use Flags\FlagFile;
use Flags\FlagsException;

/**
 * FlagFile edits a flag file exactly as the `flags` commands do: every
 * expectation here comes from the real `flags` binary (built from this
 * repository, or FLAGS_BIN) doing the same edit on a copy of the same
 * file: the same bytes, the same audit record fields, the same messages.
 * Conflicts use the library's debug-build hook
 * FLAGS_TEST_PAUSE_BEFORE_WRITE_MS (bindings/php/run builds a debug
 * library).
 */
final class FlagFileTest extends TestCase
{
    private const EXAMPLE_NOW = '2026-11-21T12:00:00Z';

    private string $cwd;

    protected function setUp(): void
    {
        $this->cwd = (string) getcwd();
    }

    protected function tearDown(): void
    {
        chdir($this->cwd);
    }

    private static function repo(): string
    {
        return dirname(__DIR__, 3);
    }

    private static function example(): string
    {
        return (string) file_get_contents(self::repo() . '/examples/flags.json');
    }

    /** A fresh directory holding a copy of examples/flags.json as flags.json. */
    private static function copyOfExample(): string
    {
        $dir = self::tempDir();
        file_put_contents("$dir/flags.json", self::example());
        return $dir;
    }

    /**
     * Runs `flags ARGS` in $dir (the test hooks removed from its environment).
     *
     * @param list<string> $args
     * @return array{int, string, string} exit status, stdout, stderr
     */
    private static function cli(string $dir, array $args, array $env = []): array
    {
        $environment = getenv();
        unset($environment['FLAGS_TEST_PAUSE_BEFORE_WRITE_MS'], $environment['FLAGS_TEST_STOP_AT']);
        $process = proc_open(
            [self::flagsBinary(), ...$args],
            [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']],
            $pipes,
            $dir,
            $env + $environment,
        );
        self::assertIsResource($process);
        $out = (string) stream_get_contents($pipes[1]);
        $err = (string) stream_get_contents($pipes[2]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        return [proc_close($process), $out, $err];
    }

    /** @return list<array<string, mixed>> the audit records of flags.json in $dir */
    private static function audit(string $dir): array
    {
        $file = "$dir/flags.json.audit.jsonl";
        if (!is_file($file)) {
            return [];
        }
        $lines = array_filter(explode("\n", (string) file_get_contents($file)), static fn ($l) => $l !== '');
        return array_values(array_map(static fn ($l) => json_decode($l, true, 8, JSON_THROW_ON_ERROR), $lines));
    }

    /** A FlagFile on flags.json in $dir, given as "flags.json" (the working directory is $dir), as the CLI is. */
    private function editor(string $dir, array $options = []): FlagFile
    {
        chdir($dir);
        return new FlagFile('flags.json', $options + ['actor' => 'ci', 'command' => 'php artisan flags:test']);
    }

    /**
     * Each `flags` edit command and the FlagFile call that does the same.
     *
     * @return array<string, array{list<string>, \Closure(FlagFile): EditResult}>
     */
    public static function edits(): array
    {
        $ramp = '10@2026-11-21T00:00:00Z,100@2026-11-22T00:00:00Z';
        return [
            'set --percentage' => [
                ['set', 'flags.json', 'enrollment_service', '--percentage', '25'],
                static fn (FlagFile $f) => $f->setPercentage('enrollment_service', 25),
            ],
            'set --percentage with decimals' => [
                ['set', 'flags.json', 'tenant_billing_v2', '--percentage', '0.25'],
                static fn (FlagFile $f) => $f->setPercentage('tenant_billing_v2', '0.25'),
            ],
            'set --ramp' => [
                ['set', 'flags.json', 'tenant_billing_v2', '--ramp', $ramp],
                static fn (FlagFile $f) => $f->setRamp('tenant_billing_v2', [[10, '2026-11-21T00:00:00Z'], [100, '2026-11-22T00:00:00Z']]),
            ],
            'set --percentage over a ramp' => [
                ['set', 'flags.json', 'community_dual_write', '--percentage', '50'],
                static fn (FlagFile $f) => $f->setPercentage('community_dual_write', 50.0),
            ],
            'pilots --add' => [
                ['pilots', 'flags.json', 'enrollment_service', '--add', '42', '43'],
                static fn (FlagFile $f) => $f->addPilots('enrollment_service', [42, '43']),
            ],
            'pilots --remove --attribute' => [
                ['pilots', 'flags.json', 'tenant_billing_v2', '--attribute', 'tenant_id', '--remove', 'acme'],
                static fn (FlagFile $f) => $f->removePilots('tenant_billing_v2', ['acme'], 'tenant_id'),
            ],
            'pilots --global --add' => [
                ['pilots', 'flags.json', '--global', '--add', '4', 'José'],
                static fn (FlagFile $f) => $f->addPilots(null, ['4', 'José']),
            ],
            'pilots --global --remove' => [
                ['pilots', 'flags.json', '--global', '--remove', '1'],
                static fn (FlagFile $f) => $f->removePilots(null, ['1']),
            ],
            'pilots --add of a pilot already there' => [
                ['pilots', 'flags.json', '--global', '--add', '2'],
                static fn (FlagFile $f) => $f->addPilots(null, ['2']),
            ],
            'kill' => [
                ['kill', 'flags.json', 'community_dual_write'],
                static fn (FlagFile $f) => $f->kill('community_dual_write'),
            ],
            'unkill of a flag not killed' => [
                ['unkill', 'flags.json', 'enrollment_service'],
                static fn (FlagFile $f) => $f->unkill('enrollment_service'),
            ],
            'kill-all' => [
                ['kill-all', 'flags.json'],
                static fn (FlagFile $f) => $f->killAll(),
            ],
            'unkill-all with kill_all off' => [
                ['unkill-all', 'flags.json'],
                static fn (FlagFile $f) => $f->unkillAll(),
            ],
            'create' => [
                ['create', 'flags.json', 'checkout_v3', '--description', 'One-page checkout', '--owner', 'payments'],
                static fn (FlagFile $f) => $f->create('checkout_v3', 'One-page checkout', 'payments'),
            ],
            'create with no description' => [
                ['create', 'flags.json', 'a_flag'],
                static fn (FlagFile $f) => $f->create('a_flag'),
            ],
            'delete' => [
                ['delete', 'flags.json', 'enrollment_service'],
                static fn (FlagFile $f) => $f->delete('enrollment_service'),
            ],
            'set --ramp --dry-run' => [
                ['set', 'flags.json', 'tenant_billing_v2', '--ramp', $ramp, '--dry-run'],
                static fn (FlagFile $f) => $f->setRamp('tenant_billing_v2', [['10', '2026-11-21T00:00:00Z'], ['100', '2026-11-22T00:00:00Z']], true),
            ],
            'kill-all --dry-run' => [
                ['kill-all', 'flags.json', '--dry-run'],
                static fn (FlagFile $f) => $f->killAll(true),
            ],
            'pilots --global --add --dry-run' => [
                ['pilots', 'flags.json', '--global', '--add', '4', '--dry-run'],
                static fn (FlagFile $f) => $f->addPilots(null, [4], 'user_id', true),
            ],
        ];
    }

    /**
     * @dataProvider edits
     * @param list<string> $args
     * @param \Closure(FlagFile): EditResult $edit
     */
    public function testEachEditIsTheOneTheFlagsCommandMakes(array $args, \Closure $edit): void
    {
        $cliDir = self::copyOfExample();
        $phpDir = self::copyOfExample();
        [$status, $stdout, $stderr] = self::cli($cliDir, [...$args, '--actor', 'ci']);
        $this->assertSame(0, $status, $stderr);
        $this->assertSame('', $stderr);

        $result = $edit($this->editor($phpDir));

        $this->assertSame(
            file_get_contents("$cliDir/flags.json"),
            file_get_contents("$phpDir/flags.json"),
            'the same bytes as the flags command wrote',
        );
        $dryRun = \in_array('--dry-run', $args, true);
        $this->assertSame($dryRun, $result->dryRun);
        if ($dryRun) {
            $lines = $result->changes === [] ? ['no changes in meaning (layout only)'] : $result->changes;
            $this->assertSame(implode("\n", [...$lines, 'dry run: nothing was written to flags.json']) . "\n", $stdout);
            $this->assertSame(self::example(), file_get_contents("$phpDir/flags.json"), 'a dry run writes nothing');
        } else {
            $this->assertSame("flags.json: {$result->summary}\n", $stdout, 'the line flags prints');
        }

        $cliRecords = self::audit($cliDir);
        $phpRecords = self::audit($phpDir);
        $this->assertCount(\count($cliRecords), $phpRecords, 'an audit record exactly when flags writes one');
        $this->assertSame($cliRecords !== [], $result->written);
        if ($cliRecords === []) {
            $this->assertNull($result->auditLog);
            if (!$dryRun) {
                $this->assertSame('no changes; nothing was written', $result->summary);
                $this->assertSame($result->before, $result->after);
            }
            return;
        }
        [$cli] = $cliRecords;
        [$php] = $phpRecords;
        $this->assertSame(realpath("$phpDir/flags.json.audit.jsonl"), $result->auditLog);
        foreach (['actor', 'before', 'after', 'summary'] as $field) {
            $this->assertSame($cli[$field], $php[$field], "audit record field $field");
        }
        $this->assertSame(array_keys($cli), array_keys($php), 'the same fields, in the same order');
        $this->assertSame('php artisan flags:test', $php['command']);
        $this->assertSame(realpath("$phpDir/flags.json"), $php['file']);
        $this->assertSame($cli['before'], $result->before);
        $this->assertSame($cli['after'], $result->after);
        $this->assertSame($cli['summary'], $result->summary);
    }

    public function testSeveralOperationsAreOneWriteAndOneAuditRecord(): void
    {
        $cliDir = self::copyOfExample();
        $phpDir = self::copyOfExample();
        foreach ([
            ['kill', 'flags.json', 'tenant_billing_v2'],
            ['set', 'flags.json', 'enrollment_service', '--percentage', '12.25'],
            ['pilots', 'flags.json', '--global', '--add', '9'],
        ] as $args) {
            [$status, , $stderr] = self::cli($cliDir, [...$args, '--actor', 'ci']);
            $this->assertSame(0, $status, $stderr);
        }
        $result = $this->editor($phpDir)->apply([
            ['op' => 'kill', 'flag' => 'tenant_billing_v2'],
            ['op' => 'set_percentage', 'flag' => 'enrollment_service', 'percentage' => '12.25%'],
            ['op' => 'add_pilots', 'flag' => null, 'ids' => [9]],
        ]);
        $this->assertSame(file_get_contents("$cliDir/flags.json"), file_get_contents("$phpDir/flags.json"));
        $cli = self::audit($cliDir);
        $php = self::audit($phpDir);
        $this->assertCount(3, $cli);
        $this->assertCount(1, $php, 'one audit record for the three operations');
        $this->assertSame($cli[0]['before'], $php[0]['before']);
        $this->assertSame($cli[2]['after'], $php[0]['after']);
        $this->assertSame(
            'global pilots user_id: +1 (9); enrollment_service: percentage 12.5% -> 12.25%; tenant_billing_v2: killed',
            $php[0]['summary'],
        );
        $this->assertSame($php[0]['summary'], $result->summary);
        $this->assertSame(
            ['global pilots user_id: +1 (9)', 'enrollment_service: percentage 12.5% -> 12.25%', 'tenant_billing_v2: killed'],
            $result->changes,
        );
    }

    /**
     * Each refusal: the exception's message is what `flags` says on stderr
     * for the same edit, and the file stays as it was, unaudited.
     *
     * @return array<string, array{string, list<string>, \Closure(FlagFile): EditResult, int}>
     */
    public static function refusals(): array
    {
        return [
            'unknown flag' => [
                '',
                ['kill', 'flags.json', 'enrolment_service'],
                static fn (FlagFile $f) => $f->kill('enrolment_service'),
                FlagsException::INVALID_ARGUMENT,
            ],
            'existing flag' => [
                '',
                ['create', 'flags.json', 'enrollment_service'],
                static fn (FlagFile $f) => $f->create('enrollment_service'),
                FlagsException::INVALID_ARGUMENT,
            ],
            'invalid key' => [
                '',
                ['create', 'flags.json', 'new checkout'],
                static fn (FlagFile $f) => $f->create('new checkout'),
                FlagsException::INVALID_ARGUMENT,
            ],
            'ramp times out of order' => [
                '',
                ['set', 'flags.json', 'enrollment_service', '--ramp', '10@2026-11-22T00:00:00Z,20@2026-11-21T00:00:00Z'],
                static fn (FlagFile $f) => $f->setRamp('enrollment_service', [[10, '2026-11-22T00:00:00Z'], [20, '2026-11-21T00:00:00Z']]),
                FlagsException::INVALID_ARGUMENT,
            ],
            'invalid file' => [
                "{\"version\": 1, \"flags\": {\"a\": {\"percentge\": 5}}}\n",
                ['kill', 'flags.json', 'a'],
                static fn (FlagFile $f) => $f->kill('a'),
                FlagsException::INVALID_FLAGS,
            ],
        ];
    }

    /**
     * @dataProvider refusals
     * @param list<string> $args
     * @param \Closure(FlagFile): EditResult $edit
     */
    public function testARefusedEditThrowsWhatFlagsSaysAndLeavesTheFile(string $file, array $args, \Closure $edit, int $code): void
    {
        $cliDir = self::copyOfExample();
        $phpDir = self::copyOfExample();
        if ($file !== '') {
            file_put_contents("$cliDir/flags.json", $file);
            file_put_contents("$phpDir/flags.json", $file);
        }
        $before = file_get_contents("$phpDir/flags.json");
        [$status, $stdout, $stderr] = self::cli($cliDir, $args);
        $this->assertSame(1, $status, $stdout);
        try {
            $edit($this->editor($phpDir));
            $this->fail('the edit was not refused');
        } catch (FlagsException $e) {
            $this->assertSame($code, $e->getCode(), $e->getMessage());
            $this->assertSame(rtrim($stderr, "\n"), $e->getMessage(), 'the message flags prints');
            $lines = explode("\n", rtrim($stderr, "\n"));
            $this->assertSame(\array_slice($lines, 1), $e->getDiagnostics());
        }
        $this->assertSame($before, file_get_contents("$phpDir/flags.json"));
        $this->assertSame([], self::audit($phpDir));
    }

    public function testAReplaceWithInvalidTextIsRefusedWithItsDiagnostics(): void
    {
        $dir = self::copyOfExample();
        $file = $this->editor($dir);
        try {
            $file->apply([['op' => 'kill_all'], ['op' => 'replace', 'text' => "{\"version\": 1,\n \"flags\": {\"a\": {\"percentage\": 101}}}"]]);
            $this->fail('an invalid text was written');
        } catch (FlagsException $e) {
            $this->assertSame('INVALID_FLAGS', $e->getResultName());
            $this->assertStringStartsWith(
                "flags.json: the edit would make the file invalid; nothing was written\nflags.json:2:32: flags.a.percentage: ",
                $e->getMessage(),
            );
            $this->assertCount(1, $e->getDiagnostics());
        }
        $this->assertSame(self::example(), file_get_contents("$dir/flags.json"));
        $this->assertSame([], self::audit($dir));
    }

    public function testBadOperationsAreRefusedNamingTheField(): void
    {
        $dir = self::copyOfExample();
        $file = $this->editor($dir);
        $cases = [
            'ops[0].percentage: invalid percentage "12.345": at most two decimals (0.01 is the smallest step)'
                => static fn () => $file->setPercentage('enrollment_service', '12.345'),
            'ops[1].op: unknown operation "kil"; expected one of: set_percentage, set_ramp, add_pilots, remove_pilots, kill, unkill, pause, resume, stage, rollback, kill_all, unkill_all, create, delete, replace'
                => static fn () => $file->apply([['op' => 'kill_all'], ['op' => 'kil', 'flag' => 'x']]),
            'ops[0].ids[0]: expected a string, found the number 1.5'
                => static fn () => $file->addPilots('enrollment_service', [1.5]),
            'The operations must be a non-empty list, such as [[\'op\' => \'kill\', \'flag\' => \'checkout\']]'
                => static fn () => $file->apply([]),
        ];
        foreach ($cases as $message => $edit) {
            try {
                $edit();
                $this->fail("accepted: $message");
            } catch (FlagsException $e) {
                $this->assertSame('INVALID_ARGUMENT', $e->getResultName());
                $this->assertSame($message, $e->getMessage());
            }
        }
        try {
            $file->kill("bad \xff");
            $this->fail('accepted bytes that are not UTF-8');
        } catch (FlagsException $e) {
            $this->assertSame('INVALID_UTF8', $e->getResultName());
        }
        $this->assertSame(self::example(), file_get_contents("$dir/flags.json"));
    }

    public function testOptionsAreChecked(): void
    {
        foreach ([
            [['actor' => ' '], 'Option "actor": expected a name, not blank (leave the option out to record the login name), got " "'],
            [['lock_wait_ms' => 600000], 'Option "lock_wait_ms": expected milliseconds from 0 to 60000, got 600000'],
            [['command' => 5], 'Option "command": expected a string, got 5'],
            [['auditlog' => 'x'], 'Unknown option "auditlog"; known options: audit_log, actor, command, reason, lock_wait_ms, library'],
        ] as [$options, $message]) {
            try {
                new FlagFile('flags.json', $options);
                $this->fail('accepted ' . json_encode($options));
            } catch (FlagsException $e) {
                $this->assertSame(FlagsException::INVALID_ARGUMENT, $e->getCode());
                $this->assertSame($message, $e->getMessage());
            }
        }
        $this->assertSame('some/flags.json', (new FlagFile('some/flags.json'))->path());
    }

    public function testTheDefaultActorAndAuditLogAreTheOnesFlagsUses(): void
    {
        $cliDir = self::copyOfExample();
        $phpDir = self::copyOfExample();
        [$status, , $stderr] = self::cli($cliDir, ['kill-all', 'flags.json']);
        $this->assertSame(0, $status, $stderr);
        chdir($phpDir);
        $result = (new FlagFile('flags.json'))->killAll();
        $this->assertSame(self::audit($cliDir)[0]['actor'], self::audit($phpDir)[0]['actor']);
        $this->assertSame(realpath("$phpDir/flags.json.audit.jsonl"), $result->auditLog);
        // The command defaults to PHP's command line.
        $this->assertStringStartsWith('php ', self::audit($phpDir)[0]['command']);

        $log = self::tempDir() . '/audit.jsonl';
        $result = (new FlagFile("$phpDir/flags.json", ['audit_log' => $log, 'actor' => 'x']))->unkillAll();
        $this->assertSame($log, $result->auditLog);
        $this->assertCount(1, explode("\n", trim((string) file_get_contents($log))));
    }

    public function testReplaceCreatesAFileThatDoesNotExist(): void
    {
        $dir = self::tempDir();
        $path = "$dir/new.json";
        $text = "{\"version\": 1, \"flags\": {\"a\": {\"percentage\": 5}}}\n";
        $file = new FlagFile($path, ['actor' => 'ci']);
        try {
            $file->kill('a');
            $this->fail('edited a file that does not exist');
        } catch (FlagsException $e) {
            $this->assertSame('IO', $e->getResultName());
            $this->assertSame("$path: cannot read: No such file or directory (os error 2)", $e->getMessage());
        }
        $dry = $file->replace($text, true);
        $this->assertFalse($dry->written);
        $this->assertFileDoesNotExist($path);
        $result = $file->replace($text);
        $this->assertTrue($result->written);
        $this->assertSame($text, file_get_contents($path));
        // The content hash of no bytes (SipHash-2-4-128, keys 0, of "").
        $this->assertSame('f4f2ced447ab02427de0a38047d74950', $result->before);
        $this->assertSame(['new flag a: percentage 5%'], $result->changes);
        $status = self::cliStatus($dir, 'new.json');
        $this->assertSame($status['content_hash'], $result->after);
        $this->assertSame(0666 & ~umask(), fileperms($path) & 0777, 'the permissions of a new file under this umask');
    }

    public function testAFileChangedMeanwhileIsAConflictAndKeepsTheirEdit(): void
    {
        $dir = self::copyOfExample();
        $script = "$dir/edit.php";
        file_put_contents($script, "<?php\nrequire " . var_export(dirname(__DIR__) . '/bootstrap/autoload.php', true) . ";\n"
            . "try {\n"
            . "    (new Flags\\FlagFile('flags.json', ['actor' => 'php']))->setPercentage('enrollment_service', 50);\n"
            . "    echo \"written\\n\";\n"
            . "} catch (Flags\\FlagsException \$e) {\n"
            . "    echo \$e->getResultName(), \"\\n\", \$e->getMessage(), \"\\n\";\n"
            . "}\n");
        $env = getenv();
        unset($env['FLAGS_TEST_STOP_AT']);
        $process = proc_open(
            [PHP_BINARY, $script],
            [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']],
            $pipes,
            $dir,
            ['FLAGS_TEST_PAUSE_BEFORE_WRITE_MS' => '4000'] + $env,
        );
        $this->assertIsResource($process);
        $line = self::readLine($pipes[2], 30.0);
        if ($line === '' && str_contains((string) \Flags\Internal\Native::$library, '/release/')) {
            proc_close($process);
            $this->markTestSkipped('the library ' . \Flags\Internal\Native::$library . ' is a release build, which has '
                . 'no FLAGS_TEST_PAUSE_BEFORE_WRITE_MS hook to pause an edit with; bindings/php/run tests a debug build');
        }
        $this->assertSame(
            'FLAGS_TEST_PAUSE_BEFORE_WRITE_MS: pausing 4000 ms before writing',
            $line,
            'the edit pauses after reading the file (the library must be a debug build)',
        );
        // Another operator edits the file meanwhile.
        $theirs = str_replace('"percentage": 25', '"percentage": 30', self::example());
        file_put_contents("$dir/flags.json", $theirs);
        $out = (string) stream_get_contents($pipes[1]);
        $rest = (string) stream_get_contents($pipes[2]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        $this->assertSame(0, proc_close($process), $rest);
        $this->assertSame(
            "CONFLICT\nflags.json changed since it was read (another edit?); nothing was written, run the command again\n",
            $out,
        );
        $this->assertSame($theirs, file_get_contents("$dir/flags.json"), 'their edit survives');
        $this->assertSame([], self::audit($dir));
        // Run again: it applies on top of their edit.
        $this->editor($dir)->setPercentage('enrollment_service', 50);
        $this->assertSame(
            str_replace('"percentage": 12.5', '"percentage": 50', $theirs),
            file_get_contents("$dir/flags.json"),
        );
    }

    public function testAnotherEditHoldingTheLockIsAConflictOnceTheWaitIsOver(): void
    {
        $dir = self::copyOfExample();
        // flock(1) holds the directory's lock as an edit in progress does
        // (the `flags` commands and the library take the same flock), says
        // so once it has it, and lets go when its stdin closes.
        $process = proc_open(
            ['flock', '--close', $dir, '-c', 'echo locked; read -r _ || true'],
            [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']],
            $pipes,
        );
        $this->assertIsResource($process);
        $this->assertSame('locked', self::readLine($pipes[1], 30.0), 'flock(1) from util-linux holds the lock');
        try {
            $this->editor($dir, ['lock_wait_ms' => 100])->killAll();
            $this->fail('edited while another edit held the lock');
        } catch (FlagsException $e) {
            $this->assertSame(FlagsException::CONFLICT, $e->getCode());
            $this->assertSame('CONFLICT', $e->getResultName());
            $this->assertSame(
                'flags.json: another flags command has been editing files in . for 100 ms; nothing was written',
                $e->getMessage(),
            );
        }
        // The flags command waits for it the same way.
        [$status, , $stderr] = self::cli($dir, ['kill-all', 'flags.json', '--dry-run']);
        $this->assertSame(0, $status, 'a dry run takes no lock: ' . $stderr);
        $this->assertSame(['kill_all: off -> ON'], $this->editor($dir)->killAll(true)->changes);
        $this->assertSame(self::example(), file_get_contents("$dir/flags.json"));
        $this->assertSame([], self::audit($dir));
        fclose($pipes[0]);
        stream_get_contents($pipes[1]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        $this->assertSame(0, proc_close($process));
        // Once it is released, the edit goes through.
        $this->assertSame('kill_all: off -> ON', $this->editor($dir)->killAll()->summary);
    }

    public function testPauseFreezesARampAndResumeIsTheOneFlagsMakes(): void
    {
        $cliDir = self::copyOfExample();
        $phpDir = self::copyOfExample();
        $at = new \DateTimeImmutable('2026-11-21T12:00:00Z');
        $result = $this->editor($phpDir)->pause('community_dual_write', $at);
        $this->assertSame('community_dual_write: ramp paused at 2026-11-21T12:00:00.000+00:00 (55%)', $result->summary);
        $status = $this->editor($phpDir)->status($at->modify('+6 hours'));
        $this->assertSame(5500, $status['flags'][0]['basis_points_now'], 'frozen at its percentage of $at');
        // Without $at: now, as `flags pause` does.
        $this->editor($phpDir)->resume('community_dual_write');
        $this->editor($phpDir)->pause('community_dual_write');
        $this->assertStringContainsString('"paused_at"', (string) file_get_contents("$phpDir/flags.json"));
        [$status, , $stderr] = self::cli($cliDir, ['pause', 'flags.json', 'community_dual_write']);
        $this->assertSame(0, $status, $stderr);
        [$status, , $stderr] = self::cli($cliDir, ['resume', 'flags.json', 'community_dual_write']);
        $this->assertSame(0, $status, $stderr);
        $this->assertSame('community_dual_write: ramp resumed', $this->editor($phpDir)->resume('community_dual_write')->summary);
        $this->assertSame(file_get_contents("$cliDir/flags.json"), file_get_contents("$phpDir/flags.json"));
        try {
            $this->editor($phpDir)->pause('enrollment_service');
            $this->fail('a pause of a flag without a ramp');
        } catch (FlagsException $e) {
            $this->assertSame('INVALID_ARGUMENT', $e->getResultName());
            $this->assertStringContainsString('has no ramp to pause', $e->getMessage());
        }
    }

    public function testStageMovesAMigrationFlagAsFlagsStageDoes(): void
    {
        $file = "{\n  \"version\": 1,\n  \"flags\": {\n    \"orders_reads\": {\n      \"migration\": {\"stages\": 6, \"stage\": \"dualwrite\"},\n      \"pilots\": {\"user_id\": [\"7\"]},\n      \"percentage\": 10\n    },\n    \"plain\": {}\n  }\n}\n";
        $cliDir = self::tempDir();
        $phpDir = self::tempDir();
        file_put_contents("$cliDir/flags.json", $file);
        file_put_contents("$phpDir/flags.json", $file);
        [$status, , $stderr] = self::cli($cliDir, ['stage', 'flags.json', 'orders_reads', '--next', 'shadow', '--pilot-stage', 'live', '--actor', 'ci']);
        $this->assertSame(0, $status, $stderr);
        $result = $this->editor($phpDir, ['reason' => 'shadow reads'])->stage('orders_reads', next: 'shadow', pilotStage: 'live');
        $this->assertSame('shadow reads', self::audit($phpDir)[0]['reason']);
        $this->assertSame('orders_reads: migration next dualwrite -> shadow, pilot_stage dualwrite -> live', $result->summary);
        $this->assertSame(file_get_contents("$cliDir/flags.json"), file_get_contents("$phpDir/flags.json"), 'the bytes flags stage wrote');
        $this->assertSame(self::audit($cliDir)[0]['summary'], self::audit($phpDir)[0]['summary']);
        $this->assertStringContainsString('"stage": "dualwrite", "next": "shadow", "pilot_stage": "live"}', (string) file_get_contents("$phpDir/flags.json"));

        // The stage is the variant, for pilots and the rest.
        $flags = \Flags\Flags::fromJson((string) file_get_contents("$phpDir/flags.json"));
        $this->assertSame('live', $flags->evaluate('orders_reads', ['user_id' => '7'])->variant);

        $dry = $this->editor($phpDir)->rollback('orders_reads', true);
        $this->assertTrue($dry->dryRun);
        $this->assertSame(['orders_reads: migration next shadow -> dualwrite, pilot_stage live -> dualwrite'], $dry->changes);
        [$status, , $stderr] = self::cli($cliDir, ['stage', 'flags.json', 'orders_reads', '--rollback', '--actor', 'ci']);
        $this->assertSame(0, $status, $stderr);
        $this->editor($phpDir)->rollback('orders_reads');
        $this->assertSame(file_get_contents("$cliDir/flags.json"), file_get_contents("$phpDir/flags.json"), 'the bytes flags stage --rollback wrote');
        $flags = \Flags\Flags::fromJson((string) file_get_contents("$phpDir/flags.json"));
        $this->assertSame('dualwrite', $flags->evaluate('orders_reads', ['user_id' => '7'])->variant);

        foreach ([
            [fn () => $this->editor($phpDir)->stage('orders_reads', next: 'shdow'), 'INVALID_ARGUMENT', 'did you mean "shadow"?'],
            [fn () => $this->editor($phpDir)->stage('plain', next: 'live'), 'INVALID_ARGUMENT', 'is not a migration flag'],
            [fn () => $this->editor($phpDir)->stage('orders_reads', stage: 'live'), 'INVALID_FLAGS', 'comes before stage "live"'],
        ] as [$edit, $code, $message]) {
            try {
                $edit();
                $this->fail("expected $message");
            } catch (FlagsException $e) {
                $this->assertSame($code, $e->getResultName());
                $this->assertStringContainsString($message, $e->getMessage());
            }
        }
        $this->assertSame(file_get_contents("$cliDir/flags.json"), file_get_contents("$phpDir/flags.json"), 'refusals write nothing');
    }

    public function testStatusIsTheDocumentOfFlagsStatusJson(): void
    {
        $dir = self::copyOfExample();
        $file = $this->editor($dir);
        $file->kill('community_dual_write');
        $expected = self::cliStatus($dir, 'flags.json');
        $this->assertSame($expected, $file->status(new \DateTimeImmutable(self::EXAMPLE_NOW)));
        $this->assertSame('2026-11-21T12:00:00.000Z', $expected['now']);
        $now = $file->status();
        $this->assertGreaterThan('2026-01-01', $now['now'], 'the system clock without $now');
        unlink("$dir/flags.json");
        try {
            $file->status();
            $this->fail('a status of a missing file');
        } catch (FlagsException $e) {
            $this->assertSame('IO', $e->getResultName());
            $this->assertStringContainsString('flags.json: cannot read: No such file or directory', $e->getMessage());
        }
    }

    /** @return array<string, mixed> `flags status FILE --json --now EXAMPLE_NOW` in $dir, decoded */
    private static function cliStatus(string $dir, string $file): array
    {
        [$status, $stdout, $stderr] = self::cli($dir, ['status', $file, '--json', '--now', self::EXAMPLE_NOW]);
        self::assertSame(0, $status, $stderr);
        return json_decode($stdout, true, 64, JSON_THROW_ON_ERROR);
    }

    /** One line from $stream (without its newline), waiting up to $seconds. */
    private static function readLine($stream, float $seconds): string
    {
        $deadline = microtime(true) + $seconds;
        $line = '';
        stream_set_blocking($stream, false);
        while (microtime(true) < $deadline) {
            $read = [$stream];
            $write = $except = null;
            if (stream_select($read, $write, $except, 0, 100000) > 0) {
                $chunk = fgets($stream);
                if ($chunk === false && feof($stream)) {
                    break;
                }
                $line .= (string) $chunk;
                if (str_ends_with($line, "\n")) {
                    break;
                }
            }
        }
        stream_set_blocking($stream, true);
        return rtrim($line, "\n");
    }
}
