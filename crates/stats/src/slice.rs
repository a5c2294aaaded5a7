//! Slice sampling of a log-density on a box (Neal 2003, "Slice sampling", Ann. Statist. 31,
//! 705–767: §4, "stepping out" and "shrinkage", one coordinate at a time), for posteriors whose
//! log-density is an expensive, gradient-free function, such as the diffusion bound of
//! `pipeline::infer`.
//!
//! Conventions:
//! * The prior is flat on `bounds` (the density is zero outside): the slice interval is cut to
//!   the box before shrinking, so no point outside is ever evaluated.
//! * One sweep updates every coordinate once in order; a sample is the state after a sweep.
//!   `burn_in` sweeps are dropped first.
//! * `widths` are the initial interval widths per coordinate (about a posterior standard
//!   deviation is right); stepping out extends them at most `max_steps_out` times.
//! * Randomness comes only from `rng`, so a seeded generator gives the same chain.

use crate::error::{Result, StatsError};
use rand::Rng;

/// How long to sample.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct SliceConfig {
    pub samples: usize,
    pub burn_in: usize,
    pub max_steps_out: usize,
}

impl SliceConfig {
    /// Refuses a chain that cannot run: fewer than 2 samples or no step out. Callers check
    /// before any costly work; [`slice_sample`] checks again.
    pub fn check(&self) -> Result<()> {
        if self.samples < 2 || self.max_steps_out == 0 {
            return Err(StatsError::invalid(format!(
                "slice sampler: {} samples with {} steps out; give at least 2 samples and 1 step",
                self.samples, self.max_steps_out
            )));
        }
        Ok(())
    }
}

impl Default for SliceConfig {
    fn default() -> Self {
        SliceConfig {
            samples: 200,
            burn_in: 20,
            max_steps_out: 8,
        }
    }
}

/// A chain and what it cost.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SliceChain {
    /// `samples` rows of one value per coordinate.
    pub samples: Vec<Vec<f64>>,
    /// Log-density evaluations, the burn-in included.
    pub evaluations: usize,
}

/// Draws `cfg.samples` points from exp(logp) on `bounds`, starting at `x0` (inside the box,
/// with a finite log-density). Errors from `logp` are returned as they are.
pub fn slice_sample<E, F, R>(
    mut logp: F,
    x0: &[f64],
    widths: &[f64],
    bounds: &[(f64, f64)],
    cfg: &SliceConfig,
    rng: &mut R,
) -> std::result::Result<SliceChain, E>
where
    E: From<StatsError>,
    F: FnMut(&[f64]) -> std::result::Result<f64, E>,
    R: Rng,
{
    check(x0, widths, bounds)?;
    cfg.check()?;
    let mut x = x0.to_vec();
    let mut lp = logp(&x)?;
    let mut evaluations = 1;
    if !lp.is_finite() {
        return Err(StatsError::invalid(format!(
            "slice sampler: the log-density at the start {x0:?} is {lp}"
        ))
        .into());
    }
    let mut samples = Vec::with_capacity(cfg.samples);
    for sweep in 0..cfg.burn_in + cfg.samples {
        for i in 0..x.len() {
            let (lo, hi) = bounds[i];
            let w = widths[i];
            // The slice's level: log of a uniform under the density at x.
            let level = lp + rng.gen::<f64>().ln();
            let mut at = |v: f64, x: &[f64]| -> std::result::Result<f64, E> {
                let mut y = x.to_vec();
                y[i] = v;
                evaluations += 1;
                logp(&y)
            };
            let mut left = x[i] - w * rng.gen::<f64>();
            let mut right = left + w;
            let j = (cfg.max_steps_out as f64 * rng.gen::<f64>()).floor() as usize;
            let mut k = cfg.max_steps_out.saturating_sub(1 + j);
            let mut j = j;
            while j > 0 && left > lo && at(left, &x)? > level {
                left -= w;
                j -= 1;
            }
            while k > 0 && right < hi && at(right, &x)? > level {
                right += w;
                k -= 1;
            }
            let (mut left, mut right) = (left.max(lo), right.min(hi));
            loop {
                let v = left + (right - left) * rng.gen::<f64>();
                let lv = at(v, &x)?;
                if lv > level {
                    x[i] = v;
                    lp = lv;
                    break;
                }
                if v < x[i] {
                    left = v;
                } else {
                    right = v;
                }
                if right - left <= 1e-12 * (hi - lo) {
                    // The interval shrank onto x: keep it (a numerical safeguard; the level is
                    // below lp, so this happens only for a log-density that is not a function).
                    break;
                }
            }
        }
        if sweep >= cfg.burn_in {
            samples.push(x.clone());
        }
    }
    Ok(SliceChain {
        samples,
        evaluations,
    })
}

fn check(x0: &[f64], widths: &[f64], bounds: &[(f64, f64)]) -> Result<()> {
    if x0.is_empty() || x0.len() != widths.len() || x0.len() != bounds.len() {
        return Err(StatsError::invalid(format!(
            "slice sampler: {} start values, {} widths and {} bounds",
            x0.len(),
            widths.len(),
            bounds.len()
        )));
    }
    for (i, ((x, w), (lo, hi))) in x0.iter().zip(widths).zip(bounds).enumerate() {
        if !(lo < hi && (lo..=hi).contains(&x) && *w > 0.0 && w.is_finite()) {
            return Err(StatsError::invalid(format!(
                "slice sampler: coordinate {i}: start {x} in [{lo}, {hi}] with width {w}; \
                 the start must lie in the box and the width be positive"
            )));
        }
    }
    Ok(())
}

