<?php

declare(strict_types=1);

namespace Flags\Laravel\Tests\Feature;

use App\Models\User;
use Flags\Laravel\Facades\Flags;
use Flags\Laravel\Tests\TestCase;

/** The `flag:` route middleware, through the HTTP kernel. */
final class MiddlewareTest extends TestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        $this->useFlagFile([
            'checkout' => ['pilots' => ['user_id' => ['1']]],
            'search' => ['pilots' => ['user_id' => ['1', '2']]],
        ]);
    }

    public function testOnLetsTheRequestThrough(): void
    {
        $this->actingAs(new User(1));
        $this->get('/checkout-v2')->assertOk()->assertSeeText('checkout v2');
        $this->get('/checkout-and-search')->assertOk()->assertSeeText('both');
    }

    public function testOffIsNotFound(): void
    {
        $this->actingAs(new User(2));
        $this->get('/checkout-v2')->assertNotFound();
        $this->get('/checkout-and-search')->assertNotFound();
        $this->app['auth']->forgetGuards();
        $this->get('/checkout-v2')->assertNotFound();
    }

    public function testEveryFlagNamedMustBeOn(): void
    {
        $this->useFlagFile(['checkout' => ['percentage' => 100], 'search' => ['percentage' => 0]]);
        $this->get('/checkout-v2')->assertOk();
        $this->get('/checkout-and-search')->assertNotFound();
    }

    public function testTheStatusIsConfigurable(): void
    {
        config(['flags.middleware.status' => 403]);
        $this->get('/checkout-v2')->assertForbidden();
    }

    public function testOrARedirect(): void
    {
        config(['flags.middleware.redirect_to' => '/old-checkout']);
        $this->get('/checkout-v2')->assertRedirect('/old-checkout');
    }

    public function testTheMiddlewareHonoursTheFake(): void
    {
        $fake = Flags::fake(['checkout' => true]);
        $this->get('/checkout-v2')->assertOk();
        $this->get('/checkout-and-search')->assertNotFound();
        $fake->assertChecked('checkout', 2)->assertChecked('search', 1);
    }

    public function testTheHeaderUserThroughTheKernel(): void
    {
        $this->get('/checkout-v2', ['X-User-Id' => '1'])->assertOk();
        $this->app['auth']->forgetGuards();
        $this->get('/checkout-v2', ['X-User-Id' => '2'])->assertNotFound();
    }
}
