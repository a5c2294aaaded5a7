//! The Gaussian null: a stationary, periodic Gaussian random field with the mean and the
//! per-mode 2D power of a set of maps, fitted from the maps themselves.
//!
//! It is what "no learning at all" produces: it has the set's P(k) (the full 2D power,
//! averaged over the maps and over the 8 symmetries of the square grid, so also the DC scatter
//! of the per-map means) and nothing else. A verdict that cannot tell these fields from the
//! real ones does not see the non-Gaussian structure the seed paper judges with Minkowski
//! functionals (Mudur & Finkbeiner 2022, §4), so every evaluation carries one.
//!
//! Conventions: mode variances are in "pixel units", `mode_var[kx][ky] = ⟨|F_k|²⟩/N²` for the
//! unnormalised DFT F of the mean-subtracted map, in the half-spectrum layout `[N, N/2+1]` of
//! [`stats::fft`] (white noise of unit variance has mode_var ≡ 1). With the stats estimator
//! `P(k) = (L/N²)² ⟨|F|²⟩` this is `mode_var = N² P(k)/L²`, the layout
//! `diffusion::analytic::GrfDenoiser::from_mode_variance` takes. Same seed, same fields: field
//! j uses the ChaCha20 streams j·N … j·N + N − 1 of `seed`, so results do not depend on threads.

use crate::SimError;
use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use rustfft::num_complex::Complex64;
use stats::fft::FftPlan;
use stats::power_spectrum::wavenumber;

/// A fitted Gaussian null; see the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianNull {
    side: usize,
    mean: f64,
    mode_var: Vec<f64>,
    n_maps: usize,
}

impl GaussianNull {
    /// Fits the mean (over every pixel of every map) and the symmetrised per-mode power of
    /// `maps` (all N×N with N even, finite values). Errors name the offending map.
    pub fn fit(maps: &[Array2<f64>]) -> Result<Self, SimError> {
        let first = maps
            .first()
            .ok_or_else(|| SimError::Param("Gaussian null: no maps to fit".into()))?;
        let n = first.nrows();
        if n < 2 || !n.is_multiple_of(2) {
            return Err(SimError::Param(format!(
                "Gaussian null: map side {n} must be even and at least 2"
            )));
        }
        for (i, m) in maps.iter().enumerate() {
            if m.dim() != (n, n) {
                return Err(SimError::Param(format!(
                    "Gaussian null: map {i} is {}×{}, expected {n}×{n}",
                    m.nrows(),
                    m.ncols()
                )));
            }
            if let Some(v) = m.iter().find(|v| !v.is_finite()) {
                return Err(SimError::Param(format!(
                    "Gaussian null: map {i} holds the non-finite value {v}"
                )));
            }
        }
        let count = (maps.len() * n * n) as f64;
        let mean = maps.iter().map(|m| m.sum()).sum::<f64>() / count;
        let plan = FftPlan::new(n);
        let nc = plan.nc();
        let norm = 1.0 / (n * n) as f64;
        let raw = maps
            .par_iter()
            .map(|m| {
                let mut x: Vec<f64> = m.iter().map(|v| v - mean).collect();
                let spec = plan.forward_2d(&mut x);
                spec.iter()
                    .map(|c| c.norm_sqr() * norm)
                    .collect::<Vec<f64>>()
            })
            .reduce(
                || vec![0.0; n * nc],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        let per_map: Vec<f64> = raw.iter().map(|v| v / maps.len() as f64).collect();
        Ok(GaussianNull {
            side: n,
            mean,
            mode_var: symmetrise(&per_map, n),
            n_maps: maps.len(),
        })
    }

    /// Map side N.
    pub fn side(&self) -> usize {
        self.side
    }
    /// The fitted mean (field units).
    pub fn mean(&self) -> f64 {
        self.mean
    }
    /// Maps the fit used.
    pub fn n_maps(&self) -> usize {
        self.n_maps
    }
    /// Per-mode variances, pixel units, row-major `[N, N/2+1]` (see the module docs).
    pub fn mode_variance(&self) -> &[f64] {
        &self.mode_var
    }

    /// Draws `count` fields: white noise filtered by sqrt(mode_var), plus the mean.
    pub fn sample(&self, count: usize, seed: u64) -> Vec<Array2<f64>> {
        let n = self.side;
        let plan = FftPlan::new(n);
        let gain: Vec<f64> = self.mode_var.iter().map(|v| v.sqrt()).collect();
        let norm = 1.0 / (n * n) as f64;
        (0..count)
            .map(|j| {
                let mut w = vec![0.0; n * n];
                w.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
                    let mut rng = ChaCha20Rng::seed_from_u64(seed);
                    rng.set_stream((j * n + i) as u64);
                    for x in row.iter_mut() {
                        *x = StandardNormal.sample(&mut rng);
                    }
                });
                let mut spec: Vec<Complex64> = plan.forward_2d(&mut w);
                spec.iter_mut().zip(&gain).for_each(|(c, g)| *c *= *g);
                let f = plan.inverse_2d(&mut spec);
                Array2::from_shape_vec((n, n), f.iter().map(|v| v * norm + self.mean).collect())
                    .expect("n×n by construction")
            })
            .collect()
    }
}

