//! The monitor against a fake Prometheus written here with `std::net`: a
//! guard's value against its threshold in the status document, the
//! recommendation line, no data said as such, and a Prometheus that never
//! answers costing the caller no more than the time it gave.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use flags_core::monitor::{self, MonitorError, Prometheus};
use flags_core::{Snapshot, Timestamp};
use serde_json::Value;

/// Generous bound for anything a test waits for (CI runs on 2 busy cores).
const PATIENCE: Duration = Duration::from_secs(30);

const TWO_GUARDS: &str = r#"{
  "version": 1,
  "flags": {
    "checkout": {
      "percentage": 100,
      "guard": {"query": "checkout_error_ratio", "above": 0.05, "for": "2m", "action": "kill"}
    },
    "search": {
      "percentage": 50,
      "guard": {"query": "search_success_ratio", "below": 0.99, "for": "1m", "action": "pause"}
    },
    "plain": {"percentage": 10}
  }
}
"#;

/// A fake Prometheus on an ephemeral loopback port: `answer` gives the
/// body of `/api/v1/query?query=...` for the query's (encoded) text, or
/// None to hold the connection open without answering.
fn fake_prometheus(answer: fn(&str) -> Option<String>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || serve(stream, answer));
        }
    });
    format!("http://{addr}")
}

fn serve(mut stream: TcpStream, answer: fn(&str) -> Option<String>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let target = request_line.split(' ').nth(1).unwrap_or_default();
    let query = target.split_once("query=").map_or("", |(_, q)| q);
    match answer(query) {
        Some(body) => {
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        // Hold the connection, answer nothing.
        None => thread::sleep(Duration::from_secs(120)),
    }
}

fn scalar(v: &str) -> Option<String> {
    Some(format!(
        r#"{{"status":"success","data":{{"resultType":"scalar","result":[1,"{v}"]}}}}"#
    ))
}

fn workspace(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flags-monitor-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("flags.json");
    std::fs::write(&path, TWO_GUARDS).expect("write");
    path
}

fn document(path: &Path, prometheus: &Prometheus, within: Option<Duration>) -> Value {
    let snapshot = Snapshot::from_path(path).expect("valid");
    let readings = monitor::read(&snapshot, prometheus, None, within).expect("read");
    let now = Timestamp::parse_rfc3339("2026-11-21T12:00:00Z").expect("time");
    serde_json::from_str(&monitor::json(path, now, &readings).expect("json")).expect("JSON")
}

fn flag<'a>(doc: &'a Value, key: &str) -> &'a Value {
    doc["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .find(|f| f["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {doc}"))
}

#[test]
fn a_crossed_guard_is_shown_against_its_threshold_with_what_to_do() {
    let url = fake_prometheus(|query| match query {
        "checkout_error_ratio" => scalar("0.09"),
        "search_success_ratio" => scalar("0.995"),
        _ => None,
    });
    let path = workspace("crossed");
    let prometheus = Prometheus::new(&url, PATIENCE).expect("url");
    let doc = document(&path, &prometheus, None);
    let checkout = &flag(&doc, "checkout")["guard"]["now"];
    assert_eq!(checkout["value"], 0.09);
    assert_eq!(checkout["crossed"], true);
    assert_eq!(checkout["no_data"], Value::Null);
    assert_eq!(checkout["query"], "checkout_error_ratio");
    let search = &flag(&doc, "search")["guard"]["now"];
    assert_eq!(
        (&search["value"], &search["crossed"]),
        (&0.995.into(), &false.into())
    );
    assert!(flag(&doc, "plain").get("guard").is_none(), "{doc}");
    let expected = format!(
        "GUARD CROSSED on checkout: 0.09 above 0.05 -- a running `flags guard` kills it once it \
         has held for 2m; or run `flags kill {} checkout` now",
        path.display()
    );
    assert_eq!(doc["recommendation"], expected.as_str());
}

