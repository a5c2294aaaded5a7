//! Measuring many maps and comparing two sets of maps (e.g. real vs generated).
//!
//! * [`measure_many`] measures P(k), the pixel histogram and the MFs of each map, in parallel
//!   over maps (rayon), in map order, so results do not depend on the thread count.
//! * [`Ensemble`] holds, per bin, the mean, the population standard deviation (ddof = 0, as
//!   `np.std`) and the 5–95 % band (numpy's default linear-interpolated percentiles) of
//!   P(k), the PDF (`pdf_over_total`) and V0, V1, V2. Sums are f64.
//! * [`compare`] gives per statistic the ratio of means (B/A) and the reduced χ²
//!   Σ_b (mean_B − mean_A)² / σ_A² / (n_bins − 1), the diffusion-hmc follow-up's score for P(k);
//!   bins where σ_A = 0 (no scatter, e.g. empty PDF bins) are left out of the sum and of n_bins.
//! * [`PixelDistance`]: Wasserstein-1 and Kolmogorov–Smirnov distances between the pooled pixel
//!   distributions (exact, from the sorted samples).

use crate::error::{check_square_finite, Result, StatsError};
use crate::histogram::{histogram, Histogram};
use crate::minkowski::{minkowski, MfConvention, Minkowski};
use crate::power_spectrum::{PowerSpectrum, PowerSpectrumPlan};
use crate::transform::Transform;
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// What to measure on every map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsConfig {
    /// Box side L, Mpc/h.
    pub box_size: f64,
    /// Applied to the map before all three statistics.
    pub transform: Transform,
    /// Histogram edges, in transformed units.
    pub edges: Vec<f64>,
    /// MF thresholds, in transformed units, strictly increasing.
    pub thresholds: Vec<f64>,
    pub convention: MfConvention,
}

/// The three statistics of one map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapStats {
    pub power_spectrum: PowerSpectrum,
    pub histogram: Histogram,
    pub minkowski: Minkowski,
}

/// Measures one raw map: transform, then P(k) (with a plan for its side), histogram and MFs.
pub fn measure(
    f: ArrayView2<f64>,
    plan: &PowerSpectrumPlan,
    cfg: &StatsConfig,
) -> Result<MapStats> {
    check_square_finite(f)?;
    let x = cfg.transform.apply(f)?;
    Ok(MapStats {
        power_spectrum: plan.compute(x.view())?,
        histogram: histogram(x.view(), &cfg.edges)?,
        minkowski: minkowski(x.view(), &cfg.thresholds, cfg.convention)?,
    })
}

/// Why one map of a set failed: loading it (the caller's error) or measuring it.
#[derive(Debug)]
pub enum ManyError<E> {
    Load { index: usize, source: E },
    Stats { index: usize, source: StatsError },
}

impl<E: std::fmt::Display> std::fmt::Display for ManyError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Load { index, source } => write!(f, "map {index}: {source}"),
            Self::Stats { index, source } => write!(f, "map {index}: {source}"),
        }
    }
}

impl<E: std::fmt::Debug + std::fmt::Display> std::error::Error for ManyError<E> {}

/// Measures maps 0..n of side `side` in parallel over maps; `get(i)` loads map i (raw, untransformed)
/// and `on_done` is called after each map (for a progress bar). Output is in map order.
pub fn measure_many<E: Send>(
    n: usize,
    side: usize,
    cfg: &StatsConfig,
    get: impl Fn(usize) -> std::result::Result<Array2<f64>, E> + Sync,
    on_done: impl Fn() + Sync,
) -> std::result::Result<Vec<MapStats>, ManyError<E>> {
    let plan = PowerSpectrumPlan::new(side, cfg.box_size)
        .map_err(|source| ManyError::Stats { index: 0, source })?;
    (0..n)
        .into_par_iter()
        .map(|index| {
            let f = get(index).map_err(|source| ManyError::Load { index, source })?;
            let s = measure(f.view(), &plan, cfg)
                .map_err(|source| ManyError::Stats { index, source })?;
            on_done();
            Ok(s)
        })
        .collect()
}

