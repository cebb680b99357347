//! `ring-wgpu data download`: fetch a dataset archive, verify its MD5, unpack it.
//!
//! The archive streams to `<dir>/<file>.part` (an interrupted download resumes from
//! there with an HTTP range request), is hashed while it streams, and is renamed to
//! `<dir>/<file>` only when its checksum matches the publisher's. It is then unpacked
//! into a temporary folder inside `<dir>` and moved into place, so a half-unpacked
//! dataset never looks complete to the loaders.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use md5::{Digest, Md5};

/// Datasets with a published archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Downloadable {
    /// CIFAR-10, binary version (162 MiB).
    Cifar10,
    /// CIFAR-100, binary version (161 MiB).
    Cifar100,
    /// STL-10, binary version (2.5 GiB).
    Stl10,
}

/// A published dataset archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    /// File name (also the last part of the URL).
    pub file: String,
    /// Where the publisher serves it.
    pub url: String,
    /// The publisher's MD5, lower-case hex.
    pub md5: String,
    /// The folder the archive unpacks to.
    pub folder: String,
    /// A file whose presence in `folder` means the dataset is unpacked.
    pub marker: String,
    /// The `--dataset` name for `ring-wgpu train`.
    pub dataset: String,
    /// An upper bound on the archive's size in bytes, a little above the publisher's (a
    /// response that goes past it is not the archive: it is stopped there, not stored).
    pub max_bytes: u64,
}

impl Downloadable {
    /// The archive as its publisher serves it.
    pub fn archive(self) -> Archive {
        let (file, base, md5, folder, marker, dataset, max_bytes) = match self {
            Downloadable::Cifar10 => (
                "cifar-10-binary.tar.gz",
                "https://www.cs.toronto.edu/~kriz/",
                "c32a1d4ab5d03f1284b67883e8d87530",
                "cifar-10-batches-bin",
                "test_batch.bin",
                "cifar10",
                // The publisher's archive: 170.1 MB.
                175_000_000,
            ),
            Downloadable::Cifar100 => (
                "cifar-100-binary.tar.gz",
                "https://www.cs.toronto.edu/~kriz/",
                "03b5dce01913d631647c71ecec9e9cb8",
                "cifar-100-binary",
                "test.bin",
                "cifar100",
                // 168.5 MB.
                175_000_000,
            ),
            Downloadable::Stl10 => (
                "stl10_binary.tar.gz",
                "http://ai.stanford.edu/~acoates/stl10/",
                "91f7769df0f17e558f3565bffb0c7dfb",
                "stl10_binary",
                "test_X.bin",
                "stl10",
                // 2.64 GB.
                2_700_000_000,
            ),
        };
        Archive {
            file: file.into(),
            url: format!("{base}{file}"),
            md5: md5.into(),
            folder: folder.into(),
            marker: marker.into(),
            dataset: dataset.into(),
            max_bytes,
        }
    }
}

impl Archive {
    /// The same archive served from `mirror` (a URL prefix: `<mirror>/<file>`).
    pub fn served_from(mut self, mirror: &str) -> Self {
        self.url = format!("{}/{}", mirror.trim_end_matches('/'), self.file);
        self
    }
}

/// `ring-wgpu data download`.
#[derive(Args, Debug, Clone)]
pub struct DownloadArgs {
    /// Which dataset.
    #[arg(value_enum)]
    pub dataset: Downloadable,
    /// Folder to download and unpack into (pass the same folder to `train --data-dir`).
    #[arg(long, default_value = "data")]
    pub dir: PathBuf,
    /// Fetch `<MIRROR>/<archive file>` instead of the publisher's URL (the MD5 is still checked).
    #[arg(long, env = "RING_WGPU_DATA_MIRROR")]
    pub mirror: Option<String>,
    /// Keep the .tar.gz after unpacking it.
    #[arg(long)]
    pub keep_archive: bool,
    /// Download and unpack again even if the dataset is already there.
    #[arg(long)]
    pub force: bool,
}

/// Runs `data download`.
pub fn run(args: &DownloadArgs) -> Result<()> {
    let mut archive = args.dataset.archive();
    if let Some(mirror) = &args.mirror {
        archive = archive.served_from(mirror);
    }
    let folder = fetch_and_unpack(&archive, &args.dir, args.force, args.keep_archive)?;
    eprintln!(
        "ready: {}\ntrain on it with: ring-wgpu train --dataset {} --data-dir {}",
        folder.display(),
        archive.dataset,
        args.dir.display()
    );
    Ok(())
}

