//! The migrator and the recorder: each stage's reads and writes run the
//! right sides in the right order and answer with the authoritative one;
//! the other side's errors, panics and slowness are contained and counted;
//! the rendered metrics are checked by parsing them.
//!
//! The expected plans are written out here from the stage table of
//! `docs/migrations.md`, not taken from `Stage::read`/`Stage::write`.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flags_core::migrate::{
    DropReason, Migrator, MigratorOptions, Op, Record, Recorder, SideRecord, stage_of,
};
use flags_core::{Context, Side, Snapshot, Stage, Timestamp};

/// Generous bound on background work in tests (CI has two busy cores).
const PATIENCE: Duration = Duration::from_secs(30);

/// Options for the tests that are not about the timeout: a generous one,
/// since on a busy machine a job can wait in the queue longer than the
/// default 100 ms, and a job that waited past the timeout is recorded as
/// timed out (an error, not compared).
fn patient() -> MigratorOptions {
    MigratorOptions {
        timeout: PATIENCE,
        ..MigratorOptions::default()
    }
}

fn migrator(options: MigratorOptions) -> (Migrator, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let migrator = Migrator::new(Arc::clone(&recorder), options).expect("pool threads");
    (migrator, recorder)
}

/// The sides that ran, in order, shared by the closures of one test.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<&'static str>>>);

impl Log {
    fn side(
        &self,
        name: &'static str,
        result: Result<i32, String>,
    ) -> impl FnOnce() -> Result<i32, String> + Send + 'static {
        let log = self.clone();
        move || {
            log.0.lock().expect("log").push(name);
            result
        }
    }
    fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.0.lock().expect("log"))
    }
}

/// One line of the text format: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the samples of a Prometheus text exposition, checking that each
/// family has its HELP and TYPE lines before its samples; returns the
/// samples and each family's type.
fn parse(text: &str) -> (Vec<Sample>, BTreeMap<String, String>) {
    let mut samples = Vec::new();
    let mut types = BTreeMap::new();
    let mut helped = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.push(rest.split(' ').next().expect("name").to_owned());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert_eq!(
                helped.last().map(String::as_str),
                Some(name),
                "HELP before TYPE"
            );
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}').expect("}"))),
            None => (series, BTreeMap::new()),
        };
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "sample before its TYPE: {line}");
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value: value.parse().expect("a number"),
        });
    }
    (samples, types)
}

/// `a="x",b="y\"z"` with the format's escapes undone.
fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        assert_eq!(chars.next(), Some('"'));
        let mut value = String::new();
        loop {
            match chars.next().expect("unterminated label value") {
                '\\' => match chars.next().expect("escape") {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                '"' => break,
                c => value.push(c),
            }
        }
        labels.insert(name, value);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    labels
}

/// The value of the one sample named `name` with exactly `labels`; 0 when
/// there is none (counters at zero are left out).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let found: Vec<_> = samples
        .iter()
        .filter(|s| s.name == name && s.labels == want)
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} twice");
    found.first().map_or(0.0, |s| s.value)
}

fn rendered(recorder: &Recorder) -> Vec<Sample> {
    parse(&recorder.render()).0
}

/// Stage, authoritative side, whether the other runs: the read table.
const READS: [(Stage, &str, bool); 6] = [
    (Stage::Off, "old", false),
    (Stage::DualWrite, "old", false),
    (Stage::Shadow, "old", true),
    (Stage::Live, "new", true),
    (Stage::RampDown, "new", false),
    (Stage::Complete, "new", false),
];

/// The write table: off writes old, complete new, every other stage both
/// with the authoritative side first.
const WRITES: [(Stage, &str, bool); 6] = [
    (Stage::Off, "old", false),
    (Stage::DualWrite, "old", true),
    (Stage::Shadow, "old", true),
    (Stage::Live, "new", true),
    (Stage::RampDown, "new", true),
    (Stage::Complete, "new", false),
];

fn other(side: &str) -> &'static str {
    if side == "old" { "new" } else { "old" }
}

