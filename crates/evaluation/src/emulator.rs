//! Judging a conditional emulator per cosmology (issue 13): for one held-out simulation, the
//! fields generated at its parameters against its own maps, by the power spectrum, the pixel
//! PDF and the Minkowski functionals.
//!
//! Per-map statistics (one row of numbers per map; [`compare_simulation`] takes any of them):
//! * **P(k)**: ln P(k) of δ = ρ/ρ̄ − 1, bins up to k_Nyq ([`crate::inference::PkStatistic`]
//!   with no merging).
//! * **PDF** ([`pdf_row`]): the density of log10 ρ in [`PDF_BINS`] uniform bins between the
//!   1st and 99th percentiles of the simulation's own real pixels ([`SimulationLevels`]), the
//!   density over all of a map's pixels (`stats::Histogram::pdf_over_total`).
//! * **Minkowski functionals** ([`mf_row`]): V0, V1, V2 of log10 ρ at [`MF_THRESHOLDS`]
//!   thresholds uniform between the same percentiles (`stats::ensemble::percentile_thresholds`,
//!   the rule of `stats`/`evaluate`), periodic boundary, concatenated V0 then V1 then V2.
//!   Levels from each simulation's own maps put every cosmology's bins where its pixels are.
//!
//! Conventions of the comparison, per simulation and statistic:
//! * **Reduced χ² of the mean** (the Diffusion-HMC follow-up's per-simulation statistic, here
//!   with both sets' sample variance): χ² = (1/n_b) Σ_b (m_G − m_R)² / (s²_R/n_R + s²_G/n_G),
//!   m and s² the mean and (n − 1)-variance of a set's ln P in bin b. Near 1 when the generated
//!   maps follow the simulation's distribution; bins are correlated, so its spread is wider
//!   than a χ²_{n_b}/n_b.
//! * **Leave-one-out χ² of one map** against a set B: (1/n_b) Σ_b (x_b − m_B)² / s²_B; the three
//!   distributions are true–true (each real map against the other real maps), generated–true and
//!   generated–generated (each generated map against the other generated maps). An emulator
//!   whose fields scatter like the simulation's has the three distributions alike.
//! * **Ratio**: exp(m_G − m_R) per bin, the generated/true P(k) ratio (geometric means); for
//!   the PDF and MF rows it is exp of the difference of the means, so read it for P(k) only.
//! * **Empty bins**: a bin where neither set varies (a PDF bin or a threshold no map reaches,
//!   e.g. V2 at an extreme level) is left out of every χ², as is, in a leave-one-out χ², a bin
//!   where the set compared against does not vary; `bins` counts the bins the reduced χ² used.

use crate::error::{Error, Result};
use ndarray::ArrayView2;
use serde::Serialize;
use stats::ensemble::percentile_thresholds;
use stats::MfConvention;

/// Bins of the pixel PDF per simulation.
pub const PDF_BINS: usize = 12;
/// Thresholds of the Minkowski functionals per simulation (× 3 functionals in a row).
pub const MF_THRESHOLDS: usize = 8;

/// The PDF edges and MF thresholds of one simulation, from its real log10 ρ maps (module docs).
#[derive(Clone, Debug, Serialize)]
pub struct SimulationLevels {
    pub edges: Vec<f64>,
    pub thresholds: Vec<f64>,
}

impl SimulationLevels {
    /// The levels of the maps `real` (log10 ρ, finite).
    pub fn of(real: &[ArrayView2<f64>]) -> Result<Self> {
        let mut px: Vec<f64> = real.iter().flat_map(|m| m.iter().copied()).collect();
        if px.is_empty() {
            return Err(Error::Invalid("per-simulation levels: no real maps".into()));
        }
        px.sort_by(f64::total_cmp);
        let edges = percentile_thresholds(&px, PDF_BINS + 1)?;
        let thresholds = percentile_thresholds(&px, MF_THRESHOLDS)?;
        Ok(SimulationLevels { edges, thresholds })
    }
}

/// One map's PDF row (log10 ρ; module docs).
pub fn pdf_row(map: ArrayView2<f64>, levels: &SimulationLevels) -> Result<Vec<f64>> {
    Ok(stats::histogram::histogram(map, &levels.edges)?.pdf_over_total())
}

/// One map's Minkowski row: V0, V1, V2 at the thresholds, periodic (log10 ρ; module docs).
pub fn mf_row(map: ArrayView2<f64>, levels: &SimulationLevels) -> Result<Vec<f64>> {
    let m = stats::minkowski::minkowski(map, &levels.thresholds, MfConvention::Periodic)?;
    Ok([m.v0, m.v1, m.v2].concat())
}

