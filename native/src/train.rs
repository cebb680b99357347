//! `ring-wgpu train`: MoCo / MoCoRing on a dataset, with a kNN monitor.
//!
//! Each step augments two views of a batch on the GPU, runs one MoCo(Ring) step and
//! queues the loss into a GPU-side sum: the only read-backs are once per epoch (the mean
//! loss) and the kNN evaluations.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use ring_wgpu_core::augment::{sample_views, AugmentSpec, DeviceImages};
use ring_wgpu_core::burn::tensor::{Int, Tensor};
use ring_wgpu_core::data::{self, CifarLabels, ImageDataset, Split};
use ring_wgpu_core::eval::{knn_predict, KnnConfig};
use ring_wgpu_core::model::EncoderKind;
use ring_wgpu_core::moco::{Moco, MocoConfig};
use ring_wgpu_core::train::{extract_features, permutation, LrPolicy, LrSchedule};
use ring_wgpu_core::{AnnealPolicy, InnerCut, RingSchedule, RingSpec};
use serde::{Deserialize, Serialize};

use crate::{checkpoint, plot, GpuArgs};

#[derive(Debug, Clone, Copy, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// MoCo with Ring negatives: only queue entries inside each anchor's ring.
    Mocoring,
    /// Plain MoCo: every queue entry is a negative.
    Moco,
}

#[derive(Debug, Clone, Copy, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasetKind {
    /// Built-in procedural textures in 10 classes (no download).
    Synthetic,
    /// CIFAR-10 binary version in --data-dir.
    Cifar10,
    /// CIFAR-100 binary version (fine labels) in --data-dir.
    Cifar100,
    /// STL-10 binary version in --data-dir (train split; test for the monitor).
    Stl10,
    /// Image folders --data-dir/train/<class>/* and --data-dir/test/<class>/*.
    Folder,
}

#[derive(Debug, Clone, Copy, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// Small ResNet (16-32-64): fast, fits browsers and software GPUs.
    Small,
    /// ResNet-18, CIFAR form.
    Resnet18,
}

#[derive(Debug, Clone, Copy, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Anneal {
    /// u at its target from the start.
    None,
    /// u linear from 100 to the target (the paper).
    Linear,
    /// u in 4 equal drops.
    Step,
    /// u geometric from 100 to the target.
    Exponential,
}

#[derive(Debug, Clone, Copy, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// Cosine decay to 0.
    Cosine,
    /// x0.1 at 2/3 and 5/6 of training.
    Step,
}

