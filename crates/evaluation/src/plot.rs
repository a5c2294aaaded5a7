//! Figures (plotters, bitmap backend → PNG): P(k) with bands and a ratio panel, pixel PDFs,
//! Minkowski functionals, map grids on a shared colour scale, training curves.
//!
//! Every function renders into memory and writes the PNG atomically (temporary name in the same
//! folder, then rename), so a crash never leaves a half-written figure in place of a good one.
//! The functions know nothing about the statistics crate: callers pass plain [`Series`]
//! (x, mean and optional 1σ / 5–95% bands), so `stats`, `compare`, `evaluate` and the report
//! all draw with the same code.

use crate::error::{bail, Context, Error, Result};
use ndarray::ArrayView2;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// One curve with optional bands, in the units of the caller (stated in the axis labels).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// Legend text, e.g. "real (held-out, n=30)".
    pub label: String,
    /// Abscissa: k [h/Mpc], bin centres, or thresholds.
    pub x: Vec<f64>,
    /// Per-bin mean (or the single map's value).
    pub mean: Vec<f64>,
    /// Per-bin standard deviation; drawn as mean ± std (darker band).
    pub std: Option<Vec<f64>>,
    /// Per-bin 5th percentile; with `p95` drawn as the lighter band.
    pub p05: Option<Vec<f64>>,
    /// Per-bin 95th percentile.
    pub p95: Option<Vec<f64>>,
}

impl Series {
    /// A bare curve without bands (e.g. one map).
    pub fn line(label: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Self {
        Series {
            label: label.into(),
            x,
            mean: y,
            ..Default::default()
        }
    }

    fn check(&self) -> Result<()> {
        let n = self.x.len();
        if self.mean.len() != n {
            bail!(
                "series '{}': {} x values but {} means",
                self.label,
                n,
                self.mean.len()
            );
        }
        for (name, v) in [("std", &self.std), ("p05", &self.p05), ("p95", &self.p95)] {
            if let Some(v) = v {
                if v.len() != n {
                    bail!(
                        "series '{}': {} x values but {} {name} values",
                        self.label,
                        n,
                        v.len()
                    );
                }
            }
        }
        Ok(())
    }

    /// (lower, upper) of the 1σ band, if any.
    fn sigma_band(&self) -> Option<(Vec<f64>, Vec<f64>)> {
        self.std.as_ref().map(|s| {
            let lo = self.mean.iter().zip(s).map(|(m, s)| m - s).collect();
            let hi = self.mean.iter().zip(s).map(|(m, s)| m + s).collect();
            (lo, hi)
        })
    }

    fn pct_band(&self) -> Option<(Vec<f64>, Vec<f64>)> {
        match (&self.p05, &self.p95) {
            (Some(a), Some(b)) => Some((a.clone(), b.clone())),
            _ => None,
        }
    }
}

/// Colour of the i-th series: real data blue, generated orange, then a qualitative palette.
pub fn series_color(i: usize) -> RGBColor {
    const C: [RGBColor; 6] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
    ];
    C[i % C.len()]
}

const FONT: &str = "sans-serif";

/// DejaVu Sans (its licence: assets/fonts/LICENSE-DejaVu.txt), compiled in so plots render the
/// same on a bare cluster node with no system fonts.
static DEJAVU_SANS: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// Registers the embedded font as plotters' "sans-serif" (once; every drawing path calls it).
fn ensure_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font(FONT, plotters::style::FontStyle::Normal, DEJAVU_SANS)
            .unwrap_or_else(|_| panic!("the embedded DejaVu Sans font does not parse"));
    });
}

/// Renders `draw` into an RGB buffer of `size` (white, the embedded font registered) and writes
/// it as PNG at `path`, atomically. Every PNG of the CLI goes through here.
pub fn render_png<F, E>(path: &Path, size: (u32, u32), draw: F) -> std::result::Result<(), E>
where
    F: FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> std::result::Result<(), E>,
    E: From<Error>,
{
    ensure_font();
    let (w, h) = size;
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| Error::Invalid(e.to_string()))?;
        draw(&root)?;
        root.present().map_err(|e| Error::Invalid(e.to_string()))?;
    }
    let img = image::RgbImage::from_raw(w, h, buf).context("internal: image buffer size")?;
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .with_context(|| format!("encoding PNG for {}", path.display()))?;
    Ok(write_atomic(path, &png)?)
}

/// Writes `bytes` to `path` atomically (the workspace's rule, [`atomicio`]), creating its folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    atomicio::write_creating_dir(path, bytes)?;
    Ok(())
}

pub fn de<E: std::fmt::Display>(e: E) -> Error {
    Error::Invalid(format!("drawing: {e}"))
}