#[test]
fn each_stage_reads_the_right_sides_and_answers_with_the_authoritative_one() {
    let (migrator, recorder) = migrator(patient());
    let log = Log::default();
    for (stage, authoritative, both) in READS {
        let answer = migrator.read(
            "orders",
            stage,
            log.side("old", Ok(1)),
            log.side("new", Ok(2)),
            |a, b| a == b,
        );
        assert_eq!(
            answer,
            Ok(if authoritative == "old" { 1 } else { 2 }),
            "{stage}"
        );
        assert!(migrator.wait_idle(PATIENCE));
        let expected: Vec<&str> = if both {
            vec![authoritative, other(authoritative)]
        } else {
            vec![authoritative]
        };
        assert_eq!(log.take(), expected, "{stage}");
    }
    let samples = rendered(&recorder);
    for (stage, _, both) in READS {
        let s = stage.as_str();
        assert_eq!(
            value(
                &samples,
                "flags_migration_ops_total",
                &[("flag", "orders"), ("stage", s), ("op", "read")]
            ),
            1.0,
            "{s}"
        );
        // 1 and 2 differ: every compared read is inconsistent.
        let inconsistent = value(
            &samples,
            "flags_migration_consistency_total",
            &[("flag", "orders"), ("stage", s), ("consistent", "false")],
        );
        assert_eq!(inconsistent, if both { 1.0 } else { 0.0 }, "{s}");
    }
    // Each side's latency: old ran at off, dualwrite, shadow and live.
    for (side, n) in [("old", "4"), ("new", "4")] {
        assert_eq!(
            value(
                &samples,
                "flags_migration_latency_seconds_count",
                &[("flag", "orders"), ("op", "read"), ("side", side)]
            ),
            n.parse::<f64>().expect("n"),
            "{side}"
        );
    }
}

#[test]
fn each_stage_writes_the_right_sides_in_order() {
    let (migrator, recorder) = migrator(patient());
    let log = Log::default();
    for (stage, authoritative, both) in WRITES {
        let answer = migrator.write(
            "orders",
            stage,
            log.side("old", Ok(1)),
            log.side("new", Ok(2)),
        );
        assert_eq!(
            answer,
            Ok(if authoritative == "old" { 1 } else { 2 }),
            "{stage}"
        );
        assert!(migrator.wait_idle(PATIENCE));
        let expected: Vec<&str> = if both {
            vec![authoritative, other(authoritative)]
        } else {
            vec![authoritative]
        };
        assert_eq!(log.take(), expected, "{stage}");
    }
    let samples = rendered(&recorder);
    for (stage, _, _) in WRITES {
        assert_eq!(
            value(
                &samples,
                "flags_migration_ops_total",
                &[
                    ("flag", "orders"),
                    ("stage", stage.as_str()),
                    ("op", "write")
                ]
            ),
            1.0
        );
    }
    // Writes are never compared.
    assert!(
        !samples
            .iter()
            .any(|s| s.name == "flags_migration_consistency_total")
    );
}

#[test]
fn a_failed_authoritative_write_is_returned_and_the_other_is_not_attempted() {
    let log = Log::default();
    for (stage, authoritative) in [(Stage::Shadow, "old"), (Stage::Live, "new")] {
        let (migrator, recorder) = migrator(patient());
        let (old, new) = if authoritative == "old" {
            (Err("old store down".to_owned()), Ok(2))
        } else {
            (Ok(1), Err("new store down".to_owned()))
        };
        let answer = migrator.write("orders", stage, log.side("old", old), log.side("new", new));
        assert_eq!(answer, Err(format!("{authoritative} store down")));
        assert!(migrator.wait_idle(PATIENCE));
        assert_eq!(log.take(), [authoritative]);
        let samples = rendered(&recorder);
        assert_eq!(
            value(
                &samples,
                "flags_migration_errors_total",
                &[
                    ("flag", "orders"),
                    ("stage", stage.as_str()),
                    ("op", "write"),
                    ("side", authoritative)
                ]
            ),
            1.0
        );
        assert_eq!(
            value(
                &samples,
                "flags_migration_latency_seconds_count",
                &[
                    ("flag", "orders"),
                    ("op", "write"),
                    ("side", other(authoritative))
                ]
            ),
            0.0,
            "the other side never ran"
        );
    }
}