/// Per-bin summary of one statistic over a set of maps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub mean: Vec<f64>,
    /// Population standard deviation (ddof = 0).
    pub std: Vec<f64>,
    /// 5th and 95th percentiles (linear interpolation between order statistics, as numpy).
    pub p05: Vec<f64>,
    pub p95: Vec<f64>,
}

/// numpy's default percentile: position q·(n−1) in the sorted sample, linearly interpolated.
pub fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let w = pos - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * w
}

/// Design effect of per-map rows that come in consecutive groups of `m` (the maps of one
/// simulation): how much the variance of a set mean exceeds σ²/n because maps of a group are
/// correlated (Kish 1965). Per bin, `deff_b = m · s²(group means) / s²(maps)` (both ddof = 1),
/// averaged over the bins where the maps vary, clamped to [1, m]: 1 for independent maps, m for
/// identical maps within a group, so `Var(mean of n maps) = deff · σ² / n`. A trailing
/// incomplete group is left out; with fewer than 2 complete groups there is nothing to compare
/// and the answer is m (the conservative end).
pub fn design_effect(rows: &[&[f64]], m: usize) -> f64 {
    let m = m.max(1);
    let g = rows.len() / m;
    if m == 1 {
        return 1.0;
    }
    if g < 2 {
        return m as f64;
    }
    let n = g * m;
    let n_bins = rows[0].len();
    let var = |v: &mut dyn Iterator<Item = f64>, k: usize| {
        let xs: Vec<f64> = v.collect();
        let mu = xs.iter().sum::<f64>() / k as f64;
        xs.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / (k - 1) as f64
    };
    let mut acc = 0.0;
    let mut used = 0usize;
    for b in 0..n_bins {
        let s2 = var(&mut rows[..n].iter().map(|r| r[b]), n);
        if !(s2 > 0.0 && s2.is_finite()) {
            continue;
        }
        let sg = var(
            &mut (0..g)
                .map(|j| rows[j * m..(j + 1) * m].iter().map(|r| r[b]).sum::<f64>() / m as f64),
            g,
        );
        acc += m as f64 * sg / s2;
        used += 1;
    }
    if used == 0 {
        return m as f64;
    }
    (acc / used as f64).clamp(1.0, m as f64)
}

/// Maps whose pixels set the default thresholds of a set of `n_maps`: up to 64 evenly spaced
/// ones (index ⌊s·n_maps/64⌋), enough without reading a 15 000-map file twice, and
/// deterministic.
pub fn threshold_sample(n_maps: usize) -> impl Iterator<Item = usize> {
    let take = n_maps.min(64);
    (0..take).map(move |s| s * n_maps / take)
}

/// The default MF thresholds of a set of `n_maps` maps: [`percentile_thresholds`] over the
/// pixels of the [`threshold_sample`] maps, `pixels(i)` giving those of map i (transformed).
/// The one rule of `stats`, `compare` and `evaluate`.
pub fn default_thresholds<P, E>(
    n_maps: usize,
    n: usize,
    mut pixels: impl FnMut(usize) -> std::result::Result<P, E>,
) -> std::result::Result<Vec<f64>, E>
where
    P: IntoIterator<Item = f64>,
    E: From<StatsError>,
{
    let mut px = Vec::new();
    for i in threshold_sample(n_maps) {
        px.extend(pixels(i)?);
    }
    px.sort_by(f64::total_cmp);
    Ok(percentile_thresholds(&px, n)?)
}

/// The default MF thresholds: `n` (at least 2) values, `numpy.linspace` between the 1st and
/// 99th percentile of the `sorted` pixels (a ±0.5 range around a constant map). The CLI's
/// `stats`, `compare` and `evaluate` all use this rule.
pub fn percentile_thresholds(sorted: &[f64], n: usize) -> Result<Vec<f64>> {
    if !(2..=crate::histogram::MAX_BINS).contains(&n) {
        return Err(StatsError::Count {
            what: "number of thresholds",
            value: n,
            min: 2,
            max: crate::histogram::MAX_BINS,
        });
    }
    let (lo, hi) = (
        percentile_sorted(sorted, 0.01),
        percentile_sorted(sorted, 0.99),
    );
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, lo + 0.5)
    };
    Ok(crate::uniform_edges(lo, hi, n - 1))
}

