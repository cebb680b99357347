//! The augmentation recipe and each view's random draw.

use bytemuck::{Pod, Zeroable};

use crate::rng::SplitMix64 as Rng;

/// Launch parameters: the Rust mirror of `struct AugmentParams` in augment.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Pod, Zeroable)]
pub struct AugmentParams {
    /// Views in the launch.
    pub views: u32,
    /// Source height.
    pub src_height: u32,
    /// Source width.
    pub src_width: u32,
    /// Output height.
    pub out_height: u32,
    /// Output width.
    pub out_width: u32,
    /// Images in the bound pixel buffer.
    pub images: u32,
    /// Channel means.
    pub mean_r: f32,
    /// Channel means.
    pub mean_g: f32,
    /// Channel means.
    pub mean_b: f32,
    /// Channel standard deviations.
    pub std_r: f32,
    /// Channel standard deviations.
    pub std_g: f32,
    /// Channel standard deviations.
    pub std_b: f32,
}

/// One view's random choices: the Rust mirror of `struct View` in augment.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Pod, Zeroable)]
pub struct ViewParams {
    /// Image index in the dataset.
    pub image: u32,
    /// Output slot.
    pub slot: u32,
    /// 1: mirror horizontally.
    pub flip: u32,
    /// 1: apply the colour jitter.
    pub jitter: u32,
    /// 1: grayscale after the jitter.
    pub grayscale: u32,
    /// Jitter order: four 2-bit op codes (0 brightness, 1 contrast, 2 saturation, 3 hue),
    /// first op in the low bits.
    pub order: u32,
    /// Crop box left, in source pixels.
    pub crop_x: f32,
    /// Crop box top.
    pub crop_y: f32,
    /// Crop box width.
    pub crop_w: f32,
    /// Crop box height.
    pub crop_h: f32,
    /// Brightness factor.
    pub brightness: f32,
    /// Contrast factor.
    pub contrast: f32,
    /// Saturation factor.
    pub saturation: f32,
    /// Hue shift (fraction of a turn).
    pub hue: f32,
    /// Gaussian blur sigma in pixels (0: no blur), applied after the rest (blur.wgsl).
    pub blur_sigma: f32,
    /// Padding.
    pub pad: u32,
}

impl ViewParams {
    /// Field names in WGSL declaration order.
    pub const FIELDS: [&'static str; 16] = [
        "image",
        "slot",
        "flip",
        "jitter",
        "grayscale",
        "order",
        "crop_x",
        "crop_y",
        "crop_w",
        "crop_h",
        "brightness",
        "contrast",
        "saturation",
        "hue",
        "blur_sigma",
        "pad",
    ];

    /// The identity view of `image`: whole image, no flip, no jitter, no grayscale.
    pub fn identity(image: u32, slot: u32, height: usize, width: usize) -> Self {
        ViewParams {
            image,
            slot,
            order: 0b11_10_01_00,
            crop_w: width as f32,
            crop_h: height as f32,
            brightness: 1.0,
            contrast: 1.0,
            saturation: 1.0,
            ..Default::default()
        }
    }
}

/// The augmentation recipe (defaults: MoCo v2 / SimCLR on CIFAR).
#[derive(Debug, Clone, PartialEq)]
pub struct AugmentSpec {
    /// Output height and width.
    pub size: usize,
    /// Crop area as a fraction of the image, range.
    pub scale: (f64, f64),
    /// Crop aspect ratio (w / h), range.
    pub ratio: (f64, f64),
    /// Probability of a horizontal flip.
    pub flip_p: f64,
    /// Probability of applying the colour jitter.
    pub jitter_p: f64,
    /// Brightness strength (factor in [1 - b, 1 + b]).
    pub brightness: f64,
    /// Contrast strength.
    pub contrast: f64,
    /// Saturation strength.
    pub saturation: f64,
    /// Hue strength (shift in [-h, h] of a turn, h <= 0.5).
    pub hue: f64,
    /// Probability of grayscale.
    pub grayscale_p: f64,
    /// Probability of a Gaussian blur (MoCo v2: 0.5; off by default on 32-pixel images).
    pub blur_p: f64,
    /// Blur sigma range, pixels (MoCo v2: [0.1, 2]).
    pub blur_sigma: (f64, f64),
    /// Channel means after scaling to [0, 1].
    pub mean: [f32; 3],
    /// Channel standard deviations.
    pub std: [f32; 3],
}

