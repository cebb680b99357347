//! [`Trainer`]: one training run, driven the same way by the CLI, the browser, the
//! benchmarks and the tests. It owns the method, the data on the device and the schedule;
//! it times with a clock that works on wasm32, reads back only asynchronously (the loss
//! once per epoch or per [`Trainer::steps`] call, the kNN monitor), never touches the
//! filesystem, reports progress as [`TrainEvent`]s and stops at the next step when its
//! [`StopHandle`] says so.

use burn::tensor::{Device, Tensor, TensorData};
use web_time::Instant;

use super::checkpoint::{Checkpoint, CheckpointError, Progress};
use super::events::{EpochMetrics, EventSink, FitOutcome, StepMetrics, StopHandle, TrainEvent};
use super::{Datasets, KnnFeatures, LrPolicy, TrainConfig};
use crate::augment::{AugmentSpec, DeviceImages, sample_views};
use crate::data::Split;
use crate::error::{Error, Result};
use crate::eval::{KnnConfig, RingView, knn_top1, ring_view};
use crate::gpu::read::{read_f32, read_scalar};
use crate::methods::{Batch, Method, SIMILARITY_SUMS, SimilaritySummary, StepContext, StepPhase, angle_degrees};
use crate::ring::RingSpec;
use crate::rng::permutation;

/// Evaluation features are extracted in chunks of this many images.
const FEATURE_CHUNK: usize = 256;

/// How an [`Trainer::epoch`] call ended.
#[derive(Debug, Clone, PartialEq)]
pub enum EpochOutcome {
    /// The epoch is complete.
    Completed(EpochMetrics),
    /// The stop handle ended it before its last step.
    Stopped,
}

/// What [`Trainer::steps`] did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StepsMetrics {
    /// Steps run (fewer than asked when stopped or finished).
    pub steps: usize,
    /// Mean loss over those steps (read back once); none when no step ran.
    pub loss: Option<f64>,
    /// u in force at the last step.
    pub upper: f64,
    /// Learning rate of the last step.
    pub lr: f64,
    /// Images per second over the call, including the read-back.
    pub images_per_s: f64,
    /// Steps completed in the run.
    pub global_step: u64,
    /// Epochs completed in the run.
    pub epochs_completed: usize,
    /// Epochs that ended during the call.
    pub epochs: Vec<EpochMetrics>,
}

/// One training run.
pub struct Trainer {
    config: TrainConfig,
    device: Device,
    method: Box<dyn Method>,
    datasets: Datasets,
    train_images: DeviceImages,
    test_images: DeviceImages,
    augment: AugmentSpec,
    lr: LrPolicy,
    steps_per_epoch: usize,
    global_step: u64,
    /// Data order of the epoch in progress (epoch index, permutation).
    order: Option<(usize, Vec<u32>)>,
    epoch_loss: Option<Tensor<1>>,
    /// The epoch's summed similarity monitor: its sums and its mean embeddings.
    epoch_similarity: Option<(Tensor<1>, Tensor<1>)>,
    /// The last completed epoch's mean anchor embedding (host values).
    last_mean_embedding: Option<Vec<f32>>,
    window_loss: Option<Tensor<1>>,
    /// When this epoch's timing started, and the steps done then.
    epoch_clock: Option<(Instant, u64)>,
    upper: f64,
    seconds_before: f64,
    session_start: Instant,
    last_knn: Option<f64>,
    untrained_knn: Option<f64>,
    stop: StopHandle,
}

impl Trainer {
    /// A new run of `config` on `datasets` (labelled train and test splits), on `device`
    /// (the shared GPU's burn device, or the CPU backend's). Validates the configuration
    /// against the data first; the trainer's [`Trainer::config`] is the resolved one.
    pub fn new(config: TrainConfig, datasets: Datasets, device: &Device) -> Result<Self> {
        datasets.check()?;
        let config = config.resolved(datasets.train.len())?;
        let method = super::build_method(&config, train_len(&config, &datasets), device)?;
        let mut trainer = Self::assemble(config, datasets, device, method)?;
        let (images, spec) = (&trainer.train_images, &trainer.augment);
        let batches = |range: std::ops::Range<usize>| super::unaugmented(images, range, spec);
        trainer.method.initialise_banks(&batches, images.len(), trainer.config.batch)?;
        Ok(trainer)
    }