/// Downloads (or reuses) `archive` in `dir`, verifies it and unpacks it; returns the
/// unpacked folder.
pub fn fetch_and_unpack(archive: &Archive, dir: &Path, force: bool, keep_archive: bool) -> Result<PathBuf> {
    let folder = dir.join(&archive.folder);
    if !force && folder.join(&archive.marker).is_file() {
        eprintln!("{} is already unpacked in {} (--force downloads it again)", archive.file, folder.display());
        return Ok(folder);
    }
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(&archive.file);
    if path.is_file() && !force {
        eprintln!("verifying the archive already in {}", path.display());
        let digest = md5_of_file(&path)?;
        if digest != archive.md5 {
            bail!(
                "{} has MD5 {digest}, expected {}: it is corrupt or a different file; delete it (or pass --force) \
                 and run the download again",
                path.display(),
                archive.md5
            );
        }
    } else {
        download(archive, &path)?;
    }
    eprintln!("unpacking {} into {}", archive.file, dir.display());
    unpack(&path, dir, &archive.folder)?;
    if !folder.join(&archive.marker).is_file() {
        bail!(
            "{} unpacked, but {} is missing: the archive is not the expected dataset",
            path.display(),
            folder.join(&archive.marker).display()
        );
    }
    if !keep_archive {
        fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    }
    Ok(folder)
}

/// Streams `archive.url` into `path` through `path.part`, resuming a previous partial
/// download, and checks the MD5 before the final rename.
pub fn download(archive: &Archive, path: &Path) -> Result<()> {
    let part = PathBuf::from(format!("{}.part", path.display()));
    let mut have = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut request = agent.get(&archive.url);
    if have > 0 {
        request = request.header("Range", format!("bytes={have}-"));
    }
    let response = request.call().map_err(|e| network_error(&archive.url, e))?;
    let status = response.status().as_u16();
    let resumed = have > 0 && status == 206;
    match status {
        200 => have = 0,
        206 if resumed => {}
        416 => {
            // The part file is at least as long as the archive: check it as it is.
            have = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        }
        _ => bail!(
            "{} answered HTTP {status}{}; check the URL, or download {} by hand and put it in {}",
            archive.url,
            response.status().canonical_reason().map(|r| format!(" ({r})")).unwrap_or_default(),
            archive.file,
            path.parent().unwrap_or(Path::new(".")).display()
        ),
    }
    let mut hasher = Md5::new();
    if have > 0 {
        // Hash what is already on disk, then append.
        hash_into(&mut hasher, File::open(&part)?)?;
    }
    let too_long = |bytes: u64| {
        anyhow!(
            "{} sent {bytes} bytes or more, more than the {} archive can hold ({} bytes at most): it is not that archive \
             (nothing was kept); check the URL or --mirror",
            archive.url,
            archive.file,
            archive.max_bytes
        )
    };
    if status != 416 {
        let remaining = response.body().content_length();
        if let Some(n) = remaining
            && have.saturating_add(n) > archive.max_bytes
        {
            return Err(too_long(have.saturating_add(n)));
        }
        let bar = ProgressBar::new(remaining.map(|n| n + have).unwrap_or(0));
        bar.set_style(
            ProgressStyle::with_template("{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}").expect("valid template"),
        );
        bar.set_message(archive.file.clone());
        bar.set_position(have);
        if resumed {
            bar.suspend(|| eprintln!("resuming {} at {} bytes", archive.file, have));
        }
        let mut out = OpenOptions::new()
            .create(true)
            .write(true)
            .append(resumed)
            .truncate(!resumed)
            .open(&part)
            .with_context(|| format!("cannot write {}", part.display()))?;
        let mut body = response.into_body().into_reader();
        let mut buffer = vec![0u8; 1 << 16];
        let mut received = 0u64;
        loop {
            let n = match body.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    bar.abandon();
                    out.flush().ok();
                    bail!(
                        "the download of {} broke off after {} bytes ({e}); run the same command again to resume",
                        archive.url,
                        have + received
                    );
                }
            };
            if have + received + n as u64 > archive.max_bytes {
                bar.abandon();
                drop(out);
                fs::remove_file(&part).ok();
                return Err(too_long(have + received + n as u64));
            }
            out.write_all(&buffer[..n]).with_context(|| format!("cannot write {}", part.display()))?;
            hasher.update(&buffer[..n]);
            received += n as u64;
            bar.inc(n as u64);
        }
        if let Some(expected) = remaining
            && received != expected
        {
            bar.abandon();
            bail!(
                "the download of {} stopped at {} of {} bytes; run the same command again to resume",
                archive.url,
                have + received,
                have + expected
            );
        }
        out.sync_all().with_context(|| format!("cannot write {}", part.display()))?;
        bar.finish();
    }
    let digest = hex(&hasher.finalize());
    if digest != archive.md5 {
        fs::remove_file(&part).ok();
        bail!(
            "checksum mismatch for {}: MD5 {digest}, expected {}; the file was deleted. The download was \
             corrupted or the server sent a different file: run the command again, or try another --mirror",
            archive.url,
            archive.md5
        );
    }
    fs::rename(&part, path).with_context(|| format!("cannot rename {} to {}", part.display(), path.display()))?;
    eprintln!("MD5 verified: {digest}");
    Ok(())
}

