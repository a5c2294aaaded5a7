//! Evaluation of a generated set against a held-out real set: [`evaluate_sets`] measures P(k),
//! the pixel PDF and V0/V1/V2 of every map with the `stats` crate (the same estimators
//! `astrodiff stats`/`compare` use), summarises each set ([`stats::Ensemble`]: mean, σ, 5–95 %
//! band per bin), compares generated vs real and the real-vs-real split baseline
//! ([`stats::compare`], [`stats::pixel_distance`]), judges the shape statistics of the per-map
//! standardised fields, and builds the verdict table ([`crate::verdict::summarize`]). Beside
//! the generated set it judges a Gaussian null ([`sim::GaussianNull`]) by the same rule.
//! The rule and its calibration: docs/report.md.

use crate::error::{bail, Context, Error, Result};
use crate::measure::{self, OwnedMaps};
use crate::verdict::{self as summary, Sizes, Summary, SummaryInput};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use stats::ensemble::{Band, Comparison, Ensemble, PixelDistance, StatComparison};
use stats::{MfConvention, StatsConfig, Transform};
use std::path::Path;

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

impl SetInfo {
    /// The absolute path a file is recorded by (the path as given if it cannot be resolved).
    pub fn absolute_path(path: &Path) -> String {
        std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string()
    }

    /// A set read from `path`: labelled by its file name and recorded by its absolute path, as
    /// `astrodiff evaluate` names the Gaussian null's `--null-from` maps.
    pub fn of_file(path: &Path, n_maps: usize, side: usize) -> SetInfo {
        SetInfo {
            label: path.file_name().map_or_else(
                || path.display().to_string(),
                |f| f.to_string_lossy().into_owned(),
            ),
            path: Some(Self::absolute_path(path)),
            n_maps,
            side,
        }
    }
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

/// Loads the maps of a `.npy`/`.npz`/FITS stack (or single map) as f64: all of them, or the
/// first `max`.
pub fn load_maps(path: &Path, max: Option<usize>) -> Result<Vec<Array2<f64>>> {
    let stack = fields::MapStack::open(path)?;
    if stack.is_empty() {
        bail!("{}: the stack holds no maps", path.display());
    }
    let n = max.unwrap_or(usize::MAX).min(stack.len());
    if n == 0 {
        bail!(
            "{}: at most 0 maps asked for; give at least 1",
            path.display()
        );
    }
    Ok((0..n).map(|i| stack.map(i)).collect())
}

pub(crate) fn transformed(
    maps: &[Array2<f64>],
    t: Transform,
    what: &str,
) -> Result<Vec<Array2<f64>>> {
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
    if opts.maps_per_sim == 0 {
        bail!("maps per simulation must be at least 1 (1 for independent maps)");
    }
    if let Some(NullOptions {
        n_fields: Some(0), ..
    }) = opts.null
    {
        bail!("the Gaussian null needs at least one field (n_fields = 0)");
    }
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
        None => default_edges(&tr, &tg, opts.n_bins)?,
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
        .map_err(|e| Error::Invalid(format!("{what}: {e}")))
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
        Ensemble::from_maps(m).map_err(|e| Error::Invalid(format!("{what}: {e}")))
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
fn owned<'a>(name: &str, maps: &'a [Array2<f64>]) -> OwnedMaps<'a> {
    OwnedMaps {
        name: name.to_string(),
        maps,
    }
}

/// The default edges over both (transformed) sets: the rule of [`crate::measure`].
fn default_edges(
    real: &[Array2<f64>],
    generated: &[Array2<f64>],
    n_bins: usize,
) -> Result<Vec<f64>> {
    let (r, g) = (owned("real set", real), owned("generated set", generated));
    measure::default_edges(&[&r, &g], Transform::Identity, n_bins)
}

/// The default MF thresholds from the (transformed) real maps: the rule of [`crate::measure`].
fn default_thresholds(real: &[Array2<f64>], n: usize) -> Result<Vec<f64>> {
    measure::default_thresholds(&owned("real set", real), Transform::Identity, n)
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
    let edges_nu = default_edges(&nr, &ng, opts.n_bins)?;
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
        .map_err(|e| Error::Invalid(format!("standardised fields: {e}")))
    };
    let (sr, sg) = (measure(&nr)?, measure(&ng)?);
    let ens =
        |m: &[stats::MapStats]| Ensemble::from_maps(m).map_err(|e| Error::Invalid(e.to_string()));
    let band = |rows: &[[f64; 2]]| {
        let r: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        Band::from_rows(&r).map_err(|e| Error::Invalid(e.to_string()))
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
