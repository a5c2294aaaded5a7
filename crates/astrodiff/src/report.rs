//! Evaluation of a generated set against a held-out real set, and the self-contained HTML report.
//!
//! * [`evaluate_sets`] measures P(k), the pixel PDF and V0/V1/V2 of every map with the `stats`
//!   crate (the same functions `astrodiff stats`/`compare` use), summarises each set
//!   ([`stats::Ensemble`]: mean, σ, 5–95 % band per bin), compares generated vs real and the
//!   real-vs-real split baseline ([`stats::compare`], [`stats::pixel_distance`]) and builds the
//!   verdict table ([`summary::summarize`]).
//! * [`write_figures`] draws the PNGs from an [`Evaluation`] (and the maps, for the grids), so
//!   `astrodiff report` can redraw everything from the stored JSON and `.npy` files.
//! * [`render_html`] writes one HTML file with every PNG embedded as a base64 data URI and
//!   inline CSS: it opens in any browser with no other file.

// Shared by `evaluate`, `report` and (with torch) `demo`; not every build uses every item.
#![allow(dead_code)]

/// The verdict rule, from the `evaluation` library crate (its old path here is kept).
pub use evaluation::verdict as summary;

use crate::plots::{self, Series};
use anyhow::{bail, Context, Result};
use base64::Engine;
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use stats::ensemble::{Band, Comparison, Ensemble, PixelDistance, StatComparison};
use stats::{MfConvention, StatsConfig, Transform};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use summary::{Sizes, Summary, SummaryInput};

/// Schema tag of `evaluation.json`.
pub const EVALUATION_SCHEMA: &str = "astrodiff.evaluation/1";
/// Schema tag of `run.json`.
pub const RUN_SCHEMA: &str = "astrodiff.run/1";

/// How to measure the two sets.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Box side L, Mpc/h.
    pub box_size: f64,
    /// Applied to every map before all statistics (and to the grids).
    pub transform: Transform,
    pub convention: MfConvention,
    /// Histogram edges (transformed units); default: `n_bins` uniform over the range of both sets.
    pub edges: Option<Vec<f64>>,
    /// MF thresholds (transformed units); default: `n_thresholds` uniform between the 1st and
    /// 99th percentiles of the real set's pooled pixels.
    pub thresholds: Option<Vec<f64>>,
    pub n_bins: usize,
    pub n_thresholds: usize,
    /// The Gaussian null judged beside the generated set (None: no null).
    pub null: Option<NullOptions>,
    /// The real maps come in consecutive groups of this many from one simulation (15 in
    /// CAMELS and the demo; 1 = independent maps): the verdict's yardstick counts simulations
    /// and the baseline halves are cut between them (`summary::Sizes::grouped`).
    pub maps_per_sim: usize,
    /// Maps the generator was trained on (0 = not known): adds that set's own sample variance
    /// to the generated-vs-real yardstick (`summary::Sizes::n_train`).
    pub n_train: usize,
    /// Real-vs-real splits averaged for the baseline (`summary::BASELINE_SPLITS`; 1 = the
    /// contiguous split alone) and the seed of the random ones.
    pub baseline_splits: usize,
    pub baseline_seed: u64,
}

/// How to draw the Gaussian null ([`sim::GaussianNull`]): a stationary Gaussian random field
/// with the mean and 2D power of `fit` (after the transform), judged against the real set by the
/// same rule as the generated one. It has the right P(k) and nothing else, so a verdict it
/// passes does not see non-Gaussian structure.
#[derive(Debug, Clone, Default)]
pub struct NullOptions {
    pub seed: u64,
    /// Fields to draw (default: as many as the generated set).
    pub n_fields: Option<usize>,
    /// Maps to fit, in the same units as the real set (the training maps, where known);
    /// None: the held-out real set itself, a null with its exact power.
    pub fit: Option<(Vec<Array2<f64>>, SetInfo)>,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            box_size: 25.0,
            transform: Transform::Identity,
            convention: MfConvention::Periodic,
            edges: None,
            thresholds: None,
            n_bins: 40,
            n_thresholds: 25,
            null: Some(NullOptions::default()),
            maps_per_sim: 1,
            n_train: 0,
            baseline_splits: summary::BASELINE_SPLITS,
            baseline_seed: 0,
        }
    }
}

/// Where a set of maps came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetInfo {
    pub label: String,
    /// Absolute path of the `.npy`/FITS file when known.
    pub path: Option<String>,
    pub n_maps: usize,
    pub side: usize,
}

/// Everything measured: written as `evaluation.json`, enough to redraw every figure.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evaluation {
    pub schema: String,
    pub real: SetInfo,
    pub generated: SetInfo,
    pub config: StatsConfig,
    /// π·N/L, h/Mpc.
    pub k_nyquist: f64,
    /// Maps [0, n_half1) and [n_half1, n) of the real set form the two baseline halves
    /// (contiguous, so maps of one simulation stay together when the set is ordered by
    /// simulation; cut at a simulation boundary when the group size is given).
    pub n_half1: usize,
    pub real_ensemble: Ensemble,
    pub generated_ensemble: Ensemble,
    pub half1_ensemble: Ensemble,
    pub half2_ensemble: Ensemble,
    /// Generated (B) against real (A).
    #[serde(deserialize_with = "de_comparison")]
    pub comparison: Comparison,
    /// Real half 2 (B) against real half 1 (A).
    #[serde(deserialize_with = "de_comparison")]
    pub baseline: Comparison,
    pub pixel_distance: PixelDistance,
    pub baseline_pixel_distance: PixelDistance,
    /// The shape statistics (absent in evaluations written before they existed).
    #[serde(default)]
    pub shape: Option<ShapeEval>,
    pub summary: Summary,
    /// The Gaussian null judged by the same rule (absent when not asked for, and in
    /// evaluations written before it existed).
    #[serde(default)]
    pub gaussian_null: Option<NullEval>,
}

/// The Gaussian null of an evaluation (see [`NullOptions`]): its fit, its measurements and its
/// verdict against the real set, on the same histogram edges and MF thresholds as the
/// generated set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NullEval {
    /// The maps the null was fitted to.
    pub fitted_on: SetInfo,
    pub seed: u64,
    pub n_fields: usize,
    /// Fitted mean, transformed units.
    pub mean: f64,
    pub ensemble: Ensemble,
    /// Null (B) against real (A).
    #[serde(deserialize_with = "de_comparison")]
    pub comparison: Comparison,
    pub pixel_distance: PixelDistance,
    pub shape: ShapeEval,
    pub summary: Summary,
}

/// The shape of the fields, separate from their amplitude: per-map skewness and excess kurtosis
/// of the transformed maps, and the pixel PDF and Minkowski functionals of the per-map
/// standardised fields ν = (x − x̄)/σ (`stats::moments`). Across a Latin hypercube the per-map
/// mean and amplitude vary with cosmology and widen every absolute threshold; in ν the
/// non-Gaussian shape is what is left. Edges and thresholds in ν always follow the default rules
/// (`n_bins` uniform over both sets' range; `n_thresholds` between the real set's 1st and 99th
/// percentiles), whatever `--edges`/`--thresholds` say in transformed units. A constant map
/// counts as ν ≡ 0 with zero skewness and kurtosis.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShapeEval {
    pub edges_nu: Vec<f64>,
    pub thresholds_nu: Vec<f64>,
    /// Per-map [skewness, excess kurtosis].
    pub moments_real: Band,
    pub moments_generated: Band,
    /// Generated against real, and real half 2 against half 1, of [skewness, excess kurtosis].
    #[serde(deserialize_with = "de_stat")]
    pub moments: StatComparison,
    #[serde(deserialize_with = "de_stat")]
    pub moments_baseline: StatComparison,
    /// The same for the standardised fields (their `power_spectrum` entry is P(k)/σ², unused).
    #[serde(deserialize_with = "de_comparison")]
    pub comparison: Comparison,
    #[serde(deserialize_with = "de_comparison")]
    pub baseline: Comparison,
}

