//! Evaluation features: every image, unaugmented, through a trained encoder.

use burn::tensor::Tensor;

use crate::augment::{AugmentSpec, DeviceImages, ViewParams};
use crate::error::Result;
use crate::methods::Encoder;
use crate::train::KnnFeatures;

/// L2-normalised `features` (backbone or projection) of all `images` (each whole image
/// resized to `spec.size`, normalised, no augmentation), in chunks of `chunk` images,
/// through `encoder` (in evaluation mode). Stays on the device.
pub fn extract_features(
    encoder: &dyn Encoder,
    images: &DeviceImages,
    features: KnnFeatures,
    spec: &AugmentSpec,
    chunk: usize,
) -> Result<Tensor<2>> {
    let chunk = chunk.max(1);
    let mut parts = Vec::new();
    for start in (0..images.len()).step_by(chunk) {
        let batch = unaugmented(images, start..(start + chunk).min(images.len()), spec)?;
        parts.push(encoder.encode(batch, features));
    }
    Ok(Tensor::cat(parts, 0))
}

/// The images `range` of `images`, each whole image resized to `spec.size` and normalised,
/// no augmentation (B x 3 x S x S, on the device).
pub(crate) fn unaugmented(images: &DeviceImages, range: std::ops::Range<usize>, spec: &AugmentSpec) -> Result<Tensor<4>> {
    let (height, width) = images.image_size();
    let start = range.start;
    let views: Vec<ViewParams> = range.map(|i| ViewParams::identity(i as u32, (i - start) as u32, height, width)).collect();
    images.augment(&views, spec)
}
