//! `flags serve`: the HTTP API over a hot-reloading flag file.

use std::process::ExitCode;

/// Options of `flags serve`.
#[derive(clap::Args)]
pub struct Args {
    /// The flag file to serve.
    file: std::path::PathBuf,
}

/// Runs the server until SIGTERM or Ctrl-C.
pub fn run(args: Args) -> ExitCode {
    eprintln!("{}: not implemented yet", args.file.display());
    ExitCode::FAILURE
}
