//! Hot-reloading file source.
