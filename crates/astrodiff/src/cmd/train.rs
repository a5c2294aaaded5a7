//! `astrodiff train`: train a diffusion model on a prepared dataset.

use anyhow::{bail, Context, Result};
use diffusion::checkpoint;
use diffusion::config::{RunConfig, TimestepSampling, PRESETS};
use diffusion::train::{self, Batch, BatchSource, LoopOptions, Trainer};
use fields::augment::BatchStream;
use fields::dataset::{NormKind, PreparedDataset};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// Starting configuration: cpu-small (2 CPU cores), paper-64 or paper-128 (the seed paper).
    #[arg(long, default_value = "cpu-small")]
    pub preset: String,
    /// TOML file overriding any subset of the preset (see docs/model.md).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Prepared dataset folder (from `astrodiff data prepare`).
    #[arg(long)]
    pub data: PathBuf,
    /// Run folder: checkpoint, config.json, metrics.jsonl, samples/.
    #[arg(long)]
    pub out: PathBuf,
    /// Train until this many optimiser steps have been done in total (counting earlier sessions).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Stop after this many minutes of this session (with --steps: whichever comes first).
    #[arg(long)]
    pub minutes: Option<f64>,
    /// Seed of the weight init, the batch order/augmentation and the per-step noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Continue the run in --out from its checkpoint (its stored config and seed are used).
    #[arg(long)]
    pub resume: bool,
    /// cpu, cuda or cuda:N (default: CUDA if available, else CPU).
    #[arg(long)]
    pub device: Option<String>,
    /// CPU threads for torch (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// The data layer's batch stream seen by the trainer.
struct Stream(BatchStream);

impl BatchSource for Stream {
    fn batch_at(&self, step: u64, batch_size: usize) -> Result<Batch> {
        Ok(Batch {
            fields: self.0.batch_at(step, batch_size),
            cond: self.0.params_at(step, batch_size),
        })
    }
    fn field_size(&self) -> usize {
        self.0.side()
    }
}

/// The dataset description stored in checkpoints so `sample` can return physical units
/// (the per-item provenance table is dropped: it can be large and sampling does not need it).
pub fn dataset_meta_json(ds: &PreparedDataset) -> Result<String> {
    let mut meta = ds.meta.clone();
    meta.items.clear();
    Ok(serde_json::to_string(&meta)?)
}

