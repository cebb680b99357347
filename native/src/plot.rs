//! PNG line plots of a run's metrics (loss and kNN top-1 by epoch), drawn with the
//! `image` crate and a built-in 5 x 7 pixel font: no font files, no system libraries.

use std::path::Path;

use anyhow::{Context, Result};
use image::{Rgb, RgbImage};

const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const INK: Rgb<u8> = Rgb([40, 40, 40]);
const GRID: Rgb<u8> = Rgb([225, 225, 225]);
const BLUE: Rgb<u8> = Rgb([31, 119, 180]);
const ORANGE: Rgb<u8> = Rgb([255, 127, 14]);
const GREY: Rgb<u8> = Rgb([150, 150, 150]);

/// 5 x 7 glyphs, one byte per row (low 5 bits, most significant on the left).
fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_uppercase() {
        '0' => [14, 17, 19, 21, 25, 17, 14],
        '1' => [4, 12, 4, 4, 4, 4, 14],
        '2' => [14, 17, 1, 2, 4, 8, 31],
        '3' => [31, 2, 4, 2, 1, 17, 14],
        '4' => [2, 6, 10, 18, 31, 2, 2],
        '5' => [31, 16, 30, 1, 1, 17, 14],
        '6' => [6, 8, 16, 30, 17, 17, 14],
        '7' => [31, 1, 2, 4, 8, 8, 8],
        '8' => [14, 17, 17, 14, 17, 17, 14],
        '9' => [14, 17, 17, 15, 1, 2, 12],
        '.' => [0, 0, 0, 0, 0, 12, 12],
        '-' => [0, 0, 0, 31, 0, 0, 0],
        '%' => [24, 25, 2, 4, 8, 19, 3],
        '(' => [2, 4, 8, 8, 8, 4, 2],
        ')' => [8, 4, 2, 2, 2, 4, 8],
        '/' => [0, 1, 2, 4, 8, 16, 0],
        '=' => [0, 0, 31, 0, 31, 0, 0],
        'A' => [14, 17, 17, 31, 17, 17, 17],
        'B' => [30, 17, 17, 30, 17, 17, 30],
        'C' => [14, 17, 16, 16, 16, 17, 14],
        'D' => [28, 18, 17, 17, 17, 18, 28],
        'E' => [31, 16, 16, 30, 16, 16, 31],
        'F' => [31, 16, 16, 30, 16, 16, 16],
        'G' => [14, 17, 16, 23, 17, 17, 15],
        'H' => [17, 17, 17, 31, 17, 17, 17],
        'I' => [14, 4, 4, 4, 4, 4, 14],
        'K' => [17, 18, 20, 24, 20, 18, 17],
        'L' => [16, 16, 16, 16, 16, 16, 31],
        'M' => [17, 27, 21, 21, 17, 17, 17],
        'N' => [17, 17, 25, 21, 19, 17, 17],
        'O' => [14, 17, 17, 17, 17, 17, 14],
        'P' => [30, 17, 17, 30, 16, 16, 16],
        'R' => [30, 17, 17, 30, 20, 18, 17],
        'S' => [15, 16, 16, 14, 1, 1, 30],
        'T' => [31, 4, 4, 4, 4, 4, 4],
        'U' => [17, 17, 17, 17, 17, 17, 14],
        'V' => [17, 17, 17, 17, 17, 10, 4],
        'W' => [17, 17, 17, 21, 21, 21, 10],
        'Y' => [17, 17, 10, 4, 4, 4, 4],
        _ => [0; 7],
    }
}

/// Draws `text` with its top-left corner at (x, y), `scale` pixels per font pixel.
fn text(img: &mut RgbImage, x: i32, y: i32, s: &str, scale: i32, colour: Rgb<u8>) {
    for (i, c) in s.chars().enumerate() {
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..5 {
                if bits >> (4 - col) & 1 == 1 {
                    for dy in 0..scale {
                        for dx in 0..scale {
                            put(img, x + (i as i32 * 6 + col) * scale + dx, y + row as i32 * scale + dy, colour);
                        }
                    }
                }
            }
        }
    }
}

fn text_width(s: &str, scale: i32) -> i32 {
    s.chars().count() as i32 * 6 * scale
}

fn put(img: &mut RgbImage, x: i32, y: i32, colour: Rgb<u8>) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, colour);
    }
}