/// Range of finite values (optionally positive only) over everything a panel will draw,
/// padded a little; falls back to a unit range for empty or constant data.
fn value_range<'a>(vals: impl Iterator<Item = &'a f64>, log: bool) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for &v in vals {
        if v.is_finite() && (!log || v > 0.0) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if !lo.is_finite() {
        return if log { (0.1, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        if hi <= lo {
            return (lo / 2.0, lo * 2.0);
        }
        let f = (hi / lo).powf(0.05);
        (lo / f, hi * f)
    } else {
        if hi <= lo {
            return (lo - 0.5, hi + 0.5);
        }
        let pad = 0.05 * (hi - lo);
        (lo - pad, hi + pad)
    }
}

fn all_values(series: &[Series]) -> Vec<f64> {
    let mut v = Vec::new();
    for s in series {
        v.extend(&s.mean);
        if let Some((lo, hi)) = s.sigma_band() {
            v.extend(lo);
            v.extend(hi);
        }
        if let Some((lo, hi)) = s.pct_band() {
            v.extend(lo);
            v.extend(hi);
        }
    }
    v
}

/// Draws the bands (5–95% light, 1σ darker) and the mean line of each series on `chart`.
/// `floor` replaces non-positive values on log axes so bands stay drawable.
fn draw_series<'a, DB: DrawingBackend + 'a, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    series: &[Series],
    floor: Option<f64>,
    legend: bool,
) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    // Non-positive (or NaN) values cannot sit on a log axis: pin them to the floor.
    let fix = |v: f64| match floor {
        Some(f) if v.partial_cmp(&f) != Some(std::cmp::Ordering::Greater) => f,
        _ => v,
    };
    for (i, s) in series.iter().enumerate() {
        let c = series_color(i);
        for (band, alpha) in [(s.pct_band(), 0.12), (s.sigma_band(), 0.28)] {
            if let Some((lo, hi)) = band {
                let mut pts: Vec<(f64, f64)> =
                    s.x.iter().zip(&hi).map(|(&x, &y)| (x, fix(y))).collect();
                pts.extend(s.x.iter().zip(&lo).rev().map(|(&x, &y)| (x, fix(y))));
                pts.retain(|p| p.0.is_finite() && p.1.is_finite());
                if pts.len() >= 3 {
                    chart
                        .draw_series(std::iter::once(Polygon::new(pts, c.mix(alpha).filled())))
                        .map_err(de)?;
                }
            }
        }
        let pts: Vec<(f64, f64)> =
            s.x.iter()
                .zip(&s.mean)
                .filter(|(x, y)| x.is_finite() && y.is_finite() && floor.is_none_or(|f| **y > f))
                .map(|(&x, &y)| (x, y))
                .collect();
        let ann = chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))
            .map_err(de)?;
        if legend {
            ann.label(s.label.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 18, y + 4)], c.filled()));
        }
    }
    Ok(())
}

fn draw_legend<'a, DB: DrawingBackend + 'a, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    pos: SeriesLabelPosition,
) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .configure_series_labels()
        .position(pos)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font((FONT, 15))
        .draw()
        .map_err(de)?;
    Ok(())
}

fn x_range(series: &[Series], log: bool) -> (f64, f64) {
    value_range(series.iter().flat_map(|s| s.x.iter()), log)
}

