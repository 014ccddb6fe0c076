//! Master keys: the keys that wrap the per-owner data keys. They live in a key file or an
//! environment variable, never in a database; [`MasterKey`] is the seam for a KMS, which
//! wraps and unwraps without ever handing the key out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};

use super::VaultError;

/// Wraps and unwraps data keys. Implementations: [`LocalMasterKeys`] (key file or environment);
/// a KMS client would implement the same three calls.
pub trait MasterKey: Send + Sync {
    /// The id of the key that wraps new data keys.
    fn active_id(&self) -> String;
    /// Wraps `key` (bound to `owner`) under the active master key: its id and the wrapped bytes.
    fn wrap(&self, owner: &str, key: &[u8; 32]) -> Result<(String, Vec<u8>), VaultError>;
    /// Unwraps a data key wrapped under master key `id`.
    fn unwrap(&self, id: &str, owner: &str, wrapped: &[u8]) -> Result<[u8; 32], VaultError>;
    /// The key of the blind index (searches by e-mail). It never rotates with the master keys:
    /// a new one would make every stored index unfindable.
    fn blind_index_key(&self) -> [u8; 32];
    /// Reads the keys again (after a rotation by another process).
    fn reload(&self) -> Result<(), VaultError> {
        Ok(())
    }
}

/// The keys as a key file holds them:
///
/// ```text
/// active mk-3f2a9c1e
/// key mk-3f2a9c1e <64 hex digits>
/// key mk-0b17d4aa <64 hex digits>
/// blind <64 hex digits>
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKeys {
    pub active: String,
    pub keys: BTreeMap<String, [u8; 32]>,
    pub blind: [u8; 32],
}

impl std::fmt::Debug for MasterKeys {
    // Key ids only: key material never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKeys")
            .field("active", &self.active)
            .field("ids", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn random_key() -> Result<[u8; 32], VaultError> {
    let mut k = [0u8; 32];
    getrandom::fill(&mut k).map_err(|_| VaultError::NoRandomness)?;
    Ok(k)
}

fn new_id() -> Result<String, VaultError> {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).map_err(|_| VaultError::NoRandomness)?;
    Ok(format!("mk-{}", hex(&b)))
}

pub(crate) use tutela_core::hex::encode as hex;

impl MasterKeys {
    /// A new set: one active key and a blind-index key.
    pub fn generate() -> Result<MasterKeys, VaultError> {
        let id = new_id()?;
        Ok(MasterKeys {
            keys: BTreeMap::from([(id.clone(), random_key()?)]),
            active: id,
            blind: random_key()?,
        })
    }

    /// Adds a new key and makes it the active one; returns its id. The old keys stay until
    /// every data key is wrapped again ([`super::Vault::rewrap`]) and they are retired.
    pub fn rotate(&mut self) -> Result<String, VaultError> {
        let id = new_id()?;
        self.keys.insert(id.clone(), random_key()?);
        self.active = id.clone();
        Ok(id)
    }

    /// `source` names the file or variable in errors, with the line.
    pub fn parse(source: &str, text: &str) -> Result<MasterKeys, VaultError> {
        let bad = |line: usize, what: &str| VaultError::KeyFile {
            origin: source.to_owned(),
            line,
            what: what.to_owned(),
        };
        let mut active = None;
        let mut keys = BTreeMap::new();
        let mut blind = None;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = l.split_whitespace().collect();
            match words.as_slice() {
                ["active", id] => active = Some((*id).to_owned()),
                ["key", id, k] => {
                    let k = tutela_core::hex::decode_32(k)
                        .ok_or_else(|| bad(line, "a key is 64 hex digits"))?;
                    if keys.insert((*id).to_owned(), k).is_some() {
                        return Err(bad(line, "this key id appears twice"));
                    }
                }
                ["blind", k] => {
                    blind = Some(
                        tutela_core::hex::decode_32(k)
                            .ok_or_else(|| bad(line, "a key is 64 hex digits"))?,
                    );
                }
                _ => {
                    return Err(bad(
                        line,
                        "expected `active ID`, `key ID HEX` or `blind HEX`",
                    ));
                }
            }
        }
        let active = active.ok_or_else(|| bad(0, "no `active ID` line"))?;
        if !keys.contains_key(&active) {
            return Err(bad(0, "the active key id has no `key` line"));
        }
        let blind = blind.ok_or_else(|| bad(0, "no `blind HEX` line"))?;
        Ok(MasterKeys {
            active,
            keys,
            blind,
        })
    }

    pub fn format(&self) -> String {
        let mut out = String::from(
            "# tutela master keys. Keep this file apart from the database and its backups:\n\
             # whoever holds both can read every person's data.\n",
        );
        out.push_str(&format!("active {}\n", self.active));
        for (id, k) in &self.keys {
            out.push_str(&format!("key {id} {}\n", hex(k)));
        }
        out.push_str(&format!("blind {}\n", hex(&self.blind)));
        out
    }
}

/// Where local master keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A file, created with mode 0600 when missing.
    File(PathBuf),
    /// The text of a key file in an environment variable (containers, secrets managers).
    Env(String),
}

