//! Operator commands that edit a flag file safely.

use std::process::ExitCode;

/// The editing subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Show every flag's state.
    Status {
        /// The flag file.
        file: std::path::PathBuf,
    },
}

/// Runs one editing command.
pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Status { file } => {
            eprintln!("{}: not implemented yet", file.display());
            ExitCode::FAILURE
        }
    }
}
