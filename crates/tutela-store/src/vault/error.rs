//! What goes wrong in the vault. Its own file so that the store's error, which wraps it, does
//! not depend on the vault, which returns the store's error.

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("{origin}, line {line}: {what}")]
    KeyFile {
        origin: String,
        line: usize,
        what: String,
    },
    #[error("{path}: {what}")]
    Io { path: String, what: String },
    #[error("no master key with id {0}; is the key file the one the data keys were wrapped with?")]
    UnknownMasterKey(String),
    #[error("a data key or value did not decrypt")]
    Cipher,
    /// A value bound to its row did not open there: it was moved from another row or changed.
    /// Names the column, never the value.
    #[error(
        "the sealed {field} does not open under its owner's key for this row: it was moved from another row or changed"
    )]
    Misplaced { field: String },
    #[error("the system has no randomness")]
    NoRandomness,
}
