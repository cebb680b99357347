//! The CLI's event sinks: the progress bar, the metrics files (JSONL and CSV) and the PNG
//! curves, each fed by core's `Trainer`.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use ring_wgpu_core::train::{EpochMetrics, EventSink, TrainEvent};

use crate::plot;

/// A progress bar over the run's steps, with one line per epoch.
pub struct Progress {
    bar: ProgressBar,
    epochs: usize,
    last_knn: Option<f64>,
}

impl Progress {
    /// A hidden bar until the run starts.
    pub fn new() -> Self {
        Progress { bar: ProgressBar::hidden(), epochs: 0, last_knn: None }
    }

    /// Prints `line` above the bar.
    pub fn println(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    /// Removes the bar.
    pub fn clear(&self) {
        self.bar.finish_and_clear();
    }
}

impl EventSink for Progress {
    fn on_event(&mut self, event: &TrainEvent<'_>) -> Result<(), String> {
        match event {
            TrainEvent::Started { config, global_step, steps_per_epoch, .. } => {
                self.epochs = config.epochs;
                let total = (config.epochs * steps_per_epoch) as u64;
                self.bar = ProgressBar::new(total);
                self.bar.set_position(*global_step);
                self.bar.set_style(
                    ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise} < {eta_precise}] {msg}").expect("valid template"),
                );
            }
            TrainEvent::Step(s) => {
                self.bar.set_message(format!(
                    "epoch {}/{} u {:.1}% lr {:.4} {:.0} img/s{}",
                    s.epoch,
                    self.epochs,
                    s.upper,
                    s.lr,
                    s.images_per_s,
                    self.last_knn.map(|v| format!(" kNN {:.1}%", v * 100.0)).unwrap_or_default()
                ));
                self.bar.inc(1);
            }
            TrainEvent::Epoch(m) if m.epoch == 0 => {
                self.last_knn = m.knn_top1;
                self.println(&format!("epoch 0 (untrained): kNN top-1 {:.1}%", m.knn_top1.unwrap_or(f64::NAN) * 100.0));
            }
            TrainEvent::Epoch(m) => {
                if m.knn_top1.is_some() {
                    self.last_knn = m.knn_top1;
                }
                self.println(&format!(
                    "epoch {:>3}: loss {:.4}  u {:.1}%  lr {:.4}  {:.1} img/s  cos pos {:.2} neg {:.2} pairs {:.2}{}",
                    m.epoch,
                    m.loss.unwrap_or(f64::NAN),
                    m.upper,
                    m.lr,
                    m.images_per_s.unwrap_or(f64::NAN),
                    m.positive_similarity.unwrap_or(f64::NAN),
                    m.negative_similarity.unwrap_or(f64::NAN),
                    m.anchor_similarity.unwrap_or(f64::NAN),
                    m.knn_top1.map(|v| format!("  kNN top-1 {:.1}%", v * 100.0)).unwrap_or_default()
                ));
            }
            TrainEvent::Stopped { .. } | TrainEvent::Finished { .. } => self.clear(),
        }
        Ok(())
    }
}

/// `metrics.jsonl` and `metrics.csv`: one line per epoch (epoch 0: the untrained kNN),
/// then `curves.png` redrawn from the JSONL.
pub struct MetricsFiles {
    dir: PathBuf,
    jsonl: File,
    csv: File,
    classes: usize,
}

const CSV_HEADER: &str =
    "epoch,loss,upper,lr,knn_top1,images_per_s,seconds,positive_similarity,negative_similarity,anchor_similarity,mean_turn_degrees";

impl MetricsFiles {
    /// Opens the files in `dir`: new ones, or, when resuming a run that completed
    /// `resumed_after` epochs, the old ones cut back to those epochs' lines and appended
    /// to. A run killed between an epoch's metrics line and its checkpoint repeats that
    /// epoch when resumed; the cut keeps its line from appearing twice (and drops a line
    /// broken by the kill).
    pub fn open(dir: &Path, resumed_after: Option<usize>) -> Result<Self> {
        if let Some(epochs) = resumed_after {
            keep_epochs(&dir.join("metrics.jsonl"), epochs, false, |line| {
                serde_json::from_str::<serde_json::Value>(line).ok().and_then(|v| v.get("epoch")?.as_u64())
            })?;
            keep_epochs(&dir.join("metrics.csv"), epochs, true, |line| line.split(',').next()?.parse().ok())?;
        }
        let open = |name: &str| -> Result<File> {
            let path = dir.join(name);
            let file = if resumed_after.is_some() {
                std::fs::OpenOptions::new().append(true).create(true).open(&path)
            } else {
                File::create(&path)
            };
            file.with_context(|| format!("opening {}", path.display()))
        };
        let (jsonl, mut csv) = (open("metrics.jsonl")?, open("metrics.csv")?);
        if resumed_after.is_none() || csv.metadata().map(|m| m.len() == 0).unwrap_or(false) {
            writeln!(csv, "{CSV_HEADER}")?;
        }
        Ok(MetricsFiles { dir: dir.to_path_buf(), jsonl, csv, classes: 0 })
    }

    fn record(&mut self, m: &EpochMetrics) -> Result<()> {
        writeln!(self.jsonl, "{}", serde_json::to_string(m)?)?;
        let opt = |v: Option<f64>| v.map(|x| format!("{x:.6}")).unwrap_or_default();
        writeln!(
            self.csv,
            "{},{},{:.3},{:.6},{},{},{:.1},{},{},{},{}",
            m.epoch,
            opt(m.loss),
            m.upper,
            m.lr,
            opt(m.knn_top1),
            opt(m.images_per_s),
            m.seconds,
            opt(m.positive_similarity),
            opt(m.negative_similarity),
            opt(m.anchor_similarity),
            opt(m.mean_turn_degrees)
        )?;
        // The curves are a convenience: a failure to draw them is reported, not fatal.
        if let Err(e) = plot::training_curves(&self.dir.join("metrics.jsonl"), self.classes, &self.dir.join("curves.png")) {
            eprintln!("warning: could not draw curves.png: {e:#}");
        }
        Ok(())
    }
}

/// Rewrites `path` (atomically) with only the lines whose epoch, as `epoch_of` reads it,
/// is at most `epochs`; unreadable lines go too (with `header`: the first line is kept and
/// a line with another number of fields than it is unreadable). A missing file is left
/// missing.
fn keep_epochs(path: &Path, epochs: usize, header: bool, epoch_of: impl Fn(&str) -> Option<u64>) -> Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut lines = text.lines();
    let mut kept = String::new();
    let fields = if header {
        let first = lines.next().unwrap_or_default();
        kept.push_str(first);
        kept.push('\n');
        Some(first.split(',').count())
    } else {
        None
    };
    for line in lines {
        let whole = fields.is_none_or(|n| line.split(',').count() == n);
        if whole && epoch_of(line).is_some_and(|e| e <= epochs as u64) {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    if kept != text {
        crate::checkpoint::write_atomic(path, kept.as_bytes())?;
    }
    Ok(())
}

impl EventSink for MetricsFiles {
    fn on_event(&mut self, event: &TrainEvent<'_>) -> Result<(), String> {
        match event {
            TrainEvent::Started { classes, .. } => self.classes = *classes,
            TrainEvent::Epoch(m) => self.record(m).map_err(|e| format!("writing the metrics in {}: {e:#}", self.dir.display()))?,
            _ => {}
        }
        Ok(())
    }
}
