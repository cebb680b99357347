//! The CPU backend's augmentation: [`augment_reference`](super::augment_reference)'s
//! arithmetic, the same bits, arranged so that it runs fast on a CPU.
//!
//! The reference follows augment.wgsl pixel by pixel (one GPU thread's work): it recomputes
//! each pixel's source coordinates, divides every byte by 255, keeps a pixel's three
//! channels together and sums the view's gray level before every jitter op. Here each
//! view's planes are worked on whole: the source coordinates are computed once per output
//! row and column, bytes are scaled through a 256-entry table of the same quotients, the
//! channels live in separate planes so the jitter ops and the normalisation are loops the
//! compiler vectorises (compiled for AVX2 where the CPU has it), and the gray mean is summed
//! only before a contrast op, the one op that reads it. Every value goes through the same
//! f32 operations in the same order as in the reference, so the result is identical bit
//! for bit (the tests compare with `==`).

use super::reference::{by_slot, mean_of_partials};
use super::{AugmentSpec, ViewParams};
use crate::cpu::simd::dispatch_avx2;
use crate::data::ImageDataset;

/// `views` of `data` augmented into f32 NCHW, `views.len()` x 3 x size x size, each view at
/// its slot: [`augment_reference`](super::augment_reference)'s values, bit for bit.
pub(crate) fn augment_on_host(data: &ImageDataset, views: &[ViewParams], spec: &AugmentSpec) -> Vec<f32> {
    let plane = spec.size * spec.size;
    let scale: [f32; 256] = std::array::from_fn(|i| i as f32 / 255.0);
    by_slot(views, 3 * plane, |v| {
        let mut out = vec![0.0f32; 3 * plane];
        augment_view(data, v, spec, &scale, &mut out);
        out
    })
}

/// One view into `out` (its 3 planes).
fn augment_view(data: &ImageDataset, v: &ViewParams, spec: &AugmentSpec, scale: &[f32; 256], out: &mut [f32]) {
    let size = spec.size;
    let plane = size * size;
    let (r, rest) = out.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    crop_and_resize(data, v, size, scale, r, g, b);
    if v.jitter != 0 {
        for step in 0..4 {
            match (v.order >> (2 * step)) & 3 {
                0 => brightness(r, g, b, v.brightness),
                1 => {
                    let mean = gray_mean(r, g, b);
                    contrast(r, g, b, v.contrast, mean)
                }
                2 => saturation(r, g, b, v.saturation),
                _ => hue(r, g, b, v.hue),
            }
        }
    }
    if v.grayscale != 0 {
        grayscale(r, g, b);
    }
    for (c, channel) in [r, g, b].into_iter().enumerate() {
        normalise(channel, spec.mean[c], spec.std[c]);
    }
}

/// Where one output column (or row) samples the source: the byte offsets of its two
/// neighbours and the weight of the second, computed as the reference's `sample` does.
#[derive(Clone, Copy)]
struct Tap {
    first: usize,
    second: usize,
    weight: f32,
}

/// The taps of `size` outputs over a crop of `extent` pixels from `start` (mirrored when
/// `flip`), offsets in bytes (`stride` per source pixel).
fn taps(start: f32, extent: f32, size: usize, flip: bool, stride: usize) -> Vec<Tap> {
    let last = start + extent - 1.0;
    (0..size)
        .map(|o| {
            let o = if flip { size - 1 - o } else { o };
            let s = (start + (o as f32 + 0.5) * extent / size as f32 - 0.5).clamp(start, last);
            let lo = s.floor();
            let hi = (lo + 1.0).min(last);
            Tap { first: lo as usize * stride, second: hi as usize * stride, weight: s - lo }
        })
        .collect()
}

/// The bilinear crop, resized to `size` x `size` (and mirrored), into the three planes.
fn crop_and_resize(data: &ImageDataset, v: &ViewParams, size: usize, scale: &[f32; 256], r: &mut [f32], g: &mut [f32], b: &mut [f32]) {
    let img = data.image(v.image as usize);
    let columns = taps(v.crop_x, v.crop_w, size, v.flip != 0, 3);
    let rows = taps(v.crop_y, v.crop_h, size, false, data.width * 3);
    for (oy, row) in rows.iter().enumerate() {
        let (top, bottom) = (&img[row.first..], &img[row.second..]);
        let at = |line: &[u8], x: usize| scale[line[x] as usize];
        for (ox, col) in columns.iter().enumerate() {
            let value = |c: usize| {
                let (left, right) = (col.first + c, col.second + c);
                let upper = at(top, left) + (at(top, right) - at(top, left)) * col.weight;
                let lower = at(bottom, left) + (at(bottom, right) - at(bottom, left)) * col.weight;
                upper + (lower - upper) * row.weight
            };
            let p = oy * size + ox;
            (r[p], g[p], b[p]) = (value(0), value(1), value(2));
        }
    }
}

#[inline(always)]
fn gray(r: f32, g: f32, b: f32) -> f32 {
    super::reference::gray([r, g, b])
}