/// A `StatComparison` as written: NaN ratios (mean_A = 0) are JSON null.
#[derive(Deserialize)]
struct StatJson {
    ratio_of_means: Vec<Option<f64>>,
    reduced_chi2: Option<f64>,
    n_bins_used: usize,
}

impl From<StatJson> for StatComparison {
    fn from(s: StatJson) -> Self {
        StatComparison {
            ratio_of_means: s
                .ratio_of_means
                .into_iter()
                .map(|r| r.unwrap_or(f64::NAN))
                .collect(),
            reduced_chi2: s.reduced_chi2,
            n_bins_used: s.n_bins_used,
        }
    }
}

fn de_stat<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<StatComparison, D::Error> {
    Ok(StatJson::deserialize(d)?.into())
}

/// `stats::Comparison` writes NaN ratios (mean_A = 0) as JSON null; read them back as NaN.
fn de_comparison<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Comparison, D::Error> {
    type Stat = StatJson;
    #[derive(Deserialize)]
    struct Cmp {
        power_spectrum: Stat,
        pdf: Stat,
        v0: Stat,
        v1: Stat,
        v2: Stat,
    }
    let c = Cmp::deserialize(d)?;
    let f = StatComparison::from;
    Ok(Comparison {
        power_spectrum: f(c.power_spectrum),
        pdf: f(c.pdf),
        v0: f(c.v0),
        v1: f(c.v1),
        v2: f(c.v2),
    })
}

/// Loads every map of a `.npy`/`.npz`/FITS stack (or single map) as f64.
pub fn load_maps(path: &Path) -> Result<Vec<Array2<f64>>> {
    let stack = fields::MapStack::open(path)
        .with_context(|| format!("reading maps from {}", path.display()))?;
    if stack.is_empty() {
        bail!("{}: the stack holds no maps", path.display());
    }
    Ok((0..stack.len()).map(|i| stack.map(i)).collect())
}

fn transformed(maps: &[Array2<f64>], t: Transform, what: &str) -> Result<Vec<Array2<f64>>> {
    maps.iter()
        .enumerate()
        .map(|(i, m)| {
            t.apply(m.view())
                .with_context(|| format!("{what}, map {i}: transform {t}"))
        })
        .collect()
}

fn pooled(maps: &[Array2<f64>]) -> Vec<f64> {
    maps.iter().flat_map(|m| m.iter().copied()).collect()
}

