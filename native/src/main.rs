//! `ring-wgpu`: contrastive learning with conditional negative sampling on any GPU.

mod bench_ops;
mod bench_ring;
mod bench_train;
mod checkpoint;
mod compare;
mod config_file;
mod download;
mod embed;
mod eval;
mod host_memory;
mod info;
mod plot;
mod run_dir;
mod run_lock;
mod sinks;
mod train;

#[cfg(test)]
#[path = "../tests/common/http.rs"]
mod test_http;

use anyhow::Result;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use ring_wgpu_core::{BackendChoice, Compute, DeviceChoice, Gpu, GpuOptions};

/// Hard-negative ("Ring") contrastive learning on any GPU through wgpu.
#[derive(Parser, Debug)]
#[command(name = "ring-wgpu", version, about, long_about = None, args_override_self = true)]
struct Cli {
    #[command(flatten)]
    gpu: GpuArgs,
    #[command(subcommand)]
    command: Command,
}

/// Which GPU to use (flags override the environment).
#[derive(Args, Debug, Clone)]
struct GpuArgs {
    /// Graphics API: auto, vulkan, metal, dx12, gl.
    #[arg(long, global = true, env = "WGPU_BACKEND", default_value = "auto")]
    backend: String,
    /// Use the adapter whose name contains this text (case-insensitive), e.g. "llvmpipe".
    #[arg(long, global = true, env = "WGPU_ADAPTER_NAME")]
    adapter: Option<String>,
    /// Where train/eval/embed run: gpu, cpu (burn's CPU backend), or auto (a hardware GPU
    /// if there is one, else the CPU: software Vulkan is slower than the CPU backend).
    #[arg(long, global = true, env = "RING_WGPU_DEVICE", default_value = "auto")]
    device: String,
}

impl GpuArgs {
    fn options(&self) -> Result<GpuOptions> {
        let backend: BackendChoice = self.backend.parse()?;
        Ok(GpuOptions { backend, adapter_name: self.adapter.clone().filter(|s| !s.is_empty()) })
    }

    fn open(&self) -> Result<Gpu> {
        Ok(Gpu::new_blocking(&self.options()?)?)
    }

    /// Opens the device for training and evaluation, and says which (and why) on stderr.
    fn compute(&self) -> Result<Compute> {
        let choice: DeviceChoice = self.device.parse()?;
        let compute = Compute::open_blocking(choice, &self.options()?)?;
        eprintln!("device: {compute}");
        if let Some(reason) = compute.reason() {
            eprintln!("note: {reason}");
        }
        Ok(compute)
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List every adapter, the one chosen, and the limits that bind the Ring kernels.
    Info,
    /// Train one of the eight methods (--method; MoCoRing by default); with no arguments, a short
    /// run on the built-in synthetic dataset.
    Train(Box<train::TrainArgs>),
    /// Train several methods at one budget over several seeds; a Markdown table and kNN curves.
    Compare(Box<compare::CompareArgs>),
    /// kNN and linear-probe top-1 of a trained run (its last checkpoint) on the test split.
    Eval(eval::EvalArgs),
    /// Features of a trained run as .npy, with a PNG scatter of their 2-D PCA by class.
    Embed(embed::EmbedArgs),
    /// Benchmarks (GPU and CPU side by side in one run).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Datasets: download a published archive, verify its checksum and unpack it.
    #[command(subcommand)]
    Data(DataCommand),
}

#[derive(Subcommand, Debug)]
enum DataCommand {
    /// Download CIFAR-10, CIFAR-100 or STL-10 (binary versions), check the MD5, unpack.
    Download(download::DownloadArgs),
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Ring selection (select + mask) on the GPU against the plain-Rust CPU references.
    Ring(bench_ring::RingBenchArgs),
    /// Training-step throughput (images/s) of MoCo and MoCoRing per model, on the GPU and
    /// the CPU backend side by side, with the time of each phase of a step.
    Train(bench_train::TrainBenchArgs),
    /// Each operation of the encoder on its own (convolutions forward and both gradients,
    /// batch norm, ReLU, add, head matmul) at a training step's shapes: where the time goes.
    Ops(bench_ops::OpsBenchArgs),
}

/// Mesa's Vulkan driver probes for a Wayland display on every adapter enumeration and,
/// where `XDG_RUNTIME_DIR` is unset or not a folder (servers, containers, CI), prints
/// "error: XDG_RUNTIME_DIR is invalid or not set in the environment." twice: not an error
/// for a compute program, but the first thing a newcomer would read. Point the variable
/// at a private folder of this user's (mode 0700) first; a valid one is left alone.
fn quiet_wayland_probe() {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|dir| std::path::Path::new(&dir).is_dir()) {
            return;
        }
        let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else { return };
        let dir = std::env::temp_dir().join(format!("ring-wgpu-runtime-{uid}"));
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
        // Only a folder this user owns and nobody else can enter.
        if std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0) {
            // SAFETY: called at the start of main, before any other thread exists.
            unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
        }
    }
}

fn main() {
    // burn loads an optimizer's saved state onto `Device::default()` and moves it to each
    // parameter's device on the next step. Make that default the CPU backend, so resuming
    // never opens a second GPU device (or fails on a machine without one).
    if std::env::var_os("BURN_DEVICE").is_none() {
        // SAFETY: first statement of main, before any other thread exists.
        unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    }
    quiet_wayland_probe();
    ring_wgpu_core::cpu::malloc_tuning::keep_freed_memory();
    let matches = Cli::command()
        .mut_subcommand("train", |train| train.after_help(train::presets_help()))
        .mut_subcommand("compare", |compare| compare.after_help(train::presets_help()))
        .get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    let result = match &cli.command {
        Command::Info => info::run(&cli.gpu),
        Command::Train(args) => train::run(&cli.gpu, args, matches.subcommand_matches("train").expect("the train subcommand")),
        Command::Compare(args) => compare::run(&cli.gpu, args, matches.subcommand_matches("compare").expect("the compare subcommand")),
        Command::Eval(args) => eval::run(&cli.gpu, args),
        Command::Embed(args) => embed::run(&cli.gpu, args),
        Command::Bench(BenchCommand::Ring(args)) => bench_ring::run(&cli.gpu, args),
        Command::Bench(BenchCommand::Train(args)) => bench_train::run(&cli.gpu, args),
        Command::Bench(BenchCommand::Ops(args)) => bench_ops::run(&cli.gpu, args),
        Command::Data(DataCommand::Download(args)) => download::run(args),
    };
    if let Err(err) = result {
        eprintln!("error: {}", escape_controls(&format!("{err:#}")));
        std::process::exit(1);
    }
}

/// `text` with control characters other than newline and tab written as `\u{..}`: a file
/// name is printed as it is, never as terminal escape sequences.
fn escape_controls(text: &str) -> String {
    text.chars().map(|c| if c.is_control() && c != '\n' && c != '\t' { c.escape_unicode().to_string() } else { c.to_string() }).collect()
}
