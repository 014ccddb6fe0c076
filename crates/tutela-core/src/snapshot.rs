//! A snapshot of every person's decision state, as bytes a store can keep.
//!
//! Folding the whole ledger at start costs microseconds per event; a snapshot costs one copy
//! per person. A snapshot is only meaningful with the compiled policy that folded it (bit
//! positions come from the policy), so stores keep it under the policy version, and a server
//! replays the ledger events after the snapshot's last sequence number on top of it.
//!
//! The bytes are split into chunks so that no single row grows without bound. Each chunk is
//! self-describing: `TSNP`, the format version, the entry count, then per entry the id (u16
//! length and UTF-8 bytes) and the state (four u64 bit sets, flags, relationship, contract
//! kind), all little-endian.

use crate::basis::{ContractKind, Relationship};
use crate::index::StateIndex;
use crate::state::SubjectState;

const MAGIC: &[u8; 4] = b"TSNP";
/// Bumped whenever the layout of [`SubjectState`] or of this encoding changes.
pub const FORMAT: u16 = 1;
const HEADER: usize = 4 + 2 + 4;
const STATE: usize = 4 * 8 + 3;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SnapshotError {
    #[error("snapshot chunk does not start with the snapshot marker")]
    NotASnapshot,
    #[error("snapshot format {found} is not the format {FORMAT} this build reads")]
    Format { found: u16 },
    #[error("snapshot chunk is truncated at byte {at}")]
    Truncated { at: usize },
    #[error("snapshot entry at byte {at} holds an invalid value")]
    Invalid { at: usize },
}

/// Encodes the index in chunks of at most `per_chunk` persons (at least one chunk).
pub fn encode(index: &StateIndex, per_chunk: usize) -> Vec<Vec<u8>> {
    let per_chunk = per_chunk.max(1);
    let mut chunks = Vec::with_capacity(index.len() / per_chunk + 1);
    let mut current: Option<(Vec<u8>, u32)> = None;
    for (id, state) in index.iter() {
        let (buf, count) = current.get_or_insert_with(|| (new_chunk(per_chunk), 0));
        put_entry(buf, id, state);
        *count += 1;
        if *count as usize == per_chunk
            && let Some((buf, count)) = current.take()
        {
            chunks.push(finish(buf, count));
        }
    }
    match current {
        Some((buf, count)) => chunks.push(finish(buf, count)),
        None if chunks.is_empty() => chunks.push(finish(new_chunk(0), 0)),
        None => {}
    }
    chunks
}

fn new_chunk(per_chunk: usize) -> Vec<u8> {
    let mut buf = Vec::with_capacity(HEADER + per_chunk * (STATE + 12));
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&FORMAT.to_le_bytes());
    buf.extend_from_slice(&0u32.to_le_bytes());
    buf
}

fn finish(mut buf: Vec<u8>, count: u32) -> Vec<u8> {
    buf[6..10].copy_from_slice(&count.to_le_bytes());
    buf
}

fn put_entry(buf: &mut Vec<u8>, id: &str, s: &SubjectState) {
    // Subject ids are at most 128 characters (checked at the API), so they fit a u16.
    let len = u16::try_from(id.len()).unwrap_or(u16::MAX);
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&id.as_bytes()[..usize::from(len)]);
    // The two Art. 49 masks share the fourth word; a snapshot written when the word held
    // transfer consents alone reads the same, as no policy had more than 32 third countries.
    let art49 = u64::from(s.transfer_consents) | u64::from(s.transfer_necessities) << 32;
    for bits in [s.consents, s.withdrawn, s.objected, art49] {
        buf.extend_from_slice(&bits.to_le_bytes());
    }
    buf.push(s.flags);
    buf.push(s.relationship as u8);
    buf.push(s.contract_kind as u8);
}

