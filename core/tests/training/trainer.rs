//! The Trainer: a run stopped by its stop handle and continued from its checkpoint bytes
//! equals the uninterrupted run; resuming with other settings is refused by name; bad
//! configurations are refused before any work. On the CPU backend (fast, exact) and once
//! on the GPU.

use crate::common::*;
use ring_wgpu_core::Error;
use ring_wgpu_core::burn::tensor::Device;
use ring_wgpu_core::train::{
    Checkpoint, CheckpointError, Datasets, EpochMetrics, FitOutcome, MethodKind, SinkFn, TrainConfig, TrainEvent, Trainer,
};

fn config() -> TrainConfig {
    TrainConfig { synthetic_per_class: 4, batch: 10, epochs: 2, knn_k: 5, knn_every: 1, lower: 5.0, upper: 50.0, ..TrainConfig::default() }
}

/// Runs `trainer` to its end, collecting epoch metrics; stops after `stop_at` steps when given.
fn run(trainer: &mut Trainer, stop_at: Option<u64>, epochs: &mut Vec<EpochMetrics>) -> FitOutcome {
    let stop = trainer.stop_handle();
    pollster::block_on(trainer.fit(&mut SinkFn(|e: &TrainEvent<'_>| {
        match e {
            TrainEvent::Epoch(m) => epochs.push((*m).clone()),
            TrainEvent::Step(s) if Some(s.global_step) == stop_at => stop.stop(),
            _ => {}
        }
        Ok(())
    })))
    .unwrap()
}

fn same_run(a: &[EpochMetrics], b: &[EpochMetrics]) {
    assert_eq!(a.len(), b.len(), "{a:?}\n{b:?}");
    for (x, y) in a.iter().zip(b) {
        assert_eq!((x.epoch, x.loss, x.knn_top1, x.upper, x.lr), (y.epoch, y.loss, y.knn_top1, y.upper, y.lr), "\n{x:?}\n{y:?}");
    }
}

fn stop_and_resume_equals_the_whole_run(device: &Device, stop_at: u64) {
    let datasets = Datasets::synthetic(&config()).unwrap();
    let mut whole = Trainer::new(config(), datasets.clone(), device).unwrap();
    let mut whole_epochs = Vec::new();
    assert_eq!(run(&mut whole, None, &mut whole_epochs), FitOutcome::Finished);

    let mut first = Trainer::new(config(), datasets.clone(), device).unwrap();
    let mut epochs = Vec::new();
    assert_eq!(run(&mut first, Some(stop_at), &mut epochs), FitOutcome::Stopped);
    assert_eq!(first.global_step(), stop_at);
    let bytes = pollster::block_on(first.checkpoint()).unwrap();
    drop(first);
    let mut resumed = Trainer::from_checkpoint(&bytes, Some(&config()), datasets, device).unwrap();
    assert_eq!(resumed.global_step(), stop_at);
    assert_eq!(run(&mut resumed, None, &mut epochs), FitOutcome::Finished);
    same_run(&whole_epochs, &epochs);

    // The final states agree value for value.
    let a = Checkpoint::from_bytes(&pollster::block_on(whole.checkpoint()).unwrap()).unwrap();
    let b = Checkpoint::from_bytes(&pollster::block_on(resumed.checkpoint()).unwrap()).unwrap();
    assert_eq!(a.state.tensors.len(), b.state.tensors.len());
    for (name, t) in &a.state.tensors {
        assert_eq!(t.values, b.state.tensors[name].values, "{name}");
    }
    assert_eq!(a.state.meta, b.state.meta);
}

#[test]
fn stopped_mid_epoch_and_resumed_equals_the_whole_run_on_the_cpu() {
    // 4 steps per epoch: stop inside the second epoch, and at an epoch boundary.
    stop_and_resume_equals_the_whole_run(&Device::flex(), 6);
    stop_and_resume_equals_the_whole_run(&Device::flex(), 4);
}

