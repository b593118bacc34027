//! Helpers shared by the test files: `flags serve` as a child process and
//! raw HTTP/1.1 to it (`fleet.rs`, `relay.rs`, `server_process.rs`), temporary
//! directories and atomic writes, and the `flags`
//! command on temporary copies of the example file ([`cli`]), and the API
//! in-process ([`app`]).

// Each test file uses its own part of these helpers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod app;
pub mod cli;

/// Generous bound for anything the tests wait for (CI runs on 2 busy cores).
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A new, empty directory for one test (`what` names it in the temp dir).
pub fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flags-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Replaces `path` atomically, as editors and deploy tools do.
pub fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

/// A running `flags serve`, its address and everything it logged.
pub struct Server {
    child: Child,
    pub addr: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `flags serve FILE --listen 127.0.0.1:0 ARGS...`, with its
    /// open-file limit set to `open_files` (soft and hard, so that it cannot
    /// raise it) when given, and waits until it listens.
    pub fn start(file: &Path, args: &[&str], open_files: Option<u32>) -> Server {
        let mut all: Vec<&std::ffi::OsStr> = vec![file.as_os_str()];
        all.extend(["--listen", "127.0.0.1:0"].map(std::ffi::OsStr::new));
        all.extend(args.iter().map(std::ffi::OsStr::new));
        Server::spawn(&all, open_files)
    }

    /// Starts `flags serve ARGS...` (the arguments as given: a file or
    /// `--upstream`, and a `--listen`) and waits until it listens.
    pub fn spawn<A: AsRef<std::ffi::OsStr>>(args: &[A], open_files: Option<u32>) -> Server {
        let mut command = match open_files {
            Some(n) => {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(env!("CARGO_BIN_EXE_flags"));
                sh
            }
            None => Command::new(env!("CARGO_BIN_EXE_flags")),
        };
        let mut child = command
            .arg("serve")
            .args(args)
            .env("FLAGS_LOG", "info")
            .env_remove("FLAGS_TOKENS")
            .env_remove("FLAGS_UPSTREAM_TOKEN")
            .stderr(Stdio::piped())
            .spawn()
            .expect("flags serve starts");
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let log = Arc::new(Mutex::new(String::new()));
        let mut addr = None;
        let mut line = String::new();
        while addr.is_none() && stderr.read_line(&mut line).is_ok_and(|n| n > 0) {
            log.lock().expect("log").push_str(&line);
            addr = line
                .split_once("listening on ")
                .map(|(_, a)| a.trim().to_owned());
            line.clear();
        }
        let Some(addr) = addr else {
            let _ = child.kill();
            panic!(
                "flags serve exited before listening:\n{}",
                log.lock().expect("log")
            );
        };
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while stderr.read_line(&mut line).is_ok_and(|n| n > 0) {
                sink.lock().expect("log").push_str(&line);
                line.clear();
            }
        });
        Server { child, addr, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    /// The start-up line (`serving flags ...`).
    pub fn startup(&self) -> String {
        self.log()
            .lines()
            .find(|l| l.contains("serving flags"))
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until `condition` holds of the log.
    pub fn wait_for_log(&self, what: &str, condition: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !condition(&self.log()) {
            assert!(
                Instant::now() < deadline,
                "no {what} in the log within {PATIENCE:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn alive(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn connect(&self) -> Conn {
        let stream = TcpStream::connect(&self.addr).expect("connect");
        stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
        Conn { stream }
    }

    /// One request on a fresh connection.
    pub fn request(&self, method: &str, path: &str, body: &str) -> Reply {
        self.connect().request(method, path, body)
    }

    /// `GET path`, expecting 200 and JSON.
    pub fn json(&self, path: &str) -> Value {
        let reply = self.request("GET", path, "");
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        reply.json()
    }

    /// The value of a metric line `name value` of `/metrics`.
    pub fn metric(&self, name: &str) -> f64 {
        let reply = self.request("GET", "/metrics", "");
        reply
            .body
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {name} in:\n{}", reply.body))
            .parse()
            .expect("a number")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `name=value` in a log line.
pub fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
}

pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", self.head, self.body))
    }
}

/// A connection to the server (kept alive between requests).
pub struct Conn {
    pub stream: TcpStream,
}

impl Conn {
    pub fn send(&mut self, method: &str, path: &str, body: &str) {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream.write_all(request.as_bytes()).expect("send");
    }

    /// Reads a response's head, then its body when it has a length (an
    /// event stream's body never ends: it is left unread).
    pub fn reply(&mut self) -> Reply {
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") {
            self.stream.read_exact(&mut byte).expect("response head");
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).expect("utf-8 head");
        let status = head[9..12].parse().expect("status code");
        let mut reply = Reply {
            status,
            head,
            body: String::new(),
        };
        if let Some(length) = reply.header("content-length") {
            let mut body = vec![0; length.parse().expect("length")];
            self.stream.read_exact(&mut body).expect("body");
            reply.body = String::from_utf8(body).expect("utf-8 body");
        }
        reply
    }

    pub fn request(&mut self, method: &str, path: &str, body: &str) -> Reply {
        self.send(method, path, body);
        self.reply()
    }
}