/// P(k) of each series on log–log axes with its 1σ and 5–95% bands; if `ratio_to` names a
/// series, a lower panel shows every mean divided by that series' mean, with the reference's
/// own bands divided by its mean (so "inside the shaded area" reads as "within its scatter").
/// `k_mark` draws a vertical guide (e.g. k_Nyq/2, the limit of the summary's ratio test).
/// Units: k in h/Mpc, P in (field units)²·(Mpc/h)².
pub fn plot_power_spectrum(
    path: &Path,
    series: &[Series],
    ratio_to: Option<usize>,
    k_mark: Option<f64>,
    title: &str,
) -> Result<()> {
    check_series(series)?;
    if let Some(r) = ratio_to {
        if r >= series.len() {
            bail!("ratio_to = {r} but only {} series", series.len());
        }
    }
    let size = (900, if ratio_to.is_some() { 780 } else { 600 });
    render_png(path, size, |root| {
        let (upper, lower) = if ratio_to.is_some() {
            root.split_vertically(540)
        } else {
            (root.clone(), root.clone())
        };
        let (x0, x1) = x_range(series, true);
        let vals = all_values(series);
        let (y0, y1) = value_range(vals.iter(), true);
        let mut chart = ChartBuilder::on(&upper)
            .caption(title, (FONT, 22))
            .margin(12)
            .x_label_area_size(if ratio_to.is_some() { 20 } else { 45 })
            .y_label_area_size(80)
            .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
            .map_err(de)?;
        let mut mesh = chart.configure_mesh();
        mesh.y_desc("P(k)  [field² (Mpc/h)²]")
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .y_label_formatter(&|v| format!("{v:.1e}"));
        if ratio_to.is_none() {
            mesh.x_desc("k  [h/Mpc]");
        } else {
            mesh.x_label_formatter(&|_| String::new());
        }
        mesh.draw().map_err(de)?;
        draw_series(&mut chart, series, Some(y0), true)?;
        if let Some(k) = k_mark {
            chart
                .draw_series(LineSeries::new(
                    [(k, y0), (k, y1)],
                    BLACK.mix(0.35).stroke_width(1),
                ))
                .map_err(de)?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;

        if let Some(r) = ratio_to {
            let rs = &series[r];
            let ratios: Vec<Series> = series
                .iter()
                .map(|s| {
                    let div = |v: &Vec<f64>| -> Vec<f64> {
                        v.iter().zip(&rs.mean).map(|(a, b)| a / b).collect()
                    };
                    let mut out = Series {
                        label: s.label.clone(),
                        x: s.x.clone(),
                        mean: div(&s.mean),
                        ..Default::default()
                    };
                    // Only the reference's scatter is shaded: that is the yardstick.
                    if std::ptr::eq(s, rs) {
                        out.std = s
                            .std
                            .as_ref()
                            .map(|sd| sd.iter().zip(&rs.mean).map(|(a, b)| a / b).collect());
                        out.p05 = s.p05.as_ref().map(div);
                        out.p95 = s.p95.as_ref().map(div);
                    }
                    out
                })
                .collect();
            let rv = all_values(&ratios);
            let (mut r0, mut r1) = value_range(rv.iter(), false);
            r0 = r0.clamp(0.0, 0.9);
            r1 = r1.clamp(1.1, 3.0);
            let mut rc = ChartBuilder::on(&lower)
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(80)
                .build_cartesian_2d((x0..x1).log_scale(), r0..r1)
                .map_err(de)?;
            rc.configure_mesh()
                .x_desc("k  [h/Mpc]")
                .y_desc(format!("ratio to {}", short(&rs.label)))
                .label_style((FONT, 14))
                .axis_desc_style((FONT, 16))
                .draw()
                .map_err(de)?;
            rc.draw_series(LineSeries::new([(x0, 1.0), (x1, 1.0)], BLACK.mix(0.5)))
                .map_err(de)?;
            draw_series(&mut rc, &ratios, None, false)?;
            if let Some(k) = k_mark {
                rc.draw_series(LineSeries::new([(k, r0), (k, r1)], BLACK.mix(0.35)))
                    .map_err(de)?;
            }
        }
        Ok(())
    })
}

fn short(label: &str) -> String {
    label
        .split(['(', ','])
        .next()
        .unwrap_or(label)
        .trim()
        .to_string()
}

fn check_series(series: &[Series]) -> Result<()> {
    if series.is_empty() {
        bail!("nothing to plot: no series");
    }
    for s in series {
        s.check()?;
    }
    Ok(())
}

/// Pixel PDFs (x = bin centres, y = density) with bands; `log_y` shows the tails.
pub fn plot_pdf(
    path: &Path,
    series: &[Series],
    x_label: &str,
    log_y: bool,
    title: &str,
) -> Result<()> {
    check_series(series)?;
    render_png(path, (900, 600), |root| {
        let (x0, x1) = x_range(series, false);
        let vals = all_values(series);
        let (y0, y1) = value_range(vals.iter(), log_y);
        let mut cb = ChartBuilder::on(root);
        cb.caption(title, (FONT, 22))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(80);
        if log_y {
            let mut chart = cb
                .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
                .map_err(de)?;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .y_desc("probability density")
                .label_style((FONT, 14))
                .axis_desc_style((FONT, 16))
                .y_label_formatter(&|v| format!("{v:.0e}"))
                .draw()
                .map_err(de)?;
            draw_series(&mut chart, series, Some(y0), true)?;
            draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        } else {
            let y0 = y0.min(0.0);
            let mut chart = cb.build_cartesian_2d(x0..x1, y0..y1).map_err(de)?;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .y_desc("probability density")
                .label_style((FONT, 14))
                .axis_desc_style((FONT, 16))
                .draw()
                .map_err(de)?;
            draw_series(&mut chart, series, None, true)?;
            draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    })
}

/// V0 (area fraction), V1 (boundary length per unit area, pixel units) and V2 (Euler
/// characteristic per unit area, pixel units) versus threshold, three panels side by side.
/// `panels[i]` holds one series per set for functional Vi.
pub fn plot_minkowski(
    path: &Path,
    panels: [&[Series]; 3],
    x_label: &str,
    title: &str,
) -> Result<()> {
    for p in panels {
        check_series(p)?;
    }
    render_png(path, (1500, 520), |root| {
        let (top, body) = root.split_vertically(40);
        top.titled(title, (FONT, 22)).map_err(de)?;
        let cols = body.split_evenly((1, 3));
        let names = [
            "V0  (area fraction)",
            "V1  (boundary / area, px⁻¹)",
            "V2  (Euler char. / area, px⁻²)",
        ];
        for (k, (area, series)) in cols.iter().zip(panels).enumerate() {
            let (x0, x1) = x_range(series, false);
            let vals = all_values(series);
            let (y0, y1) = value_range(vals.iter(), false);
            let mut chart = ChartBuilder::on(area)
                .caption(names[k], (FONT, 17))
                .margin(10)
                .x_label_area_size(42)
                .y_label_area_size(70)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(de)?;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 15))
                .y_label_formatter(&|v| {
                    if v.abs() < 1e-2 && *v != 0.0 {
                        format!("{v:.1e}")
                    } else {
                        format!("{v:.3}")
                    }
                })
                .draw()
                .map_err(de)?;
            draw_series(&mut chart, series, None, k == 0)?;
            if k == 0 {
                draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
            }
        }
        Ok(())
    })
}

