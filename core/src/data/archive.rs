//! Datasets from bytes in memory (a browser's file picker, a download): gzip, tar, and the
//! official CIFAR-10 binary archive (`cifar-10-binary.tar.gz`) parsed without a file system.

use std::io::Read;
use std::path::Path;

use super::cifar::{class_names, parse_cifar_records};
use super::{DatasetError, ImageDataset};

fn corrupt(name: &str, reason: impl Into<String>) -> DatasetError {
    DatasetError::Corrupt { path: name.into(), reason: reason.into() }
}

/// Decompresses gzip bytes (`name` labels errors), refusing output past `max` bytes (a
/// small archive can expand without bound).
pub fn gunzip(bytes: &[u8], name: &str, max: u64) -> Result<Vec<u8>, DatasetError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).take(max + 1).read_to_end(&mut out).map_err(|e| corrupt(name, format!("not a gzip file ({e})")))?;
    if out.len() as u64 > max {
        return Err(corrupt(name, format!("expands to more than {} MiB, larger than the archive can be", max.div_ceil(1 << 20))));
    }
    Ok(out)
}

/// The largest uncompressed CIFAR-10 binary archive accepted (the real one is 177 MB).
const MAX_CIFAR10_TAR_BYTES: u64 = 256 << 20;

/// The regular files of a tar archive (ustar / GNU), as (path, contents).
pub fn untar(bytes: &[u8], name: &str) -> Result<Vec<(String, Vec<u8>)>, DatasetError> {
    let mut files = Vec::new();
    let mut offset = 0;
    let mut long_name: Option<String> = None;
    while offset + 512 <= bytes.len() {
        let header = &bytes[offset..offset + 512];
        if header.iter().all(|&b| b == 0) {
            return Ok(files);
        }
        let field = |from: usize, len: usize| {
            let raw = &header[from..from + len];
            let end = raw.iter().position(|&b| b == 0).unwrap_or(len);
            String::from_utf8_lossy(&raw[..end]).trim().to_string()
        };
        let checksum: u32 = header.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { b as u32 }).sum();
        let stored = u32::from_str_radix(&field(148, 8), 8).map_err(|_| corrupt(name, "a tar header has no checksum"))?;
        if checksum != stored {
            return Err(corrupt(name, format!("tar header checksum mismatch at byte {offset}")));
        }
        let size = usize::from_str_radix(&field(124, 12), 8).map_err(|_| corrupt(name, "a tar header has no size"))?;
        let kind = header[156];
        let prefix = field(345, 155);
        let path = match long_name.take() {
            Some(path) => path,
            None if prefix.is_empty() => field(0, 100),
            None => format!("{prefix}/{}", field(0, 100)),
        };
        let start = offset + 512;
        let end = start.checked_add(size).filter(|&e| e <= bytes.len()).ok_or_else(|| corrupt(name, format!("{path} is truncated")))?;
        let contents = &bytes[start..end];
        match kind {
            b'0' | 0 => files.push((path, contents.to_vec())),
            // GNU long names: the next entry's path.
            b'L' => long_name = Some(String::from_utf8_lossy(contents).trim_end_matches('\0').to_string()),
            _ => {}
        }
        offset = start + size.div_ceil(512) * 512;
    }
    if files.is_empty() {
        return Err(corrupt(name, "not a tar archive"));
    }
    Ok(files)
}