fn network_error(url: &str, error: ureq::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "cannot download {url}: {error}. Check the network (or a proxy), use --mirror for another server, \
         or download the file by hand and put it in the --dir folder"
    )
}

fn hash_into(hasher: &mut Md5, file: File) -> Result<()> {
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buffer)?;
        if n == 0 {
            return Ok(());
        }
        hasher.update(&buffer[..n]);
    }
}

/// MD5 of a file, lower-case hex.
pub fn md5_of_file(path: &Path) -> Result<String> {
    let mut hasher = Md5::new();
    hash_into(&mut hasher, File::open(path).with_context(|| format!("cannot read {}", path.display()))?)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Unpacks the .tar.gz at `path` into `dir`: first into a scratch folder inside `dir`,
/// then moves `folder` (the archive's top-level folder) into place.
pub fn unpack(path: &Path, dir: &Path, folder: &str) -> Result<()> {
    let scratch = dir.join(format!(".unpacking-{folder}"));
    if scratch.exists() {
        fs::remove_dir_all(&scratch).with_context(|| format!("cannot clear {}", scratch.display()))?;
    }
    fs::create_dir_all(&scratch)?;
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(file)));
    // `unpack` refuses entries that would land outside `scratch` (absolute paths, `..`).
    tar.unpack(&scratch)
        .with_context(|| format!("{} is not a valid .tar.gz (truncated or corrupt); delete it and download again", path.display()))?;
    let unpacked = scratch.join(folder);
    if !unpacked.is_dir() {
        fs::remove_dir_all(&scratch).ok();
        bail!("{} does not contain the folder {folder}/: it is not the expected dataset archive", path.display());
    }
    let target = dir.join(folder);
    if target.exists() {
        fs::remove_dir_all(&target).with_context(|| format!("cannot replace {}", target.display()))?;
    }
    fs::rename(&unpacked, &target).with_context(|| format!("cannot move the unpacked data to {}", target.display()))?;
    fs::remove_dir_all(&scratch).ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Against a local HTTP server (no internet in tests).

    use super::*;
    use crate::test_http::{Behaviour, serve};

    fn tiny_cifar_archive() -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        let names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
        for (name, records) in [("batches.meta.txt", 0usize), ("data_batch_1.bin", 3), ("test_batch.bin", 2)] {
            let mut bytes = if records == 0 { names.as_bytes().to_vec() } else { Vec::new() };
            for r in 0..records {
                bytes.push((r % 10) as u8);
                bytes.extend((0..3072).map(|i| (i * 7 + r) as u8));
            }
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, format!("cifar-10-batches-bin/{name}"), bytes.as_slice()).unwrap();
        }
        let tar = tar.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap()
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ring-wgpu-download-{name}-{}", std::process::id()));
        fs::remove_dir_all(&dir).ok();
        dir
    }

    fn archive_at(url: &str, bytes: &[u8]) -> Archive {
        let mut hasher = Md5::new();
        hasher.update(bytes);
        Archive { md5: hex(&hasher.finalize()), ..Downloadable::Cifar10.archive().served_from(url) }
    }

    #[test]
    fn publisher_checksums_are_well_formed() {
        for d in [Downloadable::Cifar10, Downloadable::Cifar100, Downloadable::Stl10] {
            let a = d.archive();
            assert_eq!(a.md5.len(), 32);
            assert!(a.md5.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            assert!(a.url.ends_with(&a.file));
        }
    }

    #[test]
    fn downloads_verifies_unpacks_and_loads() {
        let bytes = tiny_cifar_archive();
        let server = serve(bytes.clone(), Behaviour::Normal);
        let dir = scratch("ok");
        let archive = archive_at(&server.url, &bytes);
        let folder = fetch_and_unpack(&archive, &dir, false, false).unwrap();
        assert_eq!(folder, dir.join("cifar-10-batches-bin"));
        assert!(!dir.join(&archive.file).exists(), "the archive is removed unless kept");
        assert!(!dir.join(format!(".unpacking-{}", archive.folder)).exists());
        let test = ring_wgpu_core::data::load_cifar10(&folder, ring_wgpu_core::data::Split::Test).unwrap();
        assert_eq!(test.len(), 2);
        // A second run finds it unpacked and does not download.
        let requests = server.requests();
        fetch_and_unpack(&archive, &dir, false, false).unwrap();
        assert_eq!(server.requests(), requests);
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn checksum_mismatch_is_refused_and_deleted() {
        let bytes = tiny_cifar_archive();
        let server = serve(bytes, Behaviour::Normal);
        let dir = scratch("md5");
        let archive = Downloadable::Cifar10.archive().served_from(&server.url);
        let err = fetch_and_unpack(&archive, &dir, false, false).unwrap_err().to_string();
        assert!(err.contains("checksum mismatch") && err.contains(&archive.md5), "{err}");
        assert!(!dir.join(&archive.file).exists() && !dir.join(format!("{}.part", archive.file)).exists());
        assert!(!dir.join(&archive.folder).exists());
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn broken_off_download_resumes_with_a_range_request() {
        let bytes = tiny_cifar_archive();
        let server = serve(bytes.clone(), Behaviour::CutFirstResponseAt(bytes.len() / 2));
        let dir = scratch("resume");
        let archive = archive_at(&server.url, &bytes);
        let err = fetch_and_unpack(&archive, &dir, false, false).unwrap_err().to_string();
        assert!(err.contains("run the same command again to resume"), "{err}");
        let part = dir.join(format!("{}.part", archive.file));
        assert_eq!(fs::metadata(&part).unwrap().len() as usize, bytes.len() / 2);
        fetch_and_unpack(&archive, &dir, false, true).unwrap();
        assert_eq!(server.ranges(), vec![format!("bytes={}-", bytes.len() / 2)]);
        assert_eq!(fs::read(dir.join(&archive.file)).unwrap(), bytes);
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_response_longer_than_the_archive_is_stopped_and_not_kept() {
        // One that never ends (no Content-Length), and one that announces too much.
        for (behaviour, body) in [(Behaviour::Endless, Vec::new()), (Behaviour::Normal, vec![7u8; 300_000])] {
            let server = serve(body, behaviour);
            let dir = scratch("endless");
            let archive = Archive { max_bytes: 200_000, ..Downloadable::Cifar10.archive().served_from(&server.url) };
            let err = fetch_and_unpack(&archive, &dir, false, false).unwrap_err().to_string();
            assert!(err.contains("200000 bytes at most") && err.contains("not that archive"), "{err}");
            assert!(!dir.join(format!("{}.part", archive.file)).exists() && !dir.join(&archive.file).exists());
            fs::remove_dir_all(&dir).ok();
        }
    }

    #[test]
    fn missing_file_and_unreachable_server_are_clear_errors() {
        let server = serve(Vec::new(), Behaviour::NotFound);
        let dir = scratch("404");
        let archive = Downloadable::Cifar100.archive().served_from(&server.url);
        let err = fetch_and_unpack(&archive, &dir, false, false).unwrap_err().to_string();
        assert!(err.contains("HTTP 404") && err.contains("cifar-100-binary.tar.gz"), "{err}");
        let unreachable = Downloadable::Cifar10.archive().served_from("http://127.0.0.1:9");
        let err = fetch_and_unpack(&unreachable, &dir, false, false).unwrap_err().to_string();
        assert!(err.contains("cannot download") && err.contains("--mirror"), "{err}");
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn corrupt_archive_with_matching_checksum_is_a_clear_error() {
        let bytes = b"this is not gzip".to_vec();
        let server = serve(bytes.clone(), Behaviour::Normal);
        let dir = scratch("corrupt");
        let archive = archive_at(&server.url, &bytes);
        let err = fetch_and_unpack(&archive, &dir, false, false).unwrap_err();
        let err = format!("{err:#}");
        assert!(err.contains("not a valid .tar.gz"), "{err}");
        fs::remove_dir_all(&dir).ok();
    }
}
