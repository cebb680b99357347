//! The CLI's PNG plots, drawn with plotters into an RGB buffer and written through a
//! temporary file (a reader never sees half an image): a run's training curves
//! (`curves.png`), a comparison's kNN curves (`compare.png`) and an embedding's PCA scatter
//! (`<split>_pca.png`). Text uses the DejaVu Sans font compiled into the binary, so no
//! system font or library is needed.

use std::ops::Range;
use std::path::Path;
use std::sync::Once;

use anyhow::{Context, Result, anyhow};
use image::RgbImage;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Distinct colours for series or classes drawn together (Tableau 10), then repeated.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The chance level's dashed line.
const CHANCE: RGBColor = RGBColor(120, 120, 120);
/// Text and axes.
const INK: RGBColor = RGBColor(40, 40, 40);
const FONT: &str = "sans-serif";

/// One method's kNN curve in a comparison: the mean over seeds at each monitored epoch, and
/// the lowest and highest seed there (drawn as a band when they differ).
pub struct SeedCurve {
    /// The method's name (the legend entry).
    pub label: String,
    /// (epoch, mean, lowest, highest), kNN top-1 in percent.
    pub points: Vec<(f64, f64, f64, f64)>,
}

fn register_font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The bytes are a valid TrueType font shipped by the `dejavu` crate (a test draws
        // text with it); were they not, text would be missing, not the plot.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// Renders `(width, height)` pixels with `draw` and writes the PNG to `path`.
fn render(path: &Path, (width, height): (u32, u32), draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<()>) -> Result<()> {
    register_font();
    let mut buffer = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (width, height)).into_drawing_area();
        draw(&root)?;
        root.present().map_err(|e| anyhow!("drawing {}: {e}", path.display()))?;
    }
    let image = RgbImage::from_raw(width, height, buffer).expect("the buffer holds width x height RGB pixels");
    let tmp = path.with_extension("png.tmp");
    image.save_with_format(&tmp, image::ImageFormat::Png).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// Draws a chart's legend (`chart.configure_series_labels()`) in the plots' one style:
/// `size`-point text on a translucent white box at `position`.
fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    mut labels: plotters::chart::SeriesLabelStyle<'a, '_, DB, CT>,
    size: u32,
    position: SeriesLabelPosition,
) -> Result<()> {
    labels
        .label_font((FONT, size).into_font().color(&INK))
        .background_style(WHITE.mix(0.85))
        .border_style(INK.mix(0.4))
        .position(position)
        .draw()
        .map_err(plot_error)
}

/// A legend key for a line series: a short stroke in `style`.
fn line_key(style: ShapeStyle) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style)
}

fn plot_error<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("drawing a plot: {e}")
}

/// `lo..hi` of `values` with 5% room on each side (a unit range around a single value).
fn padded(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (lo, hi) = values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    let room = if hi > lo { (hi - lo) * 0.05 } else { lo.abs().max(1.0) * 0.5 };
    lo - room..hi + room
}

/// `0..last epoch` (at least 1).
fn epochs(points: impl Iterator<Item = f64>) -> Range<f64> {
    0.0..points.filter(|v| v.is_finite()).fold(1.0f64, f64::max)
}

/// One metric by epoch in `area`: a line with dots, and a dashed reference level if given.
fn metric_panel(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    title: &str,
    y_label: &str,
    points: &[(f64, f64)],
    colour: RGBColor,
    reference: Option<(f64, &str)>,
) -> Result<()> {
    let ys = points.iter().map(|p| p.1).chain(reference.map(|r| r.0));
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 18).into_font().color(&INK))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(epochs(points.iter().map(|p| p.0)), padded(ys))
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc(y_label)
        .label_style((FONT, 13).into_font().color(&INK))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(plot_error)?;
    chart
        .draw_series(LineSeries::new(points.iter().copied(), colour.stroke_width(2)).point_size(3))
        .map_err(plot_error)?
        .label(y_label)
        .legend(line_key(colour.stroke_width(2)));
    if let Some((level, name)) = reference {
        let x = chart.x_range();
        chart
            .draw_series(DashedLineSeries::new(vec![(x.start, level), (x.end, level)], 6, 4, CHANCE.stroke_width(1)))
            .map_err(plot_error)?
            .label(name)
            .legend(line_key(CHANCE.stroke_width(1)));
        draw_legend(chart.configure_series_labels(), 13, SeriesLabelPosition::LowerRight)?;
    }
    Ok(())
}

