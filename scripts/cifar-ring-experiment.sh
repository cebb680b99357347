#!/usr/bin/env bash
# Issue 24's CIFAR-10 experiment: Ring against its plain method (MoCoRing vs MoCo, IRing vs
# IR) over 3 seeds, then IRing's two ablations from the paper (Ball: l = 0; no annealing) at
# one seed, all at one budget: small ResNet, 32 px, batch 256, a MoCo queue of 16,384, IR's
# bank of all 50,000 images, u annealed linearly from 100 to 10 over the first half with
# l = 1, 20 epochs, kNN every 5 epochs, then a linear probe. BENCHMARKS.md has the results.
#
#   scripts/cifar-ring-experiment.sh [DATA_DIR] [OUT]
#
# DATA_DIR: CIFAR-10 as image folders (train/<class>/*.jpg, test/<class>/*.jpg), default
# cifar10-jpg (`ring-wgpu data cifar10` or ../shared/data/cifar10-jpg.tar.gz unpacked).
# OUT: where the runs go (default results/cifar10, whose run records are in git; the
# ablations go to OUT-ball and OUT-noanneal). Each run keeps its checkpoint, so running the
# script again resumes where it stopped; a finished run is kept, with or without its
# checkpoint, when its config.json records the same settings (the same DATA_DIR string too). RING_WGPU names the binary (default
# target/release/ring-wgpu); METHODS and SEEDS narrow the main comparison (defaults
# mocoring,moco,iring,ir and 1 2 3). About 35-40 minutes a run with its probe on 2 AVX-512
# cores, 2.5-4.5 hours on 2 cores with AVX2 only. The last command's table covers SEEDS only.
set -euo pipefail
data=${1:-cifar10-jpg}
out=${2:-results/cifar10}
bin=${RING_WGPU:-target/release/ring-wgpu}
methods=${METHODS:-mocoring,moco,iring,ir}
seeds=${SEEDS:-1 2 3}
budget=(--dataset folder --data-dir "$data" --model small --batch 256 --queue 16384 --epochs 20
  --upper 10 --knn-every 5 --device cpu)

# One seed at a time, all methods of that seed, so that every pair has the same seeds done.
for seed in $seeds; do
  "$bin" compare --methods "$methods" --seeds "$seed" "${budget[@]}" --lower 1 --anneal linear --out "$out"
done
"$bin" compare --methods iring --seeds 1 "${budget[@]}" --lower 0 --anneal linear --out "$out-ball"
"$bin" compare --methods iring --seeds 1 "${budget[@]}" --lower 1 --anneal none --out "$out-noanneal"
# The table over every seed (reads the finished runs back; trains nothing).
"$bin" compare --methods "$methods" --seeds "${seeds// /,}" "${budget[@]}" --lower 1 --anneal linear --out "$out"
