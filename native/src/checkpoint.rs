//! Checkpoint files: core's checkpoint bytes, written atomically (temporary file, fsync,
//! rename), so that an interrupted write never replaces a good checkpoint with a broken one.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// File name of the checkpoint in a run's output folder.
pub const FILE: &str = "checkpoint.bin";

/// The checkpoint path of a run folder.
pub fn path(out: &Path) -> PathBuf {
    out.join(FILE)
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes).with_context(|| format!("writing {}", tmp.display()))?;
        f.sync_all().with_context(|| format!("writing {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

/// Saves a run's checkpoint bytes in its folder.
pub fn save(out: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(&path(out), bytes)
}

/// Reads the checkpoint bytes of the run in `out`.
pub fn read(out: &Path) -> Result<Vec<u8>> {
    let file = path(out);
    std::fs::read(&file)
        .with_context(|| format!("no run in {}: {FILE} missing (start one with `ring-wgpu train --out {}`)", out.display(), out.display()))
}
