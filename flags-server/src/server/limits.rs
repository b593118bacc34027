//! Caps on what clients can send and hold open: request bodies,
//! connections and event streams.
//!
//! Every connection costs a file descriptor, so the default caps follow the
//! process's open-file limit: the server first raises its soft limit to the
//! hard one (as Go's runtime does), keeps [`FD_RESERVE`] descriptors back for
//! itself, and serves at most the rest as connections, half of them at most
//! as event streams. Past the connection cap a connection still gets one
//! answer (up to [`OVERFLOW_CONNECTIONS`] at a time, from the reserve), so
//! accepting never fails for lack of descriptors in normal operation.

/// Largest request body accepted.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;
/// Largest `POST /v1/migrations` body accepted: a batch of up to 1,000
/// records (about 150 bytes each).
pub(crate) const MIGRATIONS_BODY_LIMIT: usize = 1024 * 1024;
/// Descriptors kept back from connections: the flag file and its watcher,
/// the runtime, logs, and the connections beyond the cap that get one
/// answer before closing.
pub(crate) const FD_RESERVE: u64 = 128;
/// Connections beyond the cap answered at once; more are closed unanswered.
pub(crate) const OVERFLOW_CONNECTIONS: usize = 32;
/// The largest default connection cap, however high the open-file limit.
const MAX_DEFAULT_CONNECTIONS: u64 = 65_536;
/// The open-file limit assumed where the platform has none to read.
const ASSUMED_OPEN_FILES: u64 = 1024;

/// The default caps for an open-file limit of `open_files`:
/// `(max_connections, max_streams)`.
pub(crate) fn defaults(open_files: u64) -> (usize, usize) {
    let connections = open_files
        .saturating_sub(FD_RESERVE)
        .max(open_files / 2)
        .clamp(1, MAX_DEFAULT_CONNECTIONS);
    let connections = usize::try_from(connections).unwrap_or(usize::MAX);
    (connections, connections / 2)
}

/// How many connections an open-file limit leaves room for (the most a
/// `--max-connections` can be without risking failed accepts).
pub(crate) fn room(open_files: u64) -> u64 {
    open_files.saturating_sub(FD_RESERVE)
}

/// The soft open-file limit in force.
pub(crate) fn open_files() -> u64 {
    #[cfg(unix)]
    if let Ok((soft, _)) = rlimit::getrlimit(rlimit::Resource::NOFILE) {
        return soft;
    }
    ASSUMED_OPEN_FILES
}

/// Raises the soft open-file limit to the hard limit where it is lower, and
/// returns the limit then in force.
pub(crate) fn raise_open_files() -> u64 {
    #[cfg(unix)]
    if let Ok((soft, hard)) = rlimit::getrlimit(rlimit::Resource::NOFILE) {
        // A hard limit of "unlimited" cannot be the soft one on Linux (the
        // kernel caps it at nr_open); keep the soft limit when raising fails.
        if soft < hard && rlimit::setrlimit(rlimit::Resource::NOFILE, hard, hard).is_ok() {
            return hard;
        }
        return soft;
    }
    ASSUMED_OPEN_FILES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_open_file_limit() {
        assert_eq!(defaults(1024), (896, 448));
        assert_eq!(defaults(256), (128, 64));
        // Small limits keep half for connections rather than nothing.
        assert_eq!(defaults(100), (50, 25));
        assert_eq!(defaults(1), (1, 0));
        assert_eq!(defaults(0), (1, 0));
        assert_eq!(defaults(u64::MAX), (65_536, 32_768));
    }
}
