<?php

declare(strict_types=1);

namespace Flags\Laravel\Commands;

use Flags\Evaluation;
use Flags\FlagsException;
use Flags\Laravel\ContextFactory;
use Flags\Laravel\FlagSource;
use Illuminate\Console\Command;

/**
 * `flags:explain FLAG --user=ID [--attr k=v ...]`: on or off for that
 * user, why, and the bucket: the question behind every "why does user 42
 * (not) see it?".
 */
final class ExplainCommand extends Command
{
    protected $signature = 'flags:explain {flag : The flag to explain}
        {--user= : The user id; the user is looked up with the auth provider for its HasFlagsContext attributes}
        {--attr=* : More attributes, KEY=VALUE (repeat: --attr tenant_id=acme --attr app_version=3.2.0)}
        {--now= : Evaluate at this time (RFC 3339) instead of now}
        {--json : The answer as JSON}';

    protected $description = 'Explain a flag for one user: on or off, the reason and the bucket';

    private const REASONS = [
        Evaluation::KILL_ALL => 'the global kill switch is on (php artisan flags:unkill-all lifts it)',
        Evaluation::FLAG_NOT_FOUND => 'there is no flag of that name in %s',
        Evaluation::KILLED => 'the flag\'s kill switch is on (php artisan flags:unkill lifts it)',
        Evaluation::REQUIREMENT_UNMET => 'a requirement of the flag does not hold for this context',
        Evaluation::DENIED => 'the context is in the flag\'s deny list',
        Evaluation::PILOT => 'a pilot (of this flag, or of every flag): on whatever the percentage',
        Evaluation::ROLLOUT_IN => 'the bucket is inside the rollout percentage',
        Evaluation::ROLLOUT_OUT => 'the bucket is outside the rollout percentage',
        Evaluation::MISSING_BUCKET_KEY => 'the context has no value for the flag\'s bucket_by attribute',
        Evaluation::INVALID_CONTEXT => 'the context is not valid attributes: %s',
    ];

    public function handle(FlagSource $source, ContextFactory $contexts): int
    {
        $flag = (string) $this->argument('flag');
        $context = [];
        $user = $this->option('user');
        if ($user !== null && $user !== '') {
            $context = $this->userContext((string) $user, $contexts);
        }
        foreach ((array) $this->option('attr') as $pair) {
            if (!preg_match('/^([^=]+)=(.*)$/s', (string) $pair, $m)) {
                $this->error("--attr: expected KEY=VALUE (e.g. tenant_id=acme), found \"$pair\"");
                return self::INVALID;
            }
            $context[$m[1]] = $m[2];
        }
        $now = Rfc3339::option($this->option('now'), fn (string $message) => $this->error($message));
        if ($now === false) {
            return self::INVALID;
        }
        try {
            $flags = $source->open(true);
        } catch (FlagsException $e) {
            $this->error($e->getMessage());
            return self::FAILURE;
        }
        $evaluation = $now !== null ? $flags->evaluateAt($flag, $context, $now) : $flags->evaluate($flag, $context);
        $why = sprintf(self::REASONS[$evaluation->reason] ?? '%s', $evaluation->reason === Evaluation::FLAG_NOT_FOUND
            ? $source->describe()
            : (string) $evaluation->error);
        if ($this->option('json')) {
            $this->line(json_encode(
                ['flag' => $flag, 'context' => (object) $context] + $evaluation->toArray() + ['why' => $why],
                JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR,
            ));
            return self::SUCCESS;
        }
        $this->line(sprintf('%s is %s for %s', $flag, $evaluation->enabled ? 'ON' : 'OFF', self::describe($context)));
        $this->line("reason:  {$evaluation->reason}: $why");
        $this->line('bucket:  ' . ($evaluation->bucket === null
            ? '- (the rollout did not decide)'
            : "{$evaluation->bucket} of 0..9999 (on when below the percentage x 100)"));
        $this->line('variant: ' . ($evaluation->variant ?? '-'));
        return self::SUCCESS;
    }

    /**
     * The user's context as the application builds it (its HasFlagsContext
     * attributes) when the auth provider finds the user; else user_id alone.
     *
     * @return array<string, string|int|bool|null>
     */
    private function userContext(string $id, ContextFactory $contexts): array
    {
        try {
            $guard = config('flags.context.guard') ?? config('auth.defaults.guard');
            $provider = $this->laravel['auth']->createUserProvider(config("auth.guards.$guard.provider"));
            $user = $provider?->retrieveById($id);
        } catch (\Throwable $e) {
            $this->warn("could not look user $id up ({$e->getMessage()}); explaining with user_id alone");
            return ['user_id' => $id];
        }
        if ($user === null) {
            $this->warn("no user $id found by the auth provider; explaining with user_id alone");
            return ['user_id' => $id];
        }
        return $contexts->of($user);
    }

    /** @param array<string, mixed> $context */
    private static function describe(array $context): string
    {
        if ($context === []) {
            return 'an empty context';
        }
        $parts = [];
        foreach ($context as $key => $value) {
            $parts[] = $key . '=' . (\is_bool($value) ? ($value ? 'true' : 'false') : (string) json_encode($value, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES));
        }
        return implode(' ', $parts);
    }
}
