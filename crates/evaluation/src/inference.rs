//! Judging parameter posteriors over held-out simulations (issue 13), and the standard baseline
//! they are judged beside: a Gaussian likelihood of the binned power spectrum.
//!
//! **P(k) baseline** ([`PkLikelihood`]), conventions:
//! * Statistic: for the K maps of one estimate, the mean P(k) of δ = ρ/ρ̄ − 1 of each map
//!   (`stats::power_spectrum`, Pylians' integer bins, docs/conventions.md), bins 1..=N/2
//!   (k ≤ k_Nyq), consecutive bins merged in groups of `merge` (mode-weighted), then ln.
//! * Mean: a quadratic polynomial in the box-normalised u = 2(θ − lo)/(hi − lo) − 1 (all
//!   monomials of degree ≤ 2), fitted by least squares to the training simulations, each
//!   summarised by its first K maps exactly as an estimate is.
//! * Covariance: of those simulations' residuals from the fit, over ν = n_sims − n_coef degrees
//!   of freedom; its inverse is scaled by Hartlap et al. (2007)'s (ν − p − 1)/ν for p bins. So
//!   it is the scatter of the statistic of K maps of one box (their mutual correlation
//!   included), not a per-map covariance divided by K.
//! * log L(θ) = −½ (d − μ(θ))ᵀ C⁻¹ (d − μ(θ)); C does not depend on θ.
//!
//! **Calibration** ([`calibration`]): for each parameter over the estimates, the bias (mean of
//! posterior mean − truth), mean |z| with z = (mean − truth)/std, and the fraction of truths
//! inside the central 68 % and 95 % intervals, with its binomial standard error at the nominal
//! rate (√(p(1 − p)/n)). A calibrated posterior has coverage at the nominal rates and mean |z|
//! ≈ 0.80 (√(2/π)). Beside them, rank statistics: the PIT u = P(θ ≤ truth) of every posterior,
//! the coverage of central intervals at every level from it ([`COVERAGE_LEVELS`]), and the
//! Kolmogorov–Smirnov distance of the u from uniform.

use crate::error::{Error, Result};
use ndarray::ArrayView2;
use serde::Serialize;
use stats::posterior::Marginal;
use stats::power_spectrum::PowerSpectrumPlan;

/// Monomials of degree ≤ 2 in u (1, u_i, u_i u_j for i ≤ j).
fn features(u: &[f64]) -> Vec<f64> {
    let mut f = vec![1.0];
    f.extend_from_slice(u);
    for i in 0..u.len() {
        for j in i..u.len() {
            f.push(u[i] * u[j]);
        }
    }
    f
}

/// Cholesky factor L (row-major, lower) of a symmetric positive definite matrix, or None.
/// Hand-written: the matrices here are at most a few tens of rows, and a linear-algebra crate
/// would add its build time to every CI run for two small solves.
pub(crate) fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = a[i * n + j] - (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum::<f64>();
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Solves (L Lᵀ) x = b.
pub(crate) fn cholesky_solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut y = b.to_vec();
    for i in 0..n {
        for k in 0..i {
            y[i] -= l[i * n + k] * y[k];
        }
        y[i] /= l[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            y[i] -= l[k * n + i] * y[k];
        }
        y[i] /= l[i * n + i];
    }
    y
}

/// The binned ln P(k) statistic of a group of maps (module docs).
pub struct PkStatistic {
    plan: PowerSpectrumPlan,
    merge: usize,
    n_bins: usize,
}

impl PkStatistic {
    /// For maps of side `n` and box `box_size` (Mpc/h), bins merged in groups of `merge`.
    pub fn new(n: usize, box_size: f64, merge: usize) -> Result<Self> {
        if merge == 0 {
            return Err(Error::Invalid("P(k) baseline: merge = 0 bins".into()));
        }
        let plan = PowerSpectrumPlan::new(n, box_size)?;
        let n_bins = (n / 2).div_ceil(merge);
        if n_bins < 2 {
            return Err(Error::Invalid(format!(
                "P(k) baseline: maps of {n}² give fewer than 2 bins"
            )));
        }
        Ok(Self {
            plan,
            merge,
            n_bins,
        })
    }

    /// Number of (merged) bins.
    pub fn len(&self) -> usize {
        self.n_bins
    }

