//! Training: AdamW with warm-up/decay and gradient clipping, EMA, exact resume, metrics log,
//! progress bar, sample grids and atomic checkpoints.
//!
//! Determinism: the randomness of optimiser step `s` (timesteps, noise, dropout seed) is drawn
//! from a ChaCha8 stream that depends only on `(seed, s)`, and the batch comes from a
//! [`BatchSource`] that is itself a pure function of the step. So resuming from a checkpoint
//! at step `s` reproduces an uninterrupted run bit for bit (on the same device and thread
//! count) without saving any generator state.

use crate::analytic::GrfDenoiser;
use crate::checkpoint::{self, Checkpoint};
use crate::config::{Loss, Prediction, RunConfig, TimestepSampling};
use crate::ema::Ema;
use crate::error::{bail, ensure, Context, Result};
use crate::model::{prior_prediction, prior_tensors, Net, NetDenoiser};
use crate::sampler::{self, SamplerConfig};
use crate::schedule::NoiseSchedule;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::{Device, Kind, Reduction, Tensor};

/// A training batch: normalised fields `[B, N, N]` and optional conditioning rows `[B, D]`.
pub struct Batch {
    pub fields: ndarray::Array3<f32>,
    pub cond: Option<ndarray::Array2<f32>>,
}

/// Where batches come from. `batch_at` must be a pure function of `(step, batch_size)` (and
/// the source's own seed) for `--resume` to be exact.
pub trait BatchSource {
    fn batch_at(&self, step: u64, batch_size: usize) -> Result<Batch>;
    /// Side length N of the square fields.
    fn field_size(&self) -> usize;
}

/// Tag of the condition-dropout stream (`Trainer::drop_condition`): "cfg_drop".
const COND_DROPOUT_TAG: u64 = 0x6366_675f_6472_6f70;

/// The ChaCha8 stream of optimiser step `step`: one stream per step of one seeded family.
pub fn step_rng(seed: u64, step: u64) -> ChaCha8Rng {
    // Distinct from other consumers of the same user seed (data order, sampling).
    let mut r = ChaCha8Rng::seed_from_u64(seed ^ 0x7472_6169_6e5f_7374);
    r.set_stream(step);
    r
}

/// AdamW (Loshchilov & Hutter) on plain tensors: PyTorch's `torch.optim.AdamW` update
/// (non-amsgrad, decoupled decay), with its moments exposed so they can be saved.
///
/// The update is done in place with one scratch buffer (the size of the largest parameter)
/// instead of a fresh temporary per operation: for `paper-64` (31 M parameters) the
/// temporaries cost more than the arithmetic (page faults and zeroing of each new allocation),
/// which is where the tch training step lost to PyTorch's (`bench/run_unet_bench.sh`).
pub struct AdamW {
    pub params: Vec<(String, Tensor)>,
    pub m: Vec<Tensor>,
    pub v: Vec<Tensor>,
    /// Number of updates done (PyTorch's `state["step"]`).
    pub t: u64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    scratch: Tensor,
}

impl AdamW {
    pub fn new(
        params: Vec<(String, Tensor)>,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
    ) -> Self {
        let m = params.iter().map(|(_, p)| p.zeros_like()).collect();
        let v = params.iter().map(|(_, p)| p.zeros_like()).collect();
        let largest = params.iter().map(|(_, p)| p.numel()).max().unwrap_or(0);
        let scratch = match params.first() {
            Some((_, p)) => Tensor::zeros([largest as i64], (p.kind(), p.device())),
            None => Tensor::zeros([0], (tch::Kind::Float, tch::Device::Cpu)),
        };
        Self {
            params,
            m,
            v,
            t: 0,
            beta1,
            beta2,
            eps,
            weight_decay,
            scratch,
        }
    }

    pub fn zero_grad(&mut self) {
        for (_, p) in &mut self.params {
            p.zero_grad();
        }
    }

    /// Global L2 norm of the gradients; with `max_norm > 0`, scales them down to at most
    /// `max_norm` (PyTorch `clip_grad_norm_`: factor `max_norm/(norm + 1e-6)`, capped at 1).
    pub fn clip_grad_norm(&mut self, max_norm: f64) -> f64 {
        tch::no_grad(|| {
            let norms: Vec<Tensor> = self.params.iter().map(|(_, p)| p.grad().norm()).collect();
            let total = Tensor::stack(&norms, 0).norm().double_value(&[]);
            if max_norm > 0.0 {
                let coef = max_norm / (total + 1e-6);
                if coef < 1.0 {
                    for (_, p) in &self.params {
                        let _ = p.grad().g_mul_scalar_(coef);
                    }
                }
            }
            total
        })
    }

