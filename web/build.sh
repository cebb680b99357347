#!/usr/bin/env bash
# Builds the npm package web/pkg: two builds of the same API, each cargo (profile
# wasm-release: fat LTO, one codegen unit, size-optimised but for the CPU kernels),
# then wasm-bindgen at the Cargo.lock version (--remove-name-section):
#   pkg/webgpu/  WebGPU and the CPU (the `webgpu` feature: burn's WebGPU backend, our WGSL)
#   pkg/cpu/     the CPU backend only (--no-default-features), a fraction of the size
# and pkg/index.js (web/npm/index.js), whose init() loads one of them; then package.json,
# README and TypeScript types, Brotli and gzip copies of each module and glue
# (web/precompress.mjs; web/serve.sh sends them), and the size report checked against
# web/size-budget.json (web/size-check.mjs). Installs what is missing (wasm32 toolchain,
# wasm-bindgen-cli, npm packages).
#
#   web/build.sh               # build web/pkg
#   MODULES=webgpu web/build.sh  # one build only (webgpu or cpu): quicker while developing;
#                              # the size check then covers that one
#   WASM_OPT=1 web/build.sh    # also wasm-opt -O2 with a current binaryen from npm (Debian's
#                              # 108 breaks the module). Off by default (measured before the
#                              # wasm-release profile: 29.8 -> 22.1 MB raw, but 4.56 -> 4.65 MB
#                              # gzipped, in 11 minutes).
#   PRECOMPRESS=0 web/build.sh # without the .br / .gz copies (Brotli q11 takes ~1 min); also
#                              # skips the size check, which reads them
#   KEEP_NAMES=1 web/build.sh  # keep the name section (function names in browser profiles:
#                              # BENCH_PROFILE=1 web/tests/bench.mjs); larger, so not for
#                              # shipping: no .br / .gz copies, no size check. Sizes by crate of
#                              # cargo's output: scripts/wasm_crate_sizes.py
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$root"

toolchain=$(wasm_toolchain)
modules=${MODULES:-webgpu cpu}
ensure_wasm_bindgen
out="$web_dir/pkg"
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
for kind in $modules; do
  case $kind in
    webgpu) features=() ;;
    cpu) features=(--no-default-features) ;;
    *) echo "MODULES=$modules: each is webgpu or cpu" >&2; exit 2 ;;
  esac
  log "cargo build --profile wasm-release (wasm32, $kind build, toolchain $toolchain)"
  cargo "+$toolchain" build --locked --profile wasm-release -p ring-wgpu-web --target wasm32-unknown-unknown "${features[@]}" >&2
  log "wasm-bindgen --target web ($kind)"
  names=(--remove-name-section)
  [ "${KEEP_NAMES:-0}" = 1 ] && names=()
  wasm-bindgen --target web "${names[@]}" --out-dir "$out.tmp/$kind" \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/ring_wgpu_web.wasm" >&2
  rm -f "$out.tmp/$kind/.gitignore" "$out.tmp/$kind/package.json"
  bg="$out.tmp/$kind/ring_wgpu_web_bg.wasm"
  if [ "${WASM_OPT:-0}" = 1 ]; then
    ensure_node_modules
    log "wasm-opt -O2 ($kind; binaryen $(cd "$web_dir" && node -p "require('binaryen/package.json').version"))"
    (cd "$web_dir" && npx --no-install wasm-opt -O2 --enable-bulk-memory --enable-nontrapping-float-to-int \
       --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue --enable-simd "$bg" -o "$bg.opt" >&2)
    mv "$bg.opt" "$bg"
  fi
done
cp "$web_dir/npm/package.json" "$web_dir/npm/README.md" "$web_dir/npm/index.js" "$web_dir/npm/index.d.ts" \
  "$web_dir/../LICENSE-MIT" "$web_dir/../LICENSE-APACHE" "$out.tmp/"
rm -rf "$out" && mv "$out.tmp" "$out"
if [ "${KEEP_NAMES:-0}" = 1 ] && [ "${PRECOMPRESS:-1}" != 0 ]; then
  log "KEEP_NAMES=1: no .br / .gz copies and no size check (the name section is not shipped)"
elif [ "${PRECOMPRESS:-1}" != 0 ]; then
  for kind in $modules; do
    log "precompress $kind (Brotli, gzip)"
    node "$web_dir/precompress.mjs" "$out/$kind" >&2
  done
  node "$web_dir/size-check.mjs" "$out"
fi
