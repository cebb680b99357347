//! Datasets in the page: the built-in synthetic set, CIFAR-10 from the bytes of the
//! official binary archive (parsed here, no server needed), or image files the user drops.

use ring_wgpu_core::data::{DroppedSplits, ImageDataset, cifar10_from_archive, image_folder_from_files, split_dropped_files, synthetic};
use ring_wgpu_core::train::{DatasetKind, Datasets};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::convert::{js_error, to_js};

/// Training and test images for a [`crate::Trainer`].
#[wasm_bindgen]
pub struct Dataset {
    pub(crate) splits: Datasets,
    pub(crate) kind: DatasetKind,
}

#[derive(Serialize)]
struct Info<'a> {
    name: &'a str,
    train: usize,
    test: usize,
    classes: &'a [String],
    height: usize,
    width: usize,
}

/// The pixels of image `index` of a split (`"train"` or `"test"`), RGB bytes, row-major.
pub(crate) fn image_of(splits: &Datasets, split: &str, index: u32) -> Result<Vec<u8>, JsError> {
    let data = split_of(splits, split)?;
    if index as usize >= data.len() {
        return Err(JsError::new(&format!("image {index}: the {split} split has {} images", data.len())));
    }
    Ok(data.image(index as usize).to_vec())
}

pub(crate) fn split_of<'a>(splits: &'a Datasets, split: &str) -> Result<&'a ImageDataset, JsError> {
    match split {
        "train" => Ok(&splits.train),
        "test" => Ok(&splits.test),
        other => Err(JsError::new(&format!("split `{other}`: use \"train\" or \"test\""))),
    }
}

#[wasm_bindgen]
impl Dataset {
    /// The built-in synthetic set: `perClass` training images in each of 10 classes (half
    /// as many test images), `size` x `size` pixels, from `seed`.
    pub fn synthetic(#[wasm_bindgen(js_name = perClass)] per_class: f64, size: f64, seed: u32) -> Result<Dataset, JsError> {
        // Numbers from JavaScript: a negative one would otherwise wrap to a huge count.
        let whole = |name: &str, v: f64, max: f64| -> Result<usize, JsError> {
            if v.fract() == 0.0 && (1.0..=max).contains(&v) {
                Ok(v as usize)
            } else {
                Err(JsError::new(&format!("Dataset.synthetic: {name} is a whole number from 1 to {max}, not {v}")))
            }
        };
        let per_class = whole("perClass", per_class, ring_wgpu_core::train::MAX_SYNTHETIC_PER_CLASS as f64)?;
        let size = whole("size", size, 512.0)?;
        let train = synthetic(per_class, size, seed as u64).map_err(js_error)?;
        let test = synthetic((per_class / 2).max(1), size, seed as u64 ^ 0x7e57).map_err(js_error)?;
        Ok(Dataset { splits: Datasets { train, test }, kind: DatasetKind::Synthetic })
    }

    /// CIFAR-10 from the bytes of the official binary archive (`cifar-10-binary.tar.gz`
    /// from https://www.cs.toronto.edu/~kriz/cifar.html, or its unpacked `.tar`).
    pub fn cifar10(bytes: &[u8]) -> Result<Dataset, JsError> {
        let (train, test) = cifar10_from_archive(bytes).map_err(js_error)?;
        Ok(Dataset { splits: Datasets { train, test }, kind: DatasetKind::Cifar10 })
    }

    /// Image files (JPEG or PNG), one folder per class: `paths[i]` is file i's path
    /// (`class/name.jpg`, under any common folder) and `contents[i]` its bytes. With
    /// `train/` and `test/` folders those are the splits; otherwise `testFraction` of each
    /// class is held out (seeded). Images are resized to `size` x `size`.
    #[wasm_bindgen(js_name = fromFiles)]
    pub fn from_files(
        paths: Vec<String>,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array[]")] contents: js_sys::Array,
        size: u32,
        #[wasm_bindgen(js_name = testFraction)] test_fraction: f64,
        seed: u32,
    ) -> Result<Dataset, JsError> {
        if paths.len() as u32 != contents.length() {
            return Err(JsError::new(&format!("{} paths but {} file contents", paths.len(), contents.length())));
        }
        if !(8..=512).contains(&size) {
            return Err(JsError::new(&format!("image size {size}: use 8 to 512 pixels")));
        }
        // One copy of the encoded bytes in wasm memory, moved (never cloned) from here on
        // and freed image by image as they are decoded.
        let files: Vec<(String, Vec<u8>)> =
            paths.into_iter().zip(contents.iter()).map(|(p, c)| (p, js_sys::Uint8Array::new(&c).to_vec())).collect();
        let size = Some(size as usize);
        let splits = match split_dropped_files(files) {
            DroppedSplits::TrainTest(train, test) => {
                let train = image_folder_from_files("dropped/train", train, size).map_err(js_error)?;
                let test = image_folder_from_files("dropped/test", test, size).map_err(js_error)?;
                if train.classes != test.classes {
                    return Err(JsError::new("train/ and test/ must hold the same class folders"));
                }
                Datasets { train, test }
            }
            DroppedSplits::Unsplit(all) => {
                if !(test_fraction > 0.0 && test_fraction < 1.0) {
                    return Err(JsError::new(&format!("testFraction {test_fraction}: use a fraction in (0, 1), e.g. 0.2")));
                }
                let all = image_folder_from_files("dropped", all, size).map_err(js_error)?;
                let (train, test) = all.holdout(test_fraction, seed as u64);
                Datasets { train, test }
            }
        };
        splits.check().map_err(js_error)?;
        Ok(Dataset { splits, kind: DatasetKind::Folder })
    }

    /// A second handle on the same images (no pixel is copied): `Trainer.create` and
    /// `Trainer.fromCheckpoint` take the handle they are given, so pass `dataset.share()` to
    /// keep using yours (for another run, or `image()`).
    pub fn share(&self) -> Dataset {
        Dataset { splits: self.splits.clone(), kind: self.kind }
    }

    /// The same dataset with `split` ("train" or "test") cut to a class-balanced random
    /// subset of `count` images (seeded; the whole split when `count` is at least its size):
    /// CIFAR-10's 10,000 test images embedded every few steps would cost more than the
    /// training, 2,000 keep the embedding view and the kNN monitor quick. The other split is
    /// shared, not copied.
    pub fn subset(&self, split: &str, count: f64, seed: u32) -> Result<Dataset, JsError> {
        if !(count.fract() == 0.0 && count >= 1.0) {
            return Err(JsError::new(&format!("Dataset.subset: count is a whole number of images, at least 1, not {count}")));
        }
        let count = count.min(u32::MAX as f64) as usize;
        let mut splits = self.splits.clone();
        let chosen = split_of(&splits, split)?.balanced_subset(count, seed as u64);
        match split {
            "train" => splits.train = chosen,
            _ => splits.test = chosen,
        }
        Ok(Dataset { splits, kind: self.kind })
    }

    /// Sizes and class names.
    #[wasm_bindgen(unchecked_return_type = "DatasetInfo")]
    pub fn info(&self) -> Result<JsValue, JsError> {
        let train = &self.splits.train;
        to_js(&Info {
            name: &train.name,
            train: train.len(),
            test: self.splits.test.len(),
            classes: &train.classes,
            height: train.height,
            width: train.width,
        })
    }

    /// Image `index` of `split` ("train" or "test"): height x width x 3 RGB bytes.
    pub fn image(&self, split: &str, index: u32) -> Result<Vec<u8>, JsError> {
        image_of(&self.splits, split, index)
    }
}
