#!/usr/bin/env bash
# Builds the package (unless web/pkg exists and SKIP_BUILD=1) and serves the demo page on
# http://127.0.0.1:${PORT:-8000}/www/ (static files from web/; Ctrl-C stops).
set -euo pipefail
web_dir=$(cd "$(dirname "$0")" && pwd)
if [ "${SKIP_BUILD:-0}" != 1 ] || [ ! -f "$web_dir/pkg/ring_wgpu_web.js" ]; then
  bash "$web_dir/build.sh"
fi
port=${PORT:-8000}
echo "demo: http://127.0.0.1:$port/www/  (WebGPU: Chrome/Edge; headless Chromium needs --enable-unsafe-webgpu)"
exec python3 -m http.server "$port" --bind 127.0.0.1 --directory "$web_dir"
