//! A fleet of relays as real processes on loopback: one origin on a file,
//! two relays chained behind it (origin -> r1 -> r2) and one beside them
//! (origin -> r3), a client on every server that keeps asking for flags.
//!
//! The file is edited ten times a second for 30 s: every relay ends on the
//! last edit, and every answer any client got on the way was one whole
//! flag set the origin had served, never older than one that client had
//! already seen. Then the origin is killed: the relays stay ready on the
//! last good flags, a relay restarted meanwhile serves its `--cache`
//! (stale), and all of them catch up with an edit made once the origin is
//! back.

mod common;

use std::collections::BTreeSet;
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{Conn, PATIENCE, Server, write_atomic};
use serde_json::Value;

/// Flags in every edit: an answer must hold all of them, from one edit.
const KEYS: [&str; 5] = ["f0", "f1", "f2", "f3", "f4"];

/// Edits during the fast phase: ten a second for 30 s.
const EDITS: u64 = 300;
const EDIT_EVERY: Duration = Duration::from_millis(100);

/// How often a relay asks its upstream besides what the stream announces.
/// Slow on purpose: a relay that followed only this timer would see a
/// handful of the 300 edits (see `FOLLOWED`), not most of them.
const REFRESH_MS: &str = "2000";

/// Fewest distinct edits a client of each server must have seen during the
/// fast phase. Following the stream, a relay serves nearly all of the 300;
/// the 2 s refresh alone would give about 15.
const FOLLOWED: usize = 100;

