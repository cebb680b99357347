//! Gaussian blur of augmented views (kernel `shaders/wgsl/blur.wgsl`) and its plain-Rust
//! reference. Per view sigma (0: untouched), taps `t` in `[-r, r]` with `r = ceil(3
//! sigma)`, weights `exp(-t^2 / (2 sigma^2))` normalised to sum 1, edge pixels repeated
//! beyond the border; horizontal pass, then vertical. Blurring after normalisation equals
//! normalising after blurring (the weights sum to 1 and normalisation is affine).

use burn::tensor::{Tensor, TensorData};
use bytemuck::{Pod, Zeroable};

use crate::error::{Result, input_error};
use crate::gpu::launch::{self, CubeTensor, Storage};

/// Launch parameters: the Rust mirror of `struct BlurParams` in blur.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Pod, Zeroable)]
pub struct BlurParams {
    /// Views in the tensor.
    pub views: u32,
    /// Side of each square view.
    pub size: u32,
    /// 1: along x; 0: along y.
    pub horizontal: u32,
    /// Padding.
    pub pad: u32,
}

impl BlurParams {
    /// Field names in WGSL declaration order.
    pub const FIELDS: [&'static str; 4] = ["views", "size", "horizontal", "pad"];
}

/// One pass of the reference, as the kernel computes it (same taps, same order, f32).
fn pass(src: &[f32], sigmas: &[f32], size: usize, horizontal: bool) -> Vec<f32> {
    let plane = size * size;
    let last = size as i64 - 1;
    let mut dst = src.to_vec();
    for (index, out) in dst.iter_mut().enumerate() {
        let sigma = sigmas[index / (3 * plane)];
        if sigma <= 0.0 {
            continue;
        }
        let within = index % plane;
        let row_start = index - within;
        let (y, x) = ((within / size) as i64, (within % size) as i64);
        let radius = (3.0 * sigma).ceil() as i64;
        let denominator = 2.0 * sigma * sigma;
        let (mut total, mut weights) = (0.0f32, 0.0f32);
        for t in -radius..=radius {
            let w = (-((t * t) as f32) / denominator).exp();
            let p = if horizontal { y * size as i64 + (x + t).clamp(0, last) } else { (y + t).clamp(0, last) * size as i64 + x };
            total += w * src[row_start + p as usize];
            weights += w;
        }
        *out = total / weights;
    }
    dst
}

/// Blurs `images` (views x 3 x size x size, row-major) with `sigmas` (one per view).
pub fn blur_reference(images: &[f32], sigmas: &[f32], size: usize) -> Vec<f32> {
    pass(&pass(images, sigmas, size, true), sigmas, size, false)
}

/// Both passes on the GPU: a new tensor (`images` is left as it was).
pub(crate) fn blur_launch(images: &CubeTensor, sigmas: &[f32], size: usize) -> CubeTensor {
    let views = sigmas.len();
    let elements = views * 3 * size * size;
    let sigma_buffer = launch::upload_slice(images, sigmas);
    let groups = elements.div_ceil(ring_wgpu_shaders::BLUR.workgroup_size as usize) as u32;
    let mut src = images.clone();
    for horizontal in [1, 0] {
        let dst = launch::empty(images, [views, 3 * size * size], burn::tensor::DType::F32);
        let params = BlurParams { views: views as u32, size: size as u32, horizontal, pad: 0 };
        launch::launch(
            images,
            ring_wgpu_shaders::BLUR,
            groups,
            vec![src.handle.clone(), sigma_buffer.clone(), dst.handle.clone(), launch::upload(images, &params)],
        );
        src = dst;
    }
    src
}

/// Blurs `images` (views x 3 x size x size) with one sigma per view (0: untouched): the
/// kernel on the GPU, the reference on the CPU backend. A new tensor on the same device.
pub fn blur_on_device(images: &Tensor<4>, sigmas: &[f32]) -> Result<Tensor<4>> {
    let [views, channels, size, width] = images.dims();
    if channels != 3 || size != width || sigmas.len() != views {
        input_error!(
            "blur takes views x 3 x size x size images and one sigma per view, got {:?} and {} sigmas",
            images.dims(),
            sigmas.len()
        );
    }
    let flat = images.clone().reshape([views, 3 * size * size]);
    match launch::float_storage(flat)? {
        Storage::Host(values, device) => {
            let out = blur_reference(&values, sigmas, size);
            Ok(Tensor::<4>::from_data(TensorData::new(out, [views, 3, size, size]), &device))
        }
        Storage::Wgpu(cube) => {
            let out = blur_launch(&cube, sigmas, size);
            Ok(launch::float_tensor_shaped(out, [views, 3, size, size]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_preserves_constants_and_mass_and_skips_unblurred_views() {
        let size = 7;
        let plane = size * size;
        let mut images = vec![0.0f32; 2 * 3 * plane];
        images[..3 * plane].iter_mut().for_each(|v| *v = 0.25);
        images[3 * plane + 3 * size + 3] = 1.0; // a point in the middle of view 1, channel 0
        let out = blur_reference(&images, &[1.5, 0.8], size);
        assert!(out[..3 * plane].iter().all(|v| (v - 0.25).abs() < 1e-6), "a constant image stays constant");
        let mass: f32 = out[3 * plane..4 * plane].iter().sum();
        assert!((mass - 1.0).abs() < 1e-5, "a point away from the border keeps its mass: {mass}");
        assert!(out[3 * plane + 3 * size + 3] < 0.5 && out[3 * plane + 3 * size + 4] > 0.0);
        let symmetric = (out[3 * plane + 3 * size + 2] - out[3 * plane + 3 * size + 4]).abs();
        assert!(symmetric < 1e-7);
        let none = blur_reference(&images, &[0.0, 0.0], size);
        assert_eq!(none, images);
    }

    #[test]
    fn layout_matches_wgsl() {
        crate::gpu::launch::assert_layout_matches(
            ring_wgpu_shaders::BLUR,
            "BlurParams",
            &BlurParams::FIELDS,
            std::mem::size_of::<BlurParams>(),
        );
    }
}
