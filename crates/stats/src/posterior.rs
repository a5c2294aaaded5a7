//! Posterior summaries from a log density tabulated on a rectangular grid.
//!
//! The parameter-inference commands evaluate a log-likelihood (the diffusion model's bound, or a
//! Gaussian likelihood of the binned P(k)) on a grid over the prior box; this module turns that
//! table into what a cosmologist quotes. Conventions:
//!
//! * The grid is the outer product of one increasing axis per parameter, row-major with the
//!   **last parameter varying fastest** (numpy's `meshgrid(..., indexing="ij")` flattened).
//! * The prior is flat on the box the axes span; multiply a non-flat prior in by adding its log
//!   to the table first.
//! * Each grid value is the density at a node; marginals integrate with the trapezoid rule along
//!   every other axis, and the CDF between nodes is the exact integral of the piecewise-linear
//!   marginal density (so quantiles interpolate smoothly rather than jumping node to node).
//! * Quantiles q16/q50/q84 and q025/q975 are of the 1D marginal; the 68% and 95% intervals are
//!   the central ones, [q16, q84] and [q025, q975].

use crate::error::{Result, StatsError};
use serde::{Deserialize, Serialize};

/// One parameter's marginal posterior, as `astrodiff infer` writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Marginal {
    pub mean: f64,
    pub std: f64,
    pub q16: f64,
    pub q50: f64,
    pub q84: f64,
    pub q025: f64,
    pub q975: f64,
}

/// A normalised posterior on a grid.
#[derive(Clone, Debug)]
pub struct GridPosterior {
    axes: Vec<Vec<f64>>,
    /// Normalised density at the nodes (integrates to 1 under the trapezoid rule).
    density: Vec<f64>,
    /// Trapezoid weights of every axis.
    weights: Vec<Vec<f64>>,
}

fn trapezoid_weights(axis: &[f64]) -> Vec<f64> {
    let n = axis.len();
    (0..n)
        .map(|i| {
            let left = if i > 0 { axis[i] - axis[i - 1] } else { 0.0 };
            let right = if i + 1 < n {
                axis[i + 1] - axis[i]
            } else {
                0.0
            };
            0.5 * (left + right)
        })
        .collect()
}

impl GridPosterior {
    /// From one increasing axis per parameter (each ≥ 2 nodes) and the log density at every node
    /// (row-major, last axis fastest; any additive constant). Non-finite entries other than −∞
    /// are refused; −∞ means zero density.
    pub fn new(axes: Vec<Vec<f64>>, log_density: &[f64]) -> Result<Self> {
        if axes.is_empty() {
            return Err(StatsError::invalid("posterior grid: no parameter axes"));
        }
        for (i, a) in axes.iter().enumerate() {
            if a.len() < 2 || a.windows(2).any(|w| w[1] <= w[0]) || a.iter().any(|v| !v.is_finite())
            {
                return Err(StatsError::invalid(format!(
                    "posterior grid: axis {i} must have at least 2 finite, strictly increasing nodes"
                )));
            }
        }
        let size: usize = axes.iter().map(Vec::len).product();
        if log_density.len() != size {
            return Err(StatsError::invalid(format!(
                "posterior grid: {} log-density values for a grid of {size} nodes",
                log_density.len()
            )));
        }
        if let Some(bad) = log_density
            .iter()
            .find(|v| v.is_nan() || **v == f64::INFINITY)
        {
            return Err(StatsError::invalid(format!(
                "posterior grid: log density {bad} is not a number or −∞"
            )));
        }
        let max = log_density
            .iter()
            .cloned()
            .fold(f64::NEG_INFINITY, f64::max);
        if max == f64::NEG_INFINITY {
            return Err(StatsError::invalid(
                "posterior grid: the density is zero everywhere",
            ));
        }
        let mut density: Vec<f64> = log_density.iter().map(|l| (l - max).exp()).collect();
        let weights: Vec<Vec<f64>> = axes.iter().map(|a| trapezoid_weights(a)).collect();
        let mut total = 0.0;
        for (flat, d) in density.iter().enumerate() {
            total += d * node_weight(&axes, &weights, flat);
        }
        density.iter_mut().for_each(|d| *d /= total);
        Ok(Self {
            axes,
            density,
            weights,
        })
    }

    pub fn axes(&self) -> &[Vec<f64>] {
        &self.axes
    }

