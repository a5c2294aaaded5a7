//! Classical denoising baselines for periodic N×N maps: Wiener filter, Gaussian smoothing with the
//! MSE-optimal width, signal-spectrum estimation from training patches, and the cross-correlation
//! coefficient r(k) between two maps.
//!
//! Fourier conventions (shared with `diffusion::analytic::GrfDenoiser` and docs/conventions.md §1):
//! `F_k = Σ_x f(x) e^{−2πi k·x/N}` (unnormalised forward DFT), integer wavenumbers with the
//! Nyquist index mapped to +N/2, and rfft layout [N, N/2+1] (kx = 0..N−1 along axis 0,
//! ky = 0..N/2 along axis 1). A **mode variance** is `E|F_k|²/N²` ("pixel units": white noise of
//! standard deviation σ per pixel has mode variance σ² at every k). A physical spectrum
//! P(k) [field²·(Mpc/h)²] measured with `P = (L/N²)² <|F|²>` in a box of side L [Mpc/h]
//! corresponds to mode variance `N² P(k)/L²` at k = 2π q/L, q = |(kx, ky)|.

use ndarray::{Array2, ArrayView2, ArrayView3, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use realfft::num_complex::Complex;
use stats::fft::FftPlan;
use stats::power_spectrum::wavenumber;

/// Errors from the filters.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FilterError {
    #[error("filters: {what} must be a square N×N map with N >= 2, got {rows}×{cols}")]
    NotSquare {
        what: &'static str,
        rows: usize,
        cols: usize,
    },
    #[error("filters: {what} has shape {got:?}, expected {want:?}")]
    ShapeMismatch {
        what: &'static str,
        got: Vec<usize>,
        want: Vec<usize>,
    },
    #[error("filters: {what} = {value} must be finite and {rule}")]
    BadValue {
        what: &'static str,
        value: f64,
        rule: &'static str,
    },
    #[error("filters: {0} contains NaN or infinite values")]
    NonFinite(&'static str),
    #[error("filters: {0} is empty")]
    Empty(&'static str),
}

pub type Result<T> = std::result::Result<T, FilterError>;

/// |k| in integer units for rfft index (a, c).
fn qmag(a: usize, c: usize, n: usize) -> f64 {
    let kx = wavenumber(a, n);
    ((kx * kx + (c * c) as i64) as f64).sqrt()
}

/// 2D transforms of N×N maps through the workspace's FFT plan (`stats::fft::FftPlan`).
struct Fft2 {
    n: usize,
    plan: FftPlan,
}

impl Fft2 {
    fn new(n: usize) -> Self {
        Self {
            n,
            plan: FftPlan::new(n),
        }
    }

    /// Unnormalised forward DFT, rfft layout [N, N/2+1].
    fn forward(&self, x: ArrayView2<f64>) -> Array2<Complex<f64>> {
        let mut real: Vec<f64> = x.iter().copied().collect();
        let spec = self.plan.forward_2d(&mut real);
        Array2::from_shape_vec((self.n, self.n / 2 + 1), spec).expect("plan sizes")
    }

    /// Inverse of [`Fft2::forward`] (including the 1/N² factor).
    fn inverse(&self, f: Array2<Complex<f64>>) -> Array2<f64> {
        let mut spec: Vec<Complex<f64>> = f.iter().copied().collect();
        let norm = 1.0 / (self.n * self.n) as f64;
        let out = self.plan.inverse_2d(&mut spec);
        Array2::from_shape_vec(
            (self.n, self.n),
            out.into_iter().map(|v| v * norm).collect(),
        )
        .expect("plan sizes")
    }

    /// Multiply the spectrum of `x` by a real gain per rfft mode and transform back.
    fn apply_gain(&self, x: ArrayView2<f64>, gain: impl Fn(usize, usize) -> f64) -> Array2<f64> {
        let mut f = self.forward(x);
        for ((a, c), v) in f.indexed_iter_mut() {
            *v *= gain(a, c);
        }
        self.inverse(f)
    }
}

fn check_square(what: &'static str, x: ArrayView2<f64>) -> Result<usize> {
    let (r, c) = x.dim();
    if r != c || r < 2 {
        return Err(FilterError::NotSquare {
            what,
            rows: r,
            cols: c,
        });
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(FilterError::NonFinite(what));
    }
    Ok(r)
}

fn check_positive(what: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(FilterError::BadValue {
            what,
            value,
            rule: "> 0",
        })
    }
}

/// Per-mode variance [N, N/2+1] in pixel units from a function of the integer wavenumber
/// magnitude q (> 0); the DC mode gets `dc_var`.
pub fn mode_variance_from_radial(n: usize, dc_var: f64, f: impl Fn(f64) -> f64) -> Array2<f64> {
    Array2::from_shape_fn((n, n / 2 + 1), |(a, c)| {
        let q = qmag(a, c, n);
        if q == 0.0 {
            dc_var
        } else {
            f(q)
        }
    })
}

/// Per-mode variance from a physical spectrum `pk(k)` [field²·(Mpc/h)²], k [h/Mpc], in a box of
/// side `box_size` [Mpc/h]: `N² P(2π q/L)/L²`. The DC mode gets `dc_var` (pixel units).
pub fn mode_variance_from_pk(
    n: usize,
    box_size: f64,
    dc_var: f64,
    pk: impl Fn(f64) -> f64,
) -> Array2<f64> {
    let scale = (n * n) as f64 / (box_size * box_size);
    mode_variance_from_radial(n, dc_var, |q| {
        scale * pk(2.0 * std::f64::consts::PI * q / box_size)
    })
}

/// Wiener filter of a periodic map `y = s + n`, white noise of standard deviation `noise_sigma`
/// per pixel (same units as y), signal with mean `mean` and per-mode variance `mode_var`
/// ([N, N/2+1], pixel units). Returns `mean + IDFT[ S_k/(S_k + σ²) · DFT(y − mean) ]`, the
/// posterior mean of s for a Gaussian signal.
pub fn wiener_filter(
    y: ArrayView2<f64>,
    mode_var: ArrayView2<f64>,
    noise_sigma: f64,
    mean: f64,
) -> Result<Array2<f64>> {
    let n = check_square("noisy map", y)?;
    check_positive("noise sigma", noise_sigma)?;
    let want = (n, n / 2 + 1);
    if mode_var.dim() != want {
        return Err(FilterError::ShapeMismatch {
            what: "mode variance",
            got: vec![mode_var.dim().0, mode_var.dim().1],
            want: vec![want.0, want.1],
        });
    }
    if mode_var.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(FilterError::NonFinite("mode variance (or negative values)"));
    }
    let s2 = noise_sigma * noise_sigma;
    let centred = y.mapv(|v| v - mean);
    let fft = Fft2::new(n);
    let out = fft.apply_gain(centred.view(), |a, c| {
        let s = mode_var[[a, c]];
        s / (s + s2)
    });
    Ok(out.mapv(|v| v + mean))
}

