//! `astrodiff sample`: draw fields from a trained model, in physical units.

use anyhow::{bail, Context, Result};
use diffusion::checkpoint;
use diffusion::model::{Net, NetDenoiser};
use diffusion::sampler::{self, SamplerConfig, SamplerKind};
use diffusion::tch::{Device, Kind, Tensor};
use fields::dataset::{DatasetMeta, PreparedDataset};
use rand::{RngCore, SeedableRng};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Run folder (or a checkpoint .safetensors file) written by `astrodiff train`.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Number of fields.
    #[arg(long, default_value_t = 64)]
    pub n: usize,
    /// ddpm (ancestral, the paper), ddim (η = --eta), dpmpp (DPM-Solver++ 2M) or dpmpp-sde
    /// (SDE-DPM-Solver++ 2M, stochastic).
    #[arg(long, default_value = "ddim")]
    pub sampler: String,
    /// Network evaluations per field; 0 = every timestep of the schedule (the paper's DDPM).
    #[arg(long, default_value_t = 50)]
    pub steps: usize,
    /// DDIM stochasticity η (0 = deterministic).
    #[arg(long, default_value_t = 0.0)]
    pub eta: f64,
    /// Seed of the initial noise and of the stochastic steps. The output depends on the seed
    /// and on --batch (each batch draws its own stream).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fields per network call (default 16).
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Output .npy: (n, N, N) float32 in the physical units of the training data. A PNG grid of
    /// up to 64 of them is written next to it (same name, .png).
    #[arg(long)]
    pub out: PathBuf,
    /// Use the raw weights instead of the EMA weights.
    #[arg(long)]
    pub no_ema: bool,
    /// Conditioning values for every field, comma-separated (models trained with parameters).
    #[arg(long, value_delimiter = ',')]
    pub params: Option<Vec<f32>>,
    /// Side N of the fields (default: the training resolution).
    #[arg(long)]
    pub size: Option<usize>,
    /// cpu, cuda or cuda:N (default: CUDA if available, else CPU).
    #[arg(long)]
    pub device: Option<String>,
    /// CPU threads for torch (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

