//! Helpers of the guard tests (`guard.rs`, `guard_prometheus.rs`,
//! `migration_prometheus.rs`): a `flags` child process whose log is kept, a
//! tiny HTTP server answering from a closure (a fake Prometheus, an
//! exporter), a real Prometheus, plain HTTP requests and polling.

#![allow(dead_code)]

pub mod prometheus;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Generous bound for anything the tests wait for (CI runs on 2 busy cores).
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Polls `condition` every 20 ms until it holds, or panics after `bound`
/// saying `what` did not happen.
pub fn wait_until(what: &str, bound: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + bound;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not within {bound:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `flags` child process; its stderr is collected.
pub struct Flags {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Flags {
    /// `flags guard FILE --prometheus URL --interval INTERVAL` on an
    /// ephemeral loopback port for its /healthz and /metrics, in `dir`.
    pub fn guard(dir: &Path, file: &str, prometheus: &str, interval: &str) -> Flags {
        Flags::spawn(
            dir,
            &[
                "guard",
                file,
                "--prometheus",
                prometheus,
                "--interval",
                interval,
                "--listen",
                "127.0.0.1:0",
            ],
        )
    }

    pub fn spawn(dir: &Path, args: &[&str]) -> Flags {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flags"))
            .args(args)
            .current_dir(dir)
            .env("FLAGS_LOG", "info")
            .env("NO_COLOR", "1")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("flags starts");
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while stderr.read_line(&mut line).is_ok_and(|n| n > 0) {
                sink.lock().expect("log").push_str(&line);
                line.clear();
            }
        });
        Flags { child, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    pub fn wait_for_log(&self, what: &str, needle: &str) {
        wait_until(&format!("{what} ({needle:?} in the log)"), PATIENCE, || {
            self.log().contains(needle)
        });
    }

    /// The address in the first log line that says `listen=...` or
    /// `listening on ...`.
    pub fn address(&self) -> String {
        let mut addr = None;
        wait_until("the listening address in the log", PATIENCE, || {
            let log = self.log();
            addr = log.lines().find_map(|l| {
                if let Some((_, a)) = l.split_once("listening on ") {
                    return Some(a.trim().to_owned());
                }
                let (_, rest) = l.split_once("listen=Some(")?;
                Some(rest.split(')').next()?.to_owned())
            });
            addr.is_some()
        });
        addr.unwrap_or_default()
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no exit after SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Flags {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Handler = dyn Fn(&str, &str) -> (u16, String) + Send + Sync;

/// A tiny HTTP/1.1 server on loopback: each request's method and target
/// go to the handler, whose status and body are sent back; one request per
/// connection.
pub struct TinyHttp {
    pub addr: String,
}

impl TinyHttp {
    pub fn start(
        handler: impl Fn(&str, &str) -> (u16, String) + Send + Sync + 'static,
    ) -> TinyHttp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let handler: Arc<Handler> = Arc::new(handler);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let handler = handler.clone();
                std::thread::spawn(move || answer(stream, &*handler));
            }
        });
        TinyHttp { addr }
    }
}

fn answer(mut stream: TcpStream, handler: &Handler) {
    let _ = stream.set_read_timeout(Some(PATIENCE));
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read_exact(&mut byte).is_err() {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut words = head.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (status, body) = handler(method, target);
    let reply = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes());
}

/// `METHOD path` with `body` to `addr`: the status and the body.
pub fn http(addr: &str, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    http_as(addr, None, method, path, body)
}

/// [`http`] with `Authorization: Bearer <token>` when there is a token.
pub fn http_as(
    addr: &str,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: &str,
) -> Option<(u16, String)> {
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         {auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).ok()?;
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let status = reply.get(9..12)?.parse().ok()?;
    let (head, body) = reply.split_once("\r\n\r\n")?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Some((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The value of the sample `name` (with its labels, as written) in a
/// Prometheus text page; 0 when absent.
pub fn sample(page: &str, name: &str) -> f64 {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap_or(f64::NAN))
}

/// The repository's root (the reference implementation is in tests/).
pub fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

/// The audit log beside `file`, one JSON value per line.
pub fn audit(file: &Path) -> Vec<serde_json::Value> {
    let log = file.with_file_name(format!(
        "{}.audit.jsonl",
        file.file_name().expect("name").to_string_lossy()
    ));
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// A new, empty directory for one test.
pub fn temp_dir(what: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("flags-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
