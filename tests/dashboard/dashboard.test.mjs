// The dashboard of `flags serve`, driven the way a person uses it: Debian's
// Chromium, headless, through playwright-core, against the real binary.
// Expected values come from the flag file written here and from the Python
// reference (tests/reference/flags_ref.py), never from the server itself.
//
// Run with ./run (installs the pinned packages and builds the binary), or
// `node --test` here with FLAGS_BIN pointing at a built `flags` binary.
// DASHBOARD_SCREENSHOT=path.png also saves a screenshot of the page.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { appendFileSync, existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const FLAGS_BIN = resolve(here, process.env.FLAGS_BIN || '../../target/debug/flags');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const START_TIMEOUT_MS = 15_000;
// CI runs on two busy cores: every wait is generous and bounded.
const WAIT_MS = 20_000;
const SERVER_TOKEN = 'dashboard-server-token';
const CLIENT_TOKEN = 'dashboard-client-token';

const rfc3339 = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A ramp that started an hour ago and has two steps ahead: "now" lies
// between its first two points for the whole test.
const START = Date.now();
const RAMP = [
  { at: rfc3339(START - 3_600_000), percentage: 10 },
  { at: rfc3339(START + 3_600_000), percentage: 50 },
  { at: rfc3339(START + 7_200_000), percentage: 100 },
];
const FLAGS = {
  version: 1,
  pilots: { user_id: ['1'] },
  flags: {
    community_dual_write: {
      description: 'Dual-write community posts <img src=x id=injected>',
      owner: 'communities-platform',
      requires: [{ attribute: 'app_version', op: 'semver_gte', value: '3.2.0' }],
      deny: { user_id: ['666', '667'] },
      pilots: { user_id: ['7'], tenant_id: ['acme'] },
      ramp: RAMP,
      variants: [{ name: 'control', weight: 50 }, { name: 'treatment', weight: 50 }],
    },
    enrollment_service: { description: 'Route enrollments to the new service', owner: 'enrollment', percentage: 12.5 },
    checkout_v2: { killed: true, percentage: 100 },
    tenant_billing_v2: { bucket_by: 'tenant_id', pilots: { tenant_id: ['acme'] }, percentage: 25 },
    // Paused half an hour after the ramp started, by its guard.
    search_v2: {
      owner: 'search',
      ramp: RAMP,
      paused_at: rfc3339(START - 1_800_000),
      guard: { query: 'sum(rate(search_errors_total[5m])) <b>', above: 0.05, for: '2m', action: 'pause' },
    },
    // A migration flag: the ramp moves users from dualwrite to shadow; its
    // two pilots and the file's one are at live.
    orders_reads: {
      owner: 'orders',
      migration: { stages: 6, stage: 'dualwrite', next: 'shadow', pilot_stage: 'live' },
      pilots: { user_id: ['7', '8'] },
      ramp: RAMP,
    },
  },
};
const SIX_STAGES = ['off', 'dualwrite', 'shadow', 'live', 'rampdown', 'complete'];

// --- the reference ----------------------------------------------------------

/** The Python reference's answers for `file` (a JSON text): the effective
 * basis points of `key` at `nowMs`, or every flag's answer for `context`. */
function reference(file, request) {
  const script = `
import json, sys
sys.path.insert(0, ${JSON.stringify(join(root, 'tests/reference'))})
import flags_ref
req = json.load(sys.stdin)
ff = flags_ref.load_file(req["file"])
if "context" in req:
    ctx = flags_ref.convert_context(req["context"])
    out = {k: flags_ref.evaluate(ff, k, ctx, req["now_ms"]) for k in ff.flags}
else:
    out = flags_ref.effective_bp(ff.flags[req["key"]], req["now_ms"])
print(json.dumps(out))
`;
  const out = execFileSync('python3', ['-c', script], { input: JSON.stringify({ file, ...request }) });
  return JSON.parse(out.toString());
}

// --- the server process -------------------------------------------------------

const servers = [];
const workDir = mkdtempSync(join(tmpdir(), 'flags-dashboard-'));

