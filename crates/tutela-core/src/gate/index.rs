//! The identifier index: which person an IMSI, ICCID, MSISDN or IMEI belongs to, folded from
//! the ledger's `identifier_linked` and `identifier_unlinked` events. Neither the ledger nor
//! the index holds an identifier: both hold its token, a keyed HMAC under the
//! pseudonymisation key file's domain [`TOKEN_DOMAIN`], so whoever reads the store without the
//! key file learns no identifier and cannot test a guessed one.
//!
//! Tokens are kept per key id: after a key rotation, links made under the old key keep
//! working as long as the key stays in the file, and new links are made under the new one.

use rustc_hash::FxHashMap;

use crate::index::Key;

use crate::ledger::EventKind;
use crate::pseudonym::{DomainPseudonyms, Identifier};

/// The pseudonymisation domain of identifier tokens.
pub const TOKEN_DOMAIN: &str = "tutela:identifier-index";

/// Why a value is not the identifier it was said to be. Never holds the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an {kind}: {what}")]
pub struct BadIdentifier {
    pub kind: &'static str,
    pub what: &'static str,
}

/// The canonical form of an identifier (an MSISDN without its `+`), checked for its digits
/// and length; what tokens are made of.
pub fn canonical(kind: Identifier, value: &[u8]) -> Result<&[u8], BadIdentifier> {
    let bad = |what| BadIdentifier {
        kind: kind.name(),
        what,
    };
    let (digits, lengths) = match kind {
        Identifier::Imsi => (value, 15..=15),
        Identifier::Iccid => (value, 18..=20),
        Identifier::Msisdn => (value.strip_prefix(b"+").unwrap_or(value), 7..=15),
        // 15 digits, or 16 for an IMEISV.
        Identifier::Imei => (value, 15..=16),
        Identifier::Iban => return Err(bad("an IBAN is no network identifier")),
    };
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad("only digits"));
    }
    if !lengths.contains(&digits.len()) {
        return Err(bad("wrong number of digits"));
    }
    Ok(digits)
}

/// The token of an identifier under one key: the HMAC of `kind NUL value`.
pub fn token128(keys: &DomainPseudonyms, kind: Identifier, canonical: &[u8]) -> u128 {
    let mut msg = [0u8; 32];
    let name = kind.name().as_bytes();
    let len = name.len() + 1 + canonical.len();
    if len > msg.len() {
        let joined = [name, b"\0", canonical].concat();
        return keys.hmac128(&joined);
    }
    msg[..name.len()].copy_from_slice(name);
    msg[name.len() + 1..len].copy_from_slice(canonical);
    keys.hmac128(&msg[..len])
}

/// The token of `value` as the ledger stores it: 32 lower-case hex digits.
pub fn identifier_token(
    keys: &DomainPseudonyms,
    kind: Identifier,
    value: &str,
) -> Result<String, BadIdentifier> {
    let digits = canonical(kind, value.as_bytes())?;
    Ok(format!("{:032x}", token128(keys, kind, digits)))
}

fn parse_token(token: &str) -> Option<u128> {
    if token.len() != 32
        || !token
            .bytes()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    u128::from_str_radix(token, 16).ok()
}

/// Whether `token` has a token's form.
pub fn is_token(token: &str) -> bool {
    parse_token(token).is_some()
}

/// Changed tokens the index remembers for the gate's caches; a gate further behind forgets
/// every person it resolved.
pub const CHANGE_LOG: usize = 1 << 16;

/// Tokens to persons, per key id.
#[derive(Debug, Default, Clone)]
pub struct IdentifierIndex {
    keys: Vec<(String, FxHashMap<u128, Key>)>,
    links: usize,
    /// The latest changed tokens, the oldest first, at most [`CHANGE_LOG`].
    changes: std::collections::VecDeque<u128>,
    /// Changes ever made.
    changed: u64,
}

