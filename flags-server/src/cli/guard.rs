//! `flags guard`: watches every flag's `guard` and kills or pauses the
//! flag when its Prometheus query has crossed its threshold for its
//! duration, through the same edit path as the operator commands
//! ([`flags_core::edit::apply`]: validation, lock, conflict refusal, atomic
//! write, audit record with actor `guard`).
//!
//! Each interval it reads the file again (it may have changed), asks
//! Prometheus each guard's query and keeps, in memory, since when each
//! guard's value has been across its threshold. A restart starts every
//! hold over: a guard acts later, never sooner. No data (Prometheus
//! unreachable, an error, no series or several, a value that is not a
//! finite number) is logged once per distinct reason, counted, and resets
//! the hold: it is neither healthy nor failing, and a guard only acts on
//! `for` of readings that all crossed. A flag already killed (or, for
//! `pause`, already paused) is left alone until a person lifts it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flags_core::edit::{self, Op, Options};
use flags_core::{Guard, GuardAction, Migration, Snapshot};
use tracing::{error, info, warn};

use super::serve::{init_logging, shutdown_signal};
use flags_core::monitor::{NoData, Prometheus};

/// Options of `flags guard`.
#[derive(clap::Args)]
pub struct Args {
    /// The flag file whose guards to watch (one `flags guard` per file).
    file: PathBuf,
    /// The Prometheus server to ask, e.g. http://127.0.0.1:9090.
    #[arg(long, value_name = "URL")]
    prometheus: String,
    /// How often to read the file and ask every guard's query: a whole
    /// number of s, m or h.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_interval)]
    interval: Duration,
    /// Log what would be done ("would kill X: ...") and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Serve GET /healthz and GET /metrics (Prometheus text) on this
    /// address.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// The actor of the audit records of the guard's edits.
    #[arg(long, value_name = "NAME", default_value = "guard", value_parser = super::ops::parse_actor)]
    actor: String,
    /// Append the audit records to PATH instead of FILE.audit.jsonl.
    #[arg(long, value_name = "PATH")]
    audit_log: Option<PathBuf>,
}

/// `--interval`: 1s to 24h.
pub(crate) fn parse_interval(text: &str) -> Result<Duration, String> {
    match flags_core::parse_duration(text) {
        Some(d) if d >= Duration::from_secs(1) && d <= Duration::from_secs(86_400) => Ok(d),
        Some(_) => Err(format!("{text}: expected from 1s to 24h")),
        None => Err(format!(
            "invalid duration {text:?}: expected a whole number of seconds, minutes or hours, \
             such as 15s, 1m or 1h"
        )),
    }
}

/// What the guard process has seen of one flag's guard.
#[derive(Default)]
struct Tracker {
    /// The guard these notes are about: a changed guard starts over.
    guard: Option<Guard>,
    /// Since when every reading crossed the threshold.
    since: Option<Instant>,
    /// The last no-data reason logged (logged again only when it changes).
    no_data: Option<String>,
    /// A dry run said what it would do (said again after a recovery).
    said_would: bool,
    /// A `pause` guard on a flag without a ramp said so.
    said_no_ramp: bool,
    /// The last value read, for /metrics.
    value: Option<f64>,
}

/// Counters and gauges for /metrics.
#[derive(Default)]
struct Metrics {
    checks: u64,
    file_errors: u64,
    last_check: Option<std::time::SystemTime>,
    file_ok: bool,
    /// (flag, reason) -> count.
    no_data: HashMap<(String, &'static str), u64>,
    queries: HashMap<String, u64>,
    /// (flag, action, dry run) -> count.
    actions: HashMap<(String, &'static str, bool), u64>,
    action_errors: HashMap<String, u64>,
    /// flag -> (value, threshold, holding seconds): the guarded flags now.
    guarded: HashMap<String, (Option<f64>, f64, f64)>,
}

type Shared = Arc<Mutex<Metrics>>;

/// Runs `flags guard` until SIGTERM or Ctrl-C.
pub fn run(args: Args) -> ExitCode {
    init_logging();
    let timeout = args.interval.min(Duration::from_secs(10));
    let prometheus = match super::ops::prometheus(&args.prometheus, timeout) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let metrics: Shared = Arc::default();
        let listener = match args.listen {
            Some(addr) => match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => Some(l),
                Err(e) => {
                    eprintln!("--listen {addr}: {e}");
                    return ExitCode::FAILURE;
                }
            },
            None => None,
        };
        let shutdown = shutdown_signal();
        tokio::pin!(shutdown);
        if let Some(listener) = listener {
            let addr = listener.local_addr().ok();
            info!(listen = ?addr, "guard health and metrics on /healthz and /metrics");
            let router = router(metrics.clone(), args.interval);
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    error!(error = %e, "the health and metrics listener stopped");
                }
            });
        }
        info!(
            file = %args.file.display(),
            prometheus = %args.prometheus,
            interval = ?args.interval,
            dry_run = args.dry_run,
            "guard started"
        );
        let mut guard = Guardian {
            args,
            prometheus,
            metrics,
            trackers: HashMap::new(),
            file_error: None,
        };
        let mut ticks = tokio::time::interval(guard.args.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                tick = ticks.tick() => guard.check(tick.into_std()).await,
            }
        }
        info!("guard stopped");
        ExitCode::SUCCESS
    })
}

