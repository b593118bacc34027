// The flags dashboard: reads /v1/status, /v1/flags and /v1/dashboard,
// follows /v1/stream, and explains a context through POST /v1/evaluate.
//
// Every value from the server is inserted as text (textContent, attribute
// values): flag descriptions and audit records are operator input. Nothing
// is ever parsed as HTML.
'use strict';

(() => {
  const TOKEN_KEY = 'flags-dashboard-token';
  const POLL_MS = 5000;
  const KNOWN_FLAG_FIELDS = new Set([
    'description', 'owner', 'killed', 'requires', 'deny', 'pilots', 'percentage',
    'ramp', 'paused_at', 'bucket_by', 'salt', 'variants', 'guard', 'migration',
  ]);
  const KNOWN_AUDIT_FIELDS = new Set(['time', 'actor', 'command', 'file', 'before', 'after', 'summary']);
  const STATE_LABELS = {
    kill_all: 'off: kill_all',
    killed: 'killed',
    paused: 'paused',
    scheduled: 'scheduled',
    ramping: 'ramping',
    on: 'on',
    pilots_only: 'pilots only',
    partial: 'partial',
  };
  const SVG = 'http://www.w3.org/2000/svg';

  const $ = (id) => document.getElementById(id);

  let token = sessionStorage.getItem(TOKEN_KEY) || '';
  let tokenWaiters = [];
  let shownVersion = null;
  let refreshing = null;
  let refreshAgain = false;
  // The open /v1/stream request, aborted when the token changes.
  let stream = null;
  let streamLive = false;
  // The keys of the migration flags shown: their variant is a stage.
  let migrationFlags = new Set();

  // --- DOM helpers: text only -------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(name, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      node.setAttribute(name, String(value));
    }
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function fact(dl, term, ...value) {
    dl.append(el('dt', null, term), el('dd', null, ...value));
  }

  const pct = (p) => `${Number(p)} %`;
  // In a stage mix, as `flags status` writes it: "shadow 10%".
  const share = (p) => `${Number(p)}%`;
  const utc = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');
  const short = (version) => (typeof version === 'string' ? version.slice(0, 12) : String(version));
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function duration(ms) {
    const minutes = Math.round(Math.abs(ms) / 60000);
    if (minutes < 1) return 'less than a minute';
    if (minutes < 120) return `${minutes} min`;
    const hours = Math.round(minutes / 60);
    if (hours < 48) return `${hours} h`;
    return `${Math.round(hours / 24)} days`;
  }

  function announce(text) {
    $('announce').textContent = text;
  }

  function setConnection(state, text) {
    const node = $('connection');
    node.dataset.state = state;
    node.textContent = text;
  }

  // --- Requests and the token --------------------------------------------

  class NeedToken extends Error {}

  function headers(extra) {
    const h = Object.assign({ Accept: 'application/json' }, extra || {});
    if (token) h.Authorization = `Bearer ${token}`;
    return h;
  }

  async function errorText(response) {
    try {
      const body = await response.json();
      if (body && typeof body.error === 'string') return body.error;
    } catch (_) { /* not JSON */ }
    return `HTTP ${response.status}`;
  }

  /** What to tell the operator about a 401 or 403. */
  async function tokenProblem(response) {
    if (response.status === 403) {
      return `This token cannot read the dashboard's data: ${await errorText(response)}`;
    }
    return token
      ? 'The server did not accept this token. Enter a token of scope server.'
      : 'This server requires a token. Enter a token of scope server.';
  }

  /** The JSON answer of `path`, and its ETag. */
  async function request(path, options) {
    const response = await fetch(path, Object.assign({}, options, {
      headers: headers(options && options.headers),
    }));
    if (response.status === 401 || response.status === 403) {
      throw new NeedToken(await tokenProblem(response));
    }
    if (!response.ok) throw new Error(await errorText(response));
    return { body: await response.json(), etag: response.headers.get('ETag') };
  }

  async function api(path, options) {
    return (await request(path, options)).body;
  }

  function needToken(why) {
    const section = $('token-section');
    $('token-why').textContent = why;
    setConnection('token', 'Waiting for a token');
    if (section.hidden) {
      section.hidden = false;
      $('token').value = '';
      $('token').focus();
    }
    return new Promise((resolve) => tokenWaiters.push(resolve));
  }

  function useToken(value) {
    token = value;
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
    $('forget-token').hidden = !value;
    $('token-section').hidden = true;
    // Follow the stream with the new token.
    if (stream) stream.abort();
    const waiters = tokenWaiters;
    tokenWaiters = [];
    waiters.forEach((resolve) => resolve());
  }

  // --- Loading -------------------------------------------------------------

  /** Loads everything and renders it; one load at a time, repeated once
   * when asked for meanwhile. */
  function refresh() {
    if (refreshing) {
      refreshAgain = true;
      return refreshing;
    }
    refreshing = (async () => {
      do {
        refreshAgain = false;
        await loadOnce();
      } while (refreshAgain);
    })().finally(() => { refreshing = null; });
    return refreshing;
  }

  async function loadOnce() {
    let status = null;
    try {
      let flags; let dash;
      // /v1/flags and /v1/dashboard may straddle a reload: read again
      // until both are of the same version (the ETag is the version).
      for (let attempt = 0; attempt < 5; attempt += 1) {
        status = await api('/v1/status');
        [flags, dash] = await Promise.all([request('/v1/flags'), api('/v1/dashboard')]);
        if (flags.etag === `"${dash.version}"`) break;
        await sleep(200);
      }
      const file = flags.body;
      const previous = shownVersion;
      render(status, file, dash);
      showLive();
      if (previous !== null && previous !== dash.version) {
        announce(`The flag file was reloaded: now serving version ${short(dash.version)}, ${dash.flags.length} flags.`);
      }
    } catch (error) {
      if (error instanceof NeedToken) {
        await needToken(error.message);
        refreshAgain = true;
        return;
      }
      // Before the first good file only /v1/status answers: show why.
      if (status && shownVersion === null) renderHealth(status, null);
      $('flags-summary').textContent = `Could not load the flags: ${error.message}`;
    }
  }

  // --- Rendering -----------------------------------------------------------

  function render(status, file, dash) {
    shownVersion = dash.version;
    document.body.dataset.version = dash.version;
    renderHealth(status, dash);
    renderFlags(file, dash);
    renderEvaluations(dash);
    renderAudit(dash.audit);
  }

  function renderHealth(status, dash) {
    const dl = $('health');
    dl.replaceChildren();
    fact(dl, 'Version served', el('code', { id: 'version' }, dash ? dash.version : 'none: no good flag file yet'));
    fact(dl, 'Flags', String(status.flags));
    if (status.file) fact(dl, 'File', el('code', null, status.file));
    if (status.upstream) {
      fact(dl, 'Upstream', el('code', null, status.upstream.url),
        status.upstream.connected ? ' (connected)' : ` (not connected; flags ${Math.round(status.upstream.age_seconds)} s old)`);
    }
    let health = 'healthy: the file as last read is being served';
    if (status.failing) health = 'failing: the file is bad and kept out; the last good version is served';
    else if (status.stale) health = 'stale: serving the cache copy';
    fact(dl, 'Reload health', el('span', { id: 'reload-health' }, health));
    fact(dl, 'Loaded at', status.loaded_at || 'never');
    fact(dl, 'Last read', status.last_attempt_at || 'never');
    fact(dl, 'Reloads', `${status.reloads} swapped in, ${status.failures} rejected`);
    if (status.last_failure_at) fact(dl, 'Last rejected', status.last_failure_at);
    if (status.cache_error) fact(dl, 'Cache', `cannot be written: ${status.cache_error}`);
    if (dash) fact(dl, 'Percentages computed at', dash.now);
    const box = $('reload-error');
    box.hidden = !(status.failing && status.last_error);
    $('reload-error-text').textContent = status.failing ? (status.last_error || '') : '';
    $('forget-token').hidden = !token;
  }

  function renderFlags(file, dash) {
    const container = $('flags');
    const nowMs = Date.parse(dash.now);
    container.replaceChildren();
    const globalPilots = count(file.pilots);
    $('flags-summary').textContent = `${dash.flags.length} flags in version ${short(dash.version)}`
      + `${dash.kill_all ? '; kill_all is on: every flag is off' : ''}`
      + `${globalPilots ? `; ${globalPilots} global pilot ids` : ''}.`;
    renderMonitor(dash);
    migrationFlags = new Set(dash.flags.filter((view) => view.migration).map((view) => view.key));
    dash.flags.forEach((view, i) => {
      const raw = (file.flags || {})[view.key] || {};
      container.append(renderFlag(view, raw, nowMs, i, dash.monitor));
    });
  }

  /** The monitor's line (what `flags status --prometheus` says to do),
   * shown when some flag has a guard. */
  function renderMonitor(dash) {
    const node = $('monitor');
    const monitor = dash.monitor || {};
    const guarded = dash.flags.some((view) => view.guard);
    node.hidden = !guarded;
    node.replaceChildren();
    if (!guarded) return;
    if (!monitor.prometheus) {
      node.dataset.state = 'off';
      node.append(el('strong', null, 'Guards: '),
        'live values are not read; start flags serve with --prometheus URL to see them.');
      return;
    }
    node.dataset.state = monitor.recommendation ? 'read' : 'pending';
    node.append(el('strong', null, 'Guards: '),
      el('span', { id: 'recommendation' }, monitor.recommendation || monitor.note || ''),
      el('small', null, ` (Prometheus at ${monitor.prometheus}${monitor.read_at ? `, read at ${monitor.read_at}` : ''})`));
  }

  function count(lists) {
    return Object.values(lists || {}).reduce((n, ids) => n + (Array.isArray(ids) ? ids.length : 0), 0);
  }

  function listCounts(lists) {
    const entries = Object.entries(lists || {});
    if (!entries.length) return 'none';
    return entries.map(([attribute, ids]) => `${attribute}: ${ids.length}`).join(', ');
  }

  function renderFlag(view, raw, nowMs, i, monitor) {
    const id = `flag-${i}`;
    const card = el('article', { class: 'flag', 'data-flag': view.key, 'aria-labelledby': id });
    card.append(el('div', { class: 'flag-head' },
      el('h3', { id }, view.key),
      el('span', { class: 'state', 'data-state': view.state }, STATE_LABELS[view.state] || view.state)));
    // A kill switch turns the flag off whatever its rollout says.
    const off = view.state === 'killed' || view.state === 'kill_all';
    const m = view.migration;
    if (m) {
      card.append(el('p', { class: 'kind' }, `Migration: ${m.stages.length} stages`));
      card.append(el('p', { class: 'now mix', 'data-basis-points': view.basis_points },
        el('span', { class: 'now-value' }, mixText(m, off)), ' ',
        el('small', null, off
          ? `(the kill switch${m.next === m.stage ? '' : `; rollout to ${m.next} ${share(view.percentage)} when lifted`})`
          : 'now')));
      card.append(stageList(view.key, m));
    } else {
      card.append(el('p', { class: 'now', 'data-basis-points': view.basis_points },
        el('span', { class: 'now-value' }, off ? 'off' : pct(view.percentage)), ' ',
        el('small', null, off ? `for everyone (rollout ${pct(view.percentage)} when lifted)` : 'of units now')));
    }
    if (view.by_guard) card.append(byGuard(view.by_guard));
    const meter = el('meter', {
      min: 0,
      max: 100,
      value: off ? 0 : (m ? nextShare(m) : view.percentage),
      'aria-label': m ? `${view.key}: share at ${m.next} now` : `${view.key}: effective percentage now`,
    });
    card.append(meter);
    if (view.ramp.length) card.append(...chart(view, nowMs));
    if (raw.description) card.append(el('p', { class: 'description' }, raw.description));
    const dl = el('dl', { class: 'facts' });
    fact(dl, 'Owner', raw.owner || 'none');
    fact(dl, 'Requires', requirements(raw.requires));
    fact(dl, 'Pilots', listCounts(raw.pilots));
    fact(dl, 'Deny', listCounts(raw.deny));
    if (m) {
      fact(dl, 'Stages', `baseline ${m.stage}, rollout to ${m.next}, pilots at ${m.pilot_stage}, `
        + `kill switch to ${m.safe}`);
    } else {
      fact(dl, 'Variants', (raw.variants || []).map((v) => `${v.name} ${pct(v.weight)}`).join(', ') || 'none');
    }
    fact(dl, 'Bucket by', raw.bucket_by || 'user_id');
    if (raw.salt) fact(dl, 'Salt', raw.salt);
    fact(dl, 'Guard', ...guardText(view.guard));
    if (view.guard) fact(dl, 'Guard now', liveText(view.guard, monitor || {}));
    // Fields this page does not know (later additions): as JSON.
    for (const [name, value] of Object.entries(raw)) {
      if (KNOWN_FLAG_FIELDS.has(name)) continue;
      const label = name === 'guard' ? 'Guard' : name;
      fact(dl, label, el('pre', { class: 'extra', 'data-field': name }, JSON.stringify(value, null, 2)));
    }
    const evaluated = view.evaluations.reduce((n, c) => n + c.count, 0);
    fact(dl, 'Evaluations', String(evaluated));
    card.append(dl);
    return card;
  }

  /** A migration flag's stage mix now, as `flags status` says it:
   * "dualwrite 90% · shadow 10% · live: 3 pilots"; "everyone at off"
   * under a kill switch. */
  function mixText(m, killed) {
    if (killed) return `everyone at ${m.safe}`;
    const parts = m.mix.map((s) => `${s.stage} ${share(s.percentage)}`);
    // Pilots at the baseline are in its share already.
    if (m.pilots && m.pilot_stage !== m.stage) {
      parts.push(`${m.pilot_stage}: ${m.pilots} ${m.pilots === 1 ? 'pilot' : 'pilots'}`);
    }
    return parts.join(' · ');
  }

  /** The percentage at a migration's `next` stage now (0 when `next` is
   * the baseline: the rollout moves nobody). */
  function nextShare(m) {
    const moved = m.next !== m.stage && m.mix.find((s) => s.stage === m.next);
    return moved ? moved.percentage : 0;
  }

  /** A migration's stages in order; the ones someone is at now marked
   * (in text too), and the roles the file gives them. */
  function stageList(key, m) {
    const list = el('ol', { class: 'stages', 'aria-label': `Stages of ${key}, in order` });
    for (const stage of m.stages) {
      const notes = [];
      const mixed = m.mix.find((s) => s.stage === stage);
      if (stage === m.stage) notes.push('baseline');
      if (stage === m.next && m.next !== m.stage) notes.push('rollout');
      if (mixed) notes.push(share(mixed.percentage));
      if (stage === m.pilot_stage && m.pilots) notes.push(`${m.pilots} ${m.pilots === 1 ? 'pilot' : 'pilots'}`);
      if (stage === m.safe) notes.push('kill switch');
      const inUse = Boolean(mixed) || (stage === m.pilot_stage && m.pilots > 0);
      list.append(el('li', { 'data-stage': stage, 'data-in-use': inUse ? 'true' : 'false' },
        inUse ? el('strong', null, stage) : stage,
        notes.length ? el('small', null, ` (${notes.join(', ')})`) : null));
    }
    return list;
  }

  /** The guard as the file says it: its query, then what it does when. */
  function guardText(guard) {
    if (!guard) return ['none'];
    return [el('code', { class: 'guard-query' }, guard.query),
      el('span', { class: 'guard-rule' },
        `: ${guard.action} when ${guard.comparison} ${guard.threshold_text} for ${guard.for}`)];
  }

  /** A guard's live reading (`--prometheus`): its value against its
   * threshold, crossed or not and for how long, or no data and why. */
  function liveText(guard, monitor) {
    const now = guard.now;
    let state; let text;
    if (!monitor.prometheus) {
      state = 'off';
      text = 'live value not read: start flags serve with --prometheus URL to see it';
    } else if (!now) {
      state = 'pending';
      text = monitor.note || 'asking Prometheus…';
    } else if (now.done) {
      state = 'done';
      text = `${now.status}${now.value === null ? '' : ` (value now ${now.value})`}`;
    } else if (now.value === null) {
      state = 'no-data';
      text = `no data: ${now.no_data}; the guard cannot act`;
    } else if (now.crossed) {
      state = 'crossed';
      const seen = now.seen_crossed_for_seconds;
      const held = seen === null ? '' : `, seen for ${Math.floor(seen)} s`;
      const acts = { kill: 'kills it', pause: 'pauses it' }[guard.action] || 'rolls it back';
      text = `${now.value} — CROSSED: ${guard.comparison} ${guard.threshold_text}${held}; `
        + `flags guard ${acts} once that lasts ${guard.for}`;
    } else {
      state = 'ok';
      text = `${now.value} — ok: not ${guard.comparison} ${guard.threshold_text}`;
    }
    return el('span', { class: 'guard-now', 'data-live': state }, text);
  }

  /** "Killed by a guard" / "Paused by a guard", from the audit record. */
  function byGuard(record) {
    const what = { kill: 'Killed by a guard', pause: 'Paused by a guard' }[record.action]
      || 'Rolled back to its stage by a guard';
    return el('p', { class: 'by-guard', 'data-action': record.action },
      el('strong', null, what), record.time ? ` at ${record.time}` : '',
      record.reason ? `: ${record.reason}` : '', '. It stays so until a person lifts it.');
  }

  function requirements(conditions) {
    if (!conditions || !conditions.length) return 'none';
    return conditions.map((c) => {
      const operand = 'values' in c ? `[${c.values.join(', ')}]` : c.value;
      return `${c.attribute} ${c.op} ${operand}`;
    }).join('; ');
  }

  /** The ramp as an SVG chart: the points of the file, the line the
   * percentage follows between them, and now. */
  function chart(view, nowMs) {
    const W = 320; const H = 150; const L = 34; const R = 10; const T = 10; const B = 28;
    const points = view.ramp;
    const first = points[0]; const last = points[points.length - 1];
    const paused = view.paused;
    const t0 = Math.min(first.at_ms, nowMs); const t1 = Math.max(last.at_ms, nowMs);
    const pad = Math.max((t1 - t0) * 0.06, 60000);
    const xmin = t0 - pad; const xmax = t1 + pad;
    const x = (t) => (L + ((t - xmin) / (xmax - xmin)) * (W - L - R)).toFixed(2);
    const y = (p) => (T + (1 - p / 100) * (H - T - B)).toFixed(2);
    const described = points.map((p) => `${pct(p.percentage)} at ${p.at}`).join(', ');
    const of = view.migration ? `${view.key} (the share at ${view.migration.next})` : view.key;
    const label = `Ramp of ${of}: ${described}; `
      + `${paused ? `paused at ${pct(paused.percentage)} since ${paused.at}; ` : ''}now ${pct(view.percentage)}`;
    const root = svg('svg', {
      class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label,
      'data-now': nowMs, 'data-now-percentage': view.percentage,
    });
    root.append(svg('title', null, label));
    for (const p of [0, 50, 100]) {
      root.append(svg('line', { class: 'axis', x1: L, x2: W - R, y1: y(p), y2: y(p) }));
      root.append(svg('text', { x: L - 4, y: Number(y(p)) + 3, 'text-anchor': 'end' }, `${p}%`));
    }
    // 0 before the first point, straight lines between points, the last
    // percentage after it (docs/bucketing.md).
    // Paused: the ramp up to paused_at, then flat at the percentage the
    // server computed for paused_at.
    const followed = paused ? points.filter((p) => p.at_ms < paused.at_ms) : points;
    let path = [`${x(xmin)},${y(0)}`];
    if (!paused || first.at_ms < paused.at_ms) path.push(`${x(first.at_ms)},${y(0)}`);
    path = path.concat(followed.map((p) => `${x(p.at_ms)},${y(p.percentage)}`));
    if (paused) {
      path.push(`${x(paused.at_ms)},${y(paused.percentage)}`, `${x(xmax)},${y(paused.percentage)}`);
    } else {
      path.push(`${x(xmax)},${y(last.percentage)}`);
    }
    root.append(svg('polyline', { class: 'line', points: path.join(' '), 'data-paused': paused ? 'true' : 'false' }));
    if (paused) {
      // The plan the pause holds back, dashed.
      const held = [`${x(paused.at_ms)},${y(paused.percentage)}`]
        .concat(points.filter((p) => p.at_ms >= paused.at_ms).map((p) => `${x(p.at_ms)},${y(p.percentage)}`));
      root.append(svg('polyline', { class: 'held-line', points: held.join(' ') }));
      root.append(svg('circle', {
        class: 'pause-point', cx: x(paused.at_ms), cy: y(paused.percentage), r: 4,
        'data-at': paused.at, 'data-percentage': paused.percentage,
      }, svg('title', null, `paused at ${pct(paused.percentage)} since ${paused.at}`)));
    }
    const nextAt = view.next ? view.next.at_ms : null;
    for (const p of points) {
      let when = p.at_ms <= nowMs ? 'past' : (p.at_ms === nextAt ? 'next' : 'future');
      if (paused && p.at_ms >= paused.at_ms) when = 'held';
      root.append(svg('circle', {
        class: `point ${when}`, cx: x(p.at_ms), cy: y(p.percentage), r: 4,
        'data-at': p.at, 'data-at-ms': p.at_ms, 'data-percentage': p.percentage,
      }, svg('title', null, `${pct(p.percentage)} at ${p.at} (${when})`)));
    }
    root.append(svg('line', { class: 'now-line', x1: x(nowMs), x2: x(nowMs), y1: T, y2: H - B }));
    root.append(svg('circle', {
      class: 'now-point', cx: x(nowMs), cy: y(view.percentage), r: 3.5, 'data-percentage': view.percentage,
    }, svg('title', null, `now: ${pct(view.percentage)}`)));
    root.append(svg('text', { x: L, y: H - 8, 'text-anchor': 'start' }, utc(first.at_ms).slice(0, 16)));
    root.append(svg('text', { x: W - R, y: H - 8, 'text-anchor': 'end' }, utc(last.at_ms).slice(0, 16)));
    let legend;
    if (paused) {
      legend = `Paused since ${paused.at}: stays at ${pct(paused.percentage)} until a person resumes the ramp.`;
    } else if (view.next) {
      legend = `Next step: ${pct(view.next.percentage)} at ${view.next.at} (in ${duration(view.next.at_ms - nowMs)}).`;
    } else {
      legend = `Ramp complete: ${pct(last.percentage)} since ${last.at}.`;
    }
    if (view.migration) legend = `The share at ${view.migration.next}. ${legend}`;
    return [root, el('p', { class: 'chart-legend' }, legend)];
  }

  function renderEvaluations(dash) {
    const table = $('evaluations');
    const body = table.tBodies[0];
    body.replaceChildren();
    const rows = [];
    for (const view of dash.flags) {
      for (const c of view.evaluations) rows.push([view.key, c]);
    }
    for (const c of dash.unknown_evaluations) rows.push(['(not in the file)', c]);
    for (const [key, c] of rows) {
      body.append(el('tr', { 'data-flag': key, 'data-reason': c.reason },
        el('td', null, key), el('td', null, c.reason),
        el('td', { class: c.enabled ? 'on' : 'off' }, c.enabled ? 'on' : 'off'),
        el('td', { class: 'num' }, String(c.count))));
    }
    table.hidden = rows.length === 0;
    $('evaluations-empty').hidden = rows.length !== 0;
  }

  function renderAudit(audit) {
    const list = $('audit');
    list.replaceChildren();
    const notes = [];
    if (audit.path) notes.push(`From ${audit.path}, newest first.`);
    if (audit.note) notes.push(audit.note.charAt(0).toUpperCase() + audit.note.slice(1) + '.');
    if (audit.truncated) notes.push(`Showing the newest ${audit.records.length} records.`);
    if (audit.unreadable) notes.push(`${audit.unreadable} lines are not JSON records and are left out.`);
    $('audit-note').textContent = notes.join(' ');
    for (const record of audit.records) {
      const item = el('li', null);
      item.append(el('div', { class: 'meta' },
        el('time', { datetime: record.time }, record.time || '(no time)'), ' by ',
        el('strong', null, record.actor || '(unknown)')));
      item.append(el('div', { class: 'summary' }, record.summary || ''));
      if (record.command) item.append(el('div', null, el('code', null, record.command)));
      if (record.before || record.after) {
        item.append(el('div', { class: 'meta' }, `version ${short(record.before)} → ${short(record.after)}`));
      }
      for (const [name, value] of Object.entries(record)) {
        if (KNOWN_AUDIT_FIELDS.has(name)) continue;
        item.append(el('div', { class: 'meta' }, `${name}: ${typeof value === 'string' ? value : JSON.stringify(value)}`));
      }
      list.append(item);
    }
  }

  // --- Explain ----------------------------------------------------------

  async function explain(event) {
    event.preventDefault();
    const error = $('explain-error');
    const table = $('explain-results');
    error.textContent = '';
    // No answer for another context stays on screen meanwhile.
    table.hidden = true;
    table.tBodies[0].replaceChildren();
    delete table.dataset.context;
    let context;
    try {
      context = JSON.parse($('context').value);
    } catch (e) {
      error.textContent = `The context is not valid JSON: ${e.message}`;
      return;
    }
    if (context === null || typeof context !== 'object' || Array.isArray(context)) {
      error.textContent = 'The context must be a JSON object, such as {"user_id": "42"}.';
      return;
    }
    let answer;
    try {
      answer = await api('/v1/evaluate', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ context }),
      });
    } catch (e) {
      if (e instanceof NeedToken) {
        await needToken(e.message);
        return explain(event);
      }
      error.textContent = e.message;
      return;
    }
    const body = table.tBodies[0];
    body.replaceChildren();
    for (const r of answer.results) {
      body.append(el('tr', { 'data-flag': r.flag },
        el('th', { scope: 'row' }, r.flag),
        el('td', { class: r.enabled ? 'on' : 'off', 'data-enabled': r.enabled }, r.enabled ? 'on' : 'off'),
        el('td', { 'data-reason': r.reason }, r.reason),
        el('td', { class: 'num', 'data-bucket': r.bucket === null ? '' : r.bucket }, r.bucket === null ? '—' : String(r.bucket)),
        variantCell(r)));
    }
    $('explain-caption').textContent = `Answers for this context, version ${short(answer.version)}`;
    // The context these answers are for (tests read it).
    table.dataset.context = JSON.stringify(context);
    table.hidden = false;
    announce(`Explained: ${answer.results.filter((r) => r.enabled).length} of ${answer.results.length} flags on.`);
    refresh();
  }

  /** The answer's variant; for a migration flag, its stage. */
  function variantCell(r) {
    const attrs = { 'data-variant': r.variant === null ? '' : r.variant };
    if (r.variant === null) return el('td', attrs, '—');
    if (!migrationFlags.has(r.flag)) return el('td', attrs, r.variant);
    return el('td', Object.assign(attrs, { 'data-stage': r.variant }), 'stage: ', el('strong', null, r.variant));
  }

  // --- Live: /v1/stream through fetch (EventSource cannot send a token) -----

  function showLive() {
    if (streamLive) setConnection('live', 'Live: following the server’s changes');
  }

  async function follow() {
    let delay = 1000;
    for (;;) {
      const controller = new AbortController();
      stream = controller;
      try {
        const response = await fetch('/v1/stream', {
          headers: headers({ Accept: 'text/event-stream' }), cache: 'no-store', signal: controller.signal,
        });
        if (response.status === 401 || response.status === 403) {
          await needToken(await tokenProblem(response));
          continue;
        }
        if (!response.ok || !response.body) throw new Error(await errorText(response));
        streamLive = true;
        if ($('token-section').hidden) showLive();
        delay = 1000;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, '\n');
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            onEvent(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
            end = buffer.indexOf('\n\n');
          }
        }
      } catch (_) { /* reconnect below */ }
      streamLive = false;
      if (controller.signal.aborted) continue;
      setConnection('lost', 'Connection lost: reconnecting…');
      await sleep(delay);
      delay = Math.min(delay * 2, 15000);
    }
  }

  function onEvent(block) {
    let name = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') name = value;
      else if (field === 'data') data.push(value);
    }
    if (name !== 'version') return;
    try {
      const { version } = JSON.parse(data.join('\n'));
      // The last version the stream announced (tests read it).
      document.body.dataset.streamVersion = version;
      if (version !== shownVersion) refresh();
    } catch (_) { /* not ours */ }
  }

  // --- Start ---------------------------------------------------------------

  function start() {
    $('token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const value = $('token').value.trim();
      if (value) useToken(value);
    });
    $('forget-token').addEventListener('click', () => {
      useToken('');
      refresh();
    });
    $('explain-form').addEventListener('submit', explain);
    setConnection('connecting', 'Connecting…');
    refresh();
    follow();
    // Counters, reload health and the percentages of ramps move without a
    // new version.
    setInterval(() => { if ($('token-section').hidden) refresh(); }, POLL_MS);
  }

  start();
})();