#[test]
fn stopped_and_resumed_equals_the_whole_run_on_the_gpu() {
    let Some(gpu) = gpu() else { return };
    stop_and_resume_equals_the_whole_run(gpu.burn_device(), 5);
}

#[test]
fn resuming_with_other_settings_is_refused_by_name() {
    let device = Device::flex();
    let datasets = Datasets::synthetic(&config()).unwrap();
    let trainer = Trainer::new(config(), datasets.clone(), &device).unwrap();
    let bytes = pollster::block_on(trainer.checkpoint()).unwrap();
    let changed = TrainConfig { batch: 8, temperature: 0.2, ..config() };
    let err = Trainer::from_checkpoint(&bytes, Some(&changed), datasets.clone(), &device).err().unwrap();
    let Error::Checkpoint(CheckpointError::SettingsChanged(keys)) = &err else { panic!("{err}") };
    assert_eq!(keys, &["batch (saved 10, now 8)", "temperature (saved 0.07, now 0.2)"]);
    // The run length and the monitor may change.
    let longer = TrainConfig { epochs: 5, knn_k: 3, ..config() };
    let resumed = Trainer::from_checkpoint(&bytes, Some(&longer), datasets.clone(), &device).unwrap();
    assert_eq!(resumed.config().epochs, 5);
    let err = Trainer::from_checkpoint(&bytes[..bytes.len() / 2], None, datasets, &device).err().unwrap();
    assert!(err.to_string().contains("damaged"), "{err}");
}

#[test]
fn bad_configurations_are_refused_before_any_work() {
    let datasets = Datasets::synthetic(&config()).unwrap();
    let device = Device::flex();
    for (config, key) in [
        (TrainConfig { temperature: -1.0, ..config() }, "temperature"),
        (TrainConfig { queue: Some(5), ..config() }, "queue"),
        (TrainConfig { batch: 30, ..config() }, "batch"),
        (TrainConfig { knn_k: 0, ..config() }, "knn_k"),
        // Sizes near 2^63 and beyond memory are refused by name, not found by an
        // allocation or a shape overflow.
        (TrainConfig { queue: Some(usize::MAX / 2), ..config() }, "queue"),
        (TrainConfig { queue: Some(1 << 24), projection_dim: 128, ..config() }, "queue"),
        (TrainConfig { projection_dim: usize::MAX / 2, ..config() }, "projection_dim"),
        (TrainConfig { projection_dim: 1_000_000_000, ..config() }, "projection_dim"),
        (TrainConfig { synthetic_per_class: 10_000_000_000, ..config() }, "synthetic_per_class"),
        (TrainConfig { samples: 10_000_000_000, ..config() }, "samples"),
        (TrainConfig { mochi_hardest: 4, mochi_mixes: usize::MAX, mochi_query_mixes: usize::MAX, ..config() }, "mochi_mixes"),
        (TrainConfig { knn_temperature: 1e-30, ..config() }, "knn_temperature"),
    ] {
        let err = Trainer::new(config, datasets.clone(), &device).err().unwrap().to_string();
        assert!(err.starts_with(key), "{key}: {err}");
    }
}

