//! Measuring one set of maps, and comparing two, as `astrodiff stats` and `astrodiff compare`
//! do, callable from any program (the Python package calls the same functions, so its numbers
//! are the CLI's).
//!
//! * [`MapSource`]: where maps come from — a file on disk ([`fields::MapStack`], memory-mapped,
//!   read map by map) or an array in memory ([`ArrayMaps`], f32 or f64, any memory order).
//! * [`resolve_config`]: the one rule for the defaults, shared with `evaluate` — histogram
//!   edges `n_bins` uniform over the range of every given set (after the transform), MF
//!   thresholds `n_thresholds` uniform between the 1st and 99th percentiles of the reference
//!   set's pixels (`stats::ensemble::default_thresholds`).
//! * [`compare_sets`]: ensembles of A and B on the same edges and thresholds, B against A
//!   (`stats::compare`) and the distances between their pooled pixels (`stats::pixel_distance`).
//!
//! Units: k in h/Mpc, P(k) in (field units)²·(Mpc/h)², V1/V2 in pixel units ([`UNITS`]);
//! conventions in docs/conventions.md.

use crate::error::{bail, Context, Error, Result};
use ndarray::{Array2, ArrayView3};
use rayon::prelude::*;
use serde::Serialize;
use stats::ensemble::{Comparison, Ensemble, MapStats, PixelDistance};
use stats::{MfConvention, StatsConfig, Transform};

/// A set of square maps, read one at a time (in parallel: `map` takes `&self`).
pub trait MapSource: Sync {
    /// Number of maps.
    fn len(&self) -> usize;
    /// Side N of every map.
    fn side(&self) -> usize;
    /// Map `i` (< `len()`), untransformed, as f64.
    fn map(&self, i: usize) -> Array2<f64>;
    /// What to call the set in messages: its file, or a label.
    fn name(&self) -> String;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: MapSource + ?Sized> MapSource for &T {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn side(&self) -> usize {
        (**self).side()
    }
    fn map(&self, i: usize) -> Array2<f64> {
        (**self).map(i)
    }
    fn name(&self) -> String {
        (**self).name()
    }
}

impl MapSource for fields::MapStack {
    fn len(&self) -> usize {
        fields::MapStack::len(self)
    }
    fn side(&self) -> usize {
        fields::MapStack::side(self)
    }
    fn map(&self, i: usize) -> Array2<f64> {
        fields::MapStack::map(self, i)
    }
    fn name(&self) -> String {
        self.source_path().display().to_string()
    }
}

/// A stack (n, N, N) held in memory, read without a copy (f32 values are promoted per map).
pub struct ArrayMaps<'a, T> {
    pub name: String,
    pub maps: ArrayView3<'a, T>,
}

impl<'a, T> ArrayMaps<'a, T> {
    /// Checks that the maps are square and that there is at least one.
    pub fn new(name: impl Into<String>, maps: ArrayView3<'a, T>) -> Result<Self> {
        let name = name.into();
        let (n, r, c) = maps.dim();
        if n == 0 || r == 0 || c == 0 {
            bail!("{name}: the stack holds no maps (shape {n}x{r}x{c})");
        }
        if r != c {
            bail!("{name}: maps are {r}x{c}; P(k) and the Minkowski functionals need square maps");
        }
        Ok(ArrayMaps { name, maps })
    }
}

impl<T: Copy + Into<f64> + Sync> MapSource for ArrayMaps<'_, T> {
    fn len(&self) -> usize {
        self.maps.dim().0
    }
    fn side(&self) -> usize {
        self.maps.dim().1
    }
    fn map(&self, i: usize) -> Array2<f64> {
        self.maps.index_axis(ndarray::Axis(0), i).mapv(|v| v.into())
    }
    fn name(&self) -> String {
        self.name.clone()
    }
}

/// Maps held in memory as f64 (e.g. already transformed), named for messages.
pub struct OwnedMaps<'a> {
    pub name: String,
    pub maps: &'a [Array2<f64>],
}

impl MapSource for OwnedMaps<'_> {
    fn len(&self) -> usize {
        self.maps.len()
    }
    fn side(&self) -> usize {
        self.maps.first().map_or(0, |m| m.nrows())
    }
    fn map(&self, i: usize) -> Array2<f64> {
        self.maps[i].clone()
    }
    fn name(&self) -> String {
        self.name.clone()
    }
}

