//! The model's log-likelihood of a field: the variational lower bound (VLB) of Ho et al. (2020,
//! eq. 5), summed over every timestep, with common random numbers so that it is a smooth
//! function of whatever the denoiser is conditioned on. This is what parameter inference uses
//! (issue 13; the seed paper's follow-up, Diffusion-HMC, arXiv 2405.05255, does the same with
//! the first 20 timesteps).
//!
//! Conventions (0-based steps t = 0..T−1 of [`NoiseSchedule`]; x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε):
//!
//! * **Units**: nats, of the field in the model's normalised units, summed over its d = C·H·W
//!   values. A θ-independent affine normalisation only adds a constant, which a posterior ignores.
//! * **Bound**: log p(x_0) ≥ −(L_prior + Σ_{t≥1} L_t + L_0), with
//!   L_prior = KL(q(x_{T−1}|x_0) ‖ N(0, I)) = ½ Σ (ᾱ x_0² + (1−ᾱ) − 1 − ln(1−ᾱ)) at ᾱ = ᾱ_{T−1};
//!   L_t = KL(q(x_{t−1}|x_t, x_0) ‖ N(μ_θ(x_t), σ_t²)) = d/2 (r − 1 − ln r) plus
//!   β_t²/(2σ_t² α_t (1−ᾱ_t)) ‖ε − ε̂(x_t, t)‖², r = β̃_t/σ_t²;
//!   L_0 = −ln N(x_0; μ_θ(x_0-step), σ_0²) = d/2 ln(2πσ_0²) + β_0/(2α_0σ_0²) ‖ε − ε̂‖²
//!   (a Gaussian decoder: the fields are continuous, not 8-bit images).
//! * **Reverse variance** ([`ReverseVariance`]): `Large` (σ_t² = β_t, σ_0² = β_0; default) or
//!   `Small` (σ_t² = β̃_t, σ_0² = β̃_1). For a Gaussian field with the exact denoiser and the
//!   paper's schedule, the expected bound is below log p by ≤ 0.014 nats per Fourier mode of
//!   variance λ ∈ [10⁻², 10²] (in normalised units) with `Large` (0 at λ = 1, where the
//!   forward process is stationary and the reverse kernel is exactly N(√α_t x_t, β_t)), and by
//!   0.46–0.53 nats per mode with `Small`, whose error in the |x̂_k|² coefficient is also
//!   larger (+7 % at λ = 10⁻², against −1.8 % for `Large`; table in docs/emulator.md).
//! * **Monte Carlo**: one ε per timestep and field (or `draws` of them, averaged), generated
//!   once from [`derive_seed`]`(seed, [field])` and reused for every denoiser the estimator is
//!   asked about (common random numbers): the bound's noise then moves with θ only through the
//!   denoiser, so a grid or a sampler sees a smooth surface. That noise shifts a posterior
//!   rather than widening it; [`VlbEstimator::log_likelihood_draws`] gives each draw's bound
//!   alone, so that their spread measures it (`pipeline::infer`).
//! * **Truncation**: `t_max = Some(k)` keeps only L_0..L_{k−1} (no prior term). It is not a
//!   bound on log p any more; what it does to a posterior is measured in tests/likelihood.rs.
//! * **Stride**: `stride = s > 1` evaluates the network at one timestep per block of s
//!   consecutive t ≥ 1 (the block's middle) and counts that term s times (the last block its
//!   length): a midpoint rule for the sum over t, s times cheaper. L_0 and every θ-independent
//!   term stay exact. What it costs in bias and width is measured in tests/likelihood.rs.

use crate::error::{bail, ensure, Result};
use crate::sampler::{Denoiser, NoiseRng};
use crate::schedule::NoiseSchedule;
use fields::rng::derive_seed;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// The variance of the model's reverse kernels p(x_{t−1} | x_t) in the bound.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReverseVariance {
    /// σ_t² = β̃_t (the posterior variance; the DDPM sampler's). Looser bound.
    Small,
    /// σ_t² = β_t, decoder σ_0² = β_0: the tighter bound for fields of order-one variance.
    #[default]
    Large,
}