/// The training curves of a run from its `metrics.jsonl`: the loss, kNN top-1 against
/// chance (`100 / classes`), and u with the learning rate, each by epoch. Written to `out`
/// (`curves.png`).
pub fn training_curves(metrics_jsonl: &Path, classes: usize, out: &Path) -> Result<()> {
    let text = std::fs::read_to_string(metrics_jsonl).with_context(|| format!("reading {}", metrics_jsonl.display()))?;
    let (mut loss, mut knn, mut upper, mut lr) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).with_context(|| format!("{} is not JSON lines", metrics_jsonl.display()))?;
        let Some(epoch) = v["epoch"].as_f64() else { continue };
        let push = |key: &str, scale: f64, into: &mut Vec<(f64, f64)>| {
            if let Some(value) = v[key].as_f64() {
                into.push((epoch, value * scale));
            }
        };
        push("loss", 1.0, &mut loss);
        push("knn_top1", 100.0, &mut knn);
        // Epoch 0 (the untrained network) has no step, so no u or learning rate.
        if epoch > 0.0 {
            push("upper", 1.0, &mut upper);
            push("lr", 1.0, &mut lr);
        }
    }
    let chance = 100.0 / classes.max(1) as f64;
    render(out, (1500, 400), |root| {
        let panels = root.split_evenly((1, 3));
        metric_panel(&panels[0], "training loss", "loss", &loss, PALETTE[0], None)?;
        metric_panel(&panels[1], "kNN top-1 (test split)", "kNN top-1 %", &knn, PALETTE[1], Some((chance, "chance")))?;
        schedule_panel(&panels[2], &upper, &lr)
    })
}

/// u (%) on the left axis and the learning rate on the right, by epoch.
fn schedule_panel(area: &DrawingArea<BitMapBackend<'_>, Shift>, upper: &[(f64, f64)], lr: &[(f64, f64)]) -> Result<()> {
    let x = epochs(upper.iter().chain(lr).map(|p| p.0));
    let mut chart = ChartBuilder::on(area)
        .caption("ring u and learning rate", (FONT, 18).into_font().color(&INK))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .right_y_label_area_size(64)
        .build_cartesian_2d(x.clone(), 0.0..105.0)
        .map_err(plot_error)?
        .set_secondary_coord(x, 0.0..padded(lr.iter().map(|p| p.1)).end.max(1e-9));
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc("u %")
        .label_style((FONT, 13).into_font().color(&INK))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(plot_error)?;
    chart.configure_secondary_axes().y_desc("learning rate").label_style((FONT, 13).into_font().color(&INK)).draw().map_err(plot_error)?;
    let (u_colour, lr_colour) = (PALETTE[2], PALETTE[4]);
    chart
        .draw_series(LineSeries::new(upper.iter().copied(), u_colour.stroke_width(2)))
        .map_err(plot_error)?
        .label("u % (left)")
        .legend(line_key(u_colour.stroke_width(2)));
    chart
        .draw_secondary_series(LineSeries::new(lr.iter().copied(), lr_colour.stroke_width(2)))
        .map_err(plot_error)?
        .label("learning rate (right)")
        .legend(line_key(lr_colour.stroke_width(2)));
    draw_legend(chart.configure_series_labels(), 13, SeriesLabelPosition::UpperRight)
}