/// The view's mean gray level as the reference sums it (256 strided partial sums, then a
/// tree): the same bits.
fn gray_mean(r: &[f32], g: &[f32], b: &[f32]) -> f32 {
    let mut partial = [0.0f32; 256];
    gray_partials(r, g, b, &mut partial);
    mean_of_partials(partial, r.len())
}

dispatch_avx2! {
    /// Adds pixel `p`'s gray level to `partial[p % 256]`, pixel by pixel.
    fn gray_partials(r: &[f32], g: &[f32], b: &[f32], partial: &mut [f32; 256]) => gray_partials_body
}

#[inline(always)]
fn gray_partials_body(r: &[f32], g: &[f32], b: &[f32], partial: &mut [f32; 256]) {
    for ((r, g), b) in r.chunks(256).zip(g.chunks(256)).zip(b.chunks(256)) {
        for (((sum, &r), &g), &b) in partial.iter_mut().zip(r).zip(g).zip(b) {
            *sum += gray(r, g, b);
        }
    }
}

dispatch_avx2! {
    /// Brightness: every channel times `factor`, clamped to [0, 1].
    fn brightness(r: &mut [f32], g: &mut [f32], b: &mut [f32], factor: f32) => brightness_body
}

#[inline(always)]
fn brightness_body(r: &mut [f32], g: &mut [f32], b: &mut [f32], factor: f32) {
    for channel in [r, g, b] {
        for x in channel.iter_mut() {
            *x = (*x * factor).clamp(0.0, 1.0);
        }
    }
}

dispatch_avx2! {
    /// Contrast: every channel pulled towards the view's mean gray, clamped to [0, 1].
    fn contrast(r: &mut [f32], g: &mut [f32], b: &mut [f32], factor: f32, mean: f32) => contrast_body
}

#[inline(always)]
fn contrast_body(r: &mut [f32], g: &mut [f32], b: &mut [f32], factor: f32, mean: f32) {
    for channel in [r, g, b] {
        for x in channel.iter_mut() {
            *x = (factor * *x + (1.0 - factor) * mean).clamp(0.0, 1.0);
        }
    }
}

dispatch_avx2! {
    /// Saturation: every channel pulled towards the pixel's gray, clamped to [0, 1].
    fn saturation(r: &mut [f32], g: &mut [f32], b: &mut [f32], factor: f32) => saturation_body
}

#[inline(always)]
fn saturation_body(r: &mut [f32], g: &mut [f32], b: &mut [f32], factor: f32) {
    for ((r, g), b) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
        let y = gray(*r, *g, *b);
        *r = (factor * *r + (1.0 - factor) * y).clamp(0.0, 1.0);
        *g = (factor * *g + (1.0 - factor) * y).clamp(0.0, 1.0);
        *b = (factor * *b + (1.0 - factor) * y).clamp(0.0, 1.0);
    }
}

dispatch_avx2! {
    /// Hue: each pixel to HSV, its hue turned by `shift` (mod 1), back to RGB.
    fn hue(r: &mut [f32], g: &mut [f32], b: &mut [f32], shift: f32) => hue_body
}

#[inline(always)]
fn hue_body(r: &mut [f32], g: &mut [f32], b: &mut [f32], shift: f32) {
    for ((r, g), b) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
        let (h, s, v) = rgb_to_hsv(*r, *g, *b);
        let mut h = h + shift;
        h -= h.floor();
        (*r, *g, *b) = hsv_to_rgb(h, s, v);
    }
}

/// The reference's `rgb_to_hsv` with its branches as selects (the same values).
#[inline(always)]
fn rgb_to_hsv(r: f32, g: f32, b: f32) -> (f32, f32, f32) {
    let maxc = r.max(g).max(b);
    let minc = r.min(g).min(b);
    let delta = maxc - minc;
    let sector_r = (g - b) / delta;
    let sector_g = 2.0 + (b - r) / delta;
    let sector_b = 4.0 + (r - g) / delta;
    let mut h = if maxc == r {
        sector_r
    } else if maxc == g {
        sector_g
    } else {
        sector_b
    };
    h /= 6.0;
    h -= h.floor();
    let h = if delta > 0.0 { h } else { 0.0 };
    let s = if maxc > 0.0 { delta / maxc } else { 0.0 };
    (h, s, maxc)
}

/// The reference's `hsv_to_rgb` with its `match` as selects (the same values).
#[inline(always)]
fn hsv_to_rgb(h: f32, s: f32, v: f32) -> (f32, f32, f32) {
    let h6 = h * 6.0;
    let sector = h6.floor();
    let f = h6 - sector;
    let p = v * (1.0 - s);
    let q = v * (1.0 - s * f);
    let t = v * (1.0 - s * (1.0 - f));
    let k = (sector as u32) % 6;
    let r = if k == 0 || k == 5 {
        v
    } else if k == 1 {
        q
    } else if k == 4 {
        t
    } else {
        p
    };
    let g = if k == 1 || k == 2 {
        v
    } else if k == 0 {
        t
    } else if k == 3 {
        q
    } else {
        p
    };
    let b = if k == 3 || k == 4 {
        v
    } else if k == 2 {
        t
    } else if k == 5 {
        q
    } else {
        p
    };
    (r, g, b)
}

