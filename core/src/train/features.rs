//! Evaluation features: every image, unaugmented, through the backbone.

use burn::tensor::Tensor;

use crate::augment::{AugmentSpec, DeviceImages, ViewParams};
use crate::model::{l2_normalise, ContrastiveNet};
use crate::ring::RingError;

/// L2-normalised pooled backbone features of all `images` (whole image resized to
/// `spec.size`, normalised, no augmentation), in chunks of `chunk` images; the model is
/// used in evaluation mode (batch-norm running statistics, no autodiff). Stays on the GPU.
pub fn extract_features(
    model: &ContrastiveNet,
    images: &DeviceImages,
    height: usize,
    width: usize,
    spec: &AugmentSpec,
    chunk: usize,
) -> Result<Tensor<2>, RingError> {
    let model = burn::module::Module::valid(model);
    let mut parts = Vec::new();
    for start in (0..images.len()).step_by(chunk.max(1)) {
        let end = (start + chunk.max(1)).min(images.len());
        let views: Vec<ViewParams> = (start..end)
            .map(|i| ViewParams::identity(i as u32, (i - start) as u32, height, width))
            .collect();
        let batch = images.augment(&views, spec)?;
        parts.push(l2_normalise(model.features(batch)));
    }
    Ok(Tensor::cat(parts, 0))
}