/// Measures and compares; `on_map` is called after each measured map (progress).
pub fn evaluate_sets(
    real: &[Array2<f64>],
    generated: &[Array2<f64>],
    real_info: SetInfo,
    gen_info: SetInfo,
    opts: &EvalOptions,
    on_map: &(dyn Fn() + Sync),
) -> Result<Evaluation> {
    if real.is_empty() || generated.is_empty() {
        bail!(
            "both sets need at least one map (real: {}, generated: {})",
            real.len(),
            generated.len()
        );
    }
    let side = real[0].nrows();
    for (what, set) in [(&real_info.label, real), (&gen_info.label, generated)] {
        if let Some((i, m)) = set
            .iter()
            .enumerate()
            .find(|(_, m)| m.dim() != (side, side))
        {
            bail!(
                "{what}: map {i} is {}×{}, expected {side}×{side} like the first real map",
                m.nrows(),
                m.ncols()
            );
        }
    }
    if !(opts.box_size.is_finite() && opts.box_size > 0.0) {
        bail!(
            "box size {} must be a positive length in Mpc/h",
            opts.box_size
        );
    }
    let tr = transformed(real, opts.transform, &real_info.label)?;
    let tg = transformed(generated, opts.transform, &gen_info.label)?;
    let pr = pooled(&tr);
    let edges = match &opts.edges {
        Some(e) => e.clone(),
        None => default_edges(&pr, &pooled(&tg), opts.n_bins)?,
    };
    let thresholds = match &opts.thresholds {
        Some(t) => t.clone(),
        None => default_thresholds(&tr, opts.n_thresholds)?,
    };
    let cfg = StatsConfig {
        box_size: opts.box_size,
        transform: opts.transform,
        edges,
        thresholds,
        convention: opts.convention,
    };
    // The sets are transformed already; measure them as they are.
    let cfg_t = StatsConfig {
        transform: Transform::Identity,
        ..cfg.clone()
    };
    let measure = |set: &[Array2<f64>], what: &str, on_map: &(dyn Fn() + Sync)| {
        stats::measure_many(
            set.len(),
            side,
            &cfg_t,
            |i| Ok::<_, std::convert::Infallible>(set[i].clone()),
            on_map,
        )
        .map_err(|e| anyhow::anyhow!("{what}: {e}"))
    };
    let mr = measure(&tr, &real_info.label, on_map)?;
    let m = opts.maps_per_sim;
    let deff_of = |rows: Vec<Vec<f64>>| {
        let v: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        stats::ensemble::design_effect(&v, m)
    };
    let per_map = |f: &dyn Fn(&stats::MapStats) -> Vec<f64>| deff_of(mr.iter().map(f).collect());
    let deff_abs = [
        per_map(&|s| s.power_spectrum.pk.clone()),
        per_map(&|s| s.histogram.pdf_over_total()),
        per_map(&|s| s.minkowski.v0.clone()),
        per_map(&|s| s.minkowski.v1.clone()),
        per_map(&|s| s.minkowski.v2.clone()),
    ];
    if opts.maps_per_sim == 0 {
        bail!("maps per simulation must be at least 1");
    }
    if opts.baseline_splits == 0 {
        bail!("baseline splits must be at least 1");
    }
    let sizes_a = Sizes::grouped(real.len(), 1, opts.maps_per_sim);
    let n_half1 = sizes_a.n_a1;
    // With a single real map the halves are empty: one "split" of the whole set against itself
    // keeps the JSON well-formed; the summary then says "no verdict".
    let splits = if n_half1 >= 1 {
        sizes_a.baseline_splits(opts.baseline_splits, opts.baseline_seed)
    } else {
        let all: Vec<usize> = (0..real.len()).collect();
        vec![(all.clone(), all)]
    };
    let ens = |m: &[stats::MapStats], what: &str| {
        Ensemble::from_maps(m).map_err(|e| anyhow::anyhow!("{what}: {e}"))
    };
    let real_ensemble = ens(&mr, "real set")?;
    // The contiguous split (the first) is also kept whole in the JSON, for the figures.
    let (c1, c2) = &splits[0];
    let half1_ensemble = ens(&pick(&mr, c1), "real half 1")?;
    let half2_ensemble = ens(&pick(&mr, c2), "real half 2")?;
    let baseline = stats::compare(&half1_ensemble, &half2_ensemble)?;
    let baseline_pixel_distance =
        stats::pixel_distance(pooled(&pick(&tr, c1)), pooled(&pick(&tr, c2)))?;
    let k_nyquist = std::f64::consts::PI * side as f64 / opts.box_size;
    // Every split's absolute comparison and pixel distance (the shape part depends on the
    // judged set's ν edges and is added in `judge`).
    let split_abs: Vec<(Comparison, PixelDistance, f64)> = splits
        .iter()
        .enumerate()
        .map(|(j, (a, b))| {
            let f = summary::var_factor(a.len().max(1), b.len().max(1));
            if j == 0 {
                return Ok((baseline.clone(), baseline_pixel_distance.clone(), f));
            }
            let cmp = stats::compare(
                &ens(&pick(&mr, a), "real half 1")?,
                &ens(&pick(&mr, b), "real half 2")?,
            )?;
            let px = stats::pixel_distance(pooled(&pick(&tr, a)), pooled(&pick(&tr, b)))?;
            Ok((cmp, px, f))
        })
        .collect::<Result<_>>()?;
    let f0 = split_abs[0].2;
    let pk_rel_sigma_a: Vec<f64> = real_ensemble
        .power_spectrum
        .pk
        .std
        .iter()
        .zip(&real_ensemble.power_spectrum.pk.mean)
        .map(|(s, m)| s / m)
        .collect();
    // Judges one transformed set against the real one: generated or null, the same rule.
    let judge = |set: &[Array2<f64>], what: &str, on_map: &(dyn Fn() + Sync)| -> Result<Judged> {
        let ensemble = ens(&measure(set, what, on_map)?, what)?;
        let comparison = stats::compare(&real_ensemble, &ensemble)?;
        let pixel_distance = stats::pixel_distance(pr.clone(), pooled(set))?;
        let (shape, deff_shape, split_shape) = shape_eval(&tr, set, &splits, opts)?;
        let per_split: Vec<(summary::Baseline, f64)> = split_abs
            .iter()
            .zip(&split_shape)
            .map(|((cmp, px, f), (mo, sh))| {
                let b = summary::Baseline::of_split(
                    cmp,
                    px,
                    Some((mo, sh)),
                    &real_ensemble.power_spectrum.k,
                    k_nyquist,
                );
                (b, *f)
            })
            .collect();
        let base_mean = summary::Baseline::mean(&per_split, f0);
        let summary = summary::summarize(&SummaryInput {
            deff: summary::DesignEffects {
                power_spectrum: deff_abs[0],
                pdf: deff_abs[1],
                v0: deff_abs[2],
                v1: deff_abs[3],
                v2: deff_abs[4],
                moments: deff_shape[0],
                pdf_nu: deff_shape[1],
                v0_nu: deff_shape[2],
                v1_nu: deff_shape[3],
                v2_nu: deff_shape[4],
            },
            sizes: Sizes::grouped(real.len(), set.len(), opts.maps_per_sim)
                .with_train(opts.n_train),
            cmp: &comparison,
            pixels: &pixel_distance,
            baseline: &base_mean,
            baseline_splits: splits.len(),
            baseline_seed: opts.baseline_seed,
            k: &real_ensemble.power_spectrum.k,
            k_nyquist,
            pk_rel_sigma_a: &pk_rel_sigma_a,
            shape: Some(summary::ShapeInput {
                moments: &shape.moments,
                cmp: &shape.comparison,
            }),
        });
        Ok(Judged {
            ensemble,
            comparison,
            pixel_distance,
            shape,
            summary,
        })
    };
    let g = judge(&tg, &gen_info.label, on_map)?;
    let gaussian_null = match &opts.null {
        None => None,
        Some(no) => {
            let (fit, fitted_on) = match &no.fit {
                Some((maps, info)) => (
                    transformed(maps, opts.transform, &info.label)?,
                    SetInfo {
                        n_maps: maps.len(),
                        side: maps.first().map_or(0, |m| m.nrows()),
                        ..info.clone()
                    },
                ),
                None => (
                    tr.clone(),
                    SetInfo {
                        n_maps: real.len(),
                        side,
                        ..real_info.clone()
                    },
                ),
            };
            if fitted_on.side != side {
                bail!(
                    "Gaussian null: the maps it is fitted to ({}) are {}² but the real maps are {side}²",
                    fitted_on.label,
                    fitted_on.side
                );
            }
            let null = sim::GaussianNull::fit(&fit)
                .with_context(|| format!("fitting the Gaussian null to {}", fitted_on.label))?;
            let n_fields = no.n_fields.unwrap_or(generated.len()).max(1);
            let fields = null.sample(n_fields, no.seed);
            let j = judge(&fields, "Gaussian null", &|| {})?;
            Some(NullEval {
                fitted_on,
                seed: no.seed,
                n_fields,
                mean: null.mean(),
                ensemble: j.ensemble,
                comparison: j.comparison,
                pixel_distance: j.pixel_distance,
                shape: j.shape,
                summary: j.summary,
            })
        }
    };
    Ok(Evaluation {
        schema: EVALUATION_SCHEMA.into(),
        real: SetInfo {
            n_maps: real.len(),
            side,
            ..real_info
        },
        generated: SetInfo {
            n_maps: generated.len(),
            side,
            ..gen_info
        },
        config: cfg,
        k_nyquist,
        n_half1,
        real_ensemble,
        generated_ensemble: g.ensemble,
        half1_ensemble,
        half2_ensemble,
        comparison: g.comparison,
        baseline,
        pixel_distance: g.pixel_distance,
        baseline_pixel_distance,
        shape: Some(g.shape),
        summary: g.summary,
        gaussian_null,
    })
}

/// One set judged against the real one (see `evaluate_sets`).
struct Judged {
    ensemble: Ensemble,
    comparison: Comparison,
    pixel_distance: PixelDistance,
    shape: ShapeEval,
    summary: Summary,
}

/// The default histogram edges: `n_bins` uniform over the range of both sets' pooled pixels.
fn default_edges(real: &[f64], generated: &[f64], n_bins: usize) -> Result<Vec<f64>> {
    let lo = real
        .iter()
        .chain(generated)
        .copied()
        .fold(f64::INFINITY, f64::min);
    let hi = real
        .iter()
        .chain(generated)
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let n = stats::histogram::check_bin_count(n_bins).context("--bins")?;
    Ok(stats::uniform_edges(lo, hi, n))
}

/// The default MF thresholds, the same rule as `astrodiff compare`: the percentile rule on the
/// pixels of up to 64 evenly spaced real maps.
fn default_thresholds(real: &[Array2<f64>], n: usize) -> Result<Vec<f64>> {
    let take = real.len().min(64);
    let mut px: Vec<f64> = (0..take)
        .flat_map(|s| real[s * real.len() / take].iter().copied())
        .collect();
    px.sort_by(f64::total_cmp);
    stats::ensemble::percentile_thresholds(&px, n).context("--n-thresholds")
}

/// ν-fields and [skewness, excess kurtosis] of transformed maps (see [`ShapeEval`]).
fn standardized(set: &[Array2<f64>]) -> (Vec<Array2<f64>>, Vec<[f64; 2]>) {
    set.iter()
        .map(|m| match stats::standardize(m.view()) {
            Ok((nu, mo)) => (nu, [mo.skewness, mo.excess_kurtosis]),
            Err(_) => (Array2::zeros(m.dim()), [0.0, 0.0]),
        })
        .unzip()
}

/// The maps of `set` at `idx`, in order.
fn pick<T: Clone>(set: &[T], idx: &[usize]) -> Vec<T> {
    idx.iter().map(|&i| set[i].clone()).collect()
}

