//! Noise schedules of the variance-preserving diffusion process, all arithmetic in f64.
//!
//! Conventions (the ones every other module uses):
//! * Timesteps are 0-based indices `t = 0..T-1`; `t = 0` is the least noisy state.
//! * Forward process: `x_t = sqrt(ᾱ_t) x_0 + sqrt(1 − ᾱ_t) ε`, `ε ~ N(0, I)`, with
//!   `ᾱ_t = Π_{s ≤ t} (1 − β_s)`; the state "before" `t = 0` is the data itself (`ᾱ_{−1} = 1`).
//! * The noise-to-signal ratio `σ_t = sqrt((1 − ᾱ_t)/ᾱ_t)` is the standard deviation of white
//!   noise added to the data in the data's own (normalised) units that `x_t / sqrt(ᾱ_t)` carries:
//!   `x_t / sqrt(ᾱ_t) = x_0 + σ_t ε`. Inverse problems use it to pick the matching step.
//!
//! The per-step tables are plain `Vec<f64>`; tensor helpers gather them per batch item and cast
//! to the tensor's dtype only at the end, so the schedule itself is never rounded to f32.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// Errors from building or querying a schedule.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ScheduleError {
    #[error("noise schedule: timesteps must be at least 2, got {0}")]
    TooFewSteps(usize),
    #[error("noise schedule: timesteps = {0} is above the limit of {MAX_TIMESTEPS} (the paper uses 2000)")]
    TooManySteps(usize),
    #[error("noise schedule: need 0 < beta_start ({start}) <= beta_end ({end}) < 1")]
    BadBetas { start: f64, end: f64 },
    #[error("noise level sigma = {0} must be finite and > 0")]
    BadSigma(f64),
    #[error(
        "noise level sigma = {sigma} exceeds the schedule's maximum noise-to-signal ratio {max} \
         (at t = {t_max}); the model cannot represent that much noise"
    )]
    SigmaTooLarge { sigma: f64, max: f64, t_max: usize },
}

/// Shape of the β sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// β linearly spaced from `beta_start` to `beta_end` inclusive (Ho et al. 2020; the seed paper
    /// uses 1e-4 → 2e-2 with T = 2000).
    Linear,
    /// Nichol & Dhariwal (2021) cosine schedule: `ᾱ(t) = f(t)/f(0)`,
    /// `f(t) = cos²(((t/T) + s)/(1 + s) · π/2)` with s = 0.008, β clipped at 0.999.
    /// `beta_start`/`beta_end` are ignored.
    Cosine,
}

/// Serialisable description of a schedule (stored in configs and checkpoints).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduleConfig {
    pub kind: ScheduleKind,
    /// Number of diffusion steps T.
    pub timesteps: usize,
    /// First β (linear schedule only).
    #[serde(default = "default_beta_start")]
    pub beta_start: f64,
    /// Last β (linear schedule only).
    #[serde(default = "default_beta_end")]
    pub beta_end: f64,
}

fn default_beta_start() -> f64 {
    1e-4
}
fn default_beta_end() -> f64 {
    2e-2
}

impl Default for ScheduleConfig {
    /// The seed paper's schedule: linear β from 1e-4 to 2e-2, T = 2000.
    fn default() -> Self {
        Self::paper()
    }
}

impl ScheduleConfig {
    /// The seed paper's schedule: linear β from 1e-4 to 2e-2, T = 2000.
    pub fn paper() -> Self {
        Self {
            kind: ScheduleKind::Linear,
            timesteps: 2000,
            beta_start: 1e-4,
            beta_end: 2e-2,
        }
    }
    /// Linear schedule with the given T and β range.
    pub fn linear(timesteps: usize, beta_start: f64, beta_end: f64) -> Self {
        Self {
            kind: ScheduleKind::Linear,
            timesteps,
            beta_start,
            beta_end,
        }
    }
    /// Cosine schedule (Nichol & Dhariwal) with T steps.
    pub fn cosine(timesteps: usize) -> Self {
        Self {
            kind: ScheduleKind::Cosine,
            timesteps,
            beta_start: default_beta_start(),
            beta_end: default_beta_end(),
        }
    }
    /// Build the schedule tables.
    pub fn build(&self) -> Result<NoiseSchedule, ScheduleError> {
        NoiseSchedule::new(self)
    }
}

/// Most timesteps a schedule may have: 50× the paper's T = 2000. Beyond it a config typo would
/// allocate gigabytes of tables (found by the config fuzz target).
pub const MAX_TIMESTEPS: usize = 100_000;