/// Averages a half-spectrum `[n, n/2+1]` over the 8 symmetries of the square grid
/// (kx ↔ ky and both sign flips), so the null is isotropic up to the grid's own symmetry.
fn symmetrise(half: &[f64], n: usize) -> Vec<f64> {
    let nc = n / 2 + 1;
    let wrap = |q: i64| q.rem_euclid(n as i64) as usize;
    // |F(−k)| = |F(k)| for real maps: read any mode from the stored half.
    let at = |kx: i64, ky: i64| {
        let (a, b) = if ky.rem_euclid(n as i64) as usize <= n / 2 {
            (wrap(kx), wrap(ky))
        } else {
            (wrap(-kx), wrap(-ky))
        };
        half[a * nc + b]
    };
    let mut out = vec![0.0; n * nc];
    for a in 0..n {
        let kx = wavenumber(a, n);
        for b in 0..nc {
            let ky = b as i64;
            let s: f64 = [
                (kx, ky),
                (-kx, ky),
                (kx, -ky),
                (-kx, -ky),
                (ky, kx),
                (-ky, kx),
                (ky, -kx),
                (-ky, -kx),
            ]
            .iter()
            .map(|&(x, y)| at(x, y))
            .sum();
            out[a * nc + b] = s / 8.0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grf::lognormal_field_2d;

    fn set(n_maps: usize, n: usize) -> Vec<Array2<f64>> {
        (0..n_maps)
            .map(|i| lognormal_field_2d(n, 25.0, |k| 2.0 * (k + 0.3f64).powf(-2.0), 100 + i as u64))
            .collect()
    }

    fn pooled_moments(maps: &[Array2<f64>]) -> (f64, f64, f64) {
        let v: Vec<f64> = maps.iter().flat_map(|m| m.iter().copied()).collect();
        let n = v.len() as f64;
        let mu = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / n;
        let skew = v.iter().map(|x| (x - mu).powi(3)).sum::<f64>() / n / var.powf(1.5);
        (mu, var, skew)
    }

    #[test]
    fn samples_reproduce_the_fitted_mean_variance_and_mode_power() {
        let maps = set(24, 32);
        let null = GaussianNull::fit(&maps).unwrap();
        let draws = null.sample(400, 7);
        let (mu_r, var_r, skew_r) = pooled_moments(&maps);
        let (mu_g, var_g, skew_g) = pooled_moments(&draws);
        assert!(
            (mu_g - mu_r).abs() < 0.05 * var_r.sqrt(),
            "{mu_g} vs {mu_r}"
        );
        assert!((var_g / var_r - 1.0).abs() < 0.05, "{var_g} vs {var_r}");
        // Lognormal data are skewed; the null is not.
        assert!(skew_r > 0.5, "{skew_r}");
        assert!(skew_g.abs() < 0.05, "{skew_g}");
        // The draws' own fit agrees mode by mode within the χ²₂ scatter of 400 maps
        // (relative σ ≈ 1/√(400·k), k = the 8 symmetric images averaged: ≲ 2%).
        let refit = GaussianNull::fit(&draws).unwrap();
        let (a, b) = (null.mode_variance(), refit.mode_variance());
        let nc = 17;
        let mut worst: f64 = 0.0;
        for i in 1..32 * nc {
            if a[i] > 1e-12 {
                worst = worst.max((b[i] / a[i] - 1.0).abs());
            }
        }
        assert!(worst < 0.25, "worst per-mode ratio deviation {worst}");
    }

    #[test]
    fn same_seed_same_fields_and_the_power_is_symmetric() {
        let null = GaussianNull::fit(&set(4, 16)).unwrap();
        assert_eq!(null.sample(3, 11), null.sample(3, 11));
        assert_ne!(null.sample(1, 11), null.sample(1, 12));
        // Field j does not depend on how many are drawn.
        assert_eq!(null.sample(3, 11)[2], null.sample(5, 11)[2]);
        let (v, nc) = (null.mode_variance(), 9);
        for a in 0..9usize {
            for b in 0..9usize {
                assert!(
                    (v[a * nc + b] - v[b * nc + a]).abs() <= 1e-12 * v[a * nc + b].abs().max(1.0)
                );
            }
        }
    }

    #[test]
    fn bad_sets_are_refused_with_the_map_named() {
        assert!(GaussianNull::fit(&[]).is_err());
        let mut maps = set(3, 16);
        maps[2][[1, 1]] = f64::NAN;
        let e = GaussianNull::fit(&maps).unwrap_err().to_string();
        assert!(e.contains("map 2") && e.contains("NaN"), "{e}");
        let e = GaussianNull::fit(&[Array2::zeros((16, 8))])
            .unwrap_err()
            .to_string();
        assert!(e.contains("16×8"), "{e}");
        let e = GaussianNull::fit(&[Array2::zeros((15, 15))])
            .unwrap_err()
            .to_string();
        assert!(e.contains("even"), "{e}");
    }
}
