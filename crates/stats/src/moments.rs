//! One-point moments of a map, and the standardised field.
//!
//! Conventions (those of `numpy.std` and `scipy.stats.skew` / `scipy.stats.kurtosis` with their
//! defaults `bias=True`, `fisher=True`): with central moments m_j = ⟨(x − x̄)^j⟩ over all pixels,
//! std = √m₂ (ddof = 0), skewness = m₃ / m₂^{3/2}, excess kurtosis = m₄ / m₂² − 3 (0 for a
//! Gaussian). The standardised field is ν = (x − x̄)/std, the variable in which the cosmology
//! literature plots the pixel PDF and Minkowski functionals: it removes the per-map mean and
//! amplitude (which vary with cosmology across a Latin hypercube) and keeps the shape.
//! Two passes (mean first), in f64.

use crate::error::{check_finite, Result, StatsError};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

/// The one-point moments of one map.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    pub mean: f64,
    /// Population standard deviation (ddof = 0).
    pub std: f64,
    pub skewness: f64,
    /// Excess (Fisher) kurtosis: 0 for a Gaussian.
    pub excess_kurtosis: f64,
}

/// Moments of `x`; a constant map (std = 0) has no skewness or standardised field and is an error.
pub fn moments(x: ArrayView2<f64>) -> Result<Moments> {
    let (rows, cols) = x.dim();
    if rows == 0 || cols == 0 {
        return Err(StatsError::Empty { rows, cols });
    }
    check_finite(x)?;
    let n = x.len() as f64;
    let mean = x.sum() / n;
    let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
    for &v in x.iter() {
        let d = v - mean;
        let d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
    }
    let (m2, m3, m4) = (m2 / n, m3 / n, m4 / n);
    if m2 <= 0.0 {
        return Err(StatsError::Constant { value: mean });
    }
    Ok(Moments {
        mean,
        std: m2.sqrt(),
        skewness: m3 / m2.powf(1.5),
        excess_kurtosis: m4 / (m2 * m2) - 3.0,
    })
}

/// ν = (x − x̄)/std of `x`, with its moments.
pub fn standardize(x: ArrayView2<f64>) -> Result<(Array2<f64>, Moments)> {
    let m = moments(x)?;
    Ok((x.mapv(|v| (v - m.mean) / m.std), m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};

    #[test]
    fn bernoulli_map_has_its_analytic_moments() {
        // One pixel in four is 1: p = 1/4, skewness (1 − 2p)/√(p(1−p)) = 2/√3,
        // excess kurtosis (1 − 6p(1−p))/(p(1−p)) = −2/3.
        let x = Array2::from_shape_fn((8, 8), |(i, j)| ((i % 2 == 0) && (j % 2 == 0)) as u8 as f64);
        let m = moments(x.view()).unwrap();
        assert!((m.mean - 0.25).abs() < 1e-15);
        assert!((m.std - 0.1875f64.sqrt()).abs() < 1e-15);
        assert!((m.skewness - 2.0 / 3f64.sqrt()).abs() < 1e-12, "{m:?}");
        assert!((m.excess_kurtosis + 2.0 / 3.0).abs() < 1e-12, "{m:?}");
    }

    #[test]
    fn standardising_is_affine_invariant_and_gives_zero_mean_unit_std() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let x = Array2::from_shape_fn((64, 64), |_| {
            let g: f64 = StandardNormal.sample(&mut rng);
            (0.7 * g).exp()
        });
        let m = moments(x.view()).unwrap();
        let (nu, _) = standardize(x.view()).unwrap();
        let mn = moments(nu.view()).unwrap();
        assert!(mn.mean.abs() < 1e-12 && (mn.std - 1.0).abs() < 1e-12);
        assert!((mn.skewness - m.skewness).abs() < 1e-10);
        let y = x.mapv(|v| -3.0 * v + 11.0);
        let my = moments(y.view()).unwrap();
        assert!((my.skewness + m.skewness).abs() < 1e-10);
        assert!((my.excess_kurtosis - m.excess_kurtosis).abs() < 1e-9);
        // A lognormal is right-skewed: (e^{σ²} + 2)√(e^{σ²} − 1) = 2.9 for σ = 0.7 in the limit.
        assert!(m.skewness > 1.0, "{m:?}");
    }

    #[test]
    fn white_gaussian_noise_has_zero_skewness_and_excess_kurtosis_within_errors() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let x = Array2::from_shape_fn((256, 256), |_| StandardNormal.sample(&mut rng));
        let m = moments(x.view()).unwrap();
        let n = 65536f64;
        // Standard errors √(6/n) and √(24/n); 5σ.
        assert!(m.skewness.abs() < 5.0 * (6.0 / n).sqrt(), "{m:?}");
        assert!(m.excess_kurtosis.abs() < 5.0 * (24.0 / n).sqrt(), "{m:?}");
    }

    #[test]
    fn constant_empty_and_non_finite_maps_are_errors() {
        let e = moments(Array2::from_elem((4, 4), 2.5).view()).unwrap_err();
        assert!(
            e.to_string().contains("constant") && e.to_string().contains("2.5"),
            "{e}"
        );
        assert!(moments(Array2::<f64>::zeros((0, 3)).view()).is_err());
        let mut x = Array2::from_shape_fn((4, 4), |(i, j)| (i + j) as f64);
        x[[1, 2]] = f64::NAN;
        assert!(matches!(
            moments(x.view()),
            Err(StatsError::NonFinite { i: 1, j: 2, .. })
        ));
    }
}
