//! CMC's colour split (kernel `shaders/wgsl/lab.wgsl`) and its plain-Rust reference:
//! normalised RGB views (as [`super::DeviceImages::augment`] writes them) to normalised CIE
//! Lab, channel 0 = L (CMC's first view), channels 1-2 = ab (its second). Per pixel: undo
//! the input normalisation, clamp to [0, 1] (NaN counts as 0), sRGB -> linear -> XYZ (D65)
//! -> Lab with scikit-image's `rgb2lab` constants (CMC's code calls it), then CMC's
//! normalisation of each channel to about [-1, 1].

use burn::tensor::{Tensor, TensorData};
use bytemuck::{Pod, Zeroable};

use crate::error::{Result, input_error};
use crate::gpu::launch::{self, Storage};

/// CMC's normalisation of L, a, b: `(channel - mean) / std`.
pub const LAB_MEAN: [f32; 3] = [50.0, 6.025, -6.6895];
/// See [`LAB_MEAN`].
pub const LAB_STD: [f32; 3] = [50.0, 92.208, 101.1675];

/// Launch parameters: the Rust mirror of `struct LabParams` in lab.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Pod, Zeroable)]
pub struct LabParams {
    /// Views in the tensor.
    pub views: u32,
    /// Pixels per view.
    pub plane: u32,
    /// Padding.
    pub pad0: u32,
    /// Padding.
    pub pad1: u32,
    /// Input normalisation: `rgb = v * std + mean`.
    pub mean_r: f32,
    /// See `mean_r`.
    pub mean_g: f32,
    /// See `mean_r`.
    pub mean_b: f32,
    /// Padding.
    pub pad2: f32,
    /// See `mean_r`.
    pub std_r: f32,
    /// See `mean_r`.
    pub std_g: f32,
    /// See `mean_r`.
    pub std_b: f32,
    /// Padding.
    pub pad3: f32,
}