/// Signal statistics estimated from clean training patches.
#[derive(Clone, Debug)]
pub struct SignalSpectrum {
    /// Patch size N.
    pub n: usize,
    /// Mean over all patches and pixels.
    pub mean: f64,
    /// Per-mode variance [N, N/2+1] (pixel units), from the radial profile interpolated per mode;
    /// the DC entry is N²·Var(patch means).
    pub mode_var: Array2<f64>,
    /// Radial bins b = 1..: mode-averaged integer wavenumber q of each bin (bin b holds q ∈ [b, b+1)).
    pub q: Vec<f64>,
    /// Radial bins: mean mode variance (pixel units); `N²/L²` times this is not needed to filter,
    /// but `binned · L²/N²` is P(k) [field²·(Mpc/h)²] at k = 2π q/L.
    pub binned: Vec<f64>,
}

/// Estimate the signal's mean and per-mode variance from clean patches [P, N, N]: |DFT|²/N² of
/// each mean-subtracted patch (global mean), averaged over patches and radial bins of integer
/// width, then linearly interpolated in q to every mode (constant beyond the outermost bins).
pub fn estimate_signal_spectrum(patches: ArrayView3<f64>) -> Result<SignalSpectrum> {
    let (p, r, c) = patches.dim();
    if p == 0 {
        return Err(FilterError::Empty("training patches"));
    }
    let n = check_square("training patch", patches.index_axis(Axis(0), 0))?;
    debug_assert_eq!((r, c), (n, n));
    if patches.iter().any(|v| !v.is_finite()) {
        return Err(FilterError::NonFinite("training patches"));
    }
    let mean = patches.mean().expect("non-empty");
    let m = n / 2 + 1;
    let fft = Fft2::new(n);
    let mut power = Array2::<f64>::zeros((n, m));
    for patch in patches.axis_iter(Axis(0)) {
        let f = fft.forward(patch.mapv(|v| v - mean).view());
        power.zip_mut_with(&f, |acc, z| *acc += z.norm_sqr() / (n * n) as f64);
    }
    power.mapv_inplace(|v| v / p as f64);
    let nb = (qmag(n / 2, n / 2, n).floor() as usize) + 1;
    let (mut sq, mut sp, mut cnt) = (vec![0.0; nb], vec![0.0; nb], vec![0usize; nb]);
    for a in 0..n {
        for cc in 0..m {
            let q = qmag(a, cc, n);
            if q == 0.0 {
                continue;
            }
            let b = q.floor() as usize;
            sq[b] += q;
            sp[b] += power[[a, cc]];
            cnt[b] += 1;
        }
    }
    let (mut qs, mut bs) = (Vec::new(), Vec::new());
    for b in 1..nb {
        if cnt[b] > 0 {
            qs.push(sq[b] / cnt[b] as f64);
            bs.push(sp[b] / cnt[b] as f64);
        }
    }
    let interp = |q: f64| -> f64 {
        if q <= qs[0] {
            return bs[0];
        }
        let j = qs.partition_point(|&x| x < q);
        if j >= qs.len() {
            return *bs.last().expect("non-empty");
        }
        let w = (q - qs[j - 1]) / (qs[j] - qs[j - 1]);
        bs[j - 1] * (1.0 - w) + bs[j] * w
    };
    let mode_var = mode_variance_from_radial(n, power[[0, 0]], interp);
    Ok(SignalSpectrum {
        n,
        mean,
        mode_var,
        q: qs,
        binned: bs,
    })
}

