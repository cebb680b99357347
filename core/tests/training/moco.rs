//! MoCo / MoCoRing: the key encoder's momentum update and batch statistics, and short
//! runs whose loss falls, on the CPU backend and the GPU (lavapipe in CI).

use crate::common::*;
use ring_wgpu_core::burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use ring_wgpu_core::burn::tensor::{Device, Tensor};
use ring_wgpu_core::methods::{Moco, MocoSettings};
use ring_wgpu_core::model::{ContrastiveNet, EncoderKind, key_encoder, momentum_update};
use ring_wgpu_core::train::{Anneal, Datasets, MethodKind, SinkFn, TrainConfig, TrainEvent, Trainer};

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

fn moco(queue: usize, projection_dim: usize, device: &Device) -> Moco {
    let config = TrainConfig { queue: Some(queue), projection_dim, batch: 2, ..TrainConfig::default() }.resolved(100).unwrap();
    Moco::new(MocoSettings::from_config(&config).unwrap(), device).unwrap()
}

#[test]
fn momentum_update_interpolates_parameters() {
    let Some(gpu) = gpu() else { return };
    let device = gpu.burn_device();
    let a = ContrastiveNet::new(EncoderKind::Small, 8, device);
    let b = ContrastiveNet::new(EncoderKind::Small, 8, device);
    let (va, vb) = (values(&a), values(&b));
    // The key must share the query's parameter ids: use a itself as the key.
    let same = momentum_update(a.clone(), &a, 0.5);
    assert_eq!(values(&same), va);
    assert_ne!(va, vb);
    // m = 1 keeps the key.
    let moco = moco(16, 8, device);
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
    let device = Device::flex().autodiff();
    let query = ContrastiveNet::new(EncoderKind::Small, 8, &device);
    let key = key_encoder(&query);
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
    let device = Device::flex();
    let moco = moco(8, 16, &device);
    let x = Tensor::<4>::random([6, 3, 32, 32], ring_wgpu_core::burn::tensor::Distribution::Normal(0.5, 2.0), &device);
    let from_query = read_f32(moco.query.embed(x.clone()).without_autodiff());
    let from_key = read_f32(moco.key.embed(x.clone()).without_autodiff());
    let inference = read_f32(moco.query.valid().embed(x));
    let diff = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(diff(&from_query, &from_key) < 1e-5, "key and query differ: {}", diff(&from_query, &from_key));
    assert!(diff(&from_query, &inference) > 1e-3, "the test input does not tell the two batch-norm modes apart");
}

/// The per-step losses of a short run, driven by the Trainer one step at a time.
fn losses(method: MethodKind, device: &Device) -> Vec<f64> {
    // 40 images in batches of 20 with a queue of 20: while training on one half, the
    // queue holds the keys of the other. MoCoRing anneals u from 100 to 50 (l = 5).
    let config = TrainConfig {
        method,
        synthetic_per_class: 4,
        batch: 20,
        queue: Some(20),
        key_momentum: 0.9,
        lr: 0.05,
        lower: 5.0,
        upper: 50.0,
        anneal: Anneal::Linear,
        anneal_epochs: Some(3.0),
        epochs: 8,
        knn_every: 8,
        knn_k: 5,
        seed: 7,
        ..TrainConfig::default()
    };
    let datasets = Datasets::synthetic(&config).unwrap();
    let mut trainer = Trainer::new(config, datasets, device).unwrap();
    let mut out = Vec::new();
    while !trainer.finished() {
        let step = pollster::block_on(trainer.steps(1, &mut ())).unwrap();
        out.push(step.loss.unwrap());
    }
    out
}

/// The loss starts near 0 (the queue holds random keys, far from the collapsed initial
/// embeddings), jumps towards ln(21) = 3.04 once the queue holds real keys, then falls as
/// the encoder learns to tell the images apart: the last 4 steps average at least 0.5
/// below the peak, for MoCo and MoCoRing on the CPU backend and MoCoRing on the GPU
/// (seeded: the same run every time).
#[test]
fn loss_falls_for_moco_and_mocoring() {
    for (device_name, device) in devices() {
        // Software Vulkan is slow: on the GPU only MoCoRing (the path with our kernels).
        let methods: &[MethodKind] = if device_name == "gpu" { &[MethodKind::Mocoring] } else { &[MethodKind::Moco, MethodKind::Mocoring] };
        for &method in methods {
            let losses = losses(method, &device);
            assert_eq!(losses.len(), 16);
            assert!(losses.iter().all(|l| l.is_finite()), "{device_name} {method:?}: {losses:?}");
            let peak = losses.iter().copied().fold(f64::MIN, f64::max);
            let last: f64 = losses[losses.len() - 4..].iter().sum::<f64>() / 4.0;
            eprintln!("{device_name} {method:?}: {losses:?}");
            assert!(last < peak - 0.5, "{device_name} {method:?}: loss did not fall: {losses:?}");
        }
    }
}

/// Events arrive in order: started, one step per step, an epoch after each epoch's last
/// step (epoch 0 first: the untrained baseline), finished.
#[test]
fn the_trainer_reports_events_in_order() {
    let config = TrainConfig { synthetic_per_class: 2, batch: 5, epochs: 2, knn_k: 3, knn_every: 1, ..TrainConfig::default() };
    let datasets = Datasets::synthetic(&config).unwrap();
    let mut trainer = Trainer::new(config, datasets, &Device::flex()).unwrap();
    let mut log = Vec::new();
    let outcome = pollster::block_on(trainer.fit(&mut SinkFn(|e: &TrainEvent<'_>| {
        log.push(match e {
            TrainEvent::Started { steps_per_epoch, .. } => format!("started {steps_per_epoch}"),
            TrainEvent::Step(s) => format!("step {}", s.global_step),
            TrainEvent::Epoch(m) => format!("epoch {} knn {}", m.epoch, m.knn_top1.is_some()),
            TrainEvent::Stopped { .. } => "stopped".into(),
            TrainEvent::Finished { .. } => "finished".into(),
        });
        Ok(())
    })))
    .unwrap();
    assert_eq!(outcome, ring_wgpu_core::train::FitOutcome::Finished);
    assert_eq!(
        log,
        [
            "started 4",
            "epoch 0 knn true",
            "step 1",
            "step 2",
            "step 3",
            "step 4",
            "epoch 1 knn true",
            "step 5",
            "step 6",
            "step 7",
            "step 8",
            "epoch 2 knn true",
            "finished"
        ]
    );
}
