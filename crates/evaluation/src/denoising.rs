//! Scores of a denoised map against the true one, accumulated over many patches.
//!
//! Every map here is in the model's *trained* space (after the data transform, e.g. log10,
//! before normalisation), as f64. P(k) is measured with the statistics crate's estimator
//! (Pylians `Pk_plane` conventions) with box size L = side in pixels, so k is in radians per
//! pixel (k_Nyquist = π) and P in (field units)²·pixel². For patches cut from a larger map (not
//! periodic) the spectra are measured on the 2N×2N mirror extension: otherwise the jump at the
//! patch edges puts k⁻²-like power along the axes that dominates the high-k bins of a steep
//! spectrum, and every method "reproduces" it, hiding what happens to the field's own small
//! scales. The MFs use the *open* boundary convention for the same reason.

use crate::error::{Context, Result};
use fields::filters;
use ndarray::{s, Array2, Array3, ArrayView2, ArrayView3, Axis};
use serde::Serialize;
use stats::{minkowski, MfConvention, PowerSpectrumPlan};

/// MF thresholds in units of the true patch: u = mean + ν·std, ν from −2.5 to 2.5.
pub fn mf_nus() -> Vec<f64> {
    (0..11).map(|i| -2.5 + 0.5 * i as f64).collect()
}

/// Symmetric (mirror) extension of an N×N map to 2N×2N: periodic without a jump at the edges.
pub fn mirror(x: ArrayView2<f64>) -> ndarray::Array2<f64> {
    let n = x.nrows();
    let r = |i: usize| if i < n { i } else { 2 * n - 1 - i };
    ndarray::Array2::from_shape_fn((2 * n, 2 * n), |(i, j)| x[[r(i), r(j)]])
}

/// Two-sided standard-normal quantiles z_{(1+p)/2} for p = 0.68 and p = 0.95.
const Z68: f64 = 0.994_457_883_209_753;
const Z95: f64 = 1.959_963_984_540_054;

/// Quantile of Student's t with `nu` degrees of freedom from the normal quantile `z`
/// (Cornish–Fisher expansion to ν⁻⁴; relative error < 1e-3 for ν ≥ 3, exact as ν → ∞).
pub fn student_t_quantile(z: f64, nu: f64) -> f64 {
    let (z2, z3) = (z * z, z * z * z);
    let z5 = z3 * z2;
    let z7 = z5 * z2;
    let z9 = z7 * z2;
    z + (z3 + z) / (4.0 * nu)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * nu * nu)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * nu.powi(3))
        + (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z) / (92160.0 * nu.powi(4))
}

/// Half-widths, in units of the sample standard deviation s (ddof = 1), of the intervals
/// `mean ± h·s` that contain a new draw from the same Gaussian with probability 0.68 / 0.95 when
/// the mean and s come from K draws: h = t_{K−1} quantile · sqrt(1 + 1/K). A calibrated Gaussian
/// posterior therefore covers the truth at exactly 68% / 95% whatever K is; the plain
/// `mean ± 1·s` interval would under-cover for small K.
pub fn prediction_half_widths(k: usize) -> (f64, f64) {
    let nu = (k.max(2) - 1) as f64;
    let inflate = (1.0 + 1.0 / k as f64).sqrt();
    (
        student_t_quantile(Z68, nu) * inflate,
        student_t_quantile(Z95, nu) * inflate,
    )
}

/// Rank interval for K draws and nominal probability p: the interval [x_(j), x_(K+1−j)]
/// between order statistics (1-based) with j ≥ 1 chosen so that its exact coverage
/// (K + 1 − 2j)/(K + 1) for a calibrated posterior is nearest p. Returns (j, that coverage).
/// Distribution-free: the truth is exchangeable with the draws, so its rank is uniform.
pub fn rank_interval(k: usize, p: f64) -> (usize, f64) {
    let kp1 = (k + 1) as f64;
    let j = ((kp1 * (1.0 - p) / 2.0).round() as usize).clamp(1, k.div_ceil(2).max(1));
    (j, (kp1 - 2.0 * j as f64).max(0.0) / kp1)
}

