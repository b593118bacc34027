//! `flags serve`: the HTTP API over a hot-reloading flag file, or, with
//! `--upstream`, over another flags server's flags (a relay).
//!
//! Reads the options, the tokens and the flag source, sets the process up
//! (logging, the open-file limit, the allocator) and runs
//! [`crate::server::serve`] until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use flags_core::remote::{RemoteOptions, RemoteSource};
use flags_core::watch::{FileSource, WatchOptions};
use tokio::net::TcpListener;
use tracing::{error, info, warn};

use crate::server::{AppState, Config, GuardMonitor, Relay, Source, limits, memory, serve};

/// The largest cap `--max-connections` and `--max-streams` accept.
const MAX_CAP: u64 = 1_000_000;

/// Options of `flags serve`.
#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["file", "upstream"]))]
pub struct Args {
    /// The flag file to serve (hot-reloaded on every change). Give either
    /// FILE or --upstream.
    #[arg(
        value_name = "FILE",
        required_unless_present = "upstream",
        conflicts_with = "upstream"
    )]
    file: Option<PathBuf>,
    /// Relay: serve the flags of the flags server at this URL (e.g.
    /// http://origin:8080) instead of a file, following its /v1/stream and
    /// refreshing with its ETag. The last good flags keep serving while
    /// the upstream is unreachable.
    #[arg(long, value_name = "URL")]
    upstream: Option<String>,
    /// Relay: bearer token sent to the upstream (or FLAGS_UPSTREAM_TOKEN).
    #[arg(long, value_name = "TOKEN", conflicts_with = "file")]
    upstream_token: Option<String>,
    /// Relay: how often to ask the upstream for its flags besides its
    /// stream's announcements, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000, conflicts_with = "file",
          value_parser = clap::value_parser!(u64).range(1..))]
    upstream_refresh_ms: u64,
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// File of bearer tokens, one per line: `TOKEN` (scope `server`: every
    /// endpoint) or `TOKEN client` (evaluation only: /v1/evaluate, OFREP,
    /// /v1/stream); `#` starts a comment. With tokens (here, or
    /// comma-separated in FLAGS_TOKENS for `server` and FLAGS_CLIENT_TOKENS
    /// for `client`), /v1/* and /ofrep/* require `Authorization: Bearer
    /// <token>`. A tokens file or variable that holds no token is an error,
    /// never "no auth".
    #[arg(long, value_name = "FILE")]
    tokens_file: Option<PathBuf>,
    /// The context attribute that OFREP's `targetingKey` fills (when the
    /// context does not set that attribute itself).
    #[arg(long, value_name = "ATTRIBUTE", default_value = flags_core::DEFAULT_BUCKET_BY)]
    targeting_key: String,
    /// Quiet period after a file event before reloading, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 20)]
    debounce_ms: u64,
    /// Metadata poll interval, in milliseconds, for mounts where file events
    /// never arrive (0 disables polling).
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    poll_ms: u64,
    /// Most client connections served at once. A connection beyond gets one
    /// answer and is closed: /healthz and /readyz as usual, 503 with
    /// Retry-After otherwise. [default: the open-file limit minus 128
    /// (at least half of it, at most 65536)]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_CAP))]
    max_connections: Option<u64>,
    /// Most /v1/stream event streams open at once; more get 503 with
    /// Retry-After. Must be below --max-connections, so that health checks
    /// and evaluations have room at the stream cap. [default: half of
    /// --max-connections]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(0..=MAX_CAP))]
    max_streams: Option<u64>,
    /// Keep a copy of the last good flag file here (written atomically after
    /// each good load whose content changed). When FILE is bad at start,
    /// the server serves this copy, ready but marked stale, until FILE is
    /// good. Without it, a server started on a bad file serves nothing
    /// (not ready) until FILE is good. A relay started while its upstream
    /// is unreachable serves this copy (ready, stale) until the upstream
    /// answers; without it, nothing (not ready). The directory must exist.
    #[arg(long, value_name = "FILE")]
    cache: Option<PathBuf>,
    /// The largest flag file accepted, in bytes; a bigger one is a rejected
    /// reload (never read past this).
    #[arg(long, value_name = "BYTES", default_value_t = flags_core::DEFAULT_MAX_FILE_BYTES,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_file_bytes: u64,
    /// How long a browser, proxy or CDN may reuse a /v1/flags or OFREP bulk
    /// answer without asking again (Cache-Control: max-age=N,
    /// must-revalidate). 0 asks before every reuse (If-None-Match, 304):
    /// a change reaches every poller at once. At most one day.
    #[arg(long, value_name = "SECONDS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=86_400))]
    cache_max_age: u64,
    /// Show each guard's live value on the dashboard: ask this Prometheus
    /// (e.g. http://127.0.0.1:9090) every guard's query every 5 s, each
    /// reading bounded by 2 s, as `flags status --prometheus` does.
    /// Reading only: `flags guard` is what acts.
    #[arg(long, value_name = "URL", conflicts_with = "upstream")]
    prometheus: Option<String>,
}