/// Adds the persons of one chunk to `index`; returns how many it held.
pub fn decode_into(index: &mut StateIndex, chunk: &[u8]) -> Result<usize, SnapshotError> {
    if chunk.len() < HEADER || &chunk[..4] != MAGIC {
        return Err(SnapshotError::NotASnapshot);
    }
    let found = u16::from_le_bytes([chunk[4], chunk[5]]);
    if found != FORMAT {
        return Err(SnapshotError::Format { found });
    }
    let count = u32::from_le_bytes([chunk[6], chunk[7], chunk[8], chunk[9]]) as usize;
    let mut at = HEADER;
    for _ in 0..count {
        let len = chunk
            .get(at..at + 2)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
            .ok_or(SnapshotError::Truncated { at })?;
        let start = at;
        at += 2;
        let id = chunk
            .get(at..at + len)
            .ok_or(SnapshotError::Truncated { at })?;
        let id = std::str::from_utf8(id).map_err(|_| SnapshotError::Invalid { at: start })?;
        at += len;
        let b = chunk
            .get(at..at + STATE)
            .ok_or(SnapshotError::Truncated { at })?;
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w)
        };
        let relationship = match b[33] {
            0 => Relationship::Unknown,
            1 => Relationship::Prospect,
            2 => Relationship::Customer,
            3 => Relationship::FormerCustomer,
            _ => return Err(SnapshotError::Invalid { at: start }),
        };
        let contract_kind = match b[34] {
            0 => ContractKind::Other,
            1 => ContractKind::Telecommunications,
            _ => return Err(SnapshotError::Invalid { at: start }),
        };
        *index.get_or_insert(id) = SubjectState {
            consents: word(0),
            withdrawn: word(1),
            objected: word(2),
            transfer_consents: word(3) as u32,
            transfer_necessities: (word(3) >> 32) as u32,
            flags: b[32],
            relationship,
            contract_kind,
        };
        at += STATE;
    }
    if at != chunk.len() {
        return Err(SnapshotError::Invalid { at });
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::{SnapshotError, decode_into, encode};
    use crate::basis::{ContractKind, Relationship};
    use crate::index::StateIndex;
    use crate::state::{ERASED, KNOWN, SubjectState};

    fn sample(n: usize) -> StateIndex {
        let mut idx = StateIndex::default();
        for i in 0..n {
            let s = idx.get_or_insert(&format!("C{i:08}-{}", "ä".repeat(i % 17)));
            *s = SubjectState {
                consents: i as u64 * 7,
                withdrawn: u64::MAX - i as u64,
                objected: 1 << (i % 64),
                transfer_consents: 3,
                transfer_necessities: 1 << (i % 32),
                flags: KNOWN | if i % 5 == 0 { ERASED } else { 0 },
                relationship: Relationship::KNOWN[i % 3],
                contract_kind: if i % 2 == 0 {
                    ContractKind::Telecommunications
                } else {
                    ContractKind::Other
                },
            };
        }
        idx
    }

    #[test]
    fn a_snapshot_round_trips_in_chunks() {
        let idx = sample(1000);
        let chunks = encode(&idx, 128);
        assert_eq!(chunks.len(), 8);
        let mut back = StateIndex::default();
        let mut n = 0;
        for c in &chunks {
            n += decode_into(&mut back, c).expect("decodes");
        }
        assert_eq!(n, 1000);
        assert_eq!(back.len(), 1000);
        for (id, s) in idx.iter() {
            assert_eq!(back.get(id), Some(s), "{id}");
        }
    }

    #[test]
    fn an_empty_index_is_one_empty_chunk() {
        let chunks = encode(&StateIndex::default(), 10);
        assert_eq!(chunks.len(), 1);
        let mut back = StateIndex::default();
        assert_eq!(decode_into(&mut back, &chunks[0]), Ok(0));
    }

    #[test]
    fn damaged_chunks_are_errors_not_panics() {
        let chunk = encode(&sample(3), 10).remove(0);
        let mut idx = StateIndex::default();
        assert_eq!(
            decode_into(&mut idx, b"nope"),
            Err(SnapshotError::NotASnapshot)
        );
        let mut other = chunk.clone();
        other[4] = 99;
        assert_eq!(
            decode_into(&mut idx, &other),
            Err(SnapshotError::Format { found: 99 })
        );
        for cut in 10..chunk.len() {
            assert!(
                decode_into(&mut idx, &chunk[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut longer = chunk.clone();
        longer.push(0);
        assert!(decode_into(&mut idx, &longer).is_err());
    }
}