/// Master keys held in this process, read from a key file or the environment.
pub struct LocalMasterKeys {
    source: KeySource,
    keys: RwLock<MasterKeys>,
}

impl std::fmt::Debug for LocalMasterKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalMasterKeys")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl LocalMasterKeys {
    /// Reads the keys; a missing key file is created with new keys (mode 0600).
    pub fn open(source: KeySource) -> Result<LocalMasterKeys, VaultError> {
        let keys = match &source {
            KeySource::File(path) => read_or_create(path)?,
            KeySource::Env(var) => read_env(var)?,
        };
        Ok(LocalMasterKeys {
            source,
            keys: RwLock::new(keys),
        })
    }

    pub fn from_keys(keys: MasterKeys) -> LocalMasterKeys {
        LocalMasterKeys {
            source: KeySource::Env(String::new()),
            keys: RwLock::new(keys),
        }
    }

    pub fn snapshot(&self) -> MasterKeys {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn cipher(&self, id: &str) -> Option<Aes256Gcm> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        keys.keys.get(id).map(|k| Aes256Gcm::new(&(*k).into()))
    }
}

fn read_env(var: &str) -> Result<MasterKeys, VaultError> {
    let text = std::env::var(var).map_err(|_| VaultError::KeyFile {
        origin: var.to_owned(),
        line: 0,
        what: "the environment variable is not set".to_owned(),
    })?;
    MasterKeys::parse(var, &text)
}

fn read_or_create(path: &Path) -> Result<MasterKeys, VaultError> {
    let shown = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => MasterKeys::parse(&shown, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let keys = MasterKeys::generate()?;
            write_key_file(path, &keys)?;
            Ok(keys)
        }
        Err(e) => Err(VaultError::Io {
            path: shown,
            what: e.to_string(),
        }),
    }
}

/// Writes a key file atomically (a new file renamed over the old), readable by its owner only.
pub fn write_key_file(path: &Path, keys: &MasterKeys) -> Result<(), VaultError> {
    write_secret_file(path, &keys.format())
}

/// Writes `text` to `path` atomically (a new file renamed over the old), mode 0600.
pub(crate) fn write_secret_file(path: &Path, text: &str) -> Result<(), VaultError> {
    let io = |e: std::io::Error| VaultError::Io {
        path: path.display().to_string(),
        what: e.to_string(),
    };
    let tmp = path.with_extension("key.new");
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(&tmp).map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)
}

impl MasterKey for LocalMasterKeys {
    fn active_id(&self) -> String {
        self.keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .active
            .clone()
    }

    fn wrap(&self, owner: &str, key: &[u8; 32]) -> Result<(String, Vec<u8>), VaultError> {
        let id = self.active_id();
        let cipher = self
            .cipher(&id)
            .ok_or_else(|| VaultError::UnknownMasterKey(id.clone()))?;
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|_| VaultError::NoRandomness)?;
        let sealed = cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: key,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Cipher)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok((id, out))
    }

    fn unwrap(&self, id: &str, owner: &str, wrapped: &[u8]) -> Result<[u8; 32], VaultError> {
        let cipher = self
            .cipher(id)
            .ok_or_else(|| VaultError::UnknownMasterKey(id.to_owned()))?;
        let (nonce, body) = wrapped.split_at_checked(12).ok_or(VaultError::Cipher)?;
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| VaultError::Cipher)?;
        let plain = cipher
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: body,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Cipher)?;
        plain.try_into().map_err(|_| VaultError::Cipher)
    }

    fn blind_index_key(&self) -> [u8; 32] {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).blind
    }

    fn reload(&self) -> Result<(), VaultError> {
        let fresh = match &self.source {
            KeySource::File(path) => read_or_create(path)?,
            KeySource::Env(var) if var.is_empty() => return Ok(()),
            KeySource::Env(var) => read_env(var)?,
        };
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_reads_back_what_was_written() -> Result<(), VaultError> {
        let mut keys = MasterKeys::generate()?;
        keys.rotate()?;
        assert_eq!(MasterKeys::parse("k", &keys.format())?, keys);
        assert_eq!(keys.keys.len(), 2);
        Ok(())
    }

    #[test]
    fn a_bad_line_is_named() {
        let e = MasterKeys::parse("master.key", "active a\nkey a 12\n").err();
        assert!(
            matches!(e, Some(VaultError::KeyFile { line: 2, .. })),
            "{e:?}"
        );
    }

    #[test]
    fn a_data_key_unwraps_only_for_its_owner() -> Result<(), VaultError> {
        let keys = LocalMasterKeys::from_keys(MasterKeys::generate()?);
        let dek = [7u8; 32];
        let (id, wrapped) = keys.wrap("s:alice", &dek)?;
        assert_eq!(keys.unwrap(&id, "s:alice", &wrapped)?, dek);
        assert!(keys.unwrap(&id, "s:bob", &wrapped).is_err());
        Ok(())
    }

    #[test]
    fn debug_output_holds_no_key_material() -> Result<(), VaultError> {
        let keys = MasterKeys::generate()?;
        let shown = format!("{keys:?}");
        assert!(!shown.contains(&hex(&keys.blind)), "{shown}");
        Ok(())
    }
}
