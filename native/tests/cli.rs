//! The `ring-wgpu` binary end to end (on lavapipe in CI).

use std::process::Command;

#[path = "common/http.rs"]
mod http;

fn ring_wgpu() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ring-wgpu"))
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = ring_wgpu().args(args).output().expect("runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn help_explains_the_commands() {
    let (ok, stdout, _) = run(&["--help"]);
    assert!(ok);
    for word in ["info", "bench", "--backend", "--adapter"] {
        assert!(stdout.contains(word), "--help lacks {word}:\n{stdout}");
    }
    let (ok, stdout, _) = run(&["bench", "ring", "--help"]);
    assert!(ok);
    assert!(stdout.contains("--candidates") && stdout.contains("--upper"), "{stdout}");
}

#[test]
fn info_lists_adapters_and_limits() {
    let (ok, stdout, stderr) = run(&["info"]);
    assert!(ok, "info failed: {stderr}");
    assert!(stdout.contains("Chosen:"), "{stdout}");
    assert!(stdout.contains("invocations per workgroup"), "{stdout}");
}

#[test]
fn no_false_errors_where_xdg_runtime_dir_is_unset() {
    // Mesa's Wayland probe would print "error: XDG_RUNTIME_DIR is invalid ..." twice.
    let out = ring_wgpu().arg("info").env_remove("XDG_RUNTIME_DIR").output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("XDG_RUNTIME_DIR") && !stderr.contains("error"), "{stderr}");
}

