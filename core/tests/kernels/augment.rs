//! augment.wgsl against augment_reference on the GPU (lavapipe in CI).

use crate::common::*;
use ring_wgpu_core::augment::{AugmentSpec, DeviceImages, ViewParams, augment_reference, blur_reference, sample_views};
use ring_wgpu_core::burn::tensor::Tensor;
use ring_wgpu_core::data::{ImageDataset, synthetic};

/// Tolerance on normalised values (about 1/255 / std / 100): the kernel and the reference
/// do the same f32 operations; GPUs may fuse multiply-adds.
const TOLERANCE: f32 = 2e-4;

fn read4(t: Tensor<4>) -> Vec<f32> {
    read_f32(t)
}

fn assert_close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    let worst = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst <= TOLERANCE, "max |gpu - reference| = {worst}");
}

fn random_dataset(n: usize, h: usize, w: usize, seed: u64) -> ImageDataset {
    let mut rng = Rng(seed);
    ImageDataset {
        name: "random".into(),
        height: h,
        width: w,
        pixels: (0..n * h * w * 3).map(|_| rng.below(256) as u8).collect::<Vec<u8>>().into(),
        labels: vec![0; n],
        classes: vec!["x".into()],
    }
}

#[test]
fn random_views_match_reference() {
    let Some(gpu) = gpu() else { return };
    for (data, size) in [(synthetic(3, 32, 4).unwrap(), 32), (random_dataset(5, 37, 29, 8), 24), (random_dataset(3, 9, 13, 2), 17)] {
        let spec = AugmentSpec { size, ..AugmentSpec::default() };
        let images: Vec<u32> = (0..data.len() as u32).rev().collect();
        let views = sample_views(&spec, &images, 2, data.height, data.width, 11, 5);
        let device_images = DeviceImages::upload(&data, gpu.burn_device()).unwrap();
        let got = read4(device_images.augment(&views, &spec).unwrap());
        assert_close(&got, &augment_reference(&data, &views, &spec));
    }
}

#[test]
fn every_jitter_op_alone_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let data = random_dataset(2, 16, 16, 3);
    let spec = AugmentSpec { size: 16, ..AugmentSpec::default() };
    let device_images = DeviceImages::upload(&data, gpu.burn_device()).unwrap();
    let mut views = Vec::new();
    for (op, slot) in (0u32..4).zip(0u32..) {
        let mut v = ViewParams::identity(slot % 2, slot, 16, 16);
        v.jitter = 1;
        v.order = op | (op << 2) | (op << 4) | (op << 6);
        v.brightness = 1.3;
        v.contrast = 0.6;
        v.saturation = 1.4;
        v.hue = -0.07;
        views.push(v);
    }
    let mut gray = ViewParams::identity(1, 4, 16, 16);
    gray.grayscale = 1;
    gray.flip = 1;
    views.push(gray);
    let got = read4(device_images.augment(&views, &spec).unwrap());
    assert_close(&got, &augment_reference(&data, &views, &spec));
}

#[test]
fn identity_view_is_the_normalised_image_and_flip_mirrors_it() {
    let Some(gpu) = gpu() else { return };
    let data = random_dataset(1, 8, 8, 5);
    let spec = AugmentSpec { size: 8, mean: [0.0; 3], std: [1.0; 3], ..AugmentSpec::default() };
    let mut flipped = ViewParams::identity(0, 1, 8, 8);
    flipped.flip = 1;
    let views = [ViewParams::identity(0, 0, 8, 8), flipped];
    let got = read4(DeviceImages::upload(&data, gpu.burn_device()).unwrap().augment(&views, &spec).unwrap());
    for c in 0..3 {
        for y in 0..8 {
            for x in 0..8 {
                let source = data.pixels[(y * 8 + x) * 3 + c] as f32 / 255.0;
                assert_eq!(got[c * 64 + y * 8 + x], source, "identity at c{c} y{y} x{x}");
                assert_eq!(got[3 * 64 + c * 64 + y * 8 + (7 - x)], source, "flip at c{c} y{y} x{x}");
            }
        }
    }
}

#[test]
fn images_beyond_one_shard_are_augmented_from_the_right_shard() {
    let Some(gpu) = gpu() else { return };
    // 96 x 96 images: 2,427 per 64 MiB shard; 2,500 images make two shards.
    let data = random_dataset(2500, 96, 96, 6);
    let spec = AugmentSpec { size: 20, ..AugmentSpec::default() };
    let images = [0u32, 2426, 2427, 2499];
    let views = sample_views(&spec, &images, 2, 96, 96, 1, 1);
    let got = read4(DeviceImages::upload(&data, gpu.burn_device()).unwrap().augment(&views, &spec).unwrap());
    assert_close(&got, &augment_reference(&data, &views, &spec));
}