    /// Continues the run saved in `bytes` (from [`Trainer::checkpoint`]) on `datasets`.
    /// With `now`, the configuration asked for now: refused with
    /// [`CheckpointError::SettingsChanged`] when it differs from the saved one beyond
    /// [`super::RESUMABLE_CHANGES`] (the run length, the data folder, the monitor), whose
    /// new values are used.
    pub fn from_checkpoint(bytes: &[u8], now: Option<&TrainConfig>, datasets: Datasets, device: &Device) -> Result<Self> {
        let checkpoint = Checkpoint::from_bytes(bytes)?;
        datasets.check()?;
        let config = match now {
            Some(now) => {
                let now = now.continuing(&checkpoint.config).resolved(datasets.train.len())?;
                let changes = checkpoint.config.changes_from(&now);
                if !changes.is_empty() {
                    return Err(CheckpointError::SettingsChanged(changes).into());
                }
                now
            }
            None => checkpoint.config.resolved(datasets.train.len())?,
        };
        let mut state = checkpoint.state;
        let monitor = MonitorState::take(&mut state.tensors);
        let mut method = super::build_method(&config, train_len(&config, &datasets), device)?;
        method.load_state(state)?;
        let mut trainer = Self::assemble(config, datasets, device, method)?;
        let progress = checkpoint.progress;
        // The progress must be one the saved run could have made.
        let most = (checkpoint.config.epochs as u64).saturating_mul(trainer.steps_per_epoch() as u64);
        if progress.global_step > most || !(progress.seconds.is_finite() && progress.seconds >= 0.0) {
            return Err(CheckpointError::Damaged(format!(
                "it records step {} after {} s, beyond the {most} steps of its {} epochs",
                progress.global_step, progress.seconds, checkpoint.config.epochs
            ))
            .into());
        }
        trainer.global_step = progress.global_step;
        trainer.seconds_before = progress.seconds;
        trainer.last_knn = progress.last_knn;
        trainer.epoch_loss =
            progress.epoch_loss_bits.map(|bits| Tensor::<1>::from_data(TensorData::new(vec![f32::from_bits(bits)], [1]), device));
        trainer.upper = trainer.upper_at(trainer.at());
        trainer.epoch_similarity = monitor.epoch_sums.map(|values| {
            let (sums, mean) = values.split_at(SIMILARITY_SUMS.min(values.len()));
            (host_tensor(sums.to_vec(), device), host_tensor(mean.to_vec(), device))
        });
        trainer.last_mean_embedding = monitor.last_mean_embedding;
        Ok(trainer)
    }

    fn assemble(config: TrainConfig, datasets: Datasets, device: &Device, method: Box<dyn Method>) -> Result<Self> {
        let datasets = match config.train_subset {
            Some(n) => Datasets { train: datasets.train.balanced_subset(n, config.seed), test: datasets.test },
            None => datasets,
        };
        let train_images = DeviceImages::upload(&datasets.train, device)?;
        let test_images = DeviceImages::upload(&datasets.test, device)?;
        let augment = config.augment_spec();
        let lr = LrPolicy {
            base: config.lr,
            schedule: config.lr_schedule,
            milestones: config.lr_milestones.clone(),
            update: config.lr_update,
            warmup_epochs: config.warmup_epochs,
            epochs: config.epochs as f64,
        };
        let steps_per_epoch = datasets.train.len() / config.batch;
        let mut trainer = Trainer {
            config,
            device: device.clone(),
            method,
            datasets,
            train_images,
            test_images,
            augment,
            lr,
            steps_per_epoch,
            global_step: 0,
            order: None,
            epoch_loss: None,
            epoch_similarity: None,
            last_mean_embedding: None,
            window_loss: None,
            epoch_clock: None,
            upper: 100.0,
            seconds_before: 0.0,
            session_start: Instant::now(),
            last_knn: None,
            untrained_knn: None,
            stop: StopHandle::default(),
        };
        trainer.upper = trainer.upper_at(0.0);
        Ok(trainer)
    }

