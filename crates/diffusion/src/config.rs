//! Run configuration: network, diffusion process, objective and optimiser, with named presets
//! and TOML overrides. The resolved config is stored with every run and checkpoint.

use crate::error::{Error, Result};
use crate::schedule::ScheduleConfig;
use crate::unet::{self, Attention};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What the network predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Prediction {
    /// The added noise ε (Ho et al.; the paper).
    Eps,
    /// v = sqrt(ᾱ_t) ε − sqrt(1 − ᾱ_t) x₀ (Salimans & Ho 2022).
    V,
}

/// Per-pixel training loss between prediction and target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Loss {
    /// Smooth L1 with δ = 1 (PyTorch `smooth_l1_loss`; the paper).
    Huber,
    Mse,
}

/// Learning-rate decay after warm-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decay {
    /// Constant learning rate (the paper).
    None,
    /// Cosine decay from `lr` to `lr·min_lr_frac` at `decay_steps`.
    Cosine,
}

/// How training draws the timestep of each batch item.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum TimestepSampling {
    /// Uniform in 0..T (Ho et al.; the paper).
    Uniform,
    /// ln σ ~ N(`p_mean`, `p_std`²), σ = sqrt((1 − ᾱ_t)/ᾱ_t) in normalised data units, mapped to
    /// the nearest step (the noise-level distribution of Karras et al. 2022, EDM), mixed with a
    /// fraction `uniform_frac` of uniform draws so that no step goes untrained. Training then
    /// spends its steps where the data's structure is decided rather than where the field is
    /// buried in noise (with the paper's schedule, three quarters of all uniform draws have
    /// σ > 10 data standard deviations, where the Gaussian prior is already exact, and 6 %
    /// σ ≤ 2, where the pixel-scale structure is decided; measured for the demo's maps).
    Lognormal {
        p_mean: f64,
        p_std: f64,
        uniform_frac: f64,
    },
}

impl TimestepSampling {
    pub fn validate(&self) -> Result<()> {
        match *self {
            Self::Uniform => Ok(()),
            Self::Lognormal {
                p_mean,
                p_std,
                uniform_frac,
            } => {
                if !p_mean.is_finite() {
                    return Err(Error::invalid(format!(
                        "diffusion.t_sampling.p_mean = {p_mean} is not finite"
                    )));
                }
                if !(p_std > 0.0 && p_std.is_finite()) {
                    return Err(Error::invalid(format!(
                        "diffusion.t_sampling.p_std = {p_std} must be positive"
                    )));
                }
                if !(0.0..=1.0).contains(&uniform_frac) {
                    return Err(Error::invalid(format!(
                        "diffusion.t_sampling.uniform_frac = {uniform_frac} is not in [0, 1]"
                    )));
                }
                Ok(())
            }
        }
    }
}

/// Diffusion process and objective.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiffusionConfig {
    pub schedule: ScheduleConfig,
    pub prediction: Prediction,
    pub loss: Loss,
    /// Predict on top of a Gaussian-field prior: the network's output is added to the exact
    /// prediction for a stationary Gaussian field with the training set's mean and 2D power
    /// (`analytic::GrfDenoiser`, fitted once from the training maps and stored in the
    /// checkpoint under `prior/`), and the last convolution starts at zero. So an untrained
    /// model already samples the training P(k) and the network learns only what is not
    /// Gaussian (cf. Remy et al. 2023, an analytic Gaussian prior plus a learned score).
    pub gaussian_prior: bool,
    /// Distribution of training timesteps (uniform unless set).
    pub t_sampling: TimestepSampling,
}

impl Default for DiffusionConfig {
    fn default() -> Self {
        Self {
            schedule: ScheduleConfig::paper(),
            prediction: Prediction::Eps,
            loss: Loss::Huber,
            gaussian_prior: false,
            t_sampling: TimestepSampling::Uniform,
        }
    }
}