/// What to measure, with the defaults of the CLI's flags where a value is not given.
#[derive(Debug, Clone)]
pub struct MeasureOptions {
    /// Box side L, Mpc/h (sets the k axis, k_F = 2π/L).
    pub box_size: f64,
    /// Applied to every map before all statistics.
    pub transform: Transform,
    /// Histogram edges (transformed units); None: `n_bins` uniform over the data range.
    pub edges: Option<Vec<f64>>,
    pub n_bins: usize,
    /// MF thresholds (transformed units); None: `n_thresholds` between the reference set's 1st
    /// and 99th percentiles.
    pub thresholds: Option<Vec<f64>>,
    pub n_thresholds: usize,
    pub convention: MfConvention,
}

impl MeasureOptions {
    /// The CLI's defaults (40 bins, 25 thresholds, periodic MFs, no transform) for box size L.
    pub fn new(box_size: f64) -> Self {
        MeasureOptions {
            box_size,
            transform: Transform::Identity,
            edges: None,
            n_bins: 40,
            thresholds: None,
            n_thresholds: 25,
            convention: MfConvention::Periodic,
        }
    }
}

/// Units written beside the numbers, so a reader of the JSON alone knows them.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Units {
    pub k: &'static str,
    pub pk: &'static str,
    pub v1_v2: &'static str,
}

pub const UNITS: Units = Units {
    k: "h/Mpc",
    pk: "(field)^2 (Mpc/h)^2",
    v1_v2:
        "pixel units (periodic/open: per unit area; quantimpy: raw area, perimeter/2pi, chi4/pi)",
};

/// Map `i` of `src` after the transform, the error naming the set, the map and the pixel.
pub fn transformed(src: &dyn MapSource, i: usize, t: Transform) -> Result<Array2<f64>> {
    t.apply(src.map(i).view())
        .map_err(|e| Error::Invalid(format!("{}: map {i}: {e}", src.name())))
}

/// Min and max of the transformed values over every map of the sets (parallel over maps).
fn data_range(sets: &[&dyn MapSource], t: Transform) -> Result<(f64, f64)> {
    let mut range = (f64::INFINITY, f64::NEG_INFINITY);
    for src in sets {
        let (l, h) = (0..src.len())
            .into_par_iter()
            .map(|i| {
                let x = transformed(*src, i, t)?;
                Ok::<_, Error>(
                    x.iter()
                        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                            (l.min(v), h.max(v))
                        }),
                )
            })
            .try_reduce(
                || (f64::INFINITY, f64::NEG_INFINITY),
                |a, b| Ok((a.0.min(b.0), a.1.max(b.1))),
            )?;
        range = (range.0.min(l), range.1.max(h));
    }
    Ok(range)
}

/// The default histogram edges: `n_bins` uniform over the range of every map of `sets` after
/// the transform (the one rule of `stats`, `compare` and `evaluate`).
pub fn default_edges(sets: &[&dyn MapSource], t: Transform, n_bins: usize) -> Result<Vec<f64>> {
    let bins = stats::histogram::check_bin_count(n_bins).context("bins (--bins)")?;
    let (lo, hi) = data_range(sets, t)?;
    Ok(stats::uniform_edges(lo, hi, bins))
}

/// The default MF thresholds: `n` uniform between the 1st and 99th percentiles of the pixels of
/// `src` after the transform (`stats::ensemble::default_thresholds`).
pub fn default_thresholds(src: &dyn MapSource, t: Transform, n: usize) -> Result<Vec<f64>> {
    stats::ensemble::default_thresholds(src.len(), n, |i| {
        transformed(src, i, t).map(|a| a.into_iter().collect::<Vec<_>>())
    })
    .context("n_thresholds (--n-thresholds)")
}

/// The edges and thresholds to measure with: the given ones (checked), or the defaults from
/// the data — edges over the range of every set in `range_from`, thresholds from the pixels of
/// `threshold_from` (the reference set).
pub fn resolve_config(
    opts: &MeasureOptions,
    range_from: &[&dyn MapSource],
    threshold_from: &dyn MapSource,
) -> Result<StatsConfig> {
    if !(opts.box_size.is_finite() && opts.box_size > 0.0) {
        bail!(
            "box size {} must be a positive length in Mpc/h",
            opts.box_size
        );
    }
    let edges = match &opts.edges {
        Some(e) => e.clone(),
        None => default_edges(range_from, opts.transform, opts.n_bins)?,
    };
    stats::error::check_increasing("edges", &edges, 2)?;
    let thresholds = match &opts.thresholds {
        Some(t) => t.clone(),
        None => default_thresholds(threshold_from, opts.transform, opts.n_thresholds)?,
    };
    stats::error::check_increasing("thresholds", &thresholds, 1)?;
    Ok(StatsConfig {
        box_size: opts.box_size,
        transform: opts.transform,
        edges,
        thresholds,
        convention: opts.convention,
    })
}

