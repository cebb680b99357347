//! A built-in synthetic dataset: procedural textures in 10 classes, so that training runs
//! with no download. Each class is a pattern (stripes, rings, checks...) that is
//! unchanged by horizontal flips, survives crops (it repeats across the image), and is
//! told apart by shape, not colour (each image draws random foreground and background
//! colours of different brightness), so colour jitter and grayscale keep the class.
//! Image i is a pure function of (seed, i).

use std::f32::consts::{FRAC_1_SQRT_2, PI};

use super::{DatasetError, ImageDataset};
use crate::rng::SplitMix64;

/// The class names, by label.
pub const SYNTHETIC_CLASSES: [&str; 10] =
    ["horizontal-stripes", "vertical-stripes", "checks", "cross-hatch", "rings", "spokes", "dots", "grid", "zigzag", "speckle"];

/// Pattern value in [-1, 1] of class `class` at (x, y) in [0, 1)^2.
fn pattern(class: usize, x: f32, y: f32, f: f32, phase: f32, center: (f32, f32), rng_cell: &dyn Fn(i32, i32) -> f32) -> f32 {
    let w = 2.0 * PI * f;
    match class {
        0 => (w * y + phase).sin(),
        1 => (w * x + phase).sin(),
        2 => ((w * x + phase).sin() * (w * y + 1.3 * phase).sin()).signum(),
        3 => {
            let a = (w * (x + y) * FRAC_1_SQRT_2 + phase).sin();
            let b = (w * (y - x) * FRAC_1_SQRT_2 + phase).sin();
            if a.max(b) > 0.6 { 1.0 } else { -1.0 }
        }
        4 => {
            let r = ((x - center.0).powi(2) + (y - center.1).powi(2)).sqrt();
            (1.6 * w * r + phase).sin()
        }
        5 => {
            let theta = (y - center.1).atan2(x - center.0);
            (8.0 * theta + phase).sin()
        }
        6 => {
            let d = (w * x + phase).cos() * (w * y + phase).cos();
            if d > 0.5 { 1.0 } else { -1.0 }
        }
        7 => {
            let lx = (w * x + phase).sin().abs();
            let ly = (w * y + phase).sin().abs();
            if lx.min(ly) < 0.3 { 1.0 } else { -1.0 }
        }
        8 => {
            let tri = ((f * 2.0 * x + phase / PI).fract() - 0.5).abs() * 2.0;
            (w * (y + 0.25 * tri) + phase).sin()
        }
        _ => {
            let cells = 16.0;
            rng_cell((x * cells) as i32, (y * cells) as i32)
        }
    }
}

/// Uniform f32 in [lo, hi).
fn uniform(rng: &mut SplitMix64, lo: f32, hi: f32) -> f32 {
    rng.range(lo as f64, hi as f64) as f32
}

fn render(size: usize, class: usize, seed: u64, index: u64, out: &mut [u8]) {
    let mut rng = SplitMix64(seed ^ index.wrapping_mul(0xd134_2543_de82_ef95));
    let f = uniform(&mut rng, 2.5, 4.5);
    let phase = uniform(&mut rng, 0.0, 2.0 * PI);
    let center = (uniform(&mut rng, 0.35, 0.65), uniform(&mut rng, 0.35, 0.65));
    // Foreground and background colours with a clear brightness gap.
    let dark: [f32; 3] = std::array::from_fn(|_| uniform(&mut rng, 0.0, 0.45));
    let light: [f32; 3] = std::array::from_fn(|_| uniform(&mut rng, 0.55, 1.0));
    let (fg, bg) = if rng.next_u64() & 1 == 0 { (light, dark) } else { (dark, light) };
    let cell_seed = rng.next_u64();
    let cell = move |cx: i32, cy: i32| {
        let mut r = SplitMix64(cell_seed ^ ((cx as u64) << 32 | cy as u32 as u64));
        if r.next_u64() & 1 == 0 { 1.0 } else { -1.0 }
    };
    for py in 0..size {
        for px in 0..size {
            let x = (px as f32 + 0.5) / size as f32;
            let y = (py as f32 + 0.5) / size as f32;
            let t = (pattern(class, x, y, f, phase, center, &cell) + 1.0) / 2.0;
            let noise = uniform(&mut rng, -0.04, 0.04);
            for c in 0..3 {
                let v = bg[c] + (fg[c] - bg[c]) * t + noise;
                out[(py * size + px) * 3 + c] = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
            }
        }
    }
}

/// The largest synthetic dataset made, bytes of pixels (checked before allocating, also
/// where `usize` is 32 bits).
pub const MAX_SYNTHETIC_BYTES: u64 = 2 << 30;

