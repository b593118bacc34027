//! Prometheus metrics in the text exposition format.
//!
//! Label sets are bounded: routes are the router's patterns (unmatched
//! paths share one label), evaluations of keys that are not in the file
//! share the flag label `(unknown)`, so clients cannot grow the set, and
//! the counters of a flag that left the file are dropped at the next
//! scrape.
//!
//! The text format is written here, not by a crate, because the crates
//! cost on the hot path or change the output. With `prometheus` (0.14)
//! every evaluation goes through `IntCounterVec::with_label_values`, which
//! hashes the three label values and takes a lock: 360-420 ns an
//! evaluation, measured against 40-65 ns for the per-flag counters here
//! (one read lock per answer), so about 0.35 ms more CPU for each
//! `/v1/evaluate` answer of 1,000 flags, which costs about 0.5 ms in all.
//! `prometheus-client` looks a family up by an owned label set (an
//! allocation per evaluation) and writes OpenMetrics, whose `TYPE` lines,
//! `# EOF` and content type differ from the 0.0.4 text format served
//! here. What is left to write by hand is small: `HELP` and `TYPE` lines
//! and three escapes in label values.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use flags_core::watch::SourceStatus;
use flags_core::{Evaluation, Reason, Snapshot};

const UNKNOWN_FLAG: &str = "(unknown)";
const UNMATCHED_ROUTE: &str = "(unmatched)";

type Counters = [AtomicU64; Reason::ALL.len() * 2];

/// How stale a relay's flags are, for `/v1/status` and the metrics.
pub(crate) struct Upstream<'a> {
    pub url: &'a str,
    /// True while the last request to the upstream got a usable answer.
    pub connected: bool,
    /// When the upstream last answered with a usable flag set.
    pub last_success_at: Option<SystemTime>,
    /// Until when the served flags are known to have been the upstream's:
    /// the last success, or, for a relay that has not reached its upstream
    /// since it started from its cache, when the cache file was written.
    pub current_until: Option<SystemTime>,
}

impl<'a> Upstream<'a> {
    /// A relay's upstream at `url`, which last answered at
    /// `last_success_at`, with its `cache` file and its source's `status`.
    pub(crate) fn new(
        url: &'a str,
        last_success_at: Option<SystemTime>,
        cache: Option<&std::path::Path>,
        status: &SourceStatus,
    ) -> Self {
        Upstream {
            url,
            connected: status.healthy && last_success_at.is_some(),
            last_success_at,
            // Before any answer, the cached flags were the upstream's when
            // the cache was written (it is written only after an answer).
            current_until: last_success_at
                .or_else(|| std::fs::metadata(cache?).ok()?.modified().ok())
                .or(status.loaded_at),
        }
    }

    /// Seconds since the served flags were last known to be the upstream's
    /// (0 while connected).
    pub(crate) fn age_seconds(&self, now: SystemTime) -> f64 {
        if self.connected {
            return 0.0;
        }
        self.current_until
            .and_then(|at| now.duration_since(at).ok())
            .map_or(0.0, |d| d.as_secs_f64())
    }
}

#[derive(Default)]
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    /// Per flag: one counter per (reason, enabled).
    evaluations: RwLock<HashMap<Box<str>, Counters>>,
}

fn slot(result: &Evaluation<'_>) -> usize {
    let reason = Reason::ALL
        .iter()
        .position(|r| *r == result.reason)
        .unwrap_or(0);
    reason * 2 + usize::from(result.enabled)
}

impl Metrics {
    pub fn request(&self, route: &str, status: u16) {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        match requests.get_mut(&(route.to_owned(), status)) {
            Some(n) => *n += 1,
            None => {
                requests.insert((route.to_owned(), status), 1);
            }
        }
    }

    pub fn evaluation(&self, snapshot: &Snapshot, key: &str, result: &Evaluation<'_>) {
        self.evaluations(snapshot, std::iter::once((key, result)));
    }

