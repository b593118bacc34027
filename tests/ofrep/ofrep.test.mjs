// OFREP compatibility: the published OpenFeature OFREP provider for servers
// (@openfeature/ofrep-provider, through @openfeature/server-sdk) against the
// real `flags serve` binary. Every evaluation below goes through the
// OpenFeature client; hand-written HTTP is used only to wait for /readyz and
// to ask the server's own /v1/evaluate for the reference answers in (d).
//
// Run with ./run (installs the pinned packages and builds the binary), or
// `node --test` here with FLAGS_BIN pointing at a built `flags` binary.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ErrorCode, OpenFeature, StandardResolutionReasons } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';

const here = dirname(fileURLToPath(import.meta.url));
const FLAGS_BIN = resolve(here, process.env.FLAGS_BIN || '../../target/debug/flags');
const TOKEN = 'ofrep-test-token';
const START_TIMEOUT_MS = 10_000;
const RELOAD_DEADLINE_MS = 10_000;

// The flag file every server starts from. `reloaded` is the flag the hot
// reload test kills; nothing else reads it.
const FLAGS = {
  version: 1,
  flags: {
    full: { description: '100% rollout, no variants', percentage: 100 },
    killed: { description: 'kill switch on', percentage: 100, killed: true },
    piloted: {
      description: 'off for everyone but its pilots',
      percentage: 0,
      pilots: { user_id: ['pilot-7'] },
    },
    half: {
      description: '50% rollout with two variants',
      percentage: 50,
      variants: [
        { name: 'control', weight: 50 },
        { name: 'treatment', weight: 50 },
      ],
    },
    reloaded: { description: 'killed by the hot reload test', percentage: 100 },
  },
};

// --- the server process ---------------------------------------------------

const servers = [];
const workDir = mkdtempSync(join(tmpdir(), 'flags-ofrep-'));

function writeFlags(path, flags) {
  // Write beside the file, then rename over it: how editors and the
  // `flags` commands save, so the server never reads a half-written file.
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(flags, null, 2));
  renameSync(tmp, path);
}

/** Starts `flags serve FILE --listen 127.0.0.1:0` and waits for /readyz. */
async function startServer(name, env = {}) {
  if (!existsSync(FLAGS_BIN)) {
    throw new Error(
      `flags binary not found at ${FLAGS_BIN}: build it with ` +
        '`cargo build -p flags-server` from the repository root, or set FLAGS_BIN',
    );
  }
  const file = join(workDir, `${name}.json`);
  writeFlags(file, FLAGS);
  const childEnv = { ...process.env, NO_COLOR: '1', ...env };
  if (!('FLAGS_TOKENS' in env)) delete childEnv.FLAGS_TOKENS;
  const child = spawn(FLAGS_BIN, ['serve', file, '--listen', '127.0.0.1:0'], {
    env: childEnv,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const server = { name, file, child, stderr: '', exited: null };
  servers.push(server);
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    server.stderr += chunk;
  });
  const exited = new Promise((resolveExit) => {
    child.on('exit', (code, signal) => {
      server.exited = { code, signal };
      resolveExit(server.exited);
    });
    child.on('error', (err) => {
      server.exited = { error: err };
      resolveExit(server.exited);
    });
  });

  const port = await new Promise((resolvePort, rejectPort) => {
    const timer = setTimeout(
      () => rejectPort(new Error(`${name}: no listen= line within ${START_TIMEOUT_MS} ms; stderr:\n${server.stderr}`)),
      START_TIMEOUT_MS,
    );
    const look = () => {
      // Strip ANSI colours in case the logger uses them.
      const match = server.stderr.replace(/\x1b\[[0-9;]*m/g, '').match(/listen=127\.0\.0\.1:(\d+)/);
      if (match) {
        clearTimeout(timer);
        child.stderr.off('data', look);
        resolvePort(Number(match[1]));
      }
    };
    child.stderr.on('data', look);
    exited.then((how) => {
      clearTimeout(timer);
      rejectPort(new Error(`${name}: flags serve exited early (${JSON.stringify(how)}); stderr:\n${server.stderr}`));
    });
    look();
  });
  server.port = port;
  server.baseUrl = `http://127.0.0.1:${port}`;

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      const res = await fetch(`${server.baseUrl}/readyz`);
      if (res.status === 200) break;
    } catch {
      // not accepting yet
    }
    if (server.exited) throw new Error(`${name}: server exited; stderr:\n${server.stderr}`);
    if (Date.now() > deadline) throw new Error(`${name}: /readyz not 200 within ${START_TIMEOUT_MS} ms; stderr:\n${server.stderr}`);
    await sleep(25);
  }
  server.exitedPromise = exited;
  return server;
}

