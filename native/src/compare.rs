//! `ring-wgpu compare`: trains a list of methods (default: every method with and without
//! Ring) at one budget on one dataset over several seeds, then writes a Markdown table
//! (kNN and linear-probe top-1 as mean +- std over seeds, Ring minus plain, images/s, wall
//! time), the same as CSV, and a PNG of every method's kNN curve. Each run lives in its
//! own folder with its checkpoint, so an interrupted comparison resumes where it stopped
//! and never redoes a finished run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use clap::builder::PossibleValuesParser;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args};
use ring_wgpu_core::eval::LinearProbeConfig;
use ring_wgpu_core::train::{Checkpoint, Datasets, MethodKind, Preset, TrainConfig, Trainer};
use serde::{Deserialize, Serialize};

use crate::plot::SeedCurve;
use crate::run_lock::RunLock;
use crate::{GpuArgs, checkpoint, config_file, eval, plot, train};

/// Default output folder of a comparison.
pub const DEFAULT_OUT: &str = "runs/compare";

/// Compare methods at an equal budget: every method in --methods is trained once per seed
/// with the same settings (preset, TOML file and flags, as for `train`), then evaluated on
/// the test split (kNN as the run's monitor, and a linear probe). Writes compare.md,
/// compare.csv and compare.png into --out, one folder per run beside them. Run the same
/// command again to resume: finished runs are kept, stopped ones continue.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Methods to train, comma-separated [default: every method, with and without Ring].
    #[arg(long, value_delimiter = ',', value_parser = PossibleValuesParser::new(MethodKind::ALL.map(MethodKind::name)))]
    methods: Vec<String>,
    /// Seeds, comma-separated: each method is trained once per seed.
    #[arg(long, value_delimiter = ',', default_values_t = [1u64, 2, 3])]
    seeds: Vec<u64>,
    /// Linear-probe epochs after each run (0: kNN only).
    #[arg(long, default_value_t = 100)]
    probe_epochs: usize,
    /// TOML file of settings shared by every run (the keys of `train`'s file).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Start from a named configuration; the file and the flags apply over it.
    #[arg(long, value_parser = PossibleValuesParser::new(Preset::ALL.map(Preset::name)))]
    preset: Option<String>,
    /// Output folder [default: runs/compare].
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    settings: TrainConfig,
}

/// One finished run's results (`result.json` in its folder).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunResult {
    method: MethodKind,
    seed: u64,
    epochs: usize,
    /// kNN top-1 on the test split at the end (the run's own monitor settings).
    knn_top1: f64,
    untrained_knn: Option<f64>,
    linear_top1: Option<f64>,
    probe_epochs: usize,
    /// Mean training throughput over the run's epochs.
    images_per_s: Option<f64>,
    /// Training time (without the evaluation), summed over interruptions.
    train_seconds: f64,
    /// (epoch, kNN top-1) as the monitor recorded them.
    knn_curve: KnnCurve,
}

const RESULT: &str = "result.json";

