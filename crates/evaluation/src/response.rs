//! The response of a per-map statistic to one parameter at a fiducial cosmology, ∂⟨x_b⟩/∂θ
//! (issue 13: what a Fisher forecast needs from an emulator), from a one-parameter series of
//! map sets such as CAMELS' 1P set (`astrodiff simulate --set 1P`, docs/simulator.md).
//!
//! Conventions ([`response`]):
//! * Input: for each value θ_i of the series, the rows of its maps (here ln P(k) of δ per map,
//!   [`crate::inference::PkStatistic`]); per bin b, y_ib is the mean over the maps and
//!   σ²_ib = s²_ib / n_i its variance (s² the (n − 1)-variance).
//! * Fit: per bin, a weighted least-squares quadratic in x = θ − θ_fid (weights 1/σ²_ib); the
//!   response is its linear coefficient, the derivative at θ_fid. A quadratic because over a
//!   CAMELS 1P range (Ω_m 0.1 → 0.5) ln P is far from linear, and the fiducial sits inside the
//!   series, so its curvature is fitted rather than aliased into the slope.
//! * Error: √[(AᵀWA)⁻¹]₁₁, the slope's standard error *if the series' points were
//!   independent*. A 1P series shares one seed across θ (as CAMELS' does) and an emulator
//!   judged on it shares its noise across θ (common random numbers), so their sample
//!   variance largely cancels in the slope: read the error as an upper bound on the fit's.

use crate::error::{Error, Result};
use crate::inference::{cholesky, cholesky_solve};
use serde::Serialize;

/// ∂⟨x_b⟩/∂θ at θ_fid per bin, and its standard error (module docs).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Response {
    pub slope: Vec<f64>,
    pub error: Vec<f64>,
}