    /// The configuration in force (resolved: what the run uses and records).
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The method being trained.
    pub fn method(&self) -> &dyn Method {
        self.method.as_ref()
    }

    /// The training and test splits (the training split after `train_subset`).
    pub fn datasets(&self) -> &Datasets {
        &self.datasets
    }

    /// The device the run computes on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The handle that stops this run before its next step.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Steps per epoch (the last incomplete batch is dropped).
    pub fn steps_per_epoch(&self) -> usize {
        self.steps_per_epoch
    }

    /// Steps completed.
    pub fn global_step(&self) -> u64 {
        self.global_step
    }

    /// Epochs completed.
    pub fn epochs_completed(&self) -> usize {
        (self.global_step / self.steps_per_epoch as u64) as usize
    }

    /// Has the run done every epoch of its configuration?
    pub fn finished(&self) -> bool {
        self.epochs_completed() >= self.config.epochs
    }

    /// The last kNN top-1 measured (this session or before the checkpoint).
    pub fn last_knn(&self) -> Option<f64> {
        self.last_knn
    }

    /// The untrained network's kNN top-1, when this session measured it.
    pub fn untrained_knn(&self) -> Option<f64> {
        self.untrained_knn
    }

    /// Seconds trained, across resumptions.
    pub fn seconds(&self) -> f64 {
        self.seconds_before + self.session_start.elapsed().as_secs_f64()
    }

    /// The fractional epoch of the next step.
    fn at(&self) -> f64 {
        self.global_step as f64 / self.steps_per_epoch as f64
    }

    /// u at fractional `epoch` (100 for methods without a ring).
    fn upper_at(&self, epoch: f64) -> f64 {
        match (self.config.method.uses_ring(), self.config.ring_schedule()) {
            (true, Ok(schedule)) => schedule.upper_at(epoch),
            _ => 100.0,
        }
    }

    /// The learning rate at fractional `epoch`.
    pub fn lr_at(&self, epoch: f64) -> f64 {
        self.lr.at(epoch)
    }

    /// Queues one training step (augment, the method's step) on the device and reads
    /// nothing back; `probe` is called after each [`StepPhase`] (benchmarks sync there).
    /// Does not end the epoch: [`Trainer::step`] does.
    pub fn run_step(&mut self, probe: &mut dyn FnMut(StepPhase)) -> Result<StepMetrics> {
        if self.finished() {
            return Err(Error::Input(format!("the run has finished its {} epochs; raise epochs to train on", self.config.epochs)));
        }
        let spe = self.steps_per_epoch;
        let epoch = self.epochs_completed();
        let s = (self.global_step % spe as u64) as usize;
        if self.epoch_clock.is_none() {
            self.epoch_clock = Some((Instant::now(), self.global_step));
        }
        if self.order.as_ref().is_none_or(|(e, _)| *e != epoch) {
            let seed = self.config.seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            self.order = Some((epoch, permutation(self.datasets.train.len(), seed)));
        }
        let b = self.config.batch;
        let indices = self.order.as_ref().expect("set above").1[s * b..(s + 1) * b].to_vec();
        let at = epoch as f64 + s as f64 / spe as f64;
        let lr = self.lr.at(at);
        let per_image = self.method.views_per_image();
        let train = &self.datasets.train;
        let views = sample_views(&self.augment, &indices, per_image, train.height, train.width, self.config.seed, self.global_step);
        let all = self.train_images.augment(&views, &self.augment)?;
        let views = (0..per_image).map(|v| all.clone().narrow(0, v * b, b)).collect();
        probe(StepPhase::Augment);
        let lower = self.current_ring().lower();
        let context = StepContext { epoch: at, lr, global_step: self.global_step };
        let out = self.method.step(Batch { indices, views }, &context, probe)?;
        let add = |sum: Option<Tensor<1>>, loss: Tensor<1>| {
            Some(match sum {
                Some(sum) => sum + loss,
                None => loss,
            })
        };
        self.epoch_loss = add(self.epoch_loss.take(), out.loss.clone());
        self.window_loss = add(self.window_loss.take(), out.loss);
        let similarity = out.similarity;
        self.epoch_similarity = Some(match self.epoch_similarity.take() {
            Some((sums, mean)) if mean.dims() == similarity.mean_embedding.dims() => {
                (sums + similarity.sums, mean + similarity.mean_embedding)
            }
            _ => (similarity.sums, similarity.mean_embedding),
        });
        self.global_step += 1;
        self.upper = out.upper;
        let (started, steps_then) = self.epoch_clock.expect("set above");
        let elapsed = started.elapsed().as_secs_f64().max(1e-9);
        Ok(StepMetrics {
            global_step: self.global_step,
            epoch: epoch + 1,
            step_in_epoch: s + 1,
            steps_per_epoch: spe,
            upper: out.upper,
            lower,
            lr,
            images_per_s: ((self.global_step - steps_then) as usize * b) as f64 / elapsed,
        })
    }