impl IdentifierIndex {
    /// Folds one ledger event of `subject`; other kinds than identifier events change nothing.
    /// The latest link of a token wins; an unlink removes the token only from the person it
    /// names, so a late unlink of a reassigned SIM cannot cut its new owner off.
    pub fn apply(&mut self, subject: &str, kind: &EventKind) {
        let EventKind::Identifier {
            key_id,
            token,
            active,
            ..
        } = kind
        else {
            return;
        };
        let Some(token) = parse_token(token) else {
            return;
        };
        let at = match self.keys.iter().position(|(id, _)| id == key_id) {
            Some(at) => at,
            None => {
                self.keys.push((key_id.clone(), FxHashMap::default()));
                self.keys.len() - 1
            }
        };
        let map = &mut self.keys[at].1;
        let changed = if *active {
            match map.insert(token, Key::new(subject)) {
                None => {
                    self.links += 1;
                    true
                }
                Some(old) => old.as_str() != subject,
            }
        } else if map.get(&token).is_some_and(|s| s.as_str() == subject) {
            map.remove(&token);
            self.links -= 1;
            true
        } else {
            false
        };
        if changed {
            if self.changes.len() == CHANGE_LOG {
                self.changes.pop_front();
            }
            self.changes.push_back(token);
            self.changed += 1;
        }
    }

    /// How many links and unlinks changed the index so far.
    pub fn changed(&self) -> u64 {
        self.changed
    }

    /// The tokens changed since the index had changed `cursor` times, or `None` when those
    /// changes are no longer remembered.
    pub fn changes_since(&self, cursor: u64) -> Option<impl Iterator<Item = u128> + '_> {
        let oldest = self.changed - self.changes.len() as u64;
        let skip = usize::try_from(cursor.checked_sub(oldest)?).ok()?;
        Some(self.changes.iter().skip(skip).copied())
    }

    /// The key ids tokens were made under, in the order they first appeared.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(id, _)| id.as_str())
    }

    /// The person a token made under the `key`-th key id belongs to.
    #[inline]
    pub fn person(&self, key: usize, token: u128) -> Option<&str> {
        self.keys.get(key)?.1.get(&token).map(Key::as_str)
    }

    /// Linked identifiers, over every key.
    pub fn len(&self) -> usize {
        self.links
    }

    pub fn is_empty(&self) -> bool {
        self.links == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(kind: Identifier, key_id: &str, token: String, active: bool) -> EventKind {
        EventKind::Identifier {
            kind,
            key_id: key_id.into(),
            token,
            active,
        }
    }

    #[test]
    fn tokens_are_keyed_canonical_and_kind_bound() {
        let k1 = DomainPseudonyms::new("k1", &[7; 32], TOKEN_DOMAIN);
        let k2 = DomainPseudonyms::new("k2", &[8; 32], TOKEN_DOMAIN);
        let t = |k, kind, v| identifier_token(k, kind, v).unwrap_or_else(|e| unreachable!("{e}"));
        let a = t(&k1, Identifier::Msisdn, "+491701234567");
        assert_eq!(a, t(&k1, Identifier::Msisdn, "491701234567"));
        assert_ne!(a, t(&k2, Identifier::Msisdn, "491701234567"));
        assert!(is_token(&a));
        // The same digits as another kind are another token.
        let imsi = t(&k1, Identifier::Imsi, "262011234567890");
        assert_ne!(imsi, t(&k1, Identifier::Imei, "262011234567890"));
        assert!(identifier_token(&k1, Identifier::Imsi, "26201123456789").is_err());
        assert!(identifier_token(&k1, Identifier::Imsi, "26201123456789x").is_err());
        assert!(identifier_token(&k1, Identifier::Iban, "DE02120300000000202051").is_err());
        assert!(!is_token("ABCDEF"));
    }

    #[test]
    fn latest_link_wins_and_unlink_is_per_person() {
        let k = DomainPseudonyms::new("k1", &[7; 32], TOKEN_DOMAIN);
        let digits = b"262011234567890";
        let token = token128(&k, Identifier::Imsi, digits);
        let hex = format!("{token:032x}");
        let mut index = IdentifierIndex::default();
        index.apply("alice", &link(Identifier::Imsi, "k1", hex.clone(), true));
        assert_eq!(index.person(0, token), Some("alice"));
        index.apply("bob", &link(Identifier::Imsi, "k1", hex.clone(), true));
        assert_eq!(index.person(0, token), Some("bob"));
        index.apply("alice", &link(Identifier::Imsi, "k1", hex.clone(), false));
        assert_eq!(index.person(0, token), Some("bob"));
        index.apply("bob", &link(Identifier::Imsi, "k1", hex, false));
        assert_eq!(index.person(0, token), None);
        assert!(index.is_empty());
        index.apply("carol", &EventKind::Erasure);
        assert_eq!(index.key_ids().count(), 1);
        // Four changes: link, relink, (the late unlink changed nothing), unlink.
        assert_eq!(index.changed(), 3);
        assert_eq!(index.changes_since(1).map(|c| c.count()), Some(2));
    }
}
