#!/usr/bin/env bash
# Browser tests of the web package, in Debian's headless Chromium with WebGPU
# (--enable-unsafe-webgpu; SwiftShader without a GPU):
#   1. web/tests/browser.rs (wasm-bindgen-test through chromedriver): the Ring kernels
#      against their references on the browser's WebGPU;
#   2. web/build.sh: the npm package web/pkg (its WebGPU and CPU-only builds, wasm-bindgen,
#      compressed copies, the size check against web/size-budget.json);
#   3. web/tests/page.test.mjs (playwright-core): the demo page end to end;
#   4. web/tests/vite.test.mjs: the package installed into a fresh Vite project (vite build,
#      vite dev), and in Node.
#
# Installs what it needs if missing (chromium, chromium-driver, wasm-bindgen-cli at the
# Cargo.lock version, web/node_modules from package-lock.json). Prints one summary line,
# `browser: N passed, M failed`, and exits non-zero if a test fails or cannot run.
# Respects CARGO_TARGET_DIR (default: $HOME/.cache/ring-wgpu/target). Tunables:
# WASM_BINDGEN_TEST_TIMEOUT (seconds, default 300), PAGE_STEPS, PAGE_DEVICE (see page.test.mjs).
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$root"

start=$(date +%s)
step() { echo "== [browser $(( $(date +%s) - start ))s] $*"; }
passed=0
failed=0
summary() { echo "browser: $passed passed, $failed failed"; }
trap summary EXIT
export CARGO_TERM_COLOR=never NO_COLOR=1

ensure_apt chromium chromium-driver
chromedriver=$(command -v chromedriver || true)
[ -n "$chromedriver" ] || { echo "chromedriver not found after installing chromium-driver" >&2; failed=1; exit 1; }
toolchain=$(wasm_toolchain)
ensure_wasm_bindgen
ensure_node_modules

step "1/4 web/tests/browser.rs in headless Chromium (wasm-bindgen-test)"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export CHROMEDRIVER="$chromedriver"
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="${WASM_BINDGEN_TEST_WEBDRIVER_JSON:-$web_dir/webdriver.json}"
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-300}"
log=$(mktemp)
set +e
# The package's own profile (web/build.sh builds it next): its dependencies compile once for
# both, and the tests run the code as shipped (the WebGPU build).
cargo "+$toolchain" test --locked --profile wasm-release -p ring-wgpu-web --target wasm32-unknown-unknown --test browser -- --nocapture 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
grep -o 'RING_SELF_TEST .*' "$log" | head -n 1 | sed 's/^RING_SELF_TEST /browser self-test: /' || true
n=$(grep -E '^test result: ' "$log" | tail -n 1 | sed -nE 's/.* ([0-9]+) passed.*/\1/p')
rm -f "$log"
if [ "$rc" -eq 0 ] && [ "${n:-0}" -gt 0 ]; then passed=$((passed + n)); else failed=$((failed + 1)); fi

step "2/4 web/build.sh (the npm package)"
bash "$web_dir/build.sh"

step "3/4 the demo page (web/tests/page.test.mjs)"
if node "$web_dir/tests/page.test.mjs"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi

step "4/4 the package in a fresh Vite project (web/tests/vite.test.mjs)"
if node "$web_dir/tests/vite.test.mjs"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi

step "done"
[ "$failed" -eq 0 ]