#[test]
fn bad_views_are_errors() {
    let Some(gpu) = gpu() else { return };
    let data = random_dataset(2, 8, 8, 1);
    let images = DeviceImages::upload(&data, gpu.burn_device()).unwrap();
    let spec = AugmentSpec { size: 8, ..AugmentSpec::default() };
    assert!(images.augment(&[], &spec).is_err());
    assert!(images.augment(&[ViewParams::identity(2, 0, 8, 8)], &spec).is_err());
}

/// On burn's CPU backend, DeviceImages keeps the pixels on the host and runs the
/// reference: same layout (views at their slots), same values, and the GPU's errors.
#[test]
fn cpu_backend_augments_with_the_reference() {
    let cpu = ring_wgpu_core::burn::tensor::Device::flex();
    let data = random_dataset(6, 20, 28, 3);
    let spec = AugmentSpec { size: 16, ..AugmentSpec::default() };
    let views = sample_views(&spec, &[5, 0, 3], 2, data.height, data.width, 2, 9);
    let images = DeviceImages::upload(&data, &cpu).unwrap();
    let got = images.augment(&views, &spec).unwrap();
    assert_eq!(got.dims(), [6, 3, 16, 16]);
    assert_eq!(read4(got), augment_reference(&data, &views, &spec));
    assert!(images.augment(&[], &spec).is_err());
    let beyond = ViewParams { image: 6, ..views[0] };
    assert!(images.augment(&[beyond], &spec).is_err());
}

/// Tolerance of the blur: the kernel and the reference sum the same taps in the same order,
/// but the GPU's exp may differ from Rust's in the last bits (relative to the magnitude).
const BLUR_TOLERANCE: f32 = 1e-5;

fn assert_blur_close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!((a - b).abs() <= BLUR_TOLERANCE * (1.0 + b.abs()), "element {i}: kernel {a}, reference {b}");
    }
}

/// blur.wgsl against blur_reference, through DeviceImages::augment: random views with
/// blur on half of them (sigma in [0.1, 2]), odd sizes (the element count is no multiple
/// of 256), views without blur untouched; the CPU backend gives the reference itself.
#[test]
fn blurred_views_match_reference_on_every_device() {
    for (data, size) in [(synthetic(3, 32, 4).unwrap(), 32), (random_dataset(4, 19, 23, 3), 13)] {
        let spec = AugmentSpec { size, blur_p: 0.5, ..AugmentSpec::default() };
        let images: Vec<u32> = (0..data.len() as u32).collect();
        let views = sample_views(&spec, &images, 2, data.height, data.width, 5, 2);
        assert!(views.iter().any(|v| v.blur_sigma > 0.0) && views.iter().any(|v| v.blur_sigma == 0.0));
        let sigmas: Vec<f32> = views.iter().map(|v| v.blur_sigma).collect();
        let want = blur_reference(&augment_reference(&data, &views, &spec), &sigmas, size);
        let unblurred = augment_reference(&data, &views, &spec);
        let plane = 3 * size * size;
        for (i, v) in views.iter().enumerate() {
            // sigma near 0.1 leaves an image as it was (the neighbours' weights are ~1e-16).
            let same = want[i * plane..(i + 1) * plane] == unblurred[i * plane..(i + 1) * plane];
            assert!(if v.blur_sigma == 0.0 { same } else { v.blur_sigma < 0.3 || !same }, "view {i} (sigma {})", v.blur_sigma);
        }
        for (name, device) in devices() {
            let on_device = DeviceImages::upload(&data, &device).unwrap();
            let got = read4(on_device.augment(&views, &spec).unwrap());
            eprintln!("blur on {name}, size {size}");
            if name == "cpu" {
                assert_eq!(got, want);
            } else {
                // The augment kernel itself differs from its reference by up to TOLERANCE.
                let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
                assert!(worst <= TOLERANCE, "max |gpu - reference| = {worst}");
            }
        }
    }
}

/// The blur kernel alone on exact inputs: a single bright pixel, edges, sigma at both
/// ends of the range, 65 views (more than 256 invocations' worth of rows).
#[test]
fn blur_kernel_matches_reference_on_edge_cases() {
    let Some(gpu) = gpu() else { return };
    let size = 9;
    let plane = 3 * size * size;
    let views = 65;
    let mut rng = Rng(17);
    let mut images: Vec<f32> = (0..views * plane).map(|_| rng.unit()).collect();
    images[plane] = 50.0; // a corner of view 1
    images[2 * plane + 4 * size + 4] = -50.0; // the centre of view 2
    let sigmas: Vec<f32> = (0..views)
        .map(|v| match v % 4 {
            0 => 0.0,
            1 => 0.1,
            2 => 2.0,
            _ => 0.1 + (v as f32 / views as f32) * 1.9,
        })
        .collect();
    let want = blur_reference(&images, &sigmas, size);
    let got = read4(
        ring_wgpu_core::augment::blur_on_device(&upload(gpu, &images, views, plane).reshape([views, 3, size, size]), &sigmas).unwrap(),
    );
    assert_blur_close(&got, &want);
}
