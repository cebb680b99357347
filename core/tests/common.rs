//! Helpers shared by the GPU test files.
#![allow(dead_code)]

use ring_wgpu_core::burn::tensor::{Device, Int, Tensor, TensorData};
use ring_wgpu_core::gpu::testing::test_gpu;
use ring_wgpu_core::Gpu;

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

pub fn read_f32(t: Tensor<2>) -> Vec<f32> {
    pollster::block_on(t.into_data_async()).unwrap().convert::<f32>().try_to_vec::<f32>().unwrap()
}

pub fn read_u32(t: Tensor<2, Int>) -> Vec<u32> {
    let data = pollster::block_on(t.into_data_async()).unwrap();
    data.convert::<i64>().try_to_vec::<i64>().unwrap().into_iter().map(|v| v as u32).collect()
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