    /// Always false: at least 2 bins (checked in `new`).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Mean |k| of each merged bin, h/Mpc (mode-weighted).
    pub fn k(&self) -> Vec<f64> {
        let probe = ndarray::Array2::<f64>::zeros((self.plan.side(), self.plan.side()));
        let ps = self
            .plan
            .compute(probe.view())
            .expect("a zero map is valid");
        self.merged(&ps.k, &ps.nmodes)
    }

    fn merged(&self, v: &[f64], w: &[f64]) -> Vec<f64> {
        let top = self.plan.side() / 2;
        (0..self.n_bins)
            .map(|b| {
                let r = b * self.merge..((b + 1) * self.merge).min(top);
                let (mut s, mut ws) = (0.0, 0.0);
                for i in r {
                    s += v[i] * w[i];
                    ws += w[i];
                }
                s / ws
            })
            .collect()
    }

    /// ln of the mean P(k) of δ = ρ/ρ̄ − 1 over `maps` (physical, positive density).
    pub fn of_maps(&self, maps: &[ArrayView2<f64>]) -> Result<Vec<f64>> {
        if maps.is_empty() {
            return Err(Error::Invalid("P(k) baseline: no maps".into()));
        }
        let mut sum: Option<(Vec<f64>, Vec<f64>)> = None;
        for m in maps {
            let mean = m.mean().unwrap_or(0.0);
            if !(mean > 0.0 && mean.is_finite()) {
                return Err(Error::Invalid(format!(
                    "P(k) baseline: a map has mean {mean}; δ = ρ/ρ̄ − 1 needs a positive density"
                )));
            }
            let delta = m.mapv(|v| v / mean - 1.0);
            let ps = self.plan.compute(delta.view())?;
            match &mut sum {
                None => sum = Some((ps.pk.clone(), ps.nmodes.clone())),
                Some((s, _)) => s.iter_mut().zip(&ps.pk).for_each(|(a, b)| *a += b),
            }
        }
        let (s, w) = sum.expect("at least one map");
        let mean: Vec<f64> = s.iter().map(|v| v / maps.len() as f64).collect();
        Ok(self.merged(&mean, &w).iter().map(|v| v.ln()).collect())
    }
}

/// The Gaussian likelihood of the binned ln P(k) (module docs), fitted to training simulations.
#[derive(Clone, Debug, Serialize)]
pub struct PkLikelihood {
    /// Box of every parameter (lo, hi), for the normalisation u.
    pub bounds: Vec<(f64, f64)>,
    /// Fit coefficients, [n_coef][n_bins].
    pub coef: Vec<Vec<f64>>,
    /// Residual covariance [p × p], row-major, before the Hartlap factor.
    pub covariance: Vec<f64>,
    pub hartlap: f64,
    pub n_sims: usize,
    #[serde(skip)]
    chol: Vec<f64>,
}