impl Default for AugmentSpec {
    fn default() -> Self {
        AugmentSpec {
            size: 32,
            scale: (0.2, 1.0),
            ratio: (3.0 / 4.0, 4.0 / 3.0),
            flip_p: 0.5,
            jitter_p: 0.8,
            brightness: 0.4,
            contrast: 0.4,
            saturation: 0.4,
            hue: 0.1,
            grayscale_p: 0.2,
            blur_p: 0.0,
            blur_sigma: (0.1, 2.0),
            mean: [0.4914, 0.4822, 0.4465],
            std: [0.2470, 0.2435, 0.2616],
        }
    }
}

impl AugmentSpec {
    /// Launch parameters for `views` views of `src_height` x `src_width` images.
    pub fn launch_params(&self, views: usize, src_height: usize, src_width: usize, images: usize) -> AugmentParams {
        AugmentParams {
            views: views as u32,
            src_height: src_height as u32,
            src_width: src_width as u32,
            out_height: self.size as u32,
            out_width: self.size as u32,
            images: images as u32,
            mean_r: self.mean[0],
            mean_g: self.mean[1],
            mean_b: self.mean[2],
            std_r: self.std[0],
            std_g: self.std[1],
            std_b: self.std[2],
        }
    }
}

/// The generator of one view: SplitMix64 keyed by (seed, step, slot).
fn view_rng(seed: u64, step: u64, slot: u64) -> Rng {
    let mut r = Rng(seed ^ 0x5851_f42d_4c95_7f2d);
    r.0 ^= r.next_u64().wrapping_add(step.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    r.0 ^= r.next_u64().wrapping_add(slot.wrapping_mul(0xc2b2_ae3d_27d4_eb4f));
    r
}

/// torchvision's RandomResizedCrop box (x, y, w, h) in integer pixels.
fn crop_box(rng: &mut Rng, spec: &AugmentSpec, height: usize, width: usize) -> (usize, usize, usize, usize) {
    let area = (height * width) as f64;
    let (log_lo, log_hi) = (spec.ratio.0.ln(), spec.ratio.1.ln());
    for _ in 0..10 {
        let target = area * rng.range(spec.scale.0, spec.scale.1);
        let aspect = rng.range(log_lo, log_hi).exp();
        let w = (target * aspect).sqrt().round() as usize;
        let h = (target / aspect).sqrt().round() as usize;
        if w > 0 && h > 0 && w <= width && h <= height {
            let y = rng.up_to((height - h) as u64) as usize;
            let x = rng.up_to((width - w) as u64) as usize;
            return (x, y, w, h);
        }
    }
    // Fallback: the central crop with the ratio clamped into range.
    let in_ratio = width as f64 / height as f64;
    let (w, h) = if in_ratio < spec.ratio.0 {
        (width, ((width as f64 / spec.ratio.0).round() as usize).min(height))
    } else if in_ratio > spec.ratio.1 {
        (((height as f64 * spec.ratio.1).round() as usize).min(width), height)
    } else {
        (width, height)
    };
    ((width - w) / 2, (height - h) / 2, w, h)
}

/// `views` views of each of `images` (dataset indices): slots `0..B` are the first views,
/// `B..2B` the second, and so on. Reproducible from (`seed`, `step`) alone; a view's draw
/// depends only on its slot.
pub fn sample_views(
    spec: &AugmentSpec,
    images: &[u32],
    views: usize,
    height: usize,
    width: usize,
    seed: u64,
    step: u64,
) -> Vec<ViewParams> {
    let b = images.len();
    (0..views * b)
        .map(|slot| {
            let mut rng = view_rng(seed, step, slot as u64);
            let (x, y, w, h) = crop_box(&mut rng, spec, height, width);
            let flip = rng.unit() < spec.flip_p;
            let jitter = rng.unit() < spec.jitter_p;
            let factor = |rng: &mut Rng, strength: f64| rng.range((1.0 - strength).max(0.0), 1.0 + strength) as f32;
            let brightness = factor(&mut rng, spec.brightness);
            let contrast = factor(&mut rng, spec.contrast);
            let saturation = factor(&mut rng, spec.saturation);
            let hue = rng.range(-spec.hue, spec.hue) as f32;
            // Random permutation of the four jitter ops (Fisher-Yates).
            let mut ops = [0u32, 1, 2, 3];
            for i in (1..4).rev() {
                let j = rng.up_to(i as u64) as usize;
                ops.swap(i, j);
            }
            let order = ops.iter().enumerate().fold(0, |acc, (k, &op)| acc | (op << (2 * k)));
            let grayscale = rng.unit() < spec.grayscale_p;
            // Drawn last, and only when enabled: the other draws do not depend on it.
            let blur_sigma =
                if spec.blur_p > 0.0 && rng.unit() < spec.blur_p { rng.range(spec.blur_sigma.0, spec.blur_sigma.1) as f32 } else { 0.0 };
            ViewParams {
                image: images[slot % b],
                slot: slot as u32,
                flip: flip as u32,
                jitter: jitter as u32,
                grayscale: grayscale as u32,
                order,
                crop_x: x as f32,
                crop_y: y as f32,
                crop_w: w as f32,
                crop_h: h as f32,
                brightness,
                contrast,
                saturation,
                hue,
                blur_sigma,
                pad: 0,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_layout(name: &str, fields: &[&str], size: usize) {
        crate::gpu::launch::assert_layout_matches(ring_wgpu_shaders::AUGMENT, name, fields, size);
    }

    #[test]
    fn layouts_match_wgsl() {
        check_layout("View", &ViewParams::FIELDS, std::mem::size_of::<ViewParams>());
        check_layout(
            "AugmentParams",
            &[
                "views",
                "src_height",
                "src_width",
                "out_height",
                "out_width",
                "images",
                "mean_r",
                "mean_g",
                "mean_b",
                "std_r",
                "std_g",
                "std_b",
            ],
            std::mem::size_of::<AugmentParams>(),
        );
    }

    #[test]
    fn draws_follow_the_recipe() {
        let spec = AugmentSpec::default();
        let images: Vec<u32> = (0..2000).collect();
        let views = sample_views(&spec, &images, 2, 32, 32, 9, 3);
        assert_eq!(views.len(), 4000);
        assert_eq!(views, sample_views(&spec, &images, 2, 32, 32, 9, 3), "reproducible");
        assert_ne!(views, sample_views(&spec, &images, 2, 32, 32, 9, 4), "new draws each step");
        assert_eq!(&views[..2000], &sample_views(&spec, &images, 1, 32, 32, 9, 3)[..], "a view depends on its slot only");
        assert!(views.iter().all(|v| v.blur_sigma == 0.0), "no blur by default");
        let blurred = sample_views(&AugmentSpec { blur_p: 0.5, ..spec.clone() }, &images, 2, 32, 32, 9, 3);
        assert!((blurred.iter().filter(|v| v.blur_sigma > 0.0).count() as f64 / 4000.0 - 0.5).abs() < 0.04);
        assert!(blurred.iter().all(|v| v.blur_sigma == 0.0 || (0.1..=2.0).contains(&v.blur_sigma)));
        let unblurred: Vec<ViewParams> = blurred.iter().map(|v| ViewParams { blur_sigma: 0.0, ..*v }).collect();
        assert_eq!(unblurred, views, "turning blur on leaves every other draw as it was");
        let rate = |f: &dyn Fn(&ViewParams) -> bool| views.iter().filter(|v| f(v)).count() as f64 / views.len() as f64;
        assert!((rate(&|v| v.flip == 1) - 0.5).abs() < 0.04);
        assert!((rate(&|v| v.jitter == 1) - 0.8).abs() < 0.04);
        assert!((rate(&|v| v.grayscale == 1) - 0.2).abs() < 0.04);
        for v in &views {
            assert!(v.crop_x + v.crop_w <= 32.0 && v.crop_y + v.crop_h <= 32.0);
            let area = (v.crop_w * v.crop_h) as f64 / 1024.0;
            // Rounding to whole pixels widens the bounds a little.
            assert!((0.15..=1.0).contains(&area), "{v:?}");
            assert!((0.6..=1.7).contains(&(v.crop_w / v.crop_h)), "{v:?}");
            assert!((0.6..=1.4).contains(&v.brightness) && (-0.1..=0.1).contains(&v.hue));
            let mut ops: Vec<u32> = (0..4).map(|k| (v.order >> (2 * k)) & 3).collect();
            ops.sort();
            assert_eq!(ops, [0, 1, 2, 3]);
        }
        assert_eq!(views[0].image, views[2000].image);
    }
}
