//! The stores' side of the vault: seal what goes into personal columns, open what comes out.
//! A store without a vault (library users, most tests) passes values through unchanged.

use std::collections::HashMap;

use super::{OwnerKind, Vault, VaultError, blind_index_with};
use crate::codec::{keyed_request_hash, request_hash};
use crate::{NewEvent, StoreError, StoredEvent};

/// Events ready for the ledger: the e-mail sealed, with what the plain values give. Evidence and
/// reason are sealed only once their row's sequence number is known ([`SealedEvents::personal`]),
/// since the sealed value is bound to it.
pub(crate) struct SealedEvents {
    pub events: Vec<NewEvent>,
    /// The data keys of the persons with personal attributes; `None` without a vault.
    keys: Option<HashMap<String, [u8; 32]>>,
    /// Fingerprints of the plain events: a retried write matches its first try.
    pub hashes: Vec<String>,
    /// The blind index of each event's e-mail address.
    pub email_index: Vec<Option<String>>,
}

impl SealedEvents {
    /// Keeps the events whose entry in `keep` is true (missing entries count as false).
    pub fn retain(&mut self, keep: &[bool]) {
        let mut i = 0;
        let mut events = std::mem::take(&mut self.events).into_iter();
        let mut hashes = std::mem::take(&mut self.hashes).into_iter();
        let mut index = std::mem::take(&mut self.email_index).into_iter();
        while let (Some(e), Some(h), Some(x)) = (events.next(), hashes.next(), index.next()) {
            if keep.get(i).copied().unwrap_or(false) {
                self.events.push(e);
                self.hashes.push(h);
                self.email_index.push(x);
            }
            i += 1;
        }
    }

    /// The evidence and reason of event `i` as stored in the ledger row `seq`: sealed under the
    /// person's key and bound to that row, or plain without a vault.
    pub fn personal(
        &self,
        i: usize,
        seq: i64,
    ) -> Result<(Option<String>, Option<String>), StoreError> {
        let Some(e) = self.events.get(i) else {
            return Ok((None, None));
        };
        let Some(keys) = &self.keys else {
            return Ok((e.evidence.clone(), e.reason.clone()));
        };
        let owner = OwnerKind::Subject.owner(&e.subject);
        let row = seq.to_string();
        let seal = |field: &str, v: &Option<String>| -> Result<Option<String>, StoreError> {
            let Some(v) = v else { return Ok(None) };
            let key = keys.get(&owner).ok_or(VaultError::Cipher)?;
            Ok(Some(Vault::seal_row_with(
                key,
                OwnerKind::Subject,
                &owner,
                field,
                &row,
                v.as_bytes(),
            )?))
        };
        Ok((seal(EVIDENCE, &e.evidence)?, seal(REASON, &e.reason)?))
    }
}

const EVIDENCE: &str = "ledger_personal.evidence";
/// The column of the operators' sealed TOTP secrets (the associated data names it).
pub(crate) const TOTP_FIELD: &str = "operators.totp_secret";
const REASON: &str = "ledger_personal.reason";

pub(crate) async fn seal_events(
    vault: Option<&Vault>,
    events: &[NewEvent],
) -> Result<SealedEvents, StoreError> {
    let email_index = events
        .iter()
        .map(|e| e.email.as_deref().map(|m| email_index(vault, m)))
        .collect();
    let Some(vault) = vault else {
        return Ok(SealedEvents {
            events: events.to_vec(),
            keys: None,
            hashes: events.iter().map(request_hash).collect(),
            email_index,
        });
    };
    let personal = |e: &NewEvent| e.evidence.is_some() || e.reason.is_some() || e.email.is_some();
    let owners: Vec<String> = events
        .iter()
        .filter(|e| personal(e))
        .map(|e| OwnerKind::Subject.owner(&e.subject))
        .collect();
    let keys = vault.keys_for(&owners).await?;
    let mut sealed = Vec::with_capacity(events.len());
    let mut hashes = Vec::with_capacity(events.len());
    for e in events {
        let mut s = e.clone();
        if !personal(e) {
            hashes.push(request_hash(e));
        } else {
            let owner = OwnerKind::Subject.owner(&e.subject);
            let key = keys.get(&owner).ok_or(VaultError::Cipher)?;
            hashes.push(keyed_request_hash(e, key));
            // The subject row is the person's own: owner and column bind the e-mail to it.
            s.email = e
                .email
                .as_deref()
                .map(|v| {
                    Vault::seal_with(
                        key,
                        OwnerKind::Subject,
                        &owner,
                        "subjects.email",
                        v.as_bytes(),
                    )
                })
                .transpose()?;
        }
        sealed.push(s);
    }
    Ok(SealedEvents {
        events: sealed,
        keys: Some(keys),
        hashes,
        email_index,
    })
}

