//! Training a run folder on a prepared dataset: one call for `astrodiff train`, the demo and
//! any program. Writes `config.json`, `metrics.jsonl` and `checkpoint.safetensors` (whose
//! manifest entry holds the dataset description, so [`crate::TrainedRun::load`] can return
//! physical units), holds the run folder's lock, and resumes from the checkpoint on request.

use crate::error::{bail, Context, Result};
use diffusion::checkpoint;
use diffusion::config::{RunConfig, TimestepSampling, PRESETS};
use diffusion::tch::Device;
use diffusion::train::{Batch, BatchSource, LoopOptions, StepStats, TrainEvent, Trainer};
use fields::augment::BatchStream;
use fields::condition::Condition;
use fields::dataset::{NormKind, PreparedDataset};
use std::path::{Path, PathBuf};

/// A training session.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// Starting configuration (`diffusion::config::PRESETS`).
    pub preset: String,
    /// TOML file overriding any subset of the preset (ignored when resuming).
    pub overrides: Option<PathBuf>,
    /// Prepared dataset folder.
    pub data: PathBuf,
    /// Run folder.
    pub out: PathBuf,
    /// Train until this many optimiser steps in total (counting earlier sessions).
    pub steps: Option<u64>,
    /// Stop after this many minutes of this session (with `steps`: whichever comes first).
    pub minutes: Option<f64>,
    /// Seed of the weight init, batch order and augmentation, and per-step noise.
    pub seed: u64,
    /// Continue from the run folder's checkpoint (its stored config and seed are used).
    pub resume: bool,
    pub device: Option<String>,
    pub threads: Option<usize>,
    /// Parameters to condition on, by name (`fields::condition`): columns of the dataset's
    /// parameter table, normalised to their prior box and recorded in the checkpoint's config.
    /// `None`: an unconditional model, whatever the dataset holds. When resuming, the
    /// checkpoint's own condition is used and a different one here is an error.
    pub condition: Option<Vec<String>>,
}

/// What a session reports.
#[derive(Debug)]
pub enum Progress<'a> {
    /// A remark for the user (a flag that is ignored, a resumed run, a fitted prior).
    Note(String),
    /// Training begins.
    Started {
        preset: String,
        n_params: i64,
        n_train: usize,
        side: usize,
        batch: usize,
        device: Device,
        start_step: u64,
    },
    Train(TrainEvent<'a>),
}

/// How a session ended.
#[derive(Clone, Debug)]
pub struct TrainOutcome {
    /// The run's step count before and after this session, and this session's seconds.
    pub start_step: u64,
    pub step: u64,
    pub seconds: f64,
    /// The last step's statistics (`None` when the run already was at its target).
    pub last: Option<StepStats>,
    pub checkpoint: PathBuf,
}

/// The data layer's batch stream seen by the trainer, with every item's conditioning input
/// when the model is conditional.
struct Stream {
    batches: BatchStream,
    /// The conditioning input of every training map (`Condition::input_rows`), in the order of
    /// the stream's stored maps.
    cond: Option<ndarray::Array2<f32>>,
}

impl BatchSource for Stream {
    fn batch_at(&self, step: u64, batch_size: usize) -> diffusion::Result<Batch> {
        let cond = self.cond.as_ref().map(|rows| {
            let idx = self.batches.indices_at(step, batch_size);
            rows.select(ndarray::Axis(0), &idx)
        });
        Ok(Batch {
            fields: self.batches.batch_at(step, batch_size),
            cond,
        })
    }
    fn field_size(&self) -> usize {
        self.batches.side()
    }
}

/// The dataset description stored in checkpoints (the per-item provenance table is dropped:
/// it can be large and sampling does not need it).
pub fn dataset_meta_json(ds: &PreparedDataset) -> Result<String> {
    let mut meta = ds.meta.clone();
    meta.items.clear();
    serde_json::to_string(&meta).context("serialising the dataset description")
}

