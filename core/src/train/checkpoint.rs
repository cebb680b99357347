//! Checkpoints as bytes: a run's configuration, its progress and its method's state
//! (method-agnostic: named f32 tensors plus a little JSON). Files are the native edge's
//! business (written atomically there); a browser keeps the same bytes in IndexedDB or
//! offers them as a download.
//!
//! Layout: the magic line, one JSON header line (format, configuration, progress, the
//! method's meta, each tensor's name and shape), then every tensor's values as
//! little-endian f32, in header order, then the CRC-32 of everything before it (4 bytes,
//! little-endian): a changed byte anywhere is found before anything is used. Format 2
//! (the same without the checksum) is still read.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::TrainConfig;
pub use crate::error::CheckpointError;
use crate::error::Result;
use crate::gpu::read::read_f32;
use crate::methods::{HostState, MethodState};
use crate::model::HostTensor;

const MAGIC: &[u8] = b"RING-WGPU CHECKPOINT";
const FORMAT: u32 = crate::error::CHECKPOINT_FORMAT;
/// The last format without a checksum, still read.
const FORMAT_WITHOUT_CHECKSUM: u32 = 2;

/// How far a run got.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Steps completed.
    pub global_step: u64,
    /// Sum of the losses of the current epoch's steps so far (f32 bits; none at an epoch
    /// boundary).
    pub epoch_loss_bits: Option<u32>,
    /// Seconds trained before this point (across resumptions).
    pub seconds: f64,
    /// The last kNN top-1 measured.
    pub last_knn: Option<f64>,
}

#[derive(Serialize, Deserialize)]
struct TensorEntry {
    name: String,
    shape: Vec<usize>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: u32,
    config: TrainConfig,
    progress: Progress,
    meta: serde_json::Value,
    tensors: Vec<TensorEntry>,
}

/// A run's complete state on the host.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The run's (resolved) configuration.
    pub config: TrainConfig,
    /// How far it got.
    pub progress: Progress,
    /// The method's state.
    pub state: HostState,
}

impl Checkpoint {
    /// Reads a method's state back from the device (asynchronously).
    pub async fn capture(config: TrainConfig, progress: Progress, state: MethodState) -> Result<Self> {
        let mut tensors = HashMap::with_capacity(state.tensors.len());
        for (name, tensor) in state.tensors {
            let values = read_f32(tensor).await?;
            tensors.insert(name, HostTensor { shape: vec![values.len()], values });
        }
        Ok(Checkpoint { config, progress, state: HostState { tensors, meta: state.meta } })
    }

    /// The checkpoint as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut order: Vec<&String> = self.state.tensors.keys().collect();
        order.sort();
        let header = Header {
            format: FORMAT,
            config: self.config.clone(),
            progress: self.progress,
            meta: self.state.meta.clone(),
            tensors: order.iter().map(|&name| TensorEntry { name: name.clone(), shape: self.state.tensors[name].shape.clone() }).collect(),
        };
        let mut bytes = Vec::new();
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(format!(" {FORMAT}\n").as_bytes());
        bytes.extend_from_slice(serde_json::to_string(&header).expect("the header serialises").as_bytes());
        bytes.push(b'\n');
        for name in order {
            for v in &self.state.tensors[name].values {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
        let checksum = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&checksum.to_le_bytes());
        bytes
    }

    /// The header of checkpoint bytes, and where the tensor values start and end (the
    /// checksum verified first).
    fn header(bytes: &[u8]) -> Result<(Header, usize, usize), CheckpointError> {
        let damaged = |what: &str| CheckpointError::Damaged(what.to_string());
        let line_end = |from: usize| bytes[from..].iter().position(|&b| b == b'\n').map(|i| from + i);
        if !bytes.starts_with(MAGIC) {
            return Err(CheckpointError::NotACheckpoint);
        }
        let first = line_end(0).ok_or_else(|| damaged("no header"))?;
        let format: u32 = std::str::from_utf8(&bytes[MAGIC.len()..first])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or(CheckpointError::NotACheckpoint)?;
        let end = match format {
            FORMAT => {
                let end = bytes.len().checked_sub(4).filter(|&end| end > first).ok_or_else(|| damaged("truncated"))?;
                let stored = u32::from_le_bytes([bytes[end], bytes[end + 1], bytes[end + 2], bytes[end + 3]]);
                if crc32fast::hash(&bytes[..end]) != stored {
                    return Err(damaged("its checksum does not match: it was truncated or changed after it was written"));
                }
                end
            }
            FORMAT_WITHOUT_CHECKSUM => bytes.len(),
            other => return Err(CheckpointError::Format(other)),
        };
        let second = line_end(first + 1).filter(|&second| second < end).ok_or_else(|| damaged("truncated header"))?;
        let header: Header = serde_json::from_slice(&bytes[first + 1..second]).map_err(|e| damaged(&format!("unreadable header: {e}")))?;
        if header.format != format {
            return Err(damaged("the header's format differs from the first line's"));
        }
        // A saved configuration is used to load data and size buffers: check it first. The
        // monitor's settings may change on resumption, so they are checked where they are used.
        let defaults = TrainConfig::default();
        let checked = TrainConfig {
            knn_every: defaults.knn_every,
            knn_k: defaults.knn_k,
            knn_temperature: defaults.knn_temperature,
            ..header.config.clone()
        };
        checked.validate().map_err(|e| damaged(&format!("its settings are invalid: {e}")))?;
        Ok((header, second + 1, end))
    }

