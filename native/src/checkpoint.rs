//! Training checkpoints: one file, written atomically (temporary file, fsync, rename), so
//! an interrupted write never replaces a good checkpoint with a broken one.
//!
//! Layout: a magic line, a JSON header line (epoch, queue pointer and shape, the run's
//! settings, section sizes), then the sections: query encoder, key encoder (burnpack
//! records, which keep parameter ids so the optimizer state still matches), optimizer
//! state (burnpack), and the queue (f32, little-endian).

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use ring_wgpu_core::burn::module::Module;
use ring_wgpu_core::burn::store::ModuleRecord;
use ring_wgpu_core::burn::tensor::{Bytes, Device, Tensor, TensorData};
use ring_wgpu_core::model::ContrastiveNet;
use ring_wgpu_core::moco::{key_encoder, Moco, MocoConfig, MocoState};
use serde::{Deserialize, Serialize};

const MAGIC: &str = "RING-WGPU CHECKPOINT 1";
/// File name of the checkpoint in a run's output folder.
pub const FILE: &str = "checkpoint.bin";

#[derive(Serialize, Deserialize)]
struct Header {
    epoch: usize,
    queue_ptr: usize,
    queue_shape: [usize; 2],
    settings: serde_json::Value,
    sections: [usize; 4],
}

/// The checkpoint path of a run folder.
pub fn path(out: &Path) -> PathBuf {
    out.join(FILE)
}

fn bytes_of(record: ModuleRecord) -> Result<Vec<u8>> {
    Ok(record.into_bytes().map_err(|e| anyhow::anyhow!("serialising a module: {e:?}"))?.to_vec())
}

/// Writes the state after `epoch` completed epochs, with the run's `settings`.
pub fn save(out: &Path, epoch: usize, settings: &serde_json::Value, moco: &Moco) -> Result<()> {
    let state = moco.state();
    let query = bytes_of(state.query.into_record())?;
    let key = bytes_of(state.key.into_record())?;
    let optimizer = state.optimizer.into_bytes().map_err(|e| anyhow::anyhow!("serialising the optimizer: {e:?}"))?.to_vec();
    let queue_shape = state.queue.dims();
    let queue: Vec<f32> = state.queue.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let queue: Vec<u8> = queue.iter().flat_map(|v| v.to_le_bytes()).collect();
    let header = Header {
        epoch,
        queue_ptr: state.queue_ptr,
        queue_shape,
        settings: settings.clone(),
        sections: [query.len(), key.len(), optimizer.len(), queue.len()],
    };
    let final_path = path(out);
    let tmp = out.join(format!("{FILE}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        writeln!(f, "{MAGIC}")?;
        writeln!(f, "{}", serde_json::to_string(&header)?)?;
        for section in [&query, &key, &optimizer, &queue] {
            f.write_all(section)?;
        }
        f.sync_all().with_context(|| format!("writing {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, &final_path).with_context(|| format!("replacing {}", final_path.display()))?;
    Ok(())
}

/// Settings that may change between a run and its resumption.
const MAY_CHANGE: &[&str] = &["epochs", "resume", "stop_after", "config", "out", "knn_every"];

fn differing(saved: &serde_json::Value, now: &serde_json::Value) -> Vec<String> {
    let (Some(saved), Some(now)) = (saved.as_object(), now.as_object()) else { return vec!["settings".into()] };
    let mut keys: Vec<String> = saved
        .keys()
        .chain(now.keys())
        .filter(|k| !MAY_CHANGE.contains(&k.as_str()) && saved.get(*k) != now.get(*k))
        .map(|k| {
            let show = |v: Option<&serde_json::Value>| v.map(|v| v.to_string()).unwrap_or_else(|| "unset".into());
            format!("{k} (saved {}, now {})", show(saved.get(k)), show(now.get(k)))
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Loads the checkpoint of `out` and rebuilds the run: returns the completed epochs and
/// the MoCo state. Refuses a checkpoint whose settings differ from `settings` (except
/// those in `MAY_CHANGE`).
pub fn load(out: &Path, settings: &serde_json::Value, config: MocoConfig, device: &Device) -> Result<(usize, Moco)> {
    let file_path = path(out);
    let corrupt = |what: &str| anyhow::anyhow!("{}: {what}; the checkpoint is damaged (start a new run in another --out)", file_path.display());
    let file = std::fs::File::open(&file_path)
        .with_context(|| format!("no checkpoint at {} to resume from; run without --resume to start", file_path.display()))?;
    let mut reader = std::io::BufReader::new(file);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    if line.trim_end() != MAGIC {
        return Err(corrupt("not a ring-wgpu checkpoint"));
    }
    line.clear();
    reader.read_line(&mut line)?;
    let header: Header = serde_json::from_str(&line).map_err(|_| corrupt("unreadable header"))?;
    let diff = differing(&header.settings, settings);
    if !diff.is_empty() {
        bail!(
            "{} was written with other settings: {}. Resume with the same settings, or start a new run in another --out",
            file_path.display(),
            diff.join(", ")
        );
    }
    let mut sections = Vec::new();
    for size in header.sections {
        let mut buf = vec![0u8; size];
        reader.read_exact(&mut buf).map_err(|_| corrupt("truncated"))?;
        sections.push(buf);
    }
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest)?;
    ensure!(rest.is_empty(), corrupt("trailing bytes"));

    let autodiff = device.clone().autodiff();
    let record = |bytes: Vec<u8>| ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)).map_err(|_| corrupt("unreadable module record"));
    let fresh = ContrastiveNet::new(config.encoder, config.projection_dim, &autodiff);
    let query = fresh.try_load_record(record(sections[0].clone())?).map_err(|e| corrupt(&format!("query encoder: {e:?}")))?;
    let key = key_encoder(&query).try_load_record(record(sections[1].clone())?).map_err(|e| corrupt(&format!("key encoder: {e:?}")))?.no_grad();
    let optimizer = Moco::new_optimizer(&config)
        .from_bytes(Bytes::from_bytes_vec(sections[2].clone()))
        .map_err(|e| corrupt(&format!("optimizer state: {e:?}")))?;
    let [rows, cols] = header.queue_shape;
    ensure!(sections[3].len() == rows * cols * 4, corrupt("queue size"));
    let queue: Vec<f32> = sections[3].chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let queue = Tensor::<2>::from_data(TensorData::new(queue, [rows, cols]), device);
    let moco = Moco::from_state(config, MocoState { query, key, queue, queue_ptr: header.queue_ptr, optimizer })?;
    Ok((header.epoch, moco))
}
