//! `flags`: check, evaluate, serve and edit feature flags.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use flags_server::output;
use flags_server::{check, eval, ops, server};

/// Feature flags and percentage rollouts from one flag file.
#[derive(Parser)]
#[command(name = "flags", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate flag files: a summary line each when valid, every problem as
    /// FILE:LINE:COL: PATH: message on stderr (exit 1) when not.
    Check {
        /// Flag files to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Evaluate flags: JSON Lines requests {"flag": ..., "context": {...}} on
    /// stdin, one JSON result line each on stdout, in order, written as soon
    /// as the requests received so far are answered. A line over 1 MiB is
    /// answered with an error and skipped.
    Eval(eval::Args),
    /// Serve flags over HTTP from a hot-reloading flag file.
    Serve(server::Args),
    #[command(flatten)]
    Ops(ops::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let status = match cli.command {
        Command::Check { files } => check::run(&files),
        Command::Eval(args) => eval::run(&args),
        Command::Serve(args) => server::run(args),
        Command::Ops(command) => ops::run(command),
    };
    // A closed stdout is not a failure (`flags status | head`); a write
    // that failed otherwise (a full disk) lost output, so it is one.
    if let Some(error) = output::failure() {
        eprintln!("flags: cannot write to standard output: {error}");
        return ExitCode::FAILURE;
    }
    status
}