function writeFlags(path, text) {
  // Beside the file, then renamed over it, as editors and `flags` save.
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Starts `flags serve` on `flags` (an object, or the text of a file) with
 * `args`, and waits until it listens, and unless `ready` is false until it
 * is ready. */
async function startServer(name, env = {}, flags = FLAGS, { ready = true, args = [] } = {}) {
  if (!existsSync(FLAGS_BIN)) {
    throw new Error(`flags binary not found at ${FLAGS_BIN}: run ./run, or set FLAGS_BIN`);
  }
  const file = join(workDir, `${name}.json`);
  writeFlags(file, typeof flags === 'string' ? flags : JSON.stringify(flags, null, 2));
  const childEnv = { ...process.env, NO_COLOR: '1', ...env };
  if (!('FLAGS_TOKENS' in env)) delete childEnv.FLAGS_TOKENS;
  if (!('FLAGS_CLIENT_TOKENS' in env)) delete childEnv.FLAGS_CLIENT_TOKENS;
  // Served by a path relative to the work directory: the page (and the
  // README's screenshot) shows the path as given, not this machine's.
  const arg = `${name}.json`;
  const child = spawn(FLAGS_BIN, ['serve', arg, '--listen', '127.0.0.1:0', ...args], {
    cwd: workDir,
    env: childEnv,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const server = { name, file, arg, child, stderr: '', exited: null };
  servers.push(server);
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => { server.stderr += chunk; });
  child.on('exit', (code, signal) => { server.exited = { code, signal }; });
  child.on('error', (error) => { server.exited = { error: String(error) }; });
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const match = server.stderr.replace(/\x1b\[[0-9;]*m/g, '').match(/listen=127\.0\.0\.1:(\d+)/);
    if (match) {
      server.baseUrl = `http://127.0.0.1:${match[1]}`;
      if (!ready) break;
      try {
        const res = await fetch(`${server.baseUrl}/readyz`);
        if (res.status === 200) break;
      } catch { /* not accepting yet */ }
    }
    if (server.exited) throw new Error(`${name}: flags serve exited (${JSON.stringify(server.exited)}):\n${server.stderr}`);
    if (Date.now() > deadline) throw new Error(`${name}: not ready within ${START_TIMEOUT_MS} ms:\n${server.stderr}`);
    await sleep(25);
  }
  return server;
}

async function stopServer(server) {
  if (server.exited) return;
  const exited = new Promise((r) => server.child.once('exit', r));
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

// --- the browser ------------------------------------------------------------------

let browser;
const problems = [];

async function openPage(server, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  // A policy violation, a script error or a failed request shows here.
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`${server.name}: console: ${msg.text()}`); });
  page.on('pageerror', (error) => problems.push(`${server.name}: page error: ${error.message}`));
  await page.goto(`${server.baseUrl}/`);
  return page;
}

/** Drops the problems logged since `from` that match `pattern` (answers a
 * test asked for, which Chromium logs as failed requests); any other
 * stays. */
function expected(from, pattern) {
  const since = problems.splice(from);
  problems.push(...since.filter((p) => !pattern.test(p)));
}

/** The article of `key` once it is on the page. */
async function card(page, key) {
  const locator = page.locator(`article[data-flag="${key}"]`);
  await locator.waitFor({ timeout: WAIT_MS });
  return locator;
}

async function explain(page, context) {
  await page.getByLabel('Context, as a JSON object').fill(JSON.stringify(context));
  const before = Date.now();
  await page.getByRole('button', { name: 'Explain' }).click();
  // The answer for this context, not one for an earlier context.
  await page.waitForFunction(
    (ctx) => {
      const table = document.getElementById('explain-results');
      return !table.hidden && table.dataset.context === ctx;
    },
    JSON.stringify(context), { timeout: WAIT_MS },
  );
  const rows = await page.locator('#explain-results tbody tr').evaluateAll((trs) => trs.map((tr) => ({
    flag: tr.dataset.flag,
    enabled: tr.children[1].dataset.enabled === 'true',
    reason: tr.children[2].dataset.reason,
    bucket: tr.children[3].dataset.bucket === '' ? null : Number(tr.children[3].dataset.bucket),
    variant: tr.children[4].dataset.variant === '' ? null : tr.children[4].dataset.variant,
    shown: tr.children[4].textContent,
  })));
  return { rows, before, after: Date.now() };
}

