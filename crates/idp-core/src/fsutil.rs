//! Atomic file writes: a temporary file in the target's folder, fsync, then rename.
//!
//! A reader sees the old file or the new one, never half of either; a crash leaves at worst
//! a stray temporary file. Every file is created with mode 0600 unless asked otherwise.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A write that did not happen, and the file it was for.
#[derive(Debug, Error)]
#[error("could not write {}: {source}", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// A path the user named whose folder is missing, or that is a folder, is theirs to fix
/// (exit 2) and the hint says how; any other failure (a full disk, an I/O error) is an
/// operation that failed.
impl crate::diagnostic::Diagnostic for WriteError {
    fn hint(&self) -> Option<String> {
        let folder = folder_of(&self.path);
        Some(match self.source.kind() {
            io::ErrorKind::NotFound => format!(
                "create the folder {} first, or name a file in a folder that exists",
                folder.display()
            ),
            io::ErrorKind::IsADirectory | io::ErrorKind::DirectoryNotEmpty => format!(
                "{} is a folder: name a file path (a file in it, like {})",
                self.path.display(),
                self.path.join("assertion.jwt").display()
            ),
            io::ErrorKind::PermissionDenied => format!(
                "idp may not write in {}: choose a folder you can write to, or change its permissions",
                folder.display()
            ),
            _ => return None,
        })
    }

    fn is_usage(&self) -> bool {
        matches!(
            self.source.kind(),
            io::ErrorKind::NotFound
                | io::ErrorKind::IsADirectory
                | io::ErrorKind::DirectoryNotEmpty
                | io::ErrorKind::PermissionDenied
        )
    }
}

/// How an existing file at the target path is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Replace it.
    Replace,
    /// Fail with `AlreadyExists` rather than replace it.
    Refuse,
}

/// Whether `path` can be written as a file: its folder exists and it is not a folder
/// itself. The same error a write would give, so a command can refuse a path the user
/// named before it does anything it cannot undo (sign, record in the audit log).
pub fn check_file_path(path: &Path) -> Result<(), WriteError> {
    check_folder(path)?;
    if path.is_dir() {
        return Err(WriteError {
            path: path.to_owned(),
            source: io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{} is a folder", path.display()),
            ),
        });
    }
    Ok(())
}

/// `path`'s folder, once it is known to exist.
fn check_folder(path: &Path) -> Result<&Path, WriteError> {
    let folder = folder_of(path);
    if !folder.is_dir() {
        return Err(WriteError {
            path: path.to_owned(),
            source: io::Error::new(
                io::ErrorKind::NotFound,
                format!("folder {} does not exist", folder.display()),
            ),
        });
    }
    Ok(folder)
}

/// Writes `contents` to `path` atomically with the given Unix mode.
pub fn write_atomic(
    path: &Path,
    contents: &[u8],
    mode: u32,
    overwrite: Overwrite,
) -> Result<(), WriteError> {
    stage(path, contents, mode)?.commit(overwrite)
}

/// A file whose bytes are written and synced beside `path`, not yet in place: the costly,
/// failure-prone part of a write (space, quota) done first, so that a command writing
/// several files can stage them all before it puts any in place. Dropped uncommitted, it
/// leaves nothing behind.
#[derive(Debug)]
pub struct Staged {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
}

/// Writes `contents` to a temporary file in `path`'s folder, with the given Unix mode.
pub fn stage(path: &Path, contents: &[u8], mode: u32) -> Result<Staged, WriteError> {
    let err = |source| WriteError {
        path: path.to_owned(),
        source,
    };
    let folder = check_folder(path)?;
    // The temporary file's name means nothing to the user: keep the OS's words only.
    let mut tmp = tempfile::Builder::new()
        .prefix(".idp-tmp-")
        .tempfile_in(folder)
        .map_err(|e| err(without_path(e)))?;
    set_mode(tmp.as_file(), mode).map_err(|e| err(without_path(e)))?;
    tmp.write_all(contents).map_err(|e| err(without_path(e)))?;
    tmp.as_file().sync_all().map_err(|e| err(without_path(e)))?;
    Ok(Staged {
        tmp,
        path: path.to_owned(),
    })
}

impl Staged {
    /// Puts the file in place (a rename) and makes the rename durable.
    pub fn commit(self, overwrite: Overwrite) -> Result<(), WriteError> {
        let err = |source| WriteError {
            path: self.path.clone(),
            source,
        };
        match overwrite {
            Overwrite::Replace => self
                .tmp
                .persist(&self.path)
                .map_err(|e| err(without_path(e.error)))?,
            Overwrite::Refuse => self
                .tmp
                .persist_noclobber(&self.path)
                .map_err(|e| err(without_path(e.error)))?,
        };
        if let Ok(d) = fs::File::open(folder_of(&self.path)) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// Opens (creating it) the lock file at `path` and takes an exclusive lock on it, waiting
/// for another holder; the lock lasts as long as the returned file. Writers of one file
/// (the keyring, the customer inventory) take it around read-change-write.
pub fn lock_exclusive(path: &Path) -> io::Result<fs::File> {
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    file.lock()?;
    Ok(file)
}

/// `tempfile` adds the temporary path to its errors; this keeps the kind and the OS message.
fn without_path(e: io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::from(e.kind()),
    }
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(unix)]
fn set_mode(file: &fs::File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &fs::File, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_missing_folder_or_a_folder_in_the_way_is_the_users_to_fix_and_said_how() {
        use crate::diagnostic::Diagnostic;
        let dir = tempfile::tempdir().unwrap();
        let missing = write_atomic(
            &dir.path().join("nope/a.jwt"),
            b"x",
            0o600,
            Overwrite::Replace,
        )
        .unwrap_err();
        assert!(missing.is_usage());
        assert!(
            missing.hint().unwrap().contains("create the folder"),
            "{:?}",
            missing.hint()
        );
        std::fs::create_dir(dir.path().join("taken")).unwrap();
        let folder =
            write_atomic(&dir.path().join("taken"), b"x", 0o600, Overwrite::Replace).unwrap_err();
        assert!(folder.is_usage(), "{folder:?}");
        assert!(
            folder.hint().unwrap().contains("is a folder"),
            "{:?}",
            folder.hint()
        );
        let other = WriteError {
            path: dir.path().join("a"),
            source: io::Error::other("disk full"),
        };
        assert!(!other.is_usage());
        assert_eq!(other.hint(), None);
    }

    #[test]
    fn writes_with_mode_and_refuses_to_clobber() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.pem");
        write_atomic(&p, b"one", 0o600, Overwrite::Refuse).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"one");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let e = write_atomic(&p, b"two", 0o600, Overwrite::Refuse).unwrap_err();
        assert_eq!(e.source.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&p).unwrap(), b"one");
        write_atomic(&p, b"two", 0o644, Overwrite::Replace).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_staged_file_is_invisible_until_committed_and_gone_if_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("idp.toml");
        let staged = stage(&p, b"x", 0o644).unwrap();
        assert!(!p.exists());
        drop(staged);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        stage(&p, b"y", 0o644)
            .unwrap()
            .commit(Overwrite::Refuse)
            .unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"y");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_missing_folder_is_named_and_no_temporary_path_is_shown() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nope/a.jwt");
        let e = write_atomic(&p, b"x", 0o600, Overwrite::Refuse).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("folder") && text.contains("does not exist"),
            "{text}"
        );
        assert!(!text.contains(".idp-tmp-"), "{text}");
    }
}
