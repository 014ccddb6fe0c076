//! Where the pseudonymisation keys come from: a key file (mode 0600) or an environment
//! variable holding its text, never the data store. A missing key file is an error, never a
//! new key: a new key would silently give every person new pseudonyms.

use std::path::{Path, PathBuf};

use tutela_core::pseudonym::PseudonymKeys;

use super::VaultError;
use super::master::write_secret_file;

#[derive(Debug, Clone)]
pub enum PseudonymKeySource {
    File(PathBuf),
    /// The name of a variable holding the key file's text.
    Env(String),
}

fn new_key() -> Result<(String, [u8; 32]), VaultError> {
    let mut id = [0u8; 4];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut id).map_err(|_| VaultError::NoRandomness)?;
    getrandom::fill(&mut secret).map_err(|_| VaultError::NoRandomness)?;
    Ok((format!("pk-{}", super::master::hex(&id)), secret))
}

fn syntax(e: tutela_core::pseudonym::KeyFileError) -> VaultError {
    VaultError::KeyFile {
        origin: String::new(),
        line: 0,
        what: e.to_string(),
    }
}

pub fn read_pseudonym_keys(source: &PseudonymKeySource) -> Result<PseudonymKeys, VaultError> {
    let (origin, text) = match source {
        PseudonymKeySource::File(path) => {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| VaultError::Io {
                what: if e.kind() == std::io::ErrorKind::NotFound {
                    "no pseudonymisation key file; create one with `tutela keys pseudonyms new`"
                        .to_owned()
                } else {
                    e.to_string()
                },
                path: shown.clone(),
            })?;
            (shown, text)
        }
        PseudonymKeySource::Env(var) => {
            let text = std::env::var(var).map_err(|_| VaultError::KeyFile {
                origin: var.clone(),
                line: 0,
                what: "the environment variable is not set".to_owned(),
            })?;
            (var.clone(), text)
        }
    };
    PseudonymKeys::parse(&origin, &text).map_err(syntax)
}

/// Creates a key file with one new key; refuses to replace an existing one.
pub fn create_pseudonym_keys(path: &Path) -> Result<PseudonymKeys, VaultError> {
    if path.exists() {
        return Err(VaultError::Io {
            path: path.display().to_string(),
            what: "the key file exists; rotate it with `tutela keys pseudonyms rotate`".to_owned(),
        });
    }
    let (id, secret) = new_key()?;
    let keys = PseudonymKeys::new(&id, secret);
    write_secret_file(path, &keys.format())?;
    Ok(keys)
}

/// Adds a new active key to the file and returns its id; the old keys stay for reversals.
pub fn rotate_pseudonym_keys(path: &Path) -> Result<String, VaultError> {
    let mut keys = read_pseudonym_keys(&PseudonymKeySource::File(path.to_owned()))?;
    let (id, secret) = new_key()?;
    keys.rotate(&id, secret);
    write_secret_file(path, &keys.format())?;
    Ok(id)
}