pub fn run(gpu_args: &GpuArgs, args: &CompareArgs, matches: &ArgMatches) -> Result<()> {
    for (flag, instead) in [("method", "--methods"), ("seed", "--seeds")] {
        if matches.value_source(flag) == Some(ValueSource::CommandLine) {
            bail!("--{flag}: compare trains each of {instead}; give {instead} instead");
        }
    }
    ensure!(!args.seeds.is_empty(), "--seeds: give at least one seed");
    let mut seeds = args.seeds.clone();
    seeds.dedup();
    let methods: Vec<MethodKind> = if args.methods.is_empty() {
        MethodKind::ALL.to_vec()
    } else {
        let mut m: Vec<MethodKind> =
            args.methods.iter().map(|name| *MethodKind::ALL.iter().find(|k| k.name() == name).expect("clap checked the name")).collect();
        m.dedup();
        m
    };
    let file_out = match &args.config {
        Some(path) => config_file::file_out(path)?,
        None => None,
    };
    let out = args.out.clone().or(file_out).unwrap_or_else(|| PathBuf::from(DEFAULT_OUT));
    let resolved = config_file::resolve(&args.settings, matches, args.config.as_deref(), args.preset.as_deref(), None)?;
    crate::run_lock::check_writable(&out)?;
    // Every run's settings are checked against the data before any training starts.
    let loaded = Datasets::load(&resolved.config)?;
    let (train_images, test_images, image_bytes) = (loaded.train.len(), loaded.test.len(), loaded.train.image_bytes());
    drop(loaded);
    let mut plan = Vec::new();
    for &method in &methods {
        for &seed in &seeds {
            let config = TrainConfig { method, seed, ..resolved.config.clone() };
            config.resolved(train_images).map_err(|e| resolved.explain(e.into()))?;
            plan.push((config, out.join(format!("{}-seed{seed}", method.name()))));
        }
    }
    let compute = gpu_args.compute()?;
    if compute.is_cpu() {
        for (config, _) in &plan {
            crate::host_memory::check(config, train_images, test_images, image_bytes)?;
        }
    }
    // One compare per folder (each run folder is locked again while it trains); taken after
    // every check, so that a refused compare leaves no folder.
    let _lock = RunLock::acquire(&out)?;
    let probe = LinearProbeConfig { epochs: args.probe_epochs, ..LinearProbeConfig::default() };
    let mut results = Vec::new();
    let mut classes = 0;
    let mut dataset_line = String::new();
    for (i, (config, dir)) in plan.iter().enumerate() {
        let label = format!("[{}/{}] {} seed {}", i + 1, plan.len(), config.method.name(), config.seed);
        let Some(result) = run_one(config, dir, &label, &probe, compute.burn_device(), &mut classes, &mut dataset_line)? else {
            println!("stopped; run the same command again to continue the comparison");
            return Ok(());
        };
        results.push(result);
    }
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let table = report(&results, &methods, &seeds, &dataset_line, &compute.to_string(), &command, args.probe_epochs);
    std::fs::write(out.join("compare.md"), &table).with_context(|| format!("writing {}", out.join("compare.md").display()))?;
    std::fs::write(out.join("compare.csv"), csv(&results))?;
    curves(&results, &methods, classes, &out.join("compare.png"))?;
    println!("{table}");
    println!("written: {0}/compare.md, {0}/compare.csv, {0}/compare.png", out.display());
    Ok(())
}

/// Trains (or resumes, or reads back) one run and evaluates it; `None` when stopped.
fn run_one(
    config: &TrainConfig,
    dir: &Path,
    label: &str,
    probe: &LinearProbeConfig,
    device: &ring_wgpu_core::burn::tensor::Device,
    classes: &mut usize,
    dataset_line: &mut String,
) -> Result<Option<RunResult>> {
    let _lock = RunLock::acquire(dir)?;
    let saved = if checkpoint::path(dir).exists() { Some(checkpoint::read(dir)?) } else { None };
    let datasets = Datasets::load(config)?;
    *classes = datasets.train.classes.len();
    // The synthetic set is drawn with the run's seed: name it without one.
    let name = datasets.train.name.split("(seed").next().unwrap_or_default().trim_end();
    let name = if name.len() < datasets.train.name.len() { format!("{name}, drawn with each run's seed") } else { name.to_string() };
    let train_images = match config.train_subset {
        Some(n) if n < datasets.train.len() => format!("a class-balanced subset of {n} of the {} training", datasets.train.len()),
        _ => format!("{} train", datasets.train.len()),
    };
    *dataset_line = format!("{} ({} / {} test images, {} classes)", name, train_images, datasets.test.len(), datasets.train.classes.len());
    // A finished run kept without its checkpoint (deleted to save space, or its records
    // copied elsewhere): its result stands when the settings it recorded are this command's.
    if saved.is_none()
        && let Some(done) = read_result(dir)
        && done.probe_epochs == probe.epochs
        && done.epochs == config.epochs
        && recorded_config_is(dir, &config.resolved(datasets.train.len())?)
    {
        eprintln!("{label}: done before (kNN {:.1}%), kept from its result.json (its checkpoint is gone)", done.knn_top1 * 100.0);
        return Ok(Some(done));
    }
    let mut trainer = match &saved {
        Some(bytes) => {
            Checkpoint::read_config(bytes).with_context(|| checkpoint::path(dir).display().to_string())?;
            Trainer::from_checkpoint(bytes, Some(config), datasets, device).with_context(|| {
                format!("{} holds a run made with other settings: use another --out, or delete that folder", dir.display())
            })?
        }
        None => Trainer::new(config.clone(), datasets, device)?,
    };
    if trainer.finished()
        && let Some(done) = read_result(dir)
        && done.probe_epochs == probe.epochs
        && done.epochs == trainer.epochs_completed()
    {
        eprintln!("{label}: done before (kNN {:.1}%), kept", done.knn_top1 * 100.0);
        return Ok(Some(done));
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join("config.json"), serde_json::to_string_pretty(trainer.config())?)?;
    if !trainer.finished() {
        eprintln!("{label}: {}", if saved.is_some() { "resuming" } else { "training" });
        if !train::drive(&mut trainer, dir, saved.is_some(), None, "run the same compare command again to continue")? {
            return Ok(None);
        }
    }
    // Training time only: taken before the evaluation, so that a run evaluated again later
    // (its result lost) reports the same seconds as when it was trained.
    let train_seconds = trainer.seconds();
    let knn_top1 = pollster::block_on(trainer.knn())?;
    let linear_top1 = if probe.epochs > 0 {
        eprintln!("{label}: linear probe ({} epochs)", probe.epochs);
        Some(eval::probe_top1(&trainer, None, None, probe)?)
    } else {
        None
    };
    let (images_per_s, knn_curve) = from_metrics(&dir.join("metrics.jsonl"))?;
    let result = RunResult {
        method: config.method,
        seed: config.seed,
        epochs: trainer.epochs_completed(),
        knn_top1,
        untrained_knn: trainer.untrained_knn(),
        linear_top1,
        probe_epochs: probe.epochs,
        images_per_s,
        train_seconds,
        knn_curve,
    };
    checkpoint::write_atomic(&dir.join(RESULT), serde_json::to_string_pretty(&result)?.as_bytes())?;
    eprintln!(
        "{label}: kNN {:.1}%{}",
        knn_top1 * 100.0,
        linear_top1.map(|v| format!(", linear probe {:.1}%", v * 100.0)).unwrap_or_default()
    );
    Ok(Some(result))
}

