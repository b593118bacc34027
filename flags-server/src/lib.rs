//! The `flags` command: check, evaluate, serve and edit flag files.
//!
//! [`cli`] holds the commands, one module each; [`server`] is the HTTP
//! server that `flags serve` runs, a library so that tests can drive
//! [`server::app`] in-process.

pub mod cli;
pub mod server;
