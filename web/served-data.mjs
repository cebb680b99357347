// The datasets the demo's server offers the page (web/server.mjs serves them under /data/):
// CIFAR-10 in its official binary form, from the archive itself (cifar-10-binary.tar.gz, or
// its unpacked .tar) or from the folder `ring-wgpu data download cifar10` unpacks
// (cifar-10-batches-bin, packed here into one .tar in memory, checked file by file).
import fs from 'node:fs';
import path from 'node:path';

const BATCHES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];
// 10,000 records of a label byte and 32 x 32 x 3 pixels.
const BATCH_BYTES = 10_000 * 3073;
// The publisher's archive is 170.1 MB; the unpacked tar a little more than the six batches.
const MAX_ARCHIVE_BYTES = 200_000_000;
const FOLDER = 'cifar-10-batches-bin';

// Where `ring-wgpu data download cifar10` (default --dir data) leaves CIFAR-10 when run from
// `dir`: the archive kept with --keep-archive, or the unpacked folder. Null when neither.
export function findCifar10(dir) {
  for (const candidate of [path.join(dir, 'data', FOLDER), path.join(dir, 'data', 'cifar-10-binary.tar.gz')]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}

// CIFAR-10 at `source` (an archive file, or a folder holding the batches or holding
// cifar-10-batches-bin) as { name, bytes, type }: the archive's own bytes, or a .tar of the
// folder's batches. Throws an Error that names the file and says what to do.
export function loadCifar10(source) {
  const resolved = path.resolve(source);
  let stat;
  try { stat = fs.statSync(resolved); } catch {
    throw new Error(`--cifar ${source}: no such file or folder (give cifar-10-binary.tar.gz or the cifar-10-batches-bin folder; \`ring-wgpu data download cifar10\` fetches them)`);
  }
  if (stat.isFile()) {
    if (stat.size > MAX_ARCHIVE_BYTES) throw new Error(`--cifar ${source}: ${stat.size} bytes is more than CIFAR-10's archive (at most ${MAX_ARCHIVE_BYTES}): is it the right file?`);
    const bytes = fs.readFileSync(resolved);
    const gzip = bytes[0] === 0x1f && bytes[1] === 0x8b;
    if (!gzip && !isTar(bytes)) throw new Error(`--cifar ${source}: neither a .tar.gz nor a .tar (give CIFAR-10's binary archive, cifar-10-binary.tar.gz)`);
    return { name: gzip ? 'cifar-10-binary.tar.gz' : 'cifar-10-binary.tar', bytes, type: gzip ? 'application/gzip' : 'application/x-tar' };
  }
  const folder = fs.existsSync(path.join(resolved, FOLDER)) ? path.join(resolved, FOLDER) : resolved;
  const files = [];
  for (const name of BATCHES) {
    const file = path.join(folder, name);
    let size;
    try { size = fs.statSync(file).size; } catch {
      throw new Error(`--cifar ${source}: ${file} is missing (the folder must hold CIFAR-10's binary batches: ${BATCHES.join(', ')}; \`ring-wgpu data download cifar10\` unpacks them)`);
    }
    if (size !== BATCH_BYTES) throw new Error(`--cifar ${source}: ${file} holds ${size} bytes, not ${BATCH_BYTES} (10,000 records of 3,073 bytes): download CIFAR-10 again`);
    files.push([`${FOLDER}/${name}`, fs.readFileSync(file)]);
  }
  const meta = path.join(folder, 'batches.meta.txt');
  let metaSize;
  try { metaSize = fs.statSync(meta).size; } catch {
    throw new Error(`--cifar ${source}: ${meta} is missing (it names the 10 classes; \`ring-wgpu data download cifar10\` unpacks it with the batches)`);
  }
  if (metaSize > 4096) throw new Error(`--cifar ${source}: ${meta} holds ${metaSize} bytes, more than 10 class names take: download CIFAR-10 again`);
  files.push([`${FOLDER}/batches.meta.txt`, fs.readFileSync(meta)]);
  return { name: 'cifar-10-binary.tar', bytes: tar(files), type: 'application/x-tar' };
}

function isTar(bytes) {
  return bytes.length >= 512 && bytes.toString('latin1', 257, 262) === 'ustar';
}

// A ustar archive of [path, bytes] entries (regular files, paths under 100 bytes).
export function tar(entries) {
  const blocks = [];
  for (const [name, data] of entries) {
    const header = Buffer.alloc(512);
    header.write(name, 0, 100, 'latin1');
    header.write('0000644\0', 100, 'latin1');
    header.write('0000000\0', 108, 'latin1');
    header.write('0000000\0', 116, 'latin1');
    header.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
    header.write(`${Math.floor(Date.now() / 1000).toString(8).padStart(11, '0')}\0`, 136, 'latin1');
    header.write('        ', 148, 'latin1');
    header.write('0', 156, 'latin1');
    header.write('ustar\0' + '00', 257, 'latin1');
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}