/// Viridis colour map (11 anchor colours from matplotlib, linearly interpolated), t in [0, 1].
pub fn viridis(t: f64) -> RGBColor {
    const A: [(u8, u8, u8); 11] = [
        (68, 1, 84),
        (72, 36, 117),
        (65, 68, 135),
        (53, 95, 141),
        (42, 120, 142),
        (33, 145, 140),
        (34, 168, 132),
        (68, 191, 112),
        (122, 209, 81),
        (189, 223, 38),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let f = t * (A.len() - 1) as f64;
    let i = (f.floor() as usize).min(A.len() - 2);
    let w = f - i as f64;
    let lerp = |a: u8, b: u8| (a as f64 + w * (b as f64 - a as f64)).round() as u8;
    RGBColor(
        lerp(A[i].0, A[i + 1].0),
        lerp(A[i].1, A[i + 1].1),
        lerp(A[i].2, A[i + 1].2),
    )
}

/// Diverging colour map for signed values, t in [−1, 1]: blue (−1) through white (0) to red
/// (+1), the two ends of ColorBrewer's RdBu; used where 0 means "as the truth" (a log ratio).
pub fn diverging(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let (end, w) = if t < 0.0 {
        ((33.0, 102.0, 172.0), -t)
    } else {
        ((178.0, 24.0, 43.0), t)
    };
    let lerp = |e: f64| (255.0 + w * (e - 255.0)).round() as u8;
    RGBColor(lerp(end.0), lerp(end.1), lerp(end.2))
}

/// One panel of [`plane_panels`]: a value per point, coloured on a symmetric diverging scale
/// (`diverging`: ±max |value|, 0 white) or on viridis over its range.
pub struct PlanePanel {
    pub title: String,
    pub values: Vec<f64>,
    pub diverging: bool,
}

/// A row of scatter panels over one parameter plane (`points` (x, y), one value per point and
/// panel), each with its colour scale written under it; 420×440 per panel.
pub fn plane_panels(
    path: &Path,
    title: &str,
    axes: (&str, &str),
    points: &[(f64, f64)],
    panels: &[PlanePanel],
) -> Result<()> {
    if points.is_empty() || panels.is_empty() {
        bail!("{}: no points or panels to draw", path.display());
    }
    if let Some(p) = panels.iter().find(|p| p.values.len() != points.len()) {
        bail!(
            "{}: panel '{}' has {} values for {} points",
            path.display(),
            p.title,
            p.values.len(),
            points.len()
        );
    }
    let range = |f: &dyn Fn(&(f64, f64)) -> f64| {
        let (lo, hi) = points
            .iter()
            .map(f)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |a, v| {
                (a.0.min(v), a.1.max(v))
            });
        let pad = 0.06 * (hi - lo).max(1e-9);
        (lo - pad)..(hi + pad)
    };
    let (xr, yr) = (range(&|p| p.0), range(&|p| p.1));
    let (pw, ph) = (420u32, 440u32);
    render_png(path, (pw * panels.len() as u32, ph + 40), |root| {
        let de =
            |e: &dyn std::fmt::Display| Error::Invalid(format!("drawing {}: {e}", path.display()));
        root.draw(&Text::new(
            title.to_string(),
            (10, 8),
            (FONT, 18).into_font(),
        ))
        .map_err(|e| de(&e))?;
        let body = root.margin(36, 0, 0, 0);
        for (area, panel) in body.split_evenly((1, panels.len())).iter().zip(panels) {
            let finite = panel.values.iter().copied().filter(|v| v.is_finite());
            let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |a, v| {
                (a.0.min(v), a.1.max(v))
            });
            let amax = lo.abs().max(hi.abs()).max(1e-12);
            let colour = |v: f64| {
                if panel.diverging {
                    diverging(v / amax)
                } else {
                    viridis((v - lo) / (hi - lo).max(1e-12))
                }
            };
            let scale = if panel.diverging {
                format!("blue −{} … white 0 … red +{}", fmt_g(amax), fmt_g(amax))
            } else {
                format!("viridis {} … {}", fmt_g(lo), fmt_g(hi))
            };
            let mut chart = ChartBuilder::on(area)
                .caption(&panel.title, (FONT, 15))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d(xr.clone(), yr.clone())
                .map_err(|e| de(&e))?;
            chart
                .configure_mesh()
                .x_desc(format!("{}    ({scale})", axes.0))
                .y_desc(axes.1)
                .x_label_formatter(&|v| format!("{v:.2}"))
                .y_label_formatter(&|v| format!("{v:.2}"))
                .label_style((FONT, 12))
                .draw()
                .map_err(|e| de(&e))?;
            chart
                .draw_series(
                    points
                        .iter()
                        .zip(&panel.values)
                        .map(|(p, v)| Circle::new(*p, 7, colour(*v).filled())),
                )
                .map_err(|e| de(&e))?;
            chart
                .draw_series(points.iter().map(|p| Circle::new(*p, 7, BLACK.mix(0.5))))
                .map_err(|e| de(&e))?;
        }
        Ok(())
    })
}

/// The `q_lo`–`q_hi` quantile range of all values (e.g. 0.005, 0.995), so one hot pixel does
/// not wash out a grid; use the same range for real and generated grids.
pub fn robust_range<'a, T: Copy + Into<f64> + 'a>(
    maps: impl IntoIterator<Item = &'a ArrayView2<'a, T>>,
    q_lo: f64,
    q_hi: f64,
) -> (f64, f64) {
    let mut v: Vec<f64> = maps
        .into_iter()
        .flat_map(|m| m.iter().map(|&x| x.into()))
        .filter(|x: &f64| x.is_finite())
        .collect();
    if v.is_empty() {
        return (0.0, 1.0);
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
    let (lo, hi) = (at(q_lo), at(q_hi));
    if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, lo + 0.5)
    }
}

