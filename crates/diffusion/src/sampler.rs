//! Reverse-process samplers (DDPM ancestral, DDIM, DPM-Solver++ 2M) behind the [`Denoiser`]
//! trait. This module knows nothing of the network: anything that maps (x_t, t) to ε̂ samples.

use crate::schedule::NoiseSchedule;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// A noise predictor ε̂(x_t, t).
///
/// `x_t`: the noisy batch `[B, …]`; `t`: i64 tensor `[B]` of 0-based timestep indices
/// (t = 0 is the least noisy, see [`crate::schedule`]). Returns ε̂ with the shape of `x_t`.
/// Samplers call it inside `tch::no_grad`.
pub trait Denoiser {
    fn predict_eps(&self, x_t: &Tensor, t: &Tensor) -> Tensor;
}

impl<F> Denoiser for F
where
    F: Fn(&Tensor, &Tensor) -> Tensor,
{
    fn predict_eps(&self, x_t: &Tensor, t: &Tensor) -> Tensor {
        self(x_t, t)
    }
}

/// Seeded standard-normal noise, generated on the CPU as f32 from ChaCha8 and then moved to the
/// target device, so one seed gives the same numbers on CPU and GPU and never touches tch's
/// global RNG.
pub struct NoiseRng {
    rng: ChaCha8Rng,
}

impl NoiseRng {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// A tensor of i.i.d. N(0, 1) values with the given shape, device and float kind.
    pub fn randn(&mut self, shape: &[i64], device: Device, kind: Kind) -> Tensor {
        let n: i64 = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| StandardNormal.sample(&mut self.rng))
            .collect();
        Tensor::from_slice(&v)
            .view(shape)
            .to_kind(kind)
            .to_device(device)
    }
}

/// Errors from a sampler call.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SamplerError {
    #[error("sampler: steps must be >= 1")]
    ZeroSteps,
    #[error("sampler: start step t = {t} is outside the schedule (T = {timesteps})")]
    StartOutOfRange { t: usize, timesteps: usize },
    #[error(
        "sampler: {steps} steps asked for, but the schedule has only T = {timesteps} timesteps"
    )]
    TooManySteps { steps: usize, timesteps: usize },
    #[error("sampler: DDIM eta = {0} must be in [0, 1]")]
    BadEta(f64),
    #[error("sampler: clip_x0 = {0} must be finite and > 0")]
    BadClip(f64),
    #[error("sampler: sample shape must be [B, ...] with B >= 1, got {0:?}")]
    BadShape(Vec<i64>),
    #[error("sampler: unknown sampler {0:?} (expected ddpm, ddim, dpmpp or dpmpp-sde)")]
    UnknownSampler(String),
}

/// Which reverse process to run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SamplerKind {
    /// Ancestral DDPM (Ho et al. 2020) with posterior variance β̃; the last step returns the
    /// posterior mean (no noise), as the seed paper's code. With fewer steps than T it runs on the
    /// respaced chain (Nichol & Dhariwal 2021): β'_i = 1 − ᾱ_{τ_i}/ᾱ_{τ_{i+1}}.
    Ddpm,
    /// DDIM (Song et al. 2021); η = 0 is deterministic, η = 1 matches respaced DDPM.
    /// First order: at ≤ 50 steps it loses ≥ 5 % of the data variance with *any* spacing
    /// (14 % with log-SNR, more at high k with trailing; docs/samplers.md), so prefer
    /// `Dpmpp2m` for few-step sampling.
    Ddim { eta: f64 },
    /// DPM-Solver++(2M) (Lu et al. 2022b): second-order multistep, data-prediction form,
    /// first-order on the first step and on the final jump to the data.
    Dpmpp2m,
    /// SDE-DPM-Solver++(2M) (Lu et al. 2022b, §4; diffusers' `sde-dpmsolver++`, midpoint):
    /// the same data-prediction multistep on the reverse SDE, with fresh noise at every step,
    /// `x_t = (σ_t/σ_s)e^{−h} x_s + α_t(1 − e^{−2h})(D₀ + D₁/2) + σ_t √(1 − e^{−2h}) z`,
    /// h = λ_t − λ_s, D₁ = (D₀ − D₀_prev)/r, r = h_prev/h. Stochastic, so the network's error
    /// at one step is partly washed out by the next (as ancestral DDPM), at few steps.
    Dpmpp2mSde,
}