struct Guardian {
    args: Args,
    prometheus: Prometheus,
    metrics: Shared,
    trackers: HashMap<String, Tracker>,
    /// The last reason the file could not be read (logged once).
    file_error: Option<String>,
}

impl Guardian {
    fn metrics(&self) -> std::sync::MutexGuard<'_, Metrics> {
        self.metrics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One round, scheduled at `tick`: read the file, check every guard.
    /// Holds are measured between scheduled ticks, so that `for: 2s` at
    /// `--interval 1s` acts on the third reading, not one round later
    /// because of a few milliseconds of jitter.
    async fn check(&mut self, tick: Instant) {
        let file = self.args.file.clone();
        let snapshot = match tokio::task::spawn_blocking(move || Snapshot::from_path(&file)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                let text = e.to_string();
                if self.file_error.as_deref() != Some(&text) {
                    error!("cannot read the flag file, no guard acts until it can: {text}");
                    self.file_error = Some(text);
                }
                let mut m = self.metrics();
                m.checks += 1;
                m.file_errors += 1;
                m.file_ok = false;
                m.last_check = Some(std::time::SystemTime::now());
                return;
            }
            Err(e) => {
                error!(error = %e, "reading the flag file failed");
                return;
            }
        };
        if self.file_error.take().is_some() {
            info!("the flag file can be read again");
        }
        let guarded: Vec<String> = snapshot
            .flags()
            .filter(|f| f.guard().is_some())
            .map(|f| f.key().to_owned())
            .collect();
        self.trackers.retain(|k, _| guarded.contains(k));
        let mut seen = HashMap::new();
        for key in &guarded {
            let Some(flag) = snapshot.flag(key) else {
                continue;
            };
            let Some(guard) = flag.guard() else {
                continue;
            };
            self.check_flag(&snapshot, key, guard, tick).await;
            let tracker = self.trackers.get(key);
            let threshold = match guard.threshold() {
                flags_core::Threshold::Above(t) | flags_core::Threshold::Below(t) => t,
            };
            let holding = tracker
                .and_then(|t| t.since)
                .map_or(0.0, |s| tick.saturating_duration_since(s).as_secs_f64());
            seen.insert(
                key.clone(),
                (tracker.and_then(|t| t.value), threshold, holding),
            );
        }
        let mut m = self.metrics();
        m.checks += 1;
        m.file_ok = true;
        m.last_check = Some(std::time::SystemTime::now());
        m.guarded = seen;
    }

    async fn check_flag(&mut self, snapshot: &Snapshot, key: &str, guard: &Guard, tick: Instant) {
        let tracker = self.trackers.entry(key.to_owned()).or_default();
        if tracker.guard.as_ref() != Some(guard) {
            *tracker = Tracker {
                guard: Some(guard.clone()),
                ..Tracker::default()
            };
        }
        let Some(flag) = snapshot.flag(key) else {
            return;
        };
        // A migration flag held at its stage (next and pilot stage there)
        // has nothing to roll back until a person moves it forward.
        let done = snapshot.kill_all()
            || flag.killed()
            || (guard.action() == GuardAction::Pause && flag.paused_at().is_some())
            || (guard.action() == GuardAction::Rollback
                && flag.migration().is_none_or(Migration::is_held));
        if done {
            // Lifted by a person only; nothing to watch until then.
            if tracker.since.take().is_some() {
                info!(
                    flag = key,
                    "{key} is off, paused or back at its stage already: the guard stands by"
                );
            }
            return;
        }
        let reading = self.prometheus.value(guard.query()).await;
        *self.metrics().queries.entry(key.to_owned()).or_default() += 1;
        let tracker = self.trackers.entry(key.to_owned()).or_default();
        let value = match reading {
            Ok(v) => v,
            Err(no_data) => {
                let NoData { kind, detail } = &no_data;
                if tracker.no_data.as_deref() != Some(detail) {
                    warn!(
                        flag = key,
                        reason = kind,
                        "no data for the guard of {key}: {detail}; not acting, the hold starts over"
                    );
                    tracker.no_data = Some(detail.clone());
                }
                tracker.since = None;
                tracker.value = None;
                *self
                    .metrics()
                    .no_data
                    .entry((key.to_owned(), kind))
                    .or_default() += 1;
                return;
            }
        };
        if tracker.no_data.take().is_some() {
            info!(flag = key, "the guard of {key} has data again: {value}");
        }
        tracker.value = Some(value);
        let threshold = guard.threshold_text();
        let side = guard.comparison();
        if !guard.crossed(value) {
            if tracker.since.take().is_some() {
                info!(
                    flag = key,
                    "{key}: {value} is no longer {side} {threshold}: the hold starts over"
                );
            }
            tracker.said_would = false;
            return;
        }
        let since = *tracker.since.get_or_insert_with(|| {
            info!(
                flag = key,
                "{key}: {value} {side} {threshold}: holding; the guard will {} it after {}",
                guard.action().as_str(),
                guard.for_text()
            );
            tick
        });
        let held = tick.saturating_duration_since(since);
        if held < guard.hold_for() {
            return;
        }
        let action = guard.action();
        let what = format!(
            "{key}: value {value} {side} {threshold} for {} (query {}, held {:.1}s)",
            guard.for_text(),
            guard.query(),
            held.as_secs_f64()
        );
        if action == GuardAction::Pause && !flag.is_ramp() {
            if !tracker.said_no_ramp {
                warn!(
                    flag = key,
                    "would pause {what}; but it has no ramp: nothing to freeze, nothing written"
                );
                tracker.said_no_ramp = true;
            }
            return;
        }
        if self.args.dry_run {
            if !tracker.said_would {
                info!(
                    flag = key,
                    "would {} {what}; dry run: nothing written",
                    action.as_str()
                );
                tracker.said_would = true;
                *self
                    .metrics()
                    .actions
                    .entry((key.to_owned(), action.as_str(), true))
                    .or_default() += 1;
            }
            return;
        }
        let op = match action {
            GuardAction::Kill => Op::Kill {
                flag: key.to_owned(),
            },
            GuardAction::Pause => Op::Pause {
                flag: key.to_owned(),
                at: flags_core::now().to_string(),
            },
            GuardAction::Rollback => Op::Rollback {
                flag: key.to_owned(),
            },
        };
        let path = self.args.file.clone();
        let actor = self.args.actor.clone();
        let audit_log = self.args.audit_log.clone();
        let mut reason = format!("guard of {what}");
        if let (GuardAction::Rollback, Some(m)) = (action, flag.migration()) {
            // The stages before and after, as the file said when read.
            reason.push_str(&format!(
                "; stages before: stage {}, next {}, pilot_stage {}; after: stage {}, next {}, \
                 pilot_stage {}",
                m.stage(),
                m.next(),
                m.pilot_stage(),
                m.stage(),
                m.stage(),
                m.stage()
            ));
        }
        let applied =
            tokio::task::spawn_blocking(move || apply(&path, op, actor, audit_log, reason))
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
        match applied {
            Ok(summary) => {
                info!(
                    flag = key,
                    action = action.as_str(),
                    "{} {what}: {summary}",
                    match action {
                        GuardAction::Kill => "killed",
                        GuardAction::Pause => "paused",
                        GuardAction::Rollback => "rolled back",
                    }
                );
                let tracker = self.trackers.entry(key.to_owned()).or_default();
                tracker.since = None;
                *self
                    .metrics()
                    .actions
                    .entry((key.to_owned(), action.as_str(), false))
                    .or_default() += 1;
            }
            Err(e) => {
                error!(
                    flag = key,
                    "cannot {} {key}: {e}; trying again at the next check",
                    action.as_str()
                );
                *self
                    .metrics()
                    .action_errors
                    .entry(key.to_owned())
                    .or_default() += 1;
            }
        }
    }
}