dispatch_avx2! {
    /// Grayscale: every channel set to the pixel's gray.
    fn grayscale(r: &mut [f32], g: &mut [f32], b: &mut [f32]) => grayscale_body
}

#[inline(always)]
fn grayscale_body(r: &mut [f32], g: &mut [f32], b: &mut [f32]) {
    for ((r, g), b) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
        let y = gray(*r, *g, *b);
        (*r, *g, *b) = (y, y, y);
    }
}

dispatch_avx2! {
    /// Normalisation: `(x - mean) / std`.
    fn normalise(channel: &mut [f32], mean: f32, std: f32) => normalise_body
}

#[inline(always)]
fn normalise_body(channel: &mut [f32], mean: f32, std: f32) {
    for x in channel.iter_mut() {
        *x = (*x - mean) / std;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::{augment_reference, sample_views};
    use std::sync::Arc;

    fn dataset(n: usize, height: usize, width: usize, seed: u64) -> ImageDataset {
        let mut s = seed | 1;
        let pixels: Vec<u8> = (0..n * height * width * 3)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 56) as u8
            })
            .collect();
        ImageDataset { name: "test".into(), height, width, pixels: pixels.into(), labels: vec![0; n], classes: vec!["all".into()] }
    }

    #[test]
    fn random_views_match_the_reference_bit_for_bit() {
        for (height, width, size, seed) in [(32, 32, 32, 1), (32, 32, 24, 2), (17, 23, 9, 3), (40, 28, 33, 4)] {
            let data = dataset(5, height, width, seed);
            let spec = AugmentSpec { size, ..AugmentSpec::default() };
            let images: Vec<u32> = (0..20).map(|i| i % 5).collect();
            let views = sample_views(&spec, &images, 2, height, width, seed, 7);
            assert!(views.iter().any(|v| v.jitter != 0) && views.iter().any(|v| v.jitter == 0));
            assert!(views.iter().any(|v| v.grayscale != 0) && views.iter().any(|v| v.flip != 0));
            let want = augment_reference(&data, &views, &spec);
            let got = augment_on_host(&data, &views, &spec);
            assert_eq!(got.len(), want.len());
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g.to_bits(), w.to_bits(), "{height}x{width} -> {size}, value {i}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn edge_views_match_the_reference_bit_for_bit() {
        // Flat images (every hue branch's delta = 0), one-pixel crops, each op alone and in
        // every position, full-strength factors, hue shifts of half a turn either way.
        let mut data = dataset(3, 8, 8, 9);
        let pixels = Arc::make_mut(&mut data.pixels);
        pixels[..8 * 8 * 3].fill(128);
        pixels[8 * 8 * 3..2 * 8 * 8 * 3].iter_mut().enumerate().for_each(|(i, p)| *p = [255, 0, 0][i % 3]);
        let mut views = Vec::new();
        for image in 0..3u32 {
            for order in [0b11_10_01_00u32, 0b00_00_00_00, 0b01_01_01_01, 0b10_10_10_10, 0b11_11_11_11, 0b00_01_10_11] {
                for (hue, factor) in [(0.5f32, 0.0f32), (-0.5, 2.0), (0.1, 1.0), (1e-9, 0.6)] {
                    views.push(ViewParams {
                        image,
                        slot: views.len() as u32,
                        flip: order & 1,
                        jitter: 1,
                        grayscale: (order >> 7) & 1,
                        order,
                        crop_x: (image * 2) as f32,
                        crop_y: 1.0,
                        crop_w: [8.0, 1.0, 5.0][image as usize],
                        crop_h: [7.0, 1.0, 3.0][image as usize],
                        brightness: factor,
                        contrast: factor,
                        saturation: factor,
                        hue,
                        ..Default::default()
                    });
                }
            }
        }
        let spec = AugmentSpec { size: 5, ..AugmentSpec::default() };
        let want = augment_reference(&data, &views, &spec);
        let got = augment_on_host(&data, &views, &spec);
        assert!(got.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits()));
    }

    #[test]
    fn hsv_conversions_match_the_reference_on_every_sector() {
        let values = [0.0f32, 1.0, 0.5, 0.25, 1e-7, 0.999_999_9, 0.3, 0.7];
        for &r in &values {
            for &g in &values {
                for &b in &values {
                    let (h, s, v) = rgb_to_hsv(r, g, b);
                    let want = super::super::reference::rgb_to_hsv([r, g, b]);
                    assert_eq!([h.to_bits(), s.to_bits(), v.to_bits()], want.map(f32::to_bits), "{r} {g} {b}");
                    for shift in [0.0f32, 0.5, -0.3, 0.999_999_9] {
                        let mut h = h + shift;
                        h -= h.floor();
                        let (r, g, b) = hsv_to_rgb(h, s, v);
                        let want = super::super::reference::hsv_to_rgb([h, s, v]);
                        assert_eq!([r.to_bits(), g.to_bits(), b.to_bits()], want.map(f32::to_bits));
                    }
                }
            }
        }
    }
}