    /// One training step; when it completes an epoch, the epoch's end too (mean loss read
    /// back, the kNN monitor when due, an [`TrainEvent::Epoch`]), returned with it.
    pub async fn step(&mut self, sink: &mut dyn EventSink) -> Result<(StepMetrics, Option<EpochMetrics>)> {
        let metrics = self.run_step(&mut |_| {})?;
        emit(sink, &TrainEvent::Step(&metrics))?;
        let epoch_end = if self.global_step.is_multiple_of(self.steps_per_epoch as u64) { Some(self.end_epoch(sink).await?) } else { None };
        Ok((metrics, epoch_end))
    }

    async fn end_epoch(&mut self, sink: &mut dyn EventSink) -> Result<EpochMetrics> {
        let epoch = self.epochs_completed();
        let sum = self.epoch_loss.take().ok_or_else(|| Error::Input("an epoch ended without steps".into()))?;
        let loss = read_scalar(sum).await? / self.steps_per_epoch as f64;
        if !loss.is_finite() {
            return Err(Error::NonFiniteLoss { loss, epoch });
        }
        let images_per_s = self.epoch_clock.take().map(|(started, steps_then)| {
            ((self.global_step - steps_then) as usize * self.config.batch) as f64 / started.elapsed().as_secs_f64().max(1e-9)
        });
        let (similarity, mean_turn_degrees) = match self.epoch_similarity.take() {
            Some((sums, mean)) => {
                let mean = read_f32(mean).await?;
                let turn = self.last_mean_embedding.as_deref().and_then(|last| angle_degrees(last, &mean));
                self.last_mean_embedding = Some(mean);
                (SimilaritySummary::from_sums(&read_f32(sums).await?), turn)
            }
            None => (None, None),
        };
        let knn_top1 = if epoch.is_multiple_of(self.config.knn_every) || epoch == self.config.epochs {
            let top1 = self.knn().await?;
            self.last_knn = Some(top1);
            Some(top1)
        } else {
            None
        };
        let metrics = EpochMetrics {
            epoch,
            loss: Some(loss),
            upper: self.upper,
            lr: self.lr.at(epoch as f64),
            knn_top1,
            images_per_s,
            seconds: self.seconds(),
            positive_similarity: similarity.map(|s| s.positive),
            negative_similarity: similarity.map(|s| s.negative),
            anchor_similarity: similarity.map(|s| s.between),
            mean_turn_degrees,
        };
        emit(sink, &TrainEvent::Epoch(&metrics))?;
        Ok(metrics)
    }