/// Periodic Gaussian smoothing with standard deviation `sigma_px` pixels (transfer function
/// exp(−2π² σ² |k|²/N²), k integer wavenumbers). σ = 0 returns the input. Preserves the mean.
pub fn gaussian_smooth(x: ArrayView2<f64>, sigma_px: f64) -> Result<Array2<f64>> {
    let n = check_square("map", x)?;
    if !(sigma_px.is_finite() && sigma_px >= 0.0) {
        return Err(FilterError::BadValue {
            what: "smoothing sigma (pixels)",
            value: sigma_px,
            rule: ">= 0",
        });
    }
    if sigma_px == 0.0 {
        return Ok(x.to_owned());
    }
    let c = 2.0 * std::f64::consts::PI.powi(2) * sigma_px * sigma_px / (n * n) as f64;
    Ok(Fft2::new(n).apply_gain(x, |a, cc| (-c * qmag(a, cc, n).powi(2)).exp()))
}

/// The MSE-optimal Gaussian smoothing width on a training set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GaussianChoice {
    /// Smoothing standard deviation in pixels (0 = no smoothing).
    pub sigma_px: f64,
    /// Mean squared error per pixel at that width, over the training patches.
    pub mse: f64,
}

/// Pick the Gaussian smoothing σ (pixels) that minimises the mean squared error between the
/// smoothed noisy patch and the clean patch, over `train_clean` [P, N, N] with white Gaussian
/// noise of standard deviation `noise_sigma` added from ChaCha8(`seed`). Grid search over
/// σ ∈ {0} ∪ [0.1, N/4] (geometric, 40 points), then golden-section refinement inside the best
/// grid bracket. MSE is evaluated exactly in Fourier space (Parseval).
pub fn best_gaussian_sigma(
    train_clean: ArrayView3<f64>,
    noise_sigma: f64,
    seed: u64,
) -> Result<GaussianChoice> {
    check_positive("noise sigma", noise_sigma)?;
    let p = train_clean.dim().0;
    if p == 0 {
        return Err(FilterError::Empty("training patches"));
    }
    let n = check_square("training patch", train_clean.index_axis(Axis(0), 0))?;
    if train_clean.iter().any(|v| !v.is_finite()) {
        return Err(FilterError::NonFinite("training patches"));
    }
    let m = n / 2 + 1;
    let fft = Fft2::new(n);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Per mode (with its weight in the full plane): |Y|², |X|², Re(Y X*), summed over patches.
    let (mut yy, mut xx, mut yx) = (
        Array2::<f64>::zeros((n, m)),
        Array2::<f64>::zeros((n, m)),
        Array2::<f64>::zeros((n, m)),
    );
    for clean in train_clean.axis_iter(Axis(0)) {
        let noisy = clean.mapv(|v| {
            let e: f64 = StandardNormal.sample(&mut rng);
            v + noise_sigma * e
        });
        let fx = fft.forward(clean);
        let fy = fft.forward(noisy.view());
        for ((a, c), w) in yy.indexed_iter_mut() {
            *w += fy[[a, c]].norm_sqr();
            xx[[a, c]] += fx[[a, c]].norm_sqr();
            yx[[a, c]] += (fy[[a, c]] * fx[[a, c]].conj()).re;
        }
    }
    // rfft columns 1..N/2−1 stand for two modes each (±ky); 0 and N/2 (even N) for one.
    let weight = |c: usize| {
        if c == 0 || (n & 1 == 0 && c == n / 2) {
            1.0
        } else {
            2.0
        }
    };
    let norm = 1.0 / ((n * n) as f64 * (n * n) as f64 * p as f64);
    let mse = |s: f64| -> f64 {
        let cst = 2.0 * std::f64::consts::PI.powi(2) * s * s / (n * n) as f64;
        let mut tot = 0.0;
        for ((a, c), &y2) in yy.indexed_iter() {
            let g = (-cst * qmag(a, c, n).powi(2)).exp();
            tot += weight(c) * (g * g * y2 - 2.0 * g * yx[[a, c]] + xx[[a, c]]);
        }
        tot * norm
    };
    let mut grid = vec![0.0];
    let (lo, hi) = (0.1f64, (n as f64 / 4.0).max(0.2));
    for i in 0..40 {
        grid.push(lo * (hi / lo).powf(i as f64 / 39.0));
    }
    let vals: Vec<f64> = grid.iter().map(|&s| mse(s)).collect();
    let best = (0..grid.len())
        .min_by(|&i, &j| vals[i].total_cmp(&vals[j]))
        .expect("non-empty grid");
    let (mut a, mut b) = (
        grid[best.saturating_sub(1)],
        grid[(best + 1).min(grid.len() - 1)],
    );
    let phi = 0.5 * (5f64.sqrt() - 1.0);
    let (mut c, mut d) = (b - phi * (b - a), a + phi * (b - a));
    let (mut fc, mut fd) = (mse(c), mse(d));
    for _ in 0..40 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - phi * (b - a);
            fc = mse(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + phi * (b - a);
            fd = mse(d);
        }
    }
    let mid = 0.5 * (a + b);
    let (mut s_best, mut f_best) = (grid[best], vals[best]);
    let f_mid = mse(mid);
    if f_mid < f_best {
        s_best = mid;
        f_best = f_mid;
    }
    Ok(GaussianChoice {
        sigma_px: s_best,
        mse: f_best,
    })
}

