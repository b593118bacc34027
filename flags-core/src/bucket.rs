//! Deterministic bucketing: SipHash-2-4 with the all-zero key over the UTF-8
//! bytes of `salt + ":" + value` (or `salt + ":variant:" + value`), modulo
//! 10,000. See `docs/bucketing.md` for the full specification.
//!
//! Each flag keeps a hasher that has already absorbed its `salt:` prefix, so
//! an evaluation hashes only the context value.

use std::hash::Hasher;

use siphasher::sip::SipHasher24;

/// Number of buckets: one per basis point.
pub(crate) const BUCKETS: u64 = 10_000;

/// A SipHash-2-4 state primed with a flag's salt and a separator.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Prefix(SipHasher24);

impl Prefix {
    pub fn new(salt: &str, separator: &str) -> Self {
        let mut hasher = SipHasher24::new_with_keys(0, 0);
        // `Hasher::write` streams raw bytes: no length prefix, no 0xFF
        // terminator (which `Hash for str` would add).
        hasher.write(salt.as_bytes());
        hasher.write(separator.as_bytes());
        Self(hasher)
    }

    /// The bucket (0..10000) of `value` under this prefix.
    #[inline]
    pub fn bucket(&self, value: &str) -> u16 {
        let mut hasher = self.0;
        hasher.write(value.as_bytes());
        // The remainder is below 10,000, so it fits in a u16.
        (hasher.finish() % BUCKETS) as u16
    }
}

/// The rollout bucket (0..10000) of `value` for a flag with `salt`:
/// `SipHash-2-4(key 0, UTF-8(salt + ":" + value)) mod 10000`.
///
/// ```
/// // User 42 lands in bucket 374 of 10,000: inside a 12.5% rollout (buckets
/// // 0..1250). The worked example of docs/bucketing.md, computed by the
/// // independent reference: flags_ref.bucket_of("enrollment_service", "42") == 374.
/// assert_eq!(flags_core::bucket("enrollment_service", "42"), 374);
/// ```
pub fn bucket(salt: &str, value: &str) -> u16 {
    Prefix::new(salt, ":").bucket(value)
}

/// The variant bucket (0..10000) of `value` for a flag with `salt`:
/// `SipHash-2-4(key 0, UTF-8(salt + ":variant:" + value)) mod 10000`.
pub fn variant_bucket(salt: &str, value: &str) -> u16 {
    Prefix::new(salt, ":variant:").bucket(value)
}

/// A bare SipHash-2-4 with the all-zero key of `bytes`: the floor under the
/// cost of an evaluation, exposed for benchmarks and cross-checks.
pub fn siphash24(bytes: &[u8]) -> u64 {
    let mut hasher = SipHasher24::new_with_keys(0, 0);
    hasher.write(bytes);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known answers from the SipHash reference implementation (vectors.h):
    /// key 00..0f, message 00..(n-1).
    #[test]
    fn matches_the_reference_implementation() {
        let key: Vec<u8> = (0u8..16).collect();
        let k0 = u64::from_le_bytes(key[..8].try_into().expect("8 bytes"));
        let k1 = u64::from_le_bytes(key[8..].try_into().expect("8 bytes"));
        let hash = |n: u8| {
            let mut h = SipHasher24::new_with_keys(k0, k1);
            h.write(&(0..n).collect::<Vec<u8>>());
            h.finish()
        };
        assert_eq!(
            hash(0),
            u64::from_le_bytes([0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72])
        );
        assert_eq!(
            hash(1),
            u64::from_le_bytes([0xfd, 0x67, 0xdc, 0x93, 0xc5, 0x39, 0xf8, 0x74])
        );
        assert_eq!(
            hash(15),
            u64::from_le_bytes([0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1])
        );
    }

    #[test]
    fn streaming_equals_one_shot() {
        let prefix = Prefix::new("checkout", ":");
        for value in ["", "42", "José", "日本語", "👩‍💻", &"x".repeat(100)] {
            let whole = siphash24(format!("checkout:{value}").as_bytes()) % BUCKETS;
            assert_eq!(u64::from(prefix.bucket(value)), whole, "{value}");
        }
    }
}