    /// One update with learning rate `lr`:
    /// `p ← p(1 − lr·λ)`, `m ← β₁m + (1 − β₁)g`, `v ← β₂v + (1 − β₂)g²`,
    /// `p ← p − (lr/(1 − β₁ᵗ))·m/(√v/√(1 − β₂ᵗ) + ε)`.
    pub fn step(&mut self, lr: f64) {
        self.t += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let bc1 = 1.0 - b1.powi(self.t as i32);
        let bc2_sqrt = (1.0 - b2.powi(self.t as i32)).sqrt();
        let step_size = lr / bc1;
        tch::no_grad(|| {
            for (((_, p), m), v) in self.params.iter().zip(&mut self.m).zip(&mut self.v) {
                let g = p.grad();
                let mut p = p.shallow_clone();
                let mut s = self.scratch.narrow(0, 0, p.numel() as i64).view_as(&p);
                if self.weight_decay != 0.0 {
                    let _ = p.g_mul_scalar_(1.0 - lr * self.weight_decay);
                }
                let _ = m.lerp_(&g, 1.0 - b1);
                let _ = g.mul_out(&s, &g);
                let _ = v.lerp_(&s, 1.0 - b2);
                // s ← −(√v/√bc₂ + ε)/step_size, so that p + m/s is the update.
                let _ = v.sqrt_out(&s);
                let _ = s.g_div_scalar_(bc2_sqrt);
                let _ = s.g_add_scalar_(self.eps);
                let _ = s.g_div_scalar_(-step_size);
                let _ = p.addcdiv_(m, &s);
            }
        });
    }
}

/// What one optimiser step reports.
#[derive(Clone, Copy, Debug)]
pub struct StepStats {
    /// The step just taken (0-based).
    pub step: u64,
    pub loss: f64,
    pub grad_norm: f64,
    pub lr: f64,
}

/// A model being trained: network, EMA, optimiser and position.
pub struct Trainer {
    pub cfg: RunConfig,
    pub schedule: NoiseSchedule,
    pub net: Net,
    pub ema: Ema,
    pub opt: AdamW,
    pub seed: u64,
    /// Optimiser steps done so far (= index of the next step).
    pub step: u64,
    /// Training wall time accumulated over all sessions, seconds.
    pub wall_s: f64,
    pub device: Device,
    /// The Gaussian prior (`diffusion.gaussian_prior`), set by [`Trainer::set_prior`] before
    /// the first step or restored from the checkpoint.
    pub prior: Option<GrfDenoiser>,
}

impl Trainer {
    /// A fresh run: weights initialised from `seed`.
    pub fn new(cfg: RunConfig, seed: u64, device: Device) -> Result<Self> {
        cfg.validate()?;
        let schedule = cfg.diffusion.schedule.build()?;
        let net = Net::new(&cfg, device, seed)?;
        if cfg.diffusion.gaussian_prior {
            // The residual starts at zero: the untrained model is the Gaussian prior exactly.
            tch::no_grad(|| {
                for (name, t) in net.named_params() {
                    if name.starts_with("final_conv.") {
                        let _ = t.shallow_clone().zero_();
                    }
                }
            });
        }
        let ema_net = Net::new(&cfg, device, seed)?;
        let ema = Ema::new(ema_net, &net, cfg.train.ema_decay, cfg.train.ema_start);
        let t = &cfg.train;
        let opt = AdamW::new(net.named_params(), t.beta1, t.beta2, t.eps, t.weight_decay);
        Ok(Self {
            cfg,
            schedule,
            net,
            ema,
            opt,
            seed,
            step: 0,
            wall_s: 0.0,
            device,
            prior: None,
        })
    }

