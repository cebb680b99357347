//! `ring-wgpu embed`: a trained run's features of a split as .npy, and a PNG scatter of
//! their first two principal components (computed on the GPU), coloured by class.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use ring_wgpu_core::data::Split;
use ring_wgpu_core::eval::pca;
use ring_wgpu_core::gpu::read::read_f32;
use ring_wgpu_core::train::KnnFeatures;

use crate::{GpuArgs, run_dir};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Which {
    Train,
    Test,
}

/// Write the embeddings of a trained run (its last checkpoint): `<split>_features.npy`
/// (N x F float32, L2-normalised pooled backbone features), `<split>_labels.npy` (N uint32) and
/// `<split>_pca.png` (2-D PCA scatter, one colour per class).
#[derive(Args, Debug)]
pub struct EmbedArgs {
    /// The run's folder (with config.json and checkpoint.bin); outputs go there too.
    #[arg(long, default_value = "runs/latest")]
    out: PathBuf,
    /// Which split to embed.
    #[arg(long, value_enum, default_value_t = Which::Test)]
    split: Which,
    /// Side of the scatter plot, pixels (64 to 8192).
    #[arg(long, default_value_t = 640, value_parser = clap::value_parser!(u32).range(64..=8192))]
    size: u32,
}

/// Writes an .npy (version 1.0) file of `shape` with dtype `descr` (e.g. `<f4`).
pub fn write_npy(path: &Path, descr: &str, shape: &[usize], data: &[u8]) -> Result<()> {
    let shape_text = match shape {
        [n] => format!("({n},)"),
        _ => format!("({})", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Magic (6) + version (2) + length (2) + header + '\n', padded to a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(b"\x93NUMPY\x01\x00")?;
    f.write_all(&(header.len() as u16).to_le_bytes())?;
    f.write_all(header.as_bytes())?;
    f.write_all(data)?;
    Ok(())
}

pub fn run(gpu_args: &GpuArgs, args: &EmbedArgs) -> Result<()> {
    let run = run_dir::open(&args.out, gpu_args)?;
    let trainer = &run.trainer;
    let (name, split, data) = match args.split {
        Which::Train => ("train", Split::Train, &trainer.datasets().train),
        Which::Test => ("test", Split::Test, &trainer.datasets().test),
    };
    let features = trainer.features(split, KnnFeatures::Backbone)?;
    let [n, f] = features.dims();
    let projected = pca(features.clone(), 2, trainer.config().seed)?;
    let features = pollster::block_on(read_f32(features))?;
    let projected = pollster::block_on(read_f32(projected))?;
    let features_path = args.out.join(format!("{name}_features.npy"));
    write_npy(&features_path, "<f4", &[n, f], &features.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>())?;
    let labels_path = args.out.join(format!("{name}_labels.npy"));
    write_npy(&labels_path, "<u4", &[n], &data.labels.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>())?;
    let png = args.out.join(format!("{name}_pca.png"));
    let explained = explained_variance(&features, f, &projected);
    crate::plot::pca_scatter(name, &projected, &data.labels, &data.classes, explained, args.size, &png)?;
    println!("{n} x {f} features: {}, {}, {}", features_path.display(), labels_path.display(), png.display());
    Ok(())
}

/// Each projected component's share of the features' total variance (the sum of the
/// per-feature variances): the variance of the `projected` (N x 2) column over the total.
fn explained_variance(features: &[f32], f: usize, projected: &[f32]) -> [f64; 2] {
    let variance = |values: &mut dyn Iterator<Item = f64>| {
        let (mut sum, mut squares, mut count) = (0.0, 0.0, 0.0);
        for v in values {
            sum += v;
            squares += v * v;
            count += 1.0;
        }
        if count == 0.0 { 0.0 } else { (squares / count - (sum / count).powi(2)).max(0.0) }
    };
    let total: f64 = (0..f).map(|c| variance(&mut features.iter().skip(c).step_by(f).map(|&v| v as f64))).sum();
    let share = |c: usize| variance(&mut projected.iter().skip(c).step_by(2).map(|&v| v as f64)) / total.max(f64::MIN_POSITIVE);
    [share(0), share(1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explained_variance_is_each_components_share() {
        // Features (x, y, 0): variances 4 and 1 (total 5); projected onto (x, y): 0.8 and 0.2.
        let rows: Vec<[f32; 3]> = vec![[2.0, 1.0, 0.0], [-2.0, -1.0, 0.0], [2.0, -1.0, 0.0], [-2.0, 1.0, 0.0]];
        let features: Vec<f32> = rows.iter().flatten().copied().collect();
        let projected: Vec<f32> = rows.iter().flat_map(|r| [r[0], r[1]]).collect();
        let [a, b] = explained_variance(&features, 3, &projected);
        assert!((a - 0.8).abs() < 1e-12 && (b - 0.2).abs() < 1e-12, "{a} {b}");
    }

    #[test]
    fn npy_header_is_aligned_and_parsable() {
        let path = std::env::temp_dir().join(format!("ring-npy-{}.npy", std::process::id()));
        write_npy(&path, "<f4", &[2, 3], &[0u8; 24]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
        assert!(header.ends_with('\n'));
        assert_eq!(bytes.len(), 10 + header_len + 24);
        std::fs::remove_file(path).ok();
    }
}