impl Band {
    /// Summarises rows (one per map) of equal length.
    pub fn from_rows(rows: &[&[f64]]) -> Result<Self> {
        let Some(first) = rows.first() else {
            return Err(StatsError::TooFew {
                what: "set of maps",
                min: 1,
            });
        };
        let nb = first.len();
        if let Some(i) = rows.iter().position(|r| r.len() != nb) {
            return Err(StatsError::Mismatch(format!(
                "map {i} has {} bins, map 0 has {nb}",
                rows[i].len()
            )));
        }
        let n = rows.len() as f64;
        let mut band = Band {
            mean: vec![0.0; nb],
            std: vec![0.0; nb],
            p05: vec![0.0; nb],
            p95: vec![0.0; nb],
        };
        let mut col = vec![0.0; rows.len()];
        for b in 0..nb {
            for (c, r) in col.iter_mut().zip(rows) {
                *c = r[b];
            }
            let mean = col.iter().sum::<f64>() / n;
            // two-pass variance: no cancellation for large means such as P(k) of raw densities
            let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            col.sort_by(f64::total_cmp);
            band.mean[b] = mean;
            band.std[b] = var.sqrt();
            band.p05[b] = percentile_sorted(&col, 0.05);
            band.p95[b] = percentile_sorted(&col, 0.95);
        }
        Ok(band)
    }
}

/// P(k) summary; `k` is shared by all maps of one side and box size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PkBand {
    pub k: Vec<f64>,
    pub pk: Band,
}

/// PDF summary (`pdf_over_total` of each map) on shared edges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PdfBand {
    pub edges: Vec<f64>,
    pub pdf: Band,
}

/// MF summary on shared thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MfBand {
    pub thresholds: Vec<f64>,
    pub v0: Band,
    pub v1: Band,
    pub v2: Band,
}

/// Per-bin summaries of every statistic over a set of maps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ensemble {
    pub n_maps: usize,
    pub power_spectrum: PkBand,
    pub histogram: PdfBand,
    pub minkowski: MfBand,
}

impl Ensemble {
    /// Summarises measured maps; all must share k bins, edges and thresholds.
    pub fn from_maps(maps: &[MapStats]) -> Result<Self> {
        let Some(first) = maps.first() else {
            return Err(StatsError::TooFew {
                what: "set of maps",
                min: 1,
            });
        };
        for (i, m) in maps.iter().enumerate() {
            if m.power_spectrum.k != first.power_spectrum.k
                || m.histogram.edges != first.histogram.edges
                || m.minkowski.thresholds != first.minkowski.thresholds
            {
                return Err(StatsError::Mismatch(format!(
                    "map {i} has different k bins, edges or thresholds than map 0"
                )));
            }
        }
        let pdfs: Vec<Vec<f64>> = maps.iter().map(|m| m.histogram.pdf_over_total()).collect();
        let rows = |f: &dyn Fn(&MapStats) -> &[f64]| maps.iter().map(f).collect::<Vec<_>>();
        Ok(Ensemble {
            n_maps: maps.len(),
            power_spectrum: PkBand {
                k: first.power_spectrum.k.clone(),
                pk: Band::from_rows(&rows(&|m| &m.power_spectrum.pk))?,
            },
            histogram: PdfBand {
                edges: first.histogram.edges.clone(),
                pdf: Band::from_rows(&pdfs.iter().map(|v| v.as_slice()).collect::<Vec<_>>())?,
            },
            minkowski: MfBand {
                thresholds: first.minkowski.thresholds.clone(),
                v0: Band::from_rows(&rows(&|m| &m.minkowski.v0))?,
                v1: Band::from_rows(&rows(&|m| &m.minkowski.v1))?,
                v2: Band::from_rows(&rows(&|m| &m.minkowski.v2))?,
            },
        })
    }
}

/// Set B against set A for one statistic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatComparison {
    /// mean_B / mean_A per bin (NaN, written as null, where mean_A = 0).
    pub ratio_of_means: Vec<f64>,
    /// Σ (mean_B − mean_A)² / σ_A² / (n_bins_used − 1); `None` with fewer than 2 usable bins.
    pub reduced_chi2: Option<f64>,
    /// Bins with σ_A > 0.
    pub n_bins_used: usize,
}

