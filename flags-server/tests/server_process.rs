//! `flags serve` as a child process: start-up checks.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Generous bound for anything the tests wait for (CI runs on 2 busy cores).
const PATIENCE: Duration = Duration::from_secs(30);

const FILE: &str = r#"{"version": 1, "flags": {"half": {"percentage": 50}}}"#;

fn flag_file() -> String {
    let dir = std::env::temp_dir().join(format!("flags-server-process-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("flags.json");
    std::fs::write(&path, FILE).expect("write");
    path.to_str().expect("utf-8 path").to_owned()
}

/// Runs `flags serve` expecting it to refuse to start; returns its stderr.
fn refuses_to_start(args: &[&str], tokens: Option<&str>) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flags"));
    command
        .args(["serve", &flag_file(), "--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("FLAGS_TOKENS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(tokens) = tokens {
        command.env("FLAGS_TOKENS", tokens);
    }
    let mut child = command.spawn().expect("flags runs");
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("flags serve {args:?} with FLAGS_TOKENS={tokens:?} started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("serving flags"), "{stderr}");
    stderr
}

#[test]
fn flags_tokens_set_but_empty_fails_closed() {
    for empty in ["", ",", " , ,"] {
        let stderr = refuses_to_start(&[], Some(empty));
        assert!(
            stderr.contains(
                "flags serve: FLAGS_TOKENS is set but holds no tokens; give at least one \
                 (comma-separated), or unset it to serve without authentication"
            ),
            "{empty:?}: {stderr}"
        );
    }
}