/// Precomputed f64 tables of a variance-preserving schedule. Index = timestep t (0-based).
#[derive(Clone, Debug)]
pub struct NoiseSchedule {
    pub config: ScheduleConfig,
    /// β_t.
    pub betas: Vec<f64>,
    /// α_t = 1 − β_t.
    pub alphas: Vec<f64>,
    /// ᾱ_t = Π_{s≤t} α_s.
    pub alphas_cumprod: Vec<f64>,
    /// ᾱ_{t−1}, with ᾱ_{−1} = 1.
    pub alphas_cumprod_prev: Vec<f64>,
    /// sqrt(ᾱ_t).
    pub sqrt_alphas_cumprod: Vec<f64>,
    /// sqrt(1 − ᾱ_t).
    pub sqrt_one_minus_alphas_cumprod: Vec<f64>,
    /// Posterior variance β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t) of q(x_{t−1} | x_t, x_0); β̃_0 = 0.
    pub posterior_variance: Vec<f64>,
    /// log β̃_t with β̃_0 replaced by β̃_1 (finite; as in Ho et al.'s code).
    pub posterior_log_variance_clipped: Vec<f64>,
    /// Coefficient of x_0 in the posterior mean: β_t sqrt(ᾱ_{t−1})/(1 − ᾱ_t).
    pub posterior_mean_coef1: Vec<f64>,
    /// Coefficient of x_t in the posterior mean: (1 − ᾱ_{t−1}) sqrt(α_t)/(1 − ᾱ_t).
    pub posterior_mean_coef2: Vec<f64>,
    /// Noise-to-signal ratio σ_t = sqrt((1 − ᾱ_t)/ᾱ_t), strictly increasing in t.
    pub sigmas: Vec<f64>,
}

impl NoiseSchedule {
    /// Build the tables; rejects T < 2 and invalid β ranges.
    pub fn new(config: &ScheduleConfig) -> Result<Self, ScheduleError> {
        let t_n = config.timesteps;
        if t_n < 2 {
            return Err(ScheduleError::TooFewSteps(t_n));
        }
        if t_n > MAX_TIMESTEPS {
            return Err(ScheduleError::TooManySteps(t_n));
        }
        let betas: Vec<f64> = match config.kind {
            ScheduleKind::Linear => {
                let (b0, b1) = (config.beta_start, config.beta_end);
                if !(b0 > 0.0 && b0 <= b1 && b1 < 1.0) {
                    return Err(ScheduleError::BadBetas { start: b0, end: b1 });
                }
                // Same spacing as torch.linspace(b0, b1, T), but in f64.
                (0..t_n)
                    .map(|i| b0 + (b1 - b0) * i as f64 / (t_n - 1) as f64)
                    .collect()
            }
            ScheduleKind::Cosine => {
                let s = 0.008;
                let f = |t: f64| {
                    let c = ((t / t_n as f64 + s) / (1.0 + s) * std::f64::consts::FRAC_PI_2).cos();
                    c * c
                };
                let f0 = f(0.0);
                (0..t_n)
                    .map(|i| {
                        let a_prev = f(i as f64) / f0;
                        let a = f((i + 1) as f64) / f0;
                        (1.0 - a / a_prev).clamp(0.0, 0.999)
                    })
                    .collect()
            }
        };
        Ok(Self::from_betas(config.clone(), betas))
    }

