# Shared by web/build.sh and web/ci-browser-test.sh (source it): installs what the web
# package needs when it is missing. Progress goes to stderr.

web_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$web_dir")
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ring-wgpu/target}"
export PATH="$HOME/.cargo/bin:$PATH"

log() { echo "== [web] $*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; return 1; fi
}

# Debian packages, installed when missing.
ensure_apt() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]} (apt)"
  as_root apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
}

# Prints the rustup toolchain that can build wasm32-unknown-unknown.
wasm_toolchain() {
  if [ -f "$root/../shared/tools/wasm-toolchain.sh" ]; then
    bash "$root/../shared/tools/wasm-toolchain.sh"
  else
    if [ ! -d "$(rustc --print sysroot)/lib/rustlib/wasm32-unknown-unknown/lib" ]; then
      log "adding the wasm32-unknown-unknown target (rustup)"
      rustup target add wasm32-unknown-unknown >&2
    fi
    rustup show active-toolchain | awk '{print $1}'
  fi
}

# wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock (other versions
# refuse the module).
ensure_wasm_bindgen() {
  local want have
  want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' "$root/Cargo.lock")
  [ -n "$want" ] || { echo "could not read the wasm-bindgen version from Cargo.lock" >&2; return 1; }
  have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
  if [ "$have" != "$want" ] || ! command -v wasm-bindgen-test-runner >/dev/null; then
    log "installing wasm-bindgen-cli $want (found: ${have:-none}; a few minutes on 2 cores)"
    # Its own temporary target dir: do not hold the project's build lock for the install.
    env -u CARGO_TARGET_DIR cargo install wasm-bindgen-cli --version "$want" --force >&2
  fi
}

# node_modules of web/ (playwright-core, binaryen, vite), from web/package-lock.json.
ensure_node_modules() {
  command -v npm >/dev/null || ensure_apt nodejs npm
  if [ ! -d "$web_dir/node_modules/playwright-core" ] || [ "$web_dir/package-lock.json" -nt "$web_dir/node_modules/.package-lock.json" ]; then
    log "npm ci (web/package.json)"
    (cd "$web_dir" && npm ci --no-audit --no-fund >&2)
  fi
}