/// P(k), histogram and MFs of every map of `src` (parallel over maps, output in map order);
/// `on_map` is called after each map (progress).
pub fn measure_set(
    src: &dyn MapSource,
    cfg: &StatsConfig,
    on_map: &(dyn Fn() + Sync),
) -> Result<Vec<MapStats>> {
    if src.is_empty() {
        bail!("{}: the stack holds no maps", src.name());
    }
    stats::measure_many(
        src.len(),
        src.side(),
        cfg,
        |i| Ok::<_, std::convert::Infallible>(src.map(i)),
        on_map,
    )
    .map_err(|e| Error::Invalid(format!("{}: {e}", src.name())))
}

/// Transformed pixels of evenly spaced maps of `src`, at most `cap` values (at least one map).
pub fn pooled_pixels(src: &dyn MapSource, t: Transform, cap: usize) -> Result<Vec<f64>> {
    let n = src.len();
    let per = src.side() * src.side();
    let take = (cap / per).clamp(1, n);
    let mut v = Vec::with_capacity(take * per);
    for s in 0..take {
        v.extend(transformed(src, s * n / take, t)?.iter().copied());
    }
    Ok(v)
}

/// One set of a comparison, as `compare`'s JSON writes it.
#[derive(Debug, Clone, Serialize)]
pub struct SetSummary {
    pub file: String,
    pub label: String,
    pub n_maps: usize,
    pub ensemble: Ensemble,
}

/// Everything `astrodiff compare` writes (its JSON is this, serialised).
#[derive(Debug, Clone, Serialize)]
pub struct CompareResult {
    pub side: usize,
    pub box_size: f64,
    pub transform: Transform,
    pub mf_convention: MfConvention,
    pub units: Units,
    pub a: SetSummary,
    pub b: SetSummary,
    /// B against A per statistic.
    pub comparison: Comparison,
    pub pixel_distance: PixelDistance,
    /// The edges and thresholds both sets were measured with (not written to the JSON).
    #[serde(skip)]
    pub config: StatsConfig,
}

/// How to compare: what to measure, the legend labels, and the cap on pooled pixels for W1/KS
/// (8 bytes each; larger sets use evenly spaced maps).
#[derive(Debug, Clone)]
pub struct CompareOptions {
    pub measure: MeasureOptions,
    pub label_a: String,
    pub label_b: String,
    pub max_pooled_pixels: usize,
}

impl CompareOptions {
    /// The CLI's defaults: labels "A" and "B", 2²⁷ pooled pixels per set.
    pub fn new(measure: MeasureOptions) -> Self {
        CompareOptions {
            measure,
            label_a: "A".into(),
            label_b: "B".into(),
            max_pooled_pixels: 1 << 27,
        }
    }
}

/// Set B against reference set A: both measured on the same edges (over both sets' range) and
/// thresholds (from A's pixels); the reduced χ² of each statistic is
/// Σ (mean_B − mean_A)²/σ_A²/(n_bins − 1), ratios are B/A, W1/KS compare the pooled pixels.
pub fn compare_sets(
    a: &dyn MapSource,
    b: &dyn MapSource,
    opts: &CompareOptions,
    on_map: &(dyn Fn() + Sync),
) -> Result<CompareResult> {
    for s in [a, b] {
        if s.is_empty() {
            bail!("{}: the stack holds no maps", s.name());
        }
    }
    if a.side() != b.side() {
        bail!(
            "{} has {}x{} maps but {} has {}x{}: compare needs the same side",
            a.name(),
            a.side(),
            a.side(),
            b.name(),
            b.side(),
            b.side()
        );
    }
    let cfg = resolve_config(&opts.measure, &[a, b], a)?;
    let ma = measure_set(a, &cfg, on_map)?;
    let mb = measure_set(b, &cfg, on_map)?;
    let ens = |m: &[MapStats], s: &dyn MapSource| {
        Ensemble::from_maps(m).with_context(|| format!("{}: ensemble", s.name()))
    };
    let (ea, eb) = (ens(&ma, a)?, ens(&mb, b)?);
    let comparison = stats::compare(&ea, &eb)?;
    let pixel_distance = stats::pixel_distance(
        pooled_pixels(a, cfg.transform, opts.max_pooled_pixels)?,
        pooled_pixels(b, cfg.transform, opts.max_pooled_pixels)?,
    )?;
    Ok(CompareResult {
        side: a.side(),
        box_size: cfg.box_size,
        transform: cfg.transform,
        mf_convention: cfg.convention,
        units: UNITS,
        a: SetSummary {
            file: a.name(),
            label: opts.label_a.clone(),
            n_maps: ma.len(),
            ensemble: ea,
        },
        b: SetSummary {
            file: b.name(),
            label: opts.label_b.clone(),
            n_maps: mb.len(),
            ensemble: eb,
        },
        comparison,
        pixel_distance,
        config: cfg,
    })
}