impl std::str::FromStr for ReverseVariance {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "small" => Ok(Self::Small),
            "large" => Ok(Self::Large),
            _ => bail!("unknown reverse variance {s:?} (expected small or large)"),
        }
    }
}

/// Settings of the bound.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct VlbConfig {
    pub variance: ReverseVariance,
    /// Keep only the first `t_max` timesteps (None: all T, the full bound).
    pub t_max: Option<usize>,
    /// ε draws per timestep and field, averaged (≥ 1).
    pub draws: usize,
    /// One network call per block of this many timesteps t ≥ 1, weighted by the block's
    /// length (module docs; 1 = every timestep).
    #[serde(default = "one")]
    pub stride: usize,
    /// Seed of the common random numbers (recorded by whoever writes the result).
    pub seed: u64,
    /// Rows (field × draw × timestep) per denoiser call; bounds memory, not the result.
    pub chunk: usize,
}

impl Default for VlbConfig {
    fn default() -> Self {
        Self {
            variance: ReverseVariance::Large,
            t_max: None,
            draws: 1,
            stride: 1,
            seed: 0,
            chunk: 4096,
        }
    }
}

fn one() -> usize {
    1
}

impl VlbConfig {
    /// The timesteps the network is evaluated at and how many terms of the sum each stands for
    /// (t = 0 once, then one per block of `stride`; module docs), after checking the settings.
    pub fn evaluated_steps(&self, schedule: &NoiseSchedule) -> Result<Vec<(usize, f64)>> {
        let steps = self.checked_steps(schedule)?;
        let mut out = vec![(0usize, 1.0)];
        let mut start = 1;
        while start < steps {
            let len = self.stride.min(steps - start);
            out.push((start + (len - 1) / 2, len as f64));
            start += len;
        }
        Ok(out)
    }

    /// The number of timesteps the bound sums over, after checking the settings against `schedule`.
    pub fn checked_steps(&self, schedule: &NoiseSchedule) -> Result<usize> {
        let t_n = schedule.timesteps();
        ensure!(
            self.draws >= 1,
            "likelihood: draws = 0: give at least 1 noise draw per timestep"
        );
        ensure!(
            self.chunk >= 1,
            "likelihood: chunk = 0: give at least 1 row per denoiser call"
        );
        ensure!(
            self.stride >= 1,
            "likelihood: stride = 0: give at least 1 (1 = every timestep)"
        );
        match self.t_max {
            Some(k) if k == 0 || k > t_n => {
                bail!("likelihood: t_max = {k} is outside 1..={t_n} (the schedule's T)")
            }
            Some(k) => Ok(k),
            None => Ok(t_n),
        }
    }
}

/// The bound for a fixed set of fields, ready to be evaluated for any number of denoisers.
pub struct VlbEstimator {
    /// [B, C, H, W] in f64 (x_t is formed in f64), and the float kind the denoiser is given.
    x0: Tensor,
    kind: Kind,
    /// [B·draws·steps, C, H, W] f32, rows ordered field, then draw, then timestep.
    noise: Tensor,
    /// Timestep of every row, i64.
    t_rows: Tensor,
    /// Field of every row, i64.
    b_rows: Tensor,
    /// √ᾱ_t and √(1−ᾱ_t) of every row, f64 [rows, 1, 1, 1].
    sab_rows: Tensor,
    s1m_rows: Tensor,
    /// Weight of ‖ε − ε̂‖² in every row's term (already divided by `draws`), f64 [rows].
    w_rows: Tensor,
    /// The θ-independent part of each field's −bound (prior, variance-mismatch and decoder terms).
    constant: Vec<f64>,
    rows_per_field: usize,
    draws: usize,
    chunk: usize,
}