/// Optimiser (AdamW), schedule of the learning rate, EMA and bookkeeping intervals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub batch_size: usize,
    /// Peak learning rate.
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Decoupled weight decay (AdamW); 0 gives Adam, the paper's optimiser.
    pub weight_decay: f64,
    /// Linear warm-up from 0 to `lr` over this many steps (0 = none).
    pub warmup_steps: u64,
    pub decay: Decay,
    /// Step at which cosine decay reaches `lr·min_lr_frac` (then stays there).
    pub decay_steps: u64,
    pub min_lr_frac: f64,
    /// Clip the global gradient L2 norm to this value (0 = no clipping).
    pub grad_clip: f64,
    /// EMA decay of the weights (sampling uses the EMA weights by default).
    pub ema_decay: f64,
    /// Before this step the EMA copies the weights.
    pub ema_start: u64,
    /// Metrics line every this many steps.
    pub log_every: u64,
    /// Checkpoint every this many steps (and at the end).
    pub checkpoint_every: u64,
    /// Sample-grid PNG every this many steps (0 = never during training).
    pub sample_every: u64,
    /// Fields in the sample grid.
    pub sample_n: usize,
    /// DDIM steps for the sample grid.
    pub sample_steps: usize,
    /// Condition dropout for classifier-free guidance (Ho & Salimans 2022): the fraction of
    /// training items of a conditional model that see the "no condition" input instead of
    /// their θ (`fields::condition`), so one network is both the conditional and the
    /// unconditional model. Ignored by unconditional models.
    pub cond_dropout: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            batch_size: 40,
            lr: 5e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            warmup_steps: 0,
            decay: Decay::None,
            decay_steps: 0,
            min_lr_frac: 0.1,
            grad_clip: 0.0,
            ema_decay: 0.999,
            ema_start: 0,
            log_every: 10,
            checkpoint_every: 1000,
            sample_every: 0,
            sample_n: 16,
            sample_steps: 50,
            cond_dropout: 0.1,
        }
    }
}

/// Everything that defines a training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Name of the preset this was derived from (informational).
    pub preset: String,
    pub unet: unet::Config,
    pub diffusion: DiffusionConfig,
    pub train: TrainConfig,
    /// The parameters the model is conditioned on, by name, with their prior box
    /// (`astrodiff train --condition`); `None` for an unconditional model. Its input width is
    /// `unet.cond_dim`.
    pub condition: Option<fields::condition::Condition>,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self::preset("cpu-small").expect("cpu-small preset exists")
    }
}

/// Names accepted by [`RunConfig::preset`].
pub const PRESETS: &[&str] = &["cpu-small", "paper-64", "paper-128"];

