#!/usr/bin/env bash
# Builds the npm package web/pkg: cargo (release, wasm32), wasm-bindgen at the Cargo.lock
# version (its --remove-name-section is the size optimisation applied by default), then
# package.json, README and TypeScript types, then Brotli and gzip copies of the module and
# its glue (web/precompress.mjs; web/serve.sh sends them). Reports raw, gzip and Brotli sizes.
# Installs what is missing (wasm32 toolchain, wasm-bindgen-cli, npm packages).
#
#   web/build.sh               # build web/pkg
#   WASM_OPT=1 web/build.sh    # also wasm-opt -O2 with a current binaryen from npm (Debian's
#                              # 108 breaks the module): measured here 29.8 -> 22.1 MB raw but
#                              # 4.56 -> 4.65 MB gzipped, in 11 minutes; the module loads and
#                              # trains identically. Off by default.
#   PRECOMPRESS=0 web/build.sh # without the .br / .gz copies (Brotli q11 takes ~1 min)
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$root"

toolchain=$(wasm_toolchain)
log "cargo build --release (wasm32, toolchain $toolchain)"
cargo "+$toolchain" build --locked --release -p ring-wgpu-web --target wasm32-unknown-unknown >&2
ensure_wasm_bindgen
wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/ring_wgpu_web.wasm"
out="$web_dir/pkg"
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
log "wasm-bindgen --target web"
wasm-bindgen --target web --remove-name-section --out-dir "$out.tmp" "$wasm" >&2
bg="$out.tmp/ring_wgpu_web_bg.wasm"
raw_before=$(stat -c %s "$bg")
if [ "${WASM_OPT:-0}" = 1 ]; then
  ensure_node_modules
  log "wasm-opt -O2 (binaryen $(cd "$web_dir" && node -p "require('binaryen/package.json').version"))"
  (cd "$web_dir" && npx --no-install wasm-opt -O2 --enable-bulk-memory --enable-nontrapping-float-to-int \
     --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue --enable-simd "$bg" -o "$bg.opt" >&2)
  mv "$bg.opt" "$bg"
fi
cp "$web_dir/npm/package.json" "$web_dir/npm/README.md" "$web_dir/../LICENSE-MIT" "$web_dir/../LICENSE-APACHE" "$out.tmp/"
rm -f "$out.tmp/.gitignore"
rm -rf "$out" && mv "$out.tmp" "$out"
raw=$(stat -c %s "$out/ring_wgpu_web_bg.wasm")
gz=$(gzip -9 -c "$out/ring_wgpu_web_bg.wasm" | wc -c)
if [ "${PRECOMPRESS:-1}" != 0 ]; then
  log "precompress (Brotli, gzip)"
  node "$web_dir/precompress.mjs" "$out" >&2
fi
echo "web/pkg: ring_wgpu_web_bg.wasm $(( raw / 1024 )) KiB raw ($(( raw_before / 1024 )) KiB from wasm-bindgen), $(( gz / 1024 )) KiB gzipped"
