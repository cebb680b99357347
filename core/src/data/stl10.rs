//! STL-10, binary version (`stl10_binary/`): 96 x 96 RGB images stored one channel at a
//! time in column-major order; labels 1..=10 in `*_y.bin`.

use std::path::{Path, PathBuf};

use super::{DatasetError, ImageDataset, Split, UNLABELED};

const SIDE: usize = 96;
const PLANE: usize = SIDE * SIDE;

/// Converts STL-10's column-major channel planes into HWC pixels.
pub fn parse_stl10_images(bytes: &[u8], path: &Path) -> Result<Vec<u8>, DatasetError> {
    let record = 3 * PLANE;
    if bytes.is_empty() || !bytes.len().is_multiple_of(record) {
        return Err(DatasetError::Truncated {
            path: path.to_path_buf(),
            expected: format!("a non-zero multiple of {record}"),
            found: bytes.len() as u64,
        });
    }
    let mut pixels = vec![0u8; bytes.len()];
    for (img, out) in bytes.chunks_exact(record).zip(pixels.chunks_exact_mut(record)) {
        for c in 0..3 {
            for x in 0..SIDE {
                for y in 0..SIDE {
                    out[(y * SIDE + x) * 3 + c] = img[c * PLANE + x * SIDE + y];
                }
            }
        }
    }
    Ok(pixels)
}

/// The largest STL-10 file read (`unlabeled_X.bin` is 2.76 GB: 100,000 images of 96 x 96 x 3;
/// `train_X.bin` 138 MB, `test_X.bin` 277 MB).
const MAX_STL10_FILE_BYTES: u64 = 2_800 << 20;

/// The largest label or class-name file read (`test_y.bin` is 8,000 bytes).
const MAX_STL10_SMALL_FILE_BYTES: u64 = 1 << 20;

fn read(path: &Path, max: u64) -> Result<Vec<u8>, DatasetError> {
    super::read_at_most(path, max, "STL-10 file of its kind")
}

/// Loads STL-10 (binary version) from `dir` (or `dir/stl10_binary`).
pub fn load_stl10(dir: &Path, split: Split) -> Result<ImageDataset, DatasetError> {
    let stem = match split {
        Split::Train => "train",
        Split::Test => "test",
        Split::Unlabeled => "unlabeled",
    };
    let x_name = format!("{stem}_X.bin");
    let root: PathBuf = [dir.to_path_buf(), dir.join("stl10_binary")]
        .into_iter()
        .find(|d| d.join(&x_name).is_file())
        .ok_or_else(|| DatasetError::Missing {
            path: dir.join("stl10_binary").join(&x_name),
            hint: format!(
                "run `ring-wgpu data download stl10 --dir {0}`, or download the binary version (stl10_binary.tar.gz) and unpack it into {0}",
                dir.display()
            ),
        })?;
    let x_path = root.join(&x_name);
    let pixels = parse_stl10_images(&read(&x_path, MAX_STL10_FILE_BYTES)?, &x_path)?;
    let n = pixels.len() / (3 * PLANE);
    let names_path = root.join("class_names.txt");
    let classes: Vec<String> = String::from_utf8_lossy(&read(&names_path, MAX_STL10_SMALL_FILE_BYTES)?)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if classes.len() != 10 {
        return Err(DatasetError::Corrupt { path: names_path, reason: format!("{} class names, expected 10", classes.len()) });
    }
    let labels = if split == Split::Unlabeled {
        vec![UNLABELED; n]
    } else {
        let y_path = root.join(format!("{stem}_y.bin"));
        let y = read(&y_path, MAX_STL10_SMALL_FILE_BYTES)?;
        if y.len() != n {
            return Err(DatasetError::Corrupt { path: y_path, reason: format!("{} labels for {n} images in {x_name}", y.len()) });
        }
        y.iter()
            .enumerate()
            .map(|(i, &l)| {
                if (1..=10).contains(&l) {
                    Ok(l as u32 - 1)
                } else {
                    Err(DatasetError::Corrupt { path: y_path.clone(), reason: format!("label {l} of image {i} is not in 1..=10") })
                }
            })
            .collect::<Result<_, _>>()?
    };
    Ok(ImageDataset { name: format!("stl10/{split}"), height: SIDE, width: SIDE, pixels: pixels.into(), labels, classes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_major_planes_become_hwc() {
        let mut img = vec![0u8; 3 * PLANE];
        // Channel 1 (green), row y = 2, column x = 5: stored at x * 96 + y.
        img[PLANE + 5 * SIDE + 2] = 200;
        let pixels = parse_stl10_images(&img, Path::new("train_X.bin")).unwrap();
        assert_eq!(pixels[(2 * SIDE + 5) * 3 + 1], 200);
        assert_eq!(pixels.iter().filter(|&&p| p != 0).count(), 1);
        let err = parse_stl10_images(&img[..1000], Path::new("train_X.bin")).unwrap_err().to_string();
        assert!(err.contains("train_X.bin") && err.contains("truncated"), "{err}");
    }

    #[test]
    fn labels_are_checked_and_shifted_to_zero_based() {
        let dir = std::env::temp_dir().join(format!("ring-stl-{}", std::process::id()));
        let root = dir.join("stl10_binary");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("class_names.txt"), (0..10).map(|i| format!("c{i}\n")).collect::<String>()).unwrap();
        std::fs::write(root.join("test_X.bin"), vec![1u8; 2 * 3 * PLANE]).unwrap();
        std::fs::write(root.join("test_y.bin"), [10u8, 1]).unwrap();
        let test = load_stl10(&dir, Split::Test).unwrap();
        assert_eq!(test.labels, vec![9, 0]);
        std::fs::write(root.join("test_y.bin"), [11u8, 1]).unwrap();
        assert!(load_stl10(&dir, Split::Test).unwrap_err().to_string().contains("label 11"));
        std::fs::write(root.join("unlabeled_X.bin"), vec![1u8; 3 * PLANE]).unwrap();
        assert_eq!(load_stl10(&dir, Split::Unlabeled).unwrap().labels, vec![UNLABELED]);
        assert!(load_stl10(&dir, Split::Train).unwrap_err().to_string().contains("stl10_binary.tar.gz"));
        std::fs::remove_dir_all(dir).ok();
    }
}
