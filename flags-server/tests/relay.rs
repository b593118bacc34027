//! Relays: `flags serve --upstream URL` as real processes on loopback. A
//! relay serves its upstream's flags and follows its edits (also through a
//! second relay), keeps its last good flags while the upstream is gone,
//! starts from its `--cache` while the upstream is down, and says how stale
//! it is in `/v1/status` and `/metrics`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{PATIENCE, Server, write_atomic};
use serde_json::Value;

fn flags(checkout: u32) -> String {
    format!(
        r#"{{"version": 1, "flags": {{"checkout": {{"percentage": {checkout}}}, "search": {{"percentage": 100}}}}}}"#
    )
}

fn origin(file: &Path, listen: &str) -> Server {
    Server::spawn(&[file.to_str().expect("path"), "--listen", listen], None)
}

/// A relay of `upstream` (refreshing every 200 ms besides the stream).
fn relay(upstream: &str, extra: &[&str]) -> Server {
    let url = format!("http://{upstream}");
    let mut args = vec![
        "--upstream",
        &url,
        "--listen",
        "127.0.0.1:0",
        "--upstream-refresh-ms",
        "200",
    ];
    args.extend(extra);
    Server::spawn(&args, None)
}

/// The `checkout` percentage `server` serves, from `/v1/flags`.
fn checkout(server: &Server) -> Option<u64> {
    let reply = server.request("GET", "/v1/flags", "");
    (reply.status == 200).then(|| {
        reply.json()["flags"]["checkout"]["percentage"]
            .as_u64()
            .expect("a percentage")
    })
}

