// Writes Brotli (`x.br`, quality 11) and gzip (`x.gz`, level 9) copies of the package's
// module and glue (web/pkg/*.wasm, *.js) for servers that send precompressed files
// (web/server.mjs does; so can nginx's gzip_static / brotli_static), and prints each file's
// raw, gzip and Brotli size. BROTLI_QUALITY=5 trades size for time.
//
//   node web/precompress.mjs [dir]      (default web/pkg)
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const dir = path.resolve(process.argv[2] || path.join(path.dirname(fileURLToPath(import.meta.url)), 'pkg'));
const quality = Number(process.env.BROTLI_QUALITY || 11);
if (!Number.isInteger(quality) || quality < 0 || quality > 11) {
  console.error(`BROTLI_QUALITY=${process.env.BROTLI_QUALITY}: Brotli's quality is an integer from 0 to 11`);
  process.exit(2);
}
let names;
try {
  names = fs.readdirSync(dir).filter((n) => /\.(wasm|js)$/.test(n));
} catch (e) {
  console.error(`${dir}: ${e.message} (build the package first: web/build.sh)`);
  process.exit(1);
}
const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;
for (const name of names) {
  const file = path.join(dir, name);
  const data = fs.readFileSync(file);
  const start = Date.now();
  const gz = zlib.gzipSync(data, { level: 9 });
  const br = zlib.brotliCompressSync(data, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: quality,
      [zlib.constants.BROTLI_PARAM_LGWIN]: 24,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length,
      [zlib.constants.BROTLI_PARAM_MODE]: name.endsWith('.js') ? zlib.constants.BROTLI_MODE_TEXT : zlib.constants.BROTLI_MODE_GENERIC,
    },
  });
  // Written through temporary names, so that a server never sends half a file.
  for (const [suffix, bytes] of [['.gz', gz], ['.br', br]]) {
    fs.writeFileSync(file + suffix + '.tmp', bytes);
    fs.renameSync(file + suffix + '.tmp', file + suffix);
  }
  console.log(`${name}: ${kib(data.length)} raw, ${kib(gz.length)} gzip -9, ${kib(br.length)} Brotli q${quality} (${((Date.now() - start) / 1000).toFixed(1)} s)`);
}