/// Runs the server until SIGTERM or Ctrl-C.
pub fn run(args: Args) -> ExitCode {
    memory::configure();
    init_logging();
    let tokens = match load_tokens(
        args.tokens_file.as_deref(),
        std::env::var_os("FLAGS_TOKENS"),
        std::env::var_os("FLAGS_CLIENT_TOKENS"),
    ) {
        Ok(tokens) => tokens,
        Err(message) => {
            eprintln!("flags serve: {message}");
            return ExitCode::FAILURE;
        }
    };
    // Before anything opens a descriptor: the caps follow the raised limit.
    let open_files = limits::raise_open_files();
    let (max_connections, max_streams) =
        match connection_caps(open_files, args.max_connections, args.max_streams) {
            Ok(caps) => caps,
            Err(message) => {
                eprintln!("flags serve: {message}");
                return ExitCode::FAILURE;
            }
        };
    let guard_monitor = match args
        .prometheus
        .as_deref()
        .map(GuardMonitor::new)
        .transpose()
    {
        Ok(monitor) => monitor,
        Err(e) => {
            eprintln!("flags serve: --prometheus {e}");
            return ExitCode::FAILURE;
        }
    };
    let source = match open_source(&args) {
        Ok(source) => source,
        Err(message) => {
            eprintln!("flags serve: {message}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("flags serve: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match TcpListener::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("flags serve: cannot listen on {}: {e}", args.listen);
                return ExitCode::FAILURE;
            }
        };
        let snapshot = source.snapshot();
        let ready = source.is_ready();
        let stale = source.status().stale;
        let state = AppState::new(
            source,
            Config {
                tokens,
                targeting_key: args.targeting_key,
                max_connections,
                max_streams,
                cache_max_age: args.cache_max_age,
                guard_monitor,
                ..Config::default()
            },
        );
        let address = listener.local_addr().map_or(args.listen, |a| a);
        // One of the two, by the options' group; a missing one is not logged.
        info!(
            file = args.file.as_deref().map(|f| tracing::field::display(f.display())),
            upstream = args.upstream.as_deref().map(tracing::field::display),
            version = snapshot.version(),
            flags = snapshot.len(),
            listen = %address,
            ready,
            stale,
            auth = state.auth_enabled(),
            open_files,
            max_connections,
            max_streams,
            prometheus = args.prometheus.as_deref().map(tracing::field::display),
            "serving flags"
        );
        if max_connections as u64 > limits::room(open_files) {
            warn!(
                max_connections,
                open_files,
                "--max-connections is above what the open-file limit leaves room for \
                 (the limit minus {}): accepting may fail for lack of file descriptors",
                limits::FD_RESERVE
            );
        }
        info!("listening on {address}");
        drop(snapshot);
        serve(listener, state, shutdown_signal()).await;
        ExitCode::SUCCESS
    })
}

/// The flag source the options name: the file (started, whatever its
/// state), or the upstream (its flags, else the cache's; an error with
/// neither).
fn open_source(args: &Args) -> Result<Source, String> {
    if let Some(url) = &args.upstream {
        let token = match &args.upstream_token {
            Some(token) => Some(token.clone()),
            None => match std::env::var("FLAGS_UPSTREAM_TOKEN") {
                Ok(token) if !token.trim().is_empty() => Some(token.trim().to_owned()),
                Ok(_) | Err(std::env::VarError::NotPresent) => None,
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err("FLAGS_UPSTREAM_TOKEN is not valid UTF-8".to_owned());
                }
            },
        };
        if let Some(token) = &token {
            check_token(token).map_err(|e| format!("--upstream-token: {e}"))?;
        }
        let mut options = RemoteOptions::new(url.clone());
        options.cache_path = args.cache.clone();
        options.token = token;
        options.refresh_interval = Duration::from_millis(args.upstream_refresh_ms);
        let relay = match RemoteSource::open(options.clone()) {
            Ok(source) => {
                report_upstream_start(&source);
                Relay::opened(source)
            }
            Err(e) if e.is_invalid_option() => return Err(e.to_string()),
            // Nothing to serve yet is no reason to exit (as for a bad
            // file): not ready, and trying again until the upstream answers.
            Err(e) => {
                let cache = match &args.cache {
                    Some(cache) => format!("the cache {} is missing or unusable", cache.display()),
                    None => "no --cache to start from".to_owned(),
                };
                error!(
                    "upstream {url} cannot be used and {cache}: not ready (no flags served) \
                     until it answers:\n{e}"
                );
                let relay = Relay::pending(url.clone(), args.cache.clone(), e.to_string());
                open_later(relay.clone(), options)?;
                relay
            }
        };
        return Ok(Source::Upstream(relay));
    }
    let Some(file) = &args.file else {
        return Err("give a flag FILE or --upstream URL".to_owned());
    };
    let options = WatchOptions {
        debounce: Duration::from_millis(args.debounce_ms),
        poll_interval: Duration::from_millis(args.poll_ms),
        max_file_bytes: args.max_file_bytes,
        cache_path: args.cache.clone(),
        ..WatchOptions::default()
    };
    // A bad file at start is no reason to exit: a replica that crash-loops
    // while the file is bad helps nobody. It waits (not ready), or serves
    // the cached copy.
    let source = FileSource::start(file, options).map_err(|e| e.to_string())?;
    report_start(&source);
    Ok(Source::File(source))
}

