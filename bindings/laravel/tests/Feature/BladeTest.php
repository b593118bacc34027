<?php

declare(strict_types=1);

namespace Flags\Laravel\Tests\Feature;

use App\Models\User;
use Flags\Laravel\Facades\Flags;
use Flags\Laravel\Tests\TestCase;

/** @flag, @unlessflag and @variant, rendered by the application's view (resources/views/page.blade.php). */
final class BladeTest extends TestCase
{
    private function flags(bool $checkout, ?string $copy, bool $search): void
    {
        $this->useFlagFile([
            'checkout' => ['percentage' => $checkout ? 100 : 0],
            'search' => ['percentage' => $search ? 100 : 0],
            'checkout_copy' => $copy === null
                ? ['percentage' => 0]
                : ['percentage' => 100, 'variants' => [['name' => $copy, 'weight' => 100]]],
        ]);
        $this->actingAs(new User(42));
    }

    public function testTheOnBranches(): void
    {
        $this->flags(true, 'treatment', false);
        $this->get('/page')->assertOk()
            ->assertSee('new checkout')->assertDontSee('old checkout')
            ->assertSee('copy: treatment')->assertDontSee('copy: control')->assertDontSee('copy: none')
            ->assertSee('no search');
    }

    public function testTheOffBranches(): void
    {
        $this->flags(false, null, true);
        $this->get('/page')->assertOk()
            ->assertSee('old checkout')->assertDontSee('new checkout')
            ->assertSee('copy: none')->assertDontSee('copy: treatment')
            ->assertDontSee('no search');
    }

    public function testTheElseVariantBranch(): void
    {
        $this->flags(true, 'control', false);
        $this->get('/page')->assertOk()->assertSee('copy: control')->assertDontSee('copy: treatment')->assertDontSee('copy: none');
    }

    public function testBladeHonoursTheFake(): void
    {
        $this->flags(false, null, true);
        $fake = Flags::fake(['checkout' => true, 'checkout_copy' => 'treatment']);
        $this->get('/page')->assertOk()->assertSee('new checkout')->assertSee('copy: treatment')->assertSee('no search');
        $fake->assertChecked('checkout', 1)->assertChecked('checkout_copy')->assertChecked('search', 1);
    }

    public function testTheDirectivesCompileToChecksOfTheContract(): void
    {
        $compiled = $this->app['blade.compiler']->compileString("@flag('x') a @else b @endflag @variant('y', 'v') c @endvariant");
        $this->assertStringContainsString("Blade::check('flag', 'x')", $compiled);
        $this->assertStringContainsString("Blade::check('variant', 'y', 'v')", $compiled);
    }
}