    fn from_betas(config: ScheduleConfig, betas: Vec<f64>) -> Self {
        let t_n = betas.len();
        let alphas: Vec<f64> = betas.iter().map(|b| 1.0 - b).collect();
        let mut alphas_cumprod = Vec::with_capacity(t_n);
        let mut acc = 1.0f64;
        for a in &alphas {
            acc *= a;
            alphas_cumprod.push(acc);
        }
        let mut alphas_cumprod_prev = Vec::with_capacity(t_n);
        alphas_cumprod_prev.push(1.0);
        alphas_cumprod_prev.extend_from_slice(&alphas_cumprod[..t_n - 1]);
        let sqrt_alphas_cumprod = alphas_cumprod.iter().map(|a| a.sqrt()).collect();
        let sqrt_one_minus_alphas_cumprod =
            alphas_cumprod.iter().map(|a| (1.0 - a).sqrt()).collect();
        let mut posterior_variance = Vec::with_capacity(t_n);
        let mut posterior_mean_coef1 = Vec::with_capacity(t_n);
        let mut posterior_mean_coef2 = Vec::with_capacity(t_n);
        for t in 0..t_n {
            let (b, a, ac, acp) = (
                betas[t],
                alphas[t],
                alphas_cumprod[t],
                alphas_cumprod_prev[t],
            );
            posterior_variance.push(b * (1.0 - acp) / (1.0 - ac));
            posterior_mean_coef1.push(b * acp.sqrt() / (1.0 - ac));
            posterior_mean_coef2.push((1.0 - acp) * a.sqrt() / (1.0 - ac));
        }
        let v1 = posterior_variance[1];
        let posterior_log_variance_clipped = posterior_variance
            .iter()
            .enumerate()
            .map(|(t, &v)| if t == 0 { v1.ln() } else { v.ln() })
            .collect();
        let sigmas = alphas_cumprod
            .iter()
            .map(|a| ((1.0 - a) / a).sqrt())
            .collect();
        Self {
            config,
            betas,
            alphas,
            alphas_cumprod,
            alphas_cumprod_prev,
            sqrt_alphas_cumprod,
            sqrt_one_minus_alphas_cumprod,
            posterior_variance,
            posterior_log_variance_clipped,
            posterior_mean_coef1,
            posterior_mean_coef2,
            sigmas,
        }
    }

    /// Number of steps T.
    pub fn timesteps(&self) -> usize {
        self.betas.len()
    }

    /// ᾱ at step t, with the convention ᾱ_{−1} = 1 for `t < 0` (the clean data).
    pub fn alpha_bar(&self, t: i64) -> f64 {
        if t < 0 {
            1.0
        } else {
            self.alphas_cumprod[t as usize]
        }
    }

    /// Largest noise-to-signal ratio σ_{T−1} the schedule reaches.
    pub fn max_sigma(&self) -> f64 {
        *self.sigmas.last().expect("T >= 2")
    }