/// Waits until `condition` holds, for at most [`PATIENCE`].
fn wait_until(what: &str, server: &Server, condition: impl Fn(&Server) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition(server) {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {PATIENCE:?}; the relay logged:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The origin's `/v1/evaluate` results, with its token.
fn evaluated_at_origin(origin: &Server, body: &str) -> Value {
    let mut conn = origin.connect();
    let request = format!(
        "POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer origin-secret\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    std::io::Write::write_all(&mut conn.stream, request.as_bytes()).expect("send");
    let reply = conn.reply();
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["results"].clone()
}

fn status(server: &Server) -> Value {
    server.json("/v1/status")
}

#[test]
fn a_relay_serves_the_origin_and_follows_its_edits_through_two_relays() {
    let dir = common::temp_dir("relay-chain");
    let file = dir.join("flags.json");
    write_atomic(&file, &flags(10));
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, "origin-secret\n").expect("tokens");
    let origin = Server::spawn(
        &[
            file.to_str().expect("path"),
            "--listen",
            "127.0.0.1:0",
            "--tokens-file",
            tokens.to_str().expect("path"),
        ],
        None,
    );
    // The origin wants a token; the regional relay has none of its own.
    let regional = relay(&origin.addr, &["--upstream-token", "origin-secret"]);
    let edge = relay(&regional.addr, &[]);

    for server in [&regional, &edge] {
        assert_eq!(checkout(server), Some(10), "{}", server.log());
        assert_eq!(server.request("GET", "/readyz", "").status, 200);
        let status = status(server);
        assert_eq!(status["stale"], false);
        assert_eq!(status["upstream"]["connected"], true, "{status}");
        assert!(status.get("file").is_none(), "{status}");
        assert_eq!(server.metric("flags_upstream_connected"), 1.0);
        assert_eq!(server.metric("flags_snapshot_age_seconds"), 0.0);
    }
    let url = format!("http://{}", origin.addr);
    assert_eq!(status(&regional)["upstream"]["url"], url);
    let startup = regional.startup();
    assert_eq!(
        common::field(&startup, "upstream"),
        Some(&*url),
        "{startup}"
    );
    assert_eq!(common::field(&startup, "file"), None, "{startup}");
    // The same API as the origin: the same answers.
    let ask = r#"{"context": {"user_id": "José"}}"#;
    let at_origin = evaluated_at_origin(&origin, ask);
    assert_eq!(
        edge.request("POST", "/v1/evaluate", ask).json()["results"],
        at_origin
    );
    let ofrep = edge.request("POST", "/ofrep/v1/evaluate/flags/search", ask);
    assert_eq!(ofrep.status, 200, "{}", ofrep.body);
    assert_eq!(ofrep.json()["value"], true);

    // An edit at the origin reaches both hops.
    write_atomic(&file, &flags(60));
    wait_until("the edge serves the edit", &edge, |s| {
        checkout(s) == Some(60)
    });
    assert_eq!(checkout(&regional), Some(60));

    // Going back to an earlier file at the origin is a change like any
    // other: the relays follow it.
    write_atomic(&file, &flags(10));
    wait_until("the edge serves the rollback", &edge, |s| {
        checkout(s) == Some(10)
    });
    assert_eq!(
        edge.request("GET", "/v1/flags", "").body,
        regional.request("GET", "/v1/flags", "").body,
    );
    // Every relay of the chain serves one version.
    assert_eq!(
        edge.json("/readyz")["version"],
        regional.json("/readyz")["version"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_relay_keeps_its_last_good_flags_while_the_origin_is_down_then_catches_up() {
    let dir = common::temp_dir("relay-outage");
    let file = dir.join("flags.json");
    let cache = dir.join("relay-cache.json");
    // An older cache than the origin's flags: once the relay has served
    // the origin's, it must never fall back to it.
    std::fs::write(&cache, flags(1)).expect("cache");
    write_atomic(&file, &flags(20));
    let mut origin = origin(&file, "127.0.0.1:0");
    let address = origin.addr.clone();
    let relay = relay(&address, &["--cache", cache.to_str().expect("path")]);
    wait_until("the relay serves the origin's flags", &relay, |s| {
        checkout(s) == Some(20)
    });
    assert_eq!(relay.metric("flags_upstream_connected"), 1.0);

    origin.kill();
    wait_until("the relay notices the outage", &relay, |s| {
        s.metric("flags_upstream_connected") == 0.0
    });
    // Still ready, still the last good flags (not the older cache).
    assert_eq!(relay.request("GET", "/readyz", "").status, 200);
    assert_eq!(checkout(&relay), Some(20));
    let last_success = relay.metric("flags_upstream_last_success_timestamp_seconds");
    assert!(last_success > 0.0, "{}", relay.log());
    // The staleness grows while the upstream is away.
    wait_until("the snapshot ages", &relay, |s| {
        s.metric("flags_snapshot_age_seconds") >= 1.0
    });
    let status = status(&relay);
    assert_eq!(status["ready"], true);
    assert_eq!(status["failing"], true, "{status}");
    assert_eq!(status["upstream"]["connected"], false, "{status}");
    assert!(
        status["upstream"]["age_seconds"].as_f64().expect("age") >= 1.0,
        "{status}"
    );
    assert_eq!(
        status["upstream"]["current_until"], status["upstream"]["last_success_at"],
        "{status}"
    );
    assert!(
        status["upstream"]["last_success_at"].is_string(),
        "{status}"
    );

    // The origin comes back, on a newer file: the relay catches up.
    write_atomic(&file, &flags(70));
    let _origin = self::origin(&file, &address);
    wait_until("the relay catches up", &relay, |s| checkout(s) == Some(70));
    wait_until("the relay is connected again", &relay, |s| {
        s.metric("flags_upstream_connected") == 1.0
    });
    assert_eq!(relay.metric("flags_snapshot_age_seconds"), 0.0);
    assert!(relay.metric("flags_upstream_last_success_timestamp_seconds") > last_success);
    // The cache holds what the relay served last (written just after the
    // new flags are swapped in).
    let cached = |_: &Server| {
        std::fs::read(&cache)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .is_some_and(|v| v["flags"]["checkout"]["percentage"] == 70)
    };
    wait_until("the cache holds the newest flags", &relay, cached);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_relay_started_while_the_origin_is_down_serves_its_cache_then_catches_up() {
    let dir = common::temp_dir("relay-cold");
    let file = dir.join("flags.json");
    let cache = dir.join("relay-cache.json");
    let cache_arg = cache.to_str().expect("path");
    write_atomic(&file, &flags(30));
    let mut origin = origin(&file, "127.0.0.1:0");
    let address = origin.addr.clone();
    // A first run fills the cache.
    let mut first = relay(&address, &["--cache", cache_arg]);
    wait_until("the cache is written", &first, |_| cache.exists());
    first.kill();
    origin.kill();
    // Written an hour ago, as if the relay had been down that long.
    let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .append(true)
        .open(&cache)
        .and_then(|f| f.set_modified(an_hour_ago))
        .expect("set the cache's time");

    let relay = relay(&address, &["--cache", cache_arg]);
    assert_eq!(
        relay.request("GET", "/readyz", "").status,
        200,
        "{}",
        relay.log()
    );
    assert_eq!(checkout(&relay), Some(30));
    let status = status(&relay);
    assert_eq!(status["stale"], true, "{status}");
    assert_eq!(status["upstream"]["connected"], false, "{status}");
    assert_eq!(
        status["upstream"]["last_success_at"],
        Value::Null,
        "{status}"
    );
    assert!(status["upstream"]["current_until"].is_string(), "{status}");
    assert_eq!(relay.metric("flags_snapshot_stale"), 1.0);
    assert_eq!(relay.metric("flags_upstream_connected"), 0.0);
    assert_eq!(
        relay.metric("flags_upstream_last_success_timestamp_seconds"),
        0.0
    );
    // As stale as the cache: the flags were the upstream's when it was
    // written.
    let age = relay.metric("flags_snapshot_age_seconds");
    assert!(
        (3600.0..3600.0 + PATIENCE.as_secs_f64()).contains(&age),
        "{age}"
    );

    write_atomic(&file, &flags(90));
    let _origin = self::origin(&file, &address);
    wait_until("the relay catches up", &relay, |s| checkout(s) == Some(90));
    wait_until("the relay is fresh again", &relay, |s| {
        s.metric("flags_snapshot_stale") == 0.0 && s.metric("flags_upstream_connected") == 1.0
    });
    assert_eq!(relay.metric("flags_snapshot_age_seconds"), 0.0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_relay_started_with_neither_upstream_nor_cache_waits_not_ready_for_the_upstream() {
    let dir = common::temp_dir("relay-empty");
    let file = dir.join("flags.json");
    write_atomic(&file, &flags(40));
    // An address where nothing listens (yet).
    let mut gone = origin(&file, "127.0.0.1:0");
    let address = gone.addr.clone();
    gone.kill();

    let relay = relay(&address, &[]);
    let ready = relay.request("GET", "/readyz", "");
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(relay.request("GET", "/v1/flags", "").status, 503);
    assert_eq!(relay.request("GET", "/healthz", "").status, 200);
    let status = status(&relay);
    assert_eq!(status["ready"], false, "{status}");
    assert_eq!(status["upstream"]["connected"], false, "{status}");
    assert!(
        status["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot fetch")),
        "{status}"
    );
    assert!(
        relay.log().contains("no --cache to start from: not ready"),
        "{}",
        relay.log()
    );

    let _origin = origin(&file, &address);
    wait_until("the relay is ready", &relay, |s| {
        s.request("GET", "/readyz", "").status == 200
    });
    assert_eq!(checkout(&relay), Some(40));
    assert_eq!(relay.metric("flags_upstream_connected"), 1.0);
    // Its events now follow the upstream's.
    write_atomic(&file, &flags(45));
    wait_until("the relay follows an edit", &relay, |s| {
        checkout(s) == Some(45)
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_relay_of_a_url_that_is_no_http_url_does_not_start() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flags"))
        .args([
            "serve",
            "--upstream",
            "ftp://origin",
            "--listen",
            "127.0.0.1:0",
        ])
        .env_remove("FLAGS_TOKENS")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("flags serve: ") && stderr.contains("expected an http or https URL"),
        "{stderr}"
    );
}

#[test]
fn a_file_and_an_upstream_are_mutually_exclusive() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_flags"))
            .arg("serve")
            .args(args)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let both = run(&["flags.json", "--upstream", "http://127.0.0.1:1"]);
    assert!(
        both.contains("the argument '[FILE]' cannot be used with '--upstream <URL>'"),
        "{both}"
    );
    let neither = run(&[]);
    assert!(
        neither.contains("required arguments were not provided:\n  <FILE|--upstream <URL>>"),
        "{neither}"
    );
    let token_for_a_file = run(&["flags.json", "--upstream-token", "t"]);
    assert!(
        token_for_a_file.contains("the argument '[FILE]' cannot be used with '--upstream-token"),
        "{token_for_a_file}"
    );
}
