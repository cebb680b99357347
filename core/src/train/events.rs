//! What a run reports as it goes ([`TrainEvent`]), who listens ([`EventSink`]: a progress
//! bar, metrics files, a browser page), and how it is stopped ([`StopHandle`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use super::TrainConfig;

/// One training step, as queued (the loss is summed on the device and read at the epoch's
/// end, so a step reports none).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StepMetrics {
    /// Steps completed in the run.
    pub global_step: u64,
    /// The epoch this step belongs to (1-based).
    pub epoch: usize,
    /// Steps completed in this epoch.
    pub step_in_epoch: usize,
    /// Steps per epoch.
    pub steps_per_epoch: usize,
    /// u in force (100 for plain NCE).
    pub upper: f64,
    /// l in force (0 for plain NCE); with l = fraction × u it moves as u anneals.
    pub lower: f64,
    /// Learning rate of the step.
    pub lr: f64,
    /// Images per second over this epoch so far (steps queued, not necessarily finished).
    pub images_per_s: f64,
}

/// One epoch's summary (epoch 0 is the untrained network's kNN baseline). These are the
/// lines of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochMetrics {
    /// Epochs completed.
    pub epoch: usize,
    /// Mean training loss over the epoch (none for epoch 0).
    pub loss: Option<f64>,
    /// u at the epoch's end.
    pub upper: f64,
    /// Learning rate at the epoch's end.
    pub lr: f64,
    /// kNN top-1 on the test split, when the monitor ran.
    pub knn_top1: Option<f64>,
    /// Training throughput over the epoch.
    pub images_per_s: Option<f64>,
    /// Seconds since the run started (across resumptions).
    pub seconds: f64,
    /// Mean cosine of an anchor to its positive over the epoch (MoCo: its key; IR and CMC:
    /// its own bank entry; SimCLR: the other view).
    pub positive_similarity: Option<f64>,
    /// Mean cosine of an anchor to the negatives it was contrasted with.
    pub negative_similarity: Option<f64>,
    /// Mean cosine between two different anchors of a batch: near 1 when the network maps
    /// every image to one direction (collapse).
    pub anchor_similarity: Option<f64>,
    /// Angle in degrees between the epoch's mean anchor embedding and the previous
    /// epoch's: large while the anchors' shared direction turns.
    pub mean_turn_degrees: Option<f64>,
}

/// Why a run returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FitOutcome {
    /// Every epoch of the configuration is done.
    Finished,
    /// The stop handle ended it; it continues from a checkpoint.
    Stopped,
}

/// Something that happened in a run.
#[derive(Debug, Clone, Copy)]
pub enum TrainEvent<'a> {
    /// The run (or its resumption) starts.
    Started {
        /// The configuration in force (resolved).
        config: &'a TrainConfig,
        /// Steps already done (0 for a new run).
        global_step: u64,
        /// Steps per epoch.
        steps_per_epoch: usize,
        /// Training images.
        train_images: usize,
        /// Test images (the monitor's).
        test_images: usize,
        /// Classes.
        classes: usize,
    },
    /// A step was queued.
    Step(&'a StepMetrics),
    /// An epoch ended (or the untrained baseline was measured, epoch 0).
    Epoch(&'a EpochMetrics),
    /// The stop handle ended the run after `global_step` steps.
    Stopped {
        /// Steps done.
        global_step: u64,
        /// Epochs completed.
        epoch: usize,
    },
    /// Every epoch is done.
    Finished {
        /// The last kNN top-1 measured.
        knn_top1: Option<f64>,
        /// The untrained network's, when this session measured it.
        untrained_knn_top1: Option<f64>,
        /// Seconds since the run started.
        seconds: f64,
    },
}

/// Receives a run's events (burn-train's renderers play this part). An error ends the run.
pub trait EventSink {
    /// Handles one event.
    fn on_event(&mut self, event: &TrainEvent<'_>) -> Result<(), String>;
}

/// A sink that ignores everything.
impl EventSink for () {
    fn on_event(&mut self, _event: &TrainEvent<'_>) -> Result<(), String> {
        Ok(())
    }
}

/// A borrowed sink is a sink.
impl<S: EventSink + ?Sized> EventSink for &mut S {
    fn on_event(&mut self, event: &TrainEvent<'_>) -> Result<(), String> {
        (**self).on_event(event)
    }
}

/// Forwards events to a closure.
pub struct SinkFn<F: FnMut(&TrainEvent<'_>) -> Result<(), String>>(pub F);

impl<F: FnMut(&TrainEvent<'_>) -> Result<(), String>> EventSink for SinkFn<F> {
    fn on_event(&mut self, event: &TrainEvent<'_>) -> Result<(), String> {
        (self.0)(event)
    }
}

/// Every sink of a list, in order.
impl EventSink for Vec<Box<dyn EventSink + '_>> {
    fn on_event(&mut self, event: &TrainEvent<'_>) -> Result<(), String> {
        self.iter_mut().try_for_each(|sink| sink.on_event(event))
    }
}

/// Ends a run cleanly before its next step (a Stop button, Ctrl-C, `--stop-after`).
/// Clones share the flag; cheap to pass to another thread or a signal handler.
#[derive(Debug, Clone, Default)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    /// Asks the run to stop before its next step.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Has a stop been asked for?
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Clears the request (to continue training in the same session).
    pub fn reset(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
}
