#!/usr/bin/env python3
"""The operations of `ring-wgpu bench ops` in PyTorch eager, same shapes, same method.

Each distinct convolution of the encoder (forward; input gradient; weight gradient), batch
norm in training mode (forward; backward), ReLU, the residual add and the head matmul, timed
as `bench ops` times them: gradients through autograd with only the one input requiring
grad, `(y * g).sum()`, only `backward()` timed. `--no-mkldnn` switches oneDNN off
(im2col + BLAS convolutions). Prints a Markdown table and writes JSON with `--json`.

usage: torch_ops_bench.py [--model small|resnet18] [--batch 64] [--threads 2] [--repeats 5] [--no-mkldnn] [--json FILE]
"""
import argparse, json, time
import torch, torch.nn as nn, torch.nn.functional as F


def layers(model):
    widths, per_stage = {"small": ([16, 32, 64], 1), "resnet18": ([64, 128, 256, 512], 2)}[model]
    convs, norms = [], []

    def add(item, items):
        for entry in items:
            if entry[0] == item:
                entry[1] += 1
                return
        items.append([item, 1])

    size = 32
    add((3, widths[0], size, 3, 1), convs)
    add((widths[0], size), norms)
    cin = widths[0]
    for stage, width in enumerate(widths):
        for i in range(per_stage):
            stride = 2 if stage > 0 and i == 0 else 1
            add((cin, width, size, 3, stride), convs)
            if stride != 1 or cin != width:
                add((cin, width, size, 1, stride), convs)
                add((width, size // stride), norms)
            size //= stride
            add((width, width, size, 3, 1), convs)
            add((width, size), norms)
            add((width, size), norms)
            cin = width
    return convs, norms, widths[-1]


def timed(repeats, f):
    f()
    start = time.perf_counter()
    for _ in range(repeats):
        f()
    return (time.perf_counter() - start) * 1e3 / repeats


def timed_backward(repeats, build):
    build().backward()
    total = 0.0
    for _ in range(repeats):
        loss = build()
        start = time.perf_counter()
        loss.backward()
        total += time.perf_counter() - start
    return total * 1e3 / repeats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="small")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-mkldnn", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.no_mkldnn:
        torch.backends.mkldnn.enabled = False
    b = a.batch
    convs, norms, f = layers(a.model)
    rows = []

    def push(op, shape, per_pass, ms, flop=None):
        rows.append({"op": op, "shape": shape, "per_pass": per_pass, "ms": ms, "ms_per_pass": ms * per_pass,
                     "gflops": None if flop is None or ms <= 0 else flop / (ms * 1e6)})

    for (cin, cout, size, k, stride), per_pass in convs:
        pad, out = k // 2, size // stride
        flop = 2.0 * b * cout * out * out * cin * k * k
        shape = f"{b}x{cin}x{size}x{size} k{k} s{stride} -> {cout}"
        x = torch.randn(b, cin, size, size)
        w = torch.randn(cout, cin, k, k)
        g = torch.randn(b, cout, out, out)
        with torch.no_grad():
            fwd = timed(a.repeats, lambda: F.conv2d(x, w, None, stride, pad))
        push("conv forward", shape, per_pass, fwd, flop)
        for name, track_x in [("conv grad x", True), ("conv grad w", False)]:
            xa = x.clone().requires_grad_(track_x)
            wa = w.clone().requires_grad_(not track_x)

            push(name, shape, per_pass, timed_backward(a.repeats, lambda: (F.conv2d(xa, wa, None, stride, pad) * g).sum()), flop)
    for (channels, size), per_pass in norms:
        shape = f"{b}x{channels}x{size}x{size}"
        x = torch.randn(b, channels, size, size)
        bn = nn.BatchNorm2d(channels).train()
        g = torch.randn_like(x)
        with torch.no_grad():
            fwd = timed(a.repeats, lambda: bn(x))
        push("batchnorm fwd", shape, per_pass, fwd)
        xa = x.clone().requires_grad_(True)

        push("batchnorm bwd", shape, per_pass, timed_backward(a.repeats, lambda: (bn(xa) * g).sum()))
        push("relu fwd", shape, per_pass, timed(a.repeats, lambda: F.relu(x)))
        push("add", shape, per_pass, timed(a.repeats, lambda: x + x))
    h, wm = torch.randn(b, f), torch.randn(f, f)
    push("head matmul", f"{b}x{f} @ {f}x{f}", 2, timed(a.repeats, lambda: h @ wm), 2.0 * b * f * f)
    print("| op | shape | per pass | ms | ms per pass | GFLOP/s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        gf = "" if r["gflops"] is None else f"{r['gflops']:.1f}"
        print(f"| {r['op']} | {r['shape']} | {r['per_pass']} | {r['ms']:.2f} | {r['ms_per_pass']:.2f} | {gf} |")
    total = sum(r["ms_per_pass"] for r in rows)
    conv = sum(r["ms_per_pass"] for r in rows if r["op"].startswith("conv"))
    print(f"\none training pass of the query encoder (forward + both gradients): {total:.1f} ms, of which convolutions {conv:.1f} ms ({100 * conv / total:.0f}%)")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