/// A grid of maps, `n_cols` per row, each pixel coloured with viridis on the shared scale
/// [vmin, vmax] (values outside are clipped), with a colour bar labelled `value_label`.
/// Row 0 of a map is drawn at the top (image convention, as matplotlib's `imshow`).
pub fn plot_map_grid<T: Copy + Into<f64>>(
    path: &Path,
    maps: &[ArrayView2<'_, T>],
    n_cols: usize,
    vmin: f64,
    vmax: f64,
    value_label: &str,
    title: &str,
) -> Result<()> {
    if maps.is_empty() {
        bail!("no maps to draw in {}", path.display());
    }
    if n_cols == 0 {
        bail!("n_cols must be ≥ 1");
    }
    if !(vmin.is_finite() && vmax.is_finite() && vmax > vmin) {
        bail!("colour scale [{vmin}, {vmax}] is not a finite increasing range");
    }
    let n_cols = n_cols.min(maps.len());
    let n_rows = maps.len().div_ceil(n_cols);
    let (h0, w0) = maps[0].dim();
    // Integer upscaling keeps pixels crisp; aim for ~128 px per panel.
    let scale = (128 / h0.max(w0)).max(1) as u32;
    let (cw, ch) = (w0 as u32 * scale, h0 as u32 * scale);
    let gap = 6u32;
    let title_h = 36u32;
    let bar_w = 90u32;
    let width = n_cols as u32 * (cw + gap) + gap + bar_w;
    let height = title_h + n_rows as u32 * (ch + gap) + gap;
    let height = height.max(title_h + 200);
    render_png(path, (width, height), |root| {
        root.draw(&Text::new(
            title.to_string(),
            (gap as i32, 8),
            (FONT, 20).into_font(),
        ))
        .map_err(de)?;
        for (idx, m) in maps.iter().enumerate() {
            let (r, c) = (idx / n_cols, idx % n_cols);
            let ox = (gap + c as u32 * (cw + gap)) as i32;
            let oy = (title_h + gap + r as u32 * (ch + gap)) as i32;
            let (h, w) = m.dim();
            let s = (128 / h.max(w)).max(1) as i32;
            for i in 0..h {
                for j in 0..w {
                    let v: f64 = m[[i, j]].into();
                    let col = viridis((v - vmin) / (vmax - vmin));
                    let (x, y) = (ox + j as i32 * s, oy + i as i32 * s);
                    root.draw(&Rectangle::new([(x, y), (x + s, y + s)], col.filled()))
                        .map_err(de)?;
                }
            }
        }
        // Colour bar.
        let bx = (n_cols as u32 * (cw + gap) + gap + 8) as i32;
        let by0 = (title_h + gap) as i32;
        let bh = (height - title_h - 2 * gap - 20)
            .min(n_rows as u32 * (ch + gap))
            .max(120) as i32;
        for y in 0..bh {
            let t = 1.0 - y as f64 / (bh - 1) as f64;
            root.draw(&Rectangle::new(
                [(bx, by0 + y), (bx + 16, by0 + y + 1)],
                viridis(t).filled(),
            ))
            .map_err(de)?;
        }
        for q in [0.0, 0.5, 1.0] {
            let y = by0 + ((1.0 - q) * (bh - 1) as f64) as i32;
            let v = vmin + q * (vmax - vmin);
            root.draw(&Text::new(
                format!("{v:.3}"),
                (bx + 20, y - 6),
                (FONT, 13).into_font(),
            ))
            .map_err(de)?;
        }
        root.draw(&Text::new(
            value_label.to_string(),
            (bx - 4, by0 + bh + 4),
            (FONT, 12).into_font(),
        ))
        .map_err(de)?;
        Ok(())
    })
}

/// Training loss versus optimisation step (log y), raw and as a running mean over `window` steps.
pub fn plot_training_curve(path: &Path, steps: &[f64], losses: &[f64], title: &str) -> Result<()> {
    if steps.len() != losses.len() {
        bail!(
            "training curve: {} steps but {} losses",
            steps.len(),
            losses.len()
        );
    }
    if steps.is_empty() {
        bail!("training curve: no logged steps");
    }
    let window = (steps.len() / 50).max(1);
    let mut smooth = Vec::with_capacity(losses.len());
    let mut acc = 0.0;
    for i in 0..losses.len() {
        acc += losses[i];
        if i >= window {
            acc -= losses[i - window];
        }
        smooth.push(acc / (i + 1).min(window) as f64);
    }
    let raw = Series::line("loss", steps.to_vec(), losses.to_vec());
    let sm = Series::line(
        format!("running mean ({window} logs)"),
        steps.to_vec(),
        smooth,
    );
    render_png(path, (900, 500), |root| {
        let (x0, x1) = value_range(steps.iter(), false);
        let (y0, y1) = value_range(losses.iter(), true);
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 22))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
            .map_err(de)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("training loss")
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .y_label_formatter(&|v| format!("{v:.2e}"))
            .draw()
            .map_err(de)?;
        let c0 = series_color(0).mix(0.35);
        chart
            .draw_series(LineSeries::new(
                raw.x
                    .iter()
                    .copied()
                    .zip(raw.mean.iter().copied())
                    .filter(|p| p.1 > 0.0),
                c0,
            ))
            .map_err(de)?
            .label(raw.label.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 18, y + 4)], c0.filled()));
        let c1 = series_color(1);
        chart
            .draw_series(LineSeries::new(
                sm.x.iter()
                    .copied()
                    .zip(sm.mean.iter().copied())
                    .filter(|p| p.1 > 0.0),
                c1.stroke_width(2),
            ))
            .map_err(de)?
            .label(sm.label.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 18, y + 4)], c1.filled()));
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })
}