/// Does the run in `dir` record (config.json) exactly the resolved settings `config`?
fn recorded_config_is(dir: &Path, config: &TrainConfig) -> bool {
    // Both sides through the same printer and parser, so that equal settings compare equal.
    let recorded = std::fs::read(dir.join("config.json")).ok().and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let wanted = serde_json::to_string_pretty(config).ok().and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok());
    recorded.is_some() && recorded == wanted
}

fn read_result(dir: &Path) -> Option<RunResult> {
    serde_json::from_slice(&std::fs::read(dir.join(RESULT)).ok()?).ok()
}

/// kNN top-1 by epoch.
type KnnCurve = Vec<(usize, f64)>;

/// Mean images/s over the trained epochs and the kNN curve, from a run's metrics.jsonl
/// (an epoch written twice, by a run stopped between its metrics and its checkpoint,
/// counts once: the last line wins).
fn from_metrics(path: &Path) -> Result<(Option<f64>, KnnCurve)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut by_epoch = std::collections::BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).with_context(|| format!("{} is not JSON lines", path.display()))?;
        if let Some(epoch) = v["epoch"].as_u64() {
            by_epoch.insert(epoch as usize, (v["images_per_s"].as_f64(), v["knn_top1"].as_f64()));
        }
    }
    let speeds: Vec<f64> = by_epoch.values().filter_map(|v| v.0).collect();
    let mean = (!speeds.is_empty()).then(|| speeds.iter().sum::<f64>() / speeds.len() as f64);
    Ok((mean, by_epoch.iter().filter_map(|(&e, v)| v.1.map(|k| (e, k))).collect()))
}

/// Mean and sample standard deviation (0 for one value).
fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 { values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}

fn percent(values: &[f64]) -> String {
    if values.is_empty() {
        return "-".into();
    }
    let (m, s) = mean_std(values);
    if values.len() > 1 { format!("{:.1} ± {:.1}", m * 100.0, s * 100.0) } else { format!("{:.1}", m * 100.0) }
}

