//! Denoising as posterior sampling with a diffusion prior.
//!
//! An observation `y = x_0 + σ n` (white Gaussian noise, σ in the model's normalised units)
//! is statistically the forward-process state at the step whose noise-to-signal ratio
//! σ_t = sqrt((1 − ᾱ_t)/ᾱ_t) equals σ, once scaled: `sqrt(ᾱ_t) y = sqrt(ᾱ_t) x_0 + sqrt(1 − ᾱ_t) n`.
//! Running the reverse process from there draws samples of p(x_0 | y).
//!
//! * [`Injection::Exact`]: t* = the first step with σ_{t*} ≥ σ;
//!   `x_{t*} = sqrt(ᾱ_{t*}) y + sqrt(1 − ᾱ_{t*} − ᾱ_{t*} σ²) z` — the small top-up noise z
//!   (zero when σ is on the grid) makes x_{t*} distributed exactly as the forward marginal, so
//!   the result is the posterior for noise level σ_{t*} (≥ σ by less than one step; with the
//!   paper's T = 2000 schedule that is < 0.5% in σ for σ ≥ 0.05).
//! * [`Injection::Paper`]: the seed code's variant, t* = the nearest step, `x_{t*} = y` unscaled
//!   (kept for comparison; its signal amplitude and noise level are both off by 1/sqrt(ᾱ_{t*})).

use crate::sampler::{
    sample_from, Denoiser, NoiseRng, Progress, SamplerConfig, SamplerError, SamplerKind,
};
use crate::schedule::{NoiseSchedule, ScheduleError};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// Errors from posterior sampling.
#[derive(Debug, thiserror::Error)]
pub enum InverseError {
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error(transparent)]
    Sampler(#[from] SamplerError),
    #[error("denoise: number of posterior samples must be >= 1")]
    ZeroSamples,
    #[error("denoise: the noisy input contains NaN or infinite values")]
    NonFinite,
    #[error("denoise: {what} has shape {got:?}, expected {want}")]
    BadShape {
        what: &'static str,
        got: Vec<i64>,
        want: String,
    },
    #[error("denoise: interval level {0} must be in (0, 1)")]
    BadLevel(f64),
    #[error("denoise: unknown injection {0:?} (expected exact or paper)")]
    UnknownInjection(String),
    #[error("denoise: {0}")]
    BadConfig(String),
}

/// How the noisy observation enters the reverse process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Injection {
    /// Variance-preserving scaling sqrt(ᾱ_{t*}) y (plus top-up noise to land exactly on t*).
    #[default]
    Exact,
    /// The seed paper's code: y unscaled at the nearest step.
    Paper,
}

impl std::str::FromStr for Injection {
    type Err = InverseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "exact" => Ok(Self::Exact),
            "paper" => Ok(Self::Paper),
            _ => Err(InverseError::UnknownInjection(s.to_string())),
        }
    }
}

/// Where and how an observation with noise σ is injected.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InjectionPlan {
    /// Start step t*.
    pub t_star: usize,
    /// σ_{t*} = sqrt((1 − ᾱ_{t*})/ᾱ_{t*}).
    pub sigma_t_star: f64,
    /// Multiplier of y: sqrt(ᾱ_{t*}) (Exact) or 1 (Paper).
    pub scale: f64,
    /// Standard deviation of the added top-up noise (Exact), else 0.
    pub top_up_std: f64,
}

/// Choose t* and the scaling for noise level `sigma_norm` (normalised units). Errors when σ is
/// not finite, ≤ 0, or above the schedule's maximum.
pub fn plan_injection(
    schedule: &NoiseSchedule,
    sigma_norm: f64,
    injection: Injection,
) -> Result<InjectionPlan, InverseError> {
    // Validates σ (finite, > 0, ≤ max) and gives the nearest step.
    let nearest = schedule.t_for_noise_level(sigma_norm)?;
    Ok(match injection {
        Injection::Paper => InjectionPlan {
            t_star: nearest,
            sigma_t_star: schedule.sigmas[nearest],
            scale: 1.0,
            top_up_std: 0.0,
        },
        Injection::Exact => {
            let t = schedule
                .sigmas
                .partition_point(|&s| s < sigma_norm)
                .min(schedule.timesteps() - 1);
            let a = schedule.alphas_cumprod[t];
            InjectionPlan {
                t_star: t,
                sigma_t_star: schedule.sigmas[t],
                scale: a.sqrt(),
                top_up_std: (1.0 - a - a * sigma_norm * sigma_norm).max(0.0).sqrt(),
            }
        }
    })
}

/// How posterior samples are drawn.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PosteriorConfig {
    /// How the observation enters the reverse process.
    pub injection: Injection,
    /// Posterior samples (K) per observation.
    pub samples: usize,
    /// The reverse process from t* to the data.
    pub sampler: SamplerConfig,
    /// Seed of the noise top-up and the reverse-process noise.
    pub seed: u64,
}

impl PosteriorConfig {
    /// The posterior settings, checked once here for every caller (CLI, Python): K ≥ 1
    /// samples, ≥ 1 step when given, and a reverse process that starts at t*: `ddpm`, or `ddim`
    /// with stochasticity η ∈ [0, 1] (`eta` is ignored for ddpm).
    pub fn checked(
        injection: Injection,
        samples: usize,
        sampler: SamplerKind,
        steps: Option<usize>,
        eta: f64,
        seed: u64,
    ) -> Result<Self, InverseError> {
        if samples == 0 {
            return Err(InverseError::ZeroSamples);
        }
        if steps == Some(0) {
            return Err(InverseError::BadConfig(
                "steps = 0: at least 1 step from t* to the data".into(),
            ));
        }
        let sampler = match sampler {
            SamplerKind::Ddpm => SamplerConfig::new(SamplerKind::Ddpm, steps),
            SamplerKind::Ddim { .. } => {
                if !(0.0..=1.0).contains(&eta) {
                    return Err(InverseError::BadConfig(format!(
                        "eta = {eta} must be in [0, 1]"
                    )));
                }
                SamplerConfig::new(SamplerKind::Ddim { eta }, steps)
            }
            other => {
                return Err(InverseError::BadConfig(format!(
                    "sampler {other:?}: denoising runs ddpm or ddim from t*"
                )))
            }
        };
        Ok(PosteriorConfig {
            injection,
            samples,
            sampler,
            seed,
        })
    }
}