#[test]
fn the_other_sides_errors_are_recorded_not_returned() {
    let (migrator, recorder) = migrator(patient());
    let log = Log::default();
    let write = migrator.write(
        "orders",
        Stage::DualWrite,
        log.side("old", Ok(1)),
        log.side("new", Err("no".into())),
    );
    assert_eq!(write, Ok(1));
    let read = migrator.read(
        "orders",
        Stage::Live,
        log.side("old", Err("no".into())),
        log.side("new", Ok(2)),
        |a, b| a == b,
    );
    assert_eq!(read, Ok(2));
    assert!(migrator.wait_idle(PATIENCE));
    let samples = rendered(&recorder);
    assert_eq!(
        value(
            &samples,
            "flags_migration_errors_total",
            &[
                ("flag", "orders"),
                ("stage", "dualwrite"),
                ("op", "write"),
                ("side", "new")
            ]
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "flags_migration_errors_total",
            &[
                ("flag", "orders"),
                ("stage", "live"),
                ("op", "read"),
                ("side", "old")
            ]
        ),
        1.0
    );
    // A failed side makes a compared read neither consistent nor not.
    assert!(
        !samples
            .iter()
            .any(|s| s.name == "flags_migration_consistency_total")
    );
}

#[test]
fn a_panicking_shadow_takes_down_neither_the_caller_nor_the_pool() {
    let (migrator, recorder) = migrator(MigratorOptions {
        threads: 1,
        ..patient()
    });
    for _ in 0..3 {
        let answer: Result<i32, String> = migrator.read(
            "orders",
            Stage::Shadow,
            || Ok(1),
            || panic!("the new store's client panicked"),
            |a, b| a == b,
        );
        assert_eq!(answer, Ok(1));
        let answer: Result<i32, String> = migrator.write(
            "orders",
            Stage::Live,
            || panic!("the old store's client panicked"),
            || Ok(2),
        );
        assert_eq!(answer, Ok(2));
    }
    // A comparison that panics counts as the shadow's error.
    let answer: Result<i32, String> = migrator.read(
        "orders",
        Stage::Live,
        || Ok(1),
        || Ok(2),
        |_, _| panic!("compare"),
    );
    assert_eq!(answer, Ok(2));
    // The pool's one thread still works: a later shadow read is compared.
    let answer: Result<i32, String> =
        migrator.read("orders", Stage::Shadow, || Ok(5), || Ok(5), |a, b| a == b);
    assert_eq!(answer, Ok(5));
    assert!(migrator.wait_idle(PATIENCE));
    let samples = rendered(&recorder);
    let errors = |stage, op, side| {
        value(
            &samples,
            "flags_migration_errors_total",
            &[
                ("flag", "orders"),
                ("stage", stage),
                ("op", op),
                ("side", side),
            ],
        )
    };
    assert_eq!(errors("shadow", "read", "new"), 3.0);
    assert_eq!(errors("live", "write", "old"), 3.0);
    assert_eq!(errors("live", "read", "old"), 1.0);
    assert_eq!(
        value(
            &samples,
            "flags_migration_consistency_total",
            &[
                ("flag", "orders"),
                ("stage", "shadow"),
                ("consistent", "true")
            ]
        ),
        1.0
    );
}

#[test]
fn a_slow_shadow_adds_at_most_the_timeout_to_a_request() {
    let timeout = Duration::from_millis(100);
    let (migrator, _recorder) = migrator(MigratorOptions {
        timeout,
        ..MigratorOptions::default()
    });
    let slow = || {
        std::thread::sleep(Duration::from_secs(5));
        Ok::<i32, String>(2)
    };
    let started = Instant::now();
    let answer = migrator.read("orders", Stage::Shadow, || Ok(1), slow, |a, b| a == b);
    assert_eq!(answer, Ok(1));
    let read = started.elapsed();
    let started = Instant::now();
    let answer = migrator.write("orders", Stage::DualWrite, || Ok(1), slow);
    assert_eq!(answer, Ok(1));
    let write = started.elapsed();
    assert!(read < Duration::from_secs(2), "a read took {read:?}");
    assert!(write < Duration::from_secs(2), "a write took {write:?}");
    // The write waited for its other side (at most the timeout).
    assert!(write >= timeout, "a write took {write:?}");
}

