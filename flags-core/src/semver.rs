//! Strict SemVer 2.0.0 parsing and precedence, without allocating.
//!
//! Conditions compare a context value (an app version sent by a mobile build,
//! say) on every evaluation, so this borrows from the input and compares
//! numeric identifiers as digit strings: no allocation and no overflow.
//! Build metadata is parsed and validated but ignored for precedence, as the
//! specification requires.

use std::cmp::Ordering;

/// A version borrowed from the text it was parsed from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Version<'a> {
    major: &'a str,
    minor: &'a str,
    patch: &'a str,
    /// Pre-release identifiers joined by `.`; empty when there are none.
    pre: &'a str,
}

impl<'a> Version<'a> {
    /// Parses `MAJOR.MINOR.PATCH[-PRE][+BUILD]`; `None` when `text` is not a
    /// valid SemVer 2.0.0 version (no `v` prefix, no leading zeros, no
    /// missing parts, no empty identifiers).
    pub fn parse(text: &'a str) -> Option<Self> {
        let (rest, build) = match text.split_once('+') {
            Some((rest, build)) => (rest, Some(build)),
            None => (text, None),
        };
        if let Some(build) = build {
            if !build.split('.').all(is_build_identifier) {
                return None;
            }
        }
        let (core, pre) = match rest.split_once('-') {
            Some((core, pre)) => {
                if !pre.split('.').all(is_pre_identifier) {
                    return None;
                }
                (core, pre)
            }
            None => (rest, ""),
        };
        let mut parts = core.split('.');
        let major = parts.next().filter(|p| is_core_number(p))?;
        let minor = parts.next().filter(|p| is_core_number(p))?;
        let patch = parts.next().filter(|p| is_core_number(p))?;
        if parts.next().is_some() {
            return None;
        }
        Some(Version {
            major,
            minor,
            patch,
            pre,
        })
    }

    /// SemVer 2.0.0 precedence (section 11).
    pub fn precedence(&self, other: &Version<'_>) -> Ordering {
        cmp_numeric(self.major, other.major)
            .then_with(|| cmp_numeric(self.minor, other.minor))
            .then_with(|| cmp_numeric(self.patch, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => cmp_pre(self.pre, other.pre),
            })
    }
}

/// A version from the flag file, validated and split once at load, so an
/// evaluation parses only the context's value.
#[derive(Debug)]
pub(crate) struct Bound {
    text: Box<str>,
    /// Byte ranges of major, minor, patch and the pre-release in `text`.
    parts: [(u32, u32); 4],
}

impl Bound {
    /// `None` when `text` is not a valid version.
    pub fn parse(text: &str) -> Option<Bound> {
        let v = Version::parse(text)?;
        let range = |part: &str| {
            // Every part is a subslice of `text` (or empty).
            let start = part.as_ptr() as usize - text.as_ptr() as usize;
            (start as u32, (start + part.len()) as u32)
        };
        let pre = if v.pre.is_empty() {
            (0, 0)
        } else {
            range(v.pre)
        };
        Some(Bound {
            parts: [range(v.major), range(v.minor), range(v.patch), pre],
            text: text.into(),
        })
    }

    /// The version as written in the file.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn version(&self) -> Version<'_> {
        let part = |(a, b): (u32, u32)| &self.text[a as usize..b as usize];
        Version {
            major: part(self.parts[0]),
            minor: part(self.parts[1]),
            patch: part(self.parts[2]),
            pre: part(self.parts[3]),
        }
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn no_leading_zero(s: &str) -> bool {
    s == "0" || !s.starts_with('0')
}

/// A major, minor or patch number: digits, no leading zero, fits in 64 bits
/// (as every mainstream SemVer library requires).
fn is_core_number(s: &str) -> bool {
    is_digits(s) && no_leading_zero(s) && s.parse::<u64>().is_ok()
}

fn is_identifier_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

fn is_pre_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_identifier_char) && (!is_digits(s) || no_leading_zero(s))
}

fn is_build_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_identifier_char)
}