/// Opens the relay's source in the background, trying again (1 s, doubling
/// up to 30 s) until the upstream (or the cache) can be used.
fn open_later(relay: Relay, options: RemoteOptions) -> Result<(), String> {
    std::thread::Builder::new()
        .name("flags-relay-open".to_owned())
        .spawn(move || {
            let mut pause = Duration::from_secs(1);
            loop {
                std::thread::sleep(pause);
                match RemoteSource::open(options.clone()) {
                    Ok(source) => {
                        info!(version = %source.status().version, "upstream answered: ready");
                        relay.open(source);
                        return;
                    }
                    Err(e) => relay.failed(e.to_string()),
                }
                pause = (pause * 2).min(Duration::from_secs(30));
            }
        })
        .map(drop)
        .map_err(|e| format!("cannot start the relay's thread: {e}"))
}

/// Says when a relay starts from its cache because the upstream cannot be
/// used.
fn report_upstream_start(source: &RemoteSource) {
    let status = source.status();
    if let Some(problem) = status.last_error.as_deref().filter(|_| status.stale) {
        warn!(
            "upstream {} cannot be used; serving the cached flags (stale, version {}) until it \
             can:\n{problem}",
            source.url(),
            status.version
        );
    }
}

/// Says, before anything is served, what a start on a bad file means: every
/// problem, and whether the cached copy or nothing is served until the file
/// is good.
fn report_start(source: &FileSource) {
    let status = source.status();
    let Some(problem) = status.last_error.as_deref() else {
        return;
    };
    let file = source.path().display();
    if status.stale {
        let cache = source.cache_path().map(|c| c.display().to_string());
        warn!(
            "{file} is not a valid flag file; serving the last good copy from {} (stale, version \
             {}) until it is:\n{problem}",
            cache.unwrap_or_default(),
            status.version
        );
    } else {
        error!(
            "{file} is not a valid flag file; not ready (no flags served) until it is:\n{problem}"
        );
    }
}

/// The caps on connections and event streams: the given ones, or the
/// defaults for `open_files` descriptors.
fn connection_caps(
    open_files: u64,
    connections: Option<u64>,
    streams: Option<u64>,
) -> Result<(usize, usize), String> {
    let (default_connections, _) = limits::defaults(open_files);
    let connections = connections.map_or(default_connections, |n| {
        usize::try_from(n).unwrap_or(usize::MAX)
    });
    let streams = streams.map_or(connections / 2, |n| {
        usize::try_from(n).unwrap_or(usize::MAX)
    });
    if streams >= connections {
        return Err(format!(
            "--max-streams ({streams}) must be below --max-connections ({connections}), \
             so that health checks and evaluations still have room when every stream is taken"
        ));
    }
    Ok((connections, streams))
}

/// Resolves on SIGTERM or Ctrl-C.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Logs on stderr, filtered by `FLAGS_LOG` (default `info`).
pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLAGS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Tokens from `--tokens-file`, `FLAGS_TOKENS` and `FLAGS_CLIENT_TOKENS`
/// (`server_env` and `client_env`, their values if set), as the server's
/// configuration takes them: `TOKEN` (scope `server`) or `TOKEN client`.
/// Each source, when given, must hold at least one token: a mistake there
/// fails closed instead of turning authentication off.
///
/// A file line is `TOKEN` or `TOKEN SCOPE`. A token holds no whitespace
/// (files where a line held any were refused before scopes existed), so a
/// line of one word is the bare token it always was, with scope `server`.
fn load_tokens(
    file: Option<&std::path::Path>,
    server_env: Option<std::ffi::OsString>,
    client_env: Option<std::ffi::OsString>,
) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read tokens file {}: {e}", path.display()))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let entry = token_line(line)
                .map_err(|e| format!("tokens file {} line {}: {e}", path.display(), n + 1))?;
            tokens.push(entry);
        }
        if tokens.is_empty() {
            return Err(format!("tokens file {} holds no tokens", path.display()));
        }
    }
    for (name, value, suffix) in [
        ("FLAGS_TOKENS", server_env, ""),
        ("FLAGS_CLIENT_TOKENS", client_env, " client"),
    ] {
        let Some(list) = value else { continue };
        let list = list
            .into_string()
            .map_err(|_| format!("{name} is not valid UTF-8"))?;
        let from_env: Vec<&str> = list
            .split([',', ' ', '\t', '\n'])
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        if from_env.is_empty() {
            return Err(format!(
                "{name} is set but holds no tokens; give at least one \
                 (comma-separated), or unset it to serve without authentication"
            ));
        }
        for (n, token) in from_env.iter().enumerate() {
            check_token(token).map_err(|e| format!("{name} token {}: {e}", n + 1))?;
        }
        tokens.extend(from_env.into_iter().map(|t| format!("{t}{suffix}")));
    }
    Ok(tokens)
}