pub fn run(args: Args) -> Result<()> {
    if args.steps.is_none() && args.minutes.is_none() {
        bail!("give a budget: --steps N (total optimiser steps) or --minutes M");
    }
    if let Some(m) = args.minutes {
        if !(m > 0.0 && m.is_finite()) {
            bail!("--minutes {m}: must be a positive number");
        }
    }
    if !PRESETS.contains(&args.preset.as_str()) {
        bail!(
            "--preset '{}': expected one of {}",
            args.preset,
            PRESETS.join(", ")
        );
    }
    let device = diffusion::model::select_device(args.device.as_deref(), args.threads)
        .map_err(anyhow::Error::msg)?;
    let ds = PreparedDataset::open(&args.data)
        .with_context(|| format!("opening dataset {}", args.data.display()))?;
    // One trainer per run folder: the lock is held until this process ends (the OS drops it
    // however the process ends, so a killed run never blocks its --resume).
    let lock = atomicio::DirLock::acquire(&args.out, "astrodiff train")?;
    lock.remove_stale_temporaries()?;
    let ck_path = args.out.join(checkpoint::FILE_NAME);

    let resume = args.resume && ck_path.exists();
    if args.resume && !resume {
        // A scheduler passes --resume on every attempt; the first attempt may have been killed
        // before its first checkpoint. Nothing was saved, so start afresh from the flags.
        eprintln!(
            "note: --resume: {} has no checkpoint yet (stopped before its first one?); starting afresh",
            args.out.display()
        );
    }
    let mut tr = if resume {
        if args.config.is_some() {
            eprintln!(
                "note: --resume uses the config stored in the checkpoint; --config is ignored"
            );
        }
        let ck = checkpoint::read(&ck_path)?;
        let tr = Trainer::from_checkpoint(&ck, device)?;
        eprintln!(
            "resuming {} at step {} (seed {})",
            args.out.display(),
            tr.step,
            tr.seed
        );
        tr
    } else {
        if ck_path.exists() {
            bail!(
                "{} already holds a checkpoint: pass --resume to continue it, or choose another --out",
                args.out.display()
            );
        }
        let cfg =
            RunConfig::load(&args.preset, args.config.as_deref()).map_err(anyhow::Error::msg)?;
        let mut tr = Trainer::new(cfg, args.seed, device)?;
        if tr.cfg.diffusion.gaussian_prior {
            let null = fit_prior(&ds).with_context(|| {
                format!("fitting the Gaussian prior to {}", args.data.display())
            })?;
            tr.set_prior(null.side(), null.mean(), null.mode_variance().to_vec())?;
            eprintln!(
                "Gaussian prior: mean and 2D power of {} training maps (normalised units)",
                null.n_maps()
            );
        }
        tr
    };
    check_data_fits(&tr.cfg, &ds, &args.data)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let resolved = serde_json::to_string_pretty(&tr.cfg)?;
    train::write_file_atomic(&args.out.join("config.json"), resolved.as_bytes())?;

    let stream = Stream(
        ds.batch_stream(tr.seed)
            .with_context(|| format!("loading {}", args.data.display()))?,
    );
    let nparams = tr.net.num_params();
    eprintln!(
        "training {} ({:.2} M parameters) on {} ({} train maps of {}²), batch {}, device {:?}",
        tr.cfg.preset,
        nparams as f64 / 1e6,
        args.data.display(),
        stream.0.len(),
        stream.0.side(),
        tr.cfg.train.batch_size,
        device
    );
    let start_step = tr.step;
    let t0 = std::time::Instant::now();
    let opts = LoopOptions {
        run_dir: args.out.clone(),
        total_steps: args.steps,
        minutes: args.minutes,
        normalisation: Some(dataset_meta_json(&ds)?),
        progress: true,
    };
    let last = train::run(&mut tr, &stream, &opts)?;
    let secs = t0.elapsed().as_secs_f64();
    let done = tr.step - start_step;
    match last {
        Some(s) => eprintln!(
            "done: step {} (+{done} in {secs:.0} s, {:.2} steps/s), last loss {:.4}; checkpoint {}",
            tr.step,
            done as f64 / secs.max(1e-9),
            s.loss,
            ck_path.display()
        ),
        None => eprintln!("nothing to do: the run is already at step {}", tr.step),
    }
    Ok(())
}

/// The Gaussian prior of `diffusion.gaussian_prior`: the Gaussian null of the training split in
/// the normalised units the network sees.
pub fn fit_prior(ds: &PreparedDataset) -> Result<sim::GaussianNull> {
    let train = ds.load("train")?;
    let maps: Vec<ndarray::Array2<f64>> =
        train.outer_iter().map(|m| m.mapv(|v| v as f64)).collect();
    Ok(sim::GaussianNull::fit(&maps)?)
}

fn check_data_fits(cfg: &RunConfig, ds: &PreparedDataset, dir: &Path) -> Result<()> {
    let stride = cfg.unet.total_stride();
    let n = ds.resolution();
    if !n.is_multiple_of(stride) || n < stride {
        bail!(
            "{}: maps are {n}² but the network needs a multiple of its total stride {stride} \
             (set unet.channel_mults shorter or resample the data)",
            dir.display()
        );
    }
    if matches!(cfg.diffusion.t_sampling, TimestepSampling::Lognormal { .. })
        && NormKind::of(&ds.normalization()) != NormKind::Standard
    {
        eprintln!(
            "note: {}: diffusion.t_sampling draws noise levels in normalised units, set in the \
             preset for unit-variance data; these maps are not standardised (prepare --norm \
             standard, or shift p_mean by ln of their pixel std)",
            dir.display()
        );
    }
    let np = ds.param_names().len();
    if cfg.unet.cond_dim > 0 && cfg.unet.cond_dim as usize != np {
        bail!(
            "{}: unet.cond_dim = {} but the dataset has {np} parameters per map",
            dir.display(),
            cfg.unet.cond_dim
        );
    }
    Ok(())
}
