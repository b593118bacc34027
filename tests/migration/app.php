<?php

declare(strict_types=1);

// The dual-write cutover's application, for the end-to-end proof
// (flags-server/tests/migration_prometheus.rs; docs/migrations.md, "The
// dual-write cutover, end to end").
//
// Accounts live in two SQLite stores, old.sqlite (the system being left)
// and new.sqlite (its replacement). Every request of a user records a
// visit (a write through Migrator::write: both stores from dualwrite on)
// and reads the user's account back (Migrator::read: the new store
// compared from shadow on). The stage of each user comes from the
// migration flag in the flag file, evaluated by the flags package through
// FFI; the records go to the flags server (POST /v1/migrations), which
// adds them to its /metrics.
//
//   php app.php setup DIR USERS        both stores with users 1..USERS, backfilled
//   php app.php inject DIR             the new store drifts: every email upper-cased
//   php app.php stages FILE FLAG USER...  each user's stage, as JSON
//   php app.php run FILE FLAG DIR URL TOKEN USERS SECONDS RATE
//                                      the worker: RATE requests a second for users
//                                      1..USERS in turn until SECONDS have passed (or
//                                      its parent is gone), a JSON status line every 250 ms
//
// The library is found as the package's tests find it (FLAGS_FFI_LIB, or
// build/config.php written by bindings/php/bin/flags-php-install).
// Exit codes: 0 done, 2 usage, 3 a missing PHP extension, 1 anything else.

require dirname(__DIR__, 2) . '/bindings/php/bootstrap/autoload.php';

use Flags\Flags;
use Flags\Migration\Deferred;
use Flags\Migration\Migrator;
use Flags\Migration\Reporter;

function fail(int $code, string $message): never
{
    fwrite(STDERR, "app.php: $message\n");
    exit($code);
}

function store(string $dir, string $name): PDO
{
    if (!extension_loaded('pdo_sqlite')) {
        fail(3, 'the PHP extension pdo_sqlite is not loaded: install it (Debian: apt-get install php8.2-sqlite3)');
    }
    $pdo = new PDO("sqlite:$dir/$name.sqlite", null, null, [
        PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
        PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
        PDO::ATTR_TIMEOUT => 10, // seconds to wait for another writer's lock
    ]);
    $pdo->exec('PRAGMA journal_mode = WAL');
    return $pdo;
}

/** A visit of $user: one write. */
function visit(PDO $db, string $user): int
{
    $update = $db->prepare('UPDATE accounts SET visits = visits + 1 WHERE id = ?');
    $update->execute([$user]);
    return $update->rowCount();
}

/** The account of $user: one read. */
function account(PDO $db, string $user): ?array
{
    $select = $db->prepare('SELECT id, email, visits FROM accounts WHERE id = ?');
    $select->execute([$user]);
    $row = $select->fetch();
    return $row === false ? null : $row;
}

$args = array_slice($argv, 1);
$command = array_shift($args) ?? '';

switch ($command) {
    case 'setup':
        [$dir, $users] = $args + [null, null];
        if ($dir === null || !ctype_digit((string) $users)) {
            fail(2, 'usage: app.php setup DIR USERS');
        }
        foreach (['old', 'new'] as $name) {
            $db = store($dir, $name);
            $db->exec('CREATE TABLE accounts (id TEXT PRIMARY KEY, email TEXT NOT NULL, visits INTEGER NOT NULL)');
            $insert = $db->prepare('INSERT INTO accounts (id, email, visits) VALUES (?, ?, 0)');
            $db->beginTransaction();
            for ($i = 1; $i <= (int) $users; $i++) {
                $insert->execute([(string) $i, "user$i@example.com"]);
            }
            $db->commit();
        }
        echo json_encode(['users' => (int) $users]), "\n";
        break;

    case 'inject':
        [$dir] = $args + [null];
        if ($dir === null) {
            fail(2, 'usage: app.php inject DIR');
        }
        $changed = store($dir, 'new')->exec('UPDATE accounts SET email = upper(email)');
        echo json_encode(['changed' => $changed]), "\n";
        break;

    case 'stages':
        $file = array_shift($args);
        $flag = array_shift($args);
        if ($file === null || $flag === null) {
            fail(2, 'usage: app.php stages FILE FLAG USER...');
        }
        $migrator = new Migrator(Flags::open($file));
        $stages = [];
        foreach ($args as $user) {
            $stages[$user] = $migrator->stage($flag, ['user_id' => $user])->value;
        }
        echo json_encode((object) $stages), "\n";
        break;

    case 'run':
        [$file, $flag, $dir, $url, $token, $users, $seconds, $rate] = $args + array_fill(0, 8, null);
        if ($rate === null || !ctype_digit($users) || !ctype_digit($seconds) || !ctype_digit($rate) || (int) $rate === 0) {
            fail(2, 'usage: app.php run FILE FLAG DIR URL TOKEN USERS SECONDS RATE');
        }
        $old = store($dir, 'old');
        $new = store($dir, 'new');
        $reporter = new Reporter($url, $token, 2000);
        // A worker has no "after the response": the other side runs at once
        // (so a shadow read sees the same rows as the read it checks), and
        // the records go out every 100 records or 250 ms, whichever first.
        $migrator = new Migrator(
            Flags::open($file, ['check_interval_ms' => 100]),
            reporter: $reporter,
            defer: Deferred::INLINE,
            flushEvery: 100,
        );
        $same = static fn (?array $a, ?array $b): bool => $a === $b;
        $parent = function_exists('posix_getppid') ? posix_getppid() : null;
        $start = hrtime(true);
        $end = $start + (int) $seconds * 1_000_000_000;
        $gap = intdiv(1_000_000_000, (int) $rate);
        $requests = 0;
        $errors = 0;
        $tick = hrtime(true);
        for ($i = 0; hrtime(true) < $end; $i++) {
            // Paced, not flat out: the servers, Prometheus and the guard
            // share the machine.
            $due = $start + $i * $gap;
            $now = hrtime(true);
            if ($due > $now) {
                usleep(intdiv($due - $now, 1000));
            }
            $user = (string) ($i % (int) $users + 1);
            $context = ['user_id' => $user];
            try {
                $migrator->write($flag, $context, old: fn () => visit($old, $user), new: fn () => visit($new, $user));
                $migrator->read($flag, $context, old: fn () => account($old, $user), new: fn () => account($new, $user), compare: $same);
            } catch (\Throwable $e) {
                $errors++;
                fwrite(STDERR, 'app.php: request of user ' . $user . ' failed: ' . $e->getMessage() . "\n");
            }
            $requests++;
            if (hrtime(true) - $tick >= 250_000_000) {
                $tick = hrtime(true);
                $migrator->flush();
                echo json_encode([
                    'requests' => $requests,
                    'errors' => $errors,
                    'recorded' => $migrator->recorder()->stats(),
                    'reporter' => $reporter->stats(),
                ], JSON_UNESCAPED_SLASHES), "\n";
                if ($parent !== null && posix_getppid() !== $parent) {
                    fail(1, 'the parent process is gone: stopping');
                }
            }
        }
        $migrator->flush();
        break;

    default:
        fail(2, 'usage: app.php setup|inject|stages|run ... (see the comment at the top)');
}