pub fn run(args: Args) -> Result<()> {
    if args.n == 0 || args.batch == 0 {
        bail!("--n and --batch must be positive");
    }
    let kind: SamplerKind = match args.sampler.parse()? {
        SamplerKind::Ddim { .. } => SamplerKind::Ddim { eta: args.eta },
        k => k,
    };
    let steps = (args.steps > 0).then_some(args.steps);
    let sc = SamplerConfig::new(kind, steps);
    let device = diffusion::model::select_device(args.device.as_deref(), args.threads)
        .map_err(anyhow::Error::msg)?;
    let ck = checkpoint::read(&args.checkpoint)?;
    let cfg = &ck.config;
    let meta: Option<DatasetMeta> = match &ck.normalisation {
        Some(j) => Some(serde_json::from_str(j).with_context(|| {
            format!(
                "{}: stored dataset description is unreadable",
                args.checkpoint.display()
            )
        })?),
        None => None,
    };
    let size = match (args.size, &meta) {
        (Some(s), _) => s,
        (None, Some(m)) => m.resolution,
        (None, None) => bail!(
            "{}: no dataset description stored; give --size",
            args.checkpoint.display()
        ),
    };
    // Far past any field a U-Net is trained on; larger requests would abort on allocation.
    const MAX_SIDE: usize = 8192;
    if size > MAX_SIDE {
        bail!(
            "--size {size}: at most {MAX_SIDE} pixels per side (one {size}² field alone is {:.1} GB in float32)",
            (size as f64).powi(2) * 4.0 / 1e9
        );
    }
    let stride = cfg.unet.total_stride();
    if size % stride != 0 {
        bail!("--size {size}: must be a multiple of the network's total stride {stride}");
    }
    let cond_row = match (cfg.unet.cond_dim, &args.params) {
        (0, None) => None,
        (0, Some(_)) => bail!("--params given but the model is unconditional"),
        (d, Some(p)) if p.len() == d as usize => Some(p.clone()),
        (d, Some(p)) => bail!("--params has {} values, the model expects {d}", p.len()),
        (d, None) => bail!("the model is conditioned on {d} parameters: give --params v1,v2,..."),
    };

    let net = Net::new(cfg, device, 0).map_err(anyhow::Error::msg)?;
    let which = if args.no_ema { "model" } else { "ema" };
    checkpoint::load_into(&net.named_params(), &ck.group(which), which)
        .map_err(anyhow::Error::msg)?;
    let schedule = cfg.diffusion.schedule.build()?;
    let prior = ck
        .prior(&schedule)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.checkpoint.display()))?;
    if let Some(p) = &prior {
        if p.n != size {
            bail!(
                "--size {size}: this model predicts on top of a Gaussian prior fitted at {}²; it samples only {}² fields",
                p.n,
                p.n
            );
        }
    }

    // One seed per batch, drawn from the user's seed.
    let mut seeds = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    let nb = args.n.div_ceil(args.batch);
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new((nb * sc.steps.unwrap_or(schedule.timesteps())) as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut out = Vec::with_capacity(args.n * size * size);
    for b in 0..nb {
        let bs = args.batch.min(args.n - b * args.batch);
        let cond = cond_row.as_ref().map(|r| {
            Tensor::from_slice(r)
                .view([1, r.len() as i64])
                .repeat([bs as i64, 1])
                .to_device(device)
        });
        let den = NetDenoiser {
            unet: &net.unet,
            schedule: &schedule,
            prediction: cfg.diffusion.prediction,
            cond,
            prior: prior.as_ref(),
        };
        let seed = seeds.next_u64();
        let base = bar.position();
        let mut progress = |i: usize, _n: usize| bar.set_position(base + i as u64);
        let shape = [bs as i64, 1, size as i64, size as i64];
        let res = sampler::sample(
            &den,
            &schedule,
            &sc,
            &shape,
            device,
            seed,
            Some(&mut progress),
        )?;
        let x = res
            .x0
            .to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .flatten(0, -1);
        out.extend(Vec::<f32>::try_from(&x)?);
    }
    bar.finish_and_clear();
    let mut fields = ndarray::Array3::from_shape_vec((args.n, size, size), out)?;
    // The grid shows the normalised values (for log-transformed data: the log field), where
    // structure is visible; the .npy holds physical units.
    let png = args.out.with_extension("png");
    let shown = fields
        .slice(ndarray::s![..args.n.min(64), .., ..])
        .to_owned();
    match meta {
        Some(m) => PreparedDataset {
            dir: PathBuf::new(),
            meta: m,
        }
        .to_physical(&mut fields),
        None => {
            eprintln!("note: no dataset description in the checkpoint; writing normalised values")
        }
    }
    let nonfinite = fields.iter().filter(|v| !v.is_finite()).count();
    if nonfinite == fields.len() {
        bail!(
            "{}: every sampled value is non-finite (NaN or ∞); nothing written to {}",
            args.checkpoint.display(),
            args.out.display()
        );
    }
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fields::io::write_npy_f32(&args.out, fields.view())
        .with_context(|| format!("writing {}", args.out.display()))?;
    diffusion::train::write_grid_png(&shown, &png)?;
    if nonfinite > 0 {
        eprintln!(
            "warning: {nonfinite} non-finite values in the samples (model not trained enough?)"
        );
    }
    eprintln!(
        "wrote {} ({} fields of {size}², {} with {} steps, seed {}) and {}",
        args.out.display(),
        args.n,
        args.sampler,
        sc.steps
            .map(|s| s.to_string())
            .unwrap_or_else(|| "all".into()),
        args.seed,
        png.display()
    );
    Ok(())
}
