//! Every person's decision state in memory, keyed by their id. One slot is one 64-byte cache
//! line: the id inline (when it has at most 22 bytes, as customer numbers do) and the 40-byte
//! state, so a lookup touches one line of the table besides its control bytes.

use std::hash::Hasher;

use hashbrown::HashTable;
use rustc_hash::FxHasher;

use crate::state::SubjectState;

const INLINE: usize = 22;

/// A person id stored inline when short (the common case), so a table of them needs no
/// pointer chase per lookup.
#[derive(Clone, Debug)]
pub(crate) enum Key {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl Key {
    pub(crate) fn new(id: &str) -> Key {
        let b = id.as_bytes();
        if b.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..b.len()].copy_from_slice(b);
            Key::Inline {
                len: b.len() as u8,
                bytes,
            }
        } else {
            Key::Heap(id.into())
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Inline keys are copied from a `&str` whole, so they are valid UTF-8.
            Key::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            Key::Heap(s) => s,
        }
    }

    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Key::Heap(s) => s.as_bytes(),
        }
    }
}

#[derive(Clone, Debug)]
#[repr(C, align(64))]
struct Slot {
    key: Key,
    state: SubjectState,
}

#[inline]
pub(crate) fn hash(bytes: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(bytes);
    h.finish()
}

/// Decision states by person id.
#[derive(Clone, Default)]
pub struct StateIndex {
    table: HashTable<Slot>,
}

impl StateIndex {
    pub fn with_capacity(n: usize) -> StateIndex {
        StateIndex {
            table: HashTable::with_capacity(n),
        }
    }

    /// The person's state, or `None` for a person tutela has never heard of.
    #[inline]
    pub fn get(&self, id: &str) -> Option<&SubjectState> {
        let b = id.as_bytes();
        self.table
            .find(hash(b), |s| s.key.as_bytes() == b)
            .map(|s| &s.state)
    }

    /// The person's state; an unknown person has the empty state.
    #[inline]
    pub fn state(&self, id: &str) -> &SubjectState {
        self.get(id).unwrap_or(&SubjectState::UNKNOWN)
    }

    /// The person's state for changing it, created empty when missing.
    pub fn get_or_insert(&mut self, id: &str) -> &mut SubjectState {
        let b = id.as_bytes();
        let h = hash(b);
        let entry = self
            .table
            .entry(h, |s| s.key.as_bytes() == b, |s| hash(s.key.as_bytes()));
        &mut entry
            .or_insert_with(|| Slot {
                key: Key::new(id),
                state: SubjectState::UNKNOWN,
            })
            .into_mut()
            .state
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Every person's id and state, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &SubjectState)> {
        self.table.iter().map(|s| (s.key.as_str(), &s.state))
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Bytes of the table's slots (not counting ids longer than 22 bytes).
    pub fn slot_bytes() -> usize {
        std::mem::size_of::<Slot>()
    }
}

#[cfg(test)]
mod tests {
    use super::StateIndex;
    use crate::state::{RESTRICTED, SubjectState};

    #[test]
    fn a_slot_is_one_cache_line() {
        assert_eq!(StateIndex::slot_bytes(), 64);
    }

    #[test]
    fn short_and_long_ids_round_trip() {
        let mut idx = StateIndex::default();
        let long = "x".repeat(100);
        for id in ["C00000001", "", "ä-ü", long.as_str()] {
            idx.get_or_insert(id).flags |= RESTRICTED;
        }
        for id in ["C00000001", "", "ä-ü", long.as_str()] {
            assert!(idx.state(id).has(RESTRICTED), "{id}");
        }
        assert_eq!(idx.state("C00000002"), &SubjectState::UNKNOWN);
        assert!(idx.get(&"x".repeat(99)).is_none());
        assert_eq!(idx.len(), 4);
    }
}