/// Mean, standard deviation and the central quantiles of one coordinate of a chain (empirical,
/// linear interpolation between order statistics as numpy's default).
pub fn chain_marginal(samples: &[Vec<f64>], p: usize) -> crate::posterior::Marginal {
    let mut v: Vec<f64> = samples.iter().map(|s| s[p]).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    let q = |q: f64| {
        let h = q * (n - 1.0);
        let (i, f) = (h.floor() as usize, h - h.floor());
        v[i] + f * (v[(i + 1).min(v.len() - 1)] - v[i])
    };
    crate::posterior::Marginal {
        mean,
        std: var.sqrt(),
        q16: q(0.16),
        q50: q(0.5),
        q84: q(0.84),
        q025: q(0.025),
        q975: q(0.975),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn chain(
        logp: impl Fn(&[f64]) -> f64,
        bounds: &[(f64, f64)],
        samples: usize,
        seed: u64,
    ) -> SliceChain {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let x0: Vec<f64> = bounds.iter().map(|(a, b)| 0.5 * (a + b)).collect();
        let cfg = SliceConfig {
            samples,
            burn_in: 50,
            ..SliceConfig::default()
        };
        slice_sample::<StatsError, _, _>(|x| Ok(logp(x)), &x0, &[1.0, 0.5], bounds, &cfg, &mut rng)
            .unwrap()
    }

    /// A correlated Gaussian (σ = 1 and 0.5, ρ = 0.8) inside a wide box: the chain's means,
    /// standard deviations and correlation match, within a few effective-sample errors.
    #[test]
    fn a_chain_that_cannot_run_is_refused_up_front() {
        let short = SliceConfig {
            samples: 1,
            ..Default::default()
        };
        assert!(short.check().unwrap_err().to_string().contains("1 samples"));
        let stuck = SliceConfig {
            max_steps_out: 0,
            ..Default::default()
        };
        assert!(stuck.check().is_err());
        assert!(SliceConfig::default().check().is_ok());
    }

    #[test]
    fn a_correlated_gaussian_is_sampled_with_its_moments() {
        let (s1, s2, rho) = (1.0f64, 0.5f64, 0.8f64);
        let logp = |x: &[f64]| {
            let (a, b) = ((x[0] - 0.3) / s1, (x[1] + 0.2) / s2);
            -0.5 * (a * a - 2.0 * rho * a * b + b * b) / (1.0 - rho * rho)
        };
        let c = chain(logp, &[(-8.0, 8.0), (-6.0, 6.0)], 6000, 1);
        let m0 = chain_marginal(&c.samples, 0);
        let m1 = chain_marginal(&c.samples, 1);
        // Coordinate-wise updates at ρ = 0.8 leave an integrated autocorrelation of ~5 sweeps:
        // ~1200 effective samples, so the means' errors are ~0.03 σ.
        assert!(
            (m0.mean - 0.3).abs() < 0.12 && (m1.mean + 0.2).abs() < 0.06,
            "{m0:?} {m1:?}"
        );
        assert!(
            (m0.std / s1 - 1.0).abs() < 0.08 && (m1.std / s2 - 1.0).abs() < 0.08,
            "{m0:?} {m1:?}"
        );
        let cov = c
            .samples
            .iter()
            .map(|x| (x[0] - m0.mean) * (x[1] - m1.mean))
            .sum::<f64>()
            / (c.samples.len() - 1) as f64;
        let r = cov / (m0.std * m1.std);
        assert!((r - rho).abs() < 0.05, "correlation {r}");
        assert!((m0.q84 - m0.q16) / 2.0 > 0.9 * s1, "{m0:?}");
    }

    /// A flat density on the box: uniform samples, never outside it; the same seed gives the
    /// same chain and another seed another.
    #[test]
    fn a_flat_density_fills_the_box_and_the_chain_is_reproducible() {
        let b = [(0.1, 0.5), (0.6, 1.0)];
        let c = chain(|_| 0.0, &b, 2000, 3);
        for (p, (lo, hi)) in b.iter().enumerate() {
            assert!(c.samples.iter().all(|x| (*lo..=*hi).contains(&x[p])));
            let m = chain_marginal(&c.samples, p);
            let want = (hi - lo) / 12f64.sqrt();
            assert!(
                (m.mean - 0.5 * (lo + hi)).abs() < 0.03 * (hi - lo) * 4.0,
                "{m:?}"
            );
            assert!((m.std / want - 1.0).abs() < 0.06, "{m:?}");
        }
        assert_eq!(
            chain(|_| 0.0, &b, 50, 3).samples,
            chain(|_| 0.0, &b, 50, 3).samples
        );
        assert_ne!(
            chain(|_| 0.0, &b, 50, 3).samples,
            chain(|_| 0.0, &b, 50, 4).samples
        );
    }

    #[test]
    fn a_start_outside_the_box_or_a_bad_width_is_refused() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let cfg = SliceConfig::default();
        let f = |_: &[f64]| Ok::<f64, StatsError>(0.0);
        let e = slice_sample(f, &[0.7], &[0.1], &[(0.1, 0.5)], &cfg, &mut rng).unwrap_err();
        assert!(e.to_string().contains("start 0.7 in [0.1, 0.5]"), "{e}");
        let e = slice_sample(f, &[0.3], &[0.0], &[(0.1, 0.5)], &cfg, &mut rng).unwrap_err();
        assert!(e.to_string().contains("width 0"), "{e}");
        let g = |_: &[f64]| Ok::<f64, StatsError>(f64::NEG_INFINITY);
        let e = slice_sample(g, &[0.3], &[0.1], &[(0.1, 0.5)], &cfg, &mut rng).unwrap_err();
        assert!(e.to_string().contains("-inf"), "{e}");
    }
}
