//! Which files the API may name: pseudonymised datasets live only in directories the operator
//! configured for them (`pseudonymised_dirs`, none by default), and the server reads and
//! deletes nothing else through a registered location.
//!
//! The API token is a credential for systems, not for the server's disk: a location that
//! named the log key, the master key, the database or the token would let a token holder read
//! it (statistics quote what they read) or have the retention sweep delete it (issue 30). So a
//! directory that holds any of those files is refused when the server starts, and a location is
//! checked as the file it resolves to, not as the string it is: no `..`, directly inside a
//! configured directory (not in a subdirectory: a subdirectory could be swapped for a link
//! between the check and the use, the configured directory itself only by whoever may write its
//! parent), the file itself no link, a regular file with one name only. The check runs again
//! right before every read and every deletion, and a read checks the handle it opened: its
//! type, its names and, on Linux, the path the kernel says it has, so a file swapped between
//! the check and the open is never read.

use std::path::{Component, Path, PathBuf};

/// The directories pseudonymised datasets may be registered in, resolved once at start.
#[derive(Debug, Clone, Default)]
pub struct DatasetDirs {
    dirs: Vec<PathBuf>,
}

/// Why a configured directory is refused at start.
#[derive(Debug, thiserror::Error)]
pub enum DirRefused {
    #[error("pseudonymised_dirs: `{0}` is not an existing directory")]
    Missing(PathBuf),
    #[error(
        "pseudonymised_dirs: `{dir}` holds `{holds}`, which the API must never reach; \
         give pseudonymised datasets a directory of their own (e.g. /srv/exports)"
    )]
    HoldsSecret { dir: PathBuf, holds: PathBuf },
}

/// Why a location is refused; never says anything about the file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LocationRefused {
    #[error("the server has no directory for pseudonymised datasets (pseudonymised_dirs)")]
    NotConfigured,
    #[error("the location must be an absolute file path, without `..`")]
    NotAbsolute,
    #[error(
        "the location is not a file directly in a directory the server keeps pseudonymised datasets in"
    )]
    Outside,
    #[error("the location is a link; name the file itself")]
    Link,
    #[error("the location is not a regular file with a single name")]
    NotAFile,
}

impl DatasetDirs {
    /// No directory: the register refuses every location (the default).
    pub fn none() -> DatasetDirs {
        DatasetDirs::default()
    }

    /// `dirs`, each refused when missing or when it holds (directly or deeper) one of
    /// `secrets`: the database, the key store, a key file, the token.
    pub fn new(dirs: &[PathBuf], secrets: &[PathBuf]) -> Result<DatasetDirs, DirRefused> {
        let secrets: Vec<PathBuf> = secrets
            .iter()
            .map(|s| s.canonicalize().unwrap_or_else(|_| absolute(s)))
            .collect();
        let mut resolved = Vec::with_capacity(dirs.len());
        for d in dirs {
            let dir = d
                .canonicalize()
                .ok()
                .filter(|c| c.is_dir())
                .ok_or_else(|| DirRefused::Missing(d.clone()))?;
            if let Some(s) = secrets.iter().find(|s| s.starts_with(&dir)) {
                return Err(DirRefused::HoldsSecret {
                    dir: d.clone(),
                    holds: s.clone(),
                });
            }
            resolved.push(dir);
        }
        Ok(DatasetDirs { dirs: resolved })
    }

    /// Trusted as given (tests and embedders that built the directories themselves).
    pub fn unchecked(dirs: Vec<PathBuf>) -> DatasetDirs {
        DatasetDirs {
            dirs: dirs.iter().filter_map(|d| d.canonicalize().ok()).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }

    /// The file `location` names, if the API may read and delete it now.
    pub fn file(&self, location: &Path) -> Result<PathBuf, LocationRefused> {
        self.resolve(location, false)
    }

    /// The file `location` names, if it may be registered: the same checks as [`Self::file`],
    /// but the file may not exist yet (`tutela pseudonymise` registers before it renames its
    /// output into place, so no file is ever there unregistered).
    pub fn registrable(&self, location: &Path) -> Result<PathBuf, LocationRefused> {
        self.resolve(location, true)
    }

    /// The file `location` names, opened for reading if the API may read it: checked by path
    /// first, then as the handle that was opened.
    pub fn open(&self, location: &Path) -> Result<std::fs::File, LocationRefused> {
        let path = self.file(location)?;
        let mut options = std::fs::OpenOptions::new();
        options.read(true);
        // A FIFO swapped in after the check must not hang the reader.
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::fs::OpenOptionsExt;
            const O_NONBLOCK: i32 = 0o4000;
            options.custom_flags(O_NONBLOCK);
        }
        let file = options.open(&path).map_err(|_| LocationRefused::NotAFile)?;
        let meta = file.metadata().map_err(|_| LocationRefused::NotAFile)?;
        if !meta.is_file() || several_names(&meta) {
            return Err(LocationRefused::NotAFile);
        }
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let real = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()));
            if real.ok().as_deref() != Some(path.as_path()) {
                return Err(LocationRefused::Link);
            }
        }
        Ok(file)
    }

    fn resolve(&self, location: &Path, may_be_missing: bool) -> Result<PathBuf, LocationRefused> {
        if self.dirs.is_empty() {
            return Err(LocationRefused::NotConfigured);
        }
        if !location.is_absolute()
            || location
                .components()
                .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
            || location.to_string_lossy().chars().any(char::is_control)
        {
            return Err(LocationRefused::NotAbsolute);
        }
        let (Some(parent), Some(name)) = (location.parent(), location.file_name()) else {
            return Err(LocationRefused::NotAbsolute);
        };
        // The parent resolved must be a configured directory itself (a link to it is fine).
        let Ok(parent_resolved) = parent.canonicalize() else {
            return Err(LocationRefused::Outside);
        };
        if !self.dirs.contains(&parent_resolved) {
            return Err(LocationRefused::Outside);
        }
        let file = parent_resolved.join(name);
        let meta = match std::fs::symlink_metadata(&file) {
            Ok(meta) => meta,
            Err(e) if may_be_missing && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(file);
            }
            Err(_) => return Err(LocationRefused::NotAFile),
        };
        if meta.file_type().is_symlink() {
            return Err(LocationRefused::Link);
        }
        if !meta.is_file() || several_names(&meta) {
            return Err(LocationRefused::NotAFile);
        }
        Ok(file)
    }
}

