//! `flags`: check, evaluate, serve and edit feature flags.

use std::process::ExitCode;

use clap::Parser as _;
use flags_server::cli::{Cli, Command, check, eval, ops, output, serve};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let status = match cli.command {
        Command::Check { files } => check::run(&files),
        Command::Eval(args) => eval::run(&args),
        Command::Serve(args) => serve::run(args),
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
