//! Following `/v1/stream`: one long request whose Server-Sent Events
//! announce each new version, reconnected with backoff and jitter, and
//! dropped when it goes silent.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher as _, Hasher as _};
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{ACCEPT, CACHE_CONTROL};
use tokio::sync::mpsc;

use super::sse::{SseParser, announced_version};

/// Reconnect delays of the stream.
const STREAM_BACKOFF_MIN: Duration = Duration::from_secs(1);
const STREAM_BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A stream that sent nothing for this long is reconnected (`flags serve`
/// sends a keep-alive comment every 15 s).
const STREAM_IDLE: Duration = Duration::from_secs(60);

/// Follows `/v1/stream` and announces every version it names.
pub(super) struct StreamFollower {
    pub(super) client: reqwest::Client,
    pub(super) url: Url,
    pub(super) timeout: Duration,
}

impl StreamFollower {
    /// Reconnects with backoff until the receiver is gone.
    pub(super) async fn run(self, announce: mpsc::UnboundedSender<String>) {
        let mut backoff = STREAM_BACKOFF_MIN;
        loop {
            match self.follow(&announce).await {
                Ended::Shutdown => return,
                // A stream that worked starts the backoff over.
                Ended::AfterEvents => backoff = STREAM_BACKOFF_MIN,
                Ended::Failed => {}
            }
            tokio::time::sleep(jitter(backoff)).await;
            backoff = (backoff * 2).min(STREAM_BACKOFF_MAX);
        }
    }

    async fn follow(&self, announce: &mpsc::UnboundedSender<String>) -> Ended {
        let request = self
            .client
            .get(self.url.clone())
            .header(ACCEPT, "text/event-stream")
            .header(CACHE_CONTROL, "no-cache")
            .send();
        let mut response = match tokio::time::timeout(self.timeout, request).await {
            Ok(Ok(response)) if response.status().is_success() => response,
            _ => return Ended::Failed,
        };
        let mut parser = SseParser::default();
        let mut events = false;
        loop {
            let chunk = match tokio::time::timeout(STREAM_IDLE, response.chunk()).await {
                Ok(Ok(Some(chunk))) => chunk,
                // Closed, broken or silent for too long.
                _ => break,
            };
            for (event, data) in parser.push(&chunk) {
                if event == "version" {
                    if let Some(version) = announced_version(&data) {
                        events = true;
                        if announce.send(version).is_err() {
                            return Ended::Shutdown;
                        }
                    }
                }
            }
        }
        if announce.is_closed() {
            Ended::Shutdown
        } else if events {
            Ended::AfterEvents
        } else {
            Ended::Failed
        }
    }
}

enum Ended {
    Shutdown,
    AfterEvents,
    Failed,
}

/// `base` shortened by a random part of up to a half, so that many clients
/// do not reconnect in step after a server restart.
fn jitter(base: Duration) -> Duration {
    let random = RandomState::new().build_hasher().finish();
    let half = base / 2;
    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    base - Duration::from_nanos(random % nanos.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_the_upper_half() {
        for _ in 0..100 {
            let d = jitter(Duration::from_secs(8));
            assert!(
                d > Duration::from_secs(4) && d <= Duration::from_secs(8),
                "{d:?}"
            );
        }
    }
}