    /// The 1D marginal density of parameter `p` at its axis nodes.
    pub fn marginal_density(&self, p: usize) -> Vec<f64> {
        let mut out = vec![0.0; self.axes[p].len()];
        for (flat, d) in self.density.iter().enumerate() {
            let idx = unravel(&self.axes, flat);
            let w: f64 = (0..self.axes.len())
                .filter(|&q| q != p)
                .map(|q| self.weights[q][idx[q]])
                .product();
            out[idx[p]] += d * w;
        }
        out
    }

    /// P(θ_p ≤ value): the integral of the piecewise-linear marginal (0 below the box, 1 above).
    pub fn cdf(&self, p: usize, value: f64) -> f64 {
        Marginal1d::new(&self.axes[p], self.marginal_density(p)).cdf(value)
    }

    /// The value where the marginal CDF of parameter `p` reaches `q` (0 < q < 1).
    pub fn quantile(&self, p: usize, q: f64) -> f64 {
        Marginal1d::new(&self.axes[p], self.marginal_density(p)).quantile(q)
    }

    /// Mean, standard deviation and quantiles of parameter `p`'s marginal.
    pub fn marginal(&self, p: usize) -> Marginal {
        let axis = &self.axes[p];
        let m = Marginal1d::new(axis, self.marginal_density(p));
        let w = &self.weights[p];
        let mean: f64 = (0..axis.len()).map(|i| w[i] * m.density[i] * axis[i]).sum();
        let var: f64 = (0..axis.len())
            .map(|i| w[i] * m.density[i] * (axis[i] - mean).powi(2))
            .sum();
        Marginal {
            mean,
            std: var.max(0.0).sqrt(),
            q16: m.quantile(0.16),
            q50: m.quantile(0.5),
            q84: m.quantile(0.84),
            q025: m.quantile(0.025),
            q975: m.quantile(0.975),
        }
    }

    /// Parameter `p`'s marginal convolved with a Gaussian of standard deviation `extra_std`: the
    /// posterior widened by an error of the log-likelihood surface that is independent of the
    /// data (the Monte Carlo error of the diffusion bound, `pipeline::infer`). The mean is
    /// unchanged, the variance grows by extra_std², and the quantiles are those of the
    /// convolved density, which may reach past the axis. `extra_std = 0` gives
    /// [`marginal`](Self::marginal) exactly.
    pub fn marginal_with_noise(&self, p: usize, extra_std: f64) -> Result<Marginal> {
        if !(extra_std.is_finite() && extra_std >= 0.0) {
            return Err(StatsError::invalid(format!(
                "posterior: extra standard deviation {extra_std} must be finite and ≥ 0"
            )));
        }
        let base = self.marginal(p);
        if extra_std == 0.0 {
            return Ok(base);
        }
        let smeared = Smeared::new(&self.axes[p], &self.marginal_density(p), extra_std);
        let (axis, cdf) = (&self.axes[p], |y: f64| smeared.cdf(y));
        let quantile = |q: f64| {
            let (mut lo, mut hi) = (
                axis[0] - 9.0 * extra_std,
                axis[axis.len() - 1] + 9.0 * extra_std,
            );
            for _ in 0..80 {
                let mid = 0.5 * (lo + hi);
                if cdf(mid) < q {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            0.5 * (lo + hi)
        };
        Ok(Marginal {
            mean: base.mean,
            std: base.std.hypot(extra_std),
            q16: quantile(0.16),
            q50: quantile(0.5),
            q84: quantile(0.84),
            q025: quantile(0.025),
            q975: quantile(0.975),
        })
    }

    /// P(θ_p ≤ value) under parameter `p`'s marginal convolved with a Gaussian of standard
    /// deviation `extra_std` (as [`marginal_with_noise`](Self::marginal_with_noise)); `extra_std
    /// = 0` is [`cdf`](Self::cdf). At the true θ this is the probability integral transform
    /// that `evaluation::inference::calibration` turns into a coverage curve.
    pub fn cdf_with_noise(&self, p: usize, extra_std: f64, value: f64) -> Result<f64> {
        if !(extra_std.is_finite() && extra_std >= 0.0) {
            return Err(StatsError::invalid(format!(
                "posterior: extra standard deviation {extra_std} must be finite and ≥ 0"
            )));
        }
        if extra_std == 0.0 {
            return Ok(self.cdf(p, value));
        }
        Ok(Smeared::new(&self.axes[p], &self.marginal_density(p), extra_std).cdf(value))
    }

    /// Whether the grid resolves the marginal of parameter `p`: its standard deviation is at
    /// least the largest node spacing of the axis. A posterior narrower than that sits on one or
    /// two nodes, and its mean, width and quantiles are set by the grid, not by the density.
    pub fn resolves(&self, p: usize) -> bool {
        let axis = &self.axes[p];
        let spacing = axis.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
        self.marginal(p).std >= spacing
    }

    /// The probability mass within one node spacing of the box's edge along parameter `p`: a
    /// posterior that piles up there was cut by the prior box (or the grid is too narrow).
    pub fn edge_mass(&self, p: usize) -> f64 {
        let axis = &self.axes[p];
        let n = axis.len();
        let m = Marginal1d::new(axis, self.marginal_density(p));
        1.0 - (m.cdf(axis[n - 2]) - m.cdf(axis[1]))
    }
}

/// A piecewise-linear 1D density on its nodes: the one place its CDF and quantiles are integrated.
struct Marginal1d<'a> {
    axis: &'a [f64],
    density: Vec<f64>,
}

impl<'a> Marginal1d<'a> {
    fn new(axis: &'a [f64], density: Vec<f64>) -> Self {
        Self { axis, density }
    }