    /// Sets the Gaussian prior of a `diffusion.gaussian_prior` run from the training set's
    /// mean and per-mode variances (normalised units; layout of
    /// [`GrfDenoiser::from_mode_variance`], e.g. from `sim::GaussianNull`).
    pub fn set_prior(&mut self, n: usize, mean: f64, mode_var: Vec<f64>) -> Result<()> {
        ensure!(
            self.cfg.diffusion.gaussian_prior,
            "a Gaussian prior was given but diffusion.gaussian_prior is off"
        );
        ensure!(
            mode_var.len() == n * (n / 2 + 1) && mean.is_finite(),
            "Gaussian prior: {} mode variances for a {n}² field (expected {}), mean {mean}",
            mode_var.len(),
            n * (n / 2 + 1)
        );
        ensure!(
            mode_var.iter().all(|v| v.is_finite() && *v >= 0.0),
            "Gaussian prior: the mode variances must be finite and non-negative"
        );
        self.prior = Some(GrfDenoiser::from_mode_variance(
            &self.schedule,
            n,
            mean,
            mode_var,
        ));
        Ok(())
    }

    /// Restores a run from a checkpoint exactly (weights, EMA, optimiser moments and step).
    pub fn from_checkpoint(ck: &Checkpoint, device: Device) -> Result<Self> {
        let mut tr = Self::new(ck.config.clone(), ck.seed, device)?;
        let load = |dst: &[(String, Tensor)], prefix: &str| {
            checkpoint::load_into(dst, &ck.group(prefix), prefix)
        };
        load(&tr.net.named_params(), "model")?;
        load(&tr.ema.net.named_params(), "ema")?;
        let names: Vec<String> = tr.opt.params.iter().map(|(n, _)| n.clone()).collect();
        let pair = |ts: &[Tensor]| -> Vec<(String, Tensor)> {
            names
                .iter()
                .cloned()
                .zip(ts.iter().map(|t| t.shallow_clone()))
                .collect()
        };
        load(&pair(&tr.opt.m), "adam_m")?;
        load(&pair(&tr.opt.v), "adam_v")?;
        tr.opt.t = ck.adam_step;
        tr.step = ck.step;
        tr.wall_s = ck.wall_s;
        tr.prior = ck.prior(&tr.schedule)?;
        Ok(tr)
    }

    /// Timesteps `[B]` (drawn by `diffusion.t_sampling`) and noise `[B, 1, N, N]` of step
    /// `step`, plus a seed for torch's generator (dropout): a pure function of `(seed, step)`.
    pub fn step_randomness(&self, step: u64, b: usize, n: usize) -> (Tensor, Tensor, u64) {
        let mut rng = step_rng(self.seed, step);
        let tn = self.schedule.timesteps() as i64;
        let t: Vec<i64> = match self.cfg.diffusion.t_sampling {
            TimestepSampling::Uniform => (0..b).map(|_| rng.gen_range(0..tn)).collect(),
            TimestepSampling::Lognormal {
                p_mean,
                p_std,
                uniform_frac,
            } => (0..b)
                .map(|_| {
                    // Both draws are made for every item, so the stream does not depend on
                    // which branch an item takes.
                    let u: f64 = rng.gen();
                    let z: f64 = StandardNormal.sample(&mut rng);
                    let ut = rng.gen_range(0..tn);
                    if u < uniform_frac {
                        ut
                    } else {
                        let sigma = (p_mean + p_std * z).exp().min(self.schedule.max_sigma());
                        self.schedule
                            .t_for_noise_level(sigma)
                            .expect("σ is finite, positive and clamped to the schedule")
                            as i64
                    }
                })
                .collect(),
        };
        let noise: Vec<f32> = (0..b * n * n)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        let torch_seed = rng.next_u64() >> 1;
        let t = Tensor::from_slice(&t).to_device(self.device);
        let noise = Tensor::from_slice(&noise)
            .view([b as i64, 1, n as i64, n as i64])
            .to_device(self.device);
        (t, noise, torch_seed)
    }

    /// Condition dropout (`train.cond_dropout`, classifier-free guidance): each row of `cond`
    /// is replaced by the all-zero "no condition" input with that probability. The draws come
    /// from their own stream of `(seed, step)`, so the timesteps and noise of a step do not
    /// depend on whether the model is conditional. Unconditional models pass rows unchanged.
    pub fn drop_condition(&self, step: u64, cond: &Tensor) -> Tensor {
        let p = self.cfg.train.cond_dropout;
        if self.cfg.condition.is_none() || p <= 0.0 {
            return cond.shallow_clone();
        }
        let rows = cond.size()[0];
        let mut rng = fields::rng::substream(self.seed, &[COND_DROPOUT_TAG, step]);
        let keep: Vec<f32> = (0..rows)
            .map(|_| if rng.gen::<f64>() < p { 0.0 } else { 1.0 })
            .collect();
        cond * Tensor::from_slice(&keep)
            .view([rows, 1])
            .to_device(cond.device())
    }

