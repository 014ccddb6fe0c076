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
        let error = remove(dirs, Path::new(&d.location));
        match &error {
            None => swept.deleted += 1,
            Some(why) => {
                // Said once when it starts failing (or fails otherwise), not at every tick.
                if d.error.as_deref() != Some(why.as_str()) {
                    tracing::warn!(dataset = %d.id, %why, "a pseudonymised dataset could not be deleted; retried at the next sweep");
                }
                swept.failed += 1;
            }
        }
        store.dataset_swept(&d.id, now, error.as_deref()).await?;
    }
    Ok(swept)
}

/// Deletes the dataset file at `location`; `None` when it is gone, else why it stays.
/// Checked again at deletion: registered when the directories were others, or swapped for a
/// link or a directory since, it is never deleted.
fn remove(dirs: &DatasetDirs, location: &Path) -> Option<String> {
    if std::fs::symlink_metadata(location).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
    {
        // Gone already (deleted by hand, or by a sweep that died before recording it).
        return None;
    }
    let file = match dirs.file(location) {
        Ok(file) => file,
        Err(why) => return Some(format!("not deleted: {why}")),
    };
    match std::fs::remove_file(file) {
        Ok(()) => None,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => Some(format!("the file could not be deleted: {}", e.kind())),
    }
}
