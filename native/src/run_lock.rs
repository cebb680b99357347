//! One writer per run folder: an advisory lock (`flock`) on `<folder>/.ring-wgpu.lock`,
//! held while a command trains into the folder. A second command that would write there
//! refuses before any work, naming the folder and the holder; the lock goes with the
//! process that holds it, however it ends (a kill -9 included), so it never goes stale.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};

/// File name of the lock in a run folder.
pub const FILE: &str = ".ring-wgpu.lock";

/// Checks, before any work and without leaving a trace, that `dir` can be created and
/// written: the nearest folder of it that exists must take a new file.
pub fn check_writable(dir: &Path) -> Result<()> {
    let mut existing = dir;
    while !existing.exists() {
        match existing.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => existing = parent,
            _ => {
                existing = Path::new(".");
                break;
            }
        }
    }
    if !existing.is_dir() {
        bail!("--out {}: {} is a file, not a folder; choose another --out", dir.display(), existing.display());
    }
    tempfile::tempfile_in(existing)
        .map(drop)
        .with_context(|| format!("--out {}: cannot write in {}; choose a writable --out", dir.display(), existing.display()))
}

/// A run folder held by this process until dropped.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Creates `dir` if needed (so an unwritable `--out` is found before any work) and
    /// takes its lock, or says who holds it.
    pub fn acquire(dir: &Path) -> Result<RunLock> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create the run folder {}: choose another --out", dir.display()))?;
        let path = dir.join(FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot write in the run folder {} (creating {FILE}): choose a writable --out", dir.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.take(200).read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() { "another process".to_string() } else { holder.to_string() };
                bail!(
                    "{} is in use by another ring-wgpu process ({holder}): wait for it to finish, or choose another --out",
                    dir.display()
                );
            }
            // File systems without advisory locks (some network mounts): go on, and say so.
            Err(TryLockError::Error(e))
                if e.kind() == std::io::ErrorKind::Unsupported || matches!(e.raw_os_error(), Some(37 | 38 | 95)) =>
            {
                eprintln!(
                    "warning: {} cannot be locked on this file system ({e}); make sure no other ring-wgpu process writes there",
                    dir.display()
                );
            }
            Err(TryLockError::Error(e)) => return Err(e).with_context(|| format!("locking {}", path.display())),
        }
        let command: Vec<String> = std::env::args().take(3).collect();
        file.set_len(0).and_then(|()| writeln!(file, "pid {}, `{}`", std::process::id(), command.join(" "))).ok();
        Ok(RunLock { _file: file })
    }
}
