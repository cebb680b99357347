#!/usr/bin/env bash
# Builds the package (unless web/pkg exists and SKIP_BUILD=1) and serves the demo page on
# http://127.0.0.1:${PORT:-8000}/www/ (static files from web/ through web/server.mjs, which
# sends the precompressed module, Brotli or gzip, to browsers that accept it; Ctrl-C stops).
#
#   web/serve.sh                 # CIFAR-10 too, where `ring-wgpu data download cifar10` put it
#                                # (data/ under the current folder or the repository)
#   web/serve.sh --cifar PATH    # CIFAR-10 from cifar-10-binary.tar.gz or cifar-10-batches-bin/
#   web/serve.sh --no-cifar      # the built-in synthetic set only
#
# With CIFAR-10 served, the page trains on it by default.
set -euo pipefail
web_dir=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null || { echo "web/serve.sh needs Node.js 18 or newer (node) to serve the page" >&2; exit 1; }
if [ "${SKIP_BUILD:-0}" != 1 ] || [ ! -f "$web_dir/pkg/index.js" ]; then
  bash "$web_dir/build.sh"
fi
for build in "$web_dir"/pkg/webgpu "$web_dir"/pkg/cpu; do
  if [ -f "$build/ring_wgpu_web_bg.wasm" ] && { [ ! -f "$build/ring_wgpu_web_bg.wasm.br" ] || [ "$build/ring_wgpu_web_bg.wasm" -nt "$build/ring_wgpu_web_bg.wasm.br" ]; }; then
    node "$web_dir/precompress.mjs" "$build"
  fi
done
exec node "$web_dir/server.mjs" --port "${PORT:-8000}" --root "$web_dir" "$@"
