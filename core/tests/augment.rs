//! augment.wgsl against augment_reference on the GPU (lavapipe in CI).

mod common;

use common::*;
use ring_wgpu_core::augment::{augment_reference, sample_views, AugmentSpec, DeviceImages, ViewParams};
use ring_wgpu_core::burn::tensor::Tensor;
use ring_wgpu_core::data::{synthetic, ImageDataset};

/// Tolerance on normalised values (about 1/255 / std / 100): the kernel and the reference
/// do the same f32 operations; GPUs may fuse multiply-adds.
const TOLERANCE: f32 = 2e-4;

fn read4(t: Tensor<4>) -> Vec<f32> {
    pollster::block_on(t.into_data_async()).unwrap().convert::<f32>().try_to_vec::<f32>().unwrap()
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
        pixels: (0..n * h * w * 3).map(|_| rng.below(256) as u8).collect(),
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
        let views = sample_views(&spec, &images, data.height, data.width, 11, 5);
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
    let views = sample_views(&spec, &images, 96, 96, 1, 1);
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
    let views = sample_views(&spec, &[5, 0, 3], data.height, data.width, 2, 9);
    let images = DeviceImages::upload(&data, &cpu).unwrap();
    let got = images.augment(&views, &spec).unwrap();
    assert_eq!(got.dims(), [6, 3, 16, 16]);
    assert_eq!(read4(got), augment_reference(&data, &views, &spec));
    assert!(images.augment(&[], &spec).is_err());
    let beyond = ViewParams { image: 6, ..views[0] };
    assert!(images.augment(&[beyond], &spec).is_err());
}