/// A rollback guard on a migration flag: crossed, the line says the guard
/// rolls it back and which command does it now; held at its stage (after
/// a rollback), it is done and the line says how to move it forward.
#[test]
fn a_rollback_guard_says_what_it_does_and_how_to_move_on() {
    const MIGRATION: &str = r#"{
  "version": 1,
  "flags": {
    "orders_reads": {
      "migration": {"stages": 6, "stage": "dualwrite", "next": "shadow"},
      "percentage": 10,
      "guard": {"query": "inconsistent_ratio", "above": 0.01, "for": "1m", "action": "rollback"}
    }
  }
}
"#;
    let url = fake_prometheus(|query| match query {
        "inconsistent_ratio" => scalar("0.2"),
        _ => None,
    });
    let path = workspace("rollback");
    std::fs::write(&path, MIGRATION).expect("write");
    let prometheus = Prometheus::new(&url, PATIENCE).expect("url");
    let doc = document(&path, &prometheus, None);
    let now = &flag(&doc, "orders_reads")["guard"]["now"];
    assert_eq!(
        (&now["value"], &now["crossed"]),
        (&0.2.into(), &true.into())
    );
    let expected = format!(
        "GUARD CROSSED on orders_reads: 0.2 above 0.01 -- a running `flags guard` rolls it back \
         once it has held for 1m; or run `flags stage {} orders_reads --rollback` now",
        path.display()
    );
    assert_eq!(doc["recommendation"], expected.as_str());

    // Rolled back: next is the stage; nothing left to roll back.
    std::fs::write(
        &path,
        MIGRATION.replace(r#""next": "shadow""#, r#""next": "dualwrite""#),
    )
    .expect("write");
    let doc = document(&path, &prometheus, None);
    let expected = format!(
        "orders_reads was stopped by its guard (see the audit log): once fixed, \
         `flags stage {} orders_reads --next STAGE`",
        path.display()
    );
    assert_eq!(doc["recommendation"], expected.as_str());
}

#[test]
fn an_answer_too_large_to_be_one_number_is_refused_not_read() {
    // A query matching every series: far more than one number.
    let url = fake_prometheus(|_| {
        let series = r#"{"metric":{"__name__":"up","job":"x"},"value":[1,"1"]},"#.repeat(40_000);
        Some(format!(
            r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#,
            series.trim_end_matches(',')
        ))
    });
    let path = workspace("too-large");
    let prometheus = Prometheus::new(&url, PATIENCE).expect("url");
    let doc = document(&path, &prometheus, None);
    let checkout = &flag(&doc, "checkout")["guard"]["now"];
    assert_eq!(checkout["value"], Value::Null, "{checkout}");
    assert!(
        checkout["no_data"]
            .as_str()
            .is_some_and(|w| w.contains("answered more than 1024 KiB")),
        "{checkout}"
    );
}

#[test]
fn no_data_is_said_and_never_taken_for_a_value() {
    let url = fake_prometheus(|query| match query {
        "checkout_error_ratio" => scalar("NaN"),
        _ => Some(r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#.into()),
    });
    let path = workspace("no-data");
    let prometheus = Prometheus::new(&url, PATIENCE).expect("url");
    let doc = document(&path, &prometheus, None);
    let checkout = &flag(&doc, "checkout")["guard"]["now"];
    assert_eq!(
        (&checkout["value"], &checkout["crossed"]),
        (&Value::Null, &false.into())
    );
    assert!(
        checkout["no_data"]
            .as_str()
            .is_some_and(|w| w.contains("not a finite number")),
        "{checkout}"
    );
    assert_eq!(
        doc["recommendation"],
        "NO DATA for the guard of checkout, search: it cannot act; check the query and Prometheus"
    );
}

#[test]
fn a_prometheus_that_never_answers_costs_no_more_than_the_time_given() {
    let url = fake_prometheus(|_| None);
    let path = workspace("silent");
    // The client alone would wait far longer than the test's patience.
    let prometheus = Prometheus::new(&url, Duration::from_secs(600)).expect("url");
    let started = Instant::now();
    let doc = document(&path, &prometheus, Some(Duration::from_millis(300)));
    assert!(started.elapsed() < PATIENCE, "{:?}", started.elapsed());
    for key in ["checkout", "search"] {
        let now = &flag(&doc, key)["guard"]["now"];
        assert!(
            now["no_data"]
                .as_str()
                .is_some_and(|w| w.contains("gave no answer within 300 ms")),
            "{now}"
        );
    }
}

#[test]
fn a_url_prometheus_cannot_be_asked_at_is_refused_saying_why() {
    for (url, says) in [
        (
            "localhost:9090",
            "localhost:9090: expected an http:// or https:// URL",
        ),
        (
            "ftp://127.0.0.1:9090",
            "expected an http:// or https:// URL",
        ),
        ("not a url", "expected a URL such as http://127.0.0.1:9090"),
    ] {
        let Err(error) = Prometheus::new(url, PATIENCE) else {
            panic!("{url} accepted");
        };
        assert!(matches!(error, MonitorError::Url(_)), "{error:?}");
        assert!(error.to_string().contains(says), "{url}: {error}");
    }
}