impl std::str::FromStr for SamplerKind {
    type Err = SamplerError;
    /// `ddpm`, `ddim` (η = 0), `dpmpp` or `dpmpp-sde`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "ddpm" => Ok(Self::Ddpm),
            "ddim" => Ok(Self::Ddim { eta: 0.0 }),
            "dpmpp" | "dpm++" | "dpmpp2m" | "dpm-solver++" => Ok(Self::Dpmpp2m),
            "dpmpp-sde" | "dpmpp2m-sde" | "sde-dpm-solver++" => Ok(Self::Dpmpp2mSde),
            _ => Err(SamplerError::UnknownSampler(s.to_string())),
        }
    }
}

/// How `steps` timesteps are chosen out of the `n = t_start + 1` available ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Spacing {
    /// τ_i = round(n − i·n/steps) − 1, i = 0..steps: starts exactly at `t_start` (the state we
    /// actually hold, e.g. pure noise at T−1) and ends at round(n/steps) − 1. Default: the first
    /// network call sees the noise level it was trained for (Lin et al. 2024).
    #[default]
    Trailing,
    /// τ_i = (steps − 1 − i)·floor(n/steps) (DDIM's original): ends at t = 0 but starts below
    /// `t_start`, so the first call is asked about a less noisy state than the one we hold.
    Leading,
    /// Uniform in log noise-to-signal ratio ln σ_t between σ_{t_start} and σ_0 (Lu et al.'s
    /// "logSNR" spacing), each target mapped to the nearest step; duplicates (possible near t = 0
    /// with many steps) are dropped, so NFE can be slightly below `steps`. Default for
    /// DPM-Solver++: it refines the low-noise end where the final jump to x̂_0 otherwise loses
    /// power in low-variance (high-k) modes (see docs/samplers.md).
    LogSnr,
}

/// Sampler settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplerConfig {
    pub kind: SamplerKind,
    /// Number of denoiser evaluations/steps; `None` = every timestep from the start state.
    pub steps: Option<usize>,
    #[serde(default)]
    pub spacing: Spacing,
    /// Clamp x̂_0 to [−c, c] at every step. Off by default: normalised fields can exceed [−1, 1].
    #[serde(default)]
    pub clip_x0: Option<f64>,
}

impl SamplerConfig {
    /// Settings for `kind` with its default spacing (LogSnr for DPM-Solver++, Trailing
    /// otherwise); `steps = None` runs every timestep.
    pub fn new(kind: SamplerKind, steps: Option<usize>) -> Self {
        let spacing = match kind {
            SamplerKind::Dpmpp2m | SamplerKind::Dpmpp2mSde => Spacing::LogSnr,
            _ => Spacing::Trailing,
        };
        Self {
            kind,
            steps,
            spacing,
            clip_x0: None,
        }
    }
    /// Full-length ancestral DDPM (the paper).
    pub fn ddpm() -> Self {
        Self {
            kind: SamplerKind::Ddpm,
            steps: None,
            spacing: Spacing::Trailing,
            clip_x0: None,
        }
    }
    /// DDIM with `steps` steps and stochasticity η.
    pub fn ddim(steps: usize, eta: f64) -> Self {
        Self {
            kind: SamplerKind::Ddim { eta },
            steps: Some(steps),
            spacing: Spacing::Trailing,
            clip_x0: None,
        }
    }
    /// DPM-Solver++(2M) with `steps` steps (log-SNR spacing).
    pub fn dpmpp(steps: usize) -> Self {
        Self {
            kind: SamplerKind::Dpmpp2m,
            steps: Some(steps),
            spacing: Spacing::LogSnr,
            clip_x0: None,
        }
    }
}

/// Result of a sampler run.
#[derive(Debug)]
pub struct SampleOutput {
    /// The generated batch (same shape, device and dtype as the start state).
    pub x0: Tensor,
    /// Number of denoiser evaluations (each on the whole batch).
    pub nfe: usize,
    /// Timesteps visited, most noisy first.
    pub timesteps: Vec<usize>,
}