impl StatComparison {
    pub fn new(a: &Band, b: &Band) -> Self {
        let ratio_of_means = a
            .mean
            .iter()
            .zip(&b.mean)
            .map(|(ma, mb)| if *ma == 0.0 { f64::NAN } else { mb / ma })
            .collect();
        let mut sum = 0.0;
        let mut used = 0;
        for ((ma, mb), sa) in a.mean.iter().zip(&b.mean).zip(&a.std) {
            if *sa > 0.0 {
                sum += (mb - ma) * (mb - ma) / (sa * sa);
                used += 1;
            }
        }
        let reduced_chi2 = (used >= 2).then(|| sum / (used - 1) as f64);
        Self {
            ratio_of_means,
            reduced_chi2,
            n_bins_used: used,
        }
    }
}

/// Distances between the pooled pixel values of two sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PixelDistance {
    /// ∫ |F_A(x) − F_B(x)| dx, in transformed field units.
    pub wasserstein1: f64,
    /// sup_x |F_A(x) − F_B(x)|.
    pub ks: f64,
    pub n_a: usize,
    pub n_b: usize,
}

/// W1 and KS between two samples (each sorted here; NaN rejected). Exact: walks the merged
/// sorted values, with ties in either sample stepped over together.
pub fn pixel_distance(mut a: Vec<f64>, mut b: Vec<f64>) -> Result<PixelDistance> {
    for (what, v) in [
        ("pooled pixels of set A", &a),
        ("pooled pixels of set B", &b),
    ] {
        if v.is_empty() {
            return Err(StatsError::TooFew { what, min: 1 });
        }
        if let Some(index) = v.iter().position(|x| !x.is_finite()) {
            return Err(StatsError::NonFiniteParameter {
                what,
                index,
                value: v[index],
            });
        }
    }
    a.par_sort_unstable_by(f64::total_cmp);
    b.par_sort_unstable_by(f64::total_cmp);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let (mut w1, mut ks) = (0.0f64, 0.0f64);
    while i < a.len() || j < b.len() {
        let x = match (a.get(i), b.get(j)) {
            (Some(&p), Some(&q)) => p.min(q),
            (Some(&p), None) => p,
            (None, Some(&q)) => q,
            (None, None) => unreachable!(),
        };
        while i < a.len() && a[i] == x {
            i += 1;
        }
        while j < b.len() && b[j] == x {
            j += 1;
        }
        let d = (i as f64 / na - j as f64 / nb).abs();
        ks = ks.max(d);
        let next = match (a.get(i), b.get(j)) {
            (Some(&p), Some(&q)) => p.min(q),
            (Some(&p), None) => p,
            (None, Some(&q)) => q,
            (None, None) => x,
        };
        w1 += d * (next - x);
    }
    Ok(PixelDistance {
        wasserstein1: w1,
        ks,
        n_a: a.len(),
        n_b: b.len(),
    })
}

/// Set B compared with set A, statistic by statistic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub power_spectrum: StatComparison,
    pub pdf: StatComparison,
    pub v0: StatComparison,
    pub v1: StatComparison,
    pub v2: StatComparison,
}

/// Compares ensemble B against ensemble A (the reference, whose scatter sets σ_A).
pub fn compare(a: &Ensemble, b: &Ensemble) -> Result<Comparison> {
    if a.power_spectrum.k != b.power_spectrum.k {
        return Err(StatsError::Mismatch(
            "the two sets have different k bins (map side or box size differ)".into(),
        ));
    }
    if a.histogram.edges != b.histogram.edges || a.minkowski.thresholds != b.minkowski.thresholds {
        return Err(StatsError::Mismatch(
            "the two sets were measured on different edges or thresholds".into(),
        ));
    }
    Ok(Comparison {
        power_spectrum: StatComparison::new(&a.power_spectrum.pk, &b.power_spectrum.pk),
        pdf: StatComparison::new(&a.histogram.pdf, &b.histogram.pdf),
        v0: StatComparison::new(&a.minkowski.v0, &b.minkowski.v0),
        v1: StatComparison::new(&a.minkowski.v1, &b.minkowski.v1),
        v2: StatComparison::new(&a.minkowski.v2, &b.minkowski.v2),
    })
}