/// A comparison's kNN curves: one line per method (the mean over seeds), its seeds' range
/// as a band, chance (`100 / classes`) dashed, a legend. Written to `out` (`compare.png`).
pub fn compare_curves(curves: &[SeedCurve], classes: usize, out: &Path) -> Result<()> {
    let chance = 100.0 / classes.max(1) as f64;
    let points = || curves.iter().flat_map(|c| c.points.iter());
    render(out, (900, 560), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("kNN top-1 by epoch (mean over seeds; band: lowest to highest seed)", (FONT, 18).into_font().color(&INK))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(epochs(points().map(|p| p.0)), padded(points().flat_map(|p| [p.2, p.3]).chain([chance])))
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc("kNN top-1 %")
            .label_style((FONT, 14).into_font().color(&INK))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(plot_error)?;
        for (i, curve) in curves.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            if curve.points.iter().any(|p| p.3 > p.2) {
                let band: Vec<(f64, f64)> =
                    curve.points.iter().map(|p| (p.0, p.3)).chain(curve.points.iter().rev().map(|p| (p.0, p.2))).collect();
                chart.draw_series(std::iter::once(Polygon::new(band, colour.mix(0.18).filled()))).map_err(plot_error)?;
            }
            chart
                .draw_series(LineSeries::new(curve.points.iter().map(|p| (p.0, p.1)), colour.stroke_width(2)).point_size(3))
                .map_err(plot_error)?
                .label(curve.label.as_str())
                .legend(line_key(colour.stroke_width(2)));
        }
        let x = chart.x_range();
        chart
            .draw_series(DashedLineSeries::new(vec![(x.start, chance), (x.end, chance)], 6, 4, CHANCE.stroke_width(1)))
            .map_err(plot_error)?
            .label("chance")
            .legend(line_key(CHANCE.stroke_width(1)));
        draw_legend(chart.configure_series_labels(), 14, SeriesLabelPosition::LowerRight)
    })
}