    /// One optimiser step on the batch `x0` `[B, 1, N, N]` (normalised fields, on any device).
    /// Errors when the config asks for the Gaussian prior and none has been set.
    pub fn train_step(&mut self, x0: &Tensor, cond: Option<&Tensor>) -> Result<StepStats> {
        if self.cfg.diffusion.gaussian_prior && self.prior.is_none() {
            bail!("diffusion.gaussian_prior is on but no prior is set (Trainer::set_prior)");
        }
        let step = self.step;
        let s = x0.size();
        let (t, noise, torch_seed) = self.step_randomness(step, s[0] as usize, s[2] as usize);
        tch::manual_seed(torch_seed as i64);
        let x0 = x0.to_device(self.device).to_kind(Kind::Float);
        let cond = cond.map(|c| self.drop_condition(step, c).to_device(self.device));
        let x_t = self.schedule.q_sample(&x0, &noise, &t);
        let target = match self.cfg.diffusion.prediction {
            Prediction::Eps => noise,
            Prediction::V => self.schedule.v_target(&x0, &noise, &t),
        };
        let mut out = self.net.unet.forward(&x_t, &t, cond.as_ref(), true);
        if self.cfg.diffusion.gaussian_prior {
            if let Some(p) = self.prior.as_ref() {
                out += prior_prediction(p, &self.schedule, self.cfg.diffusion.prediction, &x_t, &t);
            }
        }
        let loss = match self.cfg.diffusion.loss {
            Loss::Huber => out.smooth_l1_loss(&target, Reduction::Mean, 1.0),
            Loss::Mse => out.mse_loss(&target, Reduction::Mean),
        };
        self.opt.zero_grad();
        loss.backward();
        let grad_norm = self.opt.clip_grad_norm(self.cfg.train.grad_clip);
        let lr = self.cfg.lr_at(step);
        self.opt.step(lr);
        self.ema.update(&self.net, step);
        self.step += 1;
        Ok(StepStats {
            step,
            loss: loss.double_value(&[]),
            grad_norm,
            lr,
        })
    }

    /// Runs step `self.step` on the batch `data` provides for it.
    pub fn train_step_from(&mut self, data: &dyn BatchSource) -> Result<StepStats> {
        let b = data.batch_at(self.step, self.cfg.train.batch_size)?;
        let (x0, cond) = batch_tensors(&b);
        self.train_step(&x0, cond.as_ref())
    }

    /// All state as named tensors in checkpoint layout.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (n, t) in self.net.named_params() {
            out.push((format!("model/{n}"), t));
        }
        for (n, t) in self.ema.net.named_params() {
            out.push((format!("ema/{n}"), t));
        }
        for (((n, _), m), v) in self.opt.params.iter().zip(&self.opt.m).zip(&self.opt.v) {
            out.push((format!("adam_m/{n}"), m.shallow_clone()));
            out.push((format!("adam_v/{n}"), v.shallow_clone()));
        }
        if let Some(p) = &self.prior {
            out.extend(prior_tensors(p));
        }
        out
    }

    fn meta(&self, normalisation: Option<&str>) -> HashMap<String, String> {
        let mut m = HashMap::new();
        m.insert("format".into(), checkpoint::FORMAT.into());
        m.insert("step".into(), self.step.to_string());
        m.insert("seed".into(), self.seed.to_string());
        m.insert("adam_step".into(), self.opt.t.to_string());
        m.insert("wall_s".into(), format!("{}", self.wall_s));
        m.insert(
            "config".into(),
            serde_json::to_string(&self.cfg).expect("config serialises"),
        );
        if let Some(n) = normalisation {
            m.insert("normalisation".into(), n.to_string());
        }
        m
    }

    /// Writes the checkpoint atomically to `path`.
    pub fn save(
        &self,
        path: &Path,
        normalisation: Option<&str>,
    ) -> Result<(), checkpoint::CheckpointError> {
        checkpoint::write_atomic(path, &self.state_tensors(), self.meta(normalisation))
    }

    /// [`Trainer::save`] with a hook between writing the temporary file and renaming it.
    pub fn save_with_hook(
        &self,
        path: &Path,
        normalisation: Option<&str>,
        hook: impl FnOnce() -> std::io::Result<()>,
    ) -> Result<(), checkpoint::CheckpointError> {
        checkpoint::write_atomic_with_hook(
            path,
            &self.state_tensors(),
            self.meta(normalisation),
            hook,
        )
    }
}

