#!/usr/bin/env bash
# Does Ring's deficit at 20 epochs (issue 24: MoCoRing 1.4 kNN points behind MoCo over 3
# seeds) shrink with training length? MoCoRing against MoCo at 50 epochs, seed 1, otherwise
# the budget of scripts/cifar-ring-experiment.sh: small ResNet, 32 px, batch 256, queue
# 16,384, u annealed linearly from 100 to 10 over the first half with l = 1, kNN every 10
# epochs, then a linear probe. 40-80 minutes a run on 2 AVX-512 cores (MoCo alone: 39 min).
#
#   scripts/cifar-long-experiment.sh [DATA_DIR] [OUT]
#
# DATA_DIR: CIFAR-10 as image folders (default cifar10-jpg); OUT: default
# results/cifar10-50ep. `compare` checkpoints every epoch: running the script again resumes
# where it stopped. RING_WGPU names the binary (default target/release/ring-wgpu); SEEDS the
# seeds, comma-separated (default 1; seeds 1 and 2 finished on 2026-12-04, BENCHMARKS.md;
# SEEDS=1,2 reprints their joint report without training).
set -euo pipefail
data=${1:-cifar10-jpg}
out=${2:-results/cifar10-50ep}
bin=${RING_WGPU:-target/release/ring-wgpu}
seeds=${SEEDS:-1}
"$bin" compare --methods mocoring,moco --seeds "$seeds" --dataset folder --data-dir "$data" --model small --batch 256 \
  --queue 16384 --epochs 50 --upper 10 --lower 1 --anneal linear --knn-every 10 --device cpu --out "$out"