/// Edit `n`: every flag says `n` twice, in its description (`/v1/flags`)
/// and in its only variant (evaluations).
fn edit(n: u64) -> String {
    let flags: Vec<String> = KEYS
        .iter()
        .map(|key| {
            format!(
                r#""{key}": {{"description": "edit {n}", "percentage": 100, "variants": [{{"name": "e{n}", "weight": 100}}]}}"#
            )
        })
        .collect();
    format!(r#"{{"version": 1, "flags": {{{}}}}}"#, flags.join(", "))
}

/// The edit a `/v1/flags` answer holds, when it is one whole edit.
fn edit_of_flags(body: &Value) -> Result<u64, String> {
    let flags = body["flags"].as_object().ok_or("no `flags` object")?;
    let keys: Vec<&str> = flags.keys().map(String::as_str).collect();
    if keys != KEYS {
        return Err(format!("flags {keys:?}, expected {KEYS:?}"));
    }
    let edits: BTreeSet<Option<u64>> = flags
        .values()
        .flat_map(|flag| {
            let described = flag["description"]
                .as_str()
                .and_then(|d| d.strip_prefix("edit "));
            let variant = flag["variants"][0]["name"]
                .as_str()
                .and_then(|v| v.strip_prefix('e'));
            [described, variant].map(|n| n.and_then(|n| n.parse().ok()))
        })
        .collect();
    match edits.into_iter().collect::<Vec<_>>()[..] {
        [Some(n)] => Ok(n),
        ref mixed => Err(format!("not one edit: {mixed:?}")),
    }
}

/// The edit an OFREP bulk answer was evaluated from, when it is one whole
/// edit.
fn edit_of_ofrep(body: &Value) -> Result<u64, String> {
    let results = body["flags"].as_array().ok_or("no `flags` list")?;
    let keys: Vec<&str> = results.iter().filter_map(|r| r["key"].as_str()).collect();
    if keys != KEYS {
        return Err(format!("flags {keys:?}, expected {KEYS:?}"));
    }
    let edits: BTreeSet<Option<u64>> = results
        .iter()
        .map(|r| {
            (r["value"] == true)
                .then(|| r["variant"].as_str()?.strip_prefix('e')?.parse().ok())
                .flatten()
        })
        .collect();
    let versions: BTreeSet<&str> = results
        .iter()
        .filter_map(|r| r["metadata"]["version"].as_str())
        .collect();
    if versions.len() != 1 {
        return Err(format!("not one version: {versions:?}"));
    }
    match edits.into_iter().collect::<Vec<_>>()[..] {
        [Some(n)] => Ok(n),
        ref mixed => Err(format!("not one edit: {mixed:?}")),
    }
}

/// A relay of `upstream`, with its cache file.
fn relay(upstream: &str, cache: &Path) -> Server {
    Server::spawn(
        &[
            "--upstream",
            &format!("http://{upstream}"),
            "--listen",
            "127.0.0.1:0",
            "--upstream-refresh-ms",
            REFRESH_MS,
            "--cache",
            cache.to_str().expect("path"),
        ],
        None,
    )
}

fn origin(file: &Path, listen: &str) -> Server {
    Server::spawn(&[file.to_str().expect("path"), "--listen", listen], None)
}

/// The edit `server` serves now, from `/v1/flags`.
fn serves(server: &Server) -> u64 {
    let reply = server.request("GET", "/v1/flags", "");
    assert_eq!(reply.status, 200, "{}", reply.body);
    edit_of_flags(&reply.json()).unwrap_or_else(|e| panic!("{e}: {}", reply.body))
}

/// Waits until `done` holds, for at most [`PATIENCE`]; `servers` are the
/// logs to show when it does not.
fn wait_until(what: &str, servers: &[&Server], mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        if Instant::now() >= deadline {
            let logs: Vec<String> = servers.iter().map(|s| s.log()).collect();
            panic!(
                "{what}: not within {PATIENCE:?}; the servers logged:\n{}",
                logs.join("\n---\n")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a client saw.
struct Seen {
    name: &'static str,
    answers: u64,
    edits: BTreeSet<u64>,
}

/// A client of one server: asks in turn for `/v1/flags`, an OFREP bulk
/// evaluation and `/readyz` on one kept-alive connection until stopped,
/// and checks every answer: 200, one whole edit that the origin had been
/// given (at most `written`), never older than the last one it saw.
struct Client {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<Seen, String>>,
}

impl Client {
    fn start(name: &'static str, server: &Server, written: &Arc<AtomicU64>) -> Client {
        let stop = Arc::new(AtomicBool::new(false));
        let stream = TcpStream::connect(&server.addr).expect("connect");
        stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let mut conn = Conn { stream };
        let (stopped, written) = (Arc::clone(&stop), Arc::clone(written));
        let thread = std::thread::spawn(move || {
            let mut seen = Seen {
                name,
                answers: 0,
                edits: BTreeSet::new(),
            };
            let ofrep = r#"{"context": {"targetingKey": "José"}}"#;
            let mut turn = 0u64;
            loop {
                // Once stopped, one last `/v1/flags`: the client's last
                // edit is what the server served when it was stopped.
                let last = stopped.load(Ordering::SeqCst);
                let kind = if last { 0 } else { turn % 3 };
                let (what, reply) = match kind {
                    0 => ("/v1/flags", conn.request("GET", "/v1/flags", "")),
                    1 => (
                        "OFREP bulk",
                        conn.request("POST", "/ofrep/v1/evaluate/flags", ofrep),
                    ),
                    _ => ("/readyz", conn.request("GET", "/readyz", "")),
                };
                turn += 1;
                // Read after the answer: the edit served cannot be newer.
                let latest = written.load(Ordering::SeqCst);
                let fail = |why: String| format!("{name}, answer {turn} ({what}): {why}");
                if reply.status != 200 {
                    return Err(fail(format!("HTTP {}: {}", reply.status, reply.body)));
                }
                let body = reply.json();
                let n = match what {
                    "/v1/flags" => edit_of_flags(&body),
                    "OFREP bulk" => edit_of_ofrep(&body),
                    _ if body["ready"] == true && body["version"].is_string() => {
                        seen.answers += 1;
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    _ => Err("not ready".to_owned()),
                }
                .map_err(|e| fail(format!("{e}: {}", reply.body)))?;
                if n > latest {
                    return Err(fail(format!("edit {n}, but only {latest} was written")));
                }
                if let Some(&last) = seen.edits.last() {
                    if n < last {
                        return Err(fail(format!("edit {n} after edit {last}")));
                    }
                }
                seen.edits.insert(n);
                seen.answers += 1;
                if last {
                    return Ok(seen);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Client { stop, thread }
    }

    /// Stops the client after one last `/v1/flags`; what it saw, or the
    /// first wrong answer.
    fn finish(self) -> Seen {
        self.stop.store(true, Ordering::SeqCst);
        match self.thread.join().expect("the client does not panic") {
            Ok(seen) => seen,
            Err(why) => panic!("{why}"),
        }
    }
}

#[test]
fn relays_follow_ten_edits_a_second_and_ride_out_an_origin_restart() {
    let dir = common::temp_dir("fleet-relays");
    let file = dir.join("flags.json");
    let cache = |name: &str| dir.join(format!("{name}-cache.json"));
    let written = Arc::new(AtomicU64::new(0));
    write_atomic(&file, &edit(0));

    let mut origin = origin(&file, "127.0.0.1:0");
    let address = origin.addr.clone();
    let r1 = relay(&address, &cache("r1"));
    let r2 = relay(&r1.addr, &cache("r2"));
    let mut r3 = relay(&address, &cache("r3"));
    for server in [&origin, &r1, &r2, &r3] {
        assert_eq!(serves(server), 0, "{}", server.log());
    }
    let clients: Vec<Client> = [("origin", &origin), ("r1", &r1), ("r2", &r2), ("r3", &r3)]
        .into_iter()
        .map(|(name, server)| Client::start(name, server, &written))
        .collect();

    // Ten edits a second for 30 s, each renamed over the file.
    let start = Instant::now();
    for n in 1..=EDITS {
        let at = start + EDIT_EVERY * u32::try_from(n).expect("small");
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
        written.store(n, Ordering::SeqCst);
        write_atomic(&file, &edit(n));
    }
    wait_until("every relay serves the last edit", &[&r1, &r2, &r3], || {
        [&origin, &r1, &r2, &r3].iter().all(|s| serves(s) == EDITS)
    });
    let version = r1.json("/readyz")["version"].clone();
    assert_eq!(r2.json("/readyz")["version"], version);
    assert_eq!(r3.json("/readyz")["version"], version);
    let mut clients = clients.into_iter();
    let at_origin = clients.next().expect("origin's client").finish();
    let [c1, c2, c3] = [0; 3].map(|_| clients.next().expect("a relay's client"));
    assert!(at_origin.answers > 0);

    // The origin goes away: the relays keep the last good flags, ready.
    origin.kill();
    wait_until("r1 and r3 notice the outage", &[&r1, &r3], || {
        [&r1, &r3]
            .iter()
            .all(|s| s.json("/v1/status")["upstream"]["connected"] == false)
    });
    for server in [&r1, &r2, &r3] {
        assert_eq!(server.request("GET", "/readyz", "").status, 200);
        assert_eq!(serves(server), EDITS);
        assert_eq!(server.json("/v1/status")["ready"], true);
    }
    // r3 restarts meanwhile: it serves its cache, ready but stale.
    wait_until("r3's cache holds the last edit", &[&r3], || {
        std::fs::read(cache("r3"))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .is_some_and(|cached| edit_of_flags(&cached) == Ok(EDITS))
    });
    let c3 = c3.finish();
    r3.kill();
    let r3 = relay(&address, &cache("r3"));
    assert_eq!(r3.request("GET", "/readyz", "").status, 200, "{}", r3.log());
    assert_eq!(serves(&r3), EDITS);
    let status = r3.json("/v1/status");
    assert_eq!(status["stale"], true, "{status}");
    assert_eq!(status["upstream"]["connected"], false, "{status}");
    let c3_again = Client::start("r3 restarted", &r3, &written);

    // The origin is back; an edit made now reaches every relay.
    let _origin = self::origin(&file, &address);
    written.store(EDITS + 1, Ordering::SeqCst);
    write_atomic(&file, &edit(EDITS + 1));
    wait_until("every relay catches up", &[&r1, &r2, &r3], || {
        [&r1, &r2, &r3].iter().all(|s| serves(s) == EDITS + 1)
    });
    wait_until("r3 is fresh again", &[&r3], || {
        let status = r3.json("/v1/status");
        status["stale"] == false && status["upstream"]["connected"] == true
    });

    let seen = [c1.finish(), c2.finish(), c3, c3_again.finish()];
    for client in &seen[..3] {
        assert!(
            client.edits.len() >= FOLLOWED,
            "{} saw {} distinct edits of {EDITS} in {} answers: the relay did not follow the edits as they came",
            client.name,
            client.edits.len(),
            client.answers
        );
    }
    assert_eq!(seen[0].edits.last(), Some(&(EDITS + 1)));
    assert_eq!(seen[1].edits.last(), Some(&(EDITS + 1)));
    assert_eq!(seen[2].edits.last(), Some(&EDITS));
    assert_eq!(seen[3].edits.last(), Some(&(EDITS + 1)));
    // Restarted from its cache, r3 never served anything older.
    assert!(seen[3].edits.first() >= Some(&EDITS), "{:?}", seen[3].edits);
    let _ = std::fs::remove_dir_all(&dir);
}