before(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium`);
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in CI has no user namespace sandbox.
    args: ['--no-sandbox'],
  });
});

after(async () => {
  if (browser) await browser.close();
  await Promise.all(servers.map(stopServer));
  rmSync(workDir, { recursive: true, force: true });
});

describe('the dashboard without tokens', () => {
  let server;
  let page;
  const text = JSON.stringify(FLAGS, null, 2);

  before(async () => {
    server = await startServer('open');
    page = await openPage(server);
  });

  test('shows every flag of the served file and its version', async () => {
    await card(page, 'community_dual_write');
    const keys = await page.locator('article[data-flag]').evaluateAll((a) => a.map((e) => e.dataset.flag));
    assert.deepEqual(keys, Object.keys(FLAGS.flags).sort());
    const { version } = await (await fetch(`${server.baseUrl}/readyz`)).json();
    assert.equal(await page.locator('#version').textContent(), version);
    const dual = await card(page, 'community_dual_write');
    // Operator input is text, never markup.
    assert.equal(await dual.locator('.description').textContent(), FLAGS.flags.community_dual_write.description);
    assert.equal(await page.locator('#injected').count(), 0);
    const facts = await dual.locator('dl').textContent();
    for (const expected of ['communities-platform', 'app_version semver_gte 3.2.0', 'user_id: 1, tenant_id: 1',
      'user_id: 2', 'control 50 %, treatment 50 %']) {
      assert.ok(facts.includes(expected), `${expected} not in ${facts}`);
    }
    const killed = await card(page, 'checkout_v2');
    assert.equal(await killed.locator('.state').textContent(), 'killed');
    assert.equal(await killed.locator('.now-value').textContent(), 'off');
    assert.equal(await killed.locator('meter').getAttribute('value'), '0');
    assert.equal(await (await card(page, 'enrollment_service')).locator('.now-value').textContent(), '12.5 %');
    assert.match(await page.locator('#reload-health').textContent(), /^healthy/);
  });

  test('the chart draws the ramp of the file, and now as the reference computes it', async () => {
    const dual = await card(page, 'community_dual_write');
    const points = await dual.locator('svg.chart circle.point').evaluateAll((cs) => cs.map((c) => ({
      at: c.dataset.at, percentage: Number(c.dataset.percentage), cls: c.getAttribute('class'),
    })));
    assert.deepEqual(points.map(({ at, percentage }) => ({ at, percentage })), RAMP);
    assert.deepEqual(points.map((p) => p.cls), ['point past', 'point next', 'point future']);
    // The drawn line passes through each point (same coordinates).
    const line = await dual.locator('svg.chart polyline').getAttribute('points');
    const circles = await dual.locator('svg.chart circle.point').evaluateAll((cs) => cs.map((c) => `${c.getAttribute('cx')},${c.getAttribute('cy')}`));
    for (const c of circles) assert.ok(line.split(' ').includes(c), `${c} not on ${line}`);
    // Points higher on the chart have higher percentages.
    const ys = await dual.locator('svg.chart circle.point').evaluateAll((cs) => cs.map((c) => Number(c.getAttribute('cy'))));
    assert.ok(ys[0] > ys[1] && ys[1] > ys[2], `${ys}`);

    // Read at once: the page redraws every 5 s as the ramp moves.
    const [nowMs, bp, shown] = await dual.evaluate((card) => [
      Number(card.querySelector('svg.chart').dataset.now),
      Number(card.querySelector('.now').dataset.basisPoints),
      card.querySelector('.now-value').textContent,
    ]);
    assert.ok(Math.abs(nowMs - Date.now()) < 60_000, 'now is the present');
    assert.equal(bp, reference(text, { key: 'community_dual_write', now_ms: nowMs }));
    assert.equal(shown, `${bp / 100} %`);
    assert.match(await dual.locator('.chart-legend').textContent(), new RegExp(`^Next step: 50 % at ${RAMP[1].at}`));
  });

  test('a migration flag shows its stages and its stage mix now, as the reference computes it', async () => {
    const orders = await card(page, 'orders_reads');
    assert.equal(await orders.locator('.kind').textContent(), 'Migration: 6 stages');
    // Read at once: the page redraws every 5 s as the ramp moves.
    const [nowMs, mix] = await orders.evaluate((card) => [
      Number(card.querySelector('svg.chart').dataset.now), card.querySelector('.now-value').textContent,
    ]);
    const bp = reference(text, { key: 'orders_reads', now_ms: nowMs });
    assert.ok(bp > 0 && bp < 10_000, `${bp}`);
    // Two flag pilots and the file's one.
    assert.equal(mix, `dualwrite ${(10_000 - bp) / 100}% · shadow ${bp / 100}% · live: 3 pilots`);
    const stages = await orders.locator('ol.stages li').evaluateAll((lis) => lis.map((li) => [li.dataset.stage, li.dataset.inUse]));
    assert.deepEqual(stages, SIX_STAGES.map((s) => [s, String(['dualwrite', 'shadow', 'live'].includes(s))]));
    assert.match(await orders.locator('ol.stages li[data-stage="off"]').textContent(), /^off \(kill switch\)$/);
    // The chart stays: it is of shadow's share.
    assert.match(await orders.locator('.chart-legend').textContent(), /^The share at shadow\. Next step: 50 % at /);
    const facts = await orders.locator('dl').textContent();
    assert.ok(facts.includes('Stagesbaseline dualwrite, rollout to shadow, pilots at live, kill switch to off'), facts);
    assert.equal(await orders.locator('pre.extra').count(), 0);
  });

  test('the explain form gives the reference answers', async () => {
    for (const context of [
      { user_id: '42', app_version: '3.4.0', tenant_id: 'globex' },
      { user_id: '7', app_version: '3.2.0' },
      { user_id: '666', app_version: '4.0.0' },
      { user_id: '1', app_version: '1.0.0', tenant_id: 'acme' },
      { user_id: 'José', app_version: '3.2.0' },
    ]) {
      const { rows, before: t0, after: t1 } = await explain(page, context);
      // The ramp moves while the request runs: the answer is the
      // reference's at some time in between.
      const early = reference(text, { context, now_ms: t0 });
      const late = reference(text, { context, now_ms: t1 });
      assert.deepEqual(rows.map((r) => r.flag), Object.keys(FLAGS.flags).sort());
      for (const row of rows) {
        const { flag, shown, ...got } = row;
        // The variant as the page says it: a migration flag's is its stage.
        const said = got.variant === null ? '—' : (FLAGS.flags[flag].migration ? `stage: ${got.variant}` : got.variant);
        assert.equal(shown, said, `${JSON.stringify(context)} ${flag}`);
        const candidates = [early[flag], late[flag]];
        assert.ok(candidates.some((c) => JSON.stringify(c) === JSON.stringify({
          enabled: got.enabled, variant: got.variant, reason: got.reason, bucket: got.bucket,
        })), `${JSON.stringify(context)} ${flag}: ${JSON.stringify(got)} vs ${JSON.stringify(candidates)}`);
      }
    }
    const { rows } = await explain(page, { user_id: '7', app_version: '3.2.0' });
    assert.equal(rows.find((r) => r.flag === 'orders_reads').shown, 'stage: live');
    const error = page.locator('#explain-error');
    await page.getByLabel('Context, as a JSON object').fill('[1]');
    await page.getByRole('button', { name: 'Explain' }).click();
    assert.equal(await error.textContent(), 'The context must be a JSON object, such as {"user_id": "42"}.');
    const before = problems.length;
    await page.getByLabel('Context, as a JSON object').fill('{"user_id": {"nested": 1}}');
    await page.getByRole('button', { name: 'Explain' }).click();
    await page.waitForFunction(() => document.getElementById('explain-error').textContent.startsWith('invalid request'), null, { timeout: WAIT_MS });
    expected(before, /status of 400/);
  });

  test('evaluation counts show what the server answered', async () => {
    // Six explained contexts above, one evaluation of each flag each.
    await page.waitForFunction(() => {
      const row = document.querySelector('#evaluations tr[data-flag="checkout_v2"][data-reason="KILLED"]');
      return row && row.children[3].textContent === '6';
    }, null, { timeout: WAIT_MS });
  });

  test('an edit of the file appears without reloading the page', async () => {
    await page.evaluate(() => { window.notReloaded = true; });
    const edited = structuredClone(FLAGS);
    edited.flags.enrollment_service.percentage = 75;
    edited.flags.brand_new = { description: 'added while the page was open', percentage: 5 };
    const { version: old } = await (await fetch(`${server.baseUrl}/readyz`)).json();
    assert.equal(await page.evaluate(() => document.body.dataset.streamVersion), old);
    writeFlags(server.file, JSON.stringify(edited, null, 2));
    await card(page, 'brand_new');
    // The stream announced it (the page also polls every 5 s).
    const { version } = await (await fetch(`${server.baseUrl}/readyz`)).json();
    assert.notEqual(version, old);
    await page.waitForFunction((v) => document.body.dataset.streamVersion === v, version, { timeout: WAIT_MS });
    await page.waitForFunction(
      () => document.querySelector('article[data-flag="enrollment_service"] .now-value').textContent === '75 %',
      null, { timeout: WAIT_MS },
    );
    assert.equal(await page.evaluate(() => window.notReloaded), true);
    assert.match(await page.locator('#announce').textContent(), /reloaded/);

    // A bad edit: the page says where, and keeps showing the good version.
    writeFlags(server.file, '{"version": 1, "flags": {"x": {"percentge": 5}}}');
    await page.locator('#reload-error:not([hidden])').waitFor({ timeout: WAIT_MS });
    const problem = await page.locator('#reload-error-text').textContent();
    assert.ok(problem.startsWith(`${server.arg}:1:32: flags.x.percentge: unknown field`), problem);
    assert.match(await page.locator('#reload-health').textContent(), /^failing/);
    assert.equal(await page.locator('article[data-flag="brand_new"]').count(), 1);
    assert.equal(await page.evaluate(() => window.notReloaded), true);
  });

  test('an operator edit appears in the audit timeline', async () => {
    writeFlags(server.file, JSON.stringify(FLAGS, null, 2));
    execFileSync(FLAGS_BIN, ['set', server.file, 'enrollment_service', '--percentage', '40', '--actor', 'dashboard-test'], { stdio: 'pipe' });
    await page.waitForFunction(
      () => [...document.querySelectorAll('#audit li')].some((li) => li.textContent.includes('dashboard-test')),
      null, { timeout: WAIT_MS },
    );
    const first = await page.locator('#audit li').first().textContent();
    assert.match(first, /dashboard-test/);
    assert.match(first, /enrollment_service/);
    await page.waitForFunction(
      () => document.querySelector('article[data-flag="enrollment_service"] .now-value').textContent === '40 %',
      null, { timeout: WAIT_MS },
    );
    assert.equal(await page.locator('#reload-error').isHidden(), true);
  });

  test('fits a phone screen', async () => {
    const phone = await openPage(server, { width: 390, height: 844 });
    await card(phone, 'community_dual_write');
    const [scroll, width] = await phone.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(scroll <= width, `the page is ${scroll} px wide on a ${width} px screen`);
    await phone.context().close();
  });

  test('shows a guard, and a ramp paused at the reference percentage', async () => {
    // What `flags guard` appends when it pauses the flag.
    const reason = 'guard of search_v2: value 0.09 above 0.05 for 2m (query sum(rate(search_errors_total[5m])) <b>, held 2m)';
    const time = rfc3339(Date.now());
    appendFileSync(`${server.file}.audit.jsonl`, `${JSON.stringify({
      time, actor: 'guard', command: `flags guard ${server.arg} --prometheus http://127.0.0.1:9090`,
      file: server.file, before: 'a', after: 'b',
      summary: `search_v2: ramp paused at ${FLAGS.flags.search_v2.paused_at} (20%)`, reason,
    })}\n`);
    const guarded = await openPage(server);
    const search = await card(guarded, 'search_v2');
    await search.locator('.by-guard').waitFor({ timeout: WAIT_MS });
    assert.equal(await search.locator('.state').textContent(), 'paused');
    // The percentage stays at the reference's answer for paused_at, now
    // and later.
    const pausedMs = Date.parse(FLAGS.flags.search_v2.paused_at);
    const frozen = reference(text, { key: 'search_v2', now_ms: pausedMs });
    assert.equal(frozen, reference(text, { key: 'search_v2', now_ms: Date.now() + 86_400_000 }));
    assert.equal(Number(await search.locator('.now').getAttribute('data-basis-points')), frozen);
    assert.equal(await search.locator('.now-value').textContent(), `${frozen / 100} %`);
    assert.equal(await search.locator('.chart-legend').textContent(),
      `Paused since ${FLAGS.flags.search_v2.paused_at}: stays at ${frozen / 100} % until a person resumes the ramp.`);
    // The line is flat from paused_at: its last two points are the pause
    // and the chart's end, at the same height as the pause point.
    const pause = search.locator('svg.chart circle.pause-point');
    assert.equal(Number(await pause.getAttribute('data-percentage')), frozen / 100);
    const line = (await search.locator('svg.chart polyline.line').getAttribute('points')).split(' ');
    const at = `${await pause.getAttribute('cx')},${await pause.getAttribute('cy')}`;
    assert.equal(line[line.length - 2], at);
    assert.equal(line[line.length - 1].split(',')[1], at.split(',')[1]);
    const classes = await search.locator('svg.chart circle.point').evaluateAll((cs) => cs.map((c) => c.getAttribute('class')));
    assert.deepEqual(classes, ['point past', 'point held', 'point held']);
    // The guard, as text: its query and its rule.
    const facts = await search.locator('dl').textContent();
    assert.ok(facts.includes('Guardsum(rate(search_errors_total[5m])) <b>: pause when above 0.05 for 2m'), facts);
    assert.equal(await search.locator('b').count(), 0);
    assert.equal(await search.locator('pre.extra').count(), 0);
    // Who paused it, and why.
    assert.equal(await search.locator('.by-guard').textContent(),
      `Paused by a guard at ${time}: ${reason}. It stays so until a person lifts it.`);
    // Without --prometheus, the page says how to see the guard's live value.
    assert.equal(await search.locator('.guard-now').textContent(),
      'live value not read: start flags serve with --prometheus URL to see it');
    assert.match(await guarded.locator('#monitor').textContent(), /start flags serve with --prometheus URL/);
    // Flags without a guard say so, and no other says a guard acted.
    const plain = await card(guarded, 'enrollment_service');
    assert.ok((await plain.locator('dl').textContent()).includes('Guardnone'));
    assert.equal(await guarded.locator('.by-guard').count(), 1);
    await guarded.context().close();
  });

  test('works from the keyboard', async () => {
    const kb = await openPage(server);
    await card(kb, 'community_dual_write');
    await kb.keyboard.press('Tab');
    assert.equal(await kb.evaluate(() => document.activeElement.textContent), 'Skip to the flags');
    await kb.keyboard.press('Enter');
    assert.equal(await kb.evaluate(() => document.activeElement.id), 'flags-heading');
    // The context, then Tab to the button, then Enter.
    await kb.getByLabel('Context, as a JSON object').focus();
    await kb.keyboard.press('Control+A');
    await kb.keyboard.type('{"user_id": "7", "app_version": "3.2.0"}');
    await kb.keyboard.press('Tab');
    assert.equal(await kb.evaluate(() => document.activeElement.textContent), 'Explain');
    await kb.keyboard.press('Enter');
    await kb.locator('#explain-results tr[data-flag="community_dual_write"] td[data-reason="PILOT"]').waitFor({ timeout: WAIT_MS });
    await kb.context().close();
  });

  // Only when asked for (./run --screenshot PATH): the README's picture,
  // from a server of its own (no bad edit in its history).
  if (process.env.DASHBOARD_SCREENSHOT) test('screenshot', async () => {
    const flags = structuredClone(FLAGS);
    flags.flags.community_dual_write.description = 'Dual-write community posts to the v2 store';
    flags.flags.search_v2.guard.query = 'sum(rate(search_errors_total[5m]))';
    flags.flags.community_dual_write.guard = { query: 'dual_write_error_ratio', above: 0.05, for: '2m', action: 'kill' };
    const prometheus = await fakePrometheus({ dual_write_error_ratio: '0.09', 'sum(rate(search_errors_total[5m]))': '0.02' });
    const fresh = await startServer('flags', {}, flags, { args: ['--prometheus', prometheus.url] });
    execFileSync(FLAGS_BIN, ['set', fresh.arg, 'enrollment_service', '--percentage', '25', '--actor', 'ops-oncall'], { stdio: 'pipe', cwd: workDir });
    appendFileSync(`${fresh.file}.audit.jsonl`, `${JSON.stringify({
      time: rfc3339(Date.now()), actor: 'guard', command: `flags guard ${fresh.arg} --prometheus http://127.0.0.1:9090`,
      file: fresh.arg, before: 'a', after: 'b', summary: `search_v2: ramp paused at ${flags.flags.search_v2.paused_at} (20%)`,
      reason: 'guard of search_v2: value 0.09 above 0.05 for 2m (query sum(rate(search_errors_total[5m])), held 2m)',
    })}\n`);
    const shot = await openPage(fresh, { width: 1200, height: 900 });
    await card(shot, 'community_dual_write');
    await explain(shot, { user_id: '42', app_version: '3.4.0', tenant_id: 'acme' });
    await shot.waitForFunction(() => document.querySelectorAll('#audit li').length === 2, null, { timeout: WAIT_MS });
    await shot.locator('article[data-flag="search_v2"] .by-guard').waitFor({ timeout: WAIT_MS });
    // A second reading (5 s later): seen crossed for a few seconds.
    await shot.waitForFunction(() => /seen for [1-9]/.test(
      (document.querySelector('article[data-flag="community_dual_write"] .guard-now') || {}).textContent || '',
    ), null, { timeout: WAIT_MS });
    await shot.screenshot({ path: resolve(process.env.DASHBOARD_SCREENSHOT), fullPage: true });
    await shot.context().close();
    prometheus.server.close();
  });
});

// --- a fake Prometheus ----------------------------------------------------------

/** An HTTP server answering Prometheus's instant queries from `answers`
 * (query text -> value as Prometheus writes it; no series otherwise). */
async function fakePrometheus(answers) {
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const value = url.pathname === '/api/v1/query' ? answers[url.searchParams.get('query')] : undefined;
    const result = value === undefined ? [] : [{ metric: {}, value: [Date.now() / 1000, value] }];
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${server.address().port}` };
}

