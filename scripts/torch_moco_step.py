#!/usr/bin/env python3
"""ring-wgpu's PyTorch peer: the MoCo and MoCoRing training step of `ring-wgpu bench train`,
written in PyTorch eager, on the CPU or on CUDA, timed the same way.

The model and the step are ring-wgpu's: a CIFAR-form ResNet (small: widths 16-32-64, one basic
block per stage; resnet18: 64-128-256-512, two per stage; 3x3 stem, no max pool), global
average pool, the MoCo v2 head F -> F -> 128 with ReLU, L2-normalised; a key encoder updated
by momentum (0.99) and run without gradients; logits [q.k+, q.queue^T] / 0.07, cross-entropy
with the positive at 0; SGD (lr 0.03, momentum 0.9, weight decay 1e-4); the batch's keys
replace the oldest queue entries. MoCoRing ranks each anchor's similarities to the queue and
keeps the candidates from the top l% to the top u% (l = 1, u = 10; ranks floor(l% N) to floor(u% N)) as its negatives.

Inputs are two random 32x32 views per image, made on the device: augmentation is left out
(ring-wgpu's `augment` phase is reported apart, so subtract it to compare like with like).

Timing: the model and queue are built, then the first step is timed alone (synced: cuDNN
algorithm choice and CUDA context work fall in it), then `--warmup - 1` more untimed steps,
then `--steps` steps back to back with one sync at the end. One JSON line per method:
images_per_s, step_ms, first_step_ms, setup_ms, and on CUDA the peak memory PyTorch
allocated (peak_memory_mib).

usage: torch_moco_step.py [--model small|resnet18] [--batch 256] [--queue 65536]
                          [--device cpu|cuda] [--threads N] [--warmup 3] [--steps 10]
                          [--methods moco,mocoring]
"""
import argparse
import copy
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTHS = {"small": ([16, 32, 64], 1), "resnet18": ([64, 128, 256, 512], 2)}


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm; a 1x1 projection on the shortcut when the shape changes."""

    def __init__(self, inputs, outputs, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.shortcut = nn.Identity()
        if stride != 1 or inputs != outputs:
            self.shortcut = nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class Encoder(nn.Module):
    """CIFAR-form ResNet, pooled, then the MoCo v2 head; outputs unit vectors."""

    def __init__(self, model, dim=128):
        super().__init__()
        widths, per_stage = WIDTHS[model]
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU())
        blocks, channels = [], widths[0]
        for stage, width in enumerate(widths):
            for i in range(per_stage):
                blocks.append(BasicBlock(channels, width, 2 if stage > 0 and i == 0 else 1))
                channels = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Linear(channels, channels), nn.ReLU(), nn.Linear(channels, dim))

    def forward(self, x):
        pooled = self.blocks(self.stem(x)).mean(dim=(2, 3))
        return F.normalize(self.head(pooled), dim=1)


def ring_negatives(similarities, lower, upper):
    """Each row's candidates ranked from most to least similar, kept from rank floor(l% n) to floor(u% n) (ring-wgpu's RingWindow)."""
    n = similarities.shape[1]
    outer = max(1, int(upper * n // 100))
    inner = min(outer - 1, int(lower * n // 100))
    top = torch.topk(similarities, outer, dim=1).values
    return top[:, inner:]


class MocoStep:
    """One MoCo (or MoCoRing) training step on random inputs, state kept between calls."""

    def __init__(self, model, batch, queue, ring, device):
        self.query = Encoder(model).to(device)
        self.key = copy.deepcopy(self.query)
        for p in self.key.parameters():
            p.requires_grad_(False)
        self.optimizer = torch.optim.SGD(self.query.parameters(), lr=0.03, momentum=0.9, weight_decay=1e-4)
        self.queue = F.normalize(torch.randn(queue, 128, device=device), dim=1)
        self.pointer = 0
        self.batch, self.ring, self.device = batch, ring, device

    def __call__(self):
        views = torch.randn(2, self.batch, 3, 32, 32, device=self.device)
        q = self.query(views[0])
        with torch.no_grad():
            for pq, pk in zip(self.query.parameters(), self.key.parameters()):
                pk.mul_(0.99).add_(pq.detach(), alpha=0.01)
            k = self.key(views[1])
        positive = (q * k).sum(dim=1, keepdim=True)
        negatives = q @ self.queue.t()
        if self.ring:
            negatives = ring_negatives(negatives, 1.0, 10.0)
        logits = torch.cat([positive, negatives], dim=1) / 0.07
        loss = F.cross_entropy(logits, torch.zeros(self.batch, dtype=torch.long, device=self.device))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        with torch.no_grad():
            end = self.pointer + self.batch
            if end <= self.queue.shape[0]:
                self.queue[self.pointer:end] = k
            else:
                split = self.queue.shape[0] - self.pointer
                self.queue[self.pointer:] = k[:split]
                self.queue[: end - self.queue.shape[0]] = k[split:]
            self.pointer = end % self.queue.shape[0]
        return loss


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=sorted(WIDTHS), default="small")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--queue", type=int, default=65536)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's default)")
    ap.add_argument("--warmup", type=int, default=3, help="steps before the timed ones; the first is timed alone")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--methods", default="moco,mocoring")
    a = ap.parse_args()
    if a.batch <= 0 or a.steps <= 0 or a.queue < a.batch:
        sys.exit("--batch and --steps must be positive and --queue at least --batch")
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("--device cuda: this PyTorch sees no CUDA device")
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True
    device = torch.device(a.device)
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for method in a.methods.split(","):
        if method not in ("moco", "mocoring"):
            sys.exit(f"--methods: unknown method {method!r} (moco, mocoring)")
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        started = time.perf_counter()
        step = MocoStep(a.model, a.batch, a.queue, method == "mocoring", device)
        sync()
        setup_ms = (time.perf_counter() - started) * 1e3
        first_step_ms = None
        for i in range(max(a.warmup, 1)):
            started = time.perf_counter()
            step()
            if i == 0:
                sync()
                first_step_ms = (time.perf_counter() - started) * 1e3
        sync()
        started = time.perf_counter()
        for _ in range(a.steps):
            loss = step()
        sync()
        step_ms = (time.perf_counter() - started) * 1e3 / a.steps
        row = {
            "peer": "pytorch",
            "torch": torch.__version__,
            "device": torch.cuda.get_device_name(device) if cuda else f"cpu ({torch.get_num_threads()} threads)",
            "model": a.model,
            "method": method,
            "batch": a.batch,
            "queue": a.queue,
            "images_per_s": a.batch / (step_ms / 1e3),
            "step_ms": step_ms,
            "first_step_ms": first_step_ms,
            "setup_ms": setup_ms,
            "loss": loss.item(),
        }
        if cuda:
            row["peak_memory_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
        print(json.dumps(row), flush=True)
        del step


if __name__ == "__main__":
    main()
