//! Exact noise predictors for Gaussian data, used to test samplers and inverse problems without
//! any training. For Gaussian x_0, E[ε | x_t] is linear in x_t and known in closed form.

use crate::sampler::{Denoiser, NoiseRng};
use crate::schedule::NoiseSchedule;
use stats::power_spectrum::wavenumber;
use tch::{Device, Kind, Tensor};

/// Data x_0 ~ N(μ, σ_d²) independently per pixel. The exact predictor is
/// `ε̂ = sqrt(1 − ᾱ)(x_t − sqrt(ᾱ) μ)/(ᾱ σ_d² + 1 − ᾱ)`.
#[derive(Clone, Debug)]
pub struct GaussianDenoiser {
    pub mean: f64,
    pub std: f64,
    alphas_cumprod: Vec<f64>,
}

impl GaussianDenoiser {
    pub fn new(schedule: &NoiseSchedule, mean: f64, std: f64) -> Self {
        Self {
            mean,
            std,
            alphas_cumprod: schedule.alphas_cumprod.clone(),
        }
    }
}

impl Denoiser for GaussianDenoiser {
    fn predict_eps(&self, x_t: &Tensor, t: &Tensor) -> Tensor {
        let x = x_t.to_kind(Kind::Double);
        let ab = NoiseSchedule::gather(&self.alphas_cumprod, t, &x);
        let one_minus: Tensor = ab.ones_like() - &ab;
        let num = one_minus.sqrt() * (&x - ab.sqrt() * self.mean);
        let den = &ab * (self.std * self.std) + &one_minus;
        (num / den).to_kind(x_t.kind())
    }
}

/// A periodic Gaussian random field on an N×N grid (mean μ, independent Fourier modes).
///
/// Mode variances are stored in "pixel units": `mode_var[kx][ky] = E|F_k|²/N²` for the
/// unnormalised DFT `F_k = Σ f e^{−2πi k·x/N}` (rfft layout: kx = 0..N−1 along axis 0,
/// ky = 0..N/2 along axis 1). White noise of unit variance per pixel has mode_var ≡ 1.
/// With the project's P(k) estimator `P = (L/N²)² <|F|²>` (docs/conventions.md §1), a physical
/// spectrum P(k) [field²·(Mpc/h)²] in a box of side L [Mpc/h] gives `mode_var = N² P(k)/L²`.
///
/// The exact predictor is the per-mode Wiener filter
/// `ε̂_k = sqrt(1 − ᾱ) X_k /(ᾱ s_k² + 1 − ᾱ)` applied to X = DFT(x_t − sqrt(ᾱ) μ).
#[derive(Clone, Debug)]
pub struct GrfDenoiser {
    pub n: usize,
    pub mean: f64,
    /// Row-major [N, N/2+1] per-mode variances (pixel units, see above).
    pub mode_var: Vec<f64>,
    alphas_cumprod: Vec<f64>,
}

impl GrfDenoiser {
    /// From per-mode variances in pixel units, row-major [N, N/2+1].
    pub fn from_mode_variance(
        schedule: &NoiseSchedule,
        n: usize,
        mean: f64,
        mode_var: Vec<f64>,
    ) -> Self {
        assert_eq!(
            mode_var.len(),
            n * (n / 2 + 1),
            "mode_var must be [N, N/2+1]"
        );
        assert!(mode_var.iter().all(|v| v.is_finite() && *v >= 0.0));
        Self {
            n,
            mean,
            mode_var,
            alphas_cumprod: schedule.alphas_cumprod.clone(),
        }
    }

    /// From a physical isotropic spectrum `pk(k)` with k = 2π q/L [h/Mpc], q the integer
    /// wavenumber magnitude, box side `box_size` L [Mpc/h]. The DC mode gets variance
    /// `dc_var` (pixel units; 0 fixes the field mean at μ).
    pub fn from_power(
        schedule: &NoiseSchedule,
        n: usize,
        box_size: f64,
        mean: f64,
        dc_var: f64,
        pk: impl Fn(f64) -> f64,
    ) -> Self {
        let m = n / 2 + 1;
        let mut v = vec![0.0; n * m];
        for a in 0..n {
            for c in 0..m {
                let q = ((wavenumber(a, n).pow(2) + wavenumber(c, n).pow(2)) as f64).sqrt();
                v[a * m + c] = if q == 0.0 {
                    dc_var
                } else {
                    let k = 2.0 * std::f64::consts::PI * q / box_size;
                    (n * n) as f64 * pk(k) / (box_size * box_size)
                };
            }
        }
        Self::from_mode_variance(schedule, n, mean, v)
    }

