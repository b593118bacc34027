//! A real Prometheus (Debian's `prometheus`) started on loopback for one
//! test, scraping one target every second; stopped when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use super::{PATIENCE, http, wait_until};

/// Prometheus's scrape and rule evaluation interval, in seconds.
pub const SCRAPE_S: u64 = 1;

pub struct Prometheus {
    child: Child,
    pub addr: String,
}

impl Prometheus {
    /// Starts Prometheus with its data in `dir`, scraping `/metrics` of
    /// `target` (host:port) every [`SCRAPE_S`] seconds, and waits until it
    /// is ready. Fails the test when `prometheus` is not installed.
    pub fn start(dir: &Path, target: &str) -> Prometheus {
        let version = Command::new("prometheus").arg("--version").output();
        assert!(
            version.is_ok_and(|o| o.status.success()),
            "Debian's `prometheus` is not installed: this test needs it \
             (apt-get install prometheus; scripts/test installs it)"
        );
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: {SCRAPE_S}s\n  evaluation_interval: {SCRAPE_S}s\n\
                 scrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("config");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        let prometheus = Prometheus { child, addr };
        wait_until("Prometheus ready", PATIENCE, || {
            http(&prometheus.addr, "GET", "/-/ready", "").is_some_and(|(s, _)| s == 200)
        });
        prometheus
    }

    /// The value of `query` as Prometheus answers it, if one.
    pub fn value(&self, query: &str) -> Option<String> {
        let path = format!("/api/v1/query?query={}", encode(query));
        let (_, body) = http(&self.addr, "GET", &path, "")?;
        let json: Value = serde_json::from_str(&body).ok()?;
        json["data"]["result"][0]["value"][1]
            .as_str()
            .map(str::to_owned)
    }

    /// [`Prometheus::value`] as a number (`NaN` included), if one.
    pub fn number(&self, query: &str) -> Option<f64> {
        self.value(query)?.parse().ok()
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `text` percent-encoded for a query string.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
