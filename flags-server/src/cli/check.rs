//! `flags check FILE...`

use std::path::PathBuf;
use std::process::ExitCode;

use flags_core::Snapshot;

use super::output;

/// Checks every file; exit status 1 when any is invalid or unreadable.
pub fn run(files: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for file in files {
        match Snapshot::from_path(file) {
            Ok(snapshot) => {
                let n = snapshot.len();
                let plural = if n == 1 { "" } else { "s" };
                let kill = if snapshot.kill_all() {
                    ", kill_all is ON"
                } else {
                    ""
                };
                output::print_line(&format!(
                    "{}: ok, version 1, {n} flag{plural}{kill}",
                    file.display()
                ));
            }
            Err(err) => {
                failed = true;
                eprintln!("{err}");
                let problems = err.diagnostics().len();
                if problems > 1 {
                    eprintln!("{}: {problems} problems", file.display());
                }
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