/// `per_class` images of each of the 10 classes, `size` x `size`, from `seed`.
/// Labels cycle 0, 1, ..., 9, 0, 1, ...
pub fn synthetic(per_class: usize, size: usize, seed: u64) -> Result<ImageDataset, DatasetError> {
    if per_class == 0 || !(8..=512).contains(&size) {
        return Err(DatasetError::Invalid(format!(
            "synthetic dataset needs at least 1 image per class and a size in 8..=512 (got {per_class}, {size})"
        )));
    }
    let n = per_class.checked_mul(SYNTHETIC_CLASSES.len());
    let bytes = size * size * 3;
    let total = n.and_then(|n| n.checked_mul(bytes)).filter(|&total| total as u64 <= MAX_SYNTHETIC_BYTES).ok_or_else(|| {
        DatasetError::Invalid(format!(
            "a synthetic dataset of {per_class} images per class at {size} x {size} pixels would take more than {} GiB: \
             lower the images per class or the size",
            MAX_SYNTHETIC_BYTES >> 30
        ))
    })?;
    let n = total / bytes;
    let mut pixels = vec![0u8; total];
    let labels: Vec<u32> = (0..n).map(|i| (i % SYNTHETIC_CLASSES.len()) as u32).collect();
    for (i, out) in pixels.chunks_exact_mut(bytes).enumerate() {
        render(size, labels[i] as usize, seed, i as u64, out);
    }
    Ok(ImageDataset {
        name: format!("synthetic(seed {seed})"),
        height: size,
        width: size,
        pixels: pixels.into(),
        labels,
        classes: SYNTHETIC_CLASSES.iter().map(|s| s.to_string()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_from_the_seed() {
        let a = synthetic(3, 32, 7).unwrap();
        assert_eq!(a, synthetic(3, 32, 7).unwrap());
        assert_ne!(a.pixels, synthetic(3, 32, 8).unwrap().pixels);
        assert_eq!(a.len(), 30);
        assert_eq!(a.class_counts(), vec![3; 10]);
        assert!(synthetic(0, 32, 1).is_err());
    }

    /// Nearest class mean on raw pixels of horizontally flipped, grayscale images beats
    /// chance by far: the classes are visual, not colour, and flips keep them.
    #[test]
    fn classes_survive_flip_and_grayscale() {
        let size = 32;
        let data = synthetic(20, size, 1).unwrap();
        let gray_flipped = |i: usize| -> Vec<f32> {
            let img = data.image(i);
            let mut g = vec![0.0; size * size];
            for y in 0..size {
                for x in 0..size {
                    let p = &img[(y * size + (size - 1 - x)) * 3..][..3];
                    g[y * size + x] = 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32;
                }
            }
            // Contrast-normalise: colours are random per image.
            let mean = g.iter().sum::<f32>() / g.len() as f32;
            let sd = (g.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / g.len() as f32).sqrt().max(1e-3);
            // Magnitude spectrum-like feature: absolute differences along x and y, histogram.
            let mut feat = vec![0.0; 8];
            for y in 0..size - 1 {
                for x in 0..size - 1 {
                    let v = (g[y * size + x] - mean) / sd;
                    let dx = ((g[y * size + x + 1] - mean) / sd - v).abs();
                    let dy = ((g[(y + 1) * size + x] - mean) / sd - v).abs();
                    feat[0] += dx;
                    feat[1] += dy;
                    feat[2] += (dx - dy).abs();
                    feat[3] += dx * dy;
                    feat[4] += if v > 0.0 { 1.0 } else { 0.0 };
                    feat[5] += v.abs();
                    let ddx = ((g[(y + 1) * size + x + 1] - mean) / sd - v).abs();
                    feat[6] += ddx;
                    feat[7] += (dx + dy - ddx).abs();
                }
            }
            feat
        };
        let feats: Vec<Vec<f32>> = (0..data.len()).map(gray_flipped).collect();
        // Leave-one-out 1-nearest neighbour.
        let correct = (0..data.len())
            .filter(|&i| {
                let nearest = (0..data.len())
                    .filter(|&j| j != i)
                    .min_by(|&a, &b| {
                        let d = |j: usize| feats[i].iter().zip(&feats[j]).map(|(p, q)| (p - q).powi(2)).sum::<f32>();
                        d(a).total_cmp(&d(b))
                    })
                    .unwrap();
                data.labels[nearest] == data.labels[i]
            })
            .count();
        let accuracy = correct as f64 / data.len() as f64;
        assert!(accuracy > 0.5, "1-NN accuracy {accuracy} on flipped grayscale synthetic images (chance 0.1)");
    }

    #[test]
    fn sizes_past_the_bound_are_refused_before_allocating() {
        for (per_class, size) in [(usize::MAX, 32), (usize::MAX / 10 + 1, 8), (100_000, 512)] {
            let e = synthetic(per_class, size, 0).unwrap_err().to_string();
            assert!(e.contains("would take more than 2 GiB"), "{per_class} x {size}: {e}");
        }
    }
}