/// One line of a tokens file, `TOKEN` or `TOKEN SCOPE`, as a configured
/// entry. Errors never quote the line: it may hold a secret.
fn token_line(line: &str) -> Result<String, String> {
    let fields: Vec<&str> = line.split_ascii_whitespace().collect();
    let expected = "a line is `TOKEN` or `TOKEN SCOPE`, where SCOPE is `server` or `client`";
    match fields[..] {
        [token] => check_token(token).map(|()| token.to_owned()),
        [token, scope] => {
            check_token(token)?;
            match scope {
                "server" => Ok(token.to_owned()),
                "client" => Ok(format!("{token} client")),
                _ => Err(format!(
                    "the word after the token is not a scope; {expected}"
                )),
            }
        }
        _ => Err(format!("found {} words; {expected}", fields.len())),
    }
}

/// A token a client can send: visible ASCII only (an `Authorization` header
/// carries nothing else), so that every configured token can match.
fn check_token(token: &str) -> Result<(), String> {
    match token.chars().find(|c| !c.is_ascii_graphic()) {
        None => Ok(()),
        Some(c) => Err(format!(
            "a token may hold only visible ASCII characters, found {c:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_set_but_empty_fail_closed() {
        for empty in ["", ",", " , ,", "\n"] {
            let err = load_tokens(None, Some(empty.into()), None).expect_err(empty);
            assert!(
                err.starts_with("FLAGS_TOKENS is set but holds no tokens"),
                "{err}"
            );
        }
        assert_eq!(
            load_tokens(None, Some(" a, b ,".into()), None).expect("tokens"),
            ["a", "b"]
        );
        assert_eq!(
            load_tokens(None, None, None).expect("no tokens"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn client_tokens_come_from_their_own_variable() {
        assert_eq!(
            load_tokens(None, Some("ops".into()), Some("app-1, app-2".into())).expect("tokens"),
            ["ops", "app-1 client", "app-2 client"]
        );
        let err = load_tokens(None, None, Some(" ,".into())).expect_err("empty");
        assert!(
            err.starts_with("FLAGS_CLIENT_TOKENS is set but holds no tokens"),
            "{err}"
        );
    }

    #[test]
    fn a_tokens_file_line_is_a_token_and_maybe_a_scope() {
        assert_eq!(token_line("abc"), Ok("abc".to_owned()));
        assert_eq!(token_line("client:abc"), Ok("client:abc".to_owned()));
        assert_eq!(token_line("abc server"), Ok("abc".to_owned()));
        assert_eq!(token_line("abc \t client"), Ok("abc client".to_owned()));
        assert!(token_line("abc Client").is_err());
        assert!(token_line("abc client x").is_err());
        assert!(token_line("caf\u{e9} client").is_err());
    }

    #[test]
    fn tokens_must_be_sendable() {
        let err = load_tokens(None, Some("good,caf\u{e9}".into()), None).expect_err("non-ASCII");
        assert_eq!(
            err,
            "FLAGS_TOKENS token 2: a token may hold only visible ASCII characters, found '\u{e9}'"
        );
    }

    #[test]
    fn stream_cap_stays_below_the_connection_cap() {
        assert_eq!(connection_caps(1024, None, None), Ok((896, 448)));
        assert_eq!(connection_caps(1024, Some(10), None), Ok((10, 5)));
        assert_eq!(connection_caps(1024, Some(10), Some(0)), Ok((10, 0)));
        assert_eq!(
            connection_caps(1024, Some(10), Some(10)),
            Err(
                "--max-streams (10) must be below --max-connections (10), so that health \
                 checks and evaluations still have room when every stream is taken"
                    .to_owned()
            )
        );
        assert!(connection_caps(1024, None, Some(896)).is_err());
    }
}