/// Posterior samples for a batch of observations.
#[derive(Debug)]
pub struct Posterior {
    /// [n, K, C, H, W] samples in normalised units.
    pub samples: Tensor,
    pub plan: InjectionPlan,
    /// Denoiser evaluations in total (each on a batch of K).
    pub nfe: usize,
}

/// Draw `n_samples` (K) posterior samples of the clean field for each observation in `y_norm`
/// ([n, C, H, W], normalised units, white noise of standard deviation `sigma_norm`), running the
/// reverse process with `sampler` from t* down to the data. Input i uses its own noise stream
/// derived from (`seed`, i), so results do not depend on how inputs are grouped into calls.
/// `progress` receives (inputs done, n).
pub fn denoise_posterior<D: Denoiser + ?Sized>(
    denoiser: &D,
    schedule: &NoiseSchedule,
    y_norm: &Tensor,
    sigma_norm: f64,
    config: &PosteriorConfig,
    mut progress: Option<Progress>,
) -> Result<Posterior, InverseError> {
    let PosteriorConfig {
        injection,
        samples: n_samples,
        ref sampler,
        seed,
    } = *config;
    let plan = plan_injection(schedule, sigma_norm, injection)?;
    if n_samples == 0 {
        return Err(InverseError::ZeroSamples);
    }
    let size = y_norm.size();
    if size.len() != 4 || size.iter().any(|&d| d < 1) {
        return Err(InverseError::BadShape {
            what: "noisy input",
            got: size,
            want: "[n, C, H, W]".into(),
        });
    }
    let finite = y_norm.isfinite().all().int64_value(&[]) != 0;
    if !finite {
        return Err(InverseError::NonFinite);
    }
    let k = n_samples as i64;
    let (dev, kind) = (y_norm.device(), y_norm.kind());
    let mut outs = Vec::with_capacity(size[0] as usize);
    let mut nfe = 0;
    for i in 0..size[0] {
        let mut rng = NoiseRng::new(fields::rng::index_seed(seed, i as u64));
        let y = y_norm
            .narrow(0, i, 1)
            .expand([k, size[1], size[2], size[3]], false);
        let mut x = &y * plan.scale;
        if plan.top_up_std > 0.0 {
            x += rng.randn(&[k, size[1], size[2], size[3]], dev, kind) * plan.top_up_std;
        }
        let out = sample_from(denoiser, schedule, sampler, &x, plan.t_star, &mut rng, None)?;
        nfe += out.nfe;
        outs.push(out.x0.unsqueeze(0));
        if let Some(p) = progress.as_mut() {
            p(i as usize + 1, size[0] as usize);
        }
    }
    Ok(Posterior {
        samples: Tensor::cat(&outs, 0),
        plan,
        nfe,
    })
}

impl Posterior {
    /// Per-pixel posterior mean [n, C, H, W].
    pub fn mean(&self) -> Tensor {
        self.samples.mean_dim(1, false, self.samples.kind())
    }

    /// Per-pixel posterior standard deviation [n, C, H, W] (unbiased, K − 1; 0 for K = 1).
    pub fn std(&self) -> Tensor {
        if self.samples.size()[1] < 2 {
            return self.mean().zeros_like();
        }
        self.samples.std_dim(1, true, false)
    }

    /// Per-pixel central interval [lower, upper] holding `level` of the K samples: empirical
    /// quantiles (1 ∓ level)/2 with linear interpolation between order statistics (numpy's
    /// default). With K exact posterior draws the expected coverage of the truth is
    /// ≈ level·(K − 1)/(K + 1) (exchangeability), e.g. 0.659 for level 0.68 and K = 64.
    pub fn interval(&self, level: f64) -> Result<(Tensor, Tensor), InverseError> {
        if !(level > 0.0 && level < 1.0) {
            return Err(InverseError::BadLevel(level));
        }
        let k = self.samples.size()[1];
        let (sorted, _) = self.samples.sort(1, false);
        let q = |p: f64| {
            let h = (k - 1) as f64 * p;
            let lo = h.floor() as i64;
            let hi = (lo + 1).min(k - 1);
            let frac = h - lo as f64;
            let a = sorted.select(1, lo);
            let b = sorted.select(1, hi);
            &a + (b - &a) * frac
        };
        Ok((q(0.5 * (1.0 - level)), q(0.5 * (1.0 + level))))
    }

    /// Fraction of pixels whose `truth` ([n, C, H, W], normalised units) lies inside the
    /// per-pixel central `level` interval (see [`Posterior::interval`]).
    pub fn coverage(&self, truth: &Tensor, level: f64) -> Result<f64, InverseError> {
        let want = self.mean().size();
        if truth.size() != want {
            return Err(InverseError::BadShape {
                what: "truth",
                got: truth.size(),
                want: format!("{want:?}"),
            });
        }
        let (lo, hi) = self.interval(level)?;
        let t = truth.to_kind(lo.kind());
        let inside = t.ge_tensor(&lo).logical_and(&t.le_tensor(&hi));
        Ok(inside
            .to_kind(Kind::Double)
            .mean(Kind::Double)
            .double_value(&[]))
    }
}