impl RunConfig {
    /// A named preset:
    /// - `paper-64` / `paper-128`: the seed paper (base channels = image size, mults (1,2,4,8),
    ///   2 res blocks, linear attention per level, full attention in the bottleneck,
    ///   GroupNorm(8), Huber loss on ε, linear β 1e-4→2e-2, T = 2000, Adam lr 5e-4 / 2e-4,
    ///   batch 40, no warm-up, no clipping);
    /// - `cpu-small`: a narrow, shallow variant for 2 CPU cores, predicting on top of the
    ///   Gaussian-field prior, trained at lognormal noise levels for unit-variance data (see
    ///   docs/model.md, docs/training.md).
    pub fn preset(name: &str) -> Result<Self> {
        let paper = |base: i64, lr: f64| RunConfig {
            preset: name.to_string(),
            unet: unet::Config {
                base_channels: base,
                ..unet::Config::default()
            },
            diffusion: DiffusionConfig::default(),
            train: TrainConfig {
                lr,
                ..TrainConfig::default()
            },
            condition: None,
        };
        match name {
            "paper-64" => Ok(paper(64, 5e-4)),
            "paper-128" => Ok(paper(128, 2e-4)),
            "cpu-small" => Ok(RunConfig {
                preset: name.to_string(),
                unet: unet::Config {
                    base_channels: 32,
                    channel_mults: vec![1, 2, 2],
                    res_blocks: 1,
                    attention: vec![Attention::None, Attention::None, Attention::Linear],
                    mid_attention: Attention::Full,
                    heads: 2,
                    head_dim: 32,
                    groups: 8,
                    ..unet::Config::default()
                },
                diffusion: DiffusionConfig {
                    schedule: ScheduleConfig::linear(1000, 1e-4, 2e-2),
                    prediction: Prediction::Eps,
                    loss: Loss::Mse,
                    // Measured in bench/run_train_bench.sh (docs/training.md): the
                    // prior is the largest gain per CPU-minute of everything tried.
                    gaussian_prior: true,
                    // Measured in the same benchmark: with the prior and unit-variance
                    // data (`prepare --norm standard`) these noise levels pass the demo's
                    // shape rows that uniform steps do not. σ is in normalised units: on
                    // min–max data (pixel std ≈ 0.16 for CAMELS-like log ρ) shift p_mean
                    // by ln(std).
                    t_sampling: TimestepSampling::Lognormal {
                        p_mean: -0.14,
                        p_std: 1.2,
                        uniform_frac: 0.2,
                    },
                },
                train: TrainConfig {
                    batch_size: 16,
                    lr: 1e-3,
                    warmup_steps: 100,
                    decay: Decay::None,
                    grad_clip: 1.0,
                    ema_decay: 0.995,
                    ema_start: 100,
                    checkpoint_every: 500,
                    sample_every: 0,
                    ..TrainConfig::default()
                },
                condition: None,
            }),
            other => Err(Error::invalid(format!(
                "unknown preset '{other}' (expected one of: {})",
                PRESETS.join(", ")
            ))),
        }
    }

    /// The preset `name` with the TOML text `toml_text` merged over it: any subset of keys may
    /// be given (`[unet] base_channels = 48`, `[train] lr = 2e-4`, …); unknown keys are errors.
    pub fn from_preset_and_toml(name: &str, toml_text: Option<&str>) -> Result<Self> {
        let base = Self::preset(name)?;
        let Some(text) = toml_text else {
            return Ok(base);
        };
        let over: toml::Value =
            toml::from_str(text).map_err(|e| Error::invalid(format!("invalid TOML: {e}")))?;
        let mut merged = toml::Value::try_from(&base)
            .map_err(|e| Error::invalid(format!("preset {name}: {e}")))?;
        merge(&mut merged, over);
        let cfg: RunConfig = merged
            .try_into()
            .map_err(|e: toml::de::Error| Error::invalid(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads a TOML override file over a preset; errors name the file.
    pub fn load(name: &str, toml_path: Option<&Path>) -> Result<Self> {
        match toml_path {
            None => Self::preset(name),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| Error::invalid(format!("{}: {e}", p.display())))?;
                Self::from_preset_and_toml(name, Some(&text))
                    .map_err(|e| Error::invalid(format!("{}: {e}", p.display())))
            }
        }
    }

    pub fn validate(&self) -> Result<()> {
        self.unet.validate()?;
        let t = &self.train;
        if t.batch_size == 0 {
            return Err(Error::invalid("train.batch_size must be positive"));
        }
        if t.log_every == 0 {
            return Err(
                "train.log_every = 0: must be at least 1 (steps between metrics lines)".into(),
            );
        }
        if !(t.lr > 0.0 && t.lr.is_finite()) {
            return Err(Error::invalid(format!(
                "train.lr = {} must be positive",
                t.lr
            )));
        }
        if !(0.0..1.0).contains(&t.ema_decay) {
            return Err(Error::invalid(format!(
                "train.ema_decay = {} is not in [0, 1)",
                t.ema_decay
            )));
        }
        if t.decay == Decay::Cosine && t.decay_steps <= t.warmup_steps {
            return Err(Error::invalid(
                "train.decay = \"cosine\" needs decay_steps > warmup_steps",
            ));
        }
        if !(0.0..1.0).contains(&t.cond_dropout) {
            return Err(Error::invalid(format!(
                "train.cond_dropout = {} is not in [0, 1)",
                t.cond_dropout
            )));
        }
        if let Some(c) = &self.condition {
            if self.unet.cond_dim != c.input_dim() as i64 {
                return Err(Error::invalid(format!(
                    "unet.cond_dim = {} but the condition ({}) needs {} inputs (one per parameter and a presence flag)",
                    self.unet.cond_dim,
                    c.names().join(", "),
                    c.input_dim()
                )));
            }
        }
        self.diffusion.schedule.build()?;
        self.diffusion.t_sampling.validate()?;
        Ok(())
    }

    /// Learning rate at optimiser step `step` (0-based): linear warm-up, then constant or
    /// cosine decay.
    pub fn lr_at(&self, step: u64) -> f64 {
        let t = &self.train;
        if step < t.warmup_steps {
            return t.lr * (step + 1) as f64 / t.warmup_steps as f64;
        }
        match t.decay {
            Decay::None => t.lr,
            Decay::Cosine => {
                let span = (t.decay_steps - t.warmup_steps) as f64;
                let p = ((step - t.warmup_steps) as f64 / span).min(1.0);
                let f = t.min_lr_frac
                    + (1.0 - t.min_lr_frac) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos());
                t.lr * f
            }
        }
    }
}

