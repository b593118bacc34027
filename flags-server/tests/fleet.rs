//! Several `flags serve` processes on one flag file, as behind a load
//! balancer: a bad edit must never take the fleet out of rotation, a
//! replica started while the file is bad must not exit, and memory taken by
//! a big file must go back when the file shrinks.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{PATIENCE, Server, write_atomic};

fn good(percentage: u32) -> String {
    format!(
        r#"{{"version": 1, "flags": {{"checkout": {{"percentage": {percentage}}}, "search": {{"percentage": 100}}}}}}"#
    )
}

/// What a fleet test asks of a server.
trait Probe {
    fn get(&self, path: &str) -> (u16, String);
    fn post(&self, path: &str, body: &str) -> (u16, String);
    /// The version `/readyz` names while ready.
    fn version(&self) -> Option<String>;
    fn rss_kib(&self) -> u64;
}

impl Probe for Server {
    fn get(&self, path: &str) -> (u16, String) {
        let reply = self.request("GET", path, "");
        (reply.status, reply.body)
    }

    fn post(&self, path: &str, body: &str) -> (u16, String) {
        let reply = self.request("POST", path, body);
        (reply.status, reply.body)
    }

    fn version(&self) -> Option<String> {
        let reply = self.request("GET", "/readyz", "");
        let ready = reply.json();
        (reply.status == 200).then(|| ready["version"].as_str().expect("a version").to_owned())
    }

    fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("/proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The issue's case: three servers on one file, the file gets a trailing
/// comma. Before, all three answered /readyz 503 within half a second (a
/// whole fleet out of its load balancer for one typo), and a fourth one
/// started meanwhile exited with status 1.
#[test]
fn a_bad_edit_never_takes_the_fleet_out_of_rotation() {
    let dir = common::temp_dir("fleet-typo");
    let file = dir.join("flags.json");
    write_atomic(&file, &good(10));
    let caches: Vec<PathBuf> = (0..3)
        .map(|i| dir.join(format!("cache-{i}.json")))
        .collect();
    let mut fleet: Vec<Server> = caches
        .iter()
        .map(|c| Server::start(&file, &["--cache", c.to_str().expect("utf-8")], None))
        .collect();
    let good_version = fleet[0].version().expect("ready");

    write_atomic(&file, &good(10).replace("100}", "100},"));
    wait_until("every server to report the bad edit", || {
        fleet
            .iter()
            .all(|s| s.metric("flags_reload_failing") == 1.0)
    });
    // For as long as the file stays bad: every replica ready, serving the
    // last good flags.
    let end = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < end {
        for server in &fleet {
            assert_eq!(server.version().as_deref(), Some(good_version.as_str()));
            let (status, body) = server.post("/v1/evaluate", r#"{"flags": ["search"]}"#);
            assert_eq!(status, 200, "{body}");
        }
    }
    for server in &fleet {
        assert!(
            server
                .log()
                .contains("flag file rejected, still serving the last good version"),
            "{}",
            server.log()
        );
        let status = server.json("/v1/status");
        let error = status["last_error"].as_str().expect("why");
        assert!(error.contains("flags.json:1:"), "{error}");
        assert_eq!(status["ready"], true);
    }

    // A fourth replica started now does not exit: it waits, not ready.
    let late_dir = common::temp_dir("fleet-typo-late");
    let mut late = Server::start(&file, &[], None);
    assert!(
        late.log().contains("is not a valid flag file; not ready"),
        "{}",
        late.log()
    );
    let (status, body) = late.get("/readyz");
    assert_eq!(
        (status, body.as_str()),
        (503, r#"{"ready":false,"version":null}"#)
    );
    let (status, body) = late.post("/v1/evaluate", "{}");
    assert_eq!(status, 503, "{body}");
    // A replica restarted with its cache serves the cached copy, stale.
    let restarted = Server::start(
        &file,
        &["--cache", caches[0].to_str().expect("utf-8")],
        None,
    );
    assert_eq!(restarted.version().as_deref(), Some(good_version.as_str()));
    assert_eq!(restarted.metric("flags_snapshot_stale"), 1.0);
    assert!(
        restarted.log().contains("serving the last good copy"),
        "{}",
        restarted.log()
    );

    // The fix reaches everyone.
    write_atomic(&file, &good(20));
    fleet.push(restarted);
    wait_until("every server to serve the fix", || {
        late.version().is_some()
            && fleet
                .iter()
                .chain([&late])
                .all(|s| s.version() == late.version())
    });
    assert_ne!(late.version().as_deref(), Some(good_version.as_str()));
    for server in fleet.iter().chain([&late]) {
        assert_eq!(server.metric("flags_reload_failing"), 0.0);
        assert_eq!(server.metric("flags_snapshot_stale"), 0.0);
    }
    assert!(late.alive() && fleet.iter_mut().all(Server::alive));
    let _ = std::fs::remove_dir_all(late_dir);
    let _ = std::fs::remove_dir_all(dir);
}

/// A file with millions of pilot ids, then a small one again: the server
/// gives the memory back (within a small margin of a server that only ever
/// saw the small file). Before, it kept over 60 MB of 146 MB.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn memory_goes_back_after_a_big_file_is_replaced() {
    let dir = common::temp_dir("fleet-memory");
    let file = dir.join("flags.json");
    write_atomic(&file, &good(1));
    let server = Server::start(&file, &[], None);
    for _ in 0..3 {
        server.get("/v1/flags");
        server.post("/v1/evaluate", "{}");
    }
    let fresh = server.rss_kib();

    let ids: Vec<String> = (0..1_500_000)
        .map(|i| format!("\"{}\"", 10_000_000 + i))
        .collect();
    let big = format!(
        r#"{{"version": 1, "flags": {{"checkout": {{"percentage": 5, "pilots": {{"user_id": [{}]}}}}}}}}"#,
        ids.join(",")
    );
    drop(ids);
    write_atomic(&file, &big);
    wait_until("the big file", || {
        server.json("/v1/status")["flags"] == 1
            && server.metric("flags_reloads_total{result=\"success\"}") == 1.0
    });
    let (status, body) = server.get("/v1/flags");
    assert_eq!(status, 200);
    assert!(body.len() > 15_000_000);
    drop(body);
    let peak = server.rss_kib();
    assert!(
        peak > fresh + 20_000,
        "the big file took memory: {fresh} -> {peak} KiB"
    );

    write_atomic(&file, &good(2));
    wait_until("the small file", || {
        server.metric("flags_reloads_total{result=\"success\"}") == 2.0
    });
    server.get("/v1/flags");
    // Within 16 MiB of the fresh server, once the trim after the reload ran.
    let deadline = Instant::now() + PATIENCE;
    while server.rss_kib() >= fresh + 16 * 1024 {
        assert!(
            Instant::now() < deadline,
            "the memory did not go back: {fresh} KiB fresh, {peak} KiB with the big file, {} KiB now",
            server.rss_kib()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(dir);
}