/// The Gaussian prior of `diffusion.gaussian_prior`: the Gaussian null of the training split in
/// the normalised units the network sees.
pub fn fit_prior(ds: &PreparedDataset) -> Result<sim::GaussianNull> {
    let train = ds.load("train")?;
    let maps: Vec<ndarray::Array2<f64>> =
        train.outer_iter().map(|m| m.mapv(|v| v as f64)).collect();
    sim::GaussianNull::fit(&maps).context("fitting the Gaussian null")
}

/// Trains (or resumes) the run in `opts.out`; see the module docs.
pub fn train(opts: &TrainOptions, on: &mut dyn FnMut(Progress)) -> Result<TrainOutcome> {
    if opts.steps.is_none() && opts.minutes.is_none() {
        bail!("give a budget: --steps N (total optimiser steps) or --minutes M");
    }
    if let Some(m) = opts.minutes {
        if !(m > 0.0 && m.is_finite()) {
            bail!("--minutes {m}: must be a positive number");
        }
    }
    if !PRESETS.contains(&opts.preset.as_str()) {
        bail!(
            "--preset '{}': expected one of {}",
            opts.preset,
            PRESETS.join(", ")
        );
    }
    let device = diffusion::model::select_device(opts.device.as_deref(), opts.threads)?;
    let ds = PreparedDataset::open(&opts.data)
        .with_context(|| format!("opening dataset {}", opts.data.display()))?;
    // Checked before the run folder is touched, so a bad name leaves nothing behind.
    let condition = match &opts.condition {
        Some(names) => {
            let train_rows = ds.load_params("train")?;
            Some(
                Condition::select(names, ds.param_names(), train_rows.as_ref())
                    .with_context(|| format!("conditioning on {}", opts.data.display()))?,
            )
        }
        None => None,
    };
    // One trainer per run folder: the lock is held until this function returns (the OS drops
    // it however the process ends, so a killed run never blocks its resume).
    let lock = atomicio::DirLock::acquire(&opts.out, "astrodiff train")?;
    lock.remove_stale_temporaries()?;
    let ck_path = opts.out.join(checkpoint::FILE_NAME);

    let resume = opts.resume && ck_path.exists();
    if opts.resume && !resume {
        // A scheduler passes --resume on every attempt; the first attempt may have been killed
        // before its first checkpoint. Nothing was saved, so start afresh from the flags.
        on(Progress::Note(format!(
            "--resume: {} has no checkpoint yet (stopped before its first one?); starting afresh",
            opts.out.display()
        )));
    }
    let mut tr = if resume {
        if opts.overrides.is_some() {
            on(Progress::Note(
                "--resume uses the config stored in the checkpoint; --config is ignored".into(),
            ));
        }
        let ck = checkpoint::read(&ck_path)?;
        let tr = Trainer::from_checkpoint(&ck, device)?;
        if let Some(c) = &condition {
            let stored = tr
                .cfg
                .condition
                .as_ref()
                .map(|s| s.names())
                .unwrap_or_default();
            if stored != c.names() {
                bail!(
                    "{}: --condition {} but the checkpoint is conditioned on {}: resume without --condition, or train a new run",
                    ck_path.display(),
                    c.names().join(","),
                    if stored.is_empty() { "nothing".to_string() } else { stored.join(",") }
                );
            }
        }
        on(Progress::Note(format!(
            "resuming {} at step {} (seed {})",
            opts.out.display(),
            tr.step,
            tr.seed
        )));
        tr
    } else {
        if ck_path.exists() {
            bail!(
                "{} already holds a checkpoint: pass --resume to continue it, or choose another --out",
                opts.out.display()
            );
        }
        let mut cfg = RunConfig::load(&opts.preset, opts.overrides.as_deref())?;
        if let Some(c) = condition {
            cfg.unet.cond_dim = c.input_dim() as i64;
            on(Progress::Note(format!(
                "conditioning on {} (prior box {}), condition dropout {}",
                c.names().join(", "),
                c.params
                    .iter()
                    .map(|p| format!("[{}, {}]", p.lo, p.hi))
                    .collect::<Vec<_>>()
                    .join(" × "),
                cfg.train.cond_dropout
            )));
            cfg.condition = Some(c);
            cfg.validate()?;
        }
        let mut tr = Trainer::new(cfg, opts.seed, device)?;
        if tr.cfg.diffusion.gaussian_prior {
            let null = fit_prior(&ds).with_context(|| {
                format!("fitting the Gaussian prior to {}", opts.data.display())
            })?;
            tr.set_prior(null.side(), null.mean(), null.mode_variance().to_vec())?;
            on(Progress::Note(format!(
                "Gaussian prior: mean and 2D power of {} training maps (normalised units)",
                null.n_maps()
            )));
        }
        tr
    };
    for note in check_data_fits(&tr.cfg, &ds, &opts.data)? {
        on(Progress::Note(note));
    }
    let resolved = serde_json::to_string_pretty(&tr.cfg).context("serialising the config")?;
    atomicio::write_creating_dir(opts.out.join("config.json"), resolved.as_bytes())?;

    let batches = ds
        .batch_stream(tr.seed)
        .with_context(|| format!("loading {}", opts.data.display()))?;
    let cond = match (&tr.cfg.condition, batches.params()) {
        (None, _) => None,
        (Some(c), Some(rows)) => Some(c.input_rows(ds.param_names(), rows)?),
        (Some(c), None) => bail!(
            "{}: the model is conditioned on {} but the dataset has no parameter table",
            opts.data.display(),
            c.names().join(", ")
        ),
    };
    let stream = Stream { batches, cond };
    let start_step = tr.step;
    on(Progress::Started {
        preset: tr.cfg.preset.clone(),
        n_params: tr.net.num_params(),
        n_train: stream.batches.len(),
        side: stream.batches.side(),
        batch: tr.cfg.train.batch_size,
        device,
        start_step,
    });
    let t0 = std::time::Instant::now();
    let lo = LoopOptions {
        run_dir: opts.out.clone(),
        total_steps: opts.steps,
        minutes: opts.minutes,
        normalisation: Some(dataset_meta_json(&ds)?),
    };
    let last = diffusion::train::run_with(&mut tr, &stream, &lo, &mut |e| on(Progress::Train(e)))?;
    drop(lock);
    Ok(TrainOutcome {
        start_step,
        step: tr.step,
        seconds: t0.elapsed().as_secs_f64(),
        last,
        checkpoint: ck_path,
    })
}

