#!/usr/bin/env python3
"""Turns the parts scripts/gpu-check.sh ran into gpu-check.md and gpu-check.json.

Reads, from --work, NAME.status ("status rc seconds t0 t1 limit"), NAME.out (stdout),
NAME.json (bench output), epoch.jsonl (the epoch run's metrics) and, from --out,
gpu-memory.csv (nvidia-smi samples). Standard library only: runs wherever python3 does.
"""
import argparse
import datetime
import json
import os

PARTS = ["info", "train-small-gpu", "torch-small", "ring", "train-r18-gpu", "train-r18-gpu-norm", "train-r18-gpu-burn", "torch-r18", "ops-gpu", "epoch",
         "train-small-cpu", "train-r18-cpu", "train-r18-gpu-matmul"]
EPOCHS_PROJECTED = 200
# The GPU training-step parts: part -> (runner label, {operation count of `bench train`: whether
# the part's rows must have it above zero}). The default convolution depends on the build (the
# transposed form with burn's autotune, burn's without), so the default rows leave it open;
# RING_WGPU_GPU_NORM=wgsl, RING_WGPU_GPU_CONV=burn and =matmul are the A/B parts.
COUNTS = ("matmul_convs", "transposed_convs", "wgsl_norms")
GPU_STEP_PARTS = {
    "train-small-gpu": ("ring-wgpu GPU", {"matmul_convs": False, "wgsl_norms": False}),
    "train-r18-gpu": ("ring-wgpu GPU", {"matmul_convs": False, "wgsl_norms": False}),
    "train-r18-gpu-norm": ("ring-wgpu GPU, WGSL batch norm", {"matmul_convs": False, "wgsl_norms": True}),
    "train-r18-gpu-burn": ("ring-wgpu GPU, burn's convolution", {"matmul_convs": False, "transposed_convs": False}),
    "train-r18-gpu-matmul": ("ring-wgpu GPU, conv as matmul", {"matmul_convs": True, "transposed_convs": False}),
}


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def read_json(path):
    text = read(path)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def status(work, name):
    text = read(os.path.join(work, name + ".status"))
    if not text:
        return {"status": "not run", "rc": None, "seconds": 0.0, "t0": 0.0, "t1": 0.0, "limit": 0}
    fields = text.split()
    # "skipped REASON 0 t0 t1 limit": the reason is one word (no-time-left) or the rest.
    if fields[0] == "skipped":
        reason = " ".join(fields[1:-4]) if len(fields) > 5 else fields[1]
        return {"status": "skipped", "reason": reason, "rc": None, "seconds": 0.0, "t0": 0.0, "t1": 0.0, "limit": 0}
    st, rc, seconds, t0, t1, limit = (fields + ["0"] * 6)[:6]
    p = {"status": st, "rc": rc, "seconds": float(seconds), "t0": float(t0), "t1": float(t1), "limit": int(float(limit))}
    if not rc.lstrip("-").isdigit():
        # A part the script itself failed (e.g. "software-adapter") names why in place of rc.
        p["reason"], p["rc"] = rc, None
    else:
        p["rc"] = int(rc)
    return p


def memory_samples(out):
    samples = []
    text = read(os.path.join(out, "gpu-memory.csv")) or ""
    for line in text.splitlines()[1:]:
        try:
            t, used = line.split(",")
            samples.append((float(t), float(used)))
        except ValueError:
            continue
    return samples


def peak_memory(samples, part):
    inside = [used for t, used in samples if part["t0"] <= t <= part["t1"] + 0.5]
    return max(inside) if inside else None


def step_row(rows, runner, model, method):
    """The training-step row of `runner` ("PyTorch" matches any PyTorch version) for `model` and `method`, or None."""
    matches = (lambda r: r.startswith("PyTorch")) if runner == "PyTorch" else (lambda r: r == runner)
    return next((r for r in rows if matches(r["runner"]) and r["model"] == model and r["method"] == method), None)