/** A port nothing listens on. */
async function closedPort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

describe('the dashboard with --prometheus', () => {
  // Guards on three live flags (crossed, fine, no series) and on the
  // paused search_v2.
  const GUARDED = structuredClone(FLAGS);
  GUARDED.flags.community_dual_write.guard = { query: 'dual_write_error_ratio', above: 0.05, for: '2m', action: 'kill' };
  GUARDED.flags.enrollment_service.guard = { query: 'enrollment_success_ratio', below: 0.99, for: '1m', action: 'pause' };
  GUARDED.flags.tenant_billing_v2.guard = { query: 'billing_errors_total', above: 10, for: '30s', action: 'kill' };
  let prometheus;

  before(async () => {
    prometheus = await fakePrometheus({ dual_write_error_ratio: '0.09', enrollment_success_ratio: '0.995' });
  });
  after(() => prometheus.server.close());

  /** The live text of `key`'s guard once it is `state`. */
  async function live(page, key, state) {
    const node = (await card(page, key)).locator(`.guard-now[data-live="${state}"]`);
    await node.waitFor({ timeout: WAIT_MS });
    return node.textContent();
  }

  test('shows each guard\'s value against its threshold, and what to do', async () => {
    const server = await startServer('prometheus', {}, GUARDED, { args: ['--prometheus', prometheus.url] });
    const page = await openPage(server);
    // 0.09 is above 0.05: crossed.
    assert.match(await live(page, 'community_dual_write', 'crossed'),
      /^0\.09 — CROSSED: above 0\.05(, seen for \d+ s)?; flags guard kills it once that lasts 2m$/);
    // 0.995 is not below 0.99.
    assert.equal(await live(page, 'enrollment_service', 'ok'), '0.995 — ok: not below 0.99');
    assert.equal(await live(page, 'tenant_billing_v2', 'no-data'),
      'no data: the query answered no series (is the metric scraped yet?) (empty); the guard cannot act');
    // Paused already: the guard stands by.
    assert.equal(await live(page, 'search_v2', 'done'), 'done: the ramp is paused');
    assert.equal(await page.locator('article[data-flag="checkout_v2"] .guard-now').count(), 0);
    const line = await page.locator('#recommendation').textContent();
    assert.ok(line.startsWith('GUARD CROSSED on community_dual_write: 0.09 above 0.05'), line);
    assert.ok(line.endsWith(`or run \`flags kill ${server.arg} community_dual_write\` now`), line);
    assert.match(await page.locator('#monitor').textContent(), new RegExp(`Prometheus at ${prometheus.url}, read at `));
    // On a phone, a long reason wraps instead of widening the page.
    const phone = await openPage(server, { width: 390, height: 844 });
    await live(phone, 'tenant_billing_v2', 'no-data');
    const [scroll, width] = await phone.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(scroll <= width, `the page is ${scroll} px wide on a ${width} px screen`);
    await phone.context().close();
    await page.context().close();
  });

  test('a Prometheus that is down is no data, and the page says why', async () => {
    const down = `http://127.0.0.1:${await closedPort()}`;
    const server = await startServer('prometheus-down', {}, GUARDED, { args: ['--prometheus', down] });
    const page = await openPage(server);
    const text = await live(page, 'community_dual_write', 'no-data');
    assert.ok(text.startsWith(`no data: Prometheus at ${down}/api/v1/query is unreachable`), text);
    assert.equal(await page.locator('#recommendation').textContent(),
      'NO DATA for the guard of community_dual_write, enrollment_service, tenant_billing_v2: '
      + 'it cannot act; check the query and Prometheus');
    await page.context().close();
  });
});