    /// The configuration a checkpoint was made with (reads the header only).
    pub fn read_config(bytes: &[u8]) -> Result<TrainConfig, CheckpointError> {
        Ok(Self::header(bytes)?.0.config)
    }

    /// Parses bytes written by [`Checkpoint::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CheckpointError> {
        let damaged = |what: &str| CheckpointError::Damaged(what.to_string());
        let (header, mut offset, values_end) = Self::header(bytes)?;
        // Every length is checked against the bytes there are before anything is allocated.
        let mut tensors = HashMap::with_capacity(header.tensors.len());
        for entry in header.tensors {
            let end = entry
                .shape
                .iter()
                .try_fold(4usize, |bytes, &d| bytes.checked_mul(d))
                .and_then(|len| offset.checked_add(len))
                .filter(|&end| end <= values_end)
                .ok_or_else(|| damaged(&format!("tensor {} declares more values than the file holds", entry.name)))?;
            if tensors.contains_key(&entry.name) {
                return Err(damaged(&format!("tensor {} appears twice", entry.name)));
            }
            let values = bytes[offset..end].chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            tensors.insert(entry.name, HostTensor { shape: entry.shape, values });
            offset = end;
        }
        if offset != values_end {
            return Err(damaged("trailing bytes"));
        }
        Ok(Checkpoint { config: header.config, progress: header.progress, state: HostState { tensors, meta: header.meta } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        let mut tensors = HashMap::new();
        tensors.insert("a".to_string(), HostTensor { shape: vec![3], values: vec![1.0, -0.0, f32::NAN] });
        tensors.insert("b".to_string(), HostTensor { shape: vec![1], values: vec![2.5] });
        let meta = serde_json::json!({ "queue_ptr": 7 });
        let progress = Progress { global_step: 12, epoch_loss_bits: Some(3.25f32.to_bits()), seconds: 1.5, last_knn: Some(0.5) };
        Checkpoint { config: TrainConfig { epochs: 4, ..TrainConfig::default() }, progress, state: HostState { tensors, meta } }
    }

    #[test]
    fn bytes_round_trip_exactly() {
        let bytes = sample().to_bytes();
        let back = Checkpoint::from_bytes(&bytes).unwrap();
        assert_eq!(back.config.epochs, 4);
        assert_eq!(back.progress, sample().progress);
        assert_eq!(back.state.meta["queue_ptr"], 7);
        assert_eq!(back.state.tensors["a"].values[0], 1.0);
        assert!(back.state.tensors["a"].values[1].is_sign_negative() && back.state.tensors["a"].values[2].is_nan());
        assert_eq!(back.state.tensors["b"].values, vec![2.5]);
    }

    #[test]
    fn damage_is_reported_not_panicked() {
        let bytes = sample().to_bytes();
        assert_eq!(Checkpoint::from_bytes(b"hello").unwrap_err(), CheckpointError::NotACheckpoint);
        assert!(matches!(Checkpoint::from_bytes(&bytes[..bytes.len() - 2]), Err(CheckpointError::Damaged(_))));
        assert!(matches!(Checkpoint::from_bytes(&bytes[..40]), Err(CheckpointError::Damaged(_))));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(Checkpoint::from_bytes(&longer), Err(CheckpointError::Damaged(_))));
        let old = b"RING-WGPU CHECKPOINT 1\n{\"epoch\":1}\n";
        let e = Checkpoint::from_bytes(old).unwrap_err();
        assert_eq!(e, CheckpointError::Format(1));
        assert!(e.to_string().contains("start a new run"));
    }

