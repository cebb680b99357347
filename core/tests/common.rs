//! Helpers shared by the GPU test files.
#![allow(dead_code)]

use ring_wgpu_core::Gpu;
use ring_wgpu_core::burn::tensor::{Device, Int, Tensor, TensorData};
use ring_wgpu_core::gpu::testing::test_gpu;

/// The test GPU (panics without one in CI).
pub fn gpu() -> Option<&'static Gpu> {
    test_gpu()
}

pub fn upload(gpu: &Gpu, values: &[f32], rows: usize, cols: usize) -> Tensor<2> {
    upload_on(gpu.burn_device(), values, rows, cols)
}

pub fn upload_on(device: &Device, values: &[f32], rows: usize, cols: usize) -> Tensor<2> {
    Tensor::<2>::from_data(TensorData::new(values.to_vec(), [rows, cols]), device)
}

pub fn read_f32<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    pollster::block_on(ring_wgpu_core::gpu::read::read_f32(t)).unwrap()
}

pub fn read_u32<const D: usize>(t: Tensor<D, Int>) -> Vec<u32> {
    pollster::block_on(ring_wgpu_core::gpu::read::read_i64(t)).unwrap().into_iter().map(|v| v as u32).collect()
}

/// The devices every device-parameterised test runs on: burn's CPU backend (flex), and
/// the test GPU (lavapipe in CI; absent only where skipping is allowed).
pub fn devices() -> Vec<(&'static str, Device)> {
    let mut devices = vec![("cpu", Device::flex())];
    if let Some(gpu) = gpu() {
        devices.push(("gpu", gpu.burn_device().clone()));
    }
    devices
}

/// Deterministic xorshift generator for test data.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// `rows` random unit vectors of dimension `d` (row-major).
pub fn unit_rows(rng: &mut Rng, rows: usize, d: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..rows * d).map(|_| rng.unit()).collect();
    for row in v.chunks_mut(d) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        row.iter_mut().for_each(|x| *x /= norm);
    }
    v
}