impl LabParams {
    /// Field names in WGSL declaration order.
    pub const FIELDS: [&'static str; 12] =
        ["views", "plane", "pad0", "pad1", "mean_r", "mean_g", "mean_b", "pad2", "std_r", "std_g", "std_b", "pad3"];

    /// Parameters for `views` views of `plane` pixels normalised with `mean` and `std`.
    pub fn new(views: usize, plane: usize, mean: [f32; 3], std: [f32; 3]) -> Self {
        LabParams {
            views: views as u32,
            plane: plane as u32,
            mean_r: mean[0],
            mean_g: mean[1],
            mean_b: mean[2],
            std_r: std[0],
            std_g: std[1],
            std_b: std[2],
            ..LabParams::default()
        }
    }
}

fn unit(v: f32, mean: f32, std: f32) -> f32 {
    if v.is_nan() { 0.0 } else { (v * std + mean).clamp(0.0, 1.0) }
}

fn linear(c: f32) -> f32 {
    if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
}

fn lab_f(t: f32) -> f32 {
    if t > 0.008856 { t.powf(1.0 / 3.0) } else { t * 7.787 + 0.137_931_03 }
}

/// Unnormalised CIE Lab (L in [0, 100]) of one sRGB pixel with channels in [0, 1].
pub fn srgb_to_lab(rgb: [f32; 3]) -> [f32; 3] {
    let [r, g, b] = rgb.map(linear);
    let x = (0.412453 * r + 0.357580 * g + 0.180423 * b) / 0.95047;
    let y = 0.212671 * r + 0.715160 * g + 0.072169 * b;
    let z = (0.019334 * r + 0.119193 * g + 0.950227 * b) / 1.08883;
    let (fx, fy, fz) = (lab_f(x), lab_f(y), lab_f(z));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// Converts `images` (views x 3 x plane, row-major, normalised with `mean` and `std`) to
/// normalised Lab in the same layout, as the kernel does.
pub fn lab_reference(images: &[f32], plane: usize, mean: [f32; 3], std: [f32; 3]) -> Vec<f32> {
    let mut out = vec![0.0; images.len()];
    for view in 0..images.len() / (3 * plane).max(1) {
        for p in 0..plane {
            let at = |c: usize| view * 3 * plane + c * plane + p;
            let rgb = [0, 1, 2].map(|c| unit(images[at(c)], mean[c], std[c]));
            let lab = srgb_to_lab(rgb);
            for c in 0..3 {
                out[at(c)] = (lab[c] - LAB_MEAN[c]) / LAB_STD[c];
            }
        }
    }
    out
}

/// Converts `images` (views x 3 x H x W, normalised RGB with per-channel `mean` and `std`)
/// to normalised Lab (channel 0 = L, 1-2 = ab): the kernel on the GPU, the reference on the
/// CPU backend. A new tensor on the same device, outside autodiff.
pub fn rgb_to_lab_on_device(images: &Tensor<4>, mean: [f32; 3], std: [f32; 3]) -> Result<Tensor<4>> {
    let [views, channels, height, width] = images.dims();
    if channels != 3 {
        input_error!("the Lab conversion takes views x 3 x H x W RGB images, got {:?}", images.dims());
    }
    if std.iter().any(|s| !(s.is_finite() && *s > 0.0)) || mean.iter().any(|m| !m.is_finite()) {
        input_error!("the Lab conversion needs finite means and positive standard deviations, got {mean:?} and {std:?}");
    }
    let plane = height * width;
    let flat = images.clone().reshape([views, 3 * plane]);
    match launch::float_storage(flat)? {
        Storage::Host(values, device) => {
            let out = lab_reference(&values, plane, mean, std);
            Ok(Tensor::<4>::from_data(TensorData::new(out, [views, 3, height, width]), &device))
        }
        Storage::Wgpu(cube) => {
            let out = launch::empty(&cube, [views, 3 * plane], burn::tensor::DType::F32);
            let groups = (views * plane).div_ceil(ring_wgpu_shaders::LAB.workgroup_size as usize) as u32;
            let params = LabParams::new(views, plane, mean, std);
            launch::launch(
                &cube,
                ring_wgpu_shaders::LAB,
                groups,
                vec![cube.handle.clone(), out.handle.clone(), launch::upload(&cube, &params)],
            );
            Ok(launch::float_tensor_shaped(out, [views, 3, height, width]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Published sRGB -> Lab (D65) values (e.g. scikit-image's, Bruce Lindbloom's calculator).
    #[test]
    fn known_colours_have_their_published_lab_values() {
        let cases: [([f32; 3], [f32; 3]); 6] = [
            ([1.0, 1.0, 1.0], [100.0, 0.0, 0.0]),
            ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
            ([1.0, 0.0, 0.0], [53.2408, 80.0925, 67.2032]),
            ([0.0, 1.0, 0.0], [87.7347, -86.1827, 83.1793]),
            ([0.0, 0.0, 1.0], [32.2970, 79.1875, -107.8602]),
            ([0.5, 0.5, 0.5], [53.3890, 0.0, 0.0]),
        ];
        for (rgb, want) in cases {
            let got = srgb_to_lab(rgb);
            for c in 0..3 {
                assert!((got[c] - want[c]).abs() < 0.02, "{rgb:?}: got {got:?}, want {want:?}");
            }
        }
    }

    #[test]
    fn reference_undoes_the_input_normalisation_clamps_and_maps_nan_to_black() {
        let (mean, std) = ([0.5, 0.4, 0.3], [0.25, 0.2, 0.1]);
        // One view of 3 pixels: white (normalised), far out of range (clamped to white), NaN.
        let norm = |v: f32, c: usize| (v - mean[c]) / std[c];
        let images = vec![norm(1.0, 0), 50.0, f32::NAN, norm(1.0, 1), 50.0, f32::NAN, norm(1.0, 2), 50.0, f32::NAN];
        let out = lab_reference(&images, 3, mean, std);
        let white = [(100.0 - 50.0) / 50.0, -6.025 / 92.208, 6.6895 / 101.1675];
        let black = [-1.0, -6.025 / 92.208, 6.6895 / 101.1675];
        for c in 0..3 {
            assert!((out[c * 3] - white[c]).abs() < 1e-3, "{out:?}");
            assert!((out[c * 3 + 1] - white[c]).abs() < 1e-3, "{out:?}");
            assert!((out[c * 3 + 2] - black[c]).abs() < 1e-5, "{out:?}");
        }
    }

    #[test]
    fn layout_matches_wgsl() {
        crate::gpu::launch::assert_layout_matches(
            ring_wgpu_shaders::LAB,
            "LabParams",
            &LabParams::FIELDS,
            std::mem::size_of::<LabParams>(),
        );
    }
}
