//! CIFAR-10 and CIFAR-100, binary version (`cifar-10-batches-bin/`, `cifar-100-binary/`).
//!
//! CIFAR-10 record: 1 label byte, then 3072 bytes (1024 red, 1024 green, 1024 blue,
//! row-major 32 x 32). CIFAR-100 record: coarse label byte, fine label byte, 3072 bytes.

use std::path::{Path, PathBuf};

use super::{DatasetError, ImageDataset, Split};

const SIDE: usize = 32;
const PLANE: usize = SIDE * SIDE;

/// Which CIFAR-100 labels to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CifarLabels {
    /// The 100 fine classes.
    Fine,
    /// The 20 superclasses.
    Coarse,
}

/// Parses CIFAR records (`label_bytes` leading label bytes, `label_index` the one to
/// keep) into HWC pixels and labels, checking sizes and label ranges.
pub fn parse_cifar_records(
    bytes: &[u8],
    path: &Path,
    label_bytes: usize,
    label_index: usize,
    classes: usize,
) -> Result<(Vec<u8>, Vec<u32>), DatasetError> {
    let record = label_bytes + 3 * PLANE;
    if bytes.is_empty() || !bytes.len().is_multiple_of(record) {
        return Err(DatasetError::Truncated {
            path: path.to_path_buf(),
            expected: format!("a non-zero multiple of {record}"),
            found: bytes.len() as u64,
        });
    }
    let n = bytes.len() / record;
    let mut pixels = vec![0u8; n * 3 * PLANE];
    let mut labels = Vec::with_capacity(n);
    for (i, rec) in bytes.chunks_exact(record).enumerate() {
        let label = rec[label_index] as usize;
        if label >= classes {
            return Err(DatasetError::Corrupt {
                path: path.to_path_buf(),
                reason: format!("record {i} has label {label}, but there are {classes} classes"),
            });
        }
        labels.push(label as u32);
        let planes = &rec[label_bytes..];
        let out = &mut pixels[i * 3 * PLANE..(i + 1) * 3 * PLANE];
        for p in 0..PLANE {
            for c in 0..3 {
                out[p * 3 + c] = planes[c * PLANE + p];
            }
        }
    }
    Ok((pixels, labels))
}

/// The largest CIFAR file read (CIFAR-100's train.bin is 154 MB).
const MAX_CIFAR_FILE_BYTES: u64 = 200 << 20;

fn read(path: &Path) -> Result<Vec<u8>, DatasetError> {
    super::read_at_most(path, MAX_CIFAR_FILE_BYTES, "CIFAR file")
}

/// `dir` itself if it holds `marker`, else `dir/subdir` if that does.
fn resolve(dir: &Path, subdir: &str, marker: &str, archive: &str) -> Result<PathBuf, DatasetError> {
    for candidate in [dir.to_path_buf(), dir.join(subdir)] {
        if candidate.join(marker).is_file() {
            return Ok(candidate);
        }
    }
    let command = if subdir.contains("100") { "cifar100" } else { "cifar10" };
    Err(DatasetError::Missing {
        path: dir.join(subdir).join(marker),
        hint: format!(
            "run `ring-wgpu data download {command} --dir {0}`, or download the binary version ({archive}) and unpack it into {0}",
            dir.display()
        ),
    })
}

fn names(path: &Path, expected: usize) -> Result<Vec<String>, DatasetError> {
    class_names(&read(path)?, path, expected)
}

/// Class names, one per line, exactly `expected` of them (`path` labels errors).
pub(crate) fn class_names(bytes: &[u8], path: &Path, expected: usize) -> Result<Vec<String>, DatasetError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| DatasetError::Corrupt { path: path.to_path_buf(), reason: "class names are not UTF-8".into() })?;
    let names: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
    if names.len() != expected {
        return Err(DatasetError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("{} class names, expected {expected}", names.len()),
        });
    }
    Ok(names)
}

fn assemble(name: String, parts: Vec<(Vec<u8>, Vec<u32>)>, classes: Vec<String>) -> ImageDataset {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (p, l) in parts {
        pixels.extend(p);
        labels.extend(l);
    }
    ImageDataset { name, height: SIDE, width: SIDE, pixels: pixels.into(), labels, classes }
}