    /// Announces the run ([`TrainEvent::Started`]) and, for a new run, measures the
    /// untrained network's kNN (epoch 0). Call once before the epochs.
    pub async fn start(&mut self, sink: &mut dyn EventSink) -> Result<Option<EpochMetrics>> {
        let datasets = &self.datasets;
        emit(
            sink,
            &TrainEvent::Started {
                config: &self.config,
                global_step: self.global_step,
                steps_per_epoch: self.steps_per_epoch,
                train_images: datasets.train.len(),
                test_images: datasets.test.len(),
                classes: datasets.train.classes.len(),
            },
        )?;
        if self.global_step > 0 {
            return Ok(None);
        }
        let top1 = self.knn().await?;
        self.untrained_knn = Some(top1);
        self.last_knn = Some(top1);
        let metrics = EpochMetrics {
            epoch: 0,
            loss: None,
            upper: self.upper_at(0.0),
            lr: self.lr.at(0.0),
            knn_top1: Some(top1),
            images_per_s: None,
            seconds: self.seconds(),
            positive_similarity: None,
            negative_similarity: None,
            anchor_similarity: None,
            mean_turn_degrees: None,
        };
        emit(sink, &TrainEvent::Epoch(&metrics))?;
        Ok(Some(metrics))
    }

    /// Trains until the current epoch ends, or until the stop handle asks (checked before
    /// every step; a stopped run continues from [`Trainer::checkpoint`]).
    pub async fn epoch(&mut self, sink: &mut dyn EventSink) -> Result<EpochOutcome> {
        loop {
            if self.stop.is_stopped() {
                emit(sink, &TrainEvent::Stopped { global_step: self.global_step, epoch: self.epochs_completed() })?;
                return Ok(EpochOutcome::Stopped);
            }
            if let (_, Some(metrics)) = self.step(sink).await? {
                return Ok(EpochOutcome::Completed(metrics));
            }
        }
    }

    /// Announces the end of a finished run ([`TrainEvent::Finished`]).
    pub fn finish(&mut self, sink: &mut dyn EventSink) -> Result<()> {
        emit(sink, &TrainEvent::Finished { knn_top1: self.last_knn, untrained_knn_top1: self.untrained_knn, seconds: self.seconds() })
    }

    /// The whole run: [`Trainer::start`], every remaining epoch, [`Trainer::finish`];
    /// returns early when stopped.
    pub async fn fit(&mut self, sink: &mut dyn EventSink) -> Result<FitOutcome> {
        self.start(sink).await?;
        while !self.finished() {
            if self.epoch(sink).await? == EpochOutcome::Stopped {
                return Ok(FitOutcome::Stopped);
            }
        }
        self.finish(sink)?;
        Ok(FitOutcome::Finished)
    }

    /// Up to `n` steps (fewer when the run finishes or is stopped), epoch ends included;
    /// the mean loss of those steps is read back once.
    pub async fn steps(&mut self, n: usize, sink: &mut dyn EventSink) -> Result<StepsMetrics> {
        let started = Instant::now();
        self.window_loss = None;
        let (mut done, mut lr, mut epochs) = (0, self.lr.at(self.at()), Vec::new());
        while done < n && !self.finished() && !self.stop.is_stopped() {
            let (metrics, epoch_end) = self.step(sink).await?;
            lr = metrics.lr;
            epochs.extend(epoch_end);
            done += 1;
        }
        let loss = match self.window_loss.take() {
            Some(sum) => Some(read_scalar(sum).await? / done as f64),
            None => None,
        };
        Ok(StepsMetrics {
            steps: done,
            loss,
            upper: self.upper,
            lr,
            images_per_s: (done * self.config.batch) as f64 / started.elapsed().as_secs_f64().max(1e-9),
            global_step: self.global_step,
            epochs_completed: self.epochs_completed(),
            epochs,
        })
    }

    /// The evaluation features of a split (unaugmented images through the method's
    /// encoder in evaluation mode, L2-normalised), on the device.
    pub fn features(&self, split: Split, features: KnnFeatures) -> Result<Tensor<2>> {
        let images = match split {
            Split::Train => &self.train_images,
            Split::Test => &self.test_images,
            Split::Unlabeled => return Err(Error::Input("a run holds its train and test splits only".into())),
        };
        let spec = AugmentSpec { size: self.config.image_size, ..AugmentSpec::default() };
        crate::train::extract_features(self.method.encoder().as_ref(), images, features, &spec, FEATURE_CHUNK)
    }