/// CIFAR-10 train and test splits from the bytes of the official binary archive
/// (`cifar-10-binary.tar.gz`, or its uncompressed `.tar`).
pub fn cifar10_from_archive(bytes: &[u8]) -> Result<(ImageDataset, ImageDataset), DatasetError> {
    let name = "cifar-10-binary.tar.gz";
    let tar = if bytes.starts_with(&[0x1f, 0x8b]) { gunzip(bytes, name, MAX_CIFAR10_TAR_BYTES)? } else { bytes.to_vec() };
    let files = untar(&tar, name)?;
    let find =
        |file: &str| -> Result<&[u8], DatasetError> {
            files.iter().find(|(path, _)| path.rsplit('/').next() == Some(file)).map(|(_, contents)| contents.as_slice()).ok_or_else(|| {
                corrupt(name, format!("{file} is missing: is this the binary version of CIFAR-10 (cifar-10-binary.tar.gz)?"))
            })
        };
    let classes = class_names(find("batches.meta.txt")?, Path::new("batches.meta.txt"), 10)?;
    let split = |files: &[String], split: &str| -> Result<ImageDataset, DatasetError> {
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        for file in files {
            let (p, l) = parse_cifar_records(find(file)?, Path::new(file), 1, 0, 10)?;
            pixels.extend(p);
            labels.extend(l);
        }
        Ok(ImageDataset {
            name: format!("cifar10/{split}"),
            height: 32,
            width: 32,
            pixels: pixels.into(),
            labels,
            classes: classes.clone(),
        })
    };
    let train_files: Vec<String> = (1..=5).map(|i| format!("data_batch_{i}.bin")).collect();
    Ok((split(&train_files, "train")?, split(&["test_batch.bin".to_string()], "test")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar archive of `files` (ustar headers with checksums).
    pub(crate) fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (path, contents) in files {
            let mut header = [0u8; 512];
            header[..path.len()].copy_from_slice(path.as_bytes());
            header[100..107].copy_from_slice(b"0000644");
            header[124..135].copy_from_slice(format!("{:011o}", contents.len()).as_bytes());
            header[136..147].copy_from_slice(b"00000000000");
            header[156] = b'0';
            header[257..262].copy_from_slice(b"ustar");
            header[148..156].fill(b' ');
            let sum: u32 = header.iter().map(|&b| b as u32).sum();
            header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
            out.extend_from_slice(&header);
            out.extend_from_slice(contents);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.extend_from_slice(&[0u8; 1024]);
        out
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn records(n: usize, label: u8) -> Vec<u8> {
        (0..n).flat_map(|i| std::iter::once(label).chain((0..3072).map(move |p| ((p + i) % 251) as u8))).collect()
    }

    #[test]
    fn cifar10_archive_parses_in_memory() {
        let meta = b"airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
        let batches: Vec<(String, Vec<u8>)> =
            (1..=5).map(|i| (format!("cifar-10-batches-bin/data_batch_{i}.bin"), records(2, i as u8))).collect();
        let test = records(3, 9);
        let mut files: Vec<(&str, &[u8])> = vec![("cifar-10-batches-bin/batches.meta.txt", meta)];
        files.extend(batches.iter().map(|(p, c)| (p.as_str(), c.as_slice())));
        files.push(("cifar-10-batches-bin/test_batch.bin", &test));
        let archive = gzip(&tar(&files));
        let (train, test) = cifar10_from_archive(&archive).unwrap();
        assert_eq!((train.len(), test.len()), (10, 3));
        assert_eq!(train.labels, vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
        assert_eq!(train.classes[9], "truck");
        // CHW records become HWC pixels: red, green, blue of pixel 0 of image 0.
        assert_eq!(&train.image(0)[..3], &[0, (1024 % 251) as u8, (2048 % 251) as u8]);
    }

    #[test]
    fn damaged_archives_are_named_errors() {
        let e = cifar10_from_archive(b"\x1f\x8bgarbage").unwrap_err().to_string();
        assert!(e.contains("not a gzip file"), "{e}");
        let e = cifar10_from_archive(&gzip(&tar(&[("x.txt", b"hello")]))).unwrap_err().to_string();
        assert!(e.contains("batches.meta.txt is missing"), "{e}");
        let good = tar(&[("a.bin", &[7u8; 700])]);
        let e = untar(&good[..900], "cut.tar").unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        let mut bad = good.clone();
        bad[0] ^= 1;
        assert!(untar(&bad, "bad.tar").unwrap_err().to_string().contains("checksum"));
        assert!(untar(&[0u8; 100], "tiny.tar").unwrap_err().to_string().contains("not a tar archive"));
    }
}