/// A hard link would let a key file appear inside a dataset directory under another name.
#[cfg(unix)]
fn several_names(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    meta.nlink() > 1
}

#[cfg(not(unix))]
fn several_names(_: &std::fs::Metadata) -> bool {
    false
}

/// A secret that does not exist yet still protects its directory.
fn absolute(p: &Path) -> PathBuf {
    let parent = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match (parent.canonicalize(), p.file_name()) {
        (Ok(d), Some(n)) => d.join(n),
        _ => p.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tutela-dsf-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d.canonicalize().unwrap()
    }

    #[test]
    fn no_directory_by_default_refuses_every_location() {
        let d = temp("none");
        std::fs::write(d.join("a.csv"), "x\n").unwrap();
        assert_eq!(
            DatasetDirs::none().file(&d.join("a.csv")),
            Err(LocationRefused::NotConfigured)
        );
    }

    #[test]
    fn a_directory_holding_a_key_or_the_database_is_refused_at_start() {
        let d = temp("secret");
        std::fs::write(d.join("tutela-log.key"), "k").unwrap();
        let err =
            DatasetDirs::new(std::slice::from_ref(&d), &[d.join("tutela-log.key")]).unwrap_err();
        assert!(matches!(err, DirRefused::HoldsSecret { .. }), "{err}");
        // Also an ancestor of the secret's directory, and a secret not created yet.
        let sub = d.join("data");
        std::fs::create_dir_all(&sub).unwrap();
        assert!(DatasetDirs::new(std::slice::from_ref(&d), &[sub.join("tutela.db")]).is_err());
        assert!(DatasetDirs::new(std::slice::from_ref(&sub), &[d.join("tutela.db")]).is_ok());
    }

    #[test]
    fn links_hard_links_dirs_and_escapes_are_refused() {
        let d = temp("links");
        let exports = d.join("exports");
        std::fs::create_dir_all(&exports).unwrap();
        std::fs::write(d.join("secret.key"), "k").unwrap();
        std::fs::write(exports.join("ok.csv"), "a\n").unwrap();
        let dirs =
            DatasetDirs::new(std::slice::from_ref(&exports), &[d.join("secret.key")]).unwrap();
        assert_eq!(
            dirs.file(&exports.join("ok.csv")),
            Ok(exports.join("ok.csv"))
        );
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(d.join("secret.key"), exports.join("x.csv")).unwrap();
            assert_eq!(
                dirs.file(&exports.join("x.csv")),
                Err(LocationRefused::Link)
            );
            std::os::unix::fs::symlink(&d, exports.join("up")).unwrap();
            assert_eq!(
                dirs.file(&exports.join("up").join("secret.key")),
                Err(LocationRefused::Outside)
            );
            std::fs::hard_link(d.join("secret.key"), exports.join("h.csv")).unwrap();
            assert_eq!(
                dirs.file(&exports.join("h.csv")),
                Err(LocationRefused::NotAFile)
            );
        }
        assert_eq!(
            dirs.file(&exports.join("..").join("secret.key")),
            Err(LocationRefused::NotAbsolute)
        );
        assert_eq!(
            dirs.file(&d.join("secret.key")),
            Err(LocationRefused::Outside)
        );
        assert_eq!(dirs.file(&exports), Err(LocationRefused::Outside));
        assert_eq!(
            dirs.file(&exports.join("later.csv")),
            Err(LocationRefused::NotAFile)
        );
        assert_eq!(
            dirs.registrable(&exports.join("later.csv")),
            Ok(exports.join("later.csv"))
        );
        std::fs::create_dir_all(exports.join("sub")).unwrap();
        std::fs::write(exports.join("sub").join("deep.csv"), "a\n").unwrap();
        // Only directly in a configured directory: a subdirectory could be swapped for a link.
        assert_eq!(
            dirs.file(&exports.join("sub").join("deep.csv")),
            Err(LocationRefused::Outside)
        );
        let mut text = String::new();
        std::io::Read::read_to_string(&mut dirs.open(&exports.join("ok.csv")).unwrap(), &mut text)
            .unwrap();
        assert_eq!(text, "a\n");
        #[cfg(unix)]
        assert_eq!(
            dirs.open(&exports.join("x.csv")).err(),
            Some(LocationRefused::Link)
        );
        assert_eq!(
            dirs.file(&exports.join("sub")),
            Err(LocationRefused::NotAFile)
        );
        assert_eq!(
            dirs.file(Path::new("ok.csv")),
            Err(LocationRefused::NotAbsolute)
        );
        let _ = std::fs::remove_dir_all(d);
    }
}
