<?php

declare(strict_types=1);

namespace Flags\Laravel\Tests\Feature;

use App\Models\User;
use Flags\Laravel\Facades\Flags;
use Flags\Laravel\Tests\TestCase;
use Illuminate\Contracts\Debug\ExceptionHandler;

/** A booted application follows edits of its flag file, and survives a missing or broken one. */
final class ReloadTest extends TestCase
{
    public function testAnEditIsSeenWithoutRestarting(): void
    {
        $path = $this->useFlagFile(['checkout' => ['percentage' => 100]]);
        $this->actingAs(new User(42));
        $this->get('/checkout-v2')->assertOk();
        $version = Flags::getFacadeRoot()->flags()->version();

        self::writeAtomically($path, self::flagFile(['checkout' => ['killed' => true, 'percentage' => 100]]));
        $this->assertTrue(self::waitFor(static fn (): bool => !Flags::active('checkout')), 'the edit was not seen within 10 s');
        $this->assertSame('KILLED', Flags::evaluate('checkout')->reason);
        $this->assertNotSame($version, Flags::getFacadeRoot()->flags()->version());
        $this->get('/checkout-v2')->assertNotFound();
    }

    public function testABadEditKeepsTheLastGoodFlags(): void
    {
        $path = $this->useFlagFile(['checkout' => ['percentage' => 100]]);
        $this->assertTrue(Flags::active('checkout'));
        self::writeAtomically($path, '{"version": 1, "flags": {"checkout": {"percentge": 0}}}');
        $flags = Flags::getFacadeRoot()->flags();
        $this->assertTrue(self::waitFor(static fn (): bool => ($flags->status()['healthy'] ?? true) === false), 'the bad edit was not noticed');
        $this->assertTrue(Flags::active('checkout'), 'still the last good flags');
    }

    public function testAMissingFileIsReportedOnceAndEveryFlagIsOffUntilItAppears(): void
    {
        $path = self::tempDir() . '/flags.json';
        config(['flags.file' => $path, 'flags.check_interval_ms' => 20]);
        $reported = [];
        $this->app->instance(ExceptionHandler::class, new class ($reported) implements ExceptionHandler {
            public function __construct(private array &$reported) {}
            public function report(\Throwable $e) { $this->reported[] = $e->getMessage(); }
            public function shouldReport(\Throwable $e) { return true; }
            public function render($request, \Throwable $e) { throw $e; }
            public function renderForConsole($output, \Throwable $e) {}
        });

        $this->assertFalse(Flags::active('checkout'));
        $this->assertFalse(Flags::active('checkout'));
        $this->assertSame('FLAG_NOT_FOUND', Flags::evaluate('checkout')->reason);
        $this->assertCount(1, $reported, 'reported once, not per check');
        $this->assertStringContainsString("Cannot open the flag file $path", $reported[0]);

        file_put_contents($path, self::flagFile(['checkout' => ['percentage' => 100]]));
        $this->assertTrue(self::waitFor(static fn (): bool => Flags::active('checkout')), 'the file that appeared was not opened within 10 s');
        $this->assertCount(1, $reported);
    }

    public function testAnOpeningErrorIsThrownToTheCommandsThatAskForIt(): void
    {
        config(['flags.file' => self::tempDir() . '/missing.json']);
        [$status, $output] = $this->runArtisan('flags:explain', ['flag' => 'checkout', '--user' => '1']);
        $this->assertSame(1, $status);
        $this->assertStringContainsString('Cannot open the flag file ' . config('flags.file') . ': a file could not be read', $output);
        $this->assertStringContainsString('No such file or directory', $output);
    }
}