/// The batch as tensors: fields `[B, 1, N, N]` and conditioning `[B, D]`.
pub fn batch_tensors(b: &Batch) -> (Tensor, Option<Tensor>) {
    let (bs, n, m) = b.fields.dim();
    let v: Vec<f32> = b.fields.iter().copied().collect();
    let x = Tensor::from_slice(&v).view([bs as i64, 1, n as i64, m as i64]);
    let c = b.cond.as_ref().map(|c| {
        let (r, d) = c.dim();
        let v: Vec<f32> = c.iter().copied().collect();
        Tensor::from_slice(&v).view([r as i64, d as i64])
    });
    (x, c)
}

/// Options of a training session.
pub struct LoopOptions {
    pub run_dir: PathBuf,
    /// Train until this many optimiser steps have been done in total.
    pub total_steps: Option<u64>,
    /// Stop after this many minutes of this session.
    pub minutes: Option<f64>,
    /// The data layer's normalisation (JSON), stored in every checkpoint.
    pub normalisation: Option<String>,
}

/// What a training session reports to its caller (the library draws nothing; the binary turns
/// these into a progress bar and preview PNGs).
#[derive(Debug)]
pub enum TrainEvent<'a> {
    /// After each optimiser step: the run's step count and this session's seconds.
    Step { step: u64, session_s: f64 },
    /// A `metrics.jsonl` line was written (mean loss and throughput since the last one).
    Metrics {
        step: u64,
        loss: f64,
        samples_per_s: f64,
    },
    /// Every `train.sample_every` steps: `train.sample_n` fields drawn with the EMA weights
    /// (normalised units; see [`sample_preview`]), for the caller to show or save.
    Preview {
        step: u64,
        fields: &'a ndarray::Array3<f32>,
    },
}

/// One line of `metrics.jsonl`.
#[derive(serde::Serialize)]
struct MetricsLine {
    step: u64,
    loss: f64,
    lr: f64,
    grad_norm: f64,
    samples_per_s: f64,
    wall_s: f64,
}

/// Trains `tr` on `data` until the step or time budget is spent, writing into `run_dir`:
/// `metrics.jsonl` (appended; lines past the resumed step are dropped), `checkpoint.safetensors`
/// every `checkpoint_every` steps and at the end. Returns the stats of the last step.
pub fn run(
    tr: &mut Trainer,
    data: &dyn BatchSource,
    opts: &LoopOptions,
) -> Result<Option<StepStats>> {
    run_with(tr, data, opts, &mut |_| {})
}