/// Train MoCo or MoCoRing. With no arguments: MoCoRing with a small ResNet on the
/// built-in synthetic dataset (about 2 minutes on 2 CPU cores: without a hardware GPU it trains on the CPU backend).
#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct TrainArgs {
    /// TOML file of settings (keys are these flags' names; flags given here win).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Method.
    #[arg(long, value_enum, default_value_t = Method::Mocoring)]
    pub(crate) method: Method,
    /// Dataset.
    #[arg(long, value_enum, default_value_t = DatasetKind::Synthetic)]
    pub(crate) dataset: DatasetKind,
    /// Where the dataset lives (not needed for synthetic).
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
    /// Synthetic dataset: training images per class (the monitor's test set has half).
    #[arg(long, default_value_t = 100)]
    pub(crate) synthetic_per_class: usize,
    /// Side of the (square) training images; image folders are resized to it.
    #[arg(long, default_value_t = 32)]
    pub(crate) image_size: usize,
    /// Encoder.
    #[arg(long, value_enum, default_value_t = Model::Small)]
    pub(crate) model: Model,
    /// Epochs.
    #[arg(long, default_value_t = 15)]
    pub(crate) epochs: usize,
    /// Images per step.
    #[arg(long, default_value_t = 50)]
    pub(crate) batch: usize,
    /// Keys in the queue (K); default 4096, at most half the training set.
    #[arg(long)]
    pub(crate) queue: Option<usize>,
    /// Temperature tau.
    #[arg(long, default_value_t = 0.07)]
    pub(crate) temperature: f64,
    /// Key-encoder momentum m.
    #[arg(long, default_value_t = 0.99)]
    pub(crate) key_momentum: f64,
    /// Ring inner cut l, percent (ignored with --inner-fraction).
    #[arg(long, default_value_t = 1.0)]
    pub(crate) lower: f64,
    /// Ring outer cut u (target), percent.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) upper: f64,
    /// Inner cut as a fraction of the outer set (0.1: l = u/10, the authors' code).
    #[arg(long)]
    pub(crate) inner_fraction: Option<f64>,
    /// How u moves from 100 to its target.
    #[arg(long, value_enum, default_value_t = Anneal::Linear)]
    pub(crate) anneal: Anneal,
    /// Epochs over which u is annealed (default: half the run).
    #[arg(long)]
    pub(crate) anneal_epochs: Option<f64>,
    /// Base learning rate (SGD, momentum 0.9, weight decay 1e-4).
    #[arg(long, default_value_t = 0.03)]
    pub(crate) lr: f64,
    /// Learning-rate decay.
    #[arg(long, value_enum, default_value_t = Schedule::Cosine)]
    pub(crate) lr_schedule: Schedule,
    /// Linear warm-up, epochs.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) warmup_epochs: f64,
    /// Seed of the data order, augmentations and queue.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Run the kNN monitor every this many epochs (and after the last).
    #[arg(long, default_value_t = 3)]
    pub(crate) knn_every: usize,
    /// Neighbours of the kNN monitor.
    #[arg(long, default_value_t = 200)]
    pub(crate) knn_k: usize,
    /// Output folder (config.json, metrics.jsonl, metrics.csv, curves.png, checkpoint.bin).
    #[arg(long, default_value = "runs/latest")]
    pub(crate) out: PathBuf,
    /// Continue the run in --out from its last checkpoint (written after every epoch).
    #[arg(long)]
    pub(crate) resume: bool,
    /// Stop after this epoch (checkpoint written); continue later with --resume.
    #[arg(long)]
    pub(crate) stop_after: Option<usize>,
}

#[derive(Serialize)]
struct EpochMetrics {
    epoch: usize,
    loss: Option<f64>,
    upper: f64,
    lr: f64,
    knn_top1: Option<f64>,
    images_per_s: Option<f64>,
    seconds: f64,
}

pub(crate) fn load(args: &TrainArgs) -> Result<(ImageDataset, ImageDataset)> {
    let dir = || args.data_dir.clone().context("--data-dir is required for this dataset");
    Ok(match args.dataset {
        DatasetKind::Synthetic => (
            data::synthetic(args.synthetic_per_class, args.image_size, args.seed)?,
            data::synthetic((args.synthetic_per_class / 2).max(1), args.image_size, args.seed ^ 0x7e57)?,
        ),
        DatasetKind::Cifar10 => (data::load_cifar10(&dir()?, Split::Train)?, data::load_cifar10(&dir()?, Split::Test)?),
        DatasetKind::Cifar100 => (
            data::load_cifar100(&dir()?, Split::Train, CifarLabels::Fine)?,
            data::load_cifar100(&dir()?, Split::Test, CifarLabels::Fine)?,
        ),
        DatasetKind::Stl10 => (data::load_stl10(&dir()?, Split::Train)?, data::load_stl10(&dir()?, Split::Test)?),
        DatasetKind::Folder => {
            let d = dir()?;
            (
                data::load_image_folder(&d.join("train"), Some(args.image_size))?,
                data::load_image_folder(&d.join("test"), Some(args.image_size))?,
            )
        }
    })
}