/// Writes fields `(n, N, N)` as a grid PNG (⌈√n⌉ columns, 2-pixel gaps, one pixel per value),
/// one shared colour scale from the 0.5 and 99.5 percentiles of the finite values, the palette
/// of [`viridis`]; row 0 of a field at the top, non-finite pixels at the bottom colour.
pub fn write_grid_png(fields: ndarray::ArrayView3<f32>, png: &Path) -> Result<()> {
    let (n, h, w) = fields.dim();
    if n == 0 || h == 0 || w == 0 {
        bail!("no fields to draw into {}", png.display());
    }
    let cols = (n as f64).sqrt().ceil() as usize;
    let rows = n.div_ceil(cols);
    let gap = 2;
    let (gw, gh) = (cols * w + (cols - 1) * gap, rows * h + (rows - 1) * gap);
    let mut vals: Vec<f32> = fields.iter().copied().filter(|v| v.is_finite()).collect();
    vals.sort_by(|a, b| a.total_cmp(b));
    let (lo, hi) = if vals.is_empty() {
        (0.0, 1.0)
    } else {
        let q = |p: f64| vals[((vals.len() - 1) as f64 * p).round() as usize] as f64;
        (q(0.005), q(0.995))
    };
    let span = if hi > lo { hi - lo } else { 1.0 };
    let mut img = image::RgbImage::from_pixel(gw as u32, gh as u32, image::Rgb([255, 255, 255]));
    for k in 0..n {
        let (r0, c0) = ((k / cols) * (h + gap), (k % cols) * (w + gap));
        for i in 0..h {
            for j in 0..w {
                let v = fields[[k, i, j]] as f64;
                let c = viridis((v - lo) / span);
                img.put_pixel(
                    (c0 + j) as u32,
                    (r0 + i) as u32,
                    image::Rgb([c.0, c.1, c.2]),
                );
            }
        }
    }
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .with_context(|| format!("encoding {}", png.display()))?;
    write_atomic(png, &bytes)
}

/// Rows of panels with column titles on top. The first `shared` panels of a row share one
/// colour scale (0.5–99.5% of their pixels, so they compare directly); the others each get
/// their own.
pub fn panels_png<const C: usize>(
    path: &Path,
    rows: &[[ArrayView2<f64>; C]],
    titles: &[&str; C],
    title: &str,
    shared: usize,
) -> Result<()> {
    if rows.is_empty() {
        bail!("no maps to draw in {}", path.display());
    }
    let n = rows[0][0].nrows();
    let scale = (160 / n).max(1) as u32;
    let pw = n as u32 * scale;
    let (gap, head) = (8u32, 52u32);
    let w = C as u32 * (pw + gap) + gap;
    let h = head + rows.len() as u32 * (pw + gap + 16) + gap;
    render_png(path, (w, h), |root| {
        let de =
            |e: &dyn std::fmt::Display| Error::Invalid(format!("drawing {}: {e}", path.display()));
        root.draw(&Text::new(
            title.to_string(),
            (gap as i32, 6),
            ("sans-serif", 18).into_font(),
        ))
        .map_err(|e| de(&e))?;
        for (c, t) in titles.iter().enumerate() {
            let x = (gap + c as u32 * (pw + gap)) as i32;
            root.draw(&Text::new(
                t.to_string(),
                (x, 30),
                ("sans-serif", 15).into_font(),
            ))
            .map_err(|e| de(&e))?;
        }
        for (r, row) in rows.iter().enumerate() {
            let common = robust_range(row[..shared.min(C)].iter(), 0.005, 0.995);
            for (c, m) in row.iter().enumerate() {
                let (lo, hi) = if c < shared {
                    common
                } else {
                    robust_range(std::iter::once(m), 0.005, 0.995)
                };
                let ox = (gap + c as u32 * (pw + gap)) as i32;
                let oy = (head + r as u32 * (pw + gap + 16)) as i32;
                for ((i, j), &v) in m.indexed_iter() {
                    let col = viridis((v - lo) / (hi - lo));
                    let (x, y) = (
                        ox + (j as u32 * scale) as i32,
                        oy + (i as u32 * scale) as i32,
                    );
                    root.draw(&Rectangle::new(
                        [(x, y), (x + scale as i32, y + scale as i32)],
                        col.filled(),
                    ))
                    .map_err(|e| de(&e))?;
                }
                root.draw(&Text::new(
                    format!("{} … {}", fmt_g(lo), fmt_g(hi)),
                    (ox, oy + pw as i32 + 2),
                    ("sans-serif", 12).into_font(),
                ))
                .map_err(|e| de(&e))?;
            }
        }
        Ok(())
    })
}

/// Three significant digits, switching to exponent notation for very small or large values.
pub fn fmt_g(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e4).contains(&a) {
        format!("{v:.2e}")
    } else {
        format!("{v:.4}")
    }
}

/// Titles and axes of a [`line_chart`].
#[derive(Clone, Debug, Default)]
pub struct LineChart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub log_x: bool,
    pub log_y: bool,
    /// A horizontal guide line at this value (e.g. 1 for a ratio).
    pub guide: Option<f64>,
}