/// The guard's edit, through the one edit path.
fn apply(
    path: &Path,
    op: Op,
    actor: String,
    audit_log: Option<PathBuf>,
    reason: String,
) -> Result<String, String> {
    let notify = |notice: &edit::Notice| warn!("{notice}");
    let mut options = Options::new(super::ops::command_line());
    options.actor = Some(actor);
    options.audit_log = audit_log;
    options.reason = Some(reason);
    options.notify = Some(&notify);
    let outcome = edit::apply(path, &[op], &options).map_err(|e| e.to_string())?;
    Ok(outcome.summary)
}

fn router(metrics: Shared, interval: Duration) -> axum::Router {
    use axum::http::{StatusCode, header};
    use axum::routing::get;
    let health = metrics.clone();
    axum::Router::new()
        .route(
            "/healthz",
            get(move || {
                let metrics = health.clone();
                async move {
                    let m = metrics
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    // Stale when no check finished for three intervals.
                    let fresh = m.last_check.is_some_and(|t| {
                        t.elapsed()
                            .is_ok_and(|age| age <= interval * 3 + Duration::from_secs(10))
                    });
                    let body = serde_json::json!({
                        "status": if fresh { "ok" } else { "stale" },
                        "checks": m.checks,
                        "file_ok": m.file_ok,
                    });
                    let status = if fresh {
                        StatusCode::OK
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    };
                    (status, axum::Json(body))
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    let m = metrics
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    (
                        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        render(&m),
                    )
                }
            }),
        )
}

