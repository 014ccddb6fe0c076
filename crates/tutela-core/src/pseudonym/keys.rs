//! The pseudonymisation key file, as text. Reading and writing the file is the caller's: the
//! core does no IO. The secrets never reach a log: `Debug` shows key ids only.
//!
//! ```text
//! active pk-3f2a9c1e
//! key pk-3f2a9c1e <64 hex digits>
//! key pk-0b17d4aa <64 hex digits>
//! ```

use std::collections::BTreeMap;

use super::DomainPseudonyms;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    #[error("{origin}:{line}: {what}")]
    Syntax {
        origin: String,
        line: usize,
        what: &'static str,
    },
    #[error("no pseudonymisation key `{0}` in the key file")]
    UnknownKey(String),
}

#[derive(Clone, PartialEq, Eq)]
pub struct PseudonymKeys {
    active: String,
    keys: BTreeMap<String, [u8; 32]>,
}

impl std::fmt::Debug for PseudonymKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PseudonymKeys")
            .field("active", &self.active)
            .field("ids", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl PseudonymKeys {
    /// A key set of one key, `id`, made of `secret` (random bytes from the caller).
    pub fn new(id: &str, secret: [u8; 32]) -> PseudonymKeys {
        PseudonymKeys {
            active: id.to_owned(),
            keys: BTreeMap::from([(id.to_owned(), secret)]),
        }
    }

    /// Adds `id` and makes it the active key; pseudonyms made under the old keys stay
    /// reversible as long as their keys stay in the file.
    pub fn rotate(&mut self, id: &str, secret: [u8; 32]) {
        self.keys.insert(id.to_owned(), secret);
        self.active = id.to_owned();
    }

    pub fn active_id(&self) -> &str {
        &self.active
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// The pseudonyms of `domain` under key `id`, or under the active key.
    pub fn domain(&self, domain: &str, id: Option<&str>) -> Result<DomainPseudonyms, KeyFileError> {
        let id = id.unwrap_or(&self.active);
        let secret = self
            .keys
            .get(id)
            .ok_or_else(|| KeyFileError::UnknownKey(id.to_owned()))?;
        Ok(DomainPseudonyms::new(id, secret, domain))
    }

    /// `origin` names the file or variable in errors, with the line.
    pub fn parse(origin: &str, text: &str) -> Result<PseudonymKeys, KeyFileError> {
        let bad = |line, what| KeyFileError::Syntax {
            origin: origin.to_owned(),
            line,
            what,
        };
        let mut active = None;
        let mut keys = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            match l.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["active", id] => active = Some((*id).to_owned()),
                ["key", id, k] => {
                    let k = crate::hex::decode_32(k)
                        .ok_or_else(|| bad(i + 1, "a key is 64 hex digits"))?;
                    if keys.insert((*id).to_owned(), k).is_some() {
                        return Err(bad(i + 1, "this key id appears twice"));
                    }
                }
                _ => return Err(bad(i + 1, "expected `active ID` or `key ID HEX`")),
            }
        }
        let active = active.ok_or_else(|| bad(0, "no `active ID` line"))?;
        if !keys.contains_key(&active) {
            return Err(bad(0, "the active key id has no `key` line"));
        }
        Ok(PseudonymKeys { active, keys })
    }

    pub fn format(&self) -> String {
        let mut out = String::from(
            "# tutela pseudonymisation keys. Keep this file apart from the data and its backups:\n\
             # whoever holds it can link pseudonyms to persons and reverse FF1 pseudonyms.\n",
        );
        out.push_str(&format!("active {}\n", self.active));
        for (id, k) in &self.keys {
            out.push_str(&format!("key {id} {}\n", crate::hex::encode(k)));
        }
        out
    }
}