/// Per baseline split, the [skewness, kurtosis] and ν-field comparisons of half 2 against half 1.
type ShapeSplits = Vec<(StatComparison, Comparison)>;

/// The shape statistics of the transformed sets `tr` (real) and `tg` (generated), the real
/// set's design effects of the five shape rows (moments, ν-PDF, ν-V0, ν-V1, ν-V2), and the
/// baseline comparison of every split in `splits` (the first, the contiguous split, is also
/// stored in the [`ShapeEval`]).
fn shape_eval(
    tr: &[Array2<f64>],
    tg: &[Array2<f64>],
    splits: &[(Vec<usize>, Vec<usize>)],
    opts: &EvalOptions,
) -> Result<(ShapeEval, [f64; 5], ShapeSplits)> {
    let (nr, mr) = standardized(tr);
    let (ng, mg) = standardized(tg);
    let edges_nu = default_edges(&pooled(&nr), &pooled(&ng), opts.n_bins)?;
    let thresholds_nu = default_thresholds(&nr, opts.n_thresholds)?;
    let cfg = StatsConfig {
        box_size: opts.box_size,
        transform: Transform::Identity,
        edges: edges_nu.clone(),
        thresholds: thresholds_nu.clone(),
        convention: opts.convention,
    };
    let side = nr[0].nrows();
    let measure = |set: &[Array2<f64>]| {
        stats::measure_many(
            set.len(),
            side,
            &cfg,
            |i| Ok::<_, std::convert::Infallible>(set[i].clone()),
            || {},
        )
        .map_err(|e| anyhow::anyhow!("standardised fields: {e}"))
    };
    let (sr, sg) = (measure(&nr)?, measure(&ng)?);
    let ens = |m: &[stats::MapStats]| Ensemble::from_maps(m).map_err(anyhow::Error::msg);
    let band = |rows: &[[f64; 2]]| {
        let r: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        Band::from_rows(&r).map_err(anyhow::Error::msg)
    };
    let split_cmp = splits
        .iter()
        .map(|(a, b)| {
            Ok((
                StatComparison::new(&band(&pick(&mr, a))?, &band(&pick(&mr, b))?),
                stats::compare(&ens(&pick(&sr, a))?, &ens(&pick(&sr, b))?)?,
            ))
        })
        .collect::<Result<ShapeSplits>>()?;
    let moments_real = band(&mr)?;
    let moments_generated = band(&mg)?;
    let deff_of = |rows: Vec<Vec<f64>>| {
        let v: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        stats::ensemble::design_effect(&v, opts.maps_per_sim)
    };
    let deffs = [
        deff_of(mr.iter().map(|r| r.to_vec()).collect()),
        deff_of(sr.iter().map(|s| s.histogram.pdf_over_total()).collect()),
        deff_of(sr.iter().map(|s| s.minkowski.v0.clone()).collect()),
        deff_of(sr.iter().map(|s| s.minkowski.v1.clone()).collect()),
        deff_of(sr.iter().map(|s| s.minkowski.v2.clone()).collect()),
    ];
    let shape = ShapeEval {
        moments: StatComparison::new(&moments_real, &moments_generated),
        moments_baseline: split_cmp[0].0.clone(),
        comparison: stats::compare(&ens(&sr)?, &ens(&sg)?)?,
        baseline: split_cmp[0].1.clone(),
        edges_nu,
        thresholds_nu,
        moments_real,
        moments_generated,
    };
    Ok((shape, deffs, split_cmp))
}

/// Writes `value` as pretty JSON, atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut s = serde_json::to_string_pretty(value).context("serialising JSON")?;
    s.push('\n');
    plots::write_atomic(path, s.as_bytes())
}

/// Reads JSON with a message naming the file.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let s = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&s)
        .with_context(|| format!("{}: not a valid file of the expected kind", path.display()))
}

fn series(label: String, x: Vec<f64>, b: &Band) -> Series {
    Series {
        label,
        x,
        mean: b.mean.clone(),
        std: Some(b.std.clone()),
        p05: Some(b.p05.clone()),
        p95: Some(b.p95.clone()),
    }
}

fn centres(edges: &[f64]) -> Vec<f64> {
    edges.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect()
}

/// One figure of the report: file name (beside the HTML) and caption.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub file: String,
    pub caption: String,
}

fn value_label(t: Transform) -> &'static str {
    match t {
        Transform::Identity => "field value",
        Transform::Log10 => "log10(field)",
        Transform::Overdensity => "δ = ρ/ρ̄ − 1",
    }
}

/// Draws the evaluation's figures into `dir` as `<prefix>grid_real.png`, `<prefix>grid_generated.png`,
/// `<prefix>pk.png`, `<prefix>pdf.png`, `<prefix>minkowski.png`. `real`/`generated` are the raw maps
/// for the grids (up to `n_grid` each, same colour scale); pass empty slices to skip the grids.
pub fn write_figures(
    dir: &Path,
    prefix: &str,
    ev: &Evaluation,
    real: &[Array2<f64>],
    generated: &[Array2<f64>],
    n_grid: usize,
) -> Result<Vec<Figure>> {
    let mut figs = Vec::new();
    let t = ev.config.transform;
    let lr = format!("{} (n={})", ev.real.label, ev.real.n_maps);
    let lg = format!("{} (n={})", ev.generated.label, ev.generated.n_maps);
    if !real.is_empty() && !generated.is_empty() {
        let gr = transformed(&real[..real.len().min(n_grid)], t, &ev.real.label)?;
        let gg = transformed(
            &generated[..generated.len().min(n_grid)],
            t,
            &ev.generated.label,
        )?;
        let views: Vec<ArrayView2<f64>> = gr.iter().chain(&gg).map(|m| m.view()).collect();
        let (vmin, vmax) = plots::robust_range(views.iter(), 0.005, 0.995);
        let n_cols = n_grid.clamp(1, 8);
        for (name, set, label) in [("grid_real", &gr, &lr), ("grid_generated", &gg, &lg)] {
            let file = format!("{prefix}{name}.png");
            let v: Vec<ArrayView2<f64>> = set.iter().map(|m| m.view()).collect();
            plots::plot_map_grid(
                &dir.join(&file),
                &v,
                n_cols,
                vmin,
                vmax,
                value_label(t),
                label,
            )?;
            figs.push(Figure {
                file,
                caption: format!(
                    "{label}: first {} maps, shared colour scale [{vmin:.3}, {vmax:.3}]",
                    v.len()
                ),
            });
        }
    }
    let k = ev.real_ensemble.power_spectrum.k.clone();
    // The Gaussian null as a mean line without bands, so the two sets' bands stay readable.
    let null = ev.gaussian_null.as_ref();
    let ln = null.map(|n| format!("Gaussian null (n={})", n.n_fields));
    let line = |label: &str, x: &[f64], b: &Band| Series {
        label: label.into(),
        x: x.to_vec(),
        mean: b.mean.clone(),
        std: None,
        p05: None,
        p95: None,
    };
    let mut pk = vec![
        series(lr.clone(), k.clone(), &ev.real_ensemble.power_spectrum.pk),
        series(
            lg.clone(),
            k.clone(),
            &ev.generated_ensemble.power_spectrum.pk,
        ),
    ];
    if let (Some(n), Some(l)) = (null, &ln) {
        pk.push(line(l, &k, &n.ensemble.power_spectrum.pk));
    }
    let file = format!("{prefix}pk.png");
    plots::plot_power_spectrum(
        &dir.join(&file),
        &pk,
        Some(0),
        Some(ev.k_nyquist / 2.0),
        &format!(
            "Power spectrum of {} (L = {} Mpc/h)",
            value_label(t),
            ev.config.box_size
        ),
    )?;
    figs.push(Figure {
        file,
        caption: "P(k): mean (line), ±1σ (dark band), 5–95% (light band); lower panel: ratio to the real mean, \
                  with the real set's scatter shaded. Vertical line: k_Nyq/2, the limit of the ratio test."
            .into(),
    });
    let x = centres(&ev.real_ensemble.histogram.edges);
    let mut pdf = vec![
        series(lr.clone(), x.clone(), &ev.real_ensemble.histogram.pdf),
        series(lg.clone(), x.clone(), &ev.generated_ensemble.histogram.pdf),
    ];
    if let (Some(n), Some(l)) = (null, &ln) {
        pdf.push(line(l, &x, &n.ensemble.histogram.pdf));
    }
    let file = format!("{prefix}pdf.png");
    plots::plot_pdf(&dir.join(&file), &pdf, value_label(t), true, "Pixel PDF")?;
    figs.push(Figure {
        file,
        caption:
            "Pixel PDF (counts / (all pixels × bin width)), per-map mean with bands, log scale."
                .into(),
    });
    let th = ev.real_ensemble.minkowski.thresholds.clone();
    let mf = |e: &Ensemble, l: &str| {
        [
            series(l.into(), th.clone(), &e.minkowski.v0),
            series(l.into(), th.clone(), &e.minkowski.v1),
            series(l.into(), th.clone(), &e.minkowski.v2),
        ]
    };
    let [r0, r1, r2] = mf(&ev.real_ensemble, &lr);
    let [g0, g1, g2] = mf(&ev.generated_ensemble, &lg);
    let file = format!("{prefix}minkowski.png");
    let (mut a, mut b, mut c) = (vec![r0, g0], vec![r1, g1], vec![r2, g2]);
    if let (Some(n), Some(l)) = (null, &ln) {
        let m = &n.ensemble.minkowski;
        a.push(line(l, &th, &m.v0));
        b.push(line(l, &th, &m.v1));
        c.push(line(l, &th, &m.v2));
    }
    plots::plot_minkowski(
        &dir.join(&file),
        [&a, &b, &c],
        &format!("threshold ({})", value_label(t)),
        &format!(
            "Minkowski functionals ({} convention)",
            ev.config.convention
        ),
    )?;
    figs.push(Figure {
        file,
        caption:
            "Minkowski functionals of the excursion sets {x > u} versus threshold u, with bands."
                .into(),
    });
    Ok(figs)
}