#[test]
fn a_shadow_slower_than_the_timeout_is_an_error_and_not_compared() {
    let (migrator, recorder) = migrator(MigratorOptions {
        timeout: Duration::from_millis(50),
        ..MigratorOptions::default()
    });
    // The shadow returns only once the test has seen the read answered
    // and the timeout has passed: no sleep decides the order.
    let (release, gate) = mpsc::channel::<()>();
    let answer = migrator.read(
        "orders",
        Stage::Shadow,
        || Ok(1),
        move || {
            let _ = gate.recv();
            Ok::<i32, String>(1)
        },
        |a, b| a == b,
    );
    assert_eq!(answer, Ok(1));
    let waited = Instant::now();
    while waited.elapsed() <= Duration::from_millis(60) {
        std::thread::yield_now();
    }
    release.send(()).expect("the shadow waits");
    assert!(migrator.wait_idle(PATIENCE));
    let samples = rendered(&recorder);
    assert_eq!(
        value(
            &samples,
            "flags_migration_errors_total",
            &[
                ("flag", "orders"),
                ("stage", "shadow"),
                ("op", "read"),
                ("side", "new")
            ]
        ),
        1.0
    );
    assert!(
        !samples
            .iter()
            .any(|s| s.name == "flags_migration_consistency_total")
    );
}

/// Time spent waiting in the queue of a busy pool is not the other
/// system's slowness: a quick side that waited longer than the timeout is
/// neither an error nor left uncompared.
#[test]
fn a_wait_in_the_queue_is_not_a_timeout_of_the_side() {
    let (migrator, recorder) = migrator(MigratorOptions {
        threads: 1,
        timeout: Duration::from_millis(50),
        ..MigratorOptions::default()
    });
    // The one pool thread is held by a first write's other side...
    let (release, gate) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel::<()>();
    let _: Result<i32, String> = migrator.write(
        "orders",
        Stage::DualWrite,
        || Ok(1),
        move || {
            let _ = started_tx.send(());
            let _ = gate.recv();
            Ok(1)
        },
    );
    started.recv().expect("the first job runs");
    // ...while a quick shadow read waits behind it, past the timeout.
    let answer: Result<i32, String> =
        migrator.read("orders", Stage::Shadow, || Ok(7), || Ok(7), |a, b| a == b);
    assert_eq!(answer, Ok(7));
    let waited = Instant::now();
    while waited.elapsed() <= Duration::from_millis(120) {
        std::thread::yield_now();
    }
    release.send(()).expect("the first job waits");
    assert!(migrator.wait_idle(PATIENCE));
    let samples = rendered(&recorder);
    let read_errors = value(
        &samples,
        "flags_migration_errors_total",
        &[
            ("flag", "orders"),
            ("stage", "shadow"),
            ("op", "read"),
            ("side", "new"),
        ],
    );
    assert_eq!(read_errors, 0.0);
    assert_eq!(
        value(
            &samples,
            "flags_migration_consistency_total",
            &[
                ("flag", "orders"),
                ("stage", "shadow"),
                ("consistent", "true")
            ]
        ),
        1.0
    );
}

