<?php

declare(strict_types=1);

namespace Flags\Laravel\Tests\Feature;

use App\Models\User;
use Flags\Laravel\Contracts\Features;
use Flags\Laravel\Facades\Flags;
use Flags\Laravel\Testing\FakeFeatures;
use Flags\Laravel\Tests\TestCase;
use PHPUnit\Framework\ExpectationFailedException;

/** Flags::fake(): forced flags and variants everywhere, everything else off, checks recorded. */
final class FakeTest extends TestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        // The real file says the opposite of the fake, so a leak shows.
        $this->useFlagFile(['checkout' => ['percentage' => 0], 'search' => ['percentage' => 100], 'copy' => ['percentage' => 0]]);
    }

    public function testForcesFlagsAndVariantsAndTurnsTheRestOff(): void
    {
        $fake = Flags::fake(['checkout' => true, 'copy' => 'treatment', 'legacy' => false]);
        $this->assertInstanceOf(FakeFeatures::class, $fake);
        $this->assertTrue(Flags::active('checkout'));
        $this->assertFalse(Flags::active('search'), 'not forced: off, whatever the file says');
        $this->assertFalse(Flags::active('legacy'));
        $this->assertSame('treatment', Flags::variant('copy'));
        $this->assertNull(Flags::variant('checkout'));
        $this->assertSame(['checkout', 'copy'], Flags::enabled());
        $evaluation = Flags::evaluate('copy');
        $this->assertSame([true, 'treatment', 'FAKE', null], [$evaluation->enabled, $evaluation->variant, $evaluation->reason, $evaluation->bucket]);
        $this->assertTrue(Flags::allAreActive(['checkout', 'copy']));
        $this->assertFalse(Flags::allAreActive(['checkout', 'search']));
        $this->assertTrue(Flags::someAreActive(['search', 'copy']));
        $this->assertTrue(Flags::inactive('search'));
    }

    public function testTheContainerTheInjectedContractAndRoutesGetTheFake(): void
    {
        $fake = Flags::fake(['checkout' => true]);
        $this->assertSame($fake, $this->app->make(Features::class));
        $this->getJson('/injected/checkout')->assertJson(['active' => true, 'enabled' => ['checkout']]);
        $this->getJson('/flags/search')->assertJson(['active' => false, 'reason' => 'FAKE']);
    }

    public function testAClosureDecidesPerContext(): void
    {
        Flags::fake(['checkout' => static fn (array $context): bool => ($context['user_id'] ?? null) === '7']);
        $this->actingAs(new User(7));
        $this->assertTrue(Flags::active('checkout'));
        $this->assertFalse(Flags::for(new User(8))->active('checkout'));
        $this->assertTrue(Flags::for(['user_id' => '7'])->active('checkout'));
    }

    public function testSetChangesAForcedFlag(): void
    {
        $fake = Flags::fake();
        $this->assertFalse(Flags::active('checkout'));
        $fake->set('checkout', true);
        $this->assertTrue(Flags::active('checkout'));
    }

    public function testAssertChecked(): void
    {
        $fake = Flags::fake(['checkout' => true]);
        $fake->assertNothingChecked();
        Flags::active('checkout');
        Flags::for(new User(3))->variant('copy');
        $fake->assertChecked('checkout')->assertChecked('checkout', 1)->assertChecked('copy')->assertNotChecked('search');
        $this->assertSame(['checkout', 'copy'], $fake->checked());
        $this->assertSame(['user_id' => '3'], $fake->checks()[1]['context']);
    }

    public function testAssertCheckedFailsWhenNotChecked(): void
    {
        $fake = Flags::fake();
        Flags::active('search');
        try {
            $fake->assertChecked('checkout');
        } catch (ExpectationFailedException $e) {
            $this->assertStringContainsString('The flag [checkout] was not checked. Checked: search.', $e->getMessage());
            return;
        }
        $this->fail('assertChecked passed for a flag nobody checked');
    }

    public function testAssertNotCheckedFailsWhenChecked(): void
    {
        $fake = Flags::fake();
        Flags::inactive('search');
        $this->expectException(ExpectationFailedException::class);
        $this->expectExceptionMessage('The flag [search] was checked 1 times, expected never.');
        $fake->assertNotChecked('search');
    }

    public function testAssertCheckedCountsTimes(): void
    {
        $fake = Flags::fake();
        Flags::active('search');
        Flags::active('search');
        $this->expectException(ExpectationFailedException::class);
        $this->expectExceptionMessage('The flag [search] was checked 2 times instead of 1.');
        $fake->assertChecked('search', 1);
    }

    public function testABadForcedValueIsRefused(): void
    {
        $this->expectException(\TypeError::class);
        Flags::fake(['checkout' => 1]);
    }
}
