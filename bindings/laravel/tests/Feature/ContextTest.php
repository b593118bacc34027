<?php

declare(strict_types=1);

namespace Flags\Laravel\Tests\Feature;

use App\Models\User;
use Flags\Laravel\Contracts\Features;
use Flags\Laravel\Facades\Flags;
use Flags\Laravel\Tests\TestCase;
use Illuminate\Contracts\Auth\Authenticatable;
use Illuminate\Http\Request;

/** How a check's context is built: the user, HasFlagsContext, the header, the resolver; never cached. */
final class ContextTest extends TestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        $this->useFlagFile([
            // Pilots only: on for exactly the users, tenants and versions named.
            'for_user_7' => ['pilots' => ['user_id' => ['7']]],
            'for_acme' => ['pilots' => ['tenant_id' => ['acme']]],
            'for_new_app' => ['requires' => [['attribute' => 'app_version', 'op' => 'semver_gte', 'value' => '3.2.0']], 'percentage' => 100],
            'for_eu' => ['pilots' => ['region' => ['eu']]],
        ]);
    }

    public function testTheLoggedInUserIdAndItsFlagsContext(): void
    {
        $this->actingAs(new User(7, ['tenant_id' => 'acme']));
        $this->assertSame(['user_id' => '7', 'tenant_id' => 'acme'], Flags::context());
        $this->assertTrue(Flags::active('for_user_7'));
        $this->assertTrue(Flags::active('for_acme'));
        $this->assertSame(['for_acme', 'for_user_7'], Flags::enabled());
    }

    public function testAGuestHasNoUserId(): void
    {
        $this->assertSame([], Flags::context());
        $this->assertFalse(Flags::active('for_user_7'));
        $this->assertSame('ROLLOUT_OUT', Flags::evaluate('for_user_7')->reason);
    }

    public function testAUserWithoutHasFlagsContextGivesItsIdOnly(): void
    {
        $user = new class () implements Authenticatable {
            public function getAuthIdentifierName() { return 'id'; }
            public function getAuthIdentifier() { return 7; }
            public function getAuthPassword() { return ''; }
            public function getRememberToken() { return null; }
            public function setRememberToken($value) {}
            public function getRememberTokenName() { return ''; }
        };
        $this->actingAs($user);
        $this->assertSame(['user_id' => '7'], Flags::context());
        $this->assertTrue(Flags::active('for_user_7'));
    }

    public function testTheAppVersionHeaderOfTheRequest(): void
    {
        $this->getJson('/flags/for_new_app', ['X-App-Version' => '3.2.0'])
            ->assertOk()->assertJson(['active' => true, 'context' => ['app_version' => '3.2.0']]);
        $this->getJson('/flags/for_new_app', ['X-App-Version' => '3.1.9'])
            ->assertOk()->assertJson(['active' => false, 'reason' => 'REQUIREMENT_UNMET']);
        $this->getJson('/flags/for_new_app')
            ->assertOk()->assertJson(['active' => false, 'reason' => 'REQUIREMENT_UNMET', 'context' => []]);
    }

    public function testTheHeaderNameIsConfigurable(): void
    {
        config(['flags.context.app_version_header' => 'X-Client-Version']);
        $this->getJson('/flags/for_new_app', ['X-App-Version' => '9.0.0'])->assertJson(['active' => false]);
        $this->getJson('/flags/for_new_app', ['X-Client-Version' => '9.0.0'])->assertJson(['active' => true]);
    }

    public function testAResolverClosureAddsAttributesAndWins(): void
    {
        config(['flags.context.resolver' => static fn (?Authenticatable $user, ?Request $request): array => [
            'region' => $request?->header('X-Region') ?? 'none',
            'tenant_id' => $user === null ? null : 'resolved',
        ]]);
        $this->actingAs(new User(7, ['tenant_id' => 'acme']));
        $this->getJson('/flags/for_eu', ['X-Region' => 'eu'])->assertJson([
            'active' => true,
            'context' => ['user_id' => '7', 'tenant_id' => 'resolved', 'region' => 'eu'],
        ]);
        $this->assertFalse(Flags::active('for_acme'), 'the resolver\'s tenant_id replaced the user\'s');
    }

    public function testAResolverClass(): void
    {
        config(['flags.context.resolver' => RegionResolver::class]);
        $this->assertTrue(Flags::active('for_eu'));
        $this->assertSame(['region' => 'eu'], Flags::context());
    }

    public function testABadResolverSaysWhatIsExpected(): void
    {
        config(['flags.context.resolver' => static fn () => 'eu']);
        $this->expectExceptionMessage('flags.context.resolver must return an array of attributes, returned string');
        Flags::active('for_eu');
    }

    public function testForAUserAnArrayAnIdOrNothing(): void
    {
        $this->actingAs(new User(1));
        $this->assertTrue(Flags::for(new User(7))->active('for_user_7'));
        $this->assertTrue(Flags::for(['user_id' => '7'])->active('for_user_7'));
        $this->assertTrue(Flags::for(7)->active('for_user_7'));
        $this->assertTrue(Flags::for('7')->active('for_user_7'));
        $this->assertFalse(Flags::for(null)->active('for_user_7'));
        $this->assertSame(['user_id' => '7', 'tenant_id' => 'acme'], Flags::for(new User(7, ['tenant_id' => 'acme']))->context());
        $this->assertSame(['for_acme'], Flags::for(['tenant_id' => 'acme'])->enabled());
        $this->assertSame(['user_id' => '1'], Flags::context(), 'for() leaves the current user alone');
        $this->assertFalse(Flags::active('for_user_7'));
    }

    public function testForRejectsWhatCannotBeAScope(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('Flags::for() takes an Authenticatable');
        Flags::for(new \stdClass());
    }

    public function testAnInvalidContextIsOffWithTheReason(): void
    {
        $this->actingAs(new User(7, ['score' => 1.5]));
        $this->assertFalse(Flags::active('for_user_7'));
        $evaluation = Flags::evaluate('for_user_7');
        $this->assertSame('INVALID_CONTEXT', $evaluation->reason);
        $this->assertStringContainsString('score', (string) $evaluation->error);
    }

    /**
     * One application serving several requests (Octane, queue workers,
     * tests) must answer for each request's user: nothing about a user is
     * kept between calls.
     */
    public function testNothingIsCachedAcrossRequestsOrLogins(): void
    {
        $manager = $this->app->make(Features::class);
        $this->actingAs(new User(7));
        $this->getJson('/flags/for_user_7')->assertJson(['active' => true, 'context' => ['user_id' => '7']]);
        $this->actingAs(new User(8));
        $this->getJson('/flags/for_user_7')->assertJson(['active' => false, 'context' => ['user_id' => '8']]);
        $this->assertFalse(Flags::active('for_user_7'));
        $this->assertFalse($manager->active('for_user_7'), 'the same manager instance, now for user 8');
        $this->app['auth']->guard()->setUser(new User(7));
        $this->assertTrue($manager->active('for_user_7'), 'a login in the middle of a request is seen at once');
        $this->assertSame($manager, $this->app->make(Features::class));
    }

    public function testTheRequestsOwnUserThroughTheGuard(): void
    {
        $this->getJson('/flags/for_acme', ['X-User-Id' => '1'])->assertJson(['active' => true, 'context' => ['user_id' => '1', 'tenant_id' => 'acme', 'plan' => 'pro']]);
        $this->app['auth']->forgetGuards();
        $this->getJson('/flags/for_acme', ['X-User-Id' => '2'])->assertJson(['active' => false, 'context' => ['user_id' => '2', 'tenant_id' => 'initech']]);
    }
}

final class RegionResolver
{
    public function __invoke(?Authenticatable $user, ?Request $request): array
    {
        return ['region' => 'eu'];
    }
}