    /// The mass of interval i from its left node to `x` (x within the interval).
    fn partial(&self, i: usize, x: f64) -> f64 {
        let (a, b, m) = (self.axis[i], self.axis[i + 1], &self.density);
        let slope = (m[i + 1] - m[i]) / (b - a);
        m[i] * (x - a) + 0.5 * slope * (x - a) * (x - a)
    }

    fn cdf(&self, value: f64) -> f64 {
        let mut acc = 0.0;
        for i in 0..self.axis.len() - 1 {
            if value <= self.axis[i] {
                break;
            }
            acc += self.partial(i, value.min(self.axis[i + 1]));
        }
        acc.clamp(0.0, 1.0)
    }

    fn quantile(&self, q: f64) -> f64 {
        let (axis, m) = (self.axis, &self.density);
        let mut acc = 0.0;
        for i in 0..axis.len() - 1 {
            let h = axis[i + 1] - axis[i];
            let mass = self.partial(i, axis[i + 1]);
            if acc + mass >= q && mass > 0.0 {
                // Solve m_i s + ½ slope s² = q − acc for s in [0, h], in the form without
                // cancellation (exact for slope = 0 too; mass > 0 keeps the denominator > 0).
                let need = q - acc;
                let slope = (m[i + 1] - m[i]) / h;
                let disc = (m[i] * m[i] + 2.0 * slope * need).max(0.0);
                let s = 2.0 * need / (m[i] + disc.sqrt());
                return axis[i] + s.clamp(0.0, h);
            }
            acc += mass;
        }
        *axis.last().unwrap()
    }
}

fn unravel(axes: &[Vec<f64>], mut flat: usize) -> Vec<usize> {
    let mut idx = vec![0; axes.len()];
    for (q, a) in axes.iter().enumerate().rev() {
        idx[q] = flat % a.len();
        flat /= a.len();
    }
    idx
}

/// A piecewise-linear marginal smeared by a Gaussian: the density as point masses at 16
/// midpoints per interval, each convolved, so CDF(y) = Σ m_k Φ((y − x_k) / s) / Σ m_k.
struct Smeared {
    atoms: Vec<(f64, f64)>,
    total: f64,
    s: f64,
}

impl Smeared {
    fn new(axis: &[f64], dens: &[f64], s: f64) -> Self {
        const SUB: usize = 16;
        let mut atoms = Vec::with_capacity(SUB * axis.len());
        for i in 0..axis.len() - 1 {
            let h = (axis[i + 1] - axis[i]) / SUB as f64;
            for k in 0..SUB {
                let u = (k as f64 + 0.5) / SUB as f64;
                let d = dens[i] + u * (dens[i + 1] - dens[i]);
                atoms.push((axis[i] + u * (axis[i + 1] - axis[i]), d * h));
            }
        }
        let total = atoms.iter().map(|a| a.1).sum();
        Smeared { atoms, total, s }
    }

