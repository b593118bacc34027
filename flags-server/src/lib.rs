//! The `flags` command: check, evaluate, serve and edit flag files.
//!
//! The binary is a thin dispatcher over these modules; the HTTP server is a
//! library so that tests can drive [`server::app`] in-process.

pub mod check;
pub mod eval;
pub mod ops;
pub mod output;
pub mod server;