/// A checkpoint whose tensors do not fit the model (a velocity one value short, a velocity
/// of no parameter) is refused when it is loaded, for every family, instead of panicking
/// in a reshape at the first step.
#[test]
fn tensors_that_do_not_fit_the_model_are_refused_at_load() {
    use ring_wgpu_core::model::HostTensor;
    use ring_wgpu_core::train::MethodKind;
    let device = Device::flex();
    for method in [MethodKind::Mocoring, MethodKind::Ir, MethodKind::Simclr, MethodKind::Cmc] {
        let config = TrainConfig { method, samples: 8, ..config() };
        let datasets = Datasets::synthetic(&config).unwrap();
        let mut trainer = Trainer::new(config.clone(), datasets.clone(), &device).unwrap();
        assert_eq!(run(&mut trainer, Some(1), &mut Vec::new()), FitOutcome::Stopped);
        let good = Checkpoint::from_bytes(&pollster::block_on(trainer.checkpoint()).unwrap()).unwrap();
        let velocity = good.state.tensors.keys().filter(|k| k.starts_with("sgd.")).min().expect("a velocity").clone();

        let mut short = good.clone();
        let t = short.state.tensors.get_mut(&velocity).unwrap();
        t.values.pop();
        t.shape = vec![t.values.len()];
        let err = Trainer::from_checkpoint(&short.to_bytes(), None, datasets.clone(), &device).err().unwrap().to_string();
        assert!(err.contains(&velocity) && err.contains("damaged"), "{method:?}: {err}");

        let mut stray = good.clone();
        stray.state.tensors.insert("sgd.no.such.parameter".into(), HostTensor { shape: vec![3], values: vec![0.0; 3] });
        let err = Trainer::from_checkpoint(&stray.to_bytes(), None, datasets.clone(), &device).err().unwrap().to_string();
        assert!(err.contains("sgd.no.such.parameter"), "{method:?}: {err}");

        // The untouched checkpoint still loads.
        Trainer::from_checkpoint(&good.to_bytes(), None, datasets, &device).unwrap();
    }
}

/// A checkpoint recording more steps than its run has (or a negative time) is damaged.
#[test]
fn a_progress_beyond_the_run_is_refused() {
    let device = Device::flex();
    let datasets = Datasets::synthetic(&config()).unwrap();
    let trainer = Trainer::new(config(), datasets.clone(), &device).unwrap();
    let good = Checkpoint::from_bytes(&pollster::block_on(trainer.checkpoint()).unwrap()).unwrap();
    for (step, seconds) in [(u64::MAX, 0.0), (9, 0.0), (0, -1.0), (0, f64::NAN)] {
        let mut bad = good.clone();
        bad.progress.global_step = step;
        bad.progress.seconds = seconds;
        let err = Trainer::from_checkpoint(&bad.to_bytes(), None, datasets.clone(), &device).err().unwrap().to_string();
        // (NaN is written as null, which the header's parser already refuses.)
        assert!(
            err.contains("damaged") && (seconds.is_nan() || err.contains("beyond the 8 steps of its 2 epochs")),
            "{step}, {seconds}: {err}"
        );
    }
    let mut last = good.clone();
    last.progress.global_step = 8;
    assert!(Trainer::from_checkpoint(&last.to_bytes(), None, datasets, &device).unwrap().finished());
}

/// Each step reports the ring it trained with: with l = 0.1 × u, l anneals with u, and
/// plain MoCo reports the whole candidate set (u = 100, l = 0).
#[test]
fn step_metrics_report_the_ring_in_force() {
    let device = Device::flex();
    let ring = TrainConfig { inner_fraction: Some(0.1), ..config() };
    let steps = |config: TrainConfig| {
        let datasets = Datasets::synthetic(&config).unwrap();
        let mut trainer = Trainer::new(config, datasets, &device).unwrap();
        let mut steps = Vec::new();
        pollster::block_on(trainer.fit(&mut SinkFn(|e: &TrainEvent<'_>| {
            if let TrainEvent::Step(s) = e {
                steps.push((s.upper, s.lower));
            }
            Ok(())
        })))
        .unwrap();
        steps
    };
    let annealed = steps(ring.clone());
    assert_eq!(annealed.len(), 8);
    for &(upper, lower) in &annealed {
        assert!((lower - 0.1 * upper).abs() < 1e-9, "u {upper}, l {lower}");
    }
    assert!(annealed[0].0 > annealed[7].0 && annealed[0].1 > annealed[7].1, "{annealed:?}");
    let plain = steps(TrainConfig { method: MethodKind::Moco, ..ring });
    assert!(plain.iter().all(|&s| s == (100.0, 0.0)), "{plain:?}");
}

/// A trainer holds the pixels it is given, not a copy (the page's `Dataset` and every
/// trainer made from it share one).
#[test]
fn a_trainer_shares_the_pixels_it_is_given() {
    let datasets = Datasets::synthetic(&config()).unwrap();
    let trainer = Trainer::new(config(), datasets.clone(), &Device::flex()).unwrap();
    assert!(std::sync::Arc::ptr_eq(&trainer.datasets().train.pixels, &datasets.train.pixels));
    assert!(std::sync::Arc::ptr_eq(&trainer.datasets().test.pixels, &datasets.test.pixels));
}