/// The Markdown report: settings, then one row per method.
fn report(
    results: &[RunResult],
    methods: &[MethodKind],
    seeds: &[u64],
    dataset: &str,
    device: &str,
    command: &str,
    probe_epochs: usize,
) -> String {
    let of = |m: MethodKind| results.iter().filter(move |r| r.method == m);
    let knn = |m: MethodKind| of(m).map(|r| r.knn_top1).collect::<Vec<_>>();
    let mut s = String::new();
    let _ = writeln!(s, "# ring-wgpu compare\n");
    let _ = writeln!(s, "- command: `{command}`");
    let _ = writeln!(s, "- data: {dataset}; device: {device}");
    let _ = writeln!(s, "- seeds: {}", seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", "));
    let _ = writeln!(
        s,
        "- kNN: the run's monitor settings on the test split after the last epoch; linear probe: {}\n",
        if probe_epochs > 0 { format!("{probe_epochs} epochs on frozen backbone features") } else { "off".into() }
    );
    let _ = writeln!(s, "| method | epochs | kNN top-1 % | Ring − plain (kNN, points) | linear probe top-1 % | images/s | train time s |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for &m in methods {
        let runs: Vec<&RunResult> = of(m).collect();
        if runs.is_empty() {
            continue;
        }
        let plain = m.with_ring(false);
        let delta = if m.uses_ring() && methods.contains(&plain) && !knn(plain).is_empty() {
            format!("{:+.1}", (mean_std(&knn(m)).0 - mean_std(&knn(plain)).0) * 100.0)
        } else {
            "".into()
        };
        let linear: Vec<f64> = runs.iter().filter_map(|r| r.linear_top1).collect();
        let speeds: Vec<f64> = runs.iter().filter_map(|r| r.images_per_s).collect();
        let seconds: Vec<f64> = runs.iter().map(|r| r.train_seconds).collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {:.0} |",
            m.name(),
            runs[0].epochs,
            percent(&knn(m)),
            delta,
            percent(&linear),
            if speeds.is_empty() { "-".into() } else { format!("{:.1}", mean_std(&speeds).0) },
            mean_std(&seconds).0
        );
    }
    s.push_str(&paired(results, methods));
    s
}

/// Ring minus plain seed by seed (the same seed: the same data order, augmentation draws
/// and initial weights), for each Ring method whose plain form ran too: each seed's
/// difference in kNN and probe points, then their mean ± std.
fn paired(results: &[RunResult], methods: &[MethodKind]) -> String {
    let mut s = String::new();
    for &ring in methods.iter().filter(|m| m.uses_ring()) {
        let plain = ring.with_ring(false);
        if !methods.contains(&plain) {
            continue;
        }
        let pairs: Vec<(u64, &RunResult, &RunResult)> = results
            .iter()
            .filter(|r| r.method == ring)
            .filter_map(|r| results.iter().find(|p| p.method == plain && p.seed == r.seed).map(|p| (r.seed, r, p)))
            .collect();
        if pairs.is_empty() {
            continue;
        }
        if s.is_empty() {
            let _ = writeln!(s, "\n## Ring − plain, paired by seed (points)\n");
            let _ = writeln!(s, "| pair | seed | kNN | linear probe |");
            let _ = writeln!(s, "|---|---|---|---|");
        }
        let label = format!("{} − {}", ring.name(), plain.name());
        let points = |v: f64| format!("{:+.1}", v * 100.0);
        let knn: Vec<f64> = pairs.iter().map(|(_, r, p)| r.knn_top1 - p.knn_top1).collect();
        let probe: Vec<f64> = pairs.iter().filter_map(|(_, r, p)| Some(r.linear_top1? - p.linear_top1?)).collect();
        for (seed, r, p) in &pairs {
            let probe = match (r.linear_top1, p.linear_top1) {
                (Some(a), Some(b)) => points(a - b),
                _ => "-".into(),
            };
            let _ = writeln!(s, "| {label} | {seed} | {} | {probe} |", points(r.knn_top1 - p.knn_top1));
        }
        let summary = |v: &[f64]| match v.len() {
            0 => "-".to_string(),
            1 => points(v[0]),
            _ => {
                let (m, sd) = mean_std(v);
                format!("{:+.1} ± {:.1}", m * 100.0, sd * 100.0)
            }
        };
        let _ = writeln!(s, "| {label} | mean ± std | {} | {} |", summary(&knn), summary(&probe));
    }
    s
}

