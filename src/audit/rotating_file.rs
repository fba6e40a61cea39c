//! The audit log file with kube-apiserver's rotation (lumberjack): when a write would pass the size
//! limit the file is renamed `<name>-<UTC timestamp>.<ext>` and a new one started; only the
//! `max_backups` newest backups, none older than `max_age`, are kept.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// lumberjack's size limit when none is given (`--audit-log-maxsize=0`): 100 MB.
pub const DEFAULT_MAX_SIZE_BYTES: u64 = 100 * MEGABYTE;

/// lumberjack's megabyte.
pub const MEGABYTE: u64 = 1024 * 1024;

/// lumberjack's backup timestamp layout (Go's `2006-01-02T15-04-05.000`).
const BACKUP_TIME_FORMAT: &str = "%Y-%m-%dT%H-%M-%S%.3f";

/// Rotation limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Size limit in bytes; 0 means [`DEFAULT_MAX_SIZE_BYTES`].
    pub max_size_bytes: u64,
    /// Backups kept; 0 keeps all (subject to `max_age`).
    pub max_backups: usize,
    /// Backups older than this are removed; zero keeps them.
    pub max_age: Duration,
}

/// An append-only file that rotates.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: Rotation,
}

impl RotatingFile {
    /// Opens (appending) or creates `path`.
    pub fn open(path: &Path, rotation: Rotation) -> io::Result<RotatingFile> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile { path: path.to_owned(), file, size, rotation })
    }

    fn max_size(&self) -> u64 {
        if self.rotation.max_size_bytes == 0 {
            DEFAULT_MAX_SIZE_BYTES
        } else {
            self.rotation.max_size_bytes
        }
    }

    /// `(<dir>, <stem>-, .<ext>)`: what backups of this file look like.
    fn backup_parts(&self) -> (PathBuf, String, String) {
        let dir = self.path.parent().map(Path::to_path_buf).unwrap_or_default();
        let stem = self.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let ext = self.path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
        (dir, format!("{stem}-"), ext)
    }

    /// Renames the current file to a timestamped backup, starts a new one, prunes old backups.
    pub fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        let (dir, head, ext) = self.backup_parts();
        let mut at = jiff::Timestamp::now();
        // Two rotations in one millisecond must not overwrite each other's backup.
        let backup = loop {
            let candidate = dir.join(format!("{head}{}{ext}", at.strftime(BACKUP_TIME_FORMAT)));
            if !candidate.exists() {
                break candidate;
            }
            at += jiff::SignedDuration::from_millis(1);
        };
        std::fs::rename(&self.path, &backup)?;
        self.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        self.size = 0;
        self.prune()
    }

    /// The backups, newest first (the timestamp layout sorts as text).
    pub fn backups(&self) -> io::Result<Vec<PathBuf>> {
        let (dir, head, ext) = self.backup_parts();
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
        let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                name.starts_with(&head) && name.ends_with(&ext) && p != &self.path
            })
            .collect();
        out.sort();
        out.reverse();
        Ok(out)
    }

    fn prune(&self) -> io::Result<()> {
        let now = SystemTime::now();
        for (i, backup) in self.backups()?.into_iter().enumerate() {
            let too_many = self.rotation.max_backups > 0 && i >= self.rotation.max_backups;
            let too_old = !self.rotation.max_age.is_zero()
                && std::fs::metadata(&backup)
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > self.rotation.max_age);
            if too_many || too_old {
                std::fs::remove_file(&backup)?;
            }
        }
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.size > 0 && self.size + buf.len() as u64 > self.max_size() {
            self.rotate()?;
        }
        let n = self.file.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