/// Cross-correlation coefficient per radial bin.
#[derive(Clone, Debug, PartialEq)]
pub struct CrossCorrelation {
    /// Mode-averaged integer wavenumber of each bin (multiply by 2π/L for h/Mpc).
    pub q: Vec<f64>,
    /// r(k) = P_ab/sqrt(P_aa P_bb) ∈ [−1, 1] (NaN if a map has no power in the bin).
    pub r: Vec<f64>,
    /// Number of independent modes in each bin.
    pub nmodes: Vec<usize>,
}

/// r(k) between two N×N maps with the P(k) estimator's binning (docs/conventions.md §1: half-plane
/// modes, integer bins q ∈ [b, b+1), b = 1..floor(√2·N/2), DC dropped).
pub fn cross_correlation(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Result<CrossCorrelation> {
    let n = check_square("first map", a)?;
    let nb = check_square("second map", b)?;
    if nb != n {
        return Err(FilterError::ShapeMismatch {
            what: "second map",
            got: vec![nb, nb],
            want: vec![n, n],
        });
    }
    let fft = Fft2::new(n);
    let (fa, fb) = (fft.forward(a), fft.forward(b));
    let kmax = ((2.0f64).sqrt() * (n / 2) as f64).floor() as usize;
    let mut acc = vec![(0.0, 0.0, 0.0, 0.0, 0usize); kmax + 1];
    for ((i, c), za) in fa.indexed_iter() {
        let kx = wavenumber(i, n);
        if (c == 0 || (n & 1 == 0 && c == n / 2)) && kx < 0 {
            continue;
        }
        let bin = qmag(i, c, n).floor() as usize;
        if bin == 0 || bin > kmax {
            continue;
        }
        let zb = fb[[i, c]];
        let e = &mut acc[bin];
        e.0 += qmag(i, c, n);
        e.1 += (za * zb.conj()).re;
        e.2 += za.norm_sqr();
        e.3 += zb.norm_sqr();
        e.4 += 1;
    }
    let mut out = CrossCorrelation {
        q: vec![],
        r: vec![],
        nmodes: vec![],
    };
    for e in &acc[1..] {
        out.q.push(e.0 / e.4 as f64);
        out.r.push(e.1 / (e.2 * e.3).sqrt());
        out.nmodes.push(e.4);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;
    use std::f64::consts::PI;

    fn plane_wave(n: usize, amp: f64, kx: f64, ky: f64, offset: f64) -> Array2<f64> {
        Array2::from_shape_fn((n, n), |(i, j)| {
            offset + amp * (2.0 * PI * (kx * i as f64 + ky * j as f64) / n as f64 + 0.3).cos()
        })
    }

    fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    }

    fn noise_map(n: usize, seed: u64) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Array2::from_shape_fn((n, n), |_| StandardNormal.sample(&mut rng))
    }

    #[test]
    fn fft_round_trip_and_parseval() {
        let n = 12;
        let x = noise_map(n, 1);
        let fft = Fft2::new(n);
        let f = fft.forward(x.view());
        assert!(max_abs_diff(&fft.inverse(f.clone()), &x) < 1e-12);
        let e_real: f64 = x.iter().map(|v| v * v).sum();
        let e_four: f64 = f
            .indexed_iter()
            .map(|((_, c), z)| if c == 0 || c == n / 2 { 1.0 } else { 2.0 } * z.norm_sqr())
            .sum::<f64>()
            / (n * n) as f64;
        assert!((e_real / e_four - 1.0).abs() < 1e-12);
    }

    #[test]
    fn wiener_is_identity_without_noise() {
        let n = 16;
        let x = noise_map(n, 2);
        let mv = mode_variance_from_radial(n, 1.0, |q| 1.0 / (1.0 + q * q));
        let y = wiener_filter(x.view(), mv.view(), 1e-7, 0.2).unwrap();
        // Gain s/(s + σ²) ≥ 1 − σ²/min(s) ≈ 1 − 1e-14·(1 + q²).
        assert!(max_abs_diff(&x, &y) < 1e-10);
    }

    #[test]
    fn wiener_single_mode_analytic() {
        let n = 32;
        let (sigma, mean) = (0.8, 2.0);
        let s_of_q = |q: f64| 3.0 / (1.0 + (q / 4.0).powi(2));
        let mv = mode_variance_from_radial(n, 0.0, s_of_q);
        let y = plane_wave(n, 1.5, 3.0, 4.0, mean);
        let out = wiener_filter(y.view(), mv.view(), sigma, mean).unwrap();
        let s = s_of_q(5.0);
        let want = plane_wave(n, 1.5 * s / (s + sigma * sigma), 3.0, 4.0, mean);
        assert!(max_abs_diff(&out, &want) < 1e-12);
        // A physical spectrum maps to the same mode variances: N² P(2π q/L)/L².
        let l = 25.0;
        let mv2 = mode_variance_from_pk(n, l, 0.0, |k| {
            s_of_q(k * l / (2.0 * PI)) * l * l / (n * n) as f64
        });
        assert!(mv.iter().zip(&mv2).all(|(a, b)| (a - b).abs() < 1e-12));
    }

    #[test]
    fn gaussian_smoothing_mean_and_transfer() {
        let n = 32;
        let y = plane_wave(n, 1.0, 2.0, 5.0, 0.7);
        let s = 1.7;
        let out = gaussian_smooth(y.view(), s).unwrap();
        assert!((out.mean().unwrap() - 0.7).abs() < 1e-12);
        let g = (-2.0 * PI * PI * s * s * 29.0 / (n * n) as f64).exp();
        assert!(max_abs_diff(&out, &plane_wave(n, g, 2.0, 5.0, 0.7)) < 1e-12);
        let x = noise_map(n, 4);
        let sm = gaussian_smooth(x.view(), 2.5).unwrap();
        assert!((sm.mean().unwrap() - x.mean().unwrap()).abs() < 1e-12);
        assert_eq!(gaussian_smooth(x.view(), 0.0).unwrap(), x);
    }

    #[test]
    fn spectrum_estimate_of_white_noise() {
        let (p, n, v) = (64usize, 16usize, 0.25f64);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let patches = Array3::from_shape_fn((p, n, n), |_| {
            let e: f64 = StandardNormal.sample(&mut rng);
            1.0 + v.sqrt() * e
        });
        let est = estimate_signal_spectrum(patches.view()).unwrap();
        assert!((est.mean - 1.0).abs() < 4.0 * (v / (p * n * n) as f64).sqrt());
        // Each bin averages ≥ 4 modes × 64 patches of exponential variables with mean v.
        for (b, &pb) in est.binned.iter().enumerate() {
            assert!(
                (pb / v - 1.0).abs() < 4.0 / (4.0 * p as f64).sqrt(),
                "bin {b}: {pb}"
            );
        }
        assert!(est
            .mode_var
            .iter()
            .skip(1)
            .all(|m| (m / v - 1.0).abs() < 0.3));
    }

    #[test]
    fn best_sigma_minimises_mse() {
        // Smooth signal (Gaussian-smoothed white noise, width 2 px) plus unit noise.
        let (p, n) = (16, 32);
        let mut patches = Array3::zeros((p, n, n));
        for i in 0..p {
            let s = gaussian_smooth(noise_map(n, 100 + i as u64).view(), 2.0).unwrap();
            patches
                .index_axis_mut(Axis(0), i)
                .assign(&s.mapv(|v| 5.0 * v));
        }
        let sigma = 1.0;
        let best = best_gaussian_sigma(patches.view(), sigma, 3).unwrap();
        assert!(best.sigma_px > 0.3 && best.sigma_px < 8.0, "{best:?}");
        // Recompute the MSE directly in real space with the same noise.
        let direct = |s: f64| {
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            let mut tot = 0.0;
            for clean in patches.axis_iter(Axis(0)) {
                let noisy = clean.mapv(|v| {
                    let e: f64 = StandardNormal.sample(&mut rng);
                    v + sigma * e
                });
                let sm = gaussian_smooth(noisy.view(), s).unwrap();
                tot += (&sm - &clean).mapv(|d| d * d).sum();
            }
            tot / (p * n * n) as f64
        };
        let at = direct(best.sigma_px);
        assert!(
            (at / best.mse - 1.0).abs() < 1e-9,
            "Parseval MSE {} vs {at}",
            best.mse
        );
        for f in [0.0, 0.9, 1.1] {
            assert!(direct(best.sigma_px * f) >= at - 1e-12, "factor {f}");
        }
        assert!(at < sigma * sigma, "smoothing must beat the raw noisy map");
    }

    #[test]
    fn cross_correlation_limits() {
        let n = 32;
        let a = noise_map(n, 5);
        let cc = cross_correlation(a.view(), a.mapv(|v| 3.0 * v + 1.0).view()).unwrap();
        assert_eq!(cc.r.len(), 22);
        assert_eq!(cc.nmodes.iter().sum::<usize>(), (n * n - 4) / 2 + 3);
        assert!(cc.r.iter().all(|r| (r - 1.0).abs() < 1e-12));
        let neg = cross_correlation(a.view(), a.mapv(|v| -v).view()).unwrap();
        assert!(neg.r.iter().all(|r| (r + 1.0).abs() < 1e-12));
        // Independent maps: mean r over bins ~ 0 within 4/sqrt(total modes).
        let b = noise_map(n, 6);
        let ind = cross_correlation(a.view(), b.view()).unwrap();
        let w: f64 = ind
            .r
            .iter()
            .zip(&ind.nmodes)
            .map(|(r, &k)| r * k as f64)
            .sum::<f64>()
            / ind.nmodes.iter().sum::<usize>() as f64;
        assert!(w.abs() < 4.0 / (510f64).sqrt(), "{w}");
    }

    #[test]
    fn bad_input_errors() {
        let x = Array2::<f64>::zeros((4, 5));
        let mv = Array2::<f64>::ones((4, 3));
        assert!(matches!(
            wiener_filter(x.view(), mv.view(), 1.0, 0.0),
            Err(FilterError::NotSquare { .. })
        ));
        let y = Array2::<f64>::zeros((4, 4));
        assert!(matches!(
            wiener_filter(y.view(), mv.view(), 0.0, 0.0),
            Err(FilterError::BadValue { .. })
        ));
        assert!(matches!(
            wiener_filter(y.view(), Array2::ones((4, 4)).view(), 1.0, 0.0),
            Err(FilterError::ShapeMismatch { .. })
        ));
        let mut z = y.clone();
        z[[1, 1]] = f64::NAN;
        assert_eq!(
            gaussian_smooth(z.view(), 1.0),
            Err(FilterError::NonFinite("map"))
        );
        assert!(gaussian_smooth(y.view(), -1.0).is_err());
        let empty = ndarray::Array3::<f64>::zeros((0, 4, 4));
        assert!(estimate_signal_spectrum(empty.view()).is_err());
    }
}