    /// The exact log density of fields `x0` [B, …, N, N] under this field, in nats, one value per
    /// leading index (summed over any channel axis): the field's covariance is circulant with
    /// eigenvalues `mode_var`, so with the unitary DFT Y = F/N,
    /// `ln p = −½ Σ_k |Y_k|²/λ_k − ½ Σ_k ln(2π λ_k)` over all N² modes (the rfft half counted
    /// twice except its ky = 0 and ky = N/2 columns). Every λ_k must be > 0 (else the density is
    /// degenerate and this returns an error).
    pub fn log_density(&self, x0: &Tensor) -> crate::Result<Vec<f64>> {
        let n = self.n as i64;
        let sz = x0.size();
        if sz.len() < 3 || sz[sz.len() - 1] != n || sz[sz.len() - 2] != n {
            return Err(crate::Error::invalid(format!(
                "log_density: expected [B, ..., {n}, {n}], got {sz:?}"
            )));
        }
        if self.mode_var.iter().any(|v| *v <= 0.0) {
            return Err(crate::Error::invalid(
                "log_density: a mode has zero variance, so the field has no density",
            ));
        }
        let m = self.n / 2 + 1;
        let mult: Vec<f64> = (0..self.n * m)
            .map(|i| {
                let c = i % m;
                if c == 0 || (self.n.is_multiple_of(2) && c == m - 1) {
                    1.0
                } else {
                    2.0
                }
            })
            .collect();
        let log_det: f64 = self
            .mode_var
            .iter()
            .zip(&mult)
            .map(|(v, w)| w * (2.0 * std::f64::consts::PI * v).ln())
            .sum();
        let dev = x0.device();
        let mult = Tensor::from_slice(&mult).view([n, m as i64]).to_device(dev);
        let var = self.mode_var_tensor(dev);
        let x = x0.to_kind(Kind::Double) - self.mean;
        let f = x.fft_rfft2(None::<&[i64]>, [-2i64, -1], "ortho");
        let quad = (f.abs().square() / &var * &mult)
            .flatten(1, -1)
            .sum_dim_intlist([1i64].as_slice(), false, Kind::Double);
        let channels: i64 = sz[1..sz.len() - 2].iter().product();
        let quad = Vec::<f64>::try_from(&quad.to_device(Device::Cpu))?;
        Ok(quad
            .iter()
            .map(|q| -0.5 * q - 0.5 * channels as f64 * log_det)
            .collect())
    }

    fn mode_var_tensor(&self, dev: Device) -> Tensor {
        Tensor::from_slice(&self.mode_var)
            .view([self.n as i64, (self.n / 2 + 1) as i64])
            .to_device(dev)
    }

    /// Apply a per-mode real gain `g(s_k²)` (broadcast over leading dims) to `x` in Fourier space.
    fn filter(&self, x: &Tensor, gain: &Tensor) -> Tensor {
        let n = self.n as i64;
        let f = x.fft_rfft2(None::<&[i64]>, [-2i64, -1], "backward");
        (f * gain).fft_irfft2(Some([n, n].as_slice()), [-2i64, -1], "backward")
    }

    /// Draw `count` exact samples of the field, shape [count, 1, N, N], float32 on `device`:
    /// white noise filtered by sqrt(mode_var), plus the mean.
    pub fn sample_prior(&self, count: i64, rng: &mut NoiseRng, device: Device) -> Tensor {
        let n = self.n as i64;
        let w = rng.randn(&[count, 1, n, n], device, Kind::Double);
        let g = self.mode_var_tensor(device).sqrt();
        (self.filter(&w, &g) + self.mean).to_kind(Kind::Float)
    }
}

impl Denoiser for GrfDenoiser {
    fn predict_eps(&self, x_t: &Tensor, t: &Tensor) -> Tensor {
        let n = self.n as i64;
        let sz = x_t.size();
        assert!(
            sz.len() >= 2 && sz[sz.len() - 1] == n && sz[sz.len() - 2] == n,
            "GrfDenoiser: expected [..., {n}, {n}], got {sz:?}"
        );
        let x = x_t.to_kind(Kind::Double);
        let ab = NoiseSchedule::gather(&self.alphas_cumprod, t, &x);
        let s2 = self.mode_var_tensor(x.device());
        // gain[b, …, kx, ky] = sqrt(1 − ᾱ_b)/(ᾱ_b s² + 1 − ᾱ_b)
        let one_minus: Tensor = ab.ones_like() - &ab;
        let gain = one_minus.sqrt() / (&ab * &s2 + &one_minus);
        self.filter(&(&x - ab.sqrt() * self.mean), &gain)
            .to_kind(x_t.kind())
    }
}