/// A 2-D PCA scatter of the `split` split: `points` (x, y pairs) coloured by `labels`, a legend of
/// `class_names`, axes naming each component's share of the total variance (`explained`,
/// fractions). `size` x `size` pixels, written to `out`.
pub fn pca_scatter(
    split: &str,
    points: &[f32],
    labels: &[u32],
    class_names: &[String],
    explained: [f64; 2],
    size: u32,
    out: &Path,
) -> Result<()> {
    let xy: Vec<(f64, f64)> = points.chunks_exact(2).map(|p| (p[0] as f64, p[1] as f64)).collect();
    render(out, (size, size), |root| {
        let text = ((size as f64 / 60.0).clamp(9.0, 16.0)) as u32;
        let mut chart = ChartBuilder::on(root)
            .caption(format!("features of the {split} split, first two principal components"), (FONT, text + 3).into_font().color(&INK))
            .margin(size / 60 + 4)
            .x_label_area_size(text * 3)
            .y_label_area_size(text * 4)
            .build_cartesian_2d(padded(xy.iter().map(|p| p.0)), padded(xy.iter().map(|p| p.1)))
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc(format!("PC 1 ({:.1}% of the variance)", explained[0] * 100.0))
            .y_desc(format!("PC 2 ({:.1}% of the variance)", explained[1] * 100.0))
            .label_style((FONT, text).into_font().color(&INK))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(plot_error)?;
        let classes = labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0).max(class_names.len());
        for class in 0..classes {
            let colour = PALETTE[class % PALETTE.len()];
            let members = xy.iter().zip(labels).filter(|(_, l)| **l as usize == class).map(|(p, _)| *p);
            let name = class_names.get(class).cloned().unwrap_or_else(|| format!("class {class}"));
            chart
                .draw_series(members.map(|p| Circle::new(p, 2, colour.mix(0.7).filled())))
                .map_err(plot_error)?
                .label(name)
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, colour.filled()));
        }
        draw_legend(chart.configure_series_labels(), text, SeriesLabelPosition::UpperRight)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ring-wgpu-plot-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Pixels of exactly `colour`, or (for translucent fills) within 12 of it per channel.
    fn count(img: &RgbImage, colour: RGBColor, tolerance: u8) -> usize {
        img.pixels().filter(|p| p.0.iter().zip([colour.0, colour.1, colour.2]).all(|(a, b)| a.abs_diff(b) <= tolerance)).count()
    }

    /// Dark, text-coloured pixels inside the rectangle `x0..x1` x `y0..y1` (axis labels,
    /// legends).
    fn ink_in(img: &RgbImage, (x0, x1): (u32, u32), (y0, y1): (u32, u32)) -> usize {
        (y0..y1).flat_map(|y| (x0..x1).map(move |x| (x, y))).filter(|&(x, y)| img.get_pixel(x, y).0.iter().all(|&c| c < 110)).count()
    }

    #[test]
    fn training_curves_show_loss_knn_against_chance_and_the_schedule() {
        let dir = temp_dir("curves");
        let metrics = dir.join("metrics.jsonl");
        std::fs::write(
            &metrics,
            "{\"epoch\":0,\"loss\":null,\"upper\":null,\"lr\":null,\"knn_top1\":0.3}\n\
             {\"epoch\":1,\"loss\":4.4,\"upper\":80.0,\"lr\":0.03,\"knn_top1\":0.35}\n\
             {\"epoch\":2,\"loss\":3.9,\"upper\":40.0,\"lr\":0.02,\"knn_top1\":null}\n\
             {\"epoch\":3,\"loss\":3.1,\"upper\":10.0,\"lr\":0.001,\"knn_top1\":0.5}\n",
        )
        .unwrap();
        let png = dir.join("curves.png");
        training_curves(&metrics, 10, &png).unwrap();
        let img = image::open(&png).unwrap().to_rgb8();
        assert_eq!((img.width(), img.height()), (1500, 400));
        for (colour, what) in
            [(PALETTE[0], "loss"), (PALETTE[1], "kNN"), (PALETTE[2], "u"), (PALETTE[4], "learning rate"), (CHANCE, "chance")]
        {
            assert!(count(&img, colour, 0) > 40, "the {what} curve is drawn");
        }
        // Text (titles, tick labels, axis names) in every panel.
        for panel in 0..3 {
            assert!(ink_in(&img, (panel * 500, panel * 500 + 500), (0, 40)) > 100, "panel {panel}'s title");
        }
        assert!(!dir.join("curves.png.tmp").exists());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn compare_curves_have_a_line_and_a_band_per_method() {
        let dir = temp_dir("compare");
        let png = dir.join("compare.png");
        let curves = vec![
            SeedCurve {
                label: "mocoring".into(),
                points: vec![(0.0, 30.0, 28.0, 32.0), (5.0, 60.0, 55.0, 64.0), (10.0, 70.0, 66.0, 75.0)],
            },
            SeedCurve { label: "moco".into(), points: vec![(0.0, 30.0, 30.0, 30.0), (5.0, 50.0, 50.0, 50.0), (10.0, 65.0, 65.0, 65.0)] },
        ];
        compare_curves(&curves, 10, &png).unwrap();
        let img = image::open(&png).unwrap().to_rgb8();
        assert_eq!((img.width(), img.height()), (900, 560));
        assert!(count(&img, PALETTE[0], 0) > 100 && count(&img, PALETTE[1], 0) > 100, "both lines");
        let blended = RGBColor(
            (255.0 * 0.82 + PALETTE[0].0 as f64 * 0.18) as u8,
            (255.0 * 0.82 + PALETTE[0].1 as f64 * 0.18) as u8,
            (255.0 * 0.82 + PALETTE[0].2 as f64 * 0.18) as u8,
        );
        assert!(count(&img, blended, 3) > 500, "the first method's seeds make a band");
        assert!(count(&img, CHANCE, 0) > 40, "chance is drawn");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_pca_scatter_has_every_class_a_legend_and_axes() {
        let dir = temp_dir("pca");
        let png = dir.join("test_pca.png");
        let names: Vec<String> = (0..12).map(|c| format!("class name {c}")).collect();
        let (mut points, mut labels) = (Vec::new(), Vec::new());
        for i in 0..600u32 {
            let class = i % 12;
            let angle = class as f32 / 12.0 * std::f32::consts::TAU;
            points.extend([angle.cos() * 5.0 + (i as f32 * 0.37).sin(), angle.sin() * 5.0 + (i as f32 * 0.71).cos()]);
            labels.push(class);
        }
        pca_scatter("test", &points, &labels, &names, [0.41, 0.22], 640, &png).unwrap();
        let img = image::open(&png).unwrap().to_rgb8();
        assert_eq!((img.width(), img.height()), (640, 640));
        for (class, &colour) in PALETTE.iter().enumerate() {
            assert!(count(&img, colour, 40) > 20, "class {class} drawn");
        }
        // The axis names along the bottom and the left edge.
        assert!(ink_in(&img, (0, 640), (600, 640)) > 100, "x axis name and ticks");
        assert!(ink_in(&img, (0, 40), (0, 640)) > 100, "y axis name");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn empty_metrics_still_draw() {
        let dir = temp_dir("empty");
        let metrics = dir.join("metrics.jsonl");
        std::fs::write(&metrics, "").unwrap();
        training_curves(&metrics, 10, &dir.join("curves.png")).unwrap();
        compare_curves(&[], 10, &dir.join("compare.png")).unwrap();
        std::fs::remove_dir_all(&dir).ok();
    }
}
