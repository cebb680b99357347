//! Checkpoint files: core's checkpoint bytes, written atomically (an exclusively created
//! temporary file, fsync, rename), so that an interrupted write never replaces a good
//! checkpoint with a broken one.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// File name of the checkpoint in a run's output folder.
pub const FILE: &str = "checkpoint.bin";

/// The checkpoint path of a run folder.
pub fn path(out: &Path) -> PathBuf {
    out.join(FILE)
}

/// Writes `bytes` to `path` atomically: into a temporary file created exclusively, under
/// a unique name, in the same folder (a file or link planted there is never written
/// through), synced, then renamed over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let prefix = format!(".{}.", path.file_name().and_then(|n| n.to_str()).unwrap_or("file"));
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // Mode 0666 less the umask, as File::create gives (tempfile's own default is 0600).
    #[cfg(unix)]
    builder.permissions(<std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o666));
    let mut tmp =
        builder.tempfile_in(dir).with_context(|| format!("creating a temporary file in {} to write {}", dir.display(), path.display()))?;
    tmp.write_all(bytes).with_context(|| format!("writing {}", tmp.path().display()))?;
    tmp.as_file().sync_all().with_context(|| format!("writing {}", tmp.path().display()))?;
    tmp.persist(path).map_err(|e| e.error).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// Saves a run's checkpoint bytes in its folder.
pub fn save(out: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(&path(out), bytes)
}

/// Reads the checkpoint bytes of the run in `out`.
pub fn read(out: &Path) -> Result<Vec<u8>> {
    let file = path(out);
    if file.is_dir() {
        anyhow::bail!("{} is a folder, not a checkpoint file: move it away, or choose another --out", file.display());
    }
    std::fs::read(&file)
        .with_context(|| format!("no run in {}: {FILE} missing (start one with `ring-wgpu train --out {}`)", out.display(), out.display()))
}