/// `train_subset` trains on a class-balanced part of the training split.
#[test]
fn a_training_subset_is_class_balanced() {
    let config = TrainConfig { synthetic_per_class: 10, train_subset: Some(30), batch: 5, ..config() };
    let trainer = Trainer::new(config.clone(), Datasets::synthetic(&config).unwrap(), &Device::flex()).unwrap();
    let train = &trainer.datasets().train;
    assert_eq!(train.len(), 30);
    assert!(train.class_counts().iter().all(|&c| c == 3), "{:?}", train.class_counts());
    assert_eq!(trainer.steps_per_epoch(), 6);
}

/// The monitor's two kinds of features: backbone features are the encoder's pooled
/// features, L2-normalised; projection features its normalised projections; the monitor's
/// kNN on either equals the reference kNN on the features read back.
#[test]
fn knn_monitor_features_match_their_reference() {
    use ring_wgpu_core::data::Split;
    use ring_wgpu_core::eval::{KnnConfig, knn_reference};
    use ring_wgpu_core::train::KnnFeatures;
    for which in [KnnFeatures::Backbone, KnnFeatures::Projection] {
        let config = TrainConfig { knn_features: which, knn_k: 3, ..config() };
        let trainer = Trainer::new(config.clone(), Datasets::synthetic(&config).unwrap(), &Device::flex()).unwrap();
        let (train, test) = (&trainer.datasets().train, &trainer.datasets().test);
        let bank = trainer.features(Split::Train, which).unwrap();
        let queries = trainer.features(Split::Test, which).unwrap();
        let d = bank.dims()[1];
        assert_eq!(d, if which == KnnFeatures::Backbone { 64 } else { 128 });
        let (bank, queries) = (read_f32(bank), read_f32(queries));
        for row in bank.chunks(d) {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "{which:?}: norm {norm}");
        }
        let want = knn_reference(&bank, &train.labels, train.classes.len(), &queries, d, &KnnConfig { k: 3, ..KnnConfig::default() });
        let want = want.iter().zip(&test.labels).filter(|(a, b)| a == b).count() as f64 / test.len() as f64;
        assert_eq!(pollster::block_on(trainer.knn()).unwrap(), want, "{which:?}");
    }
}

/// A trainer's initial weights come from its seed alone: drawing from the device's shared
/// generator (reseeding it, as another run built on another thread does) between
/// `Trainer::new` and the first step changes nothing. burn draws weights lazily at their
/// first use; before the trainer drew them up front, a test running beside another on the
/// same device got other weights on each run (CI: IRing's kNN 0.39 -> 0.385 untrained to
/// trained, here 0.485 -> 0.545).
#[test]
fn the_initial_weights_come_from_the_seed_whatever_is_drawn_after_construction() {
    use ring_wgpu_core::burn::tensor::{Distribution, Tensor};
    use ring_wgpu_core::train::seeded;
    let device = Device::flex();
    for method in [MethodKind::Moco, MethodKind::Ir, MethodKind::Cmc, MethodKind::Simclr] {
        let config = TrainConfig { method, queue: Some(20), samples: 16, ..config() };
        let datasets = Datasets::synthetic(&config).unwrap();
        let first_loss = |trainer: &mut Trainer| pollster::block_on(trainer.steps(1, &mut ())).unwrap().loss.unwrap();
        let alone = first_loss(&mut Trainer::new(config.clone(), datasets.clone(), &device).unwrap());
        let mut disturbed = Trainer::new(config.clone(), datasets, &device).unwrap();
        let _ = seeded(&device, 99, || Tensor::<2>::random([64, 64], Distribution::Normal(0.0, 1.0), &device));
        assert_eq!(first_loss(&mut disturbed), alone, "{method:?}: draws after Trainer::new changed its weights");
    }
}
