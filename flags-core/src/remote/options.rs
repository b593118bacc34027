//! Where a [`RemoteSource`](super::RemoteSource) gets its flags and how
//! often it asks.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Where the flags come from and how often to ask.
///
/// ```
/// use std::time::Duration;
/// use flags_core::remote::RemoteOptions;
///
/// let options = RemoteOptions::new("https://flags.example.com");
/// assert_eq!(options.refresh_interval, Duration::from_secs(30));
/// assert_eq!(options.timeout, Duration::from_secs(5));
/// assert!(options.stream);
/// ```
#[derive(Clone)]
pub struct RemoteOptions {
    /// The server's base URL (`http` or `https`), e.g.
    /// `https://flags.example.com/`; `v1/flags` and `v1/stream` are
    /// appended to its path.
    pub url: String,
    /// Where to keep the last good flags for an offline start; `None` for
    /// no cache. The directory must exist.
    pub cache_path: Option<PathBuf>,
    /// Bearer token sent with every request.
    pub token: Option<String>,
    /// How often to ask for a new flag set, stream or not.
    /// [`Duration::ZERO`] turns the periodic refresh off (the stream and
    /// [`RemoteSource::refresh_now`](super::RemoteSource::refresh_now) remain). Default: 30 s.
    pub refresh_interval: Duration,
    /// Limit for each request: connecting, and for a fetch the whole
    /// answer. Must not be zero. Default: 5 s.
    pub timeout: Duration,
    /// Also follow `GET {url}/v1/stream` to fetch as soon as the flags
    /// change. Default: true.
    pub stream: bool,
}

impl RemoteOptions {
    /// The defaults for the server at `url`: no cache, no token, refresh
    /// every 30 s, 5 s timeout, follow the stream.
    pub fn new(url: impl Into<String>) -> RemoteOptions {
        RemoteOptions {
            url: url.into(),
            cache_path: None,
            token: None,
            refresh_interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            stream: true,
        }
    }
}

impl fmt::Debug for RemoteOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteOptions")
            .field("url", &self.url)
            .field("cache_path", &self.cache_path)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("refresh_interval", &self.refresh_interval)
            .field("timeout", &self.timeout)
            .field("stream", &self.stream)
            .finish()
    }
}
