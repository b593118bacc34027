//! The `flags` command: check, evaluate, serve and edit flag files.
//!
//! [`cli`] holds the commands, one module each; [`server`] is the HTTP
//! server that `flags serve` runs, a library so that tests can drive
//! [`server::app`] in-process. Both use `wire`: one evaluation's result as
//! JSON and the reading of a context, so that `flags eval` and the server
//! answer alike. `cli` imports `server`, never the other way round.

pub mod cli;
pub mod server;
mod wire;