    fn cdf(&self, y: f64) -> f64 {
        let phi = |z: f64| 0.5 * (1.0 + libm::erf(z / std::f64::consts::SQRT_2));
        self.atoms
            .iter()
            .map(|&(x, m)| m * phi((y - x) / self.s))
            .sum::<f64>()
            / self.total
    }
}

/// `k` ≥ 2 nodes from `lo` to `hi`, both ends exact (so a box check on them is inclusive): the
/// grid axis of every posterior here and in `pipeline::infer`.
pub fn linspace(lo: f64, hi: f64, k: usize) -> Vec<f64> {
    (0..k)
        .map(|i| match i {
            0 => lo,
            i if i == k - 1 => hi,
            i => lo + (hi - lo) * i as f64 / (k - 1) as f64,
        })
        .collect()
}

/// A grid posterior over the box `bounds` that zooms until it resolves the density: `nodes`
/// per parameter over the whole box first; then, at most `max_zooms` times, every parameter
/// [`GridPosterior::resolves`] rejects gets a new axis of `nodes` nodes centred on its marginal's
/// highest node, half-width max(1.5 node spacings, w grid standard deviations) with
/// w = min(5, 0.45·(nodes − 1)) (3.6 for 9 nodes: the next spacing is then below σ), clipped to
/// the box (the window of a posterior narrower than a spacing holds its mass when it has one mode).
/// `log_density` gets every node of a grid at once (see [`grid_points`]) and returns the table.
/// Returns the last grid's posterior, its table and the zooms used.
pub fn zoomed_posterior<E: From<StatsError>>(
    bounds: &[(f64, f64)],
    nodes_per_axis: usize,
    max_zooms: usize,
    mut log_density: impl FnMut(&[Vec<f64>]) -> std::result::Result<Vec<f64>, E>,
) -> std::result::Result<(GridPosterior, Vec<f64>, usize), E> {
    let mut axes: Vec<Vec<f64>> = bounds
        .iter()
        .map(|&(lo, hi)| linspace(lo, hi, nodes_per_axis))
        .collect();
    let mut zoom = 0;
    loop {
        let table = log_density(&grid_points(&axes))?;
        let post = GridPosterior::new(axes.clone(), &table)?;
        let coarse: Vec<usize> = (0..axes.len()).filter(|&p| !post.resolves(p)).collect();
        if coarse.is_empty() || zoom == max_zooms {
            return Ok((post, table, zoom));
        }
        for p in coarse {
            let a = &axes[p];
            let spacing = a.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
            let dens = post.marginal_density(p);
            let top = (0..a.len())
                .max_by(|&i, &j| dens[i].total_cmp(&dens[j]))
                .expect("at least 2 nodes");
            // At most 0.45·(nodes − 1) σ, so that the next spacing (≤ 0.9 σ) resolves σ.
            let width = 5f64.min(0.45 * (nodes_per_axis - 1) as f64);
            let half = (1.5 * spacing).max(width * post.marginal(p).std);
            let (lo, hi) = bounds[p];
            let (l, h) = ((a[top] - half).max(lo), (a[top] + half).min(hi));
            axes[p] = linspace(l, h, nodes_per_axis);
        }
        zoom += 1;
    }
}

/// The Monte Carlo standard error of a posterior mean whose log-likelihood is the average of D
/// noisy estimates: `per_draw[d]` is the table of estimate d alone on `axes` (as for
/// [`GridPosterior::new`]). Delete-one jackknife (Efron & Stein 1981): m₍ᵢ₎ is the posterior
/// mean of the table averaged over every draw but i, and the variance is
/// (D − 1)/D · Σᵢ (m₍ᵢ₎ − m̄)². To first order it equals s²/D with s² the spread of the single
/// draws' means, but a single draw's table is D times noisier than the average and the mean is a
/// nonlinear (softmax) function of the table, so single-draw means over-state the error; the
/// leave-one-out tables are almost as precise as the average and follow that nonlinearity.
/// Needs D ≥ 2.
pub fn monte_carlo_std(axes: &[Vec<f64>], per_draw: &[Vec<f64>]) -> Result<Vec<f64>> {
    let d = per_draw.len();
    if d < 2 {
        return Err(StatsError::invalid(format!(
            "Monte Carlo error: {d} noise draw(s); the spread needs at least 2"
        )));
    }
    let size = per_draw[0].len();
    if let Some(bad) = per_draw.iter().position(|t| t.len() != size) {
        return Err(StatsError::invalid(format!(
            "Monte Carlo error: draw {bad} has {} grid values, draw 0 has {size}",
            per_draw[bad].len()
        )));
    }
    let total: Vec<f64> = (0..size)
        .map(|i| per_draw.iter().map(|t| t[i]).sum())
        .collect();
    let means: Vec<Vec<f64>> = per_draw
        .iter()
        .map(|table| {
            let left_out: Vec<f64> = total
                .iter()
                .zip(table)
                .map(|(t, v)| (t - v) / (d - 1) as f64)
                .collect();
            let g = GridPosterior::new(axes.to_vec(), &left_out)?;
            Ok((0..axes.len()).map(|p| g.marginal(p).mean).collect())
        })
        .collect::<Result<_>>()?;
    Ok((0..axes.len())
        .map(|p| {
            let m = means.iter().map(|v| v[p]).sum::<f64>() / d as f64;
            let ss = means.iter().map(|v| (v[p] - m).powi(2)).sum::<f64>();
            (ss * (d - 1) as f64 / d as f64).sqrt()
        })
        .collect())
}

/// Every node of the grid the axes span, in the table's order (row-major, last axis fastest):
/// evaluate a log-likelihood at `grid_points(&axes)[i]` to fill entry `i` of
/// [`GridPosterior::new`]'s table.
pub fn grid_points(axes: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let size: usize = axes.iter().map(Vec::len).product();
    (0..size)
        .map(|flat| {
            unravel(axes, flat)
                .iter()
                .enumerate()
                .map(|(q, &i)| axes[q][i])
                .collect()
        })
        .collect()
}

fn node_weight(axes: &[Vec<f64>], weights: &[Vec<f64>], flat: usize) -> f64 {
    let idx = unravel(axes, flat);
    idx.iter()
        .enumerate()
        .map(|(q, &i)| weights[q][i])
        .product()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_points_run_last_axis_fastest() {
        let pts = grid_points(&[vec![1.0, 2.0], vec![10.0, 20.0, 30.0]]);
        assert_eq!(pts.len(), 6);
        assert_eq!(pts[1], vec![1.0, 20.0]);
        assert_eq!(pts[3], vec![2.0, 10.0]);
    }

    /// Draws whose tables are Gaussians of one width at centres μ_d: the averaged table is the
    /// Gaussian at the mean centre, so the posterior mean's Monte Carlo error is exactly
    /// sd(μ_d)/√D (sample sd), which the jackknife returns; the second axis carries no noise.
    #[test]
    fn jackknife_error_of_gaussian_draws_is_the_centres_standard_error() {
        let centres = [0.31, 0.27, 0.36, 0.30, 0.25];
        let sd = 0.04;
        let ax = linspace(0.0, 0.6, 241);
        let ay = linspace(0.0, 1.0, 3);
        let per_draw: Vec<Vec<f64>> = centres
            .iter()
            .map(|&c| {
                ax.iter()
                    .flat_map(|&x| ay.iter().map(move |_| -0.5 * ((x - c) / sd).powi(2)))
                    .collect()
            })
            .collect();
        let d = centres.len() as f64;
        let m = centres.iter().sum::<f64>() / d;
        let s2 = centres.iter().map(|c| (c - m).powi(2)).sum::<f64>() / (d - 1.0);
        let mc = monte_carlo_std(&[ax.clone(), ay.clone()], &per_draw).unwrap();
        assert!((mc[0] / (s2 / d).sqrt() - 1.0).abs() < 1e-6, "{mc:?}");
        assert!(mc[1].abs() < 1e-9, "{mc:?}");
        assert!(monte_carlo_std(&[ax.clone(), ay.clone()], &per_draw[..1]).is_err());
        let mut short = per_draw.clone();
        short[2].pop();
        assert!(monte_carlo_std(&[ax, ay], &short).is_err());
    }

    /// A Gaussian marginal N(μ, σ²) widened by an independent N(0, s²) error is N(μ, σ² + s²):
    /// its quantiles follow, also past a grid that covers only ±4σ; s = 0 changes nothing.
    #[test]
    fn a_gaussian_widened_by_a_gaussian_error_has_the_summed_variance() {
        let (m, sd, extra) = (0.3, 0.02, 0.03);
        let ax = linspace(m - 4.0 * sd, m + 4.0 * sd, 81);
        let ay = linspace(0.0, 1.0, 3);
        let logd: Vec<f64> = ax
            .iter()
            .flat_map(|&x| ay.iter().map(move |_| -0.5 * ((x - m) / sd).powi(2)))
            .collect();
        let post = GridPosterior::new(vec![ax, ay], &logd).unwrap();
        assert_eq!(post.marginal_with_noise(0, 0.0).unwrap(), post.marginal(0));
        let w = post.marginal_with_noise(0, extra).unwrap();
        let total = sd.hypot(extra);
        assert!((w.mean - m).abs() < 1e-6, "{w:?}");
        // The ±4σ grid drops 6e-5 of the mass: the std is within 0.1 % of √(σ² + s²).
        assert!((w.std / total - 1.0).abs() < 1e-3, "{w:?}");
        for (q, z) in [
            (w.q16, -0.9945),
            (w.q50, 0.0),
            (w.q84, 0.9945),
            (w.q025, -1.96),
            (w.q975, 1.96),
        ] {
            assert!(
                (q - (m + z * total)).abs() < 2e-3 * total,
                "quantile at z = {z}: {q} ({w:?})"
            );
        }
        assert!(post.marginal_with_noise(0, -1.0).is_err());
        assert!(post.marginal_with_noise(0, f64::NAN).is_err());
        // The CDF of the same widened marginal: Φ(z) at m + z √(σ² + s²), and the plain CDF
        // at s = 0.
        for z in [-1.96, -1.0, 0.0, 0.5, 1.96] {
            let c = post.cdf_with_noise(0, extra, m + z * total).unwrap();
            let phi = 0.5 * (1.0 + libm::erf(z / std::f64::consts::SQRT_2));
            assert!((c - phi).abs() < 1e-3, "z = {z}: {c} against {phi}");
            let x = m + z * sd;
            assert_eq!(post.cdf_with_noise(0, 0.0, x).unwrap(), post.cdf(0, x));
        }
        assert!(post.cdf_with_noise(0, -1.0, m).is_err());
    }

    /// A correlated 2D Gaussian, well inside the box: the marginals are N(μ_p, σ_p²), whatever
    /// the correlation.
    #[test]
    fn gaussian_on_a_grid_gives_its_moments_and_quantiles() {
        let (mx, my, sx, sy, rho) = (0.3, -1.0, 0.05, 0.2, 0.6);
        let ax = linspace(mx - 8.0 * sx, mx + 8.0 * sx, 161);
        let ay = linspace(my - 8.0 * sy, my + 8.0 * sy, 121);
        let mut logd = Vec::new();
        for &x in &ax {
            for &y in &ay {
                let (u, v) = ((x - mx) / sx, (y - my) / sy);
                logd.push(-(u * u - 2.0 * rho * u * v + v * v) / (2.0 * (1.0 - rho * rho)));
            }
        }
        let post = GridPosterior::new(vec![ax, ay], &logd).unwrap();
        for (p, (m, s)) in [(mx, sx), (my, sy)].into_iter().enumerate() {
            let g = post.marginal(p);
            assert!((g.mean - m).abs() < 1e-4 * s, "mean {p}: {g:?}");
            assert!((g.std / s - 1.0).abs() < 1e-3, "std {p}: {g:?}");
            assert!((g.q50 - m).abs() < 2e-3 * s, "median {p}: {g:?}");
            // Φ⁻¹(0.84) = 0.99446, Φ⁻¹(0.975) = 1.95996.
            assert!(((g.q84 - m) / s - 0.99446).abs() < 5e-3, "q84 {p}: {g:?}");
            assert!(((m - g.q16) / s - 0.99446).abs() < 5e-3, "q16 {p}: {g:?}");
            assert!(((g.q975 - m) / s - 1.95996).abs() < 5e-3, "q975 {p}: {g:?}");
            assert!((post.cdf(p, m) - 0.5).abs() < 1e-3);
            assert!(post.edge_mass(p) < 1e-10);
            assert!(post.resolves(p));
        }
    }

    #[test]
    fn bad_grids_are_refused_with_the_reason() {
        let ax = vec![0.0, 1.0, 2.0];
        let e = GridPosterior::new(vec![ax.clone()], &[0.0, 1.0]).unwrap_err();
        assert!(
            e.to_string()
                .contains("2 log-density values for a grid of 3"),
            "{e}"
        );
        let e = GridPosterior::new(vec![vec![0.0, 0.0]], &[0.0, 0.0]).unwrap_err();
        assert!(e.to_string().contains("strictly increasing"), "{e}");
        let e = GridPosterior::new(vec![ax.clone()], &[0.0, f64::NAN, 0.0]).unwrap_err();
        assert!(e.to_string().contains("not a number"), "{e}");
        let e = GridPosterior::new(vec![ax], &[f64::NEG_INFINITY; 3]).unwrap_err();
        assert!(e.to_string().contains("zero everywhere"), "{e}");
    }

    /// A posterior that is flat on the box has its quantiles at the matching fractions of the
    /// box, and all its mass counts as "near the edge" only in the outer cells.
    /// A Gaussian of σ = 0.2 node spacings on 9 nodes is not resolved (its grid std is set by
    /// the nodes); σ = 3 spacings is.
    #[test]
    fn a_posterior_narrower_than_the_nodes_is_flagged_unresolved() {
        let ax = linspace(0.0, 8.0, 9);
        for (sigma, want) in [(0.2, false), (3.0, true)] {
            let logd: Vec<f64> = ax
                .iter()
                .flat_map(|&x| {
                    ax.iter().map(move |&y| {
                        -((x - 4.3f64).powi(2) + (y - 4.0f64).powi(2)) / (2.0 * sigma * sigma)
                    })
                })
                .collect();
            let post = GridPosterior::new(vec![ax.clone(), ax.clone()], &logd).unwrap();
            assert_eq!(
                post.resolves(0),
                want,
                "σ = {sigma}: {:?}",
                post.marginal(0)
            );
        }
    }

    /// A Gaussian of σ = 0.004 in a box 100σ wide, 9 nodes per axis: the first grid does not
    /// resolve it (spacing 0.05); zooming does, and then gives its mean and width.
    #[test]
    fn zooming_resolves_a_narrow_posterior_and_finds_its_moments() {
        let (m, s) = ([0.2713, 0.8311], [0.004, 0.006]);
        let mut calls = 0;
        let (post, table, zooms) =
            zoomed_posterior::<StatsError>(&[(0.1, 0.5), (0.6, 1.0)], 9, 6, |pts| {
                calls += 1;
                Ok(pts
                    .iter()
                    .map(|t| {
                        -0.5 * (((t[0] - m[0]) / s[0]).powi(2) + ((t[1] - m[1]) / s[1]).powi(2))
                    })
                    .collect())
            })
            .unwrap();
        assert!(zooms >= 2 && zooms < 6, "zooms {zooms}");
        assert_eq!(calls, zooms + 1);
        assert_eq!(table.len(), 81);
        for p in 0..2 {
            let g = post.marginal(p);
            assert!(post.resolves(p), "{p}: {g:?}");
            assert!((g.mean - m[p]).abs() < 0.1 * s[p], "mean {p}: {g:?}");
            assert!((g.std / s[p] - 1.0).abs() < 0.08, "std {p}: {g:?}");
            assert!(
                ((g.q84 - g.q16) / (2.0 * s[p]) - 0.99446).abs() < 0.08,
                "68 % {p}: {g:?}"
            );
            // The window is ±3.6σ at a final spacing of ~0.9σ: its outermost cells hold ~2 %, and
            // the piecewise-linear tails make the 95 % interval 5–7 % wide (measured 2.06σ and 2.10σ against
            // 1.96σ); more nodes (`--grid 17`) give a finer final spacing.
            assert!(
                post.edge_mass(p) < 0.05,
                "the window holds the mass: {}",
                post.edge_mass(p)
            );
            assert!(
                ((g.q975 - g.q025) / (2.0 * s[p]) - 1.95996).abs() < 0.15,
                "95 % {p}: {g:?}"
            );
        }
        // A broad density is resolved on the first grid: no zoom.
        let (_, _, z) = zoomed_posterior::<StatsError>(&[(0.1, 0.5)], 9, 6, |pts| {
            Ok(pts.iter().map(|t| -(t[0] - 0.3).powi(2) / 0.02).collect())
        })
        .unwrap();
        assert_eq!(z, 0);
    }

    #[test]
    fn flat_posterior_has_uniform_quantiles() {
        let ax = linspace(0.0, 10.0, 11);
        let post = GridPosterior::new(vec![ax], &[0.0; 11]).unwrap();
        let g = post.marginal(0);
        assert!((g.mean - 5.0).abs() < 1e-12);
        assert!(
            (g.q16 - 1.6).abs() < 1e-9 && (g.q975 - 9.75).abs() < 1e-9,
            "{g:?}"
        );
        assert!((post.edge_mass(0) - 0.2).abs() < 1e-12);
    }
}
