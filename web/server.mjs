// The demo's static file server (web/serve.sh runs it; the browser tests import `serve`).
// Serves web/ on 127.0.0.1 with the right MIME types (application/wasm for the module), and
// the precompressed copies web/precompress.mjs writes beside a file (`x.br`, `x.gz`) when
// the browser accepts that encoding and the copy is not older than the file, with
// `Content-Encoding` and `Vary: Accept-Encoding` set. ETags from size and modification time
// let a warm cache revalidate with a 304 instead of downloading the module again; a
// compressed body carries its decoded size in `x-decoded-content-length` (for progress bars).
// With CIFAR-10 (--cifar, or found where `ring-wgpu data download cifar10` puts it), also
// /data/datasets.json, which the page reads to train on it by default, and the archive.
//
//   node web/server.mjs [--port 8000] [--root web] [--cifar PATH | --no-cifar]
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findCifar10, loadCifar10 } from './served-data.mjs';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.wasm': 'application/wasm', '.json': 'application/json', '.bin': 'application/octet-stream', '.png': 'image/png',
  '.ts': 'text/plain', '.md': 'text/markdown',
};

// Does the Accept-Encoding header `header` accept `name` (listed, or `*`, with q > 0)?
function accepts(header, name) {
  return (header || '').split(',').some((part) => {
    const [token, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return (token === name || token === '*') && (q === undefined || Number(q.slice(2)) > 0);
  });
}

// The file to send for `file` given the request's Accept-Encoding: [path, encoding or null].
function negotiate(file, acceptEncoding) {
  const mtime = fs.statSync(file).mtimeMs;
  for (const [suffix, encoding] of [['.br', 'br'], ['.gz', 'gzip']]) {
    if (!accepts(acceptEncoding, encoding)) continue;
    try {
      if (fs.statSync(file + suffix).mtimeMs >= mtime) return [file + suffix, encoding];
    } catch { /* no precompressed copy */ }
  }
  return [file, null];
}

// Answers /data/datasets.json and the datasets' files from memory; false for other paths.
function serveData(pathname, req, res, cifar10) {
  if (pathname === '/data/datasets.json') {
    const list = cifar10 ? { cifar10: { url: `/data/${cifar10.name}`, bytes: cifar10.bytes.length } } : {};
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' }).end(JSON.stringify(list));
    return true;
  }
  if (!cifar10 || pathname !== `/data/${cifar10.name}`) return false;
  const headers = { 'content-type': cifar10.type, 'content-length': cifar10.bytes.length, 'cache-control': 'no-cache', etag: cifar10.etag };
  if (req.headers['if-none-match'] === cifar10.etag) { res.writeHead(304, headers).end(); return true; }
  res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : cifar10.bytes);
  return true;
}

// `hide(pathname)` true: answered 404, as if the file were missing (the tests use it).
// `cifar10`: loadCifar10's result, served under /data/ and listed in /data/datasets.json.
export function serve(root, port = 0, { hide = () => false, host = '127.0.0.1', cifar10 = null } = {}) {
  root = path.resolve(root);
  if (cifar10) cifar10 = { ...cifar10, etag: `"cifar10-${cifar10.bytes.length.toString(16)}-${Date.now().toString(16)}"` };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    let pathname;
    try { pathname = decodeURIComponent(url.pathname); } catch { res.writeHead(400).end('bad path'); return; }
    if (hide(pathname)) { res.writeHead(404).end('not found'); return; }
    if (serveData(pathname, req, res, cifar10)) return;
    const file = path.join(root, pathname);
    if (file !== root && !file.startsWith(root + path.sep)) { res.writeHead(403).end(); return; }
    let target = file;
    try {
      if (fs.statSync(file).isDirectory()) target = path.join(file, 'index.html');
      fs.accessSync(target, fs.constants.R_OK);
    } catch { res.writeHead(404).end('not found'); return; }
    const [sent, encoding] = negotiate(target, req.headers['accept-encoding']);
    const stat = fs.statSync(sent);
    const etag = `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}${encoding ? `-${encoding}` : ''}"`;
    const headers = {
      'content-type': TYPES[path.extname(target)] || 'application/octet-stream',
      'cache-control': 'no-cache',
      etag,
      vary: 'Accept-Encoding',
    };
    if (encoding) {
      headers['content-encoding'] = encoding;
      // The size once decoded, for a download progress bar (the page's worker reads it).
      headers['x-decoded-content-length'] = fs.statSync(target).size;
    }
    if (req.headers['if-none-match'] === etag) { res.writeHead(304, headers).end(); return; }
    headers['content-length'] = stat.size;
    res.writeHead(200, headers);
    if (req.method === 'HEAD') { res.end(); return; }
    fs.createReadStream(sent).on('error', () => res.destroy()).pipe(res);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok({ server, url: `http://${host}:${server.address().port}` }));
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(name);
    return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
  };
  const here = path.dirname(fileURLToPath(import.meta.url));
  const port = Number(arg('--port', process.env.PORT || 8000));
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port ${arg('--port', process.env.PORT)}: not a port number (0-65535)`);
    process.exit(2);
  }
  // CIFAR-10: --cifar PATH, else where `ring-wgpu data download cifar10` leaves it (run from
  // the repository or from web/), unless --no-cifar.
  let cifar10 = null;
  const cifarPath = process.argv.includes('--no-cifar') ? null : arg('--cifar', null) ?? findCifar10(process.cwd()) ?? findCifar10(path.join(here, '..'));
  if (process.argv.includes('--cifar') && arg('--cifar', null) === null) {
    console.error('--cifar needs a path: cifar-10-binary.tar.gz or the cifar-10-batches-bin folder');
    process.exit(2);
  }
  if (cifarPath) {
    try {
      cifar10 = loadCifar10(cifarPath);
    } catch (e) {
      console.error(e.message);
      process.exit(2);
    }
  }
  try {
    const { url } = await serve(arg('--root', here), port, { cifar10 });
    console.log(`demo: ${url}/www/  (WebGPU: Chrome/Edge; headless Chromium needs --enable-unsafe-webgpu)`);
    console.log(cifar10
      ? `CIFAR-10 from ${cifarPath} (${(cifar10.bytes.length / 1e6).toFixed(1)} MB): the page trains on it by default`
      : 'no CIFAR-10 served: the page trains on its built-in synthetic set (serve CIFAR-10 with --cifar PATH, after `ring-wgpu data download cifar10`)');
  } catch (e) {
    console.error(`cannot serve on port ${port}: ${e.message}${e.code === 'EADDRINUSE' ? ' (choose another with PORT=8001 or --port 8001)' : ''}`);
    process.exit(1);
  }
}