/// Line chart of several labelled curves in the palette of [`series_color`], each with its
/// bands if it has them ([`Series::std`]: mean ± std, the 5–95 % band), 900×600; non-finite points
/// (and non-positive ones on a log axis) are left out. With two or more curves the legend goes in
/// the corner the curves leave emptiest ([`emptiest_corner`]).
pub fn line_chart(path: &Path, chart: &LineChart<'_>, series: &[Series]) -> Result<()> {
    let LineChart {
        title,
        x_label,
        y_label,
        log_x,
        log_y,
        guide,
    } = *chart;
    for s in series {
        s.check()?;
    }
    let ok = |x: f64, y: f64| {
        x.is_finite() && y.is_finite() && (!log_x || x > 0.0) && (!log_y || y > 0.0)
    };
    // Every drawn value sets the range: means and band edges.
    let mut pts: Vec<(f64, f64)> = Vec::new();
    for s in series {
        let mut ys = vec![s.mean.clone()];
        if let Some((lo, hi)) = s.sigma_band() {
            ys.extend([lo, hi]);
        }
        if let Some((lo, hi)) = s.pct_band() {
            ys.extend([lo, hi]);
        }
        for y in &ys {
            pts.extend(
                s.x.iter()
                    .copied()
                    .zip(y.iter().copied())
                    .filter(|&(x, y)| ok(x, y)),
            );
        }
    }
    if pts.is_empty() {
        bail!("{}: nothing finite to plot", path.display());
    }
    let (mut x0, mut x1) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
        (a.0.min(p.0), a.1.max(p.0))
    });
    let (mut y0, mut y1) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
        (a.0.min(p.1), a.1.max(p.1))
    });
    if let Some(g) = guide {
        y0 = y0.min(g);
        y1 = y1.max(g);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
        x0 -= if log_x { 0.0 } else { 1.0 };
    }
    let (y0, y1) = if log_y {
        (y0 / 1.2, y1 * 1.2)
    } else {
        let pad = 0.05 * (y1 - y0).max(1e-12);
        (y0 - pad, y1 + pad)
    };
    // The curves in axis fractions, for the legend's corner.
    let frac = |v: f64, lo: f64, hi: f64, log: bool| {
        if log {
            (v.ln() - lo.ln()) / (hi.ln() - lo.ln())
        } else {
            (v - lo) / (hi - lo)
        }
    };
    let curves: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            s.x.iter()
                .zip(&s.mean)
                .filter(|(&x, &y)| ok(x, y))
                .map(|(&x, &y)| (frac(x, x0, x1, log_x), frac(y, y0, y1, log_y)))
                .collect()
        })
        .collect();
    let corner = emptiest_corner(&curves);
    let floor = log_y.then_some(y0);
    let (w, h) = (900u32, 600u32);
    render_png(path, (w, h), |root| {
        let mut cb = ChartBuilder::on(root);
        cb.caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70);
        macro_rules! draw {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc(x_label)
                    .y_desc(y_label)
                    .x_label_formatter(&|v| format!("{v:.2}"))
                    .y_label_formatter(&|v| {
                        if log_y {
                            format!("{v:.2e}")
                        } else {
                            format!("{v:.2}")
                        }
                    })
                    .label_style(("sans-serif", 14))
                    .draw()
                    .map_err(de)?;
                if let Some(g) = guide {
                    chart
                        .draw_series(LineSeries::new([(x0, g), (x1, g)], BLACK.mix(0.4)))
                        .map_err(de)?;
                }
                draw_series(&mut chart, series, floor, series.len() > 1)?;
                if series.len() > 1 {
                    draw_legend(&mut chart, corner)?;
                }
            }};
        }
        if log_x {
            draw!(cb
                .build_cartesian_2d((x0..x1).log_scale(), y0..y1)
                .map_err(de)?);
        } else {
            draw!(cb.build_cartesian_2d(x0..x1, y0..y1).map_err(de)?);
        }
        Ok(())
    })
}

