//! Atomic outputs and folder locks: the one place in the workspace that decides how a file is
//! written and how a folder is claimed (see `docs/reliability.md`).
//!
//! - Every output is written under a temporary name unique to this process and call
//!   (`.NAME.XXXXXX.tmp`, made by `tempfile`) in the destination's own folder, flushed, fsynced
//!   and renamed over the destination; the folder is then fsynced so the rename survives a power
//!   cut. A reader sees the old file or the complete new one, never a part. On any error
//!   (including a failed rename) the temporary file is removed: nothing is left beside the
//!   destination.
//! - [`DirLock`] takes an exclusive advisory lock (`flock`) on `DIR/.astrodiff.lock`. The
//!   operating system drops it when the process exits, however it exits (SIGKILL included), so a
//!   killed run never leaves a stale lock; a second process gets [`Error::Locked`] naming the holder.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Errors of writing or locking, each naming the file and what failed, on one line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system error. (Shown in the message, deliberately not a `source()`:
    /// error chains printed with `{:#}` would repeat it.)
    #[error("{}: {what}: {error}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        error: std::io::Error,
    },
    /// Another process holds the folder's lock.
    #[error("{} is in use by another process ({holder}); wait for it to finish, or use another folder", path.display())]
    Locked { path: PathBuf, holder: String },
}

impl Error {
    fn io(path: &Path, what: &'static str, error: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            what,
            error,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A fresh temporary file beside `path`, with ordinary permissions (0666 minus the umask, not
/// tempfile's private 0600); deleted when dropped unless persisted.
fn temp_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    let name = path
        .file_name()
        .ok_or_else(|| {
            Error::io(
                path,
                "has no file name",
                std::io::Error::from(std::io::ErrorKind::InvalidInput),
            )
        })?
        .to_string_lossy()
        .into_owned();
    let prefix = format!(".{name}.");
    let mut b = tempfile::Builder::new();
    b.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    b.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    b.tempfile_in(parent_of(path))
        .map_err(|e| Error::io(path, "cannot create a temporary file next to it", e))
}

/// Best-effort fsync of the folder holding `path`, so a completed rename is durable.
fn sync_parent(path: &Path) {
    if let Ok(d) = File::open(parent_of(path)) {
        let _ = d.sync_all();
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    write_with(path, |w| w.write_all(bytes))
}

/// [`write`](fn@write), creating the destination's folder (and its parents) first.
pub fn write_creating_dir(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let path = path.as_ref();
    let dir = parent_of(path);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, "cannot create the folder", e))?;
    write(path, bytes)
}

/// Writes `path` atomically through a buffered writer that `write` fills.
pub fn write_with(
    path: impl AsRef<Path>,
    write: impl FnOnce(&mut BufWriter<&mut File>) -> std::io::Result<()>,
) -> Result<()> {
    write_with_hook(path, write, || Ok(()))
}

/// [`write_with`] with `before_rename` run after the temporary file is complete and fsynced and
/// before it is renamed into place (tests use it to simulate a crash at the worst moment).
pub fn write_with_hook(
    path: impl AsRef<Path>,
    write: impl FnOnce(&mut BufWriter<&mut File>) -> std::io::Result<()>,
    before_rename: impl FnOnce() -> std::io::Result<()>,
) -> Result<()> {
    let path = path.as_ref();
    let mut tmp = temp_beside(path)?;
    {
        let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
        write(&mut w).map_err(|e| Error::io(path, "cannot write", e))?;
        w.flush().map_err(|e| Error::io(path, "cannot write", e))?;
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(path, "cannot flush to disk", e))?;
    before_rename().map_err(|e| Error::io(path, "interrupted before the rename", e))?;
    // On failure `PersistError` hands the temporary file back; dropping it deletes it.
    tmp.persist(path)
        .map_err(|e| Error::io(path, "cannot rename into place", e.error))?;
    sync_parent(path);
    Ok(())
}

/// Writes `path` atomically through a writer of its own that takes a path (an `.npy` writer, a
/// memory map): `write` receives the temporary file's path, which is renamed over `path` when it
/// returns `Ok` and deleted otherwise.
pub fn write_via<E: From<Error>>(
    path: impl AsRef<Path>,
    write: impl FnOnce(&Path) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let path = path.as_ref();
    let tmp = temp_beside(path)?.into_temp_path();
    write(&tmp)?;
    if let Ok(f) = File::open(&tmp) {
        let _ = f.sync_all();
    }
    tmp.persist(path)
        .map_err(|e| Error::io(path, "cannot rename into place", e.error))?;
    sync_parent(path);
    Ok(())
}

/// File name of the lock inside a locked folder.
pub const LOCK_FILE: &str = ".astrodiff.lock";

/// An exclusive lock on a folder, held until dropped (or the process ends).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Creates `dir` if needed and locks it for `what` (e.g. `"astrodiff train"`), without
    /// waiting: if another process holds it, returns [`Error::Locked`] with the holder's
    /// description (its command, process id, host and start time as it wrote them).
    pub fn acquire(dir: impl AsRef<Path>, what: &str) -> Result<DirLock> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "cannot create folder", e))?;
        let path = dir.join(LOCK_FILE);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, "cannot open lock file", e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(Error::Locked {
                    path: dir.to_path_buf(),
                    holder: if holder.is_empty() {
                        "holder unknown".into()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, "cannot lock", e)),
        }
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "unknown host".into());
        let text = format!(
            "{what}, pid {} on {host}, since unix time {since}",
            std::process::id()
        );
        // The description is informative only; the lock is the flock, not the text.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = file.write_all(text.as_bytes());
        let _ = file.flush();
        Ok(DirLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the temporary files (`.NAME.XXXXXX.tmp`) that a process killed while writing
    /// left in the locked folder; while the lock is held, no live writer of ours owns one.
    /// Returns how many were removed.
    pub fn remove_stale_temporaries(&self) -> Result<usize> {
        let dir = parent_of(&self.path);
        let mut n = 0;
        let entries =
            std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, "cannot list folder", e))?;
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') && name.ends_with(".tmp") && e.path().is_file() {
                std::fs::remove_file(e.path()).map_err(|err| {
                    Error::io(&e.path(), "cannot remove stale temporary file", err)
                })?;
                n += 1;
            }
        }
        Ok(n)
    }
}