pub(crate) async fn open_events(
    vault: Option<&Vault>,
    subject: &str,
    mut events: Vec<StoredEvent>,
) -> Result<Vec<StoredEvent>, StoreError> {
    if vault.is_none() {
        return Ok(events);
    }
    for e in &mut events {
        let seq = e.event.seq;
        e.evidence = open_personal(vault, subject, EVIDENCE, seq, e.evidence.take()).await?;
        e.reason = open_personal(vault, subject, REASON, seq, e.reason.take()).await?;
    }
    Ok(events)
}

/// Opens a value of `ledger_personal` row `seq` of person `subject`; a value that does not open
/// there (moved from another row, or changed) is an error naming the row.
pub(crate) async fn open_personal(
    vault: Option<&Vault>,
    subject: &str,
    field: &str,
    seq: i64,
    stored: Option<String>,
) -> Result<Option<String>, StoreError> {
    let (Some(vault), Some(stored)) = (vault, stored.as_deref()) else {
        return Ok(stored);
    };
    vault
        .open_row(subject, field, &seq.to_string(), stored)
        .await
        .map_err(|e| match e {
            StoreError::Vault(v @ VaultError::Misplaced { .. }) => StoreError::Corrupt {
                seq,
                what: v.to_string(),
            },
            other => other,
        })
}

/// Opens a stored value of person or request `id`; `None` stays `None`, and so does a value
/// whose key was destroyed.
pub(crate) async fn open_opt(
    vault: Option<&Vault>,
    id: &str,
    field: &str,
    stored: Option<String>,
) -> Result<Option<String>, StoreError> {
    match (vault, stored) {
        (Some(vault), Some(v)) => vault.open(id, field, &v).await,
        (_, v) => Ok(v),
    }
}

/// A value of `ledger_personal` row `seq` of person `subject` sealed again under their retained
/// key (kept past an erasure by a legal duty), bound to the same row; `None` when its key is
/// gone already.
pub(crate) async fn to_retained(
    vault: &Vault,
    subject: &str,
    field: &str,
    seq: i64,
    stored: Option<String>,
) -> Result<Option<String>, StoreError> {
    let Some(plain) = open_personal(Some(vault), subject, field, seq, stored).await? else {
        return Ok(None);
    };
    let owner = OwnerKind::Retained.owner(subject);
    let keys = vault.keys_for(std::slice::from_ref(&owner)).await?;
    let key = keys.get(&owner).ok_or(VaultError::Cipher)?;
    Ok(Some(Vault::seal_row_with(
        key,
        OwnerKind::Retained,
        &owner,
        field,
        &seq.to_string(),
        plain.as_bytes(),
    )?))
}

/// Seals a value for `kind`'s key of `id`.
pub(crate) async fn seal_opt(
    vault: Option<&Vault>,
    kind: OwnerKind,
    id: &str,
    field: &str,
    plain: Option<&str>,
) -> Result<Option<String>, StoreError> {
    Ok(seal_many(vault, kind, &[(id, field, plain)])
        .await?
        .pop()
        .flatten())
}

/// Seals several values at once (one key-store transaction for the missing keys): each item is
/// the owner's id, the column and the value; the answer is in the same order.
pub(crate) async fn seal_many(
    vault: Option<&Vault>,
    kind: OwnerKind,
    items: &[(&str, &str, Option<&str>)],
) -> Result<Vec<Option<String>>, StoreError> {
    let Some(vault) = vault else {
        return Ok(items.iter().map(|(_, _, v)| v.map(str::to_owned)).collect());
    };
    let owners: Vec<String> = items
        .iter()
        .filter(|(_, _, v)| v.is_some())
        .map(|(id, _, _)| kind.owner(id))
        .collect();
    let keys = vault.keys_for(&owners).await?;
    items
        .iter()
        .map(|(id, field, v)| {
            let Some(v) = v else { return Ok(None) };
            let owner = kind.owner(id);
            let key = keys.get(&owner).ok_or(VaultError::Cipher)?;
            Ok(Some(Vault::seal_with(
                key,
                kind,
                &owner,
                field,
                v.as_bytes(),
            )?))
        })
        .collect()
}

/// The blind index of an e-mail address. Without a vault the key is all zeros: a plain hash,
/// for stores that keep plaintext anyway.
pub(crate) fn email_index(vault: Option<&Vault>, email: &str) -> String {
    match vault {
        Some(v) => v.blind_index(email),
        None => blind_index_with(&[0u8; 32], email),
    }
}