async function stopServer(server) {
  if (server.exited) return;
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 5_000);
  await server.exitedPromise;
  clearTimeout(timer);
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// A last resort if the runner dies without running `after` hooks.
process.on('exit', () => {
  for (const s of servers) if (!s.exited) s.child.kill('SIGKILL');
});

// --- OpenFeature ----------------------------------------------------------

// The SDK logs every evaluation error; the error cases below are expected,
// so keep the messages (for failure output) instead of printing them.
const sdkLog = [];
OpenFeature.setLogger({
  error: (...args) => sdkLog.push(['error', ...args]),
  warn: (...args) => sdkLog.push(['warn', ...args]),
  info: () => {},
  debug: () => {},
});

let open; // provider on the open server
let authed; // provider with the bearer header (`headers`)
let authedFactory; // provider with the bearer header (`headersFactory`)
let anonymous; // provider without a token, same protected server
let openServer;
let authServer;

async function client(domain, options) {
  await OpenFeature.setProviderAndWait(domain, new OFREPProvider(options));
  return OpenFeature.getClient(domain);
}

before(async () => {
  openServer = await startServer('open');
  authServer = await startServer('auth', { FLAGS_TOKENS: TOKEN });
  open = await client('open', { baseUrl: openServer.baseUrl });
  authed = await client('authed', {
    baseUrl: authServer.baseUrl,
    headers: { Authorization: `Bearer ${TOKEN}` },
  });
  authedFactory = await client('authed-factory', {
    baseUrl: authServer.baseUrl,
    headersFactory: () => [['Authorization', `Bearer ${TOKEN}`]],
  });
  anonymous = await client('anonymous', { baseUrl: authServer.baseUrl });
});

after(async () => {
  await OpenFeature.close().catch(() => {});
  await Promise.all(servers.map(stopServer));
  rmSync(workDir, { recursive: true, force: true });
});

/** Fails with the server's stderr and the SDK's log attached. */
function explain(details, server = openServer) {
  return `details: ${JSON.stringify(details)}\nSDK log: ${JSON.stringify(sdkLog.slice(-5))}\nserver stderr (tail):\n${server?.stderr.slice(-2000)}`;
}

// --- the tests ------------------------------------------------------------