#[test]
fn a_full_pool_skips_the_shadow_without_blocking_and_counts_it() {
    let (migrator, recorder) = migrator(MigratorOptions {
        threads: 1,
        queue: 1,
        timeout: Duration::from_secs(60),
    });
    let (started_tx, started) = mpsc::channel::<()>();
    let (release, gate) = mpsc::channel::<()>();
    let gate = Arc::new(Mutex::new(gate));
    let hold = move || {
        let _ = started_tx.send(());
        let _ = gate.lock().expect("gate").recv();
        Ok::<i32, String>(1)
    };
    // The first shadow holds the pool's only thread...
    assert_eq!(
        migrator.read("orders", Stage::Shadow, || Ok(1), hold, |a, b| a == b),
        Ok(1)
    );
    started
        .recv_timeout(PATIENCE)
        .expect("the first shadow started");
    // ...the second waits in the queue, the third finds it full.
    let ran = Log::default();
    assert_eq!(
        migrator.read(
            "orders",
            Stage::Shadow,
            || Ok(1),
            ran.side("second", Ok(1)),
            |a, b| a == b
        ),
        Ok(1)
    );
    let begun = Instant::now();
    assert_eq!(
        migrator.read(
            "orders",
            Stage::Shadow,
            || Ok(1),
            ran.side("third", Ok(1)),
            |a, b| a == b
        ),
        Ok(1)
    );
    assert_eq!(
        migrator.write("orders", Stage::Shadow, || Ok(1), ran.side("fourth", Ok(1))),
        Ok(1)
    );
    assert!(
        begun.elapsed() < Duration::from_secs(2),
        "a full pool blocked for {:?}",
        begun.elapsed()
    );
    assert_eq!(recorder.dropped(DropReason::QueueFull), 2);
    release.send(()).expect("release");
    assert!(migrator.wait_idle(PATIENCE));
    assert_eq!(ran.take(), ["second"]);
    let samples = rendered(&recorder);
    // Every operation is counted, the skipped ones with their
    // authoritative side alone.
    assert_eq!(
        value(
            &samples,
            "flags_migration_ops_total",
            &[("flag", "orders"), ("stage", "shadow"), ("op", "read")]
        ),
        3.0
    );
    assert_eq!(
        value(
            &samples,
            "flags_migration_latency_seconds_count",
            &[("flag", "orders"), ("op", "read"), ("side", "new")]
        ),
        2.0
    );
    assert_eq!(
        value(
            &samples,
            "flags_migration_consistency_total",
            &[
                ("flag", "orders"),
                ("stage", "shadow"),
                ("consistent", "true")
            ]
        ),
        2.0
    );
    assert_eq!(
        value(
            &samples,
            "flags_migration_records_dropped_total",
            &[("reason", "queue_full")]
        ),
        2.0
    );
}

#[test]
fn consistent_and_inconsistent_reads_are_counted_per_stage() {
    let (migrator, recorder) = migrator(patient());
    for (stage, old, new) in [
        (Stage::Shadow, 1, 1),
        (Stage::Shadow, 1, 1),
        (Stage::Shadow, 1, 9),
        (Stage::Live, 3, 3),
        (Stage::Live, 3, 4),
        (Stage::Live, 5, 6),
    ] {
        let answer: Result<i32, String> = migrator.read(
            "orders",
            stage,
            move || Ok(old),
            move || Ok(new),
            |a, b| a == b,
        );
        assert!(answer.is_ok());
    }
    assert!(migrator.wait_idle(PATIENCE));
    let samples = rendered(&recorder);
    let count = |stage, consistent| {
        value(
            &samples,
            "flags_migration_consistency_total",
            &[
                ("flag", "orders"),
                ("stage", stage),
                ("consistent", consistent),
            ],
        )
    };
    assert_eq!(
        (count("shadow", "true"), count("shadow", "false")),
        (2.0, 1.0)
    );
    assert_eq!((count("live", "true"), count("live", "false")), (1.0, 2.0));
}

