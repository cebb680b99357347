//! Plain-Rust reference of augment.wgsl, operation for operation in f32.

use super::{AugmentSpec, ViewParams};
use crate::cpu::parallel::map_indices;
use crate::data::ImageDataset;

#[inline]
pub(super) fn gray(rgb: [f32; 3]) -> f32 {
    0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
}

pub(super) fn rgb_to_hsv([r, g, b]: [f32; 3]) -> [f32; 3] {
    let maxc = r.max(g).max(b);
    let minc = r.min(g).min(b);
    let delta = maxc - minc;
    let mut h = 0.0;
    if delta > 0.0 {
        h = if maxc == r {
            (g - b) / delta
        } else if maxc == g {
            2.0 + (b - r) / delta
        } else {
            4.0 + (r - g) / delta
        };
        h /= 6.0;
        h -= h.floor();
    }
    let s = if maxc > 0.0 { delta / maxc } else { 0.0 };
    [h, s, maxc]
}

pub(super) fn hsv_to_rgb([h, s, v]: [f32; 3]) -> [f32; 3] {
    let h6 = h * 6.0;
    let sector = h6.floor();
    let f = h6 - sector;
    let p = v * (1.0 - s);
    let q = v * (1.0 - s * f);
    let t = v * (1.0 - s * (1.0 - f));
    match (sector as u32) % 6 {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

fn sample(data: &ImageDataset, v: &ViewParams, size: usize, ox: usize, oy: usize) -> [f32; 3] {
    let x_out = if v.flip != 0 { size - 1 - ox } else { ox };
    let x_last = v.crop_x + v.crop_w - 1.0;
    let y_last = v.crop_y + v.crop_h - 1.0;
    let sx = (v.crop_x + (x_out as f32 + 0.5) * v.crop_w / size as f32 - 0.5).clamp(v.crop_x, x_last);
    let sy = (v.crop_y + (oy as f32 + 0.5) * v.crop_h / size as f32 - 0.5).clamp(v.crop_y, y_last);
    let (x0, y0) = (sx.floor(), sy.floor());
    let (x1, y1) = ((x0 + 1.0).min(x_last), (y0 + 1.0).min(y_last));
    let (fx, fy) = (sx - x0, sy - y0);
    let img = data.image(v.image as usize);
    let at = |y: f32, x: f32, c: usize| img[(y as usize * data.width + x as usize) * 3 + c] as f32 / 255.0;
    std::array::from_fn(|c| {
        let top = at(y0, x0, c) + (at(y0, x1, c) - at(y0, x0, c)) * fx;
        let bottom = at(y1, x0, c) + (at(y1, x1, c) - at(y1, x0, c)) * fx;
        top + (bottom - top) * fy
    })
}

/// Augments `views` of `data` as augment.wgsl does: f32 NCHW, `views.len()` x 3 x size x size
/// (each view written at its slot).
pub fn augment_reference(data: &ImageDataset, views: &[ViewParams], spec: &AugmentSpec) -> Vec<f32> {
    let size = spec.size;
    let plane = size * size;
    by_slot(views, 3 * plane, |v| augment_view(data, v, spec))
}

/// Each view's `len` values from `view`, computed in parallel on native targets (views are
/// independent: the same bits), written at the view's slot.
pub(super) fn by_slot(views: &[ViewParams], len: usize, view: impl Fn(&ViewParams) -> Vec<f32> + Sync + Send) -> Vec<f32> {
    let mut out = vec![0.0f32; views.len() * len];
    let values = map_indices(views.len(), |i| view(&views[i]));
    for (v, values) in views.iter().zip(values) {
        out[v.slot as usize * len..][..len].copy_from_slice(&values);
    }
    out
}

/// The mean of `count` values from their 256 strided partial sums, as the kernel reduces
/// them: a tree, then one division.
pub(super) fn mean_of_partials(mut partial: [f32; 256], count: usize) -> f32 {
    let mut stride = 128;
    while stride > 0 {
        for i in 0..stride {
            partial[i] += partial[i + stride];
        }
        stride /= 2;
    }
    partial[0] / count as f32
}

/// One view of [`augment_reference`]: its 3 normalised planes.
fn augment_view(data: &ImageDataset, v: &ViewParams, spec: &AugmentSpec) -> Vec<f32> {
    let size = spec.size;
    let plane = size * size;
    let mut out = vec![0.0f32; 3 * plane];
    let clamp01 = |rgb: [f32; 3]| rgb.map(|x| x.clamp(0.0, 1.0));
    let mut img: Vec<[f32; 3]> = (0..plane).map(|p| sample(data, v, size, p % size, p / size)).collect();
    for step in 0..4 {
        // The kernel's sum: 256 strided partial sums, then a tree reduction.
        let mut partial = [0.0f32; 256];
        for (p, rgb) in img.iter().enumerate() {
            partial[p % 256] += gray(*rgb);
        }
        let mean = mean_of_partials(partial, plane);
        if v.jitter == 0 {
            continue;
        }
        let op = (v.order >> (2 * step)) & 3;
        for rgb in img.iter_mut() {
            *rgb = match op {
                0 => clamp01(rgb.map(|x| x * v.brightness)),
                1 => clamp01(rgb.map(|x| v.contrast * x + (1.0 - v.contrast) * mean)),
                2 => {
                    let g = gray(*rgb);
                    clamp01(rgb.map(|x| v.saturation * x + (1.0 - v.saturation) * g))
                }
                _ => {
                    let mut hsv = rgb_to_hsv(*rgb);
                    hsv[0] += v.hue;
                    hsv[0] -= hsv[0].floor();
                    hsv_to_rgb(hsv)
                }
            };
        }
    }
    for (p, rgb) in img.iter().enumerate() {
        let rgb = if v.grayscale != 0 { [gray(*rgb); 3] } else { *rgb };
        for c in 0..3 {
            out[c * plane + p] = (rgb[c] - spec.mean[c]) / spec.std[c];
        }
    }
    out
}