/// `flag="..."`, escaped as the text format wants.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn render(m: &Metrics) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        name.to_owned()
    };
    let mut lines = Vec::new();
    let n = family(
        "flags_guard_checks_total",
        "counter",
        "Rounds of reading the file and asking every guard's query.",
    );
    lines.push(format!("{n} {}", m.checks));
    let n = family(
        "flags_guard_file_errors_total",
        "counter",
        "Rounds in which the flag file could not be read or was invalid.",
    );
    lines.push(format!("{n} {}", m.file_errors));
    let n = family(
        "flags_guard_file_ok",
        "gauge",
        "1 when the last round could read the flag file.",
    );
    lines.push(format!("{n} {}", u8::from(m.file_ok)));
    let n = family(
        "flags_guard_queries_total",
        "counter",
        "Queries asked, by flag.",
    );
    for (flag, count) in sorted(&m.queries) {
        lines.push(format!("{n}{{flag=\"{}\"}} {count}", label(flag)));
    }
    let n = family(
        "flags_guard_no_data_total",
        "counter",
        "Queries that gave no number, by flag and reason; the guard never acts on them.",
    );
    let mut no_data: Vec<_> = m.no_data.iter().collect();
    no_data.sort();
    for ((flag, reason), count) in no_data {
        lines.push(format!(
            "{n}{{flag=\"{}\",reason=\"{reason}\"}} {count}",
            label(flag)
        ));
    }
    let n = family(
        "flags_guard_actions_total",
        "counter",
        "Actions taken (or, dry_run=\"true\", that would have been), by flag and action.",
    );
    let mut actions: Vec<_> = m.actions.iter().collect();
    actions.sort();
    for ((flag, action, dry), count) in actions {
        lines.push(format!(
            "{n}{{flag=\"{}\",action=\"{action}\",dry_run=\"{dry}\"}} {count}",
            label(flag)
        ));
    }
    let n = family(
        "flags_guard_action_errors_total",
        "counter",
        "Actions that failed (tried again at the next round), by flag.",
    );
    for (flag, count) in sorted(&m.action_errors) {
        lines.push(format!("{n}{{flag=\"{}\"}} {count}", label(flag)));
    }
    let value = family(
        "flags_guard_value",
        "gauge",
        "The last value of each guard's query (absent when it gave no data).",
    );
    let mut guarded: Vec<_> = m.guarded.iter().collect();
    guarded.sort_by(|a, b| a.0.cmp(b.0));
    for (flag, (v, _, _)) in &guarded {
        if let Some(v) = v {
            lines.push(format!("{value}{{flag=\"{}\"}} {v}", label(flag)));
        }
    }
    let threshold = family("flags_guard_threshold", "gauge", "Each guard's threshold.");
    for (flag, (_, t, _)) in &guarded {
        lines.push(format!("{threshold}{{flag=\"{}\"}} {t}", label(flag)));
    }
    let holding = family(
        "flags_guard_holding_seconds",
        "gauge",
        "How long each guard's value has been across its threshold (0: not).",
    );
    for (flag, (_, _, h)) in &guarded {
        lines.push(format!("{holding}{{flag=\"{}\"}} {h:.3}", label(flag)));
    }
    // Each family's header, then its samples, as the text format wants.
    let mut text = String::new();
    let mut headers = out.lines().peekable();
    while let Some(help) = headers.next() {
        let Some(kind) = headers.next() else { break };
        let name = help.split_whitespace().nth(2).unwrap_or_default();
        text.push_str(help);
        text.push('\n');
        text.push_str(kind);
        text.push('\n');
        for line in &lines {
            let sample = line.split(['{', ' ']).next().unwrap_or_default();
            if sample == name {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    text
}

fn sorted(map: &HashMap<String, u64>) -> Vec<(&String, &u64)> {
    let mut v: Vec<_> = map.iter().collect();
    v.sort();
    v
}