    /// The step whose noise-to-signal ratio sqrt((1 − ᾱ_t)/ᾱ_t) is nearest `sigma` (absolute
    /// difference; σ is in the model's normalised data units). Errors when σ is not finite,
    /// ≤ 0, or above the schedule's maximum σ_{T−1}.
    pub fn t_for_noise_level(&self, sigma: f64) -> Result<usize, ScheduleError> {
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(ScheduleError::BadSigma(sigma));
        }
        let max = self.max_sigma();
        if sigma > max {
            return Err(ScheduleError::SigmaTooLarge {
                sigma,
                max,
                t_max: self.timesteps() - 1,
            });
        }
        // σ_t is strictly increasing: binary search, then pick the nearer neighbour.
        let i = self.sigmas.partition_point(|&s| s < sigma);
        if i == 0 {
            return Ok(0);
        }
        let (lo, hi) = (
            self.sigmas[i - 1],
            self.sigmas[i.min(self.sigmas.len() - 1)],
        );
        Ok(if (sigma - lo) <= (hi - sigma) {
            i - 1
        } else {
            i
        })
    }

    /// Gather `table[t_b]` for each batch item (t: i64 tensor `[B]`) as a tensor of shape
    /// [B, 1, …, 1] broadcastable against `like`, on `like`'s device and in its dtype.
    /// The values are gathered in f64 and cast once.
    pub fn gather(table: &[f64], t: &Tensor, like: &Tensor) -> Tensor {
        let dev = like.device();
        let b = t
            .size1()
            .expect("t must be a 1-D tensor of timestep indices");
        let mut shape = vec![b];
        shape.extend(std::iter::repeat_n(1i64, like.dim().saturating_sub(1)));
        Tensor::from_slice(table)
            .to_device(dev)
            .index_select(0, &t.to_device(dev).to_kind(Kind::Int64))
            .to_kind(like.kind())
            .view(shape.as_slice())
    }

    /// Forward process: `x_t = sqrt(ᾱ_t) x0 + sqrt(1 − ᾱ_t) eps`, per-item t (i64 tensor `[B]`).
    pub fn q_sample(&self, x0: &Tensor, eps: &Tensor, t: &Tensor) -> Tensor {
        let a = Self::gather(&self.sqrt_alphas_cumprod, t, x0);
        let s = Self::gather(&self.sqrt_one_minus_alphas_cumprod, t, x0);
        x0 * a + eps * s
    }

    /// x̂_0 from a noise prediction: `(x_t − sqrt(1 − ᾱ_t) ε)/sqrt(ᾱ_t)`.
    pub fn x0_from_eps(&self, x_t: &Tensor, t: &Tensor, eps: &Tensor) -> Tensor {
        let a = Self::gather(&self.sqrt_alphas_cumprod, t, x_t);
        let s = Self::gather(&self.sqrt_one_minus_alphas_cumprod, t, x_t);
        (x_t - eps * s) / a
    }

    /// ε from an x̂_0 prediction: `(x_t − sqrt(ᾱ_t) x0)/sqrt(1 − ᾱ_t)`.
    pub fn eps_from_x0(&self, x_t: &Tensor, t: &Tensor, x0: &Tensor) -> Tensor {
        let a = Self::gather(&self.sqrt_alphas_cumprod, t, x_t);
        let s = Self::gather(&self.sqrt_one_minus_alphas_cumprod, t, x_t);
        (x_t - x0 * a) / s
    }

    /// v-prediction target (Salimans & Ho 2022): `v = sqrt(ᾱ_t) ε − sqrt(1 − ᾱ_t) x0`.
    pub fn v_target(&self, x0: &Tensor, eps: &Tensor, t: &Tensor) -> Tensor {
        let a = Self::gather(&self.sqrt_alphas_cumprod, t, x0);
        let s = Self::gather(&self.sqrt_one_minus_alphas_cumprod, t, x0);
        eps * a - x0 * s
    }

    /// ε from a v prediction: `ε = sqrt(1 − ᾱ_t) x_t + sqrt(ᾱ_t) v`.
    pub fn eps_from_v(&self, x_t: &Tensor, t: &Tensor, v: &Tensor) -> Tensor {
        let a = Self::gather(&self.sqrt_alphas_cumprod, t, x_t);
        let s = Self::gather(&self.sqrt_one_minus_alphas_cumprod, t, x_t);
        x_t * s + v * a
    }

    /// x̂_0 from a v prediction: `x0 = sqrt(ᾱ_t) x_t − sqrt(1 − ᾱ_t) v`.
    pub fn x0_from_v(&self, x_t: &Tensor, t: &Tensor, v: &Tensor) -> Tensor {
        let a = Self::gather(&self.sqrt_alphas_cumprod, t, x_t);
        let s = Self::gather(&self.sqrt_one_minus_alphas_cumprod, t, x_t);
        x_t * a - v * s
    }

    /// v from a noise prediction: `v = (ε − sqrt(1 − ᾱ_t) x_t)/sqrt(ᾱ_t)`.
    pub fn v_from_eps(&self, x_t: &Tensor, t: &Tensor, eps: &Tensor) -> Tensor {
        let a = Self::gather(&self.sqrt_alphas_cumprod, t, x_t);
        let s = Self::gather(&self.sqrt_one_minus_alphas_cumprod, t, x_t);
        (eps - x_t * s) / a
    }

    /// Mean of q(x_{t−1} | x_t, x_0): `coef1_t x0 + coef2_t x_t`.
    pub fn q_posterior_mean(&self, x0: &Tensor, x_t: &Tensor, t: &Tensor) -> Tensor {
        let c1 = Self::gather(&self.posterior_mean_coef1, t, x_t);
        let c2 = Self::gather(&self.posterior_mean_coef2, t, x_t);
        x0 * c1 + x_t * c2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_schedule_tables() {
        let s = ScheduleConfig::paper().build().unwrap();
        assert_eq!(s.timesteps(), 2000);
        assert_eq!(s.betas[0], 1e-4);
        assert!((s.betas[1999] - 2e-2).abs() < 1e-15);
        // ᾱ_{T−1} = Π(1 − β): compare with exp(Σ ln(1 − β)).
        let log_sum: f64 = s.betas.iter().map(|b| (1.0 - b).ln()).sum();
        assert!((s.alphas_cumprod[1999] / log_sum.exp() - 1.0).abs() < 1e-10);
        // β̃_0 = 0 (the last reverse step is deterministic), β̃_t ≤ β_t.
        assert_eq!(s.posterior_variance[0], 0.0);
        for t in 1..2000 {
            assert!(s.posterior_variance[t] <= s.betas[t] && s.posterior_variance[t] > 0.0);
            assert!(s.sigmas[t] > s.sigmas[t - 1]);
        }
        // At t = 0 the posterior mean is x0 itself: coef1 = 1, coef2 = 0.
        assert!((s.posterior_mean_coef1[0] - 1.0).abs() < 1e-12);
        assert_eq!(s.posterior_mean_coef2[0], 0.0);
    }

    #[test]
    fn posterior_mean_coefficients_match_definition() {
        // Variance of the posterior mean reproduces the marginal: for x0 ≡ 0 and the Gaussian
        // q(x_{t−1}|x_t), coef2² (1 − ᾱ_t) + β̃_t = 1 − ᾱ_{t−1}.
        for cfg in [ScheduleConfig::paper(), ScheduleConfig::cosine(1000)] {
            let s = cfg.build().unwrap();
            for t in 1..s.timesteps() {
                let lhs = s.posterior_mean_coef2[t].powi(2) * (1.0 - s.alphas_cumprod[t])
                    + s.posterior_variance[t];
                assert!(
                    (lhs - (1.0 - s.alphas_cumprod_prev[t])).abs() < 1e-12,
                    "t={t}"
                );
            }
        }
    }

    #[test]
    fn cosine_matches_closed_form() {
        let s = ScheduleConfig::cosine(1000).build().unwrap();
        let f = |t: f64| {
            (((t / 1000.0 + 0.008) / 1.008) * std::f64::consts::FRAC_PI_2)
                .cos()
                .powi(2)
        };
        for t in [0usize, 10, 500, 900] {
            let want = f((t + 1) as f64) / f(0.0);
            assert!((s.alphas_cumprod[t] - want).abs() < 1e-12, "t={t}");
        }
    }

    #[test]
    fn noise_level_lookup() {
        let s = ScheduleConfig::paper().build().unwrap();
        for t in [0usize, 1, 7, 250, 1999] {
            assert_eq!(s.t_for_noise_level(s.sigmas[t]).unwrap(), t);
        }
        // Between two levels, the nearer one wins.
        let mid = 0.49 * s.sigmas[100] + 0.51 * s.sigmas[101];
        assert_eq!(s.t_for_noise_level(mid).unwrap(), 101);
        assert!(matches!(
            s.t_for_noise_level(0.0),
            Err(ScheduleError::BadSigma(_))
        ));
        assert!(matches!(
            s.t_for_noise_level(f64::NAN),
            Err(ScheduleError::BadSigma(_))
        ));
        assert!(matches!(
            s.t_for_noise_level(s.max_sigma() * 1.01),
            Err(ScheduleError::SigmaTooLarge { .. })
        ));
        assert!(ScheduleConfig::linear(1, 1e-4, 2e-2).build().is_err());
        assert!(ScheduleConfig::linear(10, 0.0, 2e-2).build().is_err());
    }

    #[test]
    fn tensor_conversions_round_trip() {
        let s = ScheduleConfig::paper().build().unwrap();
        let x0 = Tensor::from_slice(&[0.3f64, -1.2, 0.7, 2.0]).view([4, 1, 1, 1]);
        let eps = Tensor::from_slice(&[-0.5f64, 0.1, 1.5, -2.0]).view([4, 1, 1, 1]);
        let t = Tensor::from_slice(&[0i64, 10, 999, 1999]);
        let xt = s.q_sample(&x0, &eps, &t);
        let close = |a: &Tensor, b: &Tensor| (a - b).abs().max().double_value(&[]) < 1e-9;
        assert!(close(&s.eps_from_x0(&xt, &t, &x0), &eps));
        let v = s.v_target(&x0, &eps, &t);
        assert!(close(&s.v_from_eps(&xt, &t, &eps), &v));
        assert!(close(&s.eps_from_v(&xt, &t, &v), &eps));
        assert!(close(&s.x0_from_v(&xt, &t, &v), &x0));
        // x0 from eps is ill-conditioned at t = 1999 (divides by sqrt(ᾱ) ≈ 4e-5): check t < 1999.
        let x0b = s.x0_from_eps(&xt, &t, &eps);
        assert!(close(&x0b.narrow(0, 0, 3), &x0.narrow(0, 0, 3)));
        // Per-item coefficients: item 2 uses t = 999.
        let want = s.sqrt_alphas_cumprod[999] * 0.7 + s.sqrt_one_minus_alphas_cumprod[999] * 1.5;
        assert!((xt.double_value(&[2, 0, 0, 0]) - want).abs() < 1e-12);
    }

    #[test]
    fn config_serde_round_trip() {
        let c = ScheduleConfig::cosine(500);
        let j = serde_json::to_string(&c).unwrap();
        assert!(j.contains("\"cosine\""));
        let back: ScheduleConfig = serde_json::from_str(&j).unwrap();
        assert_eq!(back, c);
    }
}
