//! `ring-wgpu train`: the CLI's edge over core's `Trainer`. It resolves the configuration
//! (preset, TOML file, flags), loads the data, opens the device, and feeds the run's
//! events to the progress bar, the metrics files and the curves; after every epoch (and
//! when stopped by Ctrl-C or --stop-after) it writes the checkpoint file atomically.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

use anyhow::{Context, Result, bail};
use clap::builder::PossibleValuesParser;
use clap::{ArgMatches, Args};
use ring_wgpu_core::train::{Checkpoint, Datasets, EpochOutcome, EventSink, Preset, StopHandle, TrainConfig, Trainer};

use crate::config_file::{self, Resolved};
use crate::run_lock::RunLock;
use crate::sinks::{MetricsFiles, Progress};
use crate::{GpuArgs, checkpoint};

/// Default output folder.
pub const DEFAULT_OUT: &str = "runs/latest";

/// Train a contrastive model (MoCoRing by default). With no arguments: the `quick`
/// preset, MoCoRing with a small ResNet on the built-in synthetic dataset (about 2
/// minutes on 2 CPU cores: without a hardware GPU it trains on the CPU backend).
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// TOML file of settings: keys are the flags below without dashes (`epochs = 50`,
    /// `lr_schedule = "step"`), at the top level or under [train], plus `preset` and `out`.
    /// Flags given on the command line win.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Start from a named configuration (listed below); the file and the flags apply over it.
    #[arg(long, value_parser = PossibleValuesParser::new(Preset::ALL.map(Preset::name)))]
    pub(crate) preset: Option<String>,
    /// Output folder (config.json, metrics.jsonl, metrics.csv, curves.png, checkpoint.bin)
    /// [default: runs/latest].
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Continue the run in --out from its checkpoint (written after every epoch and when
    /// stopped); flags given now may change only the epochs, the data folder and the monitor.
    #[arg(long)]
    pub(crate) resume: bool,
    /// Stop after this epoch (checkpoint written); continue later with --resume.
    #[arg(long)]
    pub(crate) stop_after: Option<usize>,
    #[command(flatten)]
    pub(crate) settings: TrainConfig,
}

/// The text after `train --help`: the presets.
pub fn presets_help() -> String {
    let mut text = String::from("Presets (--preset NAME; defaults shown above are the quick preset's):\n");
    for preset in Preset::ALL {
        text.push_str(&format!("  {:<24} {}\n", preset.name(), preset.description()));
    }
    text
}

/// The output folder: --out, else the file's `out`, else [`DEFAULT_OUT`].
fn output_folder(args: &TrainArgs, file_out: Option<&Path>) -> PathBuf {
    args.out.clone().or_else(|| file_out.map(Path::to_path_buf)).unwrap_or_else(|| PathBuf::from(DEFAULT_OUT))
}

/// Resolves the configuration, reading the saved one first when resuming.
fn configure(args: &TrainArgs, matches: &ArgMatches) -> Result<(Resolved, PathBuf, Option<Vec<u8>>)> {
    // The file may name the output folder, which a resumed run's saved settings live in.
    let file_out = match &args.config {
        Some(path) => config_file::file_out(path)?,
        None => None,
    };
    let out = output_folder(args, file_out.as_deref());
    let saved = if args.resume { Some(checkpoint::read(&out).context("nothing to resume; run without --resume to start")?) } else { None };
    let saved_config = match &saved {
        Some(bytes) => Some(Checkpoint::read_config(bytes).with_context(|| checkpoint::path(&out).display().to_string())?),
        None => None,
    };
    let resolved = config_file::resolve(&args.settings, matches, args.config.as_deref(), args.preset.as_deref(), saved_config.as_ref())?;
    Ok((resolved, out, saved))
}