/// How one set of samples was drawn (recorded by `demo`, shown in the report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleRecord {
    /// e.g. "dpmpp", "ddpm".
    pub sampler: String,
    pub steps: usize,
    pub n: usize,
    pub seed: u64,
    pub wall_s: f64,
    pub wall_per_sample_s: f64,
    /// `.npy` file, relative to the run folder.
    pub file: String,
    /// Evaluation folder relative to the run folder (holding `evaluation.json`), if evaluated.
    pub evaluation: Option<String>,
    /// Pixels clamped to the training range after sampling (`demo`), if any check was done.
    #[serde(default)]
    pub clamped_pixels: Option<u64>,
}

/// Training facts shown in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    pub preset: String,
    pub steps: u64,
    pub wall_s: f64,
    /// JSONL metrics log (step, loss, …), relative to the run folder.
    pub metrics_log: String,
    pub checkpoint: String,
    pub n_params: Option<u64>,
}

/// `run.json`: what a run did, with seeds and versions to reproduce it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub schema: String,
    pub name: String,
    pub command: String,
    pub versions: BTreeMap<String, String>,
    pub seeds: BTreeMap<String, u64>,
    /// The resolved configuration (all defaults filled in).
    pub config: serde_json::Value,
    /// Held-out real maps, relative to the run folder.
    pub reference: Option<String>,
    pub dataset: Option<serde_json::Value>,
    pub training: Option<TrainingRecord>,
    pub samples: Vec<SampleRecord>,
    /// Wall time per stage, seconds.
    pub timings: BTreeMap<String, f64>,
}

/// Versions for reproduction.
pub fn versions() -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    v.insert("astrodiff".into(), env!("CARGO_PKG_VERSION").into());
    v.insert(
        "target".into(),
        format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
    );
    v
}

/// One evaluation section of the report.
pub struct Section<'a> {
    pub title: String,
    pub evaluation: &'a Evaluation,
    pub figures: Vec<Figure>,
    pub sampling: Option<&'a SampleRecord>,
}

/// The report's inputs.
pub struct ReportInput<'a> {
    pub title: String,
    pub run: Option<&'a RunRecord>,
    pub sections: Vec<Section<'a>>,
    pub training_curve: Option<Figure>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn num(x: Option<f64>) -> String {
    match x {
        None => "—".into(),
        Some(0.0) => "0".into(),
        Some(v) if v.abs() >= 1e4 || v.abs() < 1e-3 => format!("{v:.3e}"),
        Some(v) => format!("{v:.4}"),
    }
}

fn metric_title(name: &str) -> &str {
    match name {
        "reduced_chi2" => "reduced χ²",
        "max_abs_ratio_minus_1" => "max |ratio − 1|, k ≤ k<sub>Nyq</sub>/2",
        "wasserstein1" => "Wasserstein-1 of pixel values",
        other => other,
    }
}

/// The summary table as HTML (one row per metric, statistic cells spanning their metrics), with
/// the Gaussian null's values and verdicts in two more columns when it was judged.
pub fn summary_table_html(s: &Summary, null: Option<&Summary>) -> String {
    let cls = |p: Option<bool>| match p {
        Some(true) => "pass",
        Some(false) => "fail",
        None => "none",
    };
    let split_head = match s.baseline_splits {
        1 => "real vs real (split)".to_string(),
        n => format!("real vs real (mean of {n} splits)"),
    };
    let mut h = format!(
        "<table class=\"summary\"><thead><tr><th>statistic</th><th>metric</th><th>generated vs real</th>\
         <th>{split_head}</th><th>threshold</th><th>verdict</th>",
    );
    if null.is_some() {
        h.push_str("<th>Gaussian null vs real</th><th>null verdict</th>");
    }
    h.push_str("</tr></thead><tbody>\n");
    for r in &s.rows {
        let nr = null.and_then(|n| n.row(&r.statistic));
        for (i, m) in r.metrics.iter().enumerate() {
            h.push_str("<tr>");
            if i == 0 {
                h.push_str(&format!(
                    "<td rowspan=\"{}\"><b>{}</b>{}</td>",
                    r.metrics.len(),
                    esc(&r.statistic),
                    if r.design_effect > 1.0 {
                        format!(
                            "<br><small title=\"design effect of the held-out set: variance inflation of its mean from maps of one simulation being correlated\">deff {:.1}</small>",
                            r.design_effect
                        )
                    } else {
                        String::new()
                    }
                ));
            }
            h.push_str(&format!(
                "<td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>≤ {}</td>",
                metric_title(&m.name),
                cls(m.pass),
                num(m.value),
                num(m.baseline),
                num(m.threshold)
            ));
            if i == 0 {
                h.push_str(&format!(
                    "<td rowspan=\"{}\" class=\"{}\">{}</td>",
                    r.metrics.len(),
                    cls(r.pass),
                    esc(&r.verdict)
                ));
            }
            if null.is_some() {
                let nm = nr.and_then(|r| r.metric(&m.name));
                h.push_str(&format!(
                    "<td class=\"{}\">{}</td>",
                    cls(nm.and_then(|m| m.pass)),
                    num(nm.and_then(|m| m.value))
                ));
                if i == 0 {
                    h.push_str(&format!(
                        "<td rowspan=\"{}\" class=\"{}\">{}</td>",
                        r.metrics.len(),
                        cls(nr.and_then(|r| r.pass)),
                        esc(nr.map_or("—", |r| r.verdict.as_str()))
                    ));
                }
            }
            h.push_str("</tr>\n");
        }
    }
    h.push_str("</tbody></table>\n");
    h
}