/// Evaluation features of a split (unaugmented, L2-normalised, on the GPU).
pub(crate) fn split_features(moco: &Moco, images: &DeviceImages, data: &ImageDataset, spec: &AugmentSpec) -> Result<Tensor<2>> {
    Ok(extract_features(&moco.query, images, data.height, data.width, spec, 256)?)
}

/// Fraction of `predicted` (read back here) equal to `labels`.
pub(crate) fn top1(predicted: Tensor<1, Int>, labels: &[u32]) -> Result<f64> {
    let predicted: Vec<i64> = predicted.into_data().convert::<i64>().try_to_vec::<i64>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let correct = predicted.iter().zip(labels).filter(|(p, l)| **p == **l as i64).count();
    Ok(correct as f64 / labels.len() as f64)
}

/// Weighted kNN top-1 on `test` with the features of `train` as the bank.
pub(crate) fn knn_top1(bank: Tensor<2>, train: &ImageDataset, queries: Tensor<2>, test: &ImageDataset, k: usize) -> Result<f64> {
    let config = KnnConfig { k, ..KnnConfig::default() };
    top1(knn_predict(bank, &train.labels, train.classes.len(), queries, &config)?, &test.labels)
}

/// The kNN monitor: features of both splits, then [`knn_top1`].
fn monitor(moco: &Moco, train: (&DeviceImages, &ImageDataset), test: (&DeviceImages, &ImageDataset), spec: &AugmentSpec, k: usize) -> Result<f64> {
    let bank = split_features(moco, train.0, train.1, spec)?;
    let queries = split_features(moco, test.0, test.1, spec)?;
    knn_top1(bank, train.1, queries, test.1, k)
}

/// The MoCo settings of a run with `train_len` training images.
pub(crate) fn moco_config(args: &TrainArgs, train_len: usize) -> Result<MocoConfig> {
    let queue = args.queue.unwrap_or_else(|| 4096.min(train_len / 2)).max(args.batch);
    let ring = match args.method {
        Method::Moco => None,
        Method::Mocoring => {
            let target = match args.inner_fraction {
                Some(f) => RingSpec::with_inner(args.upper, InnerCut::FractionOfOuter(f))?,
                None => RingSpec::new(args.lower, args.upper)?,
            };
            let epochs = args.anneal_epochs.unwrap_or(args.epochs as f64 / 2.0);
            let policy = match args.anneal {
                Anneal::None => AnnealPolicy::None,
                Anneal::Linear => AnnealPolicy::Linear { epochs },
                Anneal::Step => AnnealPolicy::Step { epochs, steps: 4 },
                Anneal::Exponential => AnnealPolicy::Exponential { epochs },
            };
            Some(RingSchedule::new(target, policy)?)
        }
    };
    Ok(MocoConfig {
        encoder: match args.model {
            Model::Small => EncoderKind::Small,
            Model::Resnet18 => EncoderKind::ResNet18,
        },
        queue_size: queue,
        momentum: args.key_momentum,
        temperature: args.temperature,
        ring,
        seed: args.seed,
        ..MocoConfig::default()
    })
}

/// Redraws `curves.png` (loss and kNN by epoch) from the run's metrics; a failure is
/// reported, not fatal (the metrics themselves are safe).
fn plot_curves(args: &TrainArgs, classes: usize, bar: &ProgressBar) {
    if let Err(e) = plot::training_curves(&args.out.join("metrics.jsonl"), classes, &args.out.join("curves.png")) {
        bar.suspend(|| eprintln!("warning: could not draw curves.png: {e:#}"));
    }
}