    /// The kNN monitor: top-1 accuracy on the test split with the training split's
    /// features as neighbours (the configuration's k, temperature and features).
    pub async fn knn(&self) -> Result<f64> {
        let which = self.config.knn_features;
        let bank = self.features(Split::Train, which)?;
        let queries = self.features(Split::Test, which)?;
        let config = KnnConfig { k: self.config.knn_k, temperature: self.config.knn_temperature, ..KnnConfig::default() };
        let (train, test) = (&self.datasets.train, &self.datasets.test);
        knn_top1(bank, &train.labels, train.classes.len(), queries, &test.labels, &config).await
    }

    /// The ring in force at the run's current point (u annealed); l = 0, u = 100 (every
    /// candidate) for methods without a ring.
    pub fn current_ring(&self) -> RingSpec {
        match (self.config.method.uses_ring(), self.config.ring_schedule()) {
            (true, Ok(schedule)) => schedule.spec_at(self.at()),
            _ => RingSpec::plain_nce(),
        }
    }

    /// One anchor's ring among the other images of a split, in the projection space the
    /// loss compares, under [`Trainer::current_ring`] (for display: the paper's Figure 1).
    pub async fn ring_view(&self, split: Split, anchor: usize) -> Result<RingView> {
        let embeddings = self.features(split, KnnFeatures::Projection)?;
        ring_view(embeddings, anchor, &self.current_ring()).await
    }

    /// The run's state as checkpoint bytes (read back asynchronously); continue it with
    /// [`Trainer::from_checkpoint`].
    pub async fn checkpoint(&self) -> Result<Vec<u8>> {
        let epoch_loss_bits = match &self.epoch_loss {
            Some(sum) => Some((read_scalar(sum.clone()).await? as f32).to_bits()),
            None => None,
        };
        let progress = Progress { global_step: self.global_step, epoch_loss_bits, seconds: self.seconds(), last_knn: self.last_knn };
        let mut state = self.method.state();
        if let Some((sums, mean)) = &self.epoch_similarity {
            state.tensors.push((MonitorState::EPOCH_SUMS.into(), Tensor::cat(vec![sums.clone(), mean.clone()], 0)));
        }
        if let Some(last) = &self.last_mean_embedding {
            state.tensors.push((MonitorState::LAST_MEAN.into(), host_tensor(last.clone(), &self.device)));
        }
        Ok(Checkpoint::capture(self.config.clone(), progress, state).await?.to_bytes())
    }
}

/// The similarity monitor's state in a checkpoint: two tensors the trainer adds to the
/// method's (and takes out again before the method reads its own).
struct MonitorState {
    /// The current epoch's sums so far, then its summed mean embeddings.
    epoch_sums: Option<Vec<f32>>,
    /// The last completed epoch's mean embedding.
    last_mean_embedding: Option<Vec<f32>>,
}

impl MonitorState {
    const EPOCH_SUMS: &str = "trainer.similarity_sums";
    const LAST_MEAN: &str = "trainer.last_mean_embedding";

    /// Removes the monitor's tensors from a checkpoint's (absent in older checkpoints).
    fn take(tensors: &mut std::collections::HashMap<String, crate::model::HostTensor>) -> Self {
        MonitorState {
            epoch_sums: tensors.remove(Self::EPOCH_SUMS).map(|t| t.values).filter(|v| v.len() > SIMILARITY_SUMS),
            last_mean_embedding: tensors.remove(Self::LAST_MEAN).map(|t| t.values),
        }
    }
}

/// A 1-D tensor of host values.
fn host_tensor(values: Vec<f32>, device: &Device) -> Tensor<1> {
    let n = values.len();
    Tensor::<1>::from_data(TensorData::new(values, [n]), device)
}

/// Training images after the configuration's subset.
fn train_len(config: &TrainConfig, datasets: &Datasets) -> usize {
    config.train_subset.map_or(datasets.train.len(), |n| n.min(datasets.train.len()))
}

fn emit(sink: &mut dyn EventSink, event: &TrainEvent<'_>) -> Result<()> {
    sink.on_event(event).map_err(Error::Sink)
}