/// Loads CIFAR-10 (binary version) from `dir` (or `dir/cifar-10-batches-bin`).
pub fn load_cifar10(dir: &Path, split: Split) -> Result<ImageDataset, DatasetError> {
    let files: Vec<String> = match split {
        Split::Train => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
        Split::Test => vec!["test_batch.bin".into()],
        Split::Unlabeled => return Err(DatasetError::Invalid("CIFAR-10 has no unlabeled split".into())),
    };
    let root = resolve(dir, "cifar-10-batches-bin", &files[0], "cifar-10-binary.tar.gz")?;
    let classes = names(&root.join("batches.meta.txt"), 10)?;
    let parts = files
        .iter()
        .map(|f| {
            let path = root.join(f);
            parse_cifar_records(&read(&path)?, &path, 1, 0, 10)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(assemble(format!("cifar10/{split}"), parts, classes))
}

/// Loads CIFAR-100 (binary version) from `dir` (or `dir/cifar-100-binary`).
pub fn load_cifar100(dir: &Path, split: Split, labels: CifarLabels) -> Result<ImageDataset, DatasetError> {
    let file = match split {
        Split::Train => "train.bin",
        Split::Test => "test.bin",
        Split::Unlabeled => return Err(DatasetError::Invalid("CIFAR-100 has no unlabeled split".into())),
    };
    let root = resolve(dir, "cifar-100-binary", file, "cifar-100-binary.tar.gz")?;
    let (names_file, count, index) = match labels {
        CifarLabels::Fine => ("fine_label_names.txt", 100, 1),
        CifarLabels::Coarse => ("coarse_label_names.txt", 20, 0),
    };
    let classes = names(&root.join(names_file), count)?;
    let path = root.join(file);
    let part = parse_cifar_records(&read(&path)?, &path, 2, index, count)?;
    Ok(assemble(format!("cifar100/{split}"), vec![part], classes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(label: u8, seed: u8) -> Vec<u8> {
        let mut r = vec![label];
        r.extend((0..3 * PLANE).map(|i| (i as u8).wrapping_mul(seed)));
        r
    }

    #[test]
    fn records_become_hwc_pixels() {
        let bytes = [record(3, 1), record(9, 7)].concat();
        let (pixels, labels) = parse_cifar_records(&bytes, Path::new("x.bin"), 1, 0, 10).unwrap();
        assert_eq!(labels, vec![3, 9]);
        // Pixel 5 of image 1: R, G, B from the three planes.
        let r = &bytes[3073..];
        assert_eq!(&pixels[3 * PLANE + 15..][..3], &[r[1 + 5], r[1 + PLANE + 5], r[1 + 2 * PLANE + 5]]);
    }

    #[test]
    fn truncated_and_corrupt_files_are_named() {
        let bytes = record(1, 1);
        let err = parse_cifar_records(&bytes[..100], Path::new("data_batch_1.bin"), 1, 0, 10).unwrap_err();
        assert!(matches!(err, DatasetError::Truncated { .. }));
        assert!(err.to_string().contains("data_batch_1.bin"), "{err}");
        let err = parse_cifar_records(&record(12, 1), Path::new("b.bin"), 1, 0, 10).unwrap_err();
        assert!(err.to_string().contains("label 12"), "{err}");
    }

    #[test]
    fn missing_directory_says_how_to_download() {
        let err = load_cifar10(Path::new("/nonexistent/data"), Split::Train).unwrap_err().to_string();
        assert!(err.contains("cifar-10-binary.tar.gz") && err.contains("data_batch_1.bin"), "{err}");
    }

    #[test]
    fn cifar10_and_cifar100_directories_load() {
        let dir = std::env::temp_dir().join(format!("ring-cifar-{}", std::process::id()));
        let c10 = dir.join("cifar-10-batches-bin");
        std::fs::create_dir_all(&c10).unwrap();
        let names10: String = (0..10).map(|i| format!("class{i}\n")).collect();
        std::fs::write(c10.join("batches.meta.txt"), &names10).unwrap();
        for i in 1..=5 {
            std::fs::write(c10.join(format!("data_batch_{i}.bin")), [record(i, i), record(0, 2)].concat()).unwrap();
        }
        std::fs::write(c10.join("test_batch.bin"), record(4, 3)).unwrap();
        let train = load_cifar10(&dir, Split::Train).unwrap();
        assert_eq!(train.len(), 10);
        assert_eq!(train.labels[..4], [1, 0, 2, 0]);
        assert_eq!(train.classes[9], "class9");
        assert_eq!(load_cifar10(&c10, Split::Test).unwrap().labels, vec![4]);

        let c100 = dir.join("cifar-100-binary");
        std::fs::create_dir_all(&c100).unwrap();
        let fine: String = (0..100).map(|i| format!("f{i}\n")).collect();
        let coarse: String = (0..20).map(|i| format!("c{i}\n")).collect();
        std::fs::write(c100.join("fine_label_names.txt"), fine).unwrap();
        std::fs::write(c100.join("coarse_label_names.txt"), coarse).unwrap();
        let mut rec = vec![7u8, 77];
        rec.extend(vec![9u8; 3 * PLANE]);
        std::fs::write(c100.join("test.bin"), &rec).unwrap();
        assert_eq!(load_cifar100(&dir, Split::Test, CifarLabels::Fine).unwrap().labels, vec![77]);
        assert_eq!(load_cifar100(&dir, Split::Test, CifarLabels::Coarse).unwrap().labels, vec![7]);
        let err = load_cifar100(&dir, Split::Train, CifarLabels::Fine).unwrap_err().to_string();
        assert!(err.contains("train.bin") && err.contains("cifar-100-binary.tar.gz"), "{err}");
        std::fs::remove_dir_all(dir).ok();
    }

    proptest::proptest! {
        /// Any bytes, any label layout: records or an error, never a panic.
        #[test]
        fn random_batches_parse_or_are_refused(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..8000),
                                               label_bytes in 0usize..3, classes in 1usize..120, records in 0usize..3) {
            let record = label_bytes + 3 * PLANE;
            let mut data = bytes;
            if records > 0 {
                data.resize(records * record, 7);
            }
            let label_index = label_bytes.saturating_sub(1);
            match parse_cifar_records(&data, Path::new("x.bin"), label_bytes.max(1), label_index, classes) {
                Ok((pixels, labels)) => {
                    proptest::prop_assert_eq!(pixels.len(), labels.len() * 3 * PLANE);
                    proptest::prop_assert!(labels.iter().all(|&l| (l as usize) < classes));
                }
                Err(e) => proptest::prop_assert!(e.to_string().contains("x.bin")),
            }
        }
    }
}