pub fn run(gpu_args: &GpuArgs, args: &TrainArgs) -> Result<()> {
    ensure!(args.epochs > 0 && args.batch > 0, "--epochs and --batch must be positive");
    let (train, test) = load(args)?;
    ensure!(
        train.len() >= 2 * args.batch,
        "{} training images are too few for batches of {}; lower --batch",
        train.len(),
        args.batch
    );
    if train.labels.contains(&data::UNLABELED) || test.labels.contains(&data::UNLABELED) {
        bail!("the kNN monitor needs labelled train and test splits");
    }
    let config = moco_config(args, train.len())?;
    let queue = config.queue_size;
    let lr = LrPolicy {
        base: args.lr,
        schedule: match args.lr_schedule {
            Schedule::Cosine => LrSchedule::Cosine,
            Schedule::Step => LrSchedule::Step,
        },
        warmup_epochs: args.warmup_epochs,
        epochs: args.epochs as f64,
    };

    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let settings = serde_json::to_value(args)?;
    if !args.resume && checkpoint::path(&args.out).exists() {
        bail!(
            "{} already holds a run ({}); continue it with --resume, or choose another --out",
            args.out.display(),
            checkpoint::FILE
        );
    }
    let open = |name: &str| -> Result<std::fs::File> {
        let path = args.out.join(name);
        let file = if args.resume {
            std::fs::OpenOptions::new().append(true).create(true).open(&path)
        } else {
            std::fs::File::create(&path)
        };
        file.with_context(|| format!("opening {}", path.display()))
    };
    std::fs::write(args.out.join("config.json"), serde_json::to_string_pretty(args)?)?;
    let mut jsonl = open("metrics.jsonl")?;
    let mut csv = open("metrics.csv")?;
    if !args.resume {
        writeln!(csv, "epoch,loss,upper,lr,knn_top1,images_per_s,seconds")?;
    }

    let compute = gpu_args.compute()?;
    let device = compute.burn_device().clone();
    eprintln!(
        "{:?} on {} ({} train / {} test images, {} classes), {:?}, batch {}, queue {queue}",
        args.method, train.name, train.len(), test.len(), train.classes.len(), args.model, args.batch
    );
    let train_images = DeviceImages::upload(&train, &device)?;
    let test_images = DeviceImages::upload(&test, &device)?;
    let spec = AugmentSpec { size: args.image_size, ..AugmentSpec::default() };
    let (first_epoch, mut moco) = if args.resume {
        let (epoch, moco) = checkpoint::load(&args.out, &settings, config, &device)?;
        eprintln!("resuming after epoch {epoch} from {}", checkpoint::path(&args.out).display());
        (epoch, moco)
    } else {
        (0, Moco::new(config, &device)?)
    };
    if first_epoch >= args.epochs {
        println!("the run in {} already finished its {} epochs; raise --epochs to train on", args.out.display(), first_epoch);
        return Ok(());
    }
    let steps = train.len() / args.batch;
    let start = Instant::now();
    let record = |m: EpochMetrics, jsonl: &mut std::fs::File, csv: &mut std::fs::File| -> Result<()> {
        writeln!(jsonl, "{}", serde_json::to_string(&m)?)?;
        let opt = |v: Option<f64>| v.map(|x| format!("{x:.6}")).unwrap_or_default();
        writeln!(csv, "{},{},{:.3},{:.6},{},{},{:.1}", m.epoch, opt(m.loss), m.upper, m.lr, opt(m.knn_top1), opt(m.images_per_s), m.seconds)?;
        Ok(())
    };

    // The untrained baseline, once per run (a resumed run has it in its metrics already).
    let knn0 = if first_epoch == 0 {
        let knn0 = monitor(&moco, (&train_images, &train), (&test_images, &test), &spec, args.knn_k)?;
        eprintln!("epoch 0 (untrained): kNN top-1 {:.1}%", knn0 * 100.0);
        let upper0 = moco.config().ring.as_ref().map_or(100.0, |r| r.upper_at(0.0));
        record(EpochMetrics { epoch: 0, loss: None, upper: upper0, lr: lr.at(0.0), knn_top1: Some(knn0), images_per_s: None, seconds: start.elapsed().as_secs_f64() }, &mut jsonl, &mut csv)?;
        plot_curves(args, train.classes.len(), &ProgressBar::hidden());
        Some(knn0)
    } else {
        None
    };

    let bar = ProgressBar::new((steps * (args.epochs - first_epoch)) as u64);
    bar.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise} < {eta_precise}] {msg}").unwrap());
    let mut last_knn: Option<f64> = knn0;
    for epoch in first_epoch..args.epochs {
        let epoch_start = Instant::now();
        let order = permutation(train.len(), args.seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut loss_sum: Option<Tensor<1>> = None;
        let mut upper = 100.0;
        for s in 0..steps {
            let at = epoch as f64 + s as f64 / steps as f64;
            let batch = &order[s * args.batch..(s + 1) * args.batch];
            let global_step = (epoch * steps + s) as u64;
            let views = sample_views(&spec, batch, train.height, train.width, args.seed, global_step);
            let both = train_images.augment(&views, &spec)?;
            let b = args.batch;
            let out = moco.step(both.clone().narrow(0, 0, b), both.narrow(0, b, b), at, lr.at(at))?;
            upper = out.upper;
            loss_sum = Some(match loss_sum {
                Some(sum) => sum + out.loss,
                None => out.loss,
            });
            let elapsed = epoch_start.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!(
                "epoch {}/{} u {:.1}% lr {:.4} {:.0} img/s{}",
                epoch + 1, args.epochs, upper, lr.at(at), ((s + 1) * b) as f64 / elapsed,
                last_knn.map(|v| format!(" kNN {:.1}%", v * 100.0)).unwrap_or_default()
            ));
            bar.inc(1);
        }
        let loss: f64 = loss_sum.context("no step ran")?.into_data().convert::<f64>().try_to_vec::<f64>().map_err(|e| anyhow::anyhow!("{e:?}"))?[0] / steps as f64;
        let seconds = epoch_start.elapsed().as_secs_f64();
        if !loss.is_finite() {
            bar.abandon();
            bail!("epoch {}: the loss is {loss}; lower --lr or raise --temperature", epoch + 1);
        }
        let images_per_s = (steps * args.batch) as f64 / seconds;
        let knn = if (epoch + 1) % args.knn_every.max(1) == 0 || epoch + 1 == args.epochs {
            let v = monitor(&moco, (&train_images, &train), (&test_images, &test), &spec, args.knn_k)?;
            last_knn = Some(v);
            Some(v)
        } else {
            None
        };
        let line = format!(
            "epoch {:>3}: loss {loss:.4}  u {upper:.1}%  lr {:.4}  {images_per_s:.1} img/s{}",
            epoch + 1,
            lr.at((epoch + 1) as f64),
            knn.map(|v| format!("  kNN top-1 {:.1}%", v * 100.0)).unwrap_or_default()
        );
        bar.suspend(|| eprintln!("{line}"));
        record(
            EpochMetrics { epoch: epoch + 1, loss: Some(loss), upper, lr: lr.at((epoch + 1) as f64), knn_top1: knn, images_per_s: Some(images_per_s), seconds: start.elapsed().as_secs_f64() },
            &mut jsonl,
            &mut csv,
        )?;
        checkpoint::save(&args.out, epoch + 1, &settings, &moco)?;
        plot_curves(args, train.classes.len(), &bar);
        if args.stop_after == Some(epoch + 1) && epoch + 1 < args.epochs {
            bar.finish_and_clear();
            println!("stopped after epoch {}; continue with the same command and --resume", epoch + 1);
            return Ok(());
        }
    }
    bar.finish_and_clear();
    println!(
        "done in {:.0} s: kNN top-1 {:.1}% ({}chance {:.1}%); metrics in {}",
        start.elapsed().as_secs_f64(),
        last_knn.unwrap_or(f64::NAN) * 100.0,
        knn0.map(|v| format!("untrained {:.1}%, ", v * 100.0)).unwrap_or_default(),
        100.0 / train.classes.len() as f64,
        args.out.display()
    );
    Ok(())
}