#[test]
fn unknown_adapter_is_a_clear_error() {
    let (ok, _, stderr) = run(&["--adapter", "no-such-gpu-anywhere", "info"]);
    assert!(!ok);
    assert!(stderr.contains("no GPU adapter found") && stderr.contains("--adapter"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn unknown_backend_is_a_clear_error() {
    let (ok, _, stderr) = run(&["--backend", "cuda", "info"]);
    assert!(!ok);
    assert!(stderr.contains("unknown backend `cuda`"), "{stderr}");
}

#[test]
fn bench_ring_runs_and_verifies_small_sizes() {
    let dir = std::env::temp_dir().join(format!("ring-wgpu-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("bench.json");
    let (ok, stdout, stderr) = run(&[
        "bench",
        "ring",
        "--batch",
        "8",
        "--dim",
        "16",
        "--candidates",
        "300,1025",
        "--iters",
        "2",
        "--cpu-iters",
        "1",
        "--format",
        "csv",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(ok, "bench failed: {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[1].starts_with("8,300,16,27,") && lines[1].ends_with(",true"), "{stdout}");
    assert!(lines[2].starts_with("8,1025,16,92,"), "{stdout}");
    let report = std::fs::read_to_string(&json).unwrap();
    assert!(report.contains("\"verified\": true"), "{report}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bench_rejects_invalid_percentiles() {
    let (ok, _, stderr) = run(&["bench", "ring", "--lower", "10", "--upper", "5", "--candidates", "100"]);
    assert!(!ok);
    assert!(stderr.contains("must be smaller than u"), "{stderr}");
}

#[test]
fn train_runs_a_tiny_mocoring_and_writes_metrics() {
    let dir = std::env::temp_dir().join(format!("ring-wgpu-train-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Settings from a TOML file; the command line overrides `epochs`.
    let config = dir.join("run.toml");
    std::fs::write(&config, "synthetic_per_class = 4\nbatch = 10\nepochs = 7\n[train]\nlr-schedule = \"step\"\n").unwrap();
    let out = dir.join("out");
    // On the GPU explicitly (auto picks the CPU backend when the only adapter is lavapipe).
    let (ok, stdout, stderr) = run(&[
        "--device",
        "gpu",
        "train",
        "--config",
        config.to_str().unwrap(),
        "--epochs",
        "2",
        "--knn-k",
        "5",
        "--lr",
        "0.05",
        "--upper",
        "50",
        "--lower",
        "5",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "train failed: {stderr}");
    assert!(stdout.contains("kNN top-1"), "{stdout}");
    assert!(stderr.contains("device: ") && !stderr.contains("device: CPU"), "{stderr}");
    let png = std::fs::read(out.join("curves.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let lines: Vec<&str> = metrics.lines().collect();
    assert_eq!(lines.len(), 3, "{metrics}");
    assert!(lines[2].contains("\"epoch\":2") && lines[2].contains("\"knn_top1\":"), "{metrics}");
    assert!(!metrics.contains("NaN"), "{metrics}");
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert!(csv.starts_with("epoch,loss,upper,lr,knn_top1,images_per_s,seconds"), "{csv}");
    let saved = std::fs::read_to_string(out.join("config.json")).unwrap();
    assert!(saved.contains("\"method\": \"mocoring\""), "{saved}");
    assert!(saved.contains("\"lr_schedule\": \"step\"") && saved.contains("\"epochs\": 2") && saved.contains("\"batch\": 10"), "{saved}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn train_without_data_dir_says_so() {
    let (ok, _, stderr) = run(&["train", "--dataset", "cifar10", "--out", "/tmp/ring-wgpu-unused"]);
    assert!(!ok);
    assert!(stderr.contains("--data-dir is required"), "{stderr}");
    let (ok, _, stderr) = run(&["train", "--dataset", "cifar10", "--data-dir", "/nonexistent", "--out", "/tmp/ring-wgpu-unused"]);
    assert!(!ok);
    assert!(stderr.contains("ring-wgpu data download cifar10"), "{stderr}");
}

#[test]
fn data_download_checks_the_publishers_checksum() {
    // A local server stands in for the publisher; what it serves is not the real archive,
    // so the download must be refused and nothing left behind.
    let server = http::serve(b"not the CIFAR-10 archive".to_vec(), http::Behaviour::Normal);
    let dir = std::env::temp_dir().join(format!("ring-wgpu-data-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let (ok, _, stderr) = run(&["data", "download", "cifar10", "--dir", dir.to_str().unwrap(), "--mirror", &server.url]);
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("checksum mismatch") && stderr.contains("c32a1d4ab5d03f1284b67883e8d87530"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "nothing is left in {}", dir.display());
    let (ok, stdout, _) = run(&["data", "download", "--help"]);
    assert!(ok && stdout.contains("--mirror") && stdout.contains("stl10"), "{stdout}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn unknown_device_is_a_clear_error() {
    let (ok, _, stderr) = run(&["--device", "tpu", "train", "--out", "/tmp/ring-wgpu-unused"]);
    assert!(!ok);
    assert!(stderr.contains("unknown device `tpu`") && stderr.contains("cpu"), "{stderr}");
}

fn metrics(dir: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn resume_continues_exactly_where_the_run_stopped() {
    let base = std::env::temp_dir().join(format!("ring-wgpu-resume-{}", std::process::id()));
    std::fs::remove_dir_all(&base).ok();
    let (whole, parts) = (base.join("whole"), base.join("parts"));
    let common = ["train", "--synthetic-per-class", "4", "--batch", "10", "--epochs", "2", "--knn-k", "5", "--upper", "50", "--lower", "5"];
    let with = |extra: &[&str]| -> Vec<String> { common.iter().chain(extra).map(|s| s.to_string()).collect() };
    let go = |args: Vec<String>| run(&args.iter().map(String::as_str).collect::<Vec<_>>());

    let (ok, _, stderr) = go(with(&["--out", whole.to_str().unwrap()]));
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = go(with(&["--out", parts.to_str().unwrap(), "--stop-after", "1"]));
    assert!(ok && stdout.contains("stopped after epoch 1"), "{stdout}{stderr}");
    assert!(parts.join("checkpoint.bin").exists() && !parts.join("checkpoint.bin.tmp").exists());

    // Starting over in the same folder would lose the run: refused.
    let (ok, _, stderr) = go(with(&["--out", parts.to_str().unwrap()]));
    assert!(!ok && stderr.contains("already holds a run") && stderr.contains("--resume"), "{stderr}");
    // Other settings: refused, naming them.
    let mut changed = with(&["--out", parts.to_str().unwrap(), "--resume"]);
    changed[4] = "8".into();
    let (ok, _, stderr) = go(changed);
    assert!(!ok && stderr.contains("batch (saved 10, now 8)"), "{stderr}");

    // A kill between epoch 2's metrics lines and its checkpoint (the last line half
    // written): resuming repeats epoch 2 and its lines appear once, the broken ones not at all.
    use std::io::Write;
    let append = |name: &str, text: &str| {
        std::fs::OpenOptions::new().append(true).open(parts.join(name)).unwrap().write_all(text.as_bytes()).unwrap();
    };
    append("metrics.jsonl", "{\"epoch\":2,\"loss\":123.0}\n{\"epoch\":2,\"lo");
    let csv_fields = std::fs::read_to_string(parts.join("metrics.csv")).unwrap().lines().next().unwrap().split(',').count();
    append("metrics.csv", &format!("2{}\n2,12", ",123".repeat(csv_fields - 1)));
    let (ok, _, stderr) = go(with(&["--out", parts.to_str().unwrap(), "--resume"]));
    assert!(ok, "{stderr}");
    let csv = std::fs::read_to_string(parts.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "header and epochs 0-2 once each:\n{csv}");
    assert!(!csv.contains("123") && csv.lines().all(|l| l.split(',').count() == csv_fields), "{csv}");
    let (a, b) = (metrics(&whole), metrics(&parts));
    assert_eq!(a.len(), 3);
    assert_eq!(b.len(), 3, "{b:?}");
    for epoch in 1..3 {
        for field in ["loss", "knn_top1", "upper", "lr"] {
            assert_eq!(a[epoch][field], b[epoch][field], "epoch {epoch} {field}: whole {:?}, resumed {:?}", a[epoch], b[epoch]);
        }
    }

    // eval on the finished run: its kNN equals the monitor's last value (same model, same k).
    let (ok, stdout, stderr) = run(&["eval", "--out", whole.to_str().unwrap(), "--knn-k", "5", "--probe-epochs", "3"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("kNN (k = 5) top-1") && stdout.contains("linear probe (3 epochs) top-1"), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(whole.join("eval.json")).unwrap()).unwrap();
    assert_eq!(report["knn_top1"], a[2]["knn_top1"], "{report}");
    assert_eq!(report["epochs_trained"], 2);
    let linear = report["linear_top1"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&linear), "{report}");
    let (ok, stdout, stderr) = run(&["embed", "--out", whole.to_str().unwrap(), "--size", "200"]);
    assert!(ok && stdout.contains("test_features.npy"), "{stdout}{stderr}");
    let npy = std::fs::read(whole.join("test_features.npy")).unwrap();
    assert!(npy.starts_with(b"\x93NUMPY") && String::from_utf8_lossy(&npy[..128]).contains("'shape': (20, 64)"));
    let png = std::fs::read(whole.join("test_pca.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let (ok, _, stderr) = run(&["eval", "--out", base.join("nothing-here").to_str().unwrap()]);
    assert!(!ok && stderr.contains("checkpoint.bin missing"), "{stderr}");

    // A damaged checkpoint is an error that says so, not a panic; so is one of the old format.
    std::fs::write(parts.join("checkpoint.bin"), b"RING-WGPU CHECKPOINT 2\n{\"epoch\":").unwrap();
    let (ok, _, stderr) = go(with(&["--out", parts.to_str().unwrap(), "--resume", "--epochs", "3"]));
    assert!(!ok && stderr.contains("damaged") && !stderr.contains("panicked"), "{stderr}");
    std::fs::write(parts.join("checkpoint.bin"), b"RING-WGPU CHECKPOINT 1\n{\"epoch\":1}\n").unwrap();
    let (ok, _, stderr) = go(with(&["--out", parts.to_str().unwrap(), "--resume", "--epochs", "3"]));
    assert!(!ok && stderr.contains("format 1") && stderr.contains("start a new run"), "{stderr}");
    std::fs::remove_dir_all(base).ok();
}

/// The default command's promise, shortened for a test: on the CPU backend, MoCoRing on
/// the synthetic set learns — the loss falls and kNN top-1 ends clearly above both the
/// untrained network and chance (seeded: the same run every time).
#[test]
fn cpu_training_learns_the_synthetic_classes() {
    let out = std::env::temp_dir().join(format!("ring-wgpu-learns-{}", std::process::id()));
    std::fs::remove_dir_all(&out).ok();
    let (ok, stdout, stderr) = run(&[
        "--device",
        "cpu",
        "train",
        "--synthetic-per-class",
        "40",
        "--batch",
        "40",
        "--epochs",
        "6",
        "--knn-every",
        "6",
        "--knn-k",
        "20",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("device: CPU"), "{stderr}");
    let m = metrics(&out);
    let (untrained, trained) = (m[0]["knn_top1"].as_f64().unwrap(), m[6]["knn_top1"].as_f64().unwrap());
    let (first, last) = (m[1]["loss"].as_f64().unwrap(), m[6]["loss"].as_f64().unwrap());
    eprintln!("kNN {untrained} -> {trained}, loss {first} -> {last}\n{stdout}");
    assert!(last < first, "loss did not fall: {first} -> {last}");
    assert!(trained >= untrained + 0.05 && trained >= 0.25, "kNN did not rise: {untrained} -> {trained}");
    std::fs::remove_dir_all(&out).ok();
}

/// Tried as a new user would: every mistake is named (the flag, or the key and its file)
/// before any work starts, with no panic and no run folder left behind.
#[test]
fn bad_settings_are_named_before_any_work() {
    let dir = std::env::temp_dir().join(format!("ring-wgpu-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let toml = dir.join("run.toml");
    std::fs::write(&toml, "epochs = 2\nbogus_key = 1\n").unwrap();
    let out = dir.join("out");
    let out_s = out.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["train", "--config", toml.to_str().unwrap(), "--out", out_s], "unknown key `bogus_key`"),
        (vec!["train", "--temperature", "-1", "--out", out_s], "--temperature -1: must be a positive number"),
        (vec!["train", "--queue", "10", "--batch", "50", "--out", out_s], "--queue 10: must hold at least one batch (50)"),
        (vec!["train", "--knn-k", "0", "--out", out_s], "--knn-k 0: must be in 1..=100000"),
        (vec!["train", "--lr", "nan", "--out", out_s], "--lr NaN: must be a positive number"),
        (vec!["train", "--key-momentum", "2", "--out", out_s], "--key-momentum 2: must be in [0, 1]"),
        (vec!["train", "--lower", "10", "--upper", "5", "--out", out_s], "--lower 10: "),
        (vec!["train", "--preset", "nope", "--out", out_s], "invalid value 'nope'"),
        (vec!["train", "--batch", "600", "--out", out_s], "--batch 600: 1000 training images are too few"),
    ];
    for (args, want) in cases {
        let (ok, _, stderr) = run(&args);
        assert!(!ok, "{args:?} succeeded");
        assert!(stderr.contains(want), "{args:?}: expected `{want}` in\n{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!out.exists(), "{args:?} created {}", out.display());
    }
    assert!(run(&["train", "--config", toml.to_str().unwrap(), "--out", out_s]).2.contains(toml.to_str().unwrap()), "the file is named");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn train_help_lists_the_presets_and_defaults() {
    let (ok, stdout, _) = run(&["train", "--help"]);
    assert!(ok);
    for word in ["quick", "paper-cifar10-mocoring", "paper-cifar10-moco", "--preset", "--knn-features", "--blur", "[default: 15]"] {
        assert!(stdout.contains(word), "train --help lacks {word}:\n{stdout}");
    }
}

/// core's Trainer driven step by step, in process, reproduces `ring-wgpu train`'s
/// metrics for the same configuration and seed (both on the CPU backend).
#[test]
fn the_trainer_step_by_step_reproduces_the_cli() {
    use ring_wgpu_core::burn::tensor::Device;
    use ring_wgpu_core::train::{Datasets, TrainConfig, Trainer};
    let out = std::env::temp_dir().join(format!("ring-wgpu-same-{}", std::process::id()));
    std::fs::remove_dir_all(&out).ok();
    let (ok, _, stderr) = run(&[
        "--device",
        "cpu",
        "train",
        "--synthetic-per-class",
        "4",
        "--batch",
        "10",
        "--epochs",
        "2",
        "--knn-k",
        "5",
        "--knn-every",
        "1",
        "--upper",
        "50",
        "--lower",
        "5",
        "--seed",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let config: TrainConfig = serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    let cli = metrics(&out);
    let mut trainer = Trainer::new(config.clone(), Datasets::synthetic(&config).unwrap(), &Device::flex()).unwrap();
    let untrained = pollster::block_on(trainer.knn()).unwrap();
    assert_eq!(cli[0]["knn_top1"].as_f64(), Some(untrained));
    let mut epochs = Vec::new();
    while !trainer.finished() {
        let (_, epoch_end) = pollster::block_on(trainer.step(&mut ())).unwrap();
        epochs.extend(epoch_end);
    }
    assert_eq!(epochs.len(), 2);
    for m in &epochs {
        let line = &cli[m.epoch];
        assert_eq!(line["loss"].as_f64(), m.loss, "epoch {}", m.epoch);
        assert_eq!(line["knn_top1"].as_f64(), m.knn_top1, "epoch {}", m.epoch);
        assert_eq!(line["upper"].as_f64(), Some(m.upper));
        assert_eq!(line["lr"].as_f64(), Some(m.lr));
    }
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn compare_trains_each_method_per_seed_writes_the_table_and_resumes() {
    let dir = std::env::temp_dir().join(format!("ring-wgpu-compare-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let out = dir.join("cmp");
    let args = [
        "compare",
        "--methods",
        "mocoring,moco,simclr",
        "--seeds",
        "1,2",
        "--synthetic-per-class",
        "4",
        "--batch",
        "10",
        "--epochs",
        "2",
        "--knn-k",
        "5",
        "--knn-every",
        "1",
        "--upper",
        "50",
        "--lower",
        "5",
        "--probe-epochs",
        "3",
        "--out",
        out.to_str().unwrap(),
    ];
    let (ok, stdout, stderr) = run(&args);
    assert!(ok, "compare failed: {stderr}");
    let table = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(stdout.starts_with(&table), "the table is printed too: {stdout}");
    for method in ["mocoring", "moco", "simclr"] {
        let row = table.lines().find(|l| l.starts_with(&format!("| {method} |"))).unwrap_or_else(|| panic!("{method}: {table}"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        // | method | epochs | kNN | Ring - plain | probe | images/s | seconds |
        assert_eq!(cells[2], "2", "{row}");
        assert!(cells[3].contains(" ± ") && cells[5].contains(" ± "), "mean ± std over 2 seeds: {row}");
        assert_eq!(cells[4].is_empty(), method != "mocoring", "Ring - plain only for a Ring method with its plain form: {row}");
        for seed in [1, 2] {
            let run_dir = out.join(format!("{method}-seed{seed}"));
            assert!(run_dir.join("checkpoint.bin").exists() && run_dir.join("result.json").exists(), "{}", run_dir.display());
            let config = std::fs::read_to_string(run_dir.join("config.json")).unwrap();
            assert!(config.contains(&format!("\"method\": \"{method}\"")) && config.contains(&format!("\"seed\": {seed}")), "{config}");
        }
    }
    assert_eq!(std::fs::read_to_string(out.join("compare.csv")).unwrap().lines().count(), 7);
    assert!(std::fs::read(out.join("compare.png")).unwrap().starts_with(b"\x89PNG"));

    // Again: nothing is retrained; a run whose evaluation was lost is evaluated, not retrained.
    let metrics = out.join("moco-seed2").join("metrics.jsonl");
    let lines_before = std::fs::read_to_string(&metrics).unwrap().lines().count();
    std::fs::remove_file(out.join("moco-seed2").join("result.json")).unwrap();
    let (ok, _, stderr) = run(&args);
    assert!(ok, "{stderr}");
    assert_eq!(stderr.matches("done before").count(), 5, "{stderr}");
    assert!(stderr.contains("moco seed 2: linear probe") && !stderr.contains("training"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&metrics).unwrap().lines().count(), lines_before);
    assert_eq!(std::fs::read_to_string(out.join("compare.md")).unwrap(), table, "the same numbers");

    // A finished run whose checkpoint was deleted is kept from its records, not retrained;
    // one whose records name other settings is trained again.
    std::fs::remove_file(out.join("simclr-seed1").join("checkpoint.bin")).unwrap();
    std::fs::remove_file(out.join("mocoring-seed1").join("checkpoint.bin")).unwrap();
    let recorded = out.join("mocoring-seed1").join("config.json");
    let changed = std::fs::read_to_string(&recorded).unwrap().replace("\"temperature\": 0.07", "\"temperature\": 0.5");
    assert!(changed.contains("0.5"), "{changed}");
    std::fs::write(&recorded, changed).unwrap();
    let (ok, _, stderr) = run(&args);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("simclr seed 1: done before") && stderr.contains("kept from its result.json"), "{stderr}");
    assert!(stderr.contains("mocoring seed 1: training"), "{stderr}");
    assert_eq!(stderr.matches("done before").count(), 5, "{stderr}");
    // The retrained run is the same run (seeded): the same accuracies, another speed.
    let accuracies = |table: &str| -> Vec<String> {
        table.lines().filter(|l| l.starts_with("| ")).map(|l| l.split('|').take(6).collect::<Vec<_>>().join("|")).collect()
    };
    assert_eq!(accuracies(&std::fs::read_to_string(out.join("compare.md")).unwrap()), accuracies(&table));

    // Flags that compare sets itself are refused with what to use instead.
    let (ok, _, stderr) = run(&["compare", "--method", "moco", "--out", out.to_str().unwrap()]);
    assert!(!ok && stderr.contains("--method: compare trains each of --methods"), "{stderr}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_run_folder_has_one_writer_and_planted_links_are_not_followed() {
    let dir = std::env::temp_dir().join(format!("ring-wgpu-lock-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    let args = ["train", "--synthetic-per-class", "4", "--batch", "10", "--epochs", "1", "--knn-k", "5", "--device", "cpu", "--out"];
    let train = || run(&args.iter().copied().chain([dir.to_str().unwrap()]).collect::<Vec<_>>());

    // Another process holds the folder: refused before any work, naming folder and holder.
    use std::io::Write;
    let mut held = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(".ring-wgpu.lock")).unwrap();
    held.try_lock().unwrap();
    writeln!(held, "pid 4242, `ring-wgpu train`").unwrap();
    let (ok, _, stderr) = train();
    assert!(!ok, "a second writer was let in");
    assert!(stderr.contains(dir.to_str().unwrap()) && stderr.contains("in use by another ring-wgpu process (pid 4242"), "{stderr}");
    assert!(!dir.join("config.json").exists() && !dir.join("metrics.jsonl").exists(), "the refused run wrote into the folder");
    drop(held);

    // Links planted where a temporary file could be predicted are never written through.
    let victim = dir.with_extension("victim");
    std::fs::write(&victim, "precious").unwrap();
    for name in ["checkpoint.tmp", "checkpoint.bin.tmp", ".checkpoint.bin.tmp"] {
        std::os::unix::fs::symlink(&victim, dir.join(name)).unwrap();
    }
    let (ok, _, stderr) = train();
    assert!(ok, "{stderr}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(std::fs::read(dir.join("checkpoint.bin")).unwrap().starts_with(b"RING-WGPU CHECKPOINT 3"));
    // Replaced files keep the mode a plain File::create gives (not tempfile's 0600).
    use std::os::unix::fs::PermissionsExt;
    std::fs::File::create(dir.join("plain")).unwrap();
    let mode = |name: &str| std::fs::metadata(dir.join(name)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("checkpoint.bin"), mode("plain"));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_file(&victim).ok();
}

#[test]
fn unusable_paths_and_sizes_are_named_before_any_work() {
    let dir = std::env::temp_dir().join(format!("ring-wgpu-paths-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let under_file = file.join("run");
    let (ok, _, stderr) = run(&["train", "--out", under_file.to_str().unwrap()]);
    assert!(!ok && stderr.contains("is a file, not a folder") && stderr.contains("--out"), "{stderr}");
    let (ok, _, stderr) = run(&["train", "--out", "/proc/ring-wgpu-cannot-be-here/run"]);
    assert!(!ok && stderr.contains("cannot write in /proc") && stderr.contains("--out"), "{stderr}");
    assert!(!stderr.contains("loading") && !stderr.contains("device:"), "refused after work began: {stderr}");

    // A folder where the checkpoint file should be.
    let run_dir = dir.join("run");
    std::fs::create_dir_all(run_dir.join("checkpoint.bin")).unwrap();
    let (ok, _, stderr) = run(&["train", "--resume", "--out", run_dir.to_str().unwrap()]);
    assert!(!ok && stderr.contains("is a folder, not a checkpoint file"), "{stderr}");

    // A run this machine cannot hold (the drawn bank rows: B x k x D x 4 bytes, ~1.4 PB)
    // is refused naming the setting, before training starts.
    let big = dir.join("big");
    let (ok, _, stderr) = run(&[
        "train",
        "--device",
        "cpu",
        "--method",
        "ir",
        "--synthetic-per-class",
        "1000",
        "--batch",
        "4096",
        "--samples",
        "1000000",
        "--projection-dim",
        "8192",
        "--out",
        big.to_str().unwrap(),
    ]);
    assert!(!ok && stderr.contains("--samples: this run needs about") && stderr.contains("more than this machine's"), "{stderr}");
    assert!(!big.exists());
    // On a GPU, a queue larger than the adapter's largest buffer (lavapipe: 2 GiB).
    let (ok, _, stderr) = run(&[
        "train",
        "--device",
        "gpu",
        "--method",
        "moco",
        "--synthetic-per-class",
        "4",
        "--batch",
        "10",
        "--queue",
        "8388608",
        "--out",
        big.to_str().unwrap(),
    ]);
    assert!(!ok && stderr.contains("--queue: the queue takes 4.00 GiB, more than the largest buffer this GPU allows"), "{stderr}");
    assert!(!big.exists());

    let (ok, _, stderr) = run(&["embed", "--out", run_dir.to_str().unwrap(), "--size", "0"]);
    assert!(!ok && stderr.contains("--size"), "{stderr}");

    // A file name with a terminal escape is shown escaped.
    let hostile = dir.join("bad\u{1b}[31mname.toml");
    let (ok, _, stderr) = run(&["train", "--config", hostile.to_str().unwrap()]);
    assert!(!ok && !stderr.contains('\u{1b}') && stderr.contains("\\u{1b}"), "{stderr:?}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Runs scripts/gpu-check.sh with this build's binary, a stand-in `nvidia-smi` that reads
/// 1234 MiB, and `extra` arguments; returns its exit status, stdout+stderr and report.
fn gpu_check(name: &str, extra: &[&str]) -> (bool, String, serde_json::Value, String) {
    let dir = std::env::temp_dir().join(format!("ring-wgpu-gpu-check-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let fake = dir.join("bin");
    std::fs::create_dir_all(&fake).unwrap();
    let smi = fake.join("nvidia-smi");
    std::fs::write(&smi, "#!/bin/sh\necho 1234\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&smi, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = dir.join("out");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/gpu-check.sh");
    let path = format!("{}:{}", fake.display(), std::env::var("PATH").unwrap_or_default());
    let run = Command::new("bash")
        .arg(&script)
        .args(["--bin", env!("CARGO_BIN_EXE_ring-wgpu"), "--out", out.to_str().unwrap()])
        .args(extra)
        .env("PATH", path)
        .env_remove("OUT")
        .env_remove("RING_WGPU_GPU_CONV")
        .env_remove("RING_WGPU_GPU_NORM")
        .output()
        .expect("bash runs");
    let log = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    let json = std::fs::read_to_string(out.join("gpu-check.json")).unwrap_or_else(|e| panic!("no gpu-check.json ({e}):\n{log}"));
    let md = std::fs::read_to_string(out.join("gpu-check.md")).unwrap_or_else(|e| panic!("no gpu-check.md ({e}):\n{log}"));
    let _ = std::fs::remove_dir_all(&dir);
    (run.status.success(), log, serde_json::from_str(&json).expect("gpu-check.json is JSON"), md)
}

#[test]
fn gpu_check_quick_measures_every_part_on_this_adapter() {
    let (ok, log, report, md) = gpu_check("quick", &["--quick"]);
    assert!(ok, "gpu-check --quick failed:\n{log}");
    let parts = &report["parts"];
    for part in [
        "info",
        "train-small-gpu",
        "ring",
        "train-r18-gpu-norm",
        "train-r18-gpu-burn",
        "train-r18-gpu-matmul",
        "ops-gpu",
        "epoch",
        "train-small-cpu",
        "train-r18-cpu",
    ] {
        assert_eq!(parts[part]["status"], "ok", "{part}:\n{log}");
    }
    assert_eq!(parts["train-r18-gpu"]["status"], "skipped", "--quick leaves ResNet-18 on the GPU out");
    // The sampled device memory reaches the parts that ran.
    assert_eq!(parts["train-small-gpu"]["peak_device_mib"], 1234.0, "{log}");
    let rows = report["train_step"].as_array().expect("training-step rows");
    for method in ["moco", "mocoring"] {
        for runner in [
            "ring-wgpu GPU",
            "ring-wgpu GPU, WGSL batch norm",
            "ring-wgpu GPU, burn's convolution",
            "ring-wgpu GPU, conv as matmul",
            "ring-wgpu CPU",
        ] {
            let row = rows
                .iter()
                .find(|r| {
                    // "ring-wgpu CPU (burn flex backend, N threads)"; the GPU runners by name.
                    let name = r["runner"].as_str().unwrap();
                    r["method"] == method && r["model"] == "small" && (name == runner || name.starts_with(&format!("{runner} (")))
                })
                .unwrap_or_else(|| panic!("no {runner} {method} row:\n{md}"));
            assert!(row["images_per_s"].as_f64().unwrap() > 0.0, "{row}");
            // Each part's rows computed their operations in its forms: the default GPU one's
            // convolutions transposed (stride 1) in a build with burn's autotune, burn's
            // without (as the tests build), the switches' theirs, the CPU none of these.
            let counts = ["matmul_convs", "transposed_convs", "wgsl_norms"]
                .map(|field| row[field].as_u64().unwrap_or_else(|| panic!("{field}: {row}")) > 0);
            let transposed_by_default = cfg!(feature = "autotune");
            let want = match runner {
                "ring-wgpu GPU" => [false, transposed_by_default, false],
                "ring-wgpu GPU, WGSL batch norm" => [false, transposed_by_default, true],
                "ring-wgpu GPU, conv as matmul" => [true, false, false],
                _ => [false, false, false],
            };
            assert_eq!(counts, want, "(matmul_convs, transposed_convs, wgsl_norms) > 0: {row}");
            assert!(row["first_step_ms"].as_f64().unwrap() > 0.0, "the first step is timed apart: {row}");
        }
    }
    let ring = report["ring"]["rows"].as_array().expect("bench ring rows");
    assert!(!ring.is_empty() && ring.iter().all(|r| r["verified"] == true), "{md}");
    let ops = report["ops"].as_array().expect("bench ops rows");
    assert!(ops.iter().any(|r| r["op"] == "conv forward") && ops.iter().all(|r| r["ms"].as_f64().unwrap() >= 0.0), "{md}");
    assert!(report["epoch"]["images_per_s"].as_f64().unwrap() > 0.0, "{md}");
    assert!(report["epoch"]["projected_200_epochs_hours"].as_f64().unwrap() > 0.0, "{md}");
    assert_eq!(report["epoch"]["switches"], "default", "{md}");
    assert!(!md.contains("**warning**"), "every part computed its convolutions in its form:\n{md}");
    for section in [
        "| part | status |",
        "## Training step",
        "Phases of a ring-wgpu step",
        "## Ring selection",
        "## Where a training pass goes",
        "## One epoch",
    ] {
        assert!(md.contains(section), "gpu-check.md lacks {section}:\n{md}");
    }
}

#[test]
fn gpu_check_runs_only_the_parts_named_and_refuses_an_unknown_one() {
    // `info` runs without being named: the GPU parts need its adapter check.
    let (ok, log, report, md) = gpu_check("parts", &["--quick", "--parts", "ring"]);
    assert!(ok, "gpu-check --quick --parts ring failed:\n{log}");
    assert_eq!(report["parts"]["info"]["status"], "ok", "{md}");
    assert_eq!(report["parts"]["ring"]["status"], "ok", "{md}");
    for part in ["train-small-gpu", "ops-gpu", "epoch", "train-small-cpu", "train-r18-gpu-matmul"] {
        assert_eq!(report["parts"][part]["status"], "skipped", "{part}: {md}");
        assert_eq!(report["parts"][part]["reason"], "not in --parts", "{part}: {md}");
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/gpu-check.sh");
    for (parts, named) in [("info,epochs", "'epochs'"), ("info, ring", "' ring'"), (",ring", "''")] {
        let run = Command::new("bash").arg(&script).args(["--quick", "--parts", parts]).output().expect("bash runs");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "--parts {parts:?}: {stderr}");
        assert!(stderr.contains(&format!("--parts: no part named {named}")) && stderr.contains("epoch,"), "--parts {parts:?}: {stderr}");
    }
}

#[test]
fn gpu_check_refuses_a_software_adapter_outside_quick_and_still_reports() {
    // Without --quick the adapter must be a hardware GPU; with 16 s of budget every later
    // part is skipped for want of time, and the report is written all the same.
    let (ok, log, report, md) = gpu_check("software", &["--budget", "16"]);
    assert!(!ok, "a software adapter must fail the full check:\n{log}");
    assert_eq!(report["parts"]["info"]["status"], "failed", "{md}");
    assert!(log.contains("software"), "{log}");
    for part in
        ["train-small-gpu", "ring", "ops-gpu", "epoch", "train-r18-gpu", "train-r18-gpu-norm", "train-r18-gpu-burn", "train-r18-gpu-matmul"]
    {
        assert_eq!(report["parts"][part]["status"], "skipped", "{part}: {md}");
    }
}