/// [`run`], reporting each step, metrics line and preview to `on_event`.
pub fn run_with(
    tr: &mut Trainer,
    data: &dyn BatchSource,
    opts: &LoopOptions,
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<Option<StepStats>> {
    if opts.total_steps.is_none() && opts.minutes.is_none() {
        bail!("give a budget: a number of steps or of minutes");
    }
    if tr.cfg.diffusion.gaussian_prior && tr.prior.is_none() {
        bail!("diffusion.gaussian_prior is on but no prior was fitted (Trainer::set_prior)");
    }
    if let Some(p) = &tr.prior {
        ensure!(
            p.n == data.field_size(),
            "the Gaussian prior is for {}² fields but the data are {}²",
            p.n,
            data.field_size()
        );
    }
    std::fs::create_dir_all(&opts.run_dir)
        .with_context(|| format!("creating {}", opts.run_dir.display()))?;
    let metrics_path = opts.run_dir.join("metrics.jsonl");
    truncate_metrics(&metrics_path, tr.step)?;
    let mut metrics = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&metrics_path)
        .with_context(|| format!("opening {}", metrics_path.display()))?;
    let ck_path = opts.run_dir.join(checkpoint::FILE_NAME);
    let tc = tr.cfg.train.clone();
    let start = Instant::now();
    let wall0 = tr.wall_s;
    let deadline = opts.minutes.map(|m| m * 60.0);
    let (mut loss_acc, mut gn_acc, mut n_acc) = (0.0, 0.0, 0u64);
    let mut last_log = Instant::now();
    let mut last = None;
    loop {
        if opts.total_steps.is_some_and(|n| tr.step >= n) {
            break;
        }
        if deadline.is_some_and(|d| start.elapsed().as_secs_f64() >= d) {
            break;
        }
        let s = tr.train_step_from(data)?;
        if !s.loss.is_finite() {
            bail!(
                "loss became {} at step {} (lr {:.3e}); lower train.lr or enable grad_clip",
                s.loss,
                s.step,
                s.lr
            );
        }
        tr.wall_s = wall0 + start.elapsed().as_secs_f64();
        last = Some(s);
        (loss_acc, gn_acc, n_acc) = (loss_acc + s.loss, gn_acc + s.grad_norm, n_acc + 1);
        let done = tr.step;
        if done.is_multiple_of(tc.log_every.max(1)) {
            let dt = last_log.elapsed().as_secs_f64();
            let line = MetricsLine {
                step: done,
                loss: loss_acc / n_acc as f64,
                lr: s.lr,
                grad_norm: gn_acc / n_acc as f64,
                samples_per_s: (n_acc as usize * tc.batch_size) as f64 / dt.max(1e-9),
                wall_s: tr.wall_s,
            };
            writeln!(
                metrics,
                "{}",
                serde_json::to_string(&line).context("metrics line")?
            )
            .and_then(|_| metrics.flush())
            .with_context(|| format!("writing {}", metrics_path.display()))?;
            on_event(TrainEvent::Metrics {
                step: done,
                loss: line.loss,
                samples_per_s: line.samples_per_s,
            });
            (loss_acc, gn_acc, n_acc) = (0.0, 0.0, 0);
            last_log = Instant::now();
        }
        on_event(TrainEvent::Step {
            step: done,
            session_s: start.elapsed().as_secs_f64(),
        });
        if tc.checkpoint_every > 0 && done.is_multiple_of(tc.checkpoint_every) {
            tr.save(&ck_path, opts.normalisation.as_deref())?;
        }
        if tc.sample_every > 0 && done.is_multiple_of(tc.sample_every) {
            let fields = sample_preview(tr, data)?;
            on_event(TrainEvent::Preview {
                step: done,
                fields: &fields,
            });
        }
    }
    tr.save(&ck_path, opts.normalisation.as_deref())?;
    Ok(last)
}

/// Drops metrics lines whose step is past `step` (left by a session that died after its last
/// checkpoint), so a resumed log has each step once.
fn truncate_metrics(path: &Path, step: u64) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let keep: Vec<&str> = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v.get("step").and_then(|s| s.as_u64()))
                .is_some_and(|s| s <= step)
        })
        .collect();
    if keep.len() != text.lines().count() {
        let mut body = keep.join("\n");
        if !body.is_empty() {
            body.push('\n');
        }
        write_file_atomic(path, body.as_bytes())?;
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically (the workspace's rule, [`atomicio`]).
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    atomicio::write(path, bytes)?;
    Ok(())
}

/// Draws `train.sample_n` fields with the EMA weights (DDIM, `train.sample_steps` steps, seed
/// = the run's seed, so previews of successive steps are comparable), in normalised units.
pub fn sample_preview(tr: &Trainer, data: &dyn BatchSource) -> Result<ndarray::Array3<f32>> {
    let n = tr.cfg.train.sample_n.max(1);
    let size = data.field_size() as i64;
    let cond = if tr.cfg.unet.cond_dim > 0 {
        batch_tensors(&data.batch_at(0, n)?)
            .1
            .map(|c| c.to_device(tr.device))
    } else {
        None
    };
    let den = NetDenoiser {
        unet: &tr.ema.net.unet,
        schedule: &tr.schedule,
        prediction: tr.cfg.diffusion.prediction,
        cond,
        prior: tr.prior.as_ref(),
    };
    let sc = SamplerConfig::ddim(tr.cfg.train.sample_steps, 0.0);
    let out = sampler::sample(
        &den,
        &tr.schedule,
        &sc,
        &[n as i64, 1, size, size],
        tr.device,
        tr.seed,
        None,
    )?;
    let v = Vec::<f32>::try_from(&out.x0.to_device(Device::Cpu).flatten(0, -1))?;
    ndarray::Array3::from_shape_vec((n, size as usize, size as usize), v)
        .context("preview fields have an unexpected size")
}