describe('a migration flag edited while the page is open', () => {
  test('moving next, then the kill switch, shows without a reload', async () => {
    const server = await startServer('migration');
    const page = await openPage(server);
    const orders = await card(page, 'orders_reads');
    await orders.locator('li[data-stage="shadow"][data-in-use="true"]').waitFor({ timeout: WAIT_MS });
    await page.evaluate(() => { window.notReloaded = true; });

    const moved = structuredClone(FLAGS);
    moved.flags.orders_reads.migration.next = 'live';
    const text = JSON.stringify(moved, null, 2);
    writeFlags(server.file, text);
    await page.locator('article[data-flag="orders_reads"] li[data-stage="live"] small')
      .filter({ hasText: 'rollout' }).waitFor({ timeout: WAIT_MS });
    const [nowMs, mix] = await page.locator('article[data-flag="orders_reads"]').evaluate((card) => [
      Number(card.querySelector('svg.chart').dataset.now), card.querySelector('.now-value').textContent,
    ]);
    const bp = reference(text, { key: 'orders_reads', now_ms: nowMs });
    assert.equal(mix, `dualwrite ${(10_000 - bp) / 100}% · live ${bp / 100}% · live: 3 pilots`);
    assert.equal(await page.locator('article[data-flag="orders_reads"] li[data-stage="shadow"]').getAttribute('data-in-use'), 'false');

    const killed = structuredClone(moved);
    killed.flags.orders_reads.killed = true;
    writeFlags(server.file, JSON.stringify(killed, null, 2));
    await page.waitForFunction(
      () => document.querySelector('article[data-flag="orders_reads"] .now-value').textContent === 'everyone at off',
      null, { timeout: WAIT_MS },
    );
    const inUse = await page.locator('article[data-flag="orders_reads"] li[data-in-use="true"]')
      .evaluateAll((lis) => lis.map((li) => li.dataset.stage));
    assert.deepEqual(inUse, ['off']);
    assert.equal(await page.evaluate(() => window.notReloaded), true);
    await page.context().close();
  });
});