def fmt(x, digits=1):
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    return f"{x:,.{digits}f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", type=int, default=0)
    ap.add_argument("--budget", type=int, default=0)
    ap.add_argument("--version", default="unknown commit")
    ap.add_argument("--seconds", type=float, default=0.0)
    a = ap.parse_args()

    parts = {name: status(a.work, name) for name in PARTS}
    samples = memory_samples(a.out)
    for name, p in parts.items():
        p["peak_device_mib"] = peak_memory(samples, p) if samples else None

    info = read(os.path.join(a.work, "info.out")) or ""
    # The GPU switches the whole check ran with ("VAR=value ..."; "" when unset: the binary's defaults).
    switches = (read(os.path.join(a.work, "gpu-switches.txt")) or "").strip()
    adapter = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("Chosen:")), None)

    train_rows = []
    runners = {part: label for part, (label, _) in GPU_STEP_PARTS.items()}
    for name in [*GPU_STEP_PARTS, "train-small-cpu", "train-r18-cpu"]:
        report = read_json(os.path.join(a.work, name + ".json"))
        for r in (report or {}).get("rows", []):
            train_rows.append({
                # The adapter is named above the tables; the CPU rows name their threads.
                "runner": runners.get(name, f"ring-wgpu {r['device']}"),
                "device": r["device"], "model": r["model"].lower(), "method": r["method"], "batch": r["batch"],
                "queue": r["queue"], "images_per_s": r["images_per_s"], "step_ms": r["step_ms"],
                "first_step_ms": r.get("first_step_ms"), "setup_ms": r.get("setup_ms"),
                "phases_ms": r.get("phases_ms"), "peak_device_mib": parts[name]["peak_device_mib"] if name in runners else None,
                # Operations computed in a switch's form: what shows the part's setting took effect.
                **{field: r.get(field) for field in COUNTS},
            })
    for name in ["torch-small", "torch-r18"]:
        for line in (read(os.path.join(a.work, name + ".out")) or "").splitlines():
            if line.startswith("{"):
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                train_rows.append({
                    "runner": f"PyTorch {r.get('torch', '')} " + (f"CUDA ({r['device']})" if "cpu" not in r["device"] else r["device"]),
                    "device": r["device"], "model": r["model"], "method": r["method"], "batch": r["batch"],
                    "queue": r["queue"], "images_per_s": r["images_per_s"], "step_ms": r["step_ms"],
                    "first_step_ms": r.get("first_step_ms"), "setup_ms": r.get("setup_ms"), "phases_ms": None,
                    "peak_device_mib": r.get("peak_memory_mib"),
                })

    ring = read_json(os.path.join(a.work, "ring.json"))
    # `bench ops --json`: one row per operation and shape, ms per call and per training pass.
    ops = read_json(os.path.join(a.work, "ops-gpu.json"))
    if not isinstance(ops, list):
        ops = None

    epoch = None
    lines = []
    for x in (read(os.path.join(a.work, "epoch.jsonl")) or "").splitlines():
        try:
            lines.append(json.loads(x))
        except ValueError:
            continue  # a line cut by the time limit
    config = read_json(os.path.join(a.work, "epoch-config.json")) or {}
    trained = [x for x in lines if x.get("epoch", 0) >= 1 and x.get("images_per_s")]
    if trained:
        ips = trained[0]["images_per_s"]
        # The run's config.json is its TrainConfig; the synthetic set has 10 classes.
        images = config.get("synthetic_per_class", 0) * 10 if config.get("dataset") == "synthetic" else 0
        # Which forms the epoch used: the switches the check ran with, if any.
        epoch = {"images_per_s": ips, "loss": trained[0].get("loss"), "command_seconds": parts["epoch"]["seconds"],
                 "peak_device_mib": parts["epoch"]["peak_device_mib"],
                 "switches": switches or "default"}
        if images:
            epoch["train_images"] = images
            epoch["epoch_seconds"] = images / ips
            epoch[f"projected_{EPOCHS_PROJECTED}_epochs_hours"] = images / ips * EPOCHS_PROJECTED / 3600

    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "version": a.version, "quick": bool(a.quick), "budget_s": a.budget, "seconds": a.seconds,
        "adapter": adapter, "gpu_switches": switches or None, "parts": parts, "train_step": train_rows, "ring": ring, "ops": ops, "epoch": epoch,
    }
    with open(os.path.join(a.out, "gpu-check.json"), "w") as f:
        json.dump(result, f, indent=2)

    md = []
    md.append(f"# GPU check{' (--quick: tiny shapes)' if a.quick else ''}\n")
    md.append(f"- date: {result['date']}; ring-wgpu {a.version}; {a.seconds:.0f} s of a {a.budget} s budget")
    if switches:
        md.append(f"- the check ran with {switches} in its environment: every part that sets no such variable of its own "
                  "ran with it, so the GPU rows' forms are not the defaults")
    md.append(f"- adapter: {adapter or 'none found'}")
    md.append("")
    md.append("| part | status | seconds | peak device MiB |")
    md.append("|---|---|---|---|")
    for name, p in parts.items():
        st = p["status"] + (f" ({p['reason']})" if p.get("reason") else "") + (f" (rc {p['rc']})" if p["status"] == "failed" and p["rc"] is not None else "")
        md.append(f"| {name} | {st} | {fmt(p['seconds'])} | {fmt(p['peak_device_mib'], 0)} |")
    if train_rows:
        md.append("\n## Training step (two 32x32 views per image; steady state after the warm-up steps)\n")
        md.append("Peak device MiB: for ring-wgpu, nvidia-smi's device-wide memory in use during the whole part (both methods, "
                  "CUDA context and caches included); for PyTorch, `torch.cuda.max_memory_allocated` for that method alone "
                  "(tensors only). Compare them as orders of magnitude.\n")
        md.append("| model | method | batch | queue | runner | images/s | step ms | first step ms | setup ms | peak device MiB |")
        md.append("|---|---|---|---|---|---|---|---|---|---|")
        for r in sorted(train_rows, key=lambda r: (r["model"] != "small", r["method"], r["runner"])):
            md.append(f"| {r['model']} | {r['method']} | {r['batch']} | {r['queue']:,} | {r['runner']} | "
                      f"{fmt(r['images_per_s'])} | {fmt(r['step_ms'], 2)} | {fmt(r['first_step_ms'], 0)} | {fmt(r['setup_ms'], 0)} | "
                      f"{fmt(r['peak_device_mib'], 0)} |")
        # Each part's forms show in its rows' counts. With a switch set for the whole check, the
        # parts run mixed forms: the line above the tables says so, and nothing is checked.
        expected = {label: counts for label, counts in GPU_STEP_PARTS.values()}
        for r in train_rows:
            counts = expected.get(r["runner"])
            if counts is None or switches:
                continue
            if any(bool(r.get(field)) != above_zero for field, above_zero in counts.items()):
                md.append(f"- **warning**: {r['runner']} ({r['model']} {r['method']}) did not compute its operations in the "
                          f"part's forms ({', '.join(f'{field} {r.get(field)}' for field in COUNTS)})")
        ratios = []
        for model in ["small", "resnet18"]:
            for method in ["moco", "mocoring"]:
                peer = step_row(train_rows, "PyTorch", model, method)
                for runner in dict.fromkeys(label for label, _ in GPU_STEP_PARTS.values()):
                    ours = step_row(train_rows, runner, model, method)
                    if ours and peer:
                        ratios.append(f"- {model} {method}: {runner} at {ours['images_per_s'] / peer['images_per_s']:.2f}x PyTorch's images/s "
                                      f"(PyTorch's step leaves out augmentation; ring-wgpu's augment phase: {fmt((ours['phases_ms'] or {}).get('augment'), 2)} ms)")
        if ratios:
            md.append("")
            md.extend(ratios)
        phased = [r for r in train_rows if not r["runner"].startswith("PyTorch") and r.get("phases_ms")]
        if phased:
            md.append("\nPhases of a ring-wgpu step, ms:\n")
            names = sorted({k for r in phased for k in r["phases_ms"]})
            md.append("| model | method | runner | " + " | ".join(names) + " |")
            md.append("|---|---|---|" + "---|" * len(names))
            for r in phased:
                md.append(f"| {r['model']} | {r['method']} | {r['runner']} | "
                          + " | ".join(fmt(r["phases_ms"].get(k), 2) for k in names) + " |")
    if ring:
        md.append(f"\n## Ring selection (`bench ring`, l = {ring.get('lower')}%, u = {ring.get('upper')}%)\n")
        md.append("| B | N | ring | GPU ms | CPU select ms | GPU GB/s | verified against the CPU |")
        md.append("|---|---|---|---|---|---|---|")
        for r in ring.get("rows", []):
            md.append(f"| {r['batch']} | {r['candidates']:,} | {r['ring_len']} | {fmt(r['gpu_ms'], 3)} | {fmt(r['cpu_select_ms'], 2)} | "
                      f"{fmt(r['gpu_gb_per_s'], 1)} | {r['verified']} |")
    if ops:
        total = sum(r.get("ms_per_pass") or 0 for r in ops)
        by_op = {}
        for r in ops:
            by_op[r["op"]] = by_op.get(r["op"], 0) + (r.get("ms_per_pass") or 0)
        md.append("\n## Where a training pass goes on the GPU (`bench ops --gpu`, the query encoder's layers)\n")
        md.append(f"- one pass (forward and both gradients, each layer once per use): {fmt(total, 1)} ms; by operation: "
                  + ", ".join(f"{op} {fmt(ms, 1)} ms ({100 * ms / total:.0f}%)" for op, ms in sorted(by_op.items(), key=lambda x: -x[1]) if total))
        md.append("\nThe ten costliest (operation, shape):\n")
        md.append("| op | shape | uses per pass | ms per call | ms per pass | GFLOP/s |")
        md.append("|---|---|---|---|---|---|")
        for r in sorted(ops, key=lambda r: -(r.get("ms_per_pass") or 0))[:10]:
            md.append(f"| {r['op']} | {r['shape']} | {r.get('per_pass')} | {fmt(r.get('ms'), 3)} | {fmt(r.get('ms_per_pass'), 3)} | "
                      f"{fmt(r.get('gflops'), 1)} |")
    if epoch:
        md.append("\n## One epoch of `--preset paper-cifar10-mocoring` on synthetic images\n")
        md.append(f"- model {config.get('model', '?')}, batch {config.get('batch', '?')}, queue {config.get('queue', '?')}, "
                  f"{fmt(epoch.get('train_images'), 0)} training images, {fmt(epoch['images_per_s'])} images/s, "
                  f"{'the default GPU forms' if epoch['switches'] == 'default' else epoch['switches']}")
        md.append(f"- training: {fmt(epoch['images_per_s'])} images/s = {fmt(epoch.get('epoch_seconds'))} s per epoch; "
                  f"{EPOCHS_PROJECTED} epochs would take {fmt(epoch.get(f'projected_{EPOCHS_PROJECTED}_epochs_hours'), 2)} h of training "
                  f"(plus the kNN monitor: the whole one-epoch command, with its kNN before and after, took {fmt(epoch['command_seconds'])} s)")
    elif not a.quick:
        # The epoch did not finish (its kNN monitor embeds 75,000 images before and after):
        # project from the ResNet-18 step instead, saying so.
        step = step_row(train_rows, "ring-wgpu GPU", "resnet18", "mocoring")
        md.append("\n## One epoch of `--preset paper-cifar10-mocoring`: not finished\n")
        if step:
            seconds = 50_000 / step["images_per_s"]
            md.append(f"- projected from the ResNet-18 MoCoRing step instead ({fmt(step['images_per_s'])} images/s): "
                      f"{fmt(seconds)} s per 50,000-image epoch, {EPOCHS_PROJECTED} epochs in {fmt(seconds * EPOCHS_PROJECTED / 3600, 2)} h "
                      f"of training, the kNN monitor not counted")
        else:
            md.append("- and no ResNet-18 step measured to project from")
    with open(os.path.join(a.out, "gpu-check.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
