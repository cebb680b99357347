//! Datasets: images in memory as 8-bit RGB (HWC), with labels and class names.
//!
//! Readers for CIFAR-10 / CIFAR-100 binary, STL-10 binary and image folders
//! (`root/<class>/<image>`, JPEG or PNG), and a built-in synthetic dataset that needs no
//! download. Bad input (missing, truncated or corrupt files, non-images, empty classes)
//! is a [`DatasetError`] naming the file and what to do.

mod archive;
mod cifar;
mod error;
mod folder;
mod stl10;
mod synthetic;

pub use archive::{cifar10_from_archive, gunzip, untar};

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// The bytes of the file at `path`, refused as [`DatasetError::TooLarge`] (naming `what` it
/// should be) when it holds more than `max` bytes: at most `max + 1` bytes are ever read, so a
/// file that grows or lies about its length cannot make the reader allocate more.
pub fn read_at_most(path: &Path, max: u64, what: &str) -> Result<Vec<u8>, DatasetError> {
    let file = std::fs::File::open(path).map_err(|e| DatasetError::io(path, e))?;
    let hint = file.metadata().map(|m| m.len().min(max)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(hint as usize);
    file.take(max + 1).read_to_end(&mut bytes).map_err(|e| DatasetError::io(path, e))?;
    if bytes.len() as u64 > max {
        return Err(DatasetError::TooLarge { path: path.to_path_buf(), what: what.into(), max_mib: max.div_ceil(1 << 20) });
    }
    Ok(bytes)
}
pub use cifar::{CifarLabels, load_cifar10, load_cifar100, parse_cifar_records};
pub use error::DatasetError;
pub use folder::{DroppedSplits, image_folder_from_files, load_image_folder, split_dropped_files};
pub use stl10::{load_stl10, parse_stl10_images};
pub use synthetic::{SYNTHETIC_CLASSES, synthetic};

/// Which part of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Training images.
    Train,
    /// Held-out test images.
    Test,
    /// Unlabeled images (STL-10 only).
    Unlabeled,
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Split::Train => "train",
            Split::Test => "test",
            Split::Unlabeled => "unlabeled",
        })
    }
}

/// Label of an image without one (STL-10 unlabeled split).
pub const UNLABELED: u32 = u32::MAX;

/// Images of one size, 8-bit RGB, height x width x 3 each, stored contiguously.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageDataset {
    /// Short name (`cifar10/train`, `synthetic`, the folder path...).
    pub name: String,
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
    /// N x H x W x 3 bytes (RGB, row-major), shared: clones of a dataset (the page's
    /// `Dataset` and the trainers made from it) hold one copy of the pixels.
    pub pixels: Arc<Vec<u8>>,
    /// Class index per image ([`UNLABELED`] when unknown).
    pub labels: Vec<u32>,
    /// Class names, indexed by label.
    pub classes: Vec<String>,
}

impl ImageDataset {
    /// Bytes per image.
    pub fn image_bytes(&self) -> usize {
        self.height * self.width * 3
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there is no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels of image `i` (H x W x 3).
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_bytes();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// The images at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> ImageDataset {
        let mut pixels = Vec::with_capacity(indices.len() * self.image_bytes());
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
        }
        ImageDataset {
            name: self.name.clone(),
            height: self.height,
            width: self.width,
            pixels: Arc::new(pixels),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            classes: self.classes.clone(),
        }
    }

    /// `n` images chosen at random (seeded), as evenly across classes as their sizes allow
    /// (classes take turns, each in a random order), kept in dataset order. All of them
    /// when `n >= len`.
    pub fn balanced_subset(&self, n: usize, seed: u64) -> ImageDataset {
        if n >= self.len() {
            return self.clone();
        }
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); self.classes.len() + 1];
        for (i, &label) in self.labels.iter().enumerate() {
            let c = (label as usize).min(self.classes.len());
            by_class[c].push(i);
        }
        let mut queues: Vec<Vec<usize>> = by_class
            .into_iter()
            .enumerate()
            .map(|(c, members)| {
                let order = crate::rng::permutation(members.len(), seed ^ (c as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                order.into_iter().rev().map(|k| members[k as usize]).collect()
            })
            .collect();
        let mut chosen = Vec::with_capacity(n);
        while chosen.len() < n {
            for queue in queues.iter_mut() {
                if chosen.len() < n
                    && let Some(i) = queue.pop()
                {
                    chosen.push(i);
                }
            }
        }
        chosen.sort_unstable();
        self.subset(&chosen)
    }

    /// Splits off about `fraction` of each class (at least one image of every class with
    /// two or more), chosen at random (seeded): returns (the rest, the held-out part),
    /// each in dataset order.
    pub fn holdout(&self, fraction: f64, seed: u64) -> (ImageDataset, ImageDataset) {
        let mut held = Vec::new();
        let mut kept = Vec::new();
        for class in 0..=self.classes.len() {
            let members: Vec<usize> = (0..self.len()).filter(|&i| (self.labels[i] as usize).min(self.classes.len()) == class).collect();
            let take =
                if members.len() >= 2 { ((members.len() as f64 * fraction).round() as usize).clamp(1, members.len() - 1) } else { 0 };
            let order = crate::rng::permutation(members.len(), seed ^ (class as u64).wrapping_mul(0xc2b2_ae3d_27d4_eb4f));
            for (rank, &k) in order.iter().enumerate() {
                if rank < take { held.push(members[k as usize]) } else { kept.push(members[k as usize]) }
            }
        }
        held.sort_unstable();
        kept.sort_unstable();
        (self.subset(&kept), self.subset(&held))
    }

    /// Images per class (unlabeled images are not counted).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        for &label in &self.labels {
            if let Some(c) = counts.get_mut(label as usize) {
                *c += 1;
            }
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded_before_they_are_whole() {
        let dir = std::env::temp_dir().join(format!("ring-wgpu-read-at-most-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("file.bin");
        std::fs::write(&path, vec![7u8; 1000]).unwrap();
        assert_eq!(read_at_most(&path, 1000, "test file").unwrap().len(), 1000);
        let e = read_at_most(&path, 999, "test file").unwrap_err();
        assert!(matches!(e, DatasetError::TooLarge { .. }) && e.to_string().contains("larger than any test file"), "{e}");
        assert!(matches!(read_at_most(&dir.join("absent"), 10, "x"), Err(DatasetError::Missing { .. })));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn gunzip_stops_at_its_bound() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![0u8; 1 << 20]).unwrap();
        let bytes = gz.finish().unwrap();
        assert_eq!(gunzip(&bytes, "zeros.gz", 1 << 20).unwrap().len(), 1 << 20);
        let e = gunzip(&bytes, "zeros.gz", (1 << 20) - 1).unwrap_err();
        assert!(e.to_string().contains("expands to more than"), "{e}");
    }
}