describe('a server started on a bad file', () => {
  test('shows why, then the flags once the file is good', async () => {
    const bad = '{"version": 1, "flags": {"x": {"percentge": 5}}}';
    const before = problems.length;
    const server = await startServer('bad-start', {}, bad, { ready: false });
    const page = await openPage(server);
    await page.locator('#reload-error:not([hidden])').waitFor({ timeout: WAIT_MS });
    const problem = await page.locator('#reload-error-text').textContent();
    assert.ok(problem.startsWith(`${server.arg}:1:32: flags.x.percentge: unknown field`), problem);
    assert.equal(await page.locator('#version').textContent(), 'none: no good flag file yet');
    assert.equal(await page.locator('article[data-flag]').count(), 0);

    writeFlags(server.file, JSON.stringify(FLAGS, null, 2));
    await card(page, 'community_dual_write');
    await page.locator('#reload-error').waitFor({ state: 'hidden', timeout: WAIT_MS });
    // Until ready, the data endpoints answer 503 (Chromium logs them).
    expected(before, /status of 503/);
    await page.context().close();
  });
});

describe('the dashboard with tokens', () => {
  test('asks for a token once, refuses a client token, then works', async () => {
    const server = await startServer('tokens', { FLAGS_TOKENS: SERVER_TOKEN, FLAGS_CLIENT_TOKENS: CLIENT_TOKEN });
    // 401s and 403s are expected here: not problems of the page.
    const before = problems.length;
    const page = await openPage(server);
    const input = page.getByLabel('Server token');
    await input.waitFor({ timeout: WAIT_MS });
    assert.match(await page.locator('#token-why').textContent(), /requires a token/);
    assert.equal(await page.locator('article[data-flag]').count(), 0);

    await input.fill(CLIENT_TOKEN);
    await page.getByRole('button', { name: 'Use this token' }).click();
    await page.waitForFunction(
      () => /client/.test(document.getElementById('token-why').textContent)
        && !document.getElementById('token-section').hidden,
      null, { timeout: WAIT_MS },
    );
    await input.fill(SERVER_TOKEN);
    await page.getByRole('button', { name: 'Use this token' }).click();
    await card(page, 'community_dual_write');
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: WAIT_MS });
    expected(before, /status of 40[13]/);

    // Kept for the tab: a reload does not ask again.
    await page.reload();
    await card(page, 'community_dual_write');
    assert.equal(await page.locator('#token-section').isHidden(), true);
    const { rows } = await explain(page, { user_id: '7', app_version: '3.2.0' });
    assert.equal(rows.find((r) => r.flag === 'community_dual_write').reason, 'PILOT');
    await page.context().close();
  });
});

test('no policy violation, script error or failed request', () => {
  assert.deepEqual(problems, []);
});