impl PkLikelihood {
    /// Fits the mean and covariance to training simulations: `theta[s]` (physical) and the
    /// statistic `d[s]` of each (as [`PkStatistic::of_maps`] gives it).
    pub fn fit(theta: &[Vec<f64>], d: &[Vec<f64>], bounds: &[(f64, f64)]) -> Result<Self> {
        let n_s = theta.len();
        if n_s != d.len() || n_s == 0 {
            return Err(Error::Invalid(format!(
                "P(k) baseline: {} parameter rows for {} statistics",
                n_s,
                d.len()
            )));
        }
        let p = d[0].len();
        let u = |t: &[f64]| -> Vec<f64> {
            t.iter()
                .zip(bounds)
                .map(|(v, (lo, hi))| 2.0 * (v - lo) / (hi - lo) - 1.0)
                .collect()
        };
        let x: Vec<Vec<f64>> = theta.iter().map(|t| features(&u(t))).collect();
        let n_c = x[0].len();
        let nu = n_s as f64 - n_c as f64;
        if nu < p as f64 + 2.0 {
            return Err(Error::Invalid(format!(
                "P(k) baseline: {n_s} training simulations for a {n_c}-term fit and {p} bins; \
                 need at least {} (Hartlap: ν = n − n_coef > p + 1)",
                n_c + p + 2
            )));
        }
        // Normal equations, one right-hand side per bin.
        let mut xtx = vec![0.0; n_c * n_c];
        for r in &x {
            for i in 0..n_c {
                for j in 0..n_c {
                    xtx[i * n_c + j] += r[i] * r[j];
                }
            }
        }
        let l = cholesky(&xtx, n_c).ok_or_else(|| {
            Error::Invalid(
                "P(k) baseline: the training parameters do not span a quadratic fit".into(),
            )
        })?;
        let mut coef = vec![vec![0.0; p]; n_c];
        for b in 0..p {
            let xty: Vec<f64> = (0..n_c)
                .map(|i| x.iter().zip(d).map(|(r, ds)| r[i] * ds[b]).sum())
                .collect();
            for (i, c) in cholesky_solve(&l, n_c, &xty).into_iter().enumerate() {
                coef[i][b] = c;
            }
        }
        let mut cov = vec![0.0; p * p];
        for (r, ds) in x.iter().zip(d) {
            let res: Vec<f64> = (0..p)
                .map(|b| ds[b] - (0..n_c).map(|i| r[i] * coef[i][b]).sum::<f64>())
                .collect();
            for i in 0..p {
                for j in 0..p {
                    cov[i * p + j] += res[i] * res[j] / nu;
                }
            }
        }
        let chol = cholesky(&cov, p).ok_or_else(|| {
            Error::Invalid("P(k) baseline: the residual covariance is singular".into())
        })?;
        Ok(Self {
            bounds: bounds.to_vec(),
            coef,
            covariance: cov,
            hartlap: (nu - p as f64 - 1.0) / nu,
            n_sims: n_s,
            chol,
        })
    }

    /// The fitted mean statistic at θ (physical).
    pub fn mean(&self, theta: &[f64]) -> Vec<f64> {
        let u: Vec<f64> = theta
            .iter()
            .zip(&self.bounds)
            .map(|(v, (lo, hi))| 2.0 * (v - lo) / (hi - lo) - 1.0)
            .collect();
        let f = features(&u);
        let p = self.coef[0].len();
        (0..p)
            .map(|b| f.iter().zip(&self.coef).map(|(fi, c)| fi * c[b]).sum())
            .collect()
    }

    /// log L(θ) of the statistic `d`, up to a θ-independent constant.
    pub fn log_likelihood(&self, d: &[f64], theta: &[f64]) -> f64 {
        let p = d.len();
        let r: Vec<f64> = d.iter().zip(self.mean(theta)).map(|(a, b)| a - b).collect();
        let w = cholesky_solve(&self.chol, p, &r);
        -0.5 * self.hartlap * r.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>()
    }
}

/// How one parameter's posteriors fare against the truths (module docs).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Calibration {
    pub name: String,
    pub n: usize,
    pub bias: f64,
    pub mean_abs_z: f64,
    pub mean_std: f64,
    pub coverage68: f64,
    pub coverage95: f64,
    /// Binomial standard errors of the two coverages at their nominal rates.
    pub coverage68_se: f64,
    pub coverage95_se: f64,
    /// The probability integral transform of every estimate, u = P(θ ≤ truth) under its
    /// posterior (uniform on [0, 1] for a calibrated one).
    pub pit: Vec<f64>,
    /// [level, coverage] at the levels of [`COVERAGE_LEVELS`]: the fraction of truths inside the
    /// central interval of that credibility, |u − ½| ≤ level/2 (the rank-statistics curve; on
    /// the diagonal when calibrated, below it when over-confident).
    pub coverage_curve: Vec<[f64; 2]>,
    /// Kolmogorov–Smirnov distance of the PITs from the uniform distribution, and its 5 %
    /// critical value (asymptotic, 1.358/√n; the exact one at n = 20 is 0.294).
    pub pit_ks: f64,
    pub pit_ks_crit05: f64,
}

/// Credibility levels of [`Calibration::coverage_curve`]. The 68 % and 95 % levels are those of the
/// marginals' [q16, q84] and [q025, q975], so the curve's entries there are the coverage columns.
pub const COVERAGE_LEVELS: [f64; 11] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.68, 0.8, 0.9, 0.95, 0.99];

