//! The sweep of pseudonymised datasets (N7b): every dataset whose purpose's retention ended is
//! deleted from where it was registered, and the deletion recorded in the audit log. A dataset
//! that could not be deleted keeps its error and is tried again at the next sweep; it is never
//! marked deleted while its file is there.

use std::path::{Component, Path, PathBuf};

use tutela_store::{AnyStore, PseudonymisedStore, StoreError};

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub deleted: u64,
    pub failed: u64,
}

/// Whether `location` is an absolute path of a file directly or deeper in one of `dirs`,
/// after resolving links of its directory: never `..`, never a link out of them.
pub fn inside(dirs: &[PathBuf], location: &Path) -> bool {
    if !location.is_absolute()
        || location.file_name().is_none()
        || location
            .components()
            .any(|c| matches!(c, Component::ParentDir))
        || location.to_string_lossy().chars().any(char::is_control)
    {
        return false;
    }
    let Some(parent) = location.parent().and_then(|p| p.canonicalize().ok()) else {
        return false;
    };
    dirs.iter()
        .filter_map(|d| d.canonicalize().ok())
        .any(|d| parent.starts_with(d))
}

/// The single step: deletes what is due at `now`, from `dirs` only.
pub async fn sweep(
    store: &AnyStore,
    dirs: &[PathBuf],
    now: jiff::Timestamp,
) -> Result<Swept, StoreError> {
    let mut swept = Swept::default();
    for d in store.datasets_due(now).await? {
        let location = Path::new(&d.location);
        let removed = if location.exists() && !inside(dirs, location) {
            // Registered when the directories were others: never delete outside them.
            Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied))
        } else {
            std::fs::remove_file(location)
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