/// Errors when the network cannot take the data; notes for settings that fit badly.
fn check_data_fits(cfg: &RunConfig, ds: &PreparedDataset, dir: &Path) -> Result<Vec<String>> {
    let stride = cfg.unet.total_stride();
    let n = ds.resolution();
    if !n.is_multiple_of(stride) || n < stride {
        bail!(
            "{}: maps are {n}² but the network needs a multiple of its total stride {stride} \
             (set unet.channel_mults shorter or resample the data)",
            dir.display()
        );
    }
    if cfg.unet.cond_dim > 0 && cfg.condition.is_none() {
        bail!(
            "{}: unet.cond_dim = {} but no condition is named: pass --condition NAME,NAME (columns of the parameter table: {})",
            dir.display(),
            cfg.unet.cond_dim,
            ds.param_names().join(", ")
        );
    }
    let mut notes = Vec::new();
    if matches!(cfg.diffusion.t_sampling, TimestepSampling::Lognormal { .. })
        && NormKind::of(&ds.normalization()) != NormKind::Standard
    {
        notes.push(format!(
            "{}: diffusion.t_sampling draws noise levels in normalised units, set in the \
             preset for unit-variance data; these maps are not standardised (prepare --norm \
             standard, or shift p_mean by ln of their pixel std)",
            dir.display()
        ));
    }
    Ok(notes)
}
