//! Persons found through the network identifiers linked to them in tutela's own ledger
//! (`POST /v1/subjects/{id}/identifiers`: IMSI, ICCID, MSISDN, IMEI), for a request's
//! resolution.
//!
//! The ledger holds no identifier, only its keyed token under the pseudonymisation keys' gate
//! domain ([`TOKEN_DOMAIN`]); so does the index here. A request's identifier is turned into
//! its token under every key id of the key file (links made before a rotation keep being
//! found while their key stays in the file) and looked up in an [`IdentifierIndex`] folded
//! from the ledger as the gate folds it: the latest link of a token wins, an unlink removes
//! it from the person it names.
//!
//! The index is built when a request first carries such an identifier, then brought forward
//! by the ledger rows written since (never the whole ledger again), up to the position the
//! engine has applied, so a link the API acknowledged is found by the next request. Without
//! pseudonymisation keys nothing is looked up: no token can exist. No value reaches a log or
//! an error.

use std::sync::{Arc, RwLock};

use tutela_core::gate::index::{canonical, token128};
use tutela_core::gate::{IdentifierIndex, TOKEN_DOMAIN};
use tutela_core::pseudonym::{Identifier, PseudonymKeys};
use tutela_store::{Store, StoreError};

use crate::engine::Engine;

/// The ledger's identifier links, folded, and the keys their tokens are made with.
#[derive(Default)]
pub struct LinkedIdentifiers {
    keys: RwLock<Option<Arc<PseudonymKeys>>>,
    folded: tokio::sync::Mutex<Folded>,
}

#[derive(Default)]
struct Folded {
    index: IdentifierIndex,
    /// The highest ledger sequence number folded into `index`.
    seq: i64,
}

/// One identifier's token under one key id.
struct Token {
    key_id: String,
    token: u128,
}

impl LinkedIdentifiers {
    /// The pseudonymisation keys tokens are made with; replaces any given before.
    pub fn use_keys(&self, keys: Arc<PseudonymKeys>) {
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Some(keys);
    }

    fn keys(&self) -> Option<Arc<PseudonymKeys>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The persons the ledger links an identifier of `ids` to (kinds `imsi`, `iccid`,
    /// `msisdn`, `imei`; other kinds and values that are no such identifier are passed over),
    /// each once, in the order found.
    pub async fn persons(
        &self,
        engine: &Engine,
        ids: &tutela_connectors::Identities,
    ) -> Result<Vec<String>, StoreError> {
        let Some(keys) = self.keys() else {
            return Ok(Vec::new());
        };
        let tokens = tokens_of(&keys, ids);
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let mut folded = self.folded.lock().await;
        // Up to what the engine applied: every row up to there is committed and in order.
        let applied = engine.applied_seq();
        if folded.seq < applied {
            let events = engine.store.events_after(folded.seq).await?;
            for e in events.iter().take_while(|e| e.seq <= applied) {
                folded.index.apply(&e.subject, &e.kind);
                folded.seq = e.seq;
            }
        }
        let mut persons: Vec<String> = Vec::new();
        for t in &tokens {
            let Some(at) = folded.index.key_ids().position(|id| id == t.key_id) else {
                continue;
            };
            // Under each key the latest link wins; a SIM relinked under another key than the
            // old owner's link may find both, and the agent names the one the check was about.
            if let Some(p) = folded.index.person(at, t.token)
                && !persons.iter().any(|q| q == p)
            {
                persons.push(p.to_owned());
            }
        }
        Ok(persons)
    }
}

/// The tokens of the network identifiers in `ids` under every key id of `keys`.
fn tokens_of(keys: &PseudonymKeys, ids: &tutela_connectors::Identities) -> Vec<Token> {
    let domains: Vec<_> = keys
        .ids()
        .filter_map(|id| keys.domain(TOKEN_DOMAIN, Some(id)).ok())
        .collect();
    let mut tokens = Vec::new();
    for (name, values) in ids {
        let kind = match Identifier::parse(&name.to_ascii_lowercase()) {
            Some(Identifier::Iban) | None => continue,
            Some(k) => k,
        };
        for value in values {
            // A requester may group the digits; the ledger's tokens are of the digits alone.
            let compact: String = value
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '-')
                .collect();
            let Ok(digits) = canonical(kind, compact.as_bytes()) else {
                continue;
            };
            for d in &domains {
                tokens.push(Token {
                    key_id: d.key_id().to_owned(),
                    token: token128(d, kind, digits),
                });
            }
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;
    use tutela_core::gate::identifier_token;

    #[test]
    fn tokens_are_those_the_ledger_stores_under_every_key() {
        let mut keys = PseudonymKeys::new("k1", [7; 32]);
        keys.rotate("k2", [8; 32]);
        let ids: tutela_connectors::Identities = [
            ("IMSI".to_owned(), vec!["262 01 1234567890".to_owned()]),
            ("msisdn".to_owned(), vec!["+49 170 1234567".to_owned()]),
            ("imei".to_owned(), vec!["not an imei".to_owned()]),
            ("email".to_owned(), vec!["a@example.org".to_owned()]),
        ]
        .into();
        let tokens = tokens_of(&keys, &ids);
        let hex: Vec<(String, String)> = tokens
            .iter()
            .map(|t| (t.key_id.clone(), format!("{:032x}", t.token)))
            .collect();
        let stored = |id: &str, kind, value: &str| {
            let d = keys
                .domain(TOKEN_DOMAIN, Some(id))
                .unwrap_or_else(|e| unreachable!("{e}"));
            (
                id.to_owned(),
                identifier_token(&d, kind, value).unwrap_or_else(|e| unreachable!("{e}")),
            )
        };
        assert_eq!(
            hex,
            vec![
                stored("k1", Identifier::Imsi, "262011234567890"),
                stored("k2", Identifier::Imsi, "262011234567890"),
                stored("k1", Identifier::Msisdn, "491701234567"),
                stored("k2", Identifier::Msisdn, "491701234567"),
            ]
        );
    }
}
