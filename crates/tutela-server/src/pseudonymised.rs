//! The sweep of pseudonymised datasets (N7b): every dataset whose purpose's retention ended is
//! deleted from where it was registered, and the deletion recorded in the audit log. A dataset
//! that could not be deleted keeps its error and is tried again at the next sweep; it is never
//! marked deleted while its file is there.

use tutela_store::{AnyStore, PseudonymisedStore, StoreError};

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub deleted: u64,
    pub failed: u64,
}

/// The single step: deletes what is due at `now`.
pub async fn sweep(store: &AnyStore, now: jiff::Timestamp) -> Result<Swept, StoreError> {
    let mut swept = Swept::default();
    for d in store.datasets_due(now).await? {
        let error = match std::fs::remove_file(&d.location) {
            Ok(()) => None,
            // Gone already (deleted by hand, or by a sweep that died before recording it).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => Some(format!("the file could not be deleted: {}", e.kind())),
        };
        match &error {
            None => swept.deleted += 1,
            Some(_) => {
                tracing::warn!(dataset = %d.id, "a pseudonymised dataset could not be deleted; retried at the next sweep");
                swept.failed += 1;
            }
        }
        store.dataset_swept(&d.id, now, error.as_deref()).await?;
    }
    Ok(swept)
}