/// The response at `fiducial` of the per-map rows `rows[i]` (maps × bins) measured at `theta[i]`
/// (module docs). Needs ≥ 3 distinct θ, ≥ 2 maps per value, and rows that vary in every bin.
pub fn response(theta: &[f64], rows: &[Vec<Vec<f64>>], fiducial: f64) -> Result<Response> {
    if theta.len() != rows.len() {
        return Err(Error::Invalid(format!(
            "response: {} parameter values for {} sets of maps",
            theta.len(),
            rows.len()
        )));
    }
    let mut distinct: Vec<f64> = theta.to_vec();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    if distinct.len() < 3 || theta.iter().any(|t| !t.is_finite()) {
        return Err(Error::Invalid(format!(
            "response: {} distinct finite parameter value(s); a quadratic fit needs at least 3",
            distinct.len()
        )));
    }
    let nb = rows.first().and_then(|r| r.first()).map_or(0, |r| r.len());
    for (i, r) in rows.iter().enumerate() {
        if r.len() < 2 || r.iter().any(|m| m.len() != nb) || nb == 0 {
            return Err(Error::Invalid(format!(
                "response: the maps at θ = {} are {} row(s); give at least 2, each of {nb} bins",
                theta[i],
                r.len()
            )));
        }
    }
    let (mut slope, mut error) = (Vec::with_capacity(nb), Vec::with_capacity(nb));
    for b in 0..nb {
        let (mut a, mut rhs) = ([0.0f64; 9], [0.0f64; 3]);
        for (i, r) in rows.iter().enumerate() {
            let n = r.len() as f64;
            let mean = r.iter().map(|m| m[b]).sum::<f64>() / n;
            let var = r.iter().map(|m| (m[b] - mean).powi(2)).sum::<f64>() / (n - 1.0) / n;
            if !(var > 0.0 && var.is_finite()) {
                return Err(Error::Invalid(format!(
                    "response: bin {b} does not vary over the maps at θ = {}",
                    theta[i]
                )));
            }
            let x = theta[i] - fiducial;
            let f = [1.0, x, x * x];
            for p in 0..3 {
                rhs[p] += f[p] * mean / var;
                for q in 0..3 {
                    a[p * 3 + q] += f[p] * f[q] / var;
                }
            }
        }
        let l = cholesky(&a, 3).ok_or_else(|| {
            Error::Invalid(format!("response: bin {b}: the quadratic fit is singular"))
        })?;
        slope.push(cholesky_solve(&l, 3, &rhs)[1]);
        error.push(cholesky_solve(&l, 3, &[0.0, 1.0, 0.0])[1].sqrt());
    }
    Ok(Response { slope, error })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    /// Rows at θ_i: maps around a quadratic mean a + c(θ − 0.3) + d(θ − 0.3)², per bin.
    fn series(
        rng: &mut rand_chacha::ChaCha8Rng,
        noise: f64,
        n: usize,
    ) -> (Vec<f64>, Vec<Vec<Vec<f64>>>) {
        let theta: Vec<f64> = (0..11).map(|i| 0.1 + 0.04 * i as f64).collect();
        let nd = Normal::new(0.0, noise).unwrap();
        let rows = theta
            .iter()
            .map(|t| {
                let x = t - 0.3;
                (0..n)
                    .map(|_| {
                        [(1.0, 2.0, -3.0), (0.5, -1.0, 6.0)]
                            .iter()
                            .map(|(a, c, d)| a + c * x + d * x * x + nd.sample(rng))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        (theta, rows)
    }

    #[test]
    fn a_quadratic_mean_gives_its_derivative_at_the_fiducial() {
        // Maps ± e around the mean: the means are exactly quadratic, so the slope is exact
        // for any weights; at θ_fid = 0.38 (off the series' centre) it is c + 2d(0.38 − 0.3).
        let theta: Vec<f64> = (0..11).map(|i| 0.1 + 0.04 * i as f64).collect();
        let e = [0.01, 0.03];
        let rows: Vec<Vec<Vec<f64>>> = theta
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let m = 1.0 + 2.0 * t - 3.0 * t * t;
                let s = e[i % 2];
                vec![vec![m + s, 5.0 * t + s], vec![m - s, 5.0 * t - s]]
            })
            .collect();
        let r = response(&theta, &rows, 0.38).unwrap();
        assert!(
            (r.slope[0] - (2.0 - 6.0 * 0.38)).abs() < 1e-10,
            "{:?}",
            r.slope
        );
        assert!((r.slope[1] - 5.0).abs() < 1e-10, "{:?}", r.slope);
        assert!(r.error.iter().all(|e| *e > 0.0));
    }

    #[test]
    fn the_error_is_the_slopes_scatter_over_independent_series() {
        // 400 independent series of 11 values × 15 noisy maps: the predicted error (mean over
        // series) against the observed std of the slope; the observed std carries ±3.5 %
        // Monte Carlo error at 400, the prediction a few % bias from estimated weights.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let reps = 400;
        let (mut slopes, mut predicted) = (vec![Vec::new(); 2], vec![0.0; 2]);
        for _ in 0..reps {
            let (theta, rows) = series(&mut rng, 0.1, 15);
            let r = response(&theta, &rows, 0.3).unwrap();
            for b in 0..2 {
                slopes[b].push(r.slope[b]);
                predicted[b] += r.error[b] / reps as f64;
            }
        }
        for (b, truth) in [2.0, -1.0].iter().enumerate() {
            let m = slopes[b].iter().sum::<f64>() / reps as f64;
            let sd =
                (slopes[b].iter().map(|s| (s - m).powi(2)).sum::<f64>() / (reps - 1) as f64).sqrt();
            assert!(
                (m - truth).abs() < 4.0 * sd / (reps as f64).sqrt(),
                "bin {b}: {m} vs {truth}"
            );
            let ratio = predicted[b] / sd;
            eprintln!("bin {b}: slope {m:.4} (truth {truth}), predicted/observed error {ratio:.3}");
            assert!(
                (0.85..1.15).contains(&ratio),
                "bin {b}: predicted/observed {ratio}"
            );
        }
    }

    #[test]
    fn too_few_values_or_constant_maps_are_refused() {
        let one = vec![vec![vec![1.0], vec![2.0]]; 2];
        let e = response(&[0.2, 0.3], &one, 0.3).unwrap_err().to_string();
        assert!(e.contains("at least 3"), "{e}");
        let flat = vec![vec![vec![1.0], vec![1.0]]; 3];
        let e = response(&[0.2, 0.3, 0.4], &flat, 0.3)
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not vary") && e.contains("0.2"), "{e}");
    }
}
