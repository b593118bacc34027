//! The `flags` command line: one module per command (`check`, `eval`,
//! `serve`, `guard`, and the operator commands in `ops`), and how they
//! print. Prometheus is asked through `flags_core::monitor`.
//!
//! `main.rs` parses [`Cli`] and dispatches to the command's `run`.

pub mod check;
pub mod eval;
pub mod guard;
pub mod ops;
pub mod output;
pub mod serve;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Feature flags and percentage rollouts from one flag file.
#[derive(Parser)]
#[command(name = "flags", version, about, long_about = None)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every command of `flags`.
#[derive(Subcommand)]
pub enum Command {
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
    Serve(serve::Args),
    /// The operator commands (set, pilots, kill, ..., status, diff).
    #[command(flatten)]
    Ops(ops::Command),
}