fn csv(results: &[RunResult]) -> String {
    let mut s = String::from("method,seed,epochs,knn_top1,linear_top1,untrained_knn,images_per_s,train_seconds\n");
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.6}")).unwrap_or_default();
    for r in results {
        let _ = writeln!(
            s,
            "{},{},{},{:.6},{},{},{},{:.1}",
            r.method.name(),
            r.seed,
            r.epochs,
            r.knn_top1,
            opt(r.linear_top1),
            opt(r.untrained_knn),
            opt(r.images_per_s),
            r.train_seconds
        );
    }
    s
}

/// Every method's kNN curve (mean over seeds at each monitored epoch, with the seeds'
/// range), one colour each.
fn curves(results: &[RunResult], methods: &[MethodKind], classes: usize, path: &Path) -> Result<()> {
    let series: Vec<SeedCurve> = methods
        .iter()
        .map(|&m| {
            let mut at: std::collections::BTreeMap<usize, Vec<f64>> = Default::default();
            for r in results.iter().filter(|r| r.method == m) {
                for &(e, k) in &r.knn_curve {
                    at.entry(e).or_default().push(k * 100.0);
                }
            }
            let range = |v: &[f64]| v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &k| (lo.min(k), hi.max(k)));
            let points = at
                .into_iter()
                .map(|(e, v)| {
                    let (lo, hi) = range(&v);
                    (e as f64, mean_std(&v).0, lo, hi)
                })
                .collect();
            SeedCurve { label: m.name().to_string(), points }
        })
        .collect();
    plot::compare_curves(&series, classes, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(method: MethodKind, seed: u64, knn: f64) -> RunResult {
        RunResult {
            method,
            seed,
            epochs: 2,
            knn_top1: knn,
            untrained_knn: Some(0.2),
            linear_top1: Some(knn + 0.01),
            probe_epochs: 5,
            images_per_s: Some(100.0),
            train_seconds: 10.0,
            knn_curve: vec![(0, 0.2), (2, knn)],
        }
    }

    #[test]
    fn the_table_reports_mean_std_and_ring_minus_plain() {
        let results = [
            result(MethodKind::Mocoring, 1, 0.50),
            result(MethodKind::Mocoring, 2, 0.60),
            result(MethodKind::Moco, 1, 0.40),
            result(MethodKind::Moco, 2, 0.50),
        ];
        let table = report(&results, &[MethodKind::Mocoring, MethodKind::Moco], &[1, 2], "synthetic", "cpu", "ring-wgpu compare", 5);
        // mean 55.0, sample std of {50, 60} = 7.07
        assert!(table.contains("| mocoring | 2 | 55.0 ± 7.1 | +10.0 | 56.0 ± 7.1 | 100.0 | 10 |"), "{table}");
        assert!(table.contains("| moco | 2 | 45.0 ± 7.1 |  | 46.0 ± 7.1 |"), "{table}");
        // Paired by seed: +10 and +10 points, std 0.
        assert!(table.contains("| mocoring − moco | 1 | +10.0 | +10.0 |"), "{table}");
        assert!(table.contains("| mocoring − moco | mean ± std | +10.0 ± 0.0 | +10.0 ± 0.0 |"), "{table}");
        // A seed without its plain run is left out of the pairs.
        let lone = [result(MethodKind::Iring, 3, 0.5), result(MethodKind::Ir, 1, 0.4)];
        let table = report(&lone, &[MethodKind::Iring, MethodKind::Ir], &[1, 3], "synthetic", "cpu", "ring-wgpu compare", 5);
        assert!(!table.contains("iring − ir"), "{table}");
        assert_eq!(csv(&results).lines().count(), 5);
    }

    #[test]
    fn metrics_lines_of_a_repeated_epoch_count_once() {
        let dir = std::env::temp_dir().join(format!("ring-wgpu-compare-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("metrics.jsonl");
        std::fs::write(
            &path,
            "{\"epoch\":0,\"knn_top1\":0.2,\"images_per_s\":null}\n{\"epoch\":1,\"knn_top1\":0.3,\"images_per_s\":10}\n\
             {\"epoch\":1,\"knn_top1\":0.35,\"images_per_s\":20}\n{\"epoch\":2,\"knn_top1\":null,\"images_per_s\":30}\n",
        )
        .unwrap();
        let (speed, curve) = from_metrics(&path).unwrap();
        assert_eq!(speed, Some(25.0));
        assert_eq!(curve, vec![(0, 0.2), (1, 0.35)]);
        std::fs::remove_dir_all(&dir).ok();
    }
}