/// Compares two digit strings without leading zeros as numbers.
fn cmp_numeric(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn cmp_pre(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (is_digits(x), is_digits(y)) {
                    (true, true) => cmp_numeric(x, y),
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (false, false) => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(s: &str) -> Version<'_> {
        Version::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn follows_the_specification_example_order() {
        // SemVer 2.0.0, section 11.
        let ordered = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "2.0.0",
            "2.1.0",
            "2.1.1",
            "10.0.0",
        ];
        for pair in ordered.windows(2) {
            assert_eq!(
                v(pair[0]).precedence(&v(pair[1])),
                Ordering::Less,
                "{pair:?}"
            );
            assert_eq!(
                v(pair[1]).precedence(&v(pair[0])),
                Ordering::Greater,
                "{pair:?}"
            );
        }
        assert_eq!(
            v("1.0.0+build.1").precedence(&v("1.0.0+other")),
            Ordering::Equal
        );
    }

    #[test]
    fn bounds_compare_like_their_text() {
        for text in ["3.2.0", "1.0.0-rc.1+build.5", "10.20.30-alpha.beta"] {
            let bound = Bound::parse(text).expect("valid");
            assert_eq!(bound.as_str(), text);
            for other in ["3.2.0", "1.0.0-rc.1", "1.0.0", "10.20.30-alpha", "10.20.30"] {
                assert_eq!(
                    v(other).precedence(&bound.version()),
                    v(other).precedence(&v(text))
                );
            }
        }
        assert!(Bound::parse("v1.0.0").is_none());
    }

    #[test]
    fn rejects_invalid_versions() {
        for bad in [
            "",
            "3.2",
            "v3.2.0",
            "03.2.0",
            "3.02.0",
            "3.2.0.1",
            "3.2.0-",
            "3.2.0+",
            "3.2.0-01",
            "3.2.0-a..b",
            "3.2.0-é",
            " 3.2.0",
            "3.2.0 ",
            "18446744073709551616.0.0",
            "3.2.0+a+b",
            "-1.0.0",
            "1.0.0-beta_1",
        ] {
            assert!(Version::parse(bad).is_none(), "accepted {bad:?}");
        }
        for good in [
            "0.0.0",
            "1.0.0-0A.is.legal",
            "1.0.0-x-y-z.--",
            "1.0.0+0001",
            "1.0.0-rc.1+build.1",
        ] {
            assert!(Version::parse(good).is_some(), "rejected {good:?}");
        }
    }

    fn version_text() -> impl Strategy<Value = String> {
        let num = prop_oneof![Just("0".to_owned()), "[1-9][0-9]{0,3}"];
        let pre_id = prop_oneof![num.clone(), "[0-9A-Za-z-]{1,4}", "0[0-9]{1,2}"];
        let pre = prop::collection::vec(pre_id, 0..3);
        let build = prop::collection::vec("[0-9A-Za-z-]{1,3}", 0..2);
        (num.clone(), num.clone(), num, pre, build).prop_map(|(a, b, c, pre, build)| {
            let mut s = format!("{a}.{b}.{c}");
            if !pre.is_empty() {
                s = format!("{s}-{}", pre.join("."));
            }
            if !build.is_empty() {
                s = format!("{s}+{}", build.join("."));
            }
            s
        })
    }

    proptest! {
        /// The `semver` crate is the oracle: same validity, same precedence.
        #[test]
        fn agrees_with_the_semver_crate(a in version_text(), b in version_text()) {
            let ours = (Version::parse(&a), Version::parse(&b));
            let theirs = (semver::Version::parse(&a), semver::Version::parse(&b));
            prop_assert_eq!(ours.0.is_some(), theirs.0.is_ok(), "{}", a);
            prop_assert_eq!(ours.1.is_some(), theirs.1.is_ok(), "{}", b);
            if let ((Some(x), Some(y)), (Ok(p), Ok(q))) = (ours, theirs) {
                prop_assert_eq!(x.precedence(&y), p.cmp_precedence(&q), "{} vs {}", a, b);
            }
        }
    }
}