/// Pixel counts of truth inside the posterior intervals of one or many patches.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Coverage {
    pub pixels: u64,
    /// Inside mean ± h68·s (finite-K Gaussian prediction interval, see [`prediction_half_widths`]).
    pub in_gauss68: u64,
    pub in_gauss95: u64,
    /// Inside the rank intervals of the K samples nearest 68% / 95% (see [`rank_interval`]).
    pub in_rank68: u64,
    pub in_rank95: u64,
}

impl Coverage {
    /// Adds one patch: `samples` [K, N, N] posterior draws, `truth` [N, N].
    pub fn add(&mut self, samples: ArrayView3<f64>, truth: ArrayView2<f64>) {
        let k = samples.len_of(Axis(0));
        let (h68, h95) = prediction_half_widths(k);
        let (j68, _) = rank_interval(k, 0.68);
        let (j95, _) = rank_interval(k, 0.95);
        let mut v = vec![0.0; k];
        for ((i, j), &t) in truth.indexed_iter() {
            for (s, dst) in v.iter_mut().enumerate() {
                *dst = samples[[s, i, j]];
            }
            let mean = v.iter().sum::<f64>() / k as f64;
            let sd = if k > 1 {
                (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (k - 1) as f64).sqrt()
            } else {
                0.0
            };
            let d = (t - mean).abs();
            self.in_gauss68 += (d <= h68 * sd) as u64;
            self.in_gauss95 += (d <= h95 * sd) as u64;
            v.sort_by(f64::total_cmp);
            let inside = |j: usize| (v[j - 1] <= t && t <= v[k - j]) as u64;
            self.in_rank68 += inside(j68);
            self.in_rank95 += inside(j95);
            self.pixels += 1;
        }
    }

    pub fn frac(&self, n: u64) -> f64 {
        n as f64 / self.pixels.max(1) as f64
    }
}

/// Accumulates, for one method at one noise level, everything the report needs.
pub struct Scores {
    plan: PowerSpectrumPlan,
    mirror: bool,
    nus: Vec<f64>,
    pub n_maps: usize,
    sq_err: f64,
    n_pix: u64,
    /// Σ over patches of P_true, P_est, P_cross (bins 1..kmax).
    p_true: Vec<f64>,
    p_est: Vec<f64>,
    p_cross: Vec<f64>,
    /// Σ over patches of V0, V1, V2 at ν thresholds, true and estimated.
    mf_true: [Vec<f64>; 3],
    mf_est: [Vec<f64>; 3],
    pub coverage: Option<Coverage>,
    k: Vec<f64>,
    nmodes: Vec<f64>,
}

impl Scores {
    /// Scores for N×N patches; `mirror`: measure spectra on the mirror extension (non-periodic
    /// patches, see the module notes).
    pub fn new(n: usize, mirror: bool) -> Result<Self> {
        let side = if mirror { 2 * n } else { n };
        let plan = PowerSpectrumPlan::new(side, side as f64).context("P(k) plan")?;
        let nb = stats::power_spectrum::n_bins(side);
        let nus = mf_nus();
        let z = || vec![0.0; nus.len()];
        Ok(Self {
            plan,
            mirror,
            n_maps: 0,
            sq_err: 0.0,
            n_pix: 0,
            p_true: vec![0.0; nb],
            p_est: vec![0.0; nb],
            p_cross: vec![0.0; nb],
            mf_true: [z(), z(), z()],
            mf_est: [z(), z(), z()],
            coverage: None,
            k: vec![],
            nmodes: vec![],
            nus,
        })
    }

