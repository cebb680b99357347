//! MoCo / MoCoRing training steps on the GPU (lavapipe in CI), small shapes.

mod common;

use common::*;
use ring_wgpu_core::augment::{sample_views, AugmentSpec, DeviceImages};
use ring_wgpu_core::burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use ring_wgpu_core::burn::tensor::Tensor;
use ring_wgpu_core::data::synthetic;
use ring_wgpu_core::model::{ContrastiveNet, EncoderKind};
use ring_wgpu_core::moco::{momentum_update, Moco, MocoConfig};
use ring_wgpu_core::{AnnealPolicy, RingSchedule, RingSpec};

struct Values(Vec<f32>);

impl ModuleVisitor for Values {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val().without_autodiff();
        let n = t.shape().num_elements();
        self.0.extend(read_f32(t.reshape([1, n])));
    }
}

fn values(m: &ContrastiveNet) -> Vec<f32> {
    let mut v = Values(Vec::new());
    m.visit(&mut v);
    v.0
}

#[test]
fn momentum_update_interpolates_parameters() {
    let Some(gpu) = gpu() else { return };
    let device = gpu.burn_device();
    let a = ContrastiveNet::new(EncoderKind::Small, 8, device);
    let b = ContrastiveNet::new(EncoderKind::Small, 8, device);
    let (va, vb) = (values(&a), values(&b));
    // Different initialisations but the same parameter ids are needed: b is a clone of a
    // mapped to new values, so use a itself as the key.
    let key = a.clone();
    let same = momentum_update(key.clone(), &a, 0.5);
    assert_eq!(values(&same), va);
    assert_ne!(va, vb);
    // m = 1 keeps the key; m = 0 copies the query.
    let moco = Moco::new(MocoConfig { encoder: EncoderKind::Small, projection_dim: 8, queue_size: 16, ..MocoConfig::default() }, device).unwrap();
    let q = values(&moco.query);
    assert_eq!(values(&moco.key), q, "the key encoder starts as a copy");
    let kept = momentum_update(moco.key.clone(), &moco.query, 1.0);
    assert_eq!(values(&kept), q);
}

/// Doubles every float (parameters and batch-norm statistics), keeping the ids.
struct Double;

impl ModuleMapper for Double {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|t| t.mul_scalar(2.0))
    }
}

/// On burn's CPU backend (fast, exact): the EMA moves each key parameter towards the
/// query's, k <- m k + (1 - m) q, and leaves batch-norm running statistics alone.
#[test]
fn momentum_update_moves_the_key_towards_the_query() {
    let device = ring_wgpu_core::burn::tensor::Device::flex().autodiff();
    let query = ContrastiveNet::new(EncoderKind::Small, 8, &device);
    let key = ring_wgpu_core::moco::key_encoder(&query);
    // A query with the same ids and every value doubled: the key moves half way.
    let doubled = query.clone().valid().map(&mut Double).train();
    let moved = momentum_update(key.clone(), &doubled, 0.5);
    let (k, q, m) = (values(&key), values(&doubled), values(&moved));
    assert_eq!(k.len(), m.len());
    let (mut params, mut kept) = (0, 0);
    for ((k, q), m) in k.iter().zip(&q).zip(&m) {
        if (m - k).abs() < 1e-7 && k != q {
            kept += 1; // running statistics (means 0 stay 0 either way, variances 1 are kept)
        } else {
            assert!((m - (0.5 * k + 0.5 * q)).abs() <= 1e-6 * (1.0 + q.abs()), "{m} is not between {k} and {q}");
            params += 1;
        }
    }
    assert!(params > 1000 && kept > 0, "{params} parameters moved, {kept} statistics kept");
}

/// Regression: the key encoder normalises a batch with that batch's statistics (batch
/// norm in training mode), as MoCo's does, so a fresh key encoder (a copy of the query)
/// embeds a batch exactly as the query does. (With burn's inference path it would use the
/// initial running statistics and differ.)
#[test]
fn key_encoder_uses_batch_statistics() {
    let device = ring_wgpu_core::burn::tensor::Device::flex();
    let moco = Moco::new(MocoConfig { encoder: EncoderKind::Small, projection_dim: 16, queue_size: 8, ..MocoConfig::default() }, &device).unwrap();
    let x = Tensor::<4>::random([6, 3, 32, 32], ring_wgpu_core::burn::tensor::Distribution::Normal(0.5, 2.0), &device);
    let from_query = read_f32(moco.query.embed(x.clone()).without_autodiff());
    let from_key = read_f32(moco.key.embed(x.clone()).without_autodiff());
    let inference = read_f32(moco.query.valid().embed(x));
    let diff = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(diff(&from_query, &from_key) < 1e-5, "key and query differ: {}", diff(&from_query, &from_key));
    assert!(diff(&from_query, &inference) > 1e-3, "the test input does not tell the two batch-norm modes apart");
}

fn run(ring: Option<RingSchedule>, steps: usize, seed: u64) -> Vec<f32> {
    let gpu = gpu().expect("GPU");
    let device = gpu.burn_device();
    let data = synthetic(4, 32, 1).unwrap();
    let images = DeviceImages::upload(&data, device).unwrap();
    let spec = AugmentSpec::default();
    // A queue of one batch: while training on one half of the 40 images, the queue holds
    // the keys of the other half (no stale copies of the anchors' own images).
    let config = MocoConfig { encoder: EncoderKind::Small, projection_dim: 32, queue_size: 20, momentum: 0.9, ring, seed, ..MocoConfig::default() };
    let mut moco = Moco::new(config, device).unwrap();
    let mut losses = Vec::new();
    for step in 0..steps {
        let batch: Vec<u32> = (0..20).map(|i| i + 20 * (step as u32 % 2)).collect();
        let views = sample_views(&spec, &batch, 32, 32, 3, step as u64);
        let both = images.augment(&views, &spec).unwrap();
        let b = batch.len();
        let view_q = both.clone().narrow(0, 0, b);
        let view_k = both.narrow(0, b, b);
        let out = moco.step(view_q, view_k, step as f64, 0.05).unwrap();
        losses.push(out.loss);
    }
    losses.into_iter().map(|l| read_f32(l.reshape([1, 1]))[0]).collect()
}

/// Training on 40 images in two alternating batches of 20, with a queue of 20. The loss
/// starts near 0 (the queue holds random keys, far from the collapsed initial
/// embeddings), jumps towards ln(21) = 3.04 once the queue holds real keys, then falls as
/// the encoder learns to tell the images apart: the last 4 steps average at least 0.5
/// below the peak, for MoCo and for MoCoRing with u annealed from 100 to 50 (seeded: the
/// same run every time).
#[test]
fn loss_falls_for_moco_and_mocoring() {
    let Some(_) = gpu() else { return };
    let schedule = RingSchedule::new(RingSpec::new(5.0, 50.0).unwrap(), AnnealPolicy::Linear { epochs: 6.0 }).unwrap();
    for (name, ring) in [("MoCo", None), ("MoCoRing", Some(schedule))] {
        let losses = run(ring, 16, 7);
        assert!(losses.iter().all(|l| l.is_finite()), "{name}: {losses:?}");
        let peak = losses.iter().copied().fold(f32::MIN, f32::max);
        let last: f32 = losses[losses.len() - 4..].iter().sum::<f32>() / 4.0;
        eprintln!("{name}: {losses:?}");
        assert!(last < peak - 0.5, "{name}: loss did not fall: {losses:?}");
    }
}