    /// Counts a batch of evaluations from one snapshot under one lock.
    pub fn evaluations<'r>(
        &self,
        snapshot: &Snapshot,
        results: impl IntoIterator<Item = (&'r str, &'r Evaluation<'r>)>,
    ) {
        let label = |key: &'r str| {
            if snapshot.flag(key).is_some() {
                key
            } else {
                UNKNOWN_FLAG
            }
        };
        let mut missing = Vec::new();
        {
            let map = self.evaluations.read().unwrap_or_else(|e| e.into_inner());
            for (key, result) in results {
                match map.get(label(key)) {
                    Some(counters) => {
                        counters[slot(result)].fetch_add(1, Ordering::Relaxed);
                    }
                    None => missing.push((label(key), slot(result))),
                }
            }
        }
        if missing.is_empty() {
            return;
        }
        let mut map = self.evaluations.write().unwrap_or_else(|e| e.into_inner());
        for (label, slot) in missing {
            map.entry(label.into())
                .or_insert_with(|| std::array::from_fn(|_| AtomicU64::new(0)))[slot]
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Every nonzero evaluation counter of a flag in `snapshot` (or of
    /// keys not in the file, as `(unknown)`): `(flag, reason, enabled,
    /// count)`, sorted by flag, then reason in evaluation order. The same
    /// numbers as `flags_evaluations_total`, for the dashboard.
    pub fn evaluation_counts(&self, snapshot: &Snapshot) -> Vec<(String, Reason, bool, u64)> {
        let map = self.evaluations.read().unwrap_or_else(|e| e.into_inner());
        let mut counts: Vec<_> = map
            .iter()
            .filter(|(key, _)| ***key == *UNKNOWN_FLAG || snapshot.flag(key).is_some())
            .flat_map(|(key, counters)| {
                counters.iter().enumerate().filter_map(move |(i, counter)| {
                    let n = counter.load(Ordering::Relaxed);
                    (n > 0).then(|| (key.to_string(), Reason::ALL[i / 2], i % 2 == 1, n))
                })
            })
            .collect();
        counts.sort_by(|a, b| a.0.cmp(&b.0));
        counts
    }

    /// The metrics text; `upstream` adds a relay's `flags_upstream_*` and
    /// `flags_snapshot_age_seconds`.
    pub fn render(
        &self,
        snapshot: &Snapshot,
        status: &SourceStatus,
        upstream: Option<&Upstream<'_>>,
        streams: Streams,
    ) -> String {
        let mut out = String::with_capacity(4096);
        let seconds = |at: Option<std::time::SystemTime>| {
            at.and_then(|at| at.duration_since(UNIX_EPOCH).ok())
                .map_or(0.0, |d| d.as_secs_f64())
        };
        let mut gauge = |name: &str, help: &str, kind: &str, lines: &[(String, String)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in lines {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let flag = |on: bool| vec![(String::new(), u8::from(on).to_string())];
        // Nothing is served before the first good file: no version to name.
        let served: Vec<(String, String)> = if status.ready {
            vec![(
                format!("{{version=\"{}\"}}", escape(snapshot.version())),
                "1".into(),
            )]
        } else {
            Vec::new()
        };
        gauge(
            "flags_snapshot_info",
            "The flag file version being served (content hash).",
            "gauge",
            &served,
        );
        gauge(
            "flags_snapshot_loaded_timestamp_seconds",
            "When the served flags were loaded (Unix time; 0 before the first good file).",
            "gauge",
            &[(String::new(), format!("{:.3}", seconds(status.loaded_at)))],
        );
        gauge(
            "flags_snapshot_flags",
            "Number of flags in the served flag file.",
            "gauge",
            &[(String::new(), snapshot.len().to_string())],
        );
        gauge(
            "flags_ready",
            "1 when good flags are being served (see /readyz), else 0.",
            "gauge",
            &flag(status.ready),
        );
        gauge(
            "flags_snapshot_stale",
            "1 while the flags served are the --cache copy because the flag file (or a relay's upstream) has been bad since start.",
            "gauge",
            &flag(status.stale),
        );
        gauge(
            "flags_reload_failing",
            "1 while the flag file is bad and kept out (the last good flags keep serving), else 0.",
            "gauge",
            &flag(!status.healthy),
        );
        gauge(
            "flags_reload_last_failure_timestamp_seconds",
            "When a bad flag file was last reported (Unix time; 0 if never).",
            "gauge",
            &[(
                String::new(),
                format!("{:.3}", seconds(status.last_failure_at)),
            )],
        );
        gauge(
            "flags_cache_failing",
            "1 while the --cache copy cannot be written, else 0.",
            "gauge",
            &flag(status.cache_error.is_some()),
        );
        if let Some(upstream) = upstream {
            gauge(
                "flags_upstream_connected",
                "1 while the upstream flags server answers with usable flags (a relay), else 0.",
                "gauge",
                &flag(upstream.connected),
            );
            gauge(
                "flags_upstream_last_success_timestamp_seconds",
                "When the upstream last answered with usable flags (Unix time; 0 if not since start).",
                "gauge",
                &[(
                    String::new(),
                    format!("{:.3}", seconds(upstream.last_success_at)),
                )],
            );
            gauge(
                "flags_snapshot_age_seconds",
                "Seconds since the flags served were last known to be the upstream's (0 while connected).",
                "gauge",
                &[(
                    String::new(),
                    format!("{:.3}", upstream.age_seconds(SystemTime::now())),
                )],
            );
        }
        gauge(
            "flags_reloads_total",
            "Reload attempts that swapped in a new file, and that were rejected.",
            "counter",
            &[
                ("{result=\"success\"}".into(), status.reloads.to_string()),
                ("{result=\"failure\"}".into(), status.failures.to_string()),
            ],
        );
        let requests: Vec<(String, String)> = self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|((route, code), n)| {
                (
                    format!("{{route=\"{}\",status=\"{code}\"}}", escape(route)),
                    n.to_string(),
                )
            })
            .collect();
        gauge(
            "flags_http_requests_total",
            "HTTP requests by route and status.",
            "counter",
            &requests,
        );
        // Flags that left the file take their counters with them (a
        // request still on the previous snapshot may count one again: the
        // next scrape drops it).
        if status.ready {
            self.evaluations
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|key, _| **key == *UNKNOWN_FLAG || snapshot.flag(key).is_some());
        }
        let mut evaluations = Vec::new();
        {
            let map = self.evaluations.read().unwrap_or_else(|e| e.into_inner());
            let mut keys: Vec<&Box<str>> = map.keys().collect();
            keys.sort();
            for key in keys {
                for (i, counter) in map[key].iter().enumerate() {
                    let n = counter.load(Ordering::Relaxed);
                    if n > 0 {
                        evaluations.push((
                            format!(
                                "{{flag=\"{}\",reason=\"{}\",enabled=\"{}\"}}",
                                escape(key),
                                Reason::ALL[i / 2],
                                i % 2 == 1
                            ),
                            n.to_string(),
                        ));
                    }
                }
            }
        }
        gauge(
            "flags_evaluations_total",
            "Flag evaluations served over HTTP, by flag, reason and result.",
            "counter",
            &evaluations,
        );
        gauge(
            "flags_streams_open",
            "Open /v1/stream event streams.",
            "gauge",
            &[(String::new(), streams.open.to_string())],
        );
        gauge(
            "flags_streams_max",
            "The most /v1/stream event streams this server holds (--max-streams).",
            "gauge",
            &[(String::new(), streams.max.to_string())],
        );
        out
    }
}

/// The event streams held, for `/metrics`.
#[derive(Clone, Copy, Debug)]
pub struct Streams {
    /// Streams open now.
    pub open: usize,
    /// The cap.
    pub max: usize,
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Counts every request by matched route and status.
pub(crate) async fn track(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let response = next.run(request).await;
    metrics.request(
        route.as_deref().unwrap_or(UNMATCHED_ROUTE),
        response.status().as_u16(),
    );
    response
}