/// Mean and (n − 1)-variance of every column of `rows` (n ≥ 2).
fn mean_var(rows: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let n = rows.len() as f64;
    let nb = rows[0].len();
    let mean: Vec<f64> = (0..nb)
        .map(|b| rows.iter().map(|r| r[b]).sum::<f64>() / n)
        .collect();
    let var = (0..nb)
        .map(|b| rows.iter().map(|r| (r[b] - mean[b]).powi(2)).sum::<f64>() / (n - 1.0))
        .collect();
    (mean, var)
}

/// Leave-one-out χ² of `x` against `others` over the bins `used` where `others` vary.
fn loo_chi2(x: &[f64], others: &[Vec<f64>], used: &[usize]) -> f64 {
    let (m, v) = mean_var(others);
    let bins: Vec<usize> = used.iter().copied().filter(|&b| v[b] > 0.0).collect();
    if bins.is_empty() {
        return 0.0;
    }
    bins.iter()
        .map(|&b| (x[b] - m[b]).powi(2) / v[b])
        .sum::<f64>()
        / bins.len() as f64
}

/// The median of `v` (the mean of the middle two for an even count; `v` not empty).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

/// One simulation's comparison by one per-map statistic (module docs).
#[derive(Clone, Debug, Serialize)]
pub struct SimulationComparison {
    pub n_true: usize,
    pub n_generated: usize,
    /// Bins in the reduced χ² (those where a set varies).
    pub bins: usize,
    pub reduced_chi2: f64,
    /// Generated/true P(k) per bin (exp of the difference of the row means).
    pub ratio: Vec<f64>,
    pub loo_true_true: Vec<f64>,
    pub loo_generated_true: Vec<f64>,
    pub loo_generated_generated: Vec<f64>,
    /// Medians of the three leave-one-out distributions.
    pub median_true_true: f64,
    pub median_generated_true: f64,
    pub median_generated_generated: f64,
}