/// The paragraph on the Gaussian null: what it is, and whether the verdict told it apart.
fn null_html(n: &NullEval) -> String {
    let (cls, says) = match n.summary.pass {
        Some(false) => (
            "pass",
            "the verdict tells it from the real maps, as it should",
        ),
        Some(true) => (
            "fail",
            "<b>the verdict cannot tell it from the real maps</b>: a pass of the generated set \
             then says no more than that its P(k) is right",
        ),
        None => ("none", "no verdict"),
    };
    format!(
        "<p><span class=\"verdict {cls}\">Gaussian null: <b>{}</b></span> {} fields of a Gaussian \
         random field with the mean and 2D power of {} ({} maps), seed {}: {says}.</p>\n",
        esc(&n.summary.verdict),
        n.n_fields,
        esc(&n.fitted_on.label),
        n.fitted_on.n_maps,
        n.seed
    )
}

fn img(dir: &Path, f: &Figure) -> Result<String> {
    let p = dir.join(&f.file);
    let bytes = std::fs::read(&p).with_context(|| format!("reading figure {}", p.display()))?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    Ok(format!(
        "<figure><img alt=\"{}\" src=\"data:image/png;base64,{b64}\"><figcaption>{}</figcaption></figure>\n",
        esc(&f.file),
        esc(&f.caption)
    ))
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1300px;margin:2em auto;padding:0 1em;color:#222}\
h1{font-size:1.7em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:.3em .7em;text-align:left;vertical-align:top}\
th{background:#f0f0f0}td.pass{background:#dff3dc}td.fail{background:#f8d7d5}td.none{background:#eee}\
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}figcaption{font-size:.9em;color:#555}\
.verdict{font-size:1.2em;padding:.5em .8em;display:inline-block;border-radius:4px}.verdict.pass{background:#dff3dc}\
.verdict.fail{background:#f8d7d5}.verdict.none{background:#eee}code,pre{background:#f6f6f6;padding:.1em .3em}\
pre{padding:.6em;overflow-x:auto;font-size:.85em}.rule{font-size:.9em;color:#444;max-width:1000px}";

/// Renders the report to `dir/report.html` (figures are read from `dir` and embedded).
pub fn render_html(dir: &Path, inp: &ReportInput<'_>) -> Result<PathBuf> {
    let mut h = String::new();
    h.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head><body>\n",
        esc(&inp.title)
    ));
    h.push_str(&format!("<h1>{}</h1>\n", esc(&inp.title)));
    for sec in &inp.sections {
        let ev = sec.evaluation;
        let s = &ev.summary;
        let cls = match s.pass {
            Some(true) => "pass",
            Some(false) => "fail",
            None => "none",
        };
        h.push_str(&format!("<h2>{}</h2>\n", esc(&sec.title)));
        h.push_str(&format!(
            "<p><span class=\"verdict {cls}\">Overall: <b>{}</b></span></p>\n<p>{} ({} maps of {}², from <code>{}</code>) \
             against {} ({} maps, from <code>{}</code>); statistics on {} with L = {} Mpc/h, MF convention {}.</p>\n",
            esc(&s.verdict),
            esc(&ev.generated.label),
            ev.generated.n_maps,
            ev.generated.side,
            esc(ev.generated.path.as_deref().unwrap_or("memory")),
            esc(&ev.real.label),
            ev.real.n_maps,
            esc(ev.real.path.as_deref().unwrap_or("memory")),
            value_label(ev.config.transform),
            ev.config.box_size,
            ev.config.convention
        ));
        if let Some(sr) = sec.sampling {
            h.push_str(&format!(
                "<p>Sampler <b>{}</b>, {} steps, {} samples, seed {}: {:.1} s in all, <b>{:.2} s per sample</b>.{}</p>\n",
                esc(&sr.sampler),
                sr.steps,
                sr.n,
                sr.seed,
                sr.wall_s,
                sr.wall_per_sample_s,
                match sr.clamped_pixels {
                    Some(c) if c > 0 => format!(
                        " {c} of {} pixels ({:.2} %) fell outside the training range and were clamped to it.",
                        sr.n * ev.generated.side * ev.generated.side,
                        100.0 * c as f64 / (sr.n * ev.generated.side * ev.generated.side) as f64
                    ),
                    _ => String::new(),
                }
            ));
        }
        if let Some(n) = &ev.gaussian_null {
            h.push_str(&null_html(n));
        }
        h.push_str(&summary_table_html(
            s,
            ev.gaussian_null.as_ref().map(|n| &n.summary),
        ));
        h.push_str(&format!(
            "<p class=\"rule\"><b>Verdict rule.</b> {} Pixel KS distance: {} (baseline {}).</p>\n",
            esc(&s.rule),
            num(Some(ev.pixel_distance.ks)),
            num(Some(ev.baseline_pixel_distance.ks))
        ));
        for f in &sec.figures {
            h.push_str(&img(dir, f)?);
        }
    }
    if let Some(run) = inp.run {
        if let Some(t) = &run.training {
            h.push_str("<h2>Training</h2>\n");
            h.push_str(&format!(
                "<p>Preset <b>{}</b>{}, {} optimisation steps in {:.0} s; checkpoint <code>{}</code>.</p>\n",
                esc(&t.preset),
                t.n_params.map(|n| format!(" ({n} parameters)")).unwrap_or_default(),
                t.steps,
                t.wall_s,
                esc(&t.checkpoint)
            ));
        }
    }
    if let Some(f) = &inp.training_curve {
        h.push_str(&img(dir, f)?);
    }
    if let Some(run) = inp.run {
        if !run.samples.is_empty() {
            h.push_str("<h2>Sampling</h2>\n<table><thead><tr><th>sampler</th><th>steps</th><th>samples</th><th>seed</th><th>wall time</th><th>per sample</th><th>file</th></tr></thead><tbody>\n");
            for s in &run.samples {
                h.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1} s</td><td>{:.2} s</td><td><code>{}</code></td></tr>\n",
                    esc(&s.sampler),
                    s.steps,
                    s.n,
                    s.seed,
                    s.wall_s,
                    s.wall_per_sample_s,
                    esc(&s.file)
                ));
            }
            h.push_str("</tbody></table>\n");
        }
        h.push_str("<h2>Reproduction</h2>\n<table><tbody>\n");
        h.push_str(&format!(
            "<tr><th>command</th><td><code>{}</code></td></tr>\n",
            esc(&run.command)
        ));
        for (k, v) in &run.seeds {
            h.push_str(&format!("<tr><th>seed: {}</th><td>{v}</td></tr>\n", esc(k)));
        }
        for (k, v) in &run.versions {
            h.push_str(&format!(
                "<tr><th>version: {}</th><td>{}</td></tr>\n",
                esc(k),
                esc(v)
            ));
        }
        for (k, v) in &run.timings {
            h.push_str(&format!(
                "<tr><th>wall time: {}</th><td>{v:.1} s</td></tr>\n",
                esc(k)
            ));
        }
        h.push_str("</tbody></table>\n");
        let cfg = serde_json::to_string_pretty(&run.config).unwrap_or_default();
        h.push_str(&format!(
            "<details><summary>Resolved configuration</summary><pre>{}</pre></details>\n",
            esc(&cfg)
        ));
        if let Some(d) = &run.dataset {
            let d = serde_json::to_string_pretty(d).unwrap_or_default();
            h.push_str(&format!(
                "<details><summary>Dataset</summary><pre>{}</pre></details>\n",
                esc(&d)
            ));
        }
    } else {
        h.push_str(&format!(
            "<h2>Reproduction</h2><table><tbody><tr><th>version: astrodiff</th><td>{}</td></tr></tbody></table>\n",
            env!("CARGO_PKG_VERSION")
        ));
    }
    h.push_str("</body></html>\n");
    let path = dir.join("report.html");
    plots::write_atomic(&path, h.as_bytes())?;
    Ok(path)
}