/// While every compared read agrees, `consistent="false"` is written at 0:
/// a guard's query on it reads 0 rather than "no data", and Prometheus's
/// `rate()` counts the first disagreements (a series that appears at N
/// loses those N).
#[test]
fn a_stage_whose_reads_all_agree_writes_its_inconsistent_series_at_zero() {
    let (migrator, recorder) = migrator(patient());
    for _ in 0..3 {
        let answer: Result<i32, String> =
            migrator.read("orders", Stage::Shadow, || Ok(1), || Ok(1), |a, b| a == b);
        assert_eq!(answer, Ok(1));
    }
    assert!(migrator.wait_idle(PATIENCE));
    let samples = rendered(&recorder);
    let series: Vec<(String, f64)> = samples
        .iter()
        .filter(|s| s.name == "flags_migration_consistency_total")
        .map(|s| {
            (
                format!("{} {}", s.labels["stage"], s.labels["consistent"]),
                s.value,
            )
        })
        .collect();
    assert_eq!(
        series,
        [
            ("shadow true".to_owned(), 3.0),
            ("shadow false".to_owned(), 0.0)
        ]
    );
}

#[test]
fn the_comparison_gets_the_old_result_first_at_every_stage() {
    let (migrator, _recorder) = migrator(patient());
    let seen = Arc::new(Mutex::new(Vec::new()));
    for stage in [Stage::Shadow, Stage::Live] {
        let seen = Arc::clone(&seen);
        let _: Result<&str, String> = migrator.read(
            "orders",
            stage,
            || Ok("old"),
            || Ok("new"),
            move |a, b| {
                seen.lock().expect("seen").push((*a, *b));
                true
            },
        );
        assert!(migrator.wait_idle(PATIENCE));
    }
    assert_eq!(
        *seen.lock().expect("seen"),
        [("old", "new"), ("old", "new")]
    );
}

#[test]
fn the_rendering_is_valid_text_format_with_cumulative_buckets() {
    let recorder = Recorder::default();
    let flag = "we\"ird\\flag\nname";
    for (seconds, error) in [(0.0003, false), (0.002, false), (0.3, true), (10.0, false)] {
        let mut record = Record::new(flag, Stage::Live, Op::Read);
        record.new = Some(SideRecord::new(Duration::from_secs_f64(seconds), error));
        recorder.record(&record).expect("recorded");
    }
    let text = recorder.render();
    let (samples, types) = parse(&text);
    assert_eq!(
        types,
        BTreeMap::from([
            (
                "flags_migration_consistency_total".to_owned(),
                "counter".to_owned()
            ),
            (
                "flags_migration_errors_total".to_owned(),
                "counter".to_owned()
            ),
            (
                "flags_migration_latency_seconds".to_owned(),
                "histogram".to_owned()
            ),
            ("flags_migration_ops_total".to_owned(), "counter".to_owned()),
            (
                "flags_migration_records_dropped_total".to_owned(),
                "counter".to_owned()
            ),
        ])
    );
    // The label value round-trips through the escapes.
    assert_eq!(
        value(
            &samples,
            "flags_migration_ops_total",
            &[("flag", flag), ("stage", "live"), ("op", "read")]
        ),
        4.0
    );
    assert_eq!(
        value(
            &samples,
            "flags_migration_errors_total",
            &[
                ("flag", flag),
                ("stage", "live"),
                ("op", "read"),
                ("side", "new")
            ]
        ),
        1.0
    );
    // 0.3 ms, 2 ms, 300 ms and 10 s, counted cumulatively.
    let buckets: Vec<(String, f64)> = samples
        .iter()
        .filter(|s| s.name == "flags_migration_latency_seconds_bucket")
        .map(|s| {
            assert_eq!(
                (
                    s.labels["flag"].as_str(),
                    s.labels["op"].as_str(),
                    s.labels["side"].as_str()
                ),
                (flag, "read", "new")
            );
            (s.labels["le"].clone(), s.value)
        })
        .collect();
    let expected: Vec<(String, f64)> = [
        ("0.0005", 1.0),
        ("0.001", 1.0),
        ("0.0025", 2.0),
        ("0.005", 2.0),
        ("0.01", 2.0),
        ("0.025", 2.0),
        ("0.05", 2.0),
        ("0.1", 2.0),
        ("0.25", 2.0),
        ("0.5", 3.0),
        ("1", 3.0),
        ("2.5", 3.0),
        ("5", 3.0),
        ("+Inf", 4.0),
    ]
    .iter()
    .map(|(le, n)| ((*le).to_owned(), *n))
    .collect();
    assert_eq!(buckets, expected);
    let labels = [("flag", flag), ("op", "read"), ("side", "new")];
    assert_eq!(
        value(&samples, "flags_migration_latency_seconds_count", &labels),
        4.0
    );
    let sum = value(&samples, "flags_migration_latency_seconds_sum", &labels);
    assert!((sum - 10.3023).abs() < 1e-9, "sum {sum}");
    // Every drop reason is written, zero or not.
    for reason in ["unknown_flag", "bad_record", "too_many_flags", "queue_full"] {
        assert!(
            samples
                .iter()
                .any(|s| s.name == "flags_migration_records_dropped_total"
                    && s.labels["reason"] == reason),
            "{reason}"
        );
    }
}