/// Of the four corners of a chart, the one the curves (points in axis fractions, 0–1 from the
/// lower left, joined by straight segments) cross least, for the legend: each corner is the
/// outer 35 % × 30 % of the axes, the curves are sampled 16 times per segment, and ties go to
/// upper right, upper left, lower right, lower left in that order.
pub fn emptiest_corner(curves: &[Vec<(f64, f64)>]) -> SeriesLabelPosition {
    let corners = [
        (SeriesLabelPosition::UpperRight, true, true),
        (SeriesLabelPosition::UpperLeft, false, true),
        (SeriesLabelPosition::LowerRight, true, false),
        (SeriesLabelPosition::LowerLeft, false, false),
    ];
    let inside = |(x, y): (f64, f64), right: bool, upper: bool| {
        (if right { x >= 0.65 } else { x <= 0.35 }) && (if upper { y >= 0.70 } else { y <= 0.30 })
    };
    let mut best = (usize::MAX, SeriesLabelPosition::UpperRight);
    for (pos, right, upper) in corners {
        let mut n = 0;
        for c in curves {
            if c.len() == 1 && inside(c[0], right, upper) {
                n += 1;
            }
            for seg in c.windows(2) {
                for i in 0..16 {
                    let t = i as f64 / 16.0;
                    let p = (
                        seg[0].0 + t * (seg[1].0 - seg[0].0),
                        seg[0].1 + t * (seg[1].1 - seg[0].1),
                    );
                    n += inside(p, right, upper) as usize;
                }
            }
        }
        if n < best.0 {
            best = (n, pos);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn band(label: &str, scale: f64) -> Series {
        let x: Vec<f64> = (1..=20).map(|i| 0.25 * i as f64).collect();
        let mean: Vec<f64> = x.iter().map(|k| scale * k.powf(-2.0)).collect();
        Series {
            label: label.into(),
            std: Some(mean.iter().map(|m| 0.2 * m).collect()),
            p05: Some(mean.iter().map(|m| 0.6 * m).collect()),
            p95: Some(mean.iter().map(|m| 1.4 * m).collect()),
            x,
            mean,
        }
    }

    fn png_size(path: &Path) -> (u32, u32) {
        let img = image::open(path).unwrap();
        (img.width(), img.height())
    }

    #[test]
    fn every_figure_writes_a_png_of_the_stated_size() {
        let d = tempfile::tempdir().unwrap();
        let s = [band("real", 1.0), band("generated", 1.3)];
        let p = d.path().join("pk.png");
        plot_power_spectrum(&p, &s, Some(0), Some(2.0), "P(k)").unwrap();
        assert_eq!(png_size(&p), (900, 780));
        let p = d.path().join("pdf.png");
        plot_pdf(&p, &s, "log10 ρ", true, "PDF").unwrap();
        assert_eq!(png_size(&p), (900, 600));
        let p = d.path().join("mf.png");
        plot_minkowski(&p, [&s, &s, &s], "threshold", "MFs").unwrap();
        assert_eq!(png_size(&p), (1500, 520));
        let p = d.path().join("loss.png");
        let steps: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let losses: Vec<f64> = steps.iter().map(|s| 1.0 / (1.0 + s)).collect();
        plot_training_curve(&p, &steps, &losses, "loss").unwrap();
        assert_eq!(png_size(&p), (900, 500));
        let p = d.path().join("lines.png");
        let chart = LineChart {
            title: "ratio",
            log_x: true,
            guide: Some(1.0),
            ..Default::default()
        };
        line_chart(&p, &chart, &s).unwrap();
        assert_eq!(png_size(&p), (900, 600));
        // No temporary files left behind.
        let names: Vec<String> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into())
            .collect();
        assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    }

    #[test]
    fn map_grid_uses_the_shared_scale() {
        let d = tempfile::tempdir().unwrap();
        // A map at vmin everywhere must render the first viridis colour in its panel;
        // one at vmax the last, whatever the other maps hold.
        let lo = Array2::<f32>::from_elem((16, 16), 0.0);
        let hi = Array2::<f32>::from_elem((16, 16), 10.0);
        let p = d.path().join("grid.png");
        plot_map_grid(&p, &[lo.view(), hi.view()], 2, 0.0, 10.0, "x", "grid").unwrap();
        let img = image::open(&p).unwrap().to_rgb8();
        // scale = 128/16 = 8 → panels of 128 px, gap 6, title 36.
        let px0 = img.get_pixel(6 + 64, 36 + 6 + 64);
        let px1 = img.get_pixel(6 + 134 + 64, 36 + 6 + 64);
        let v0 = viridis(0.0);
        let v1 = viridis(1.0);
        assert_eq!((px0[0], px0[1], px0[2]), (v0.0, v0.1, v0.2));
        assert_eq!((px1[0], px1[1], px1[2]), (v1.0, v1.1, v1.2));
    }

    #[test]
    fn legend_goes_where_the_curves_are_not() {
        use SeriesLabelPosition::*;
        let rising: Vec<(f64, f64)> = (0..=10)
            .map(|i| (i as f64 / 10.0, i as f64 / 10.0))
            .collect();
        let falling: Vec<(f64, f64)> = rising.iter().map(|&(x, y)| (x, 1.0 - y)).collect();
        let top: Vec<(f64, f64)> = rising.iter().map(|&(x, _)| (x, 0.95)).collect();
        // A diagonal from lower left to upper right leaves the other two corners: upper left wins the tie.
        assert!(matches!(emptiest_corner(&[rising.clone()]), UpperLeft));
        assert!(matches!(emptiest_corner(&[falling.clone()]), UpperRight));
        // A line along the top and one diagonal leave the lower corner the diagonal misses.
        assert!(matches!(
            emptiest_corner(&[top.clone(), rising]),
            LowerRight
        ));
        assert!(matches!(emptiest_corner(&[top, falling]), LowerLeft));
        // Nothing drawn: the conventional upper right.
        assert!(matches!(emptiest_corner(&[]), UpperRight));
    }

    #[test]
    fn line_chart_refuses_mismatched_bands() {
        let d = tempfile::tempdir().unwrap();
        let mut s = band("a", 1.0);
        s.std.as_mut().unwrap().pop();
        let e = line_chart(&d.path().join("x.png"), &LineChart::default(), &[s]).unwrap_err();
        assert!(
            e.to_string().contains("20 x values but 19 std values"),
            "{e}"
        );
        assert!(!d.path().join("x.png").exists());
    }

    #[test]
    fn mismatched_lengths_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let mut s = band("a", 1.0);
        s.mean.pop();
        let e = plot_pdf(&d.path().join("x.png"), &[s], "x", false, "t").unwrap_err();
        assert!(e.to_string().contains("20 x values but 19 means"), "{e}");
        assert!(!d.path().join("x.png").exists());
    }

    #[test]
    fn robust_range_ignores_outliers() {
        let mut a = Array2::<f64>::zeros((10, 10));
        for (i, v) in a.iter_mut().enumerate() {
            *v = i as f64;
        }
        a[[0, 0]] = 1e9;
        let v = a.view();
        let (lo, hi) = robust_range([&v], 0.02, 0.98);
        assert!(lo >= 1.0 && hi <= 99.0, "{lo} {hi}");
    }
}