/// Reads (step, loss) pairs from a JSONL metrics log (lines with numeric `step` and `loss`;
/// other lines are skipped).
pub fn read_loss_log(path: &Path) -> Result<(Vec<f64>, Vec<f64>)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading training log {}", path.display()))?;
    let (mut s, mut l) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if let (Some(st), Some(lo)) = (
            v.get("step").and_then(|x| x.as_f64()),
            v.get("loss").and_then(|x| x.as_f64()),
        ) {
            s.push(st);
            l.push(lo);
        }
    }
    Ok((s, l))
}

/// Finds a recorded file: as written, else relative to `base`, else its file name in `base`.
pub fn locate(recorded: &str, base: &Path) -> Option<PathBuf> {
    let p = PathBuf::from(recorded);
    if p.exists() {
        return Some(p);
    }
    let j = base.join(&p);
    if j.exists() {
        return Some(j);
    }
    let n = base.join(p.file_name()?);
    n.exists().then_some(n)
}

/// Writes `evaluation.json`, `summary.json`, the figures and `report.html` of a plain
/// two-set evaluation into `dir`.
pub fn write_evaluation_report(
    dir: &Path,
    ev: &Evaluation,
    real: &[Array2<f64>],
    generated: &[Array2<f64>],
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_json(&dir.join("evaluation.json"), ev)?;
    write_json(&dir.join("summary.json"), &ev.summary)?;
    let figures = write_figures(dir, "", ev, real, generated, 8)?;
    let title = format!(
        "astrodiff evaluation: {} vs {}",
        ev.generated.label, ev.real.label
    );
    render_html(
        dir,
        &ReportInput {
            title,
            run: None,
            sections: vec![Section {
                title: "Summary".into(),
                evaluation: ev,
                figures,
                sampling: None,
            }],
            training_curve: None,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    const N: usize = 64;
    const L: f64 = 25.0;

    /// P(k) ∝ k⁻² exp(−(kR)²) with R = 2 pixels, normalised so the field variance is `var`.
    fn pk_model(var: f64) -> impl Fn(f64) -> f64 + Sync + Copy {
        let r = 2.0 * L / N as f64;
        let shape = move |k: f64| k.powi(-2) * (-(k * r).powi(2)).exp();
        // σ² = Σ_{k≠0} P(k) / L² over all N² modes.
        let kf = 2.0 * PI / L;
        let mut s = 0.0;
        for a in 0..N {
            for b in 0..N {
                let (x, y) = (
                    stats::power_spectrum::wavenumber(a, N),
                    stats::power_spectrum::wavenumber(b, N),
                );
                if x != 0 || y != 0 {
                    s += shape(kf * ((x * x + y * y) as f64).sqrt());
                }
            }
        }
        let amp = var * L * L / s;
        move |k: f64| amp * shape(k)
    }

    fn lognormal_set(n: usize, seed0: u64) -> Vec<Array2<f64>> {
        (0..n as u64)
            .map(|i| sim::lognormal_field_2d(N, L, pk_model(1.0), seed0 + i))
            .collect()
    }

    fn gaussian_set(n: usize, seed0: u64) -> Vec<Array2<f64>> {
        (0..n as u64)
            .map(|i| sim::gaussian_field_2d(N, L, pk_model(1.0), seed0 + i))
            .collect()
    }

    fn info(label: &str) -> SetInfo {
        SetInfo {
            label: label.into(),
            path: None,
            n_maps: 0,
            side: 0,
        }
    }

    fn run(a: &[Array2<f64>], b: &[Array2<f64>]) -> Evaluation {
        evaluate_sets(
            a,
            b,
            info("real"),
            info("other"),
            &EvalOptions::default(),
            &|| {},
        )
        .unwrap()
    }

    fn row_pass(ev: &Evaluation, stat: &str) -> Option<bool> {
        ev.summary.row(stat).unwrap().pass
    }

    /// Maps of `n_sims` simulations of the demo's suite (its default simulator settings at
    /// 32², seed 0, Latin hypercube over Ω_m and σ_8), ordered by simulation, in log10 units
    /// taken by the evaluation.
    fn demo_suite(n_sims: usize) -> Vec<Array2<f64>> {
        use sim::camels_out::{design, SuiteConfig};
        let sc = sim::SimConfig {
            particles: 32,
            mesh: 64,
            box_size: 25.0,
            steps: 20,
            z_init: 19.0,
            map_res: 32,
            slabs: 5,
            cloud: None,
        };
        let cfg = SuiteConfig::new("Demo", n_sims, 0, sc);
        design(&cfg)
            .iter()
            .flat_map(|e| {
                let p = sim::CosmoParams::with(e.omega_m, e.sigma_8);
                let out = sim::simulate(&sc, p, e.seed, |_| {}).unwrap();
                out.maps
                    .into_iter()
                    .map(|m| m.mapv(|v| v as f64))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn on_the_demos_data_the_gaussian_null_fails_and_other_simulations_pass() {
        // 16 simulations "train" (and fit the null), 16 are held out, as in the demo.
        let maps = demo_suite(32);
        let (train, held) = maps.split_at(16 * 15);
        let opts = EvalOptions {
            transform: Transform::Log10,
            null: Some(NullOptions {
                seed: 3,
                n_fields: Some(240),
                fit: Some((train.to_vec(), info("training maps"))),
            }),
            maps_per_sim: 15,
            n_train: 240,
            ..EvalOptions::default()
        };
        let ev =
            evaluate_sets(held, train, info("held-out"), info("train"), &opts, &|| {}).unwrap();
        // The yardstick carried the training set's term and averaged 32 splits.
        assert_eq!(ev.summary.sizes.n_train, 240);
        assert_eq!(ev.summary.baseline_splits, summary::BASELINE_SPLITS);
        let show = |s: &Summary| serde_json::to_string_pretty(s).unwrap();
        // Real simulations of other cosmologies from the same prior are within sample variance …
        assert_eq!(ev.summary.pass, Some(true), "{}", show(&ev.summary));
        // … the Gaussian null with the training P(k) is not, and the shape rows are what see it.
        let null = ev.gaussian_null.as_ref().unwrap();
        assert_eq!(null.n_fields, 240);
        assert_eq!(null.fitted_on.n_maps, 240);
        assert_eq!(null.summary.pass, Some(false), "{}", show(&null.summary));
        for stat in ["skewness, kurtosis", "PDF of ν", "V0(ν)"] {
            assert_eq!(
                null.summary.row(stat).unwrap().pass,
                Some(false),
                "{stat}: {}",
                show(&null.summary)
            );
        }
        // Its P(k) is the training set's, and the P(k) row says so.
        assert_eq!(
            null.summary.row("P(k)").unwrap().pass,
            Some(true),
            "{}",
            show(&null.summary)
        );
    }

    #[test]
    fn held_out_real_against_more_real_is_within_sample_variance() {
        let ev = run(&lognormal_set(32, 0), &lognormal_set(32, 10_000));
        assert_eq!(
            ev.summary.pass,
            Some(true),
            "{}",
            serde_json::to_string_pretty(&ev.summary).unwrap()
        );
        assert_eq!(ev.summary.verdict, summary::PASS);
    }

    #[test]
    fn gaussian_field_with_the_same_power_spectrum_fails_on_minkowski_functionals() {
        let ev = run(&lognormal_set(32, 0), &gaussian_set(32, 10_000));
        let table = serde_json::to_string_pretty(&ev.summary).unwrap();
        // Same P(k) in expectation: the power spectrum alone cannot tell them apart…
        assert_eq!(row_pass(&ev, "P(k)"), Some(true), "{table}");
        // …but the one-point PDF and the morphology can.
        for stat in ["V0", "V1", "V2", "PDF"] {
            assert_eq!(row_pass(&ev, stat), Some(false), "{stat}: {table}");
        }
        assert_eq!(ev.summary.verdict, summary::FAIL);
    }

    #[test]
    fn wrong_amplitude_fails_on_the_power_spectrum() {
        // Gaussian fields whose P(k) is 1.5× too high everywhere. (Gaussian, not lognormal: the
        // per-map P(k) scatter of σ = 1 lognormal fields is so heavy-tailed that 32 maps cannot
        // pin the amplitude to 50 %, and the rule rightly says so.)
        let other: Vec<Array2<f64>> = gaussian_set(32, 10_000)
            .into_iter()
            .map(|m| m * 1.5f64.sqrt())
            .collect();
        let ev = run(&gaussian_set(32, 0), &other);
        assert_eq!(
            row_pass(&ev, "P(k)"),
            Some(false),
            "{}",
            serde_json::to_string_pretty(&ev.summary).unwrap()
        );
    }

    /// Fields whose mean and amplitude vary from map to map as over a Latin hypercube: map i is
    /// b_i + a_i · ν_i with a_i log-uniform in [0.5, 2], b_i uniform in [−1.5, 1.5] and ν_i a
    /// standardised lognormal field (`skewed`) or a Gaussian one.
    fn scattered_set(n: usize, seed0: u64, skewed: bool) -> Vec<Array2<f64>> {
        (0..n as u64)
            .map(|i| {
                let g = sim::gaussian_field_2d(N, L, pk_model(1.0), seed0 + i);
                let x = if skewed {
                    g.mapv(|v| (0.8 * v).exp())
                } else {
                    g
                };
                let (nu, _) = stats::standardize(x.view()).unwrap();
                let u = ((seed0 + i).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64
                    / (1u64 << 53) as f64;
                let v = ((seed0 + i).wrapping_mul(0xD1B5_4A32_D192_ED03) >> 11) as f64
                    / (1u64 << 53) as f64;
                nu * 2f64.powf(2.0 * u - 1.0) + 3.0 * (v - 0.5)
            })
            .collect()
    }

    #[test]
    fn shape_rows_see_a_gaussian_field_that_mean_and_amplitude_scatter_hide() {
        let real = scattered_set(32, 0, true);
        let ev = run(&real, &scattered_set(32, 5_000, false));
        let table = serde_json::to_string_pretty(&ev.summary).unwrap();
        // In absolute thresholds the per-map scatter swamps the morphology: V0 and V1 pass…
        assert_eq!(row_pass(&ev, "V0"), Some(true), "{table}");
        assert_eq!(row_pass(&ev, "V1"), Some(true), "{table}");
        let shape = ev.shape.as_ref().unwrap();
        // Skewness: the lognormal-shaped maps are skewed, the Gaussian ones are not.
        assert!(shape.moments_real.mean[0] > 1.0 && shape.moments_generated.mean[0].abs() < 0.2);
        // …while in ν every shape row fails.
        for stat in summary::SHAPE_ROWS {
            assert_eq!(row_pass(&ev, stat), Some(false), "{stat}: {table}");
        }
        assert_eq!(ev.summary.pass, Some(false));
        // More maps of the same kind pass every row, the shape rows included.
        let ev = run(&real, &scattered_set(32, 9_000, true));
        let table = serde_json::to_string_pretty(&ev.summary).unwrap();
        assert_eq!(ev.summary.rows.len(), 10);
        assert_eq!(ev.summary.pass, Some(true), "{table}");
    }

    #[test]
    fn too_few_maps_give_no_verdict_but_a_well_formed_table() {
        let ev = run(&lognormal_set(3, 0), &lognormal_set(5, 100));
        assert_eq!(ev.summary.pass, None);
        assert_eq!(ev.summary.verdict, summary::NO_VERDICT);
        assert_eq!(ev.summary.rows.len(), 10);
    }

    #[test]
    fn report_embeds_every_figure_and_the_table() {
        let d = tempfile::tempdir().unwrap();
        let real = lognormal_set(8, 0);
        let gen = lognormal_set(8, 50);
        let ev = run(&real, &gen);
        let html = write_evaluation_report(d.path(), &ev, &real, &gen).unwrap();
        let text = std::fs::read_to_string(html).unwrap();
        for f in [
            "grid_real.png",
            "grid_generated.png",
            "pk.png",
            "pdf.png",
            "minkowski.png",
        ] {
            assert!(d.path().join(f).exists(), "{f}");
            assert!(
                text.contains(&format!("alt=\"{f}\" src=\"data:image/png;base64,iVBOR")),
                "{f} not embedded"
            );
        }
        assert!(text.contains("<table class=\"summary\">"));
        // Statistic, verdict and null-verdict cells span the metrics of each of the 5 absolute
        // and 5 shape statistics.
        assert_eq!(text.matches("<td rowspan").count(), 3 * 10);
        // The Gaussian null is judged and said in words, beside the table.
        assert!(text.contains("<th>Gaussian null vs real</th>"));
        assert!(
            text.contains("Gaussian null: <b>"),
            "null paragraph missing"
        );
        // No reference to any outside file.
        assert!(!text.contains("src=\"http") && !text.contains("<link"));
        let back: Evaluation = read_json(&d.path().join("evaluation.json")).unwrap();
        assert_eq!(back.summary, ev.summary);
    }

    #[test]
    fn mismatched_map_sides_are_refused_with_the_set_named() {
        let a = lognormal_set(4, 0);
        let b = vec![Array2::<f64>::ones((32, 32))];
        let e = evaluate_sets(
            &a,
            &b,
            info("real"),
            info("gen.npy"),
            &EvalOptions::default(),
            &|| {},
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("gen.npy: map 0 is 32×32, expected 64×64"),
            "{e}"
        );
    }
}
