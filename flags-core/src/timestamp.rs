//! Points in time as Unix milliseconds, the unit ramps are computed in.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::Error;

/// A point in time, in whole milliseconds since the Unix epoch (UTC).
///
/// Evaluation never reads the clock itself: the caller passes the time, so
/// results are reproducible (tests, replays, `flags eval --now`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The time `millis` milliseconds after the Unix epoch.
    pub const fn from_unix_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// Parses an RFC 3339 time with an offset (`2026-11-21T00:00:00Z`,
    /// `2026-11-21T02:00:00.250+02:00`). Fractions below a millisecond are
    /// dropped (floored).
    pub fn parse_rfc3339(text: &str) -> Result<Self, Error> {
        parse_millis(text)
            .map(Self)
            .ok_or_else(|| Error::time(text))
    }
}

/// The system clock, for callers that evaluate "now".
pub fn now() -> Timestamp {
    let millis = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    };
    Timestamp(millis)
}

/// Unix milliseconds of an RFC 3339 time, floored.
pub(crate) fn parse_millis(text: &str) -> Option<i64> {
    // RFC 3339 separates date and time with `T`; its note allowing a space
    // is for human-readable text, not for files machines read.
    if !matches!(text.as_bytes().get(10), Some(b'T' | b't')) {
        return None;
    }
    let parsed = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    let nanos = parsed.unix_timestamp_nanos();
    i64::try_from(nanos.div_euclid(1_000_000)).ok()
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with milliseconds, e.g. `2026-11-21T00:00:00.000Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = i128::from(self.0) * 1_000_000;
        match OffsetDateTime::from_unix_timestamp_nanos(nanos) {
            Ok(t) => write!(
                f,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.millisecond()
            ),
            Err(_) => write!(f, "{}ms", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_offsets_and_floors_fractions() {
        let t = |s: &str| Timestamp::parse_rfc3339(s).map(Timestamp::unix_millis).ok();
        assert_eq!(t("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(t("2026-11-21T00:00:00Z"), Some(1_795_219_200_000));
        assert_eq!(t("2026-11-21T02:00:00+02:00"), Some(1_795_219_200_000));
        assert_eq!(t("2026-11-21T00:00:00.9999Z"), Some(1_795_219_200_999));
        assert_eq!(t("1969-12-31T23:59:59.9995Z"), Some(-1));
        for bad in [
            "2026-11-21T00:00:00",
            "2026-11-21",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "",
            "2026-11-21 00:00:00Z",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }

    #[test]
    fn displays_utc_millis() {
        let t = Timestamp::from_unix_millis(1_795_219_200_250);
        assert_eq!(t.to_string(), "2026-11-21T00:00:00.250Z");
        assert!(
            now().unix_millis() > 1_577_836_800_000,
            "the clock reads after 2020"
        );
    }
}