/// A thick line from (x0, y0) to (x1, y1).
fn line(img: &mut RgbImage, (x0, y0): (f32, f32), (x1, y1): (f32, f32), width: i32, colour: Rgb<u8>) {
    let steps = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as i32).max(1);
    for i in 0..=steps {
        let t = i as f32 / steps as f32;
        let (x, y) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
        for dy in -(width / 2)..=(width / 2) {
            for dx in -(width / 2)..=(width / 2) {
                put(img, x.round() as i32 + dx, y.round() as i32 + dy, colour);
            }
        }
    }
}

/// One series: (x, y) points in order, drawn as a line with dots.
pub struct Series {
    /// Points (epoch, value).
    pub points: Vec<(f64, f64)>,
    /// Line colour.
    pub colour: Rgb<u8>,
    /// Name in the panel's legend (none: no legend entry).
    pub label: Option<String>,
}

/// Distinct line colours for series drawn together (matplotlib's tab10 order).
pub const PALETTE: [Rgb<u8>; 8] = [
    BLUE,
    ORANGE,
    Rgb([44, 160, 44]),
    Rgb([214, 39, 40]),
    Rgb([148, 103, 189]),
    Rgb([140, 86, 75]),
    Rgb([227, 119, 194]),
    Rgb([23, 190, 207]),
];

/// One panel: a title and its series on shared axes, with an optional dashed
/// horizontal reference line (e.g. chance accuracy).
pub struct Panel {
    /// Title above the panel (the built-in font has A-Z, digits and `.-%()/=`).
    pub title: String,
    /// The series.
    pub series: Vec<Series>,
    /// A dashed reference level.
    pub reference: Option<f64>,
}

fn nice_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return None;
    }
    let pad = ((hi - lo) * 0.08).max(hi.abs().max(1.0) * 1e-3);
    Some((lo - pad, hi + pad))
}

fn label(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn draw_panel(img: &mut RgbImage, panel: &Panel, x: i32, y: i32, w: i32, h: i32) {
    let scale = 2;
    text(img, x + (w - text_width(&panel.title, scale)) / 2, y, &panel.title, scale, INK);
    // Plot area inside the panel, leaving room for tick labels.
    let (left, top, right, bottom) = (x + 70, y + 30, x + w - 15, y + h - 40);
    let all_x = panel.series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let all_y = panel.series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).chain(panel.reference);
    let (Some((x0, x1)), Some((y0, y1))) = (nice_range(all_x), nice_range(all_y)) else {
        text(img, left + 10, (top + bottom) / 2, "NO DATA YET", scale, GREY);
        return;
    };
    let px = |v: f64| left as f32 + ((v - x0) / (x1 - x0)) as f32 * (right - left) as f32;
    let py = |v: f64| bottom as f32 - ((v - y0) / (y1 - y0)) as f32 * (bottom - top) as f32;
    for i in 0..=4 {
        let v = y0 + (y1 - y0) * i as f64 / 4.0;
        line(img, (left as f32, py(v)), (right as f32, py(v)), 1, GRID);
        let l = label(v);
        text(img, left - 8 - text_width(&l, 1) * 2, py(v) as i32 - 7, &l, scale, INK);
    }
    let (e0, e1) = (x0.ceil() as i64, x1.floor() as i64);
    let every = ((e1 - e0) / 8).max(1);
    for e in (e0..=e1).filter(|e| (e - e0) % every == 0) {
        let l = e.to_string();
        text(img, px(e as f64) as i32 - text_width(&l, scale) / 2, bottom + 8, &l, scale, INK);
        line(img, (px(e as f64), bottom as f32), (px(e as f64), bottom as f32 + 4.0), 1, INK);
    }
    text(img, (left + right - text_width("EPOCH", scale)) / 2, bottom + 24, "EPOCH", scale, INK);
    line(img, (left as f32, top as f32), (left as f32, bottom as f32), 1, INK);
    line(img, (left as f32, bottom as f32), (right as f32, bottom as f32), 1, INK);
    if let Some(r) = panel.reference {
        let mut xx = left as f32;
        while xx < right as f32 {
            line(img, (xx, py(r)), ((xx + 6.0).min(right as f32), py(r)), 1, GREY);
            xx += 12.0;
        }
    }
    for series in &panel.series {
        let points: Vec<(f32, f32)> = series.points.iter().filter(|p| p.1.is_finite()).map(|p| (px(p.0), py(p.1))).collect();
        for pair in points.windows(2) {
            line(img, pair[0], pair[1], 3, series.colour);
        }
        for &(cx, cy) in &points {
            for dy in -4i32..=4 {
                for dx in -4i32..=4 {
                    if dx * dx + dy * dy <= 16 {
                        put(img, cx as i32 + dx, cy as i32 + dy, series.colour);
                    }
                }
            }
        }
    }
    // Legend, top left inside the plot area: a colour swatch and the series' label.
    for (row, (label, colour)) in panel.series.iter().filter_map(|s| s.label.as_deref().map(|l| (l, s.colour))).enumerate() {
        let (lx, ly) = (left + 10, top + 6 + row as i32 * 14);
        for dy in 0..8 {
            line(img, (lx as f32, (ly + dy) as f32), ((lx + 14) as f32, (ly + dy) as f32), 1, colour);
        }
        text(img, lx + 20, ly, &label.to_uppercase(), 1, INK);
    }
}

