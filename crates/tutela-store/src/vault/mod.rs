//! Encryption at rest (issue 10). Personal attributes are sealed with AES-256-GCM under a data
//! key of their owner (a person, a person's retained records, or a request); data keys are
//! wrapped by a master key ([`MasterKey`]) and kept in a [`KeyStore`] apart from the data.
//! Destroying an owner's key (crypto-shredding) leaves their data unreadable wherever it was
//! copied, backups included.
//!
//! A sealed text is `tv1:<owner kind>:<base64 of nonce and ciphertext>`; the associated data
//! binds it to its owner and column, so a value copied to another owner or column fails to
//! open. A `tv2:` text binds it to its row as well (the ledger's sequence number for a
//! consent's evidence), so that two rows of one person cannot swap their values either
//! (issue 30); `tv1:` values sealed before still open. Text without a prefix was written before
//! the vault and is returned as it is.

mod error;
mod fields;
mod keystore;
mod master;
mod pseudonym_keys;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use hmac::Mac;

pub use error::VaultError;
pub(crate) use fields::{
    SealedEvents, TOTP_FIELD, email_index, open_events, open_opt, seal_events, seal_many, seal_opt,
    to_retained,
};
pub use keystore::{KeyStore, WrappedKey};
pub(crate) use master::hex;
pub use master::{KeySource, LocalMasterKeys, MasterKey, MasterKeys, write_key_file};
pub use pseudonym_keys::{
    PseudonymKeySource, create_pseudonym_keys, read_pseudonym_keys, rotate_pseudonym_keys,
};

use crate::StoreError;

/// Whose key seals a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OwnerKind {
    /// A person's attributes: destroyed when the person is erased.
    Subject,
    /// A person's records kept past their erasure by a legal duty (a consent's evidence during
    /// a claim, a court order's reference).
    Retained,
    /// A request's own data (the e-mail and words of someone not yet identified): destroyed
    /// when the request's data expires.
    Request,
    /// An operator's second-factor secret (staff, not a data subject): never destroyed by an
    /// erasure.
    Operator,
}

impl OwnerKind {
    fn tag(self) -> char {
        match self {
            OwnerKind::Subject => 's',
            OwnerKind::Retained => 'r',
            OwnerKind::Request => 'q',
            OwnerKind::Operator => 'o',
        }
    }

    fn from_tag(tag: char) -> Option<OwnerKind> {
        match tag {
            's' => Some(OwnerKind::Subject),
            'r' => Some(OwnerKind::Retained),
            'q' => Some(OwnerKind::Request),
            'o' => Some(OwnerKind::Operator),
            _ => None,
        }
    }

    /// The key store's name of this kind's key for `id`.
    pub fn owner(self, id: &str) -> String {
        format!("{}:{id}", self.tag())
    }
}

const PREFIX: &str = "tv1:";
/// A value bound to its owner, its column and its row.
const PREFIX_ROW: &str = "tv2:";
/// Unwrapped data keys kept in memory; the cache is emptied when it grows past this.
const CACHE_LIMIT: usize = 100_000;

/// The associated data of a sealed value: its owner and column, and its row for `tv2:`.
fn associated(owner: &str, field: &str, row: Option<&str>) -> String {
    match row {
        Some(row) => format!("{owner}\u{0}{field}\u{0}{row}"),
        None => format!("{owner}\u{0}{field}"),
    }
}

/// What opening a sealed value gave.
enum Opened {
    Plain(Vec<u8>),
    /// The owner's key is destroyed or was never made: the value is erased.
    Erased,
    /// The value is malformed or does not open under its owner's key.
    Failed,
}

/// What a key lookup found.
enum Lookup {
    Key([u8; 32]),
    Destroyed,
    Missing,
}

/// Seals and opens personal attributes. Cheap to share: clone the `Arc`.
pub struct Vault {
    master: Box<dyn MasterKey>,
    keys: KeyStore,
    cache: Mutex<HashMap<String, [u8; 32]>>,
    /// When the master keys were last read: a rotation by another process reaches every
    /// running server within [`RELOAD_EVERY`], so that no server keeps wrapping under a key
    /// about to be retired.
    loaded: Mutex<std::time::Instant>,
}

/// How often a server reads its master keys again before it wraps a new data key.
pub const RELOAD_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("active_master_key", &self.master.active_id())
            .finish_non_exhaustive()
    }
}

fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

impl Vault {
    pub fn new(master: Box<dyn MasterKey>, keys: KeyStore) -> Arc<Vault> {
        Arc::new(Vault {
            master,
            keys,
            cache: Mutex::new(HashMap::new()),
            loaded: Mutex::new(std::time::Instant::now()),
        })
    }

    pub fn key_store(&self) -> &KeyStore {
        &self.keys
    }

    fn reload_if_due(&self) {
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if loaded.elapsed() >= RELOAD_EVERY {
            *loaded = std::time::Instant::now();
            if let Err(e) = self.master.reload() {
                tracing::warn!(error = %e, "the master keys could not be read again; the ones in memory stay");
            }
        }
    }

    fn cached(&self, owner: &str) -> Option<[u8; 32]> {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(owner)
            .copied()
    }

    fn remember(&self, owner: &str, key: [u8; 32]) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(owner.to_owned(), key);
    }

    fn forget(&self, owner: &str) {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(owner);
    }

    fn unwrap_key(&self, row: &WrappedKey) -> Result<Lookup, StoreError> {
        let (Some(id), Some(wrapped)) = (&row.master_key_id, &row.wrapped) else {
            return Ok(Lookup::Destroyed);
        };
        let key = match self.master.unwrap(id, &row.owner, wrapped) {
            Err(VaultError::UnknownMasterKey(_)) => {
                // Another process rotated the master key: read the key source again.
                self.master.reload()?;
                self.master.unwrap(id, &row.owner, wrapped)?
            }
            other => other?,
        };
        self.remember(&row.owner, key);
        Ok(Lookup::Key(key))
    }

    async fn lookup(&self, owner: &str) -> Result<Lookup, StoreError> {
        if let Some(k) = self.cached(owner) {
            return Ok(Lookup::Key(k));
        }
        match self.keys.get(owner).await? {
            Some(row) => self.unwrap_key(&row),
            None => Ok(Lookup::Missing),
        }
    }

    /// The data keys of `owners`, created (in one key-store transaction) where missing or
    /// destroyed. Called before the data transaction that uses them.
    pub async fn keys_for(
        &self,
        owners: &[String],
    ) -> Result<HashMap<String, [u8; 32]>, StoreError> {
        self.reload_if_due();
        let mut found = HashMap::new();
        let mut unknown: Vec<String> = Vec::new();
        for owner in owners {
            if found.contains_key(owner) || unknown.contains(owner) {
                continue;
            }
            match self.cached(owner) {
                Some(k) => {
                    found.insert(owner.clone(), k);
                }
                None => unknown.push(owner.clone()),
            }
        }
        // One query for the keys not in memory, one transaction for the keys to create.
        for row in self.keys.get_many(&unknown).await? {
            if let Lookup::Key(k) = self.unwrap_key(&row)? {
                found.insert(row.owner.clone(), k);
            }
        }
        let mut create = Vec::new();
        for owner in unknown.iter().filter(|o| !found.contains_key(*o)) {
            let mut k = [0u8; 32];
            getrandom::fill(&mut k).map_err(|_| VaultError::NoRandomness)?;
            let (master, wrapped) = self.master.wrap(owner, &k)?;
            create.push((owner.clone(), master, wrapped));
        }
        if !create.is_empty() {
            let stored = self.keys.insert(&create, now_us()).await?;
            for (owner, master, wrapped) in &create {
                if stored.contains(owner) {
                    let row = WrappedKey {
                        owner: owner.clone(),
                        master_key_id: Some(master.clone()),
                        wrapped: Some(wrapped.clone()),
                    };
                    if let Lookup::Key(k) = self.unwrap_key(&row)? {
                        found.insert(owner.clone(), k);
                    }
                } else if let Some(row) = self.keys.get(owner).await?
                    && let Lookup::Key(k) = self.unwrap_key(&row)?
                {
                    // Another process created this owner's key first: use the stored one.
                    found.insert(owner.clone(), k);
                }
            }
        }
        Ok(found)
    }

    /// Seals `plain` for `owner` (its key from [`Vault::keys_for`]) in column `field`.
    pub fn seal_with(
        key: &[u8; 32],
        kind: OwnerKind,
        owner: &str,
        field: &str,
        plain: &[u8],
    ) -> Result<String, StoreError> {
        Vault::seal_inner(key, kind, owner, field, None, plain)
    }

    /// [`Vault::seal_with`] bound to the row `row` as well (`tv2:`): the value opens only with
    /// [`Vault::open_row`] for that row.
    pub fn seal_row_with(
        key: &[u8; 32],
        kind: OwnerKind,
        owner: &str,
        field: &str,
        row: &str,
        plain: &[u8],
    ) -> Result<String, StoreError> {
        Vault::seal_inner(key, kind, owner, field, Some(row), plain)
    }

    fn seal_inner(
        key: &[u8; 32],
        kind: OwnerKind,
        owner: &str,
        field: &str,
        row: Option<&str>,
        plain: &[u8],
    ) -> Result<String, StoreError> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|_| VaultError::NoRandomness)?;
        let cipher = Aes256Gcm::new(&(*key).into());
        let aad = associated(owner, field, row);
        let sealed = cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Cipher)?;
        let mut body = nonce.to_vec();
        body.extend_from_slice(&sealed);
        let prefix = if row.is_some() { PREFIX_ROW } else { PREFIX };
        Ok(format!("{prefix}{}:{}", kind.tag(), B64.encode(body)))
    }

    /// Seals one value, creating the owner's key when needed.
    pub async fn seal(
        &self,
        kind: OwnerKind,
        id: &str,
        field: &str,
        plain: &str,
    ) -> Result<String, StoreError> {
        self.seal_bytes(kind, id, field, plain.as_bytes()).await
    }

    /// [`Vault::seal`] for binary values (exports, archives).
    pub async fn seal_bytes(
        &self,
        kind: OwnerKind,
        id: &str,
        field: &str,
        plain: &[u8],
    ) -> Result<String, StoreError> {
        let owner = kind.owner(id);
        let keys = self.keys_for(std::slice::from_ref(&owner)).await?;
        let key = keys.get(&owner).ok_or(VaultError::Cipher)?;
        Vault::seal_with(key, kind, &owner, field, plain)
    }

    /// Opens a stored value of the person or request `id`. `None` when its key was destroyed
    /// (the value is erased) or the value does not open under the key it names.
    pub async fn open(
        &self,
        id: &str,
        field: &str,
        stored: &str,
    ) -> Result<Option<String>, StoreError> {
        if !Vault::is_sealed(stored) {
            return Ok(Some(stored.to_owned()));
        }
        Ok(self
            .open_bytes(id, field, stored)
            .await?
            .and_then(|b| String::from_utf8(b).ok()))
    }

    /// [`Vault::open`] for binary values (exports, archives).
    pub async fn open_bytes(
        &self,
        id: &str,
        field: &str,
        stored: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        match self.open_inner(id, field, None, stored).await? {
            Opened::Plain(bytes) => Ok(Some(bytes)),
            Opened::Erased => Ok(None),
            Opened::Failed => {
                tracing::warn!(field, "a sealed value did not open under its owner's key");
                Ok(None)
            }
        }
    }

    /// Opens a value of the person `id` stored in row `row` of column `field`: one sealed with
    /// [`Vault::seal_row_with`] for that row, or a `tv1:` value sealed before values were bound
    /// to their rows. `None` when its key was destroyed (the value is erased);
    /// [`VaultError::Misplaced`] when it does not open, so that a value moved from another row
    /// is named as such, not taken for an erased one.
    pub async fn open_row(
        &self,
        id: &str,
        field: &str,
        row: &str,
        stored: &str,
    ) -> Result<Option<String>, StoreError> {
        match self.open_inner(id, field, Some(row), stored).await? {
            Opened::Plain(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
                VaultError::Misplaced {
                    field: field.to_owned(),
                }
                .into()
            }),
            Opened::Erased => Ok(None),
            Opened::Failed => Err(VaultError::Misplaced {
                field: field.to_owned(),
            }
            .into()),
        }
    }

    /// Opens `stored`; `row` is the row a `tv2:` value must be bound to (a `tv2:` value does
    /// not open without one, a `tv1:` value ignores it).
    async fn open_inner(
        &self,
        id: &str,
        field: &str,
        row: Option<&str>,
        stored: &str,
    ) -> Result<Opened, StoreError> {
        let (rest, row) = if let Some(rest) = stored.strip_prefix(PREFIX_ROW) {
            let Some(row) = row else {
                return Ok(Opened::Failed);
            };
            (rest, Some(row))
        } else if let Some(rest) = stored.strip_prefix(PREFIX) {
            (rest, None)
        } else {
            return Ok(Opened::Plain(stored.as_bytes().to_vec()));
        };
        let mut chars = rest.chars();
        let (Some(tag), Some(':')) = (chars.next(), chars.next()) else {
            return Ok(Opened::Failed);
        };
        let Some(kind) = OwnerKind::from_tag(tag) else {
            return Ok(Opened::Failed);
        };
        let owner = kind.owner(id);
        let key = match self.lookup(&owner).await? {
            Lookup::Key(k) => k,
            Lookup::Destroyed | Lookup::Missing => return Ok(Opened::Erased),
        };
        let Ok(body) = B64.decode(chars.as_str()) else {
            return Ok(Opened::Failed);
        };
        let Some((nonce, ct)) = body.split_at_checked(12) else {
            return Ok(Opened::Failed);
        };
        let Ok(nonce) = <[u8; 12]>::try_from(nonce) else {
            return Ok(Opened::Failed);
        };
        let aad = associated(&owner, field, row);
        let plain = Aes256Gcm::new(&key.into()).decrypt(
            &nonce.into(),
            Payload {
                msg: ct,
                aad: aad.as_bytes(),
            },
        );
        Ok(match plain {
            Ok(bytes) => Opened::Plain(bytes),
            Err(_) => Opened::Failed,
        })
    }

    /// Crypto-shredding: the owner's data key is gone, and with it every copy of their data.
    pub async fn destroy(
        &self,
        kind: OwnerKind,
        id: &str,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError> {
        let owner = kind.owner(id);
        self.keys.destroy(&owner, at.as_microsecond()).await?;
        self.forget(&owner);
        // No copy of the wrapped key may stay in a file the key store wrote (its WAL).
        self.keys.scrub().await
    }

    /// [`Vault::destroy`] for several owners of one kind, with one scrub of the key store.
    pub async fn destroy_many(
        &self,
        kind: OwnerKind,
        ids: &[String],
        at: jiff::Timestamp,
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        for id in ids {
            let owner = kind.owner(id);
            self.keys.destroy(&owner, at.as_microsecond()).await?;
            self.forget(&owner);
        }
        self.keys.scrub().await
    }

    /// Drops the owner's data key from this process's cache: another instance on the same key
    /// store destroyed it (an erasure it committed), and this copy must not outlive it.
    pub fn forget_cached(&self, kind: OwnerKind, id: &str) {
        self.forget(&kind.owner(id));
    }

    /// Whether `stored` is a sealed value (tests and `tutela keys status` use it).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX) || stored.starts_with(PREFIX_ROW)
    }

    /// The keyed blind index of an e-mail address: equal addresses (ignoring case and outer
    /// spaces) give equal indexes, and the index says nothing without the key.
    pub fn blind_index(&self, email: &str) -> String {
        blind_index_with(&self.master.blind_index_key(), email)
    }

    /// Wraps every data key still under an older master key with the active one, `batch` at a
    /// time; returns how many were wrapped again.
    pub async fn rewrap(&self, batch: i64) -> Result<u64, StoreError> {
        self.master.reload()?;
        let active = self.master.active_id();
        let mut done = 0;
        loop {
            let rows = self.keys.wrapped_elsewhere(&active, batch.max(1)).await?;
            if rows.is_empty() {
                return Ok(done);
            }
            for row in rows {
                let Lookup::Key(key) = self.unwrap_key(&row)? else {
                    continue;
                };
                let (new, wrapped) = self.master.wrap(&row.owner, &key)?;
                let old = row.master_key_id.unwrap_or_default();
                self.keys.rewrap(&row.owner, &old, &new, &wrapped).await?;
                done += 1;
            }
        }
    }
}

/// The blind index with a given key; also the keyless fallback of a store without a vault.
pub fn blind_index_with(key: &[u8; 32], email: &str) -> String {
    let normal = email.trim().to_lowercase();
    let mut mac = <hmac::Hmac<sha2::Sha256>>::new_from_slice(key).unwrap_or_else(|_| {
        // HMAC accepts keys of any length; this arm cannot be reached.
        <hmac::Hmac<sha2::Sha256>>::new(&Default::default())
    });
    mac.update(normal.as_bytes());
    master::hex(&mac.finalize().into_bytes())
}