    /// Format-3 bytes whose header is `edit`ed, with a valid checksum.
    fn with_header(edit: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
        let bytes = sample().to_bytes();
        let first = bytes.iter().position(|&b| b == b'\n').unwrap();
        let second = first + 1 + bytes[first + 1..].iter().position(|&b| b == b'\n').unwrap();
        let mut header: serde_json::Value = serde_json::from_slice(&bytes[first + 1..second]).unwrap();
        edit(&mut header);
        let mut out = bytes[..=first].to_vec();
        out.extend_from_slice(serde_json::to_string(&header).unwrap().as_bytes());
        out.extend_from_slice(&bytes[second..bytes.len() - 4]);
        let checksum = crc32fast::hash(&out);
        out.extend_from_slice(&checksum.to_le_bytes());
        out
    }

    #[test]
    fn every_changed_byte_is_found() {
        let bytes = sample().to_bytes();
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0xFF] {
                let mut bad = bytes.clone();
                bad[i] ^= flip;
                assert!(Checkpoint::from_bytes(&bad).is_err(), "byte {i} ^ {flip:#x} went unnoticed");
                assert!(Checkpoint::read_config(&bad).is_err(), "byte {i} ^ {flip:#x} went unnoticed by read_config");
            }
        }
        // 4 KiB of 0xFF over the values of a larger checkpoint (the example).
        let mut big = sample();
        big.state.tensors.insert("c".into(), HostTensor { shape: vec![4096], values: vec![0.5; 4096] });
        let mut bad = big.to_bytes();
        let n = bad.len();
        bad[n - 4100..n - 4].fill(0xFF);
        let e = Checkpoint::from_bytes(&bad).unwrap_err();
        assert!(matches!(&e, CheckpointError::Damaged(what) if what.contains("checksum")), "{e}");
    }

    #[test]
    fn format_2_without_a_checksum_is_still_read() {
        let bytes = sample().to_bytes();
        let text_end = bytes.len() - 4;
        let mut old = bytes[..text_end].to_vec();
        let pos = old.windows(2).position(|w| w == b"3\n").unwrap();
        old[pos] = b'2';
        let from = b"\"format\":3";
        let at = old.windows(from.len()).position(|w| w == from).unwrap();
        old[at + from.len() - 1] = b'2';
        let back = Checkpoint::from_bytes(&old).unwrap();
        assert_eq!(back.progress, sample().progress);
        assert_eq!(back.state.tensors["b"].values, vec![2.5]);
    }

    #[test]
    fn declared_lengths_are_checked_before_allocating() {
        // 2^62 values: 4 x 2^62 wraps to 0 bytes in unchecked arithmetic.
        for shape in [serde_json::json!([1u64 << 62]), serde_json::json!([1u64 << 32, 1u64 << 32]), serde_json::json!([4])] {
            let bytes = with_header(|h| h["tensors"][0]["shape"] = shape.clone());
            let e = Checkpoint::from_bytes(&bytes).unwrap_err();
            assert!(matches!(e, CheckpointError::Damaged(_)), "{shape}: {e}");
        }
        let twice = with_header(|h| {
            let a = h["tensors"][0].clone();
            h["tensors"][1] = a;
        });
        assert!(Checkpoint::from_bytes(&twice).is_err());
    }

    #[test]
    fn a_saved_configuration_is_validated() {
        for (key, value) in [("synthetic_per_class", serde_json::json!(100_000_000_000u64)), ("queue", serde_json::json!(1u64 << 62))] {
            let bytes = with_header(|h| h["config"][key] = value.clone());
            let e = Checkpoint::read_config(&bytes).unwrap_err();
            assert!(e.to_string().contains(key), "{key}: {e}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// Random damage, with and without a recomputed checksum (so that the parser
        /// behind the checksum is exercised too): a checkpoint or an error, never a panic.
        #[test]
        fn mutated_checkpoints_load_or_are_refused(edits in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 0..8),
                                                   cut in proptest::option::of(proptest::prelude::any::<usize>()),
                                                   insert in proptest::option::of((proptest::prelude::any::<usize>(), proptest::collection::vec(proptest::prelude::any::<u8>(), 1..40))),
                                                   reseal in proptest::prelude::any::<bool>()) {
            let mut bytes = sample().to_bytes();
            bytes.truncate(bytes.len() - 4);
            for (at, value) in edits {
                let at = at % bytes.len();
                bytes[at] = value;
            }
            if let Some((at, extra)) = insert {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, extra);
            }
            if let Some(cut) = cut {
                bytes.truncate(cut % (bytes.len() + 1));
            }
            if reseal {
                let checksum = crc32fast::hash(&bytes);
                bytes.extend_from_slice(&checksum.to_le_bytes());
            }
            if let Ok(back) = Checkpoint::from_bytes(&bytes) {
                // Whatever loaded is self-consistent: every tensor's values fill its shape.
                for t in back.state.tensors.values() {
                    proptest::prop_assert_eq!(t.values.len(), t.shape.iter().product::<usize>());
                }
            }
            let _ = Checkpoint::read_config(&bytes);
        }
    }
}