/// Compares the per-map rows (ln P(k), PDF or MF) of a simulation's real maps with those of the
/// maps generated at its parameters (each set ≥ 3 maps, rows of equal length).
pub fn compare_simulation(
    real: &[Vec<f64>],
    generated: &[Vec<f64>],
) -> Result<SimulationComparison> {
    if real.len() < 3 || generated.len() < 3 {
        return Err(Error::Invalid(format!(
            "per-simulation comparison: {} real and {} generated maps; need at least 3 of each (leave-one-out variances)",
            real.len(),
            generated.len()
        )));
    }
    let nb = real[0].len();
    if real.iter().chain(generated).any(|r| r.len() != nb) {
        return Err(Error::Invalid(
            "per-simulation comparison: rows of different lengths".into(),
        ));
    }
    let (mr, vr) = mean_var(real);
    let (mg, vg) = mean_var(generated);
    let (nr, ng) = (real.len() as f64, generated.len() as f64);
    let used: Vec<usize> = (0..nb).filter(|&b| vr[b] / nr + vg[b] / ng > 0.0).collect();
    if used.is_empty() {
        return Err(Error::Invalid(
            "per-simulation comparison: no bin varies in either set".into(),
        ));
    }
    let reduced_chi2 = used
        .iter()
        .map(|&b| (mg[b] - mr[b]).powi(2) / (vr[b] / nr + vg[b] / ng))
        .sum::<f64>()
        / used.len() as f64;
    let without = |set: &[Vec<f64>], i: usize| -> Vec<Vec<f64>> {
        set.iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, r)| r.clone())
            .collect()
    };
    let tt: Vec<f64> = (0..real.len())
        .map(|i| loo_chi2(&real[i], &without(real, i), &used))
        .collect();
    let gt: Vec<f64> = generated.iter().map(|g| loo_chi2(g, real, &used)).collect();
    let gg: Vec<f64> = (0..generated.len())
        .map(|i| loo_chi2(&generated[i], &without(generated, i), &used))
        .collect();
    Ok(SimulationComparison {
        n_true: real.len(),
        n_generated: generated.len(),
        bins: used.len(),
        reduced_chi2,
        ratio: (0..nb).map(|b| (mg[b] - mr[b]).exp()).collect(),
        median_true_true: median(&tt),
        median_generated_true: median(&gt),
        median_generated_generated: median(&gg),
        loo_true_true: tt,
        loo_generated_true: gt,
        loo_generated_generated: gg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};

    fn draws(rng: &mut rand_chacha::ChaCha8Rng, n: usize, shift: f64) -> Vec<Vec<f64>> {
        (0..n)
            .map(|_| {
                (0..8)
                    .map(|b| {
                        let e: f64 = StandardNormal.sample(rng);
                        1.0 + 0.1 * b as f64 + 0.2 * e + shift
                    })
                    .collect()
            })
            .collect()
    }

    fn white_maps(rng: &mut rand_chacha::ChaCha8Rng, n: usize, sd: f64) -> Vec<Array2<f64>> {
        (0..n)
            .map(|_| {
                Array2::from_shape_simple_fn((32, 32), || {
                    let e: f64 = StandardNormal.sample(rng);
                    sd * e
                })
            })
            .collect()
    }

    /// White-noise log-fields, 15 maps of 32² a side: generated maps of the real maps' width
    /// give PDF and Minkowski χ² of order 1 (every bin used); maps 20 % wider (a too-wide pixel
    /// PDF, the demo's failure in issue 12) are flagged by both, at the real maps' own levels.
    #[test]
    fn pdf_and_minkowski_rows_flag_a_too_wide_field_at_the_simulations_levels() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let real = white_maps(&mut rng, 15, 0.3);
        let same = white_maps(&mut rng, 15, 0.3);
        let wide = white_maps(&mut rng, 15, 0.36);
        let views: Vec<_> = real.iter().map(|m| m.view()).collect();
        let levels = SimulationLevels::of(&views).unwrap();
        assert_eq!(levels.edges.len(), PDF_BINS + 1);
        assert_eq!(levels.thresholds.len(), MF_THRESHOLDS);
        // The outer edges are the real pixels' 1st and 99th percentiles: ±2.33 σ.
        assert!(
            (levels.edges[0] + 2.33 * 0.3).abs() < 0.03,
            "{:?}",
            levels.edges
        );
        type Row = fn(ArrayView2<f64>, &SimulationLevels) -> Result<Vec<f64>>;
        let rows = |maps: &[Array2<f64>], f: Row| {
            maps.iter()
                .map(|m| f(m.view(), &levels).unwrap())
                .collect::<Vec<_>>()
        };
        let cases: [(&str, Row, usize); 2] = [
            ("PDF", pdf_row, PDF_BINS),
            ("MF", mf_row, 3 * MF_THRESHOLDS),
        ];
        for (name, f, len) in cases {
            let r = rows(&real, f);
            assert_eq!(r[0].len(), len);
            let ok = compare_simulation(&r, &rows(&same, f)).unwrap();
            let bad = compare_simulation(&r, &rows(&wide, f)).unwrap();
            assert_eq!(ok.bins, len, "{name}");
            assert!(
                ok.reduced_chi2 < 2.5,
                "{name}: same width χ² {}",
                ok.reduced_chi2
            );
            assert!(
                bad.reduced_chi2 > 5.0,
                "{name}: wider χ² {}",
                bad.reduced_chi2
            );
        }
        assert!(SimulationLevels::of(&[]).is_err());
    }

    /// Same distribution: the per-simulation χ² averages near 1 and the three leave-one-out
    /// medians agree; a generated set offset by 1.5 per-map σ is flagged by both.
    #[test]
    fn the_per_simulation_statistics_tell_a_shifted_emulator_from_a_right_one() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let (mut chi, mut tt, mut gt) = (0.0, 0.0, 0.0);
        let sims = 200;
        for _ in 0..sims {
            let real = draws(&mut rng, 15, 0.0);
            let gen = draws(&mut rng, 15, 0.0);
            let c = compare_simulation(&real, &gen).unwrap();
            chi += c.reduced_chi2 / sims as f64;
            tt += c.median_true_true / sims as f64;
            gt += c.median_generated_true / sims as f64;
            assert_eq!(c.loo_true_true.len(), 15);
        }
        // E[χ²] with estimated variances is a little above 1 (≈ 1.08 for 15 + 15 maps).
        assert!((chi - 1.08).abs() < 0.15, "mean reduced χ² {chi}");
        assert!((gt / tt - 1.0).abs() < 0.1, "medians {tt} and {gt}");

        let real = draws(&mut rng, 15, 0.0);
        let shifted = draws(&mut rng, 15, 0.3);
        let c = compare_simulation(&real, &shifted).unwrap();
        assert!(c.reduced_chi2 > 3.0, "{}", c.reduced_chi2);
        assert!(c.median_generated_true > 1.5 * c.median_true_true, "{c:?}");
        assert!(c.ratio.iter().all(|r| *r > 1.0), "{:?}", c.ratio);
        assert!(compare_simulation(&real[..2], &shifted).is_err());
    }
}