impl VlbEstimator {
    /// Prepare the bound of the fields `x0` [B, C, H, W] (any float kind, any device) under
    /// `schedule`: draws the common random numbers and the θ-independent terms.
    pub fn new(schedule: &NoiseSchedule, x0: &Tensor, cfg: &VlbConfig) -> Result<Self> {
        let steps = cfg.checked_steps(schedule)?;
        let sz = x0.size();
        ensure!(
            sz.len() == 4 && sz[0] >= 1 && sz[1..].iter().all(|&s| s >= 1),
            "likelihood: fields must be [B, C, H, W] with B >= 1, got {sz:?}"
        );
        ensure!(
            matches!(x0.kind(), Kind::Float | Kind::Double),
            "likelihood: fields must be float32 or float64, got {:?}",
            x0.kind()
        );
        let dev = x0.device();
        let (n_b, item) = (sz[0] as usize, &sz[1..]);
        let d: f64 = item.iter().product::<i64>() as f64;
        let x0d = x0.to_kind(Kind::Double);
        if x0d.isfinite().all().int64_value(&[]) == 0 {
            bail!("likelihood: the fields hold a NaN or infinite value");
        }

        let t_n = schedule.timesteps();
        let (betas, alphas, ab) = (&schedule.betas, &schedule.alphas, &schedule.alphas_cumprod);
        let sigma2: Vec<f64> = (0..steps)
            .map(|t| match (cfg.variance, t) {
                (ReverseVariance::Large, _) => betas[t],
                (ReverseVariance::Small, 0) => schedule.posterior_variance[1],
                (ReverseVariance::Small, _) => schedule.posterior_variance[t],
            })
            .collect();
        let weight: Vec<f64> = (0..steps)
            .map(|t| betas[t] * betas[t] / (2.0 * sigma2[t] * alphas[t] * (1.0 - ab[t])))
            .collect();
        // θ-independent terms common to every field: variance mismatch and the decoder's
        // normaliser; then the prior term, which depends on the field only.
        let mut common = 0.5 * d * (2.0 * std::f64::consts::PI * sigma2[0]).ln();
        for (pv, s2) in schedule.posterior_variance[1..steps]
            .iter()
            .zip(&sigma2[1..])
        {
            let r = pv / s2;
            common += 0.5 * d * (r - 1.0 - r.ln());
        }
        let x0_sq: Vec<f64> = Vec::<f64>::try_from(
            &x0d.square()
                .sum_dim_intlist([1i64, 2, 3].as_slice(), false, Kind::Double)
                .to_device(Device::Cpu),
        )?;
        let constant = x0_sq
            .iter()
            .map(|&s| {
                if steps == t_n {
                    let a = ab[t_n - 1];
                    common + 0.5 * (a * s + d * ((1.0 - a) - 1.0 - (1.0 - a).ln()))
                } else {
                    common
                }
            })
            .collect();

        let draws = cfg.draws;
        let evaluated = cfg.evaluated_steps(schedule)?;
        let n_eval = evaluated.len();
        let rows_per_field = draws * n_eval;
        let mut noise = Vec::with_capacity(n_b);
        let mut shape = vec![rows_per_field as i64];
        shape.extend_from_slice(item);
        for b in 0..n_b {
            let mut rng = NoiseRng::new(derive_seed(cfg.seed, &[b as u64]));
            noise.push(rng.randn(&shape, dev, Kind::Float));
        }
        let noise = Tensor::cat(&noise, 0);
        let t_of_row: Vec<i64> = (0..n_b * rows_per_field)
            .map(|r| evaluated[r % n_eval].0 as i64)
            .collect();
        let b_of_row: Vec<i64> = (0..n_b * rows_per_field)
            .map(|r| (r / rows_per_field) as i64)
            .collect();
        let t_rows = Tensor::from_slice(&t_of_row).to_device(dev);
        let b_rows = Tensor::from_slice(&b_of_row).to_device(dev);
        let like = Tensor::zeros([1i64, 1, 1, 1], (Kind::Double, dev));
        let sab_rows = NoiseSchedule::gather(&schedule.sqrt_alphas_cumprod, &t_rows, &like);
        let s1m_rows =
            NoiseSchedule::gather(&schedule.sqrt_one_minus_alphas_cumprod, &t_rows, &like);
        let w: Vec<f64> = (0..n_b * rows_per_field)
            .map(|r| {
                let (t, count) = evaluated[r % n_eval];
                weight[t] * count / draws as f64
            })
            .collect();
        let w_rows = Tensor::from_slice(&w).to_device(dev);
        Ok(Self {
            x0: x0d,
            kind: x0.kind(),
            noise,
            t_rows,
            b_rows,
            sab_rows,
            s1m_rows,
            w_rows,
            constant,
            rows_per_field,
            draws,
            chunk: cfg.chunk,
        })
    }