/// Progress callback: `(steps done, total steps)`.
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize);

/// The strictly decreasing timestep sequence of (at most) `steps` entries starting from state
/// `t_start` (0-based). `steps` is clamped to `t_start + 1`.
pub fn timesteps(
    schedule: &NoiseSchedule,
    spacing: Spacing,
    t_start: usize,
    steps: usize,
) -> Vec<usize> {
    let n = t_start + 1;
    let steps = steps.clamp(1, n);
    match spacing {
        Spacing::Trailing => {
            let stride = n as f64 / steps as f64;
            (0..steps)
                .map(|i| ((n as f64 - i as f64 * stride).round() as usize).saturating_sub(1))
                .collect()
        }
        Spacing::Leading => {
            let stride = n / steps;
            (0..steps).rev().map(|i| i * stride).collect()
        }
        Spacing::LogSnr => {
            let ls: Vec<f64> = schedule.sigmas[..n].iter().map(|s| s.ln()).collect();
            let (hi, lo) = (ls[n - 1], ls[0]);
            let mut out: Vec<usize> = Vec::with_capacity(steps);
            let mut j = n - 1; // targets decrease, so the nearest index only moves down
            for i in 0..steps {
                let target = if steps == 1 {
                    hi
                } else {
                    hi + (lo - hi) * i as f64 / (steps - 1) as f64
                };
                while j > 0 && (ls[j - 1] - target).abs() <= (ls[j] - target).abs() {
                    j -= 1;
                }
                if out.last() != Some(&j) {
                    out.push(j);
                }
            }
            out
        }
    }
}

/// Draw x_{T−1} ~ N(0, I) from `seed` and run the reverse process to the data.
pub fn sample<D: Denoiser + ?Sized>(
    denoiser: &D,
    schedule: &NoiseSchedule,
    config: &SamplerConfig,
    shape: &[i64],
    device: Device,
    seed: u64,
    progress: Option<Progress>,
) -> Result<SampleOutput, SamplerError> {
    if shape.is_empty() || shape[0] < 1 || shape.iter().any(|&d| d < 1) {
        return Err(SamplerError::BadShape(shape.to_vec()));
    }
    // From pure noise every one of the T timesteps is available; more steps than that cannot
    // be taken (denoising starts lower and clamps, see [`timesteps`]).
    if let Some(steps) = config.steps.filter(|&s| s > schedule.timesteps()) {
        return Err(SamplerError::TooManySteps {
            steps,
            timesteps: schedule.timesteps(),
        });
    }
    let mut rng = NoiseRng::new(seed);
    let x_t = rng.randn(shape, device, Kind::Float);
    sample_from(
        denoiser,
        schedule,
        config,
        &x_t,
        schedule.timesteps() - 1,
        &mut rng,
        progress,
    )
}

