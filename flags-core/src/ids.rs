//! A set of ids (`pilots`, `deny`, `in` / `not_in` lists) in a few large
//! allocations.
//!
//! A flag file may list a million pilot ids. As a `HashSet<Box<str>>`, each
//! id cost its own small allocation plus a 16-byte slot: about 66 bytes per
//! id, and freeing millions of small blocks leaves the heap so fragmented
//! that a server keeps that memory after the file shrinks. Here the ids are
//! one sorted, deduplicated text with the end offset of each id, and the
//! hash table holds 4-byte indices into it: about 21 bytes per id, in three
//! allocations that go back to the system whole when the set is dropped.
//! Being sorted, the ids also serialize in order without another sort.

use std::fmt;
use std::hash::BuildHasher as _;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

/// Distinct ids, sorted, with O(1) membership tests.
pub(crate) struct IdSet {
    /// Every id, sorted and concatenated.
    text: Box<str>,
    /// `ends[i]`: where id `i` ends in `text` (it starts where `i - 1` ends).
    ends: Box<[u32]>,
    /// Indices into `ends`, hashed by the id they point at.
    table: HashTable<u32>,
    hasher: RandomState,
}

impl IdSet {
    /// The set of `ids` (duplicates are kept once). `None` when the ids
    /// together exceed 4 GiB, far beyond any file the sources accept.
    pub fn new<'a>(ids: impl IntoIterator<Item = &'a str>) -> Option<IdSet> {
        let mut sorted: Vec<&str> = ids.into_iter().collect();
        sorted.sort_unstable();
        sorted.dedup();
        let len: usize = sorted.iter().map(|id| id.len()).sum();
        u32::try_from(len).ok()?;
        let mut text = String::with_capacity(len);
        let mut ends = Vec::with_capacity(sorted.len());
        for id in &sorted {
            text.push_str(id);
            // Fits: the total length does.
            ends.push(text.len() as u32);
        }
        let hasher = RandomState::default();
        let mut table = HashTable::with_capacity(sorted.len());
        for (i, id) in sorted.iter().enumerate() {
            let hash = hasher.hash_one(id);
            // Fits: fewer ids than bytes.
            let index = i as u32;
            table.insert_unique(hash, index, |&j| hasher.hash_one(slice(&text, &ends, j)));
        }
        Some(IdSet {
            text: text.into_boxed_str(),
            ends: ends.into_boxed_slice(),
            table,
            hasher,
        })
    }

    /// True when `id` is in the set.
    #[inline]
    pub fn contains(&self, id: &str) -> bool {
        let hash = self.hasher.hash_one(id);
        self.table
            .find(hash, |&i| slice(&self.text, &self.ends, i) == id)
            .is_some()
    }

    /// The number of distinct ids.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// The ids in sorted (byte) order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.ends.len()).map(|i| slice(&self.text, &self.ends, i as u32))
    }
}

#[inline]
fn slice<'t>(text: &'t str, ends: &[u32], i: u32) -> &'t str {
    let i = i as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &text[start..ends[i] as usize]
}

impl fmt::Debug for IdSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_order_and_duplicates() {
        let ids = IdSet::new(["b", "", "José", "a", "b", "aa", "10", "9"]).expect("small");
        assert_eq!(ids.len(), 7);
        assert_eq!(
            ids.iter().collect::<Vec<_>>(),
            ["", "10", "9", "José", "a", "aa", "b"]
        );
        for id in ["", "10", "9", "José", "a", "aa", "b"] {
            assert!(ids.contains(id), "{id}");
        }
        for id in ["c", "1", "Jose", "ab", "A", "bb", "aab"] {
            assert!(!ids.contains(id), "{id}");
        }
        let empty = IdSet::new([]).expect("empty");
        assert_eq!(empty.len(), 0);
        assert!(!empty.contains(""));
        assert_eq!(format!("{empty:?}"), "{}");
    }

    #[test]
    fn many_ids() {
        let owned: Vec<String> = (0..10_000).map(|i| format!("user-{i}")).collect();
        let ids = IdSet::new(owned.iter().map(String::as_str)).expect("fits");
        assert_eq!(ids.len(), 10_000);
        assert!(owned.iter().all(|id| ids.contains(id)));
        assert!(!ids.contains("user-10000"));
        assert!(ids.iter().zip(ids.iter().skip(1)).all(|(a, b)| a < b));
    }
}