#[test]
fn the_recorder_holds_at_most_its_limit_of_flags() {
    let recorder = Recorder::new(2);
    for flag in ["a", "b", "c", "a", "d"] {
        let result = recorder.record(&Record::new(flag, Stage::Off, Op::Write));
        assert_eq!(result.is_ok(), ["a", "b"].contains(&flag), "{flag}");
    }
    let samples = rendered(&recorder);
    assert_eq!(
        value(
            &samples,
            "flags_migration_ops_total",
            &[("flag", "a"), ("stage", "off"), ("op", "write")]
        ),
        2.0
    );
    assert_eq!(
        value(
            &samples,
            "flags_migration_records_dropped_total",
            &[("reason", "too_many_flags")]
        ),
        2.0
    );
    assert!(
        !samples
            .iter()
            .any(|s| s.labels.get("flag").is_some_and(|f| f == "c" || f == "d"))
    );
    // A flag forgotten frees its place.
    recorder.retain(|flag| flag != "b");
    assert!(
        recorder
            .record(&Record::new("c", Stage::Off, Op::Write))
            .is_ok()
    );
    assert_eq!(recorder.len(), 2);
}

#[test]
fn the_stage_is_the_migration_flags_and_off_otherwise() {
    let snapshot = Snapshot::from_slice(
        br#"{"version": 1, "flags": {
            "orders": {"migration": {"stages": 6, "stage": "dualwrite", "next": "shadow"}, "percentage": 100},
            "held": {"migration": {"stages": 6, "stage": "dualwrite", "next": "shadow"}, "percentage": 0},
            "killed": {"migration": {"stages": 4, "stage": "live", "safe": "shadow"}, "killed": true},
            "colours": {"percentage": 100, "variants": [{"name": "shadow", "weight": 100}]}
        }}"#,
    )
    .expect("valid file");
    let now = Timestamp::parse_rfc3339("2026-11-21T12:00:00Z").expect("time");
    let ctx = Context::new(&[("user_id", "42")]);
    // Rolled out to everyone: `next`; to no one: the baseline `stage`.
    assert_eq!(stage_of(&snapshot, "orders", &ctx, now), Stage::Shadow);
    assert_eq!(stage_of(&snapshot, "held", &ctx, now), Stage::DualWrite);
    // A kill switch: `safe`.
    assert_eq!(stage_of(&snapshot, "killed", &ctx, now), Stage::Shadow);
    // Not a migration flag (whatever its variants are called), not a flag.
    assert_eq!(stage_of(&snapshot, "colours", &ctx, now), Stage::Off);
    assert_eq!(stage_of(&snapshot, "missing", &ctx, now), Stage::Off);
}

#[test]
fn a_record_says_which_side_answered_as_the_stage_table_does() {
    // docs/migrations.md: the old system answers up to shadow, the new one
    // from live.
    let expected = [
        (Stage::Off, Side::Old),
        (Stage::DualWrite, Side::Old),
        (Stage::Shadow, Side::Old),
        (Stage::Live, Side::New),
        (Stage::RampDown, Side::New),
        (Stage::Complete, Side::New),
    ];
    for (stage, side) in expected {
        assert_eq!(
            Record::new("orders", stage, Op::Read).answered(),
            side,
            "{stage}"
        );
    }
}