/// Draws `panels` side by side into a PNG at `path` (written through a temporary file,
/// so a reader never sees half an image).
pub fn save(path: &Path, panels: &[Panel]) -> Result<()> {
    let (w, h) = (520, 380);
    let mut img = RgbImage::from_pixel(w * panels.len().max(1) as u32, h, WHITE);
    for (i, panel) in panels.iter().enumerate() {
        draw_panel(&mut img, panel, i as i32 * w as i32, 10, w as i32, h as i32 - 10);
    }
    let tmp = path.with_extension("png.tmp");
    img.save_with_format(&tmp, image::ImageFormat::Png).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// The training curves of a run from its `metrics.jsonl`: loss by epoch, and kNN top-1
/// (percent) by epoch against chance (`100 / classes`). Written to `curves.png`.
pub fn training_curves(metrics_jsonl: &Path, classes: usize, out: &Path) -> Result<()> {
    let text = std::fs::read_to_string(metrics_jsonl).with_context(|| format!("reading {}", metrics_jsonl.display()))?;
    let (mut loss, mut knn) = (Vec::new(), Vec::new());
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).with_context(|| format!("{} is not JSON lines", metrics_jsonl.display()))?;
        let epoch = v["epoch"].as_f64().unwrap_or(f64::NAN);
        if let Some(l) = v["loss"].as_f64() {
            loss.push((epoch, l));
        }
        if let Some(k) = v["knn_top1"].as_f64() {
            knn.push((epoch, k * 100.0));
        }
    }
    save(
        out,
        &[
            Panel { title: "TRAINING LOSS".into(), series: vec![Series { points: loss, colour: BLUE, label: None }], reference: None },
            Panel {
                title: "KNN TOP-1 %  (- - CHANCE)".into(),
                series: vec![Series { points: knn, colour: ORANGE, label: None }],
                reference: Some(100.0 / classes.max(1) as f64),
            },
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_are_drawn_from_metrics() {
        let dir = std::env::temp_dir().join(format!("ring-wgpu-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let metrics = dir.join("metrics.jsonl");
        std::fs::write(
            &metrics,
            "{\"epoch\":0,\"loss\":null,\"knn_top1\":0.3}\n{\"epoch\":1,\"loss\":4.4,\"knn_top1\":0.35}\n{\"epoch\":2,\"loss\":3.9,\"knn_top1\":null}\n{\"epoch\":3,\"loss\":3.1,\"knn_top1\":0.5}\n",
        )
        .unwrap();
        let png = dir.join("curves.png");
        training_curves(&metrics, 10, &png).unwrap();
        let img = image::open(&png).unwrap().to_rgb8();
        assert_eq!((img.width(), img.height()), (1040, 380));
        let count = |c: Rgb<u8>| img.pixels().filter(|&&p| p == c).count();
        assert!(count(BLUE) > 200 && count(ORANGE) > 200, "both curves drawn");
        assert!(!dir.join("curves.png.tmp").exists());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn every_label_character_has_a_glyph() {
        for c in "TRAINING LOSS KNN TOP-1 % CHANCE EPOCH 0123456789.-()/=".chars().filter(|c| *c != ' ') {
            assert_ne!(glyph(c), [0; 7], "{c}");
        }
    }
}
