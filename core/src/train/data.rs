//! The datasets a configuration names: the built-in synthetic splits (no files, also in a
//! browser) or a dataset folder (native; reads files).

#[cfg(not(target_arch = "wasm32"))]
use super::DatasetKind;
use super::TrainConfig;
use crate::data::{self, DatasetError, ImageDataset};
use crate::error::Result;

/// A run's training split and the labelled test split its kNN monitor uses.
#[derive(Debug, Clone)]
pub struct Datasets {
    /// Training images.
    pub train: ImageDataset,
    /// Test images (labelled).
    pub test: ImageDataset,
}

impl Datasets {
    /// The synthetic splits of `config` (`synthetic_per_class` training images per class,
    /// half as many test images, `image_size` pixels, seeded by `seed`).
    pub fn synthetic(config: &TrainConfig) -> Result<Self> {
        Ok(Datasets {
            train: data::synthetic(config.synthetic_per_class, config.image_size, config.seed)?,
            test: data::synthetic((config.synthetic_per_class / 2).max(1), config.image_size, config.seed ^ 0x7e57)?,
        })
    }

    /// Loads the splits `config` names: synthetic, or from `config.data_dir`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load(config: &TrainConfig) -> Result<Self> {
        use crate::data::{CifarLabels, Split};
        let name = serde_json::to_value(config.dataset).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let dir = || {
            config.data_dir.clone().ok_or_else(|| {
                DatasetError::Invalid(format!(
                    "the {name} dataset is read from a folder: --data-dir is required (data_dir in a config file); \
                 get it with `ring-wgpu data download {name} --dir data` and pass --data-dir data"
                ))
            })
        };
        Ok(match config.dataset {
            DatasetKind::Synthetic => return Self::synthetic(config),
            DatasetKind::Cifar10 => {
                Datasets { train: data::load_cifar10(&dir()?, Split::Train)?, test: data::load_cifar10(&dir()?, Split::Test)? }
            }
            DatasetKind::Cifar100 => Datasets {
                train: data::load_cifar100(&dir()?, Split::Train, CifarLabels::Fine)?,
                test: data::load_cifar100(&dir()?, Split::Test, CifarLabels::Fine)?,
            },
            DatasetKind::Stl10 => {
                Datasets { train: data::load_stl10(&dir()?, Split::Train)?, test: data::load_stl10(&dir()?, Split::Test)? }
            }
            DatasetKind::Folder => {
                let d = dir()?;
                Datasets {
                    train: data::load_image_folder(&d.join("train"), Some(config.image_size))?,
                    test: data::load_image_folder(&d.join("test"), Some(config.image_size))?,
                }
            }
        })
    }

    /// Checks that both splits can drive a run: labelled, same image size, same classes.
    pub fn check(&self) -> Result<(), DatasetError> {
        if self.train.labels.contains(&data::UNLABELED) || self.test.labels.contains(&data::UNLABELED) {
            return Err(DatasetError::Invalid("the kNN monitor needs labelled train and test splits".into()));
        }
        if self.train.is_empty() || self.test.is_empty() {
            return Err(DatasetError::Invalid(format!(
                "a run needs training and test images (found {} and {})",
                self.train.len(),
                self.test.len()
            )));
        }
        if (self.train.height, self.train.width) != (self.test.height, self.test.width) {
            return Err(DatasetError::Invalid(format!(
                "train images are {}x{} but test images {}x{}: resize one split",
                self.train.width, self.train.height, self.test.width, self.test.height
            )));
        }
        if self.train.classes.len() != self.test.classes.len() {
            return Err(DatasetError::Invalid(format!(
                "the train split has {} classes, the test split {}",
                self.train.classes.len(),
                self.test.classes.len()
            )));
        }
        Ok(())
    }
}
