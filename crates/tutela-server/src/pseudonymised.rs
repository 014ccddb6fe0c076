//! The sweep of pseudonymised datasets (N7b): every dataset whose purpose's retention ended is
//! deleted from where it was registered, and the deletion recorded in the audit log. A dataset
//! that could not be deleted keeps its error and is tried again at the next sweep; it is never
//! marked deleted while its file is there.

use std::path::Path;

use crate::dataset_files::DatasetDirs;

use tutela_store::{AnyStore, PseudonymisedStore, StoreError};

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub deleted: u64,
    pub failed: u64,
}

/// The single step: deletes what is due at `now`, from `dirs` only.
pub async fn sweep(
    store: &AnyStore,
    dirs: &DatasetDirs,
    now: jiff::Timestamp,
) -> Result<Swept, StoreError> {
    let mut swept = Swept::default();
    for d in store.datasets_due(now).await? {
        let location = Path::new(&d.location);
        // Checked again at deletion: registered when the directories were others, or swapped
        // for a link or a directory since, it is never deleted.
        let removed = if std::fs::symlink_metadata(location).is_err() {
            Err(std::io::Error::from(std::io::ErrorKind::NotFound))
        } else {
            match dirs.file(location) {
                Ok(file) => std::fs::remove_file(file),
                Err(_) => Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied)),
            }
        };
        let error = match removed {
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
