//! Helpers shared by the GPU test files.
#![allow(dead_code)]

use ring_wgpu_core::Gpu;
use ring_wgpu_core::burn::tensor::{Device, Int, Tensor, TensorData};
use ring_wgpu_core::gpu::testing::test_gpu;
use ring_wgpu_core::ring::{Negatives, NegativesRef};
use ring_wgpu_core::train::{Datasets, TrainConfig, Trainer};

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

/// A tensor of `shape` holding `values` on `device`.
pub fn tensor<const D: usize>(values: &[f32], shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::<D>::from_data(TensorData::new(values.to_vec(), shape), device)
}

/// Within `tolerance` of the f64 reference `want` relative to its largest finite magnitude
/// (at least 1); NaN exactly where the reference has NaN.
pub fn assert_close_to_reference(got: &[f32], want: &[f32], tolerance: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().filter(|v| v.is_finite()).fold(1.0f32, |m, v| m.max(v.abs()));
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert_eq!(a.is_nan(), b.is_nan(), "{what}: element {i} is {a}, the reference {b}");
        if b.is_finite() {
            assert!((a - b).abs() <= tolerance * scale, "{what}: element {i} is {a}, the reference {b} (scale {scale})");
        }
    }
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

/// Host-side choice of negatives, for the loss tests: uploaded with [`Host::on`], or as
/// the references take it with [`Host::reference`].
#[derive(Clone, Copy)]
pub enum Host<'a> {
    All,
    Mask(&'a [f32]),
    Sampled(&'a [u32], usize),
}

impl<'a> Host<'a> {
    pub fn reference(self) -> NegativesRef<'a> {
        match self {
            Host::All => NegativesRef::All,
            Host::Mask(m) => NegativesRef::Mask(m),
            Host::Sampled(i, k) => NegativesRef::Sampled(i, k),
        }
    }

    /// The negatives of `b` anchors among `n` candidates on `device`.
    pub fn on(self, device: &Device, b: usize, n: usize) -> Negatives {
        match self {
            Host::All => Negatives::All,
            Host::Mask(m) => Negatives::Mask(upload_on(device, m, b, n)),
            Host::Sampled(idx, k) => Negatives::Sampled(Tensor::<2, Int>::from_data(
                TensorData::new(idx.iter().map(|&i| i as i32).collect::<Vec<_>>(), [b, k]),
                device,
            )),
        }
    }
}

/// The mean losses of `calls` calls of `steps_per_call` training steps of a run of
/// `config` on its synthetic data.
pub fn step_losses(config: &TrainConfig, calls: usize, steps_per_call: usize, device: &Device) -> Vec<f64> {
    let mut trainer = Trainer::new(config.clone(), Datasets::synthetic(config).unwrap(), device).unwrap();
    (0..calls).map(|_| pollster::block_on(trainer.steps(steps_per_call, &mut ())).unwrap().loss.unwrap()).collect()
}
