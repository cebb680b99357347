// The browser tests' server: web/server.mjs (static files, precompressed copies negotiated)
// and the flags headless Chromium runs with.
export { serve } from '../server.mjs';

export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu-sandbox',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
];
