//! Image folders: `root/<class>/<image>` with JPEG or PNG files, classes sorted by name.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;

use super::{DatasetError, ImageDataset};

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DatasetError> {
    let mut entries = std::fs::read_dir(dir)
        .map_err(|e| DatasetError::io(dir, e))?
        .map(|e| e.map(|e| e.path()).map_err(|err| DatasetError::io(dir, err)))
        .collect::<Result<Vec<_>, _>>()?;
    // Hidden entries (.DS_Store, .git, ...) are not part of the dataset.
    entries.retain(|p| !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')));
    entries.sort();
    Ok(entries)
}

/// The widest and tallest image decoded, pixels.
pub const MAX_IMAGE_SIDE: u32 = 8192;
/// The most memory one image's decoding may take, bytes.
pub const MAX_DECODE_BYTES: u64 = 256 << 20;
/// The largest image file read, bytes.
pub const MAX_IMAGE_FILE_BYTES: u64 = 64 << 20;

/// Decodes images one by one into one size (the first image's, or `size` x `size`).
struct Decoder {
    size: Option<usize>,
    dims: Option<(usize, usize)>,
    pixels: Vec<u8>,
}

impl Decoder {
    fn new(size: Option<usize>) -> Self {
        Decoder { size, dims: size.map(|s| (s, s)), pixels: Vec::new() }
    }

    /// Decodes `bytes` (JPEG or PNG; `path` names it in errors) and appends its pixels.
    /// The image's declared size is checked against [`MAX_IMAGE_SIDE`] and
    /// [`MAX_DECODE_BYTES`] before its pixels are allocated.
    fn add(&mut self, path: &Path, bytes: &[u8]) -> Result<(), DatasetError> {
        let not_an_image = |reason: String| DatasetError::NotAnImage { path: path.to_path_buf(), reason };
        let mut reader =
            image::ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format().map_err(|e| not_an_image(e.to_string()))?;
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(MAX_IMAGE_SIDE);
        limits.max_image_height = Some(MAX_IMAGE_SIDE);
        limits.max_alloc = Some(MAX_DECODE_BYTES);
        reader.limits(limits);
        let decoded = reader
            .decode()
            .map_err(|e| match e {
                image::ImageError::Limits(_) => not_an_image(format!(
                    "larger than ring-wgpu decodes ({MAX_IMAGE_SIDE} x {MAX_IMAGE_SIDE} pixels, {} MiB decoded); shrink it first",
                    MAX_DECODE_BYTES >> 20
                )),
                other => not_an_image(other.to_string()),
            })?
            .to_rgb8();
        let (w, h) = (decoded.width() as usize, decoded.height() as usize);
        let (want_h, want_w) = *self.dims.get_or_insert((h, w));
        let rgb = if (h, w) == (want_h, want_w) {
            decoded
        } else if self.size.is_some() {
            image::imageops::resize(&decoded, want_w as u32, want_h as u32, FilterType::Triangle)
        } else {
            return Err(DatasetError::Invalid(format!(
                "{}: image is {w}x{h}, the first image was {want_w}x{want_h}; pass an image size to resize them all",
                path.display()
            )));
        };
        self.pixels.extend_from_slice(rgb.as_raw());
        Ok(())
    }

    fn finish(self, name: String, labels: Vec<u32>, classes: Vec<String>) -> ImageDataset {
        let (height, width) = self.dims.unwrap_or((0, 0));
        ImageDataset { name, height, width, pixels: self.pixels.into(), labels, classes }
    }
}

/// Loads `root/<class>/<image>` (JPEG or PNG), resized to `size` x `size` (bilinear) when
/// `size` is given; without it, every image must have the first image's size.
///
/// Errors name the offending file: unreadable or non-image files, empty class folders,
/// images of the wrong size. Hidden files are ignored.
pub fn load_image_folder(root: &Path, size: Option<usize>) -> Result<ImageDataset, DatasetError> {
    if !root.is_dir() {
        return Err(DatasetError::Missing {
            path: root.to_path_buf(),
            hint: "expected a folder laid out as root/<class>/<image>.jpg".into(),
        });
    }
    let class_dirs: Vec<PathBuf> = sorted_entries(root)?.into_iter().filter(|p| p.is_dir()).collect();
    if class_dirs.is_empty() {
        return Err(DatasetError::NoClasses { path: root.to_path_buf() });
    }
    let mut decoder = Decoder::new(size);
    let mut labels = Vec::new();
    let mut classes = Vec::new();
    for (label, class_dir) in class_dirs.iter().enumerate() {
        classes.push(class_dir.file_name().unwrap_or_default().to_string_lossy().into_owned());
        let files: Vec<PathBuf> = sorted_entries(class_dir)?.into_iter().filter(|p| p.is_file()).collect();
        if files.is_empty() {
            return Err(DatasetError::EmptyClass { path: class_dir.clone() });
        }
        for file in files {
            let bytes = super::read_at_most(&file, MAX_IMAGE_FILE_BYTES, "image in an image folder")?;
            decoder.add(&file, &bytes)?;
            labels.push(label as u32);
        }
    }
    Ok(decoder.finish(root.display().to_string(), labels, classes))
}

/// The same dataset from files in memory (e.g. dropped on a web page): each file as
/// (`class/name` path, bytes), one folder per class; a leading folder common to every
/// file (the dropped folder itself) is ignored. Classes sorted by name, files by path,
/// hidden files skipped, as [`load_image_folder`].
pub fn image_folder_from_files(name: &str, mut files: Vec<(String, Vec<u8>)>, size: Option<usize>) -> Result<ImageDataset, DatasetError> {
    files.retain(|(path, _)| !path.split('/').any(|part| part.starts_with('.')));
    let split = |path: &str| -> Vec<String> { path.split('/').filter(|p| !p.is_empty()).map(String::from).collect() };
    let mut parts: Vec<(Vec<String>, Vec<u8>)> = files.into_iter().map(|(p, b)| (split(&p), b)).collect();
    // Strip leading folders shared by every file until class folders remain.
    while parts.len() > 1 && parts.iter().all(|(p, _)| p.len() > 2) && parts.iter().all(|(p, _)| p[0] == parts[0].0[0]) {
        parts.iter_mut().for_each(|(p, _)| {
            p.remove(0);
        });
    }
    if parts.is_empty() || parts.iter().any(|(p, _)| p.len() < 2) {
        return Err(DatasetError::NoClasses { path: name.into() });
    }
    parts.sort_by(|a, b| a.0.cmp(&b.0));
    let mut classes: Vec<String> = parts.iter().map(|(p, _)| p[0].clone()).collect();
    classes.dedup();
    let mut decoder = Decoder::new(size);
    let mut labels = Vec::with_capacity(parts.len());
    // Each file's encoded bytes are freed once it is decoded.
    for (path, bytes) in parts {
        decoder.add(Path::new(&path.join("/")), &bytes)?;
        labels.push(classes.binary_search(&path[0]).expect("listed") as u32);
    }
    Ok(decoder.finish(name.into(), labels, classes))
}

/// Files in memory (as for [`image_folder_from_files`]) sorted into splits by their folders.
#[derive(Debug, PartialEq)]
pub enum DroppedSplits {
    /// `train/` and `test/` folders: their files, paths relative to them.
    TrainTest(Vec<(String, Vec<u8>)>, Vec<(String, Vec<u8>)>),
    /// No `train/` and `test/` pair: every file, paths as given (less a common top folder).
    Unsplit(Vec<(String, Vec<u8>)>),
}

/// Sorts dropped files into `train/` and `test/` when both folders are there (under any
/// one folder common to every file), moving each file's bytes, never copying them.
pub fn split_dropped_files(mut files: Vec<(String, Vec<u8>)>) -> DroppedSplits {
    let top = files.first().and_then(|(p, _)| p.split('/').next().map(String::from));
    if let Some(top) = top.filter(|t| t != "train" && t != "test") {
        let prefix = format!("{top}/");
        if files.iter().all(|(p, _)| p.starts_with(&prefix)) {
            files.iter_mut().for_each(|(p, _)| *p = p[prefix.len()..].to_string());
        }
    }
    let has = |folder: &str| files.iter().any(|(p, _)| p.starts_with(folder));
    if !(has("train/") && has("test/")) {
        return DroppedSplits::Unsplit(files);
    }
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (path, bytes) in files {
        if let Some(rest) = path.strip_prefix("train/") {
            train.push((rest.to_string(), bytes));
        } else if let Some(rest) = path.strip_prefix("test/") {
            test.push((rest.to_string(), bytes));
        }
    }
    DroppedSplits::TrainTest(train, test)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG that declares `w` x `h` RGB pixels and holds none (a valid header, CRCs included).
    fn png_declaring(w: u32, h: u32) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut chunk = |kind: &[u8], data: &[u8]| {
            png.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let mut body = kind.to_vec();
            body.extend_from_slice(data);
            png.extend_from_slice(&body);
            png.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
        };
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&w.to_be_bytes());
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        chunk(b"IHDR", &ihdr);
        chunk(b"IEND", &[]);
        png
    }

    #[test]
    fn huge_declared_images_are_refused_before_decoding() {
        // 16,000 x 16,000 (the 240 KB bomb took 990 MB) and 100,000 x 1: refused by the header.
        for (w, h) in [(16_000, 16_000), (100_000, 1), (10, 9000)] {
            let files = vec![("a/bomb.png".to_string(), png_declaring(w, h)), ("b/x.png".to_string(), png_declaring(1, 1))];
            let e = image_folder_from_files("drop", files, Some(32)).unwrap_err().to_string();
            assert!(e.contains("bomb.png") && e.contains("larger than ring-wgpu decodes"), "{w}x{h}: {e}");
        }
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ring-folder-{tag}-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write_png(path: &Path, w: u32, h: u32, value: u8) {
        image::RgbImage::from_pixel(w, h, image::Rgb([value, 0, 255 - value])).save(path).unwrap();
    }

    #[test]
    fn loads_classes_in_order_and_resizes() {
        let dir = temp_dir("ok");
        for (class, value) in [("b_dog", 10u8), ("a_cat", 200)] {
            std::fs::create_dir_all(dir.join(class)).unwrap();
            write_png(&dir.join(class).join("1.png"), 8, 8, value);
            write_png(&dir.join(class).join("2.png"), 16, 12, value);
        }
        std::fs::write(dir.join("a_cat").join(".DS_Store"), b"junk").unwrap();
        let data = load_image_folder(&dir, Some(4)).unwrap();
        assert_eq!(data.classes, vec!["a_cat", "b_dog"]);
        assert_eq!(data.labels, vec![0, 0, 1, 1]);
        assert_eq!((data.height, data.width), (4, 4));
        assert_eq!(&data.image(0)[..3], &[200, 0, 55]);
        assert_eq!(&data.image(3)[..3], &[10, 0, 245]);
        // Without a size, mixed sizes are an error naming the file.
        let err = load_image_folder(&dir, None).unwrap_err().to_string();
        assert!(err.contains("2.png") && err.contains("16x12"), "{err}");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn bad_folders_are_named() {
        let dir = temp_dir("bad");
        assert!(matches!(load_image_folder(&dir, None), Err(DatasetError::NoClasses { .. })));
        std::fs::create_dir_all(dir.join("cat")).unwrap();
        std::fs::create_dir_all(dir.join("dog")).unwrap();
        write_png(&dir.join("cat").join("1.png"), 4, 4, 1);
        let err = load_image_folder(&dir, None).unwrap_err();
        assert!(matches!(err, DatasetError::EmptyClass { .. }) && err.to_string().contains("dog"), "{err}");
        std::fs::write(dir.join("dog").join("notes.txt"), b"not an image").unwrap();
        let err = load_image_folder(&dir, None).unwrap_err();
        assert!(err.to_string().contains("notes.txt") && err.to_string().contains("not a readable image"), "{err}");
        // A truncated JPEG.
        std::fs::remove_file(dir.join("dog").join("notes.txt")).unwrap();
        let mut jpeg = Vec::new();
        image::RgbImage::from_pixel(8, 8, image::Rgb([1, 2, 3]))
            .write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
            .unwrap();
        std::fs::write(dir.join("dog").join("cut.jpg"), &jpeg[..jpeg.len() / 3]).unwrap();
        let err = load_image_folder(&dir, None).unwrap_err();
        assert!(err.to_string().contains("cut.jpg"), "{err}");
        assert!(matches!(load_image_folder(&dir.join("nope"), None), Err(DatasetError::Missing { .. })));
        std::fs::remove_dir_all(dir).ok();
    }

    fn png(w: u32, h: u32, value: u8) -> Vec<u8> {
        let mut bytes = Vec::new();
        image::RgbImage::from_pixel(w, h, image::Rgb([value, 0, 255 - value]))
            .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        bytes
    }

    #[test]
    fn dropped_files_split_by_their_train_and_test_folders() {
        let file = |p: &str| (p.to_string(), p.as_bytes().to_vec());
        let split = split_dropped_files(vec![file("cifar/train/cat/1.png"), file("cifar/test/dog/2.png"), file("cifar/train/dog/3.png")]);
        let want_train = vec![
            ("cat/1.png".to_string(), b"cifar/train/cat/1.png".to_vec()),
            ("dog/3.png".to_string(), b"cifar/train/dog/3.png".to_vec()),
        ];
        assert_eq!(split, DroppedSplits::TrainTest(want_train, vec![("dog/2.png".to_string(), b"cifar/test/dog/2.png".to_vec())]));
        // Without the top folder too.
        assert!(
            matches!(split_dropped_files(vec![file("train/a/1.png"), file("test/a/2.png")]), DroppedSplits::TrainTest(a, b) if a.len() == 1 && b.len() == 1)
        );
        // Only train/, or class folders alone: one set, the common top folder dropped.
        assert_eq!(
            split_dropped_files(vec![file("x/train/a/1.png")]),
            DroppedSplits::Unsplit(vec![("train/a/1.png".to_string(), b"x/train/a/1.png".to_vec())])
        );
        assert_eq!(
            split_dropped_files(vec![file("pets/cat/1.png"), file("pets/dog/2.png")]),
            DroppedSplits::Unsplit(vec![
                ("cat/1.png".to_string(), b"pets/cat/1.png".to_vec()),
                ("dog/2.png".to_string(), b"pets/dog/2.png".to_vec())
            ])
        );
        // Files under different top folders keep their paths; nothing at all is an empty set.
        assert_eq!(
            split_dropped_files(vec![file("a/1.png"), file("b/2.png")]),
            DroppedSplits::Unsplit(vec![file("a/1.png"), file("b/2.png")])
        );
        assert_eq!(split_dropped_files(Vec::new()), DroppedSplits::Unsplit(Vec::new()));
    }

    #[test]
    fn dropped_files_load_like_a_folder() {
        let files = vec![
            ("pets/dog/2.png".to_string(), png(6, 6, 10)),
            ("pets/cat/1.png".to_string(), png(8, 8, 200)),
            ("pets/dog/.hidden".to_string(), b"junk".to_vec()),
            ("pets/dog/1.png".to_string(), png(4, 4, 10)),
        ];
        let data = image_folder_from_files("dropped", files, Some(4)).unwrap();
        assert_eq!(data.classes, vec!["cat", "dog"]);
        assert_eq!(data.labels, vec![0, 1, 1]);
        assert_eq!(&data.image(0)[..3], &[200, 0, 55]);
        let err = image_folder_from_files("dropped", vec![("a/x.png".into(), b"nope".to_vec())], Some(4)).unwrap_err().to_string();
        assert!(err.contains("a/x.png") && err.contains("not a readable image"), "{err}");
        assert!(matches!(
            image_folder_from_files("dropped", vec![("x.png".into(), png(2, 2, 1))], None),
            Err(DatasetError::NoClasses { .. })
        ));
    }

    /// A small valid PNG and JPEG to mutate.
    fn samples() -> Vec<Vec<u8>> {
        let img = image::RgbImage::from_fn(12, 9, |x, y| image::Rgb([(x * 20) as u8, (y * 25) as u8, 90]));
        let mut out = Vec::new();
        for format in [image::ImageFormat::Png, image::ImageFormat::Jpeg] {
            let mut bytes = std::io::Cursor::new(Vec::new());
            img.write_to(&mut bytes, format).unwrap();
            out.push(bytes.into_inner());
        }
        out
    }

    proptest::proptest! {
        /// Mutated images decode or are refused naming the file; never a panic or a huge
        /// allocation (the limits hold whatever the header claims).
        #[test]
        fn mutated_images_decode_or_are_refused(which in 0usize..2, edits in proptest::collection::vec((0usize..4000, proptest::prelude::any::<u8>()), 1..12),
                                                cut in proptest::option::of(0usize..4000)) {
            let mut bytes = samples().swap_remove(which);
            for (at, value) in edits {
                let at = at % bytes.len();
                bytes[at] = value;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut % (bytes.len() + 1));
            }
            let mut decoder = Decoder::new(Some(8));
            if let Err(e) = decoder.add(Path::new("class/img.png"), &bytes) {
                proptest::prop_assert!(e.to_string().contains("img.png"), "{e}");
            } else {
                proptest::prop_assert_eq!(decoder.pixels.len(), 8 * 8 * 3);
            }
        }
    }
}