    /// Adds one (estimate, truth) pair. The cross spectrum comes from the same estimator by
    /// polarisation: P_xy = (P_{x+y} − P_{x−y})/4, so all three spectra share one binning.
    pub fn add(&mut self, est: ArrayView2<f64>, truth: ArrayView2<f64>) -> Result<()> {
        self.sq_err += est
            .iter()
            .zip(truth.iter())
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>();
        self.n_pix += truth.len() as u64;
        let (t_ext, e_ext) = if self.mirror {
            (mirror(truth), mirror(est))
        } else {
            (truth.to_owned(), est.to_owned())
        };
        let pt = self.plan.compute(t_ext.view())?;
        let pe = self.plan.compute(e_ext.view())?;
        let sum = &e_ext + &t_ext;
        let diff = &e_ext - &t_ext;
        let ps = self.plan.compute(sum.view())?;
        let pd = self.plan.compute(diff.view())?;
        for b in 0..self.p_true.len() {
            self.p_true[b] += pt.pk[b];
            self.p_est[b] += pe.pk[b];
            self.p_cross[b] += 0.25 * (ps.pk[b] - pd.pk[b]);
        }
        self.k = pt.k;
        self.nmodes = pt.nmodes;
        // Thresholds from the truth, used for both maps: the question is whether the estimate
        // has the same excursion sets as the true field at the same levels.
        let n = truth.len() as f64;
        let mean = truth.sum() / n;
        let sd = (truth.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt();
        let sd = if sd > 0.0 { sd } else { 1.0 };
        let thr: Vec<f64> = self.nus.iter().map(|nu| mean + nu * sd).collect();
        let mt = minkowski(truth, &thr, MfConvention::Open)?;
        let me = minkowski(est, &thr, MfConvention::Open)?;
        for (acc, v) in self.mf_true.iter_mut().zip([&mt.v0, &mt.v1, &mt.v2]) {
            acc.iter_mut().zip(v).for_each(|(a, x)| *a += x);
        }
        for (acc, v) in self.mf_est.iter_mut().zip([&me.v0, &me.v1, &me.v2]) {
            acc.iter_mut().zip(v).for_each(|(a, x)| *a += x);
        }
        self.n_maps += 1;
        Ok(())
    }

    /// Adds posterior draws [K, N, N] for the calibration counts.
    pub fn add_coverage(&mut self, samples: ArrayView3<f64>, truth: ArrayView2<f64>) {
        self.coverage
            .get_or_insert_with(Coverage::default)
            .add(samples, truth);
    }

    pub fn mse(&self) -> f64 {
        self.sq_err / self.n_pix.max(1) as f64
    }

    /// Summary for the JSON report.
    pub fn summary(&self, k_samples: Option<usize>) -> Summary {
        let m = self.n_maps.max(1) as f64;
        let pk_ratio: Vec<f64> = self
            .p_est
            .iter()
            .zip(&self.p_true)
            .map(|(e, t)| e / t)
            .collect();
        let r_k: Vec<f64> = (0..self.p_true.len())
            .map(|b| self.p_cross[b] / (self.p_true[b] * self.p_est[b]).sqrt())
            .collect();
        // "High k": bins above half the Nyquist wavenumber (k_Nyq = π rad/pixel with L = N).
        let k_half = std::f64::consts::FRAC_PI_2;
        let hi: Vec<usize> = (0..self.k.len()).filter(|&b| self.k[b] >= k_half).collect();
        let lo: Vec<usize> = (0..self.k.len()).filter(|&b| self.k[b] < k_half).collect();
        // Band quantities over all modes of a k range (each bin weighted by its mode count), so
        // the few-mode corner bins do not dominate.
        let band =
            |v: &[f64], idx: &[usize]| -> f64 { idx.iter().map(|&b| self.nmodes[b] * v[b]).sum() };
        let band_ratio = |idx: &[usize]| band(&self.p_est, idx) / band(&self.p_true, idx);
        let band_r = |idx: &[usize]| {
            band(&self.p_cross, idx) / (band(&self.p_true, idx) * band(&self.p_est, idx)).sqrt()
        };
        let mf = |i: usize| -> MfSummary {
            let t: Vec<f64> = self.mf_true[i].iter().map(|x| x / m).collect();
            let e: Vec<f64> = self.mf_est[i].iter().map(|x| x / m).collect();
            let num: f64 = t.iter().zip(&e).map(|(a, b)| (a - b).abs()).sum();
            let den: f64 = t.iter().map(|a| a.abs()).sum();
            let int_t: f64 = t.iter().map(|a| a.abs()).sum();
            let int_e: f64 = e.iter().map(|a| a.abs()).sum();
            MfSummary {
                true_mean: t,
                est_mean: e,
                rel_l1: num / den,
                ratio_integrated_abs: int_e / int_t,
            }
        };
        let coverage = self.coverage.as_ref().map(|c| {
            let k = k_samples.unwrap_or(2);
            CoverageSummary {
                pixels: c.pixels,
                gauss68: c.frac(c.in_gauss68),
                gauss95: c.frac(c.in_gauss95),
                rank68: c.frac(c.in_rank68),
                rank95: c.frac(c.in_rank95),
                rank68_ideal: rank_interval(k, 0.68).1,
                rank95_ideal: rank_interval(k, 0.95).1,
            }
        });
        Summary {
            n_maps: self.n_maps,
            mse: self.mse(),
            k: self.k.clone(),
            pk_true: self.p_true.iter().map(|x| x / m).collect(),
            pk_ratio: pk_ratio.clone(),
            pk_ratio_high_k: band_ratio(&hi),
            pk_ratio_low_k: band_ratio(&lo),
            r_k: r_k.clone(),
            r_high_k: band_r(&hi),
            r_low_k: band_r(&lo),
            mf_nu: self.nus.clone(),
            v0: mf(0),
            v1: mf(1),
            v2: mf(2),
            coverage,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MfSummary {
    /// Mean over patches of the functional of the true patch at each ν.
    pub true_mean: Vec<f64>,
    /// Same for the estimate, at the true patch's thresholds.
    pub est_mean: Vec<f64>,
    /// Σ_ν |est − true| / Σ_ν |true|.
    pub rel_l1: f64,
    /// Σ_ν |est| / Σ_ν |true| (below 1: fewer/shorter features, as smoothing gives).
    pub ratio_integrated_abs: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CoverageSummary {
    pub pixels: u64,
    /// Fraction of pixels whose truth lies in the finite-K Gaussian 68% / 95% interval
    /// (target 0.68 / 0.95 for a calibrated posterior).
    pub gauss68: f64,
    pub gauss95: f64,
    /// Same for the distribution-free rank intervals of the K draws nearest 68% / 95%...
    pub rank68: f64,
    pub rank95: f64,
    /// ...whose value for a calibrated posterior is exactly (K + 1 − 2j)/(K + 1).
    pub rank68_ideal: f64,
    pub rank95_ideal: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub n_maps: usize,
    /// Mean squared error per pixel in the trained space ([transformed field]²).
    pub mse: f64,
    /// Bin wavenumbers, radians per pixel (k_Nyquist = π).
    pub k: Vec<f64>,
    /// Mean P(k) of the true patches, [transformed field]²·pixel².
    pub pk_true: Vec<f64>,
    /// ⟨P_est⟩/⟨P_true⟩ per bin.
    pub pk_ratio: Vec<f64>,
    /// Power of the estimate over that of the truth in the band k ≥ k_Nyq/2 (all modes of the
    /// band, i.e. bins weighted by their mode counts): the power kept at high k.
    pub pk_ratio_high_k: f64,
    /// Same for 0 < k < k_Nyq/2.
    pub pk_ratio_low_k: f64,
    /// Cross-correlation coefficient r(k) = ⟨P_xy⟩/sqrt(⟨P_xx⟩⟨P_yy⟩) per bin.
    pub r_k: Vec<f64>,
    /// r over all modes of the band k ≥ k_Nyq/2, and of 0 < k < k_Nyq/2.
    pub r_high_k: f64,
    pub r_low_k: f64,
    /// MF thresholds ν: u = mean + ν·std of each true patch.
    pub mf_nu: Vec<f64>,
    pub v0: MfSummary,
    pub v1: MfSummary,
    pub v2: MfSummary,
    pub coverage: Option<CoverageSummary>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, Array3};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Box–Muller standard normal (keeps the CLI crate free of rand_distr).
    fn gauss(rng: &mut ChaCha8Rng) -> f64 {
        let u: f64 = 1.0 - rng.gen::<f64>();
        let v: f64 = rng.gen();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    fn randn(rng: &mut ChaCha8Rng, shape: (usize, usize)) -> Array2<f64> {
        Array2::from_shape_fn(shape, |_| gauss(rng))
    }

    #[test]
    fn t_quantiles_match_tables() {
        // t quantiles by numerical integration of the density (independent of the expansion):
        // (ν, t_0.84, t_0.975).
        for (nu, a, b) in [
            (3.0, 1.188_959, 3.182_446),
            (5.0, 1.103_668, 2.570_582),
            (7.0, 1.070_287, 2.364_624),
            (15.0, 1.028_533, 2.131_450),
            (60.0, 1.002_768, 2.000_298),
        ] {
            assert!(
                (student_t_quantile(Z68, nu) / a - 1.0).abs() < 1e-3,
                "ν = {nu}"
            );
            assert!(
                (student_t_quantile(Z95, nu) / b - 1.0).abs() < 2e-3,
                "ν = {nu}"
            );
        }
    }

    #[test]
    fn calibrated_gaussian_posterior_covers_at_nominal_rates() {
        // Truth and K draws exchangeable from the same Gaussian per pixel: the finite-K
        // intervals cover at 68% / 95%, the rank intervals at their exact finite-K value.
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let k = 8;
        let mut cov = Coverage::default();
        for _ in 0..20 {
            let truth = randn(&mut rng, (32, 32));
            let samples = Array3::from_shape_fn((k, 32, 32), |_| gauss(&mut rng));
            cov.add(samples.view(), truth.view());
        }
        let n = cov.pixels as f64;
        let tol = |p: f64| 4.0 * (p * (1.0 - p) / n).sqrt();
        assert!(
            (cov.frac(cov.in_gauss68) - 0.68).abs() < tol(0.68),
            "{cov:?}"
        );
        assert!(
            (cov.frac(cov.in_gauss95) - 0.95).abs() < tol(0.95),
            "{cov:?}"
        );
        let q68 = rank_interval(k, 0.68).1;
        let q95 = rank_interval(k, 0.95).1;
        assert!(
            (cov.frac(cov.in_rank68) - q68).abs() < tol(q68),
            "{cov:?} vs {q68}"
        );
        assert!(
            (cov.frac(cov.in_rank95) - q95).abs() < tol(q95),
            "{cov:?} vs {q95}"
        );
        // An over-confident posterior (draws with half the spread) is caught.
        let mut bad = Coverage::default();
        let truth = randn(&mut rng, (32, 32));
        let samples = Array3::from_shape_fn((k, 32, 32), |_| 0.5 * gauss(&mut rng));
        bad.add(samples.view(), truth.view());
        assert!(bad.frac(bad.in_gauss68) < 0.5);
    }

    #[test]
    fn perfect_estimate_scores_exactly_and_noise_decorrelates() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let truth = randn(&mut rng, (32, 32));
        let mut s = Scores::new(32, false).unwrap();
        s.add(truth.view(), truth.view()).unwrap();
        let sum = s.summary(None);
        assert_eq!(sum.mse, 0.0);
        for (r, p) in sum.r_k.iter().zip(&sum.pk_ratio) {
            assert!((r - 1.0).abs() < 1e-12 && (p - 1.0).abs() < 1e-12);
        }
        assert!(sum.v1.rel_l1 < 1e-12);
        // An independent field of the same spectrum: r(k) ≈ 0, P ratio ≈ 1, MSE ≈ 2.
        let mut s = Scores::new(32, false).unwrap();
        for _ in 0..8 {
            let t = randn(&mut rng, (32, 32));
            let e = randn(&mut rng, (32, 32));
            s.add(e.view(), t.view()).unwrap();
        }
        let sum = s.summary(None);
        assert!((sum.mse - 2.0).abs() < 0.1, "{}", sum.mse);
        assert!(sum.r_high_k.abs() < 0.03, "{}", sum.r_high_k);
        assert!((sum.pk_ratio_high_k - 1.0).abs() < 0.05);
        // A scaled copy: r = 1 exactly, P ratio = scale².
        let mut s = Scores::new(32, false).unwrap();
        let t = randn(&mut rng, (32, 32));
        s.add((&t * 0.5).view(), t.view()).unwrap();
        let sum = s.summary(None);
        assert!(sum.r_k.iter().all(|r| (r - 1.0).abs() < 1e-12));
        assert!((sum.pk_ratio_high_k - 0.25).abs() < 1e-12);
    }

    #[test]
    fn mirror_extension_removes_edge_power() {
        // A smooth non-periodic ramp: as a torus it has a jump at the edge, whose power falls
        // only as k⁻²; mirrored it is a continuous triangle wave (k⁻⁴). The high-k band power
        // drops by orders of magnitude, while a scaled copy still scores P ratio = scale².
        let n = 32;
        let ramp = Array2::from_shape_fn((n, n), |(i, j)| (i + j) as f64 / n as f64);
        let hi = |mirror: bool| {
            let mut s = Scores::new(n, mirror).unwrap();
            s.add((&ramp * 0.5).view(), ramp.view()).unwrap();
            let sum = s.summary(None);
            assert!((sum.pk_ratio_high_k - 0.25).abs() < 1e-9);
            let kh = std::f64::consts::FRAC_PI_2;
            sum.k
                .iter()
                .zip(&sum.pk_true)
                .filter(|(k, _)| **k >= kh)
                .map(|(_, p)| p)
                .sum::<f64>()
        };
        assert!(hi(true) < 1e-2 * hi(false), "{} vs {}", hi(true), hi(false));
        let m = mirror(ramp.view());
        assert_eq!(m.dim(), (2 * n, 2 * n));
        assert_eq!(m[[2 * n - 1, 0]], ramp[[0, 0]]);
        assert_eq!(m[[n, n]], ramp[[n - 1, n - 1]]);
    }
}

/// The classical denoisers a diffusion posterior is scored against: the Wiener filter with the
/// signal spectrum of training patches (the exact posterior mean if the field were Gaussian) and
/// a Gaussian smoothing of the width that minimises the MSE on training patches
/// (`fields::filters`). With `mirror_ext`, non-periodic patches are filtered on their 2N×2N
/// mirror extension and cropped back.
pub struct Baselines {
    mirror: bool,
    spectrum: filters::SignalSpectrum,
    /// Training patches as the filters see them (mirrored when `mirror`).
    train: Array3<f64>,
}

impl Baselines {
    pub fn new(train: &Array3<f64>, mirror_ext: bool) -> Result<Self> {
        let train = if mirror_ext {
            let (p, n, _) = train.dim();
            let mut out = Array3::zeros((p, 2 * n, 2 * n));
            for i in 0..p {
                out.index_axis_mut(Axis(0), i)
                    .assign(&mirror(train.index_axis(Axis(0), i)));
            }
            out
        } else {
            train.clone()
        };
        let spectrum = filters::estimate_signal_spectrum(train.view())?;
        Ok(Self {
            mirror: mirror_ext,
            spectrum,
            train,
        })
    }
    fn prep(&self, y: ArrayView2<f64>) -> Array2<f64> {
        if self.mirror {
            mirror(y)
        } else {
            y.to_owned()
        }
    }
    fn crop(&self, x: Array2<f64>, n: usize) -> Array2<f64> {
        x.slice(s![..n, ..n]).to_owned()
    }
    pub fn wiener(&self, y: ArrayView2<f64>, sigma: f64) -> Result<Array2<f64>> {
        let f = filters::wiener_filter(
            self.prep(y).view(),
            self.spectrum.mode_var.view(),
            sigma,
            self.spectrum.mean,
        )?;
        Ok(self.crop(f, y.nrows()))
    }
    pub fn best_width(&self, sigma: f64, seed: u64) -> Result<f64> {
        Ok(filters::best_gaussian_sigma(self.train.view(), sigma, seed)?.sigma_px)
    }
    pub fn smooth(&self, y: ArrayView2<f64>, width: f64) -> Result<Array2<f64>> {
        Ok(self.crop(
            filters::gaussian_smooth(self.prep(y).view(), width)?,
            y.nrows(),
        ))
    }
}

/// One noise level: a fixed σ (trained units), or a signal-to-noise ratio per patch.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum Level {
    Sigma(f64),
    Snr(f64),
}

impl Level {
    pub fn label(&self) -> String {
        match self {
            Level::Sigma(s) => format!("sigma={s}"),
            Level::Snr(r) => format!("snr={r}"),
        }
    }
    /// σ (trained units) for a true patch.
    pub fn sigma_for(&self, truth: ArrayView2<f64>) -> f64 {
        match *self {
            Level::Sigma(s) => s,
            // σ = the true patch's pixel std / r.
            Level::Snr(r) => {
                let n = truth.len() as f64;
                let m = truth.sum() / n;
                (truth.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n).sqrt() / r
            }
        }
    }
}