    /// Number of fields.
    pub fn n_fields(&self) -> usize {
        self.constant.len()
    }

    /// The bound on log p(x_0) of every field under `denoiser`, in nats (higher is more likely).
    pub fn log_likelihood(&self, denoiser: &dyn Denoiser) -> Result<Vec<f64>> {
        let weighted = self.weighted_errors(denoiser)?;
        let per_field = weighted
            .view([self.n_fields() as i64, self.rows_per_field as i64])
            .sum_dim_intlist([1i64].as_slice(), false, Kind::Double);
        self.finish(&per_field)
    }

    /// As [`log_likelihood`](Self::log_likelihood), one value per field and noise draw
    /// ([field][draw]): each is the bound estimated from that draw alone, and their mean over
    /// draws is the averaged bound (up to rounding). Their spread is the Monte Carlo error that
    /// averaging leaves, which `pipeline::infer` adds to a posterior's width.
    pub fn log_likelihood_draws(&self, denoiser: &dyn Denoiser) -> Result<Vec<Vec<f64>>> {
        let draws = self.draws as i64;
        let weighted = self.weighted_errors(denoiser)?;
        // Rows are field, then draw, then timestep; each row's weight was divided by `draws`.
        let per_draw = weighted
            .view([
                self.n_fields() as i64 * draws,
                self.rows_per_field as i64 / draws,
            ])
            .sum_dim_intlist([1i64].as_slice(), false, Kind::Double)
            * (draws as f64);
        let v = Vec::<f64>::try_from(&per_draw.to_device(Device::Cpu))?;
        ensure!(
            v.iter().all(|x| x.is_finite()),
            "likelihood: the denoiser's prediction is not finite"
        );
        Ok(v.chunks(self.draws)
            .zip(&self.constant)
            .map(|(ws, c)| ws.iter().map(|w| -(c + w)).collect())
            .collect())
    }

    /// The weighted ‖ε − ε̂‖² of every row under `denoiser`, f64 [rows].
    fn weighted_errors(&self, denoiser: &dyn Denoiser) -> Result<Tensor> {
        let rows = self.t_rows.size()[0];
        let mut weighted = Vec::new();
        let mut start = 0i64;
        while start < rows {
            let len = (self.chunk as i64).min(rows - start);
            let eps = self.noise.narrow(0, start, len).to_kind(Kind::Double);
            let b = self.b_rows.narrow(0, start, len);
            let x_t = self.x0.index_select(0, &b) * self.sab_rows.narrow(0, start, len)
                + &eps * self.s1m_rows.narrow(0, start, len);
            let t = self.t_rows.narrow(0, start, len);
            let eps_hat = tch::no_grad(|| denoiser.predict_eps(&x_t.to_kind(self.kind), &t));
            ensure!(
                eps_hat.size() == eps.size(),
                "likelihood: the denoiser returned shape {:?} for input {:?}",
                eps_hat.size(),
                eps.size()
            );
            let err = (eps - eps_hat.to_kind(Kind::Double))
                .square()
                .sum_dim_intlist([1i64, 2, 3].as_slice(), false, Kind::Double);
            weighted.push(err * self.w_rows.narrow(0, start, len));
            start += len;
        }
        Ok(Tensor::cat(&weighted, 0))
    }

    fn finish(&self, per_field: &Tensor) -> Result<Vec<f64>> {
        let v = Vec::<f64>::try_from(&per_field.to_device(Device::Cpu))?;
        ensure!(
            v.iter().all(|x| x.is_finite()),
            "likelihood: the denoiser's prediction is not finite"
        );
        Ok(v.iter()
            .zip(&self.constant)
            .map(|(w, c)| -(c + w))
            .collect())
    }
}
