//! Backend-neutral store errors.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The idempotency key was used before for different content.
    #[error("the idempotency key was already used for a different write")]
    IdempotencyConflict,
    /// A stored row could not be read back (a bug or a foreign write).
    #[error("corrupt ledger row {seq}: {what}")]
    Corrupt { seq: i64, what: String },
    /// Someone else changed the record first; read it again and retry.
    #[error("the record was changed concurrently")]
    Conflict,
    #[error("unsupported database url; use sqlite://PATH or postgres://…")]
    UnsupportedUrl,
    /// A database file could not be created or made private to its owner.
    #[error("{path}: {what}")]
    File { path: String, what: String },
    #[error("key vault: {0}")]
    Vault(#[from] crate::vault::VaultError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}