describe('OFREP provider against flags serve', { timeout: 60_000 }, () => {
  test('(a) a 100% flag is on: value true, reason SPLIT, variant "on"', async () => {
    const d = await open.getBooleanDetails('full', false, { targetingKey: 'user-1' });
    assert.equal(d.errorCode, undefined, explain(d));
    assert.equal(d.value, true, explain(d));
    assert.equal(d.reason, StandardResolutionReasons.SPLIT, explain(d));
    assert.equal(d.variant, 'on', explain(d));
    assert.equal(d.flagKey, 'full');
    // metadata survives the provider's primitive-only filter
    assert.equal(d.flagMetadata.flagsReason, 'ROLLOUT_IN', explain(d));
    assert.equal(typeof d.flagMetadata.bucket, 'number', explain(d));
    assert.match(String(d.flagMetadata.version), /^[0-9a-f]{32}$/, explain(d));
  });

  test('(b) a killed flag is off: value false, reason DISABLED', async () => {
    const d = await open.getBooleanDetails('killed', true, { targetingKey: 'user-1' });
    assert.equal(d.errorCode, undefined, explain(d));
    assert.equal(d.value, false, explain(d));
    assert.equal(d.reason, StandardResolutionReasons.DISABLED, explain(d));
    assert.equal(d.variant, 'off', explain(d));
    assert.equal(d.flagMetadata.flagsReason, 'KILLED', explain(d));
  });

  test('(c) a pilot named by targetingKey is on: TARGETING_MATCH; others are not', async () => {
    const d = await open.getBooleanDetails('piloted', false, { targetingKey: 'pilot-7' });
    assert.equal(d.errorCode, undefined, explain(d));
    assert.equal(d.value, true, explain(d));
    assert.equal(d.reason, StandardResolutionReasons.TARGETING_MATCH, explain(d));
    assert.equal(d.flagMetadata.flagsReason, 'PILOT', explain(d));

    const other = await open.getBooleanDetails('piloted', true, { targetingKey: 'user-1' });
    assert.equal(other.errorCode, undefined, explain(other));
    assert.equal(other.value, false, explain(other));
    assert.equal(other.reason, StandardResolutionReasons.SPLIT, explain(other));
  });

  test('(d) a 50% flag: the provider agrees with /v1/evaluate, id by id', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `user-${i}`);
    let on = 0;
    for (const id of ids) {
      const res = await fetch(`${openServer.baseUrl}/v1/evaluate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ context: { user_id: id }, flags: ['half'] }),
      });
      assert.equal(res.status, 200);
      const [expected] = (await res.json()).results;
      const d = await open.getBooleanDetails('half', !expected.enabled, { targetingKey: id });
      const why = `${id}: server ${JSON.stringify(expected)}\n${explain(d)}`;
      assert.equal(d.errorCode, undefined, why);
      assert.equal(d.value, expected.enabled, why);
      assert.equal(d.variant, expected.variant ?? (expected.enabled ? 'on' : 'off'), why);
      assert.equal(d.reason, StandardResolutionReasons.SPLIT, why);
      assert.equal(d.flagMetadata.flagsReason, expected.reason, why);
      assert.equal(d.flagMetadata.bucket, expected.bucket, why);
      if (expected.enabled) on += 1;
    }
    // both sides of the split were exercised
    assert.ok(on > 100 && on < 200, `on for ${on} of ${ids.length} ids`);
  });

  test('(e) an unknown flag gives the default and FLAG_NOT_FOUND', async () => {
    const d = await open.getBooleanDetails('no_such_flag', true, { targetingKey: 'user-1' });
    assert.equal(d.value, true, explain(d));
    assert.equal(d.errorCode, ErrorCode.FLAG_NOT_FOUND, explain(d));
    assert.equal(d.reason, StandardResolutionReasons.ERROR, explain(d));
    assert.match(d.errorMessage ?? '', /no_such_flag/, explain(d));
  });

  test('(f) an invalid context gives the default and INVALID_CONTEXT', async (t) => {
    await t.test('a nested object attribute', async () => {
      const d = await open.getBooleanDetails('full', false, {
        targetingKey: 'user-1',
        profile: { plan: 'pro' },
      });
      assert.equal(d.value, false, explain(d));
      assert.equal(d.errorCode, ErrorCode.INVALID_CONTEXT, explain(d));
      assert.equal(d.reason, StandardResolutionReasons.ERROR, explain(d));
      assert.match(d.errorMessage ?? '', /context\.profile/, explain(d));
    });
    await t.test('a fractional number attribute', async () => {
      const d = await open.getBooleanDetails('full', false, { targetingKey: 'user-1', score: 1.5 });
      assert.equal(d.value, false, explain(d));
      assert.equal(d.errorCode, ErrorCode.INVALID_CONTEXT, explain(d));
      assert.match(d.errorMessage ?? '', /context\.score/, explain(d));
    });
  });

  test('(g) bearer tokens: with the header the provider succeeds, without it falls back', async (t) => {
    await t.test('`headers` option', async () => {
      const d = await authed.getBooleanDetails('full', false, { targetingKey: 'user-1' });
      assert.equal(d.errorCode, undefined, explain(d, authServer));
      assert.equal(d.value, true, explain(d, authServer));
      assert.equal(d.reason, StandardResolutionReasons.SPLIT, explain(d, authServer));
    });
    await t.test('`headersFactory` option', async () => {
      const d = await authedFactory.getBooleanDetails('full', false, { targetingKey: 'user-1' });
      assert.equal(d.errorCode, undefined, explain(d, authServer));
      assert.equal(d.value, true, explain(d, authServer));
    });
    await t.test('no token: default value, GENERAL error (the provider has no code for 401)', async () => {
      const d = await anonymous.getBooleanDetails('full', false, { targetingKey: 'user-1' });
      assert.equal(d.value, false, explain(d, authServer));
      assert.equal(d.reason, StandardResolutionReasons.ERROR, explain(d, authServer));
      // @openfeature/ofrep-core throws OFREPApiUnauthorizedError on 401,
      // which is not an OpenFeatureError, so the SDK reports GENERAL.
      assert.equal(d.errorCode, ErrorCode.GENERAL, explain(d, authServer));
    });
  });

  test('(h) hot reload: killing the flag in the file flips the provider within 2 s', async (t) => {
    const before = await open.getBooleanDetails('reloaded', false, { targetingKey: 'user-1' });
    assert.equal(before.value, true, explain(before));
    assert.equal(before.reason, StandardResolutionReasons.SPLIT, explain(before));

    const killed = structuredClone(FLAGS);
    killed.flags.reloaded.killed = true;
    const start = Date.now();
    writeFlags(openServer.file, killed);
    let d;
    for (;;) {
      d = await open.getBooleanDetails('reloaded', true, { targetingKey: 'user-1' });
      if (d.value === false && d.reason === StandardResolutionReasons.DISABLED) break;
      if (Date.now() - start > RELOAD_DEADLINE_MS) {
        assert.fail(`no flip within ${RELOAD_DEADLINE_MS} ms\n${explain(d)}`);
      }
      await sleep(20);
    }
    const elapsed = Date.now() - start;
    t.diagnostic(`hot reload seen by the provider after ${elapsed} ms`);
    assert.equal(d.errorCode, undefined, explain(d));
    assert.notEqual(d.flagMetadata.version, before.flagMetadata.version, explain(d));
    // the other flags are untouched by the reload
    const full = await open.getBooleanDetails('full', false, { targetingKey: 'user-1' });
    assert.equal(full.value, true, explain(full));
  });
});