/// Two TOML texts merged key by key, `over` winning (tables merge recursively): how a TOML
/// override applies to a preset, and how the demo stacks a user's file over its own override.
pub fn merge_toml(base: &str, over: &str) -> Result<String> {
    let mut a: toml::Value =
        toml::from_str(base).map_err(|e| Error::invalid(format!("invalid TOML: {e}")))?;
    let b: toml::Value =
        toml::from_str(over).map_err(|e| Error::invalid(format!("invalid TOML: {e}")))?;
    merge(&mut a, b);
    toml::to_string(&a).map_err(|e| Error::invalid(format!("merged TOML: {e}")))
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(bv) if bv.is_table() && v.is_table() => merge(bv, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate_and_toml_overrides_merge() {
        for p in PRESETS {
            RunConfig::preset(p).unwrap().validate().unwrap();
        }
        let c = RunConfig::from_preset_and_toml(
            "paper-64",
            Some("[unet]\nbase_channels = 32\n[train]\nlr = 1e-4\n[diffusion.schedule]\ntimesteps = 500\n"),
        )
        .unwrap();
        assert_eq!(c.unet.base_channels, 32);
        assert_eq!(c.unet.channel_mults, vec![1, 2, 4, 8]);
        assert_eq!(c.train.lr, 1e-4);
        assert_eq!(c.train.batch_size, 40);
        assert_eq!(c.diffusion.schedule.timesteps, 500);
        assert_eq!(c.diffusion.schedule.beta_end, 2e-2);
        let e = RunConfig::from_preset_and_toml("paper-64", Some("[unet]\nbase_chanels = 3\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("base_chanels"), "{e}");
        assert!(RunConfig::preset("paper-256").is_err());
        // Round trip through JSON (what checkpoints store).
        let j = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<RunConfig>(&j).unwrap(), c);
    }

    #[test]
    fn lr_warmup_and_cosine() {
        let mut c = RunConfig::preset("cpu-small").unwrap();
        c.train.warmup_steps = 10;
        c.train.decay = Decay::Cosine;
        c.train.decay_steps = 110;
        c.train.min_lr_frac = 0.0;
        assert!((c.lr_at(0) - c.train.lr * 0.1).abs() < 1e-15);
        assert!((c.lr_at(9) - c.train.lr).abs() < 1e-15);
        assert!((c.lr_at(60) - c.train.lr * 0.5).abs() < 1e-12);
        assert!(c.lr_at(500).abs() < 1e-15);
    }
}