pub fn run(gpu_args: &GpuArgs, args: &TrainArgs, matches: &ArgMatches) -> Result<()> {
    let (resolved, out, saved) = configure(args, matches)?;
    if args.stop_after == Some(0) {
        bail!("--stop-after 0: must be at least 1 epoch");
    }
    crate::run_lock::check_writable(&out)?;
    if saved.is_none() && checkpoint::path(&out).exists() {
        bail!("{} already holds a run ({}); continue it with --resume, or choose another --out", out.display(), checkpoint::FILE);
    }
    let datasets = Datasets::load(&resolved.config)?;
    let compute = gpu_args.compute()?;
    match compute.gpu() {
        // On the CPU backend every buffer of the run is host memory.
        None => crate::host_memory::check(&resolved.config, datasets.train.len(), datasets.test.len(), datasets.train.image_bytes())?,
        Some(gpu) => {
            crate::host_memory::check_gpu(&resolved.config.resolved(datasets.train.len())?, datasets.train.len(), &gpu.kernel_limits())?
        }
    }
    let device = compute.burn_device();
    let mut trainer = match &saved {
        Some(bytes) => Trainer::from_checkpoint(bytes, Some(&resolved.config), datasets, device)
            .map_err(|e| resolved.explain(e))
            .with_context(|| format!("resuming from {}", checkpoint::path(&out).display()))?,
        None => Trainer::new(resolved.config.clone(), datasets, device).map_err(|e| resolved.explain(e))?,
    };
    // One writer per run folder: taken before anything is written (and after the settings
    // and data are checked, so that a refused command leaves no folder behind).
    let _lock = RunLock::acquire(&out)?;
    // Another process may have written the folder between the first look and the lock.
    let now = checkpoint::path(&out).exists().then(|| checkpoint::read(&out)).transpose()?;
    if now != saved {
        bail!(
            "{} changed while this run was being set up (another ring-wgpu process wrote its checkpoint); run the command again",
            out.display()
        );
    }
    let config = trainer.config();
    std::fs::write(out.join("config.json"), serde_json::to_string_pretty(config)?)?;
    let train = &trainer.datasets().train;
    eprintln!(
        "{:?} on {} ({} train / {} test images, {} classes), {:?}, batch {}, queue {}",
        config.method,
        train.name,
        train.len(),
        trainer.datasets().test.len(),
        train.classes.len(),
        config.model,
        config.batch,
        config.queue.unwrap_or_default()
    );
    if cfg!(feature = "autotune") && compute.gpu().is_some() {
        // Otherwise the first step looks hung: 60-80 s for ResNet-18 on an H200.
        eprintln!(
            "in each run, the first use of each layer shape (the first step, the kNN monitor's first batch) times \
             burn's candidate GPU kernels: about a minute for ResNet-18 on an H200"
        );
    }
    if saved.is_some() {
        eprintln!(
            "resuming after step {} (epoch {}) from {}",
            trainer.global_step(),
            trainer.epochs_completed(),
            checkpoint::path(&out).display()
        );
    }
    if trainer.finished() {
        println!("the run in {} already finished its {} epochs; raise --epochs to train on", out.display(), trainer.epochs_completed());
        return Ok(());
    }

    if !drive(&mut trainer, &out, saved.is_some(), args.stop_after, "continue with the same command and --resume")? {
        return Ok(());
    }
    println!(
        "done in {:.0} s: kNN top-1 {:.1}% ({}chance {:.1}%); metrics in {}",
        trainer.seconds(),
        trainer.last_knn().unwrap_or(f64::NAN) * 100.0,
        trainer.untrained_knn().map(|v| format!("untrained {:.1}%, ", v * 100.0)).unwrap_or_default(),
        100.0 / trainer.datasets().train.classes.len() as f64,
        out.display()
    );
    Ok(())
}

/// The run whose training Ctrl-C stops (one at a time: `compare` trains runs in turn).
static INTERRUPTIBLE: Mutex<Option<StopHandle>> = Mutex::new(None);

/// Routes Ctrl-C to `stop`: the first stops the run before its next step, a second one
/// ends the process at once (the last checkpoint stays).
pub(crate) fn stop_on_ctrl_c(stop: StopHandle) {
    static INSTALL: Once = Once::new();
    *INTERRUPTIBLE.lock().unwrap_or_else(|e| e.into_inner()) = Some(stop);
    INSTALL.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            let current = INTERRUPTIBLE.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let Some(stop) = current else { std::process::exit(130) };
            if stop.is_stopped() {
                std::process::exit(130);
            }
            eprintln!("\nstopping after this step (Ctrl-C again to quit now)...");
            stop.stop();
        });
    });
}

/// Trains `trainer` to the end of its epochs, or until Ctrl-C or `stop_after`: the
/// progress bar, `metrics.jsonl`/`.csv` and `curves.png` in `out`, and the checkpoint
/// written after every epoch and when stopped (then `to_continue` is printed: how to go
/// on). Returns true when the run finished.
pub(crate) fn drive(trainer: &mut Trainer, out: &Path, resumed: bool, stop_after: Option<usize>, to_continue: &str) -> Result<bool> {
    let stop = trainer.stop_handle();
    stop_on_ctrl_c(stop.clone());
    let mut progress = Progress::new();
    let mut metrics = MetricsFiles::open(out, resumed.then(|| trainer.epochs_completed()))?;
    let mut sinks: Vec<Box<dyn EventSink + '_>> = vec![Box::new(&mut progress), Box::new(&mut metrics)];
    let mut saved_at = trainer.global_step();
    pollster::block_on(trainer.start(&mut sinks))?;
    while !trainer.finished() {
        match pollster::block_on(trainer.epoch(&mut sinks))? {
            EpochOutcome::Completed(m) => {
                checkpoint::save(out, &pollster::block_on(trainer.checkpoint())?)?;
                saved_at = trainer.global_step();
                if stop_after == Some(m.epoch) && !trainer.finished() {
                    stop.stop();
                }
            }
            EpochOutcome::Stopped => {
                if saved_at != trainer.global_step() {
                    checkpoint::save(out, &pollster::block_on(trainer.checkpoint())?)?;
                }
                let (epochs, spe) = (trainer.epochs_completed(), trainer.steps_per_epoch());
                let into = trainer.global_step() as usize - epochs * spe;
                let at =
                    if into == 0 { format!("after epoch {epochs}") } else { format!("in epoch {} after step {into} of {spe}", epochs + 1) };
                println!("stopped {at}; {to_continue}");
                return Ok(false);
            }
        }
    }
    trainer.finish(&mut sinks)?;
    Ok(true)
}
