//! Every method family behind the Method seam: each Ring form with u = 100, l = 0
//! reproduces its plain method exactly; each method's loss falls on a short CPU run
//! (and SimCLR's kNN beats the untrained network's); IR's memory bank stays normalised and changes
//! only at the batch's images; IRing's kernels run on the GPU.

use crate::common::*;
use ring_wgpu_core::burn::tensor::Device;
use ring_wgpu_core::methods::{InstanceDiscrimination, IrSettings, Method};
use ring_wgpu_core::train::{Anneal, Datasets, EpochMetrics, MethodKind, SinkFn, TrainConfig, TrainEvent, Trainer};

fn config(method: MethodKind) -> TrainConfig {
    TrainConfig {
        method,
        synthetic_per_class: 4,
        batch: 10,
        queue: Some(20),
        samples: 64,
        epochs: 2,
        knn_k: 5,
        knn_every: 2,
        lower: 5.0,
        upper: 50.0,
        ..TrainConfig::default()
    }
}

#[test]
fn ring_forms_with_the_whole_pool_reproduce_the_plain_methods_exactly() {
    for (plain, ring) in
        [(MethodKind::Moco, MethodKind::Mocoring), (MethodKind::Ir, MethodKind::Iring), (MethodKind::Simclr, MethodKind::SimclrRing)]
    {
        let whole = TrainConfig { method: ring, lower: 0.0, upper: 100.0, anneal: Anneal::None, ..config(ring) };
        let a = step_losses(&config(plain), 4, 1, &Device::flex());
        let b = step_losses(&whole, 4, 1, &Device::flex());
        assert_eq!(a, b, "{ring:?} with l = 0, u = 100 differs from {plain:?}");
        assert!(a.iter().all(|l| l.is_finite()), "{a:?}");
        // A real ring changes the loss.
        let c = step_losses(&TrainConfig { anneal: Anneal::None, ..config(ring) }, 4, 1, &Device::flex());
        assert_ne!(a, c, "{ring:?}: the ring made no difference");
    }
}

/// The epoch metrics of a short run of `method` on the CPU backend (400 synthetic images,
/// batches of 40, `epochs` epochs; seeded: the same run every time).
fn short_run(method: MethodKind, epochs: usize) -> Vec<EpochMetrics> {
    let config = TrainConfig {
        method,
        synthetic_per_class: 40,
        batch: 40,
        queue: Some(200),
        samples: 256,
        epochs,
        knn_every: epochs,
        knn_k: 20,
        temperature: if matches!(method, MethodKind::Simclr | MethodKind::SimclrRing) { 0.2 } else { 0.07 },
        ..TrainConfig::default()
    };
    let out = fit_on_the_cpu(config);
    eprintln!("{method:?}: loss {:?} -> {:?}, kNN {:?} -> {:?}", out[1].loss, out[epochs].loss, out[0].knn_top1, out[epochs].knn_top1);
    out
}

/// Every epoch's metrics of a whole run of `config` on the synthetic set, CPU backend.
fn fit_on_the_cpu(config: TrainConfig) -> Vec<EpochMetrics> {
    let mut trainer = Trainer::new(config.clone(), Datasets::synthetic(&config).unwrap(), &Device::flex()).unwrap();
    let mut out: Vec<EpochMetrics> = Vec::new();
    pollster::block_on(trainer.fit(&mut SinkFn(|e: &TrainEvent<'_>| {
        if let TrainEvent::Epoch(m) = e {
            out.push((*m).clone());
        }
        Ok(())
    })))
    .unwrap();
    out
}

fn assert_loss_falls(method: MethodKind, m: &[EpochMetrics]) {
    let (first, last) = (m[1].loss.unwrap(), m[m.len() - 1].loss.unwrap());
    assert!(last < first, "{method:?}: the loss did not fall: {first} -> {last}");
}

/// SimCLR learns: over 100 steps its loss falls and kNN top-1 rises clearly above the
/// untrained network's. (MoCo and MoCoRing: `moco.rs` and the CLI's tests.) At 60 steps
/// the rise depends on the trajectory: 0.395 -> 0.40 with our CPU kernels, 0.49-0.55 with
/// burn's operations, whose losses agree with ours to 1e-3 over the first 6 steps.
#[test]
fn simclr_learns_on_the_cpu() {
    let m = short_run(MethodKind::Simclr, 10);
    assert_loss_falls(MethodKind::Simclr, &m);
    let (untrained, trained) = (m[0].knn_top1.unwrap(), m[10].knn_top1.unwrap());
    assert!(trained > untrained + 0.05, "kNN did not rise: {untrained} -> {trained}");
}

