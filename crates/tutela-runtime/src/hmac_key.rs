//! The server's HMAC key: it keys the hashes of one-time codes and of rate-limit counters, and
//! derives the sign-in codes. It lives in a file of its own beside the other key files, never
//! in the database, so a copy of the database (or a backup) neither tells a code in seconds of
//! brute force nor which addresses tried to sign in. Instances of one deployment share the file.

use std::path::Path;
use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// 32 random bytes, hex in the file. Without a key (the operating system gave no randomness)
/// nothing that needs one is made: there is no fallback.
#[derive(Clone)]
pub struct HmacKey(Option<Arc<[u8; 32]>>);

/// The key file could not be read or written; the error names the file, never the key.
#[derive(Debug, thiserror::Error)]
pub enum HmacKeyError {
    #[error("reading the HMAC key {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("writing the HMAC key {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("the HMAC key {path} is not 64 hex digits")]
    Malformed { path: String },
    #[error("the operating system gave no randomness")]
    NoRandomness,
}

/// The key is missing: no code or counter can be made.
#[derive(Debug, thiserror::Error)]
#[error("no HMAC key: the operating system gave no randomness")]
pub struct NoKey;

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacKey(..)")
    }
}

impl Default for HmacKey {
    /// A key for this process only: codes and counters do not outlive it. For tests and
    /// embedding; `tutela serve` reads the key file.
    fn default() -> Self {
        HmacKey::generate().unwrap_or(HmacKey(None))
    }
}

impl HmacKey {
    pub fn from_bytes(key: [u8; 32]) -> HmacKey {
        HmacKey(Some(Arc::new(key)))
    }

    pub fn generate() -> Result<HmacKey, HmacKeyError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|_| HmacKeyError::NoRandomness)?;
        Ok(HmacKey::from_bytes(key))
    }

    /// Reads the key from `path`, or creates it there (mode 0600) when the file is missing, as
    /// the log's signing key is.
    pub fn load_or_create(path: &Path) -> Result<HmacKey, HmacKeyError> {
        let shown = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let text = text.trim();
                let bytes: Option<Vec<u8>> = (text.len() == 64)
                    .then(|| {
                        (0..32)
                            .map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
                            .collect()
                    })
                    .flatten();
                let key: [u8; 32] = bytes
                    .and_then(|b| b.try_into().ok())
                    .ok_or(HmacKeyError::Malformed { path: shown })?;
                Ok(HmacKey::from_bytes(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).map_err(|_| HmacKeyError::NoRandomness)?;
                crate::write_private(path, &crate::hex(&key)).map_err(|source| {
                    HmacKeyError::Write {
                        path: shown,
                        source,
                    }
                })?;
                Ok(HmacKey::from_bytes(key))
            }
            Err(source) => Err(HmacKeyError::Read {
                path: shown,
                source,
            }),
        }
    }

    /// HMAC-SHA-256 over `parts`, each length-prefixed so that no two lists of parts collide.
    pub fn mac(&self, parts: &[&[u8]]) -> Result<[u8; 32], NoKey> {
        let key = self.0.as_ref().ok_or(NoKey)?;
        let Ok(mut mac) = <Hmac<Sha256>>::new_from_slice(key.as_slice()) else {
            return Err(NoKey);
        };
        for p in parts {
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p);
        }
        Ok(mac.finalize().into_bytes().into())
    }

    /// [`HmacKey::mac`] as lower-case hex.
    pub fn mac_hex(&self, parts: &[&[u8]]) -> Result<String, NoKey> {
        self.mac(parts).map(|m| crate::hex(&m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_made_once_private_and_read_back() {
        let dir = std::env::temp_dir().join(format!(
            "tutela-hmac-{}",
            crate::random_hex(6).expect("random")
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("tutela-hmac.key");
        let a = HmacKey::load_or_create(&path).expect("create");
        let b = HmacKey::load_or_create(&path).expect("read");
        assert_eq!(
            a.mac_hex(&[b"x"]).expect("mac"),
            b.mac_hex(&[b"x"]).expect("mac")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("file").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        std::fs::write(&path, "nope").expect("overwrite");
        assert!(matches!(
            HmacKey::load_or_create(&path),
            Err(HmacKeyError::Malformed { .. })
        ));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn parts_are_framed() {
        let k = HmacKey::from_bytes([7; 32]);
        assert_ne!(
            k.mac(&[b"ab", b"c"]).expect("mac"),
            k.mac(&[b"a", b"bc"]).expect("mac")
        );
    }
}