/// Run the reverse process from a given state `x_start` at timestep `t_start` (all batch items
/// share it) down to the data. Used for unconditional sampling and for denoising, where the
/// start is the scaled observation. Noise for stochastic steps comes from `rng`.
pub fn sample_from<D: Denoiser + ?Sized>(
    denoiser: &D,
    schedule: &NoiseSchedule,
    config: &SamplerConfig,
    x_start: &Tensor,
    t_start: usize,
    rng: &mut NoiseRng,
    mut progress: Option<Progress>,
) -> Result<SampleOutput, SamplerError> {
    let t_n = schedule.timesteps();
    if t_start >= t_n {
        return Err(SamplerError::StartOutOfRange {
            t: t_start,
            timesteps: t_n,
        });
    }
    if let Some(c) = config.clip_x0 {
        if !(c.is_finite() && c > 0.0) {
            return Err(SamplerError::BadClip(c));
        }
    }
    if let SamplerKind::Ddim { eta } = config.kind {
        if !(0.0..=1.0).contains(&eta) {
            return Err(SamplerError::BadEta(eta));
        }
    }
    let steps = config.steps.unwrap_or(t_start + 1);
    if steps == 0 {
        return Err(SamplerError::ZeroSteps);
    }
    let size = x_start.size();
    if size.is_empty() {
        return Err(SamplerError::BadShape(size));
    }
    let ts = timesteps(schedule, config.spacing, t_start, steps);
    let (b, dev, kind) = (size[0], x_start.device(), x_start.kind());
    let n_steps = ts.len();
    let clip = config.clip_x0;
    let mut nfe = 0usize;

    let x = tch::no_grad(|| {
        let mut x = x_start.shallow_clone();
        // DPM-Solver++ history: previous x̂_0 and step size in λ.
        let mut prev_x0: Option<Tensor> = None;
        let mut prev_h = 0.0f64;
        for i in 0..n_steps {
            let t = ts[i];
            let t_prev: i64 = if i + 1 < n_steps {
                ts[i + 1] as i64
            } else {
                -1
            };
            let a = schedule.alphas_cumprod[t];
            let ap = schedule.alpha_bar(t_prev);
            let t_tensor = Tensor::full([b], t as i64, (Kind::Int64, dev));
            let mut eps = denoiser.predict_eps(&x, &t_tensor);
            nfe += 1;
            let mut x0 = (&x - &eps * (1.0 - a).sqrt()) / a.sqrt();
            if let Some(c) = clip {
                x0 = x0.clamp(-c, c);
                // Keep ε consistent with the clipped x̂_0 (as DDIM's reference code).
                eps = (&x - &x0 * a.sqrt()) / (1.0 - a).sqrt();
            }
            x = match config.kind {
                SamplerKind::Ddpm => {
                    let beta = 1.0 - a / ap;
                    let c1 = beta * ap.sqrt() / (1.0 - a);
                    let c2 = (1.0 - ap) * (1.0 - beta).sqrt() / (1.0 - a);
                    let var = beta * (1.0 - ap) / (1.0 - a);
                    let mean = &x0 * c1 + &x * c2;
                    if t_prev >= 0 && var > 0.0 {
                        mean + rng.randn(&size, dev, kind) * var.sqrt()
                    } else {
                        mean
                    }
                }
                SamplerKind::Ddim { eta } => {
                    let sigma = eta * ((1.0 - ap) / (1.0 - a) * (1.0 - a / ap)).sqrt();
                    let dir = (1.0 - ap - sigma * sigma).max(0.0).sqrt();
                    let mean = &x0 * ap.sqrt() + &eps * dir;
                    if sigma > 0.0 {
                        mean + rng.randn(&size, dev, kind) * sigma
                    } else {
                        mean
                    }
                }
                SamplerKind::Dpmpp2m | SamplerKind::Dpmpp2mSde => {
                    if t_prev < 0 {
                        // σ_next = 0: the update reduces to x̂_0 (first order).
                        x0.shallow_clone()
                    } else {
                        let lam = |ab: f64| 0.5 * (ab / (1.0 - ab)).ln();
                        let h = lam(ap) - lam(a);
                        // Second-order multistep data term, first order without history.
                        let d = match &prev_x0 {
                            Some(p) => &x0 + (&x0 - p) * (0.5 * h / prev_h),
                            None => x0.shallow_clone(),
                        };
                        let ratio = ((1.0 - ap) / (1.0 - a)).sqrt();
                        prev_h = h;
                        if config.kind == SamplerKind::Dpmpp2mSde {
                            let one_m = -(-2.0 * h).exp_m1();
                            &x * (ratio * (-h).exp())
                                + d * (ap.sqrt() * one_m)
                                + rng.randn(&size, dev, kind) * ((1.0 - ap).sqrt() * one_m.sqrt())
                        } else {
                            &x * ratio - d * (ap.sqrt() * (-h).exp_m1())
                        }
                    }
                }
            };
            if matches!(config.kind, SamplerKind::Dpmpp2m | SamplerKind::Dpmpp2mSde) {
                prev_x0 = Some(x0);
            }
            if let Some(p) = progress.as_mut() {
                p(i + 1, n_steps);
            }
        }
        x
    });
    Ok(SampleOutput {
        x0: x,
        nfe,
        timesteps: ts,
    })
}