/// SimCLR-Ring's loss falls over 3 epochs (its ring of 10% of 78 in-batch candidates is
/// narrow: its kNN is not checked at this budget). IRing's kNN rises above the untrained
/// network's (0.485 -> 0.545 when measured, 2026-12-04); its loss rises while the annealed ring hands it
/// harder negatives, now that its bank starts from the network's own embeddings.
#[test]
fn simclr_ring_and_iring_train_on_the_cpu() {
    assert_loss_falls(MethodKind::SimclrRing, &short_run(MethodKind::SimclrRing, 3));
    let m = short_run(MethodKind::Iring, 3);
    assert!(m[3].knn_top1.unwrap() > m[0].knn_top1.unwrap(), "IRing's kNN did not rise: {m:?}");
}

/// IR learns at the quick preset (1,000 synthetic images, 15 epochs of 20 steps): with its
/// bank filled by the untrained network before the first step and bank momentum 0.5 (the
/// preset's defaults) kNN top-1 rises far above the untrained network's (28.6 -> 67.0% when
/// measured) and each anchor ends clearly closer to its own bank row than to the others.
/// With random rows and m = 0 (the authors' code) the same run collapses and ends below the
/// untrained network (21.2%): README, "Why IR and CMC did not learn".
#[test]
fn ir_learns_at_the_quick_preset() {
    let m = fit_on_the_cpu(TrainConfig { method: MethodKind::Ir, knn_every: 15, ..TrainConfig::default() });
    let (untrained, trained) = (m[0].knn_top1.unwrap(), m[15].knn_top1.unwrap());
    assert!(trained > untrained + 0.10, "kNN did not rise: {untrained} -> {trained}");
    let gap = m[15].positive_similarity.unwrap() - m[15].negative_similarity.unwrap();
    assert!(gap > 0.1, "the anchors are no closer to their own bank rows than to others: {:?}", m[15]);
    assert!(m[15].anchor_similarity.unwrap() < 0.9, "collapsed: {:?}", m[15]);
}

/// After a step, bank row r holds exactly `normalise(m old_r + (1 - m) q_r)` for each image r
/// of the batch, q_r the embedding of r's own view by the network before the step (with
/// m = 0: q_r itself), and every other row is unchanged; rows stay normalised.
#[test]
fn the_memory_bank_receives_each_images_own_embedding() {
    let device = Device::flex();
    for m in [0.0, 0.5] {
        let config = TrainConfig { bank_momentum: m, ..config(MethodKind::Ir) }.resolved(40).unwrap();
        let mut ir = InstanceDiscrimination::new(IrSettings::from_config(&config, 40).unwrap(), &device).unwrap();
        let before = read_f32(ir.bank().clone());
        let d = config.projection_dim;
        let data = Datasets::synthetic(&config).unwrap();
        let images = ring_wgpu_core::augment::DeviceImages::upload(&data.train, &device).unwrap();
        let spec = ring_wgpu_core::augment::AugmentSpec::default();
        let indices = vec![3u32, 17, 5, 30];
        let views = ring_wgpu_core::augment::sample_views(&spec, &indices, 1, 32, 32, 1, 0);
        let view = images.augment(&views, &spec).unwrap();
        // Training-mode batch norm: the same weights give the step's own embeddings.
        let q = read_f32(ir.net.embed(view.clone()));
        let context = ring_wgpu_core::methods::StepContext { epoch: 0.0, lr: 0.01, global_step: 0 };
        let out = ir.step(ring_wgpu_core::methods::Batch { indices: indices.clone(), views: vec![view] }, &context, &mut |_| {}).unwrap();
        assert!(read_f32(out.loss)[0].is_finite());
        let after = read_f32(ir.bank().clone());
        for row in 0..40 {
            let (old, new) = (&before[row * d..(row + 1) * d], &after[row * d..(row + 1) * d]);
            let norm = new.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "m = {m}, row {row}: norm {norm}");
            match indices.iter().position(|&i| i as usize == row) {
                Some(slot) => {
                    let mixed: Vec<f64> = (0..d).map(|j| m * old[j] as f64 + (1.0 - m) * q[slot * d + j] as f64).collect();
                    let length = mixed.iter().map(|v| v * v).sum::<f64>().sqrt();
                    for j in 0..d {
                        let want = mixed[j] / length;
                        assert!((new[j] as f64 - want).abs() < 1e-5, "m = {m}, row {row} (slot {slot}), dim {j}: {} vs {want}", new[j]);
                    }
                }
                None => assert_eq!(old, new, "m = {m}: row {row} is not in the batch but changed"),
            }
        }
    }
}

/// IRing and SimCLR-Ring on the GPU (ring_select, ring_compact and ring_sample on lavapipe
/// in CI; the kernels themselves are checked against their references in ring_kernels.rs):
/// finite losses. (Initial weights differ between devices: burn's generators do.)
#[test]
fn ring_methods_run_on_the_gpu() {
    let Some(gpu) = gpu() else { return };
    for method in [MethodKind::Iring, MethodKind::SimclrRing] {
        let losses = step_losses(&TrainConfig { anneal: Anneal::None, ..config(method) }, 2, 1, gpu.burn_device());
        assert!(losses.iter().all(|l| l.is_finite() && *l > 0.0), "{method:?}: {losses:?}");
    }
}