/// The calibration of `marginals` (one per estimate) against `truths`, with `pit` the CDF of
/// each posterior at its truth (`stats::posterior::GridPosterior::cdf_with_noise`).
pub fn calibration(
    name: &str,
    truths: &[f64],
    marginals: &[&Marginal],
    pit: &[f64],
) -> Result<Calibration> {
    let n = truths.len();
    if n == 0 || n != marginals.len() || n != pit.len() {
        return Err(Error::Invalid(format!(
            "calibration of {name}: {n} truths for {} posteriors and {} PIT values",
            marginals.len(),
            pit.len()
        )));
    }
    if let Some(u) = pit.iter().find(|u| !(0.0..=1.0).contains(*u)) {
        return Err(Error::Invalid(format!(
            "calibration of {name}: PIT value {u} is not a probability"
        )));
    }
    let mut sorted = pit.to_vec();
    sorted.sort_by(f64::total_cmp);
    let pit_ks = sorted
        .iter()
        .enumerate()
        .map(|(i, u)| (u - i as f64 / n as f64).max((i + 1) as f64 / n as f64 - u))
        .fold(0.0, f64::max);
    let coverage_curve = COVERAGE_LEVELS
        .iter()
        .map(|&l| {
            let inside = pit.iter().filter(|u| (*u - 0.5).abs() <= l / 2.0).count();
            [l, inside as f64 / n as f64]
        })
        .collect();
    let nf = n as f64;
    let (mut bias, mut z, mut sd, mut c68, mut c95) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (&t, m) in truths.iter().zip(marginals) {
        bias += (m.mean - t) / nf;
        z += ((m.mean - t) / m.std).abs() / nf;
        sd += m.std / nf;
        c68 += f64::from(u8::from(m.q16 <= t && t <= m.q84)) / nf;
        c95 += f64::from(u8::from(m.q025 <= t && t <= m.q975)) / nf;
    }
    Ok(Calibration {
        name: name.to_string(),
        n,
        bias,
        mean_abs_z: z,
        mean_std: sd,
        coverage68: c68,
        coverage95: c95,
        coverage68_se: (0.68 * 0.32 / nf).sqrt(),
        coverage95_se: (0.95 * 0.05 / nf).sqrt(),
        pit: pit.to_vec(),
        coverage_curve,
        pit_ks,
        pit_ks_crit05: 1.358 / nf.sqrt(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};

    #[test]
    fn cholesky_solves_a_known_system() {
        let a = [4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let l = cholesky(&a, 3).unwrap();
        let x = cholesky_solve(&l, 3, &[1.0, -2.0, 0.5]);
        for i in 0..3 {
            let ax: f64 = (0..3).map(|j| a[i * 3 + j] * x[j]).sum();
            assert!((ax - [1.0, -2.0, 0.5][i]).abs() < 1e-12);
        }
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none(), "indefinite");
    }

    /// Data from a known quadratic mean and covariance: the fit recovers the mean, and the
    /// likelihood's grid posterior covers the truth at its nominal rate over many draws.
    #[test]
    fn the_pk_likelihood_recovers_a_quadratic_mean_and_covers_the_truth() {
        let bounds = [(0.1, 0.5), (0.6, 1.0)];
        let truth_mean = |t: &[f64]| -> Vec<f64> {
            (0..4)
                .map(|b| 1.0 + b as f64 * t[0] - 2.0 * t[1] * t[1] + 0.3 * t[0] * t[1] * b as f64)
                .collect()
        };
        let sig = [0.05, 0.04, 0.06, 0.05];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut noisy = |t: &[f64]| -> Vec<f64> {
            truth_mean(t)
                .iter()
                .zip(sig)
                .map(|(m, s)| {
                    let e: f64 = StandardNormal.sample(&mut rng);
                    m + s * e
                })
                .collect()
        };
        let n_train = 200;
        let theta: Vec<Vec<f64>> = (0..n_train)
            .map(|i| {
                let a = (i as f64 * 0.618034) % 1.0;
                let b = (i as f64 * 0.754878) % 1.0;
                vec![0.1 + 0.4 * a, 0.6 + 0.4 * b]
            })
            .collect();
        let d: Vec<Vec<f64>> = theta.iter().map(|t| noisy(t)).collect();
        let lk = PkLikelihood::fit(&theta, &d, &bounds).unwrap();
        let m = lk.mean(&[0.3, 0.8]);
        for (b, (got, want)) in m.iter().zip(truth_mean(&[0.3, 0.8])).enumerate() {
            assert!((got - want).abs() < 0.02, "bin {b}: {got} vs {want}");
        }
        for (b, s) in sig.iter().enumerate() {
            let c = lk.covariance[b * 4 + b];
            assert!((c / (s * s) - 1.0).abs() < 0.3, "variance of bin {b}: {c}");
        }
        // Coverage over 200 test draws of one truth on a 41² grid.
        let axes: Vec<Vec<f64>> = bounds
            .iter()
            .map(|(lo, hi)| (0..41).map(|i| lo + (hi - lo) * i as f64 / 40.0).collect())
            .collect();
        let nodes = stats::posterior::grid_points(&axes);
        let truth = [0.27, 0.83];
        let (mut marginals, mut pits) = (Vec::new(), Vec::new());
        for _ in 0..200 {
            let obs = noisy(&truth);
            let table: Vec<f64> = nodes.iter().map(|t| lk.log_likelihood(&obs, t)).collect();
            let post = stats::posterior::GridPosterior::new(axes.clone(), &table).unwrap();
            marginals.push([post.marginal(0), post.marginal(1)]);
            pits.push([post.cdf(0, truth[0]), post.cdf(1, truth[1])]);
        }
        for p in 0..2 {
            let ms: Vec<&Marginal> = marginals.iter().map(|m| &m[p]).collect();
            let u: Vec<f64> = pits.iter().map(|x| x[p]).collect();
            let c = calibration("p", &vec![truth[p]; 200], &ms, &u).unwrap();
            // A calibrated posterior's PITs are uniform: KS below its 1 % critical value, and
            // the rank-statistics coverage at 68 % agrees with the quantiles' count.
            assert!(
                c.pit_ks < 1.628 / 200f64.sqrt(),
                "param {p}: KS {}",
                c.pit_ks
            );
            assert!(
                (c.coverage_curve[6][1] - c.coverage68).abs() <= 0.011,
                "{c:?}"
            );
            assert!(
                (c.coverage68 - 0.68).abs() < 3.0 * c.coverage68_se,
                "param {p}: {c:?}"
            );
            assert!(
                (c.coverage95 - 0.95).abs() < 3.0 * c.coverage95_se,
                "param {p}: {c:?}"
            );
            assert!(
                c.bias.abs() < 3.0 * c.mean_std / 200f64.sqrt() + 1e-3,
                "{c:?}"
            );
        }
    }

    #[test]
    fn calibration_counts_coverage_and_z() {
        let m = |mean: f64| Marginal {
            mean,
            std: 1.0,
            q16: mean - 1.0,
            q50: mean,
            q84: mean + 1.0,
            q025: mean - 2.0,
            q975: mean + 2.0,
        };
        let ms = [m(0.5), m(1.5), m(-3.0), m(0.0)];
        // Φ(−z) of each, the PIT of a unit Gaussian posterior at the truth 0.
        let pit = [0.3085, 0.0668, 0.9987, 0.5];
        let ms: Vec<&Marginal> = ms.iter().collect();
        let c = calibration("x", &[0.0; 4], &ms, &pit).unwrap();
        assert_eq!(c.coverage68, 0.5);
        assert_eq!(c.coverage95, 0.75);
        assert!((c.mean_abs_z - 1.25).abs() < 1e-12);
        assert!((c.bias + 0.25).abs() < 1e-12);
        // Rank statistics: inside the central 50 % are |u − ½| ≤ ¼: 0.3085 and 0.5.
        assert_eq!(c.coverage_curve[4], [0.5, 0.5]);
        assert_eq!(c.coverage_curve[9], [0.95, 0.75]);
        // KS of {0.0668, 0.3085, 0.5, 0.9987}: the largest gap is at 0.5 (3/4 − 0.5 = 0.25).
        assert!((c.pit_ks - 0.25).abs() < 1e-12, "{}", c.pit_ks);
        assert!(calibration("x", &[0.0; 3], &ms, &pit[..3]).is_err());
        assert!(calibration("x", &[0.0; 4], &ms, &[0.1, 0.2, 0.3, 1.5]).is_err());
        // PITs piled at both ends (an over-confident posterior) fall below the diagonal.
        let c = calibration("x", &[0.0; 4], &ms, &[0.01, 0.02, 0.98, 0.99]).unwrap();
        assert_eq!(c.coverage_curve[6][1], 0.0);
        assert!(c.pit_ks > 0.45);
    }
}
