//! `astrodiff sample`: draw fields from a trained model, in physical units.

use anyhow::{Context, Result};
use pipeline::{
    GenerateOptions, Generated, LoadOptions, OutOfRange, SamplerConfig, SamplerKind, TrainedRun,
};
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
    /// Return pixels outside the training range as sampled; by default they are clamped to it
    /// (the seed paper's sampler clamps to [−1, 1]) and the count is printed.
    #[arg(long)]
    pub keep_out_of_range: bool,
    /// Use the raw weights instead of the EMA weights.
    #[arg(long)]
    pub no_ema: bool,
    /// θ of every field for a conditional model, by name: `Om=0.3,sigma8=0.8` (the names given
    /// to `train --condition`, or the dataset's column names); each inside the prior box.
    #[arg(long)]
    pub params: Option<String>,
    /// Classifier-free guidance weight w: ε̂ = (1 + w) ε̂(θ) − w ε̂(∅); 0 (default) is the plain
    /// conditional model.
    #[arg(long, default_value_t = 0.0)]
    pub guidance: f64,
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
    let kind: SamplerKind = match args.sampler.parse()? {
        SamplerKind::Ddim { .. } => SamplerKind::Ddim { eta: args.eta },
        k => k,
    };
    let steps = (args.steps > 0).then_some(args.steps);
    let mut opts = GenerateOptions {
        n: args.n,
        sampler: SamplerConfig::new(kind, steps),
        seed: args.seed,
        batch: args.batch,
        size: args.size,
        params: None,
        guidance: args.guidance,
        out_of_range: if args.keep_out_of_range {
            OutOfRange::Keep
        } else {
            OutOfRange::Clamp
        },
    };
    let load = LoadOptions {
        raw_weights: args.no_ema,
        device: args.device.clone(),
        threads: args.threads,
    };
    let run = TrainedRun::load(&args.checkpoint, &load)?;
    let params = args
        .params
        .as_deref()
        .map(|t| run.parse_params(t))
        .transpose()?;
    opts.params = params;
    let g = generate(&run, &opts)?;
    write(&args, &g)?;
    eprintln!(
        "wrote {} ({} fields of {}², {} with {} steps, seed {}) and {}",
        args.out.display(),
        args.n,
        g.side,
        args.sampler,
        steps.map(|s| s.to_string()).unwrap_or_else(|| "all".into()),
        args.seed,
        args.out.with_extension("png").display()
    );
    Ok(())
}

/// Draws the fields with a progress bar, and says what the out-of-range rule did.
pub fn generate(run: &TrainedRun, opts: &GenerateOptions) -> Result<Generated> {
    let per = opts.sampler.steps.unwrap_or(run.schedule.timesteps());
    let bar = crate::progress::bar(
        opts.n.div_ceil(opts.batch.max(1)) * per,
        "calls",
        "sampling",
    );
    let mut cb = |i: usize, _n: usize| bar.set_position(i as u64);
    let g = run
        .generate(opts, Some(&mut cb))
        .with_context(|| format!("sampling from {}", run.source.display()))?;
    bar.finish_and_clear();
    if !g.physical {
        eprintln!("note: no dataset description in the checkpoint; values are in normalised units");
    }
    if g.clamped > 0 {
        let (lo, hi) = g.range.expect("clamping needs a range");
        eprintln!(
            "note: clamped {} of {} pixels ({:.2} %) to the training range [{lo:.4}, {hi:.4}] (normalised units)",
            g.clamped,
            g.fields.len(),
            100.0 * g.clamped as f64 / g.fields.len() as f64
        );
    }
    if g.nonfinite > 0 {
        eprintln!(
            "warning: {} non-finite values in the samples (model not trained enough?)",
            g.nonfinite
        );
    }
    Ok(g)
}

/// The .npy (physical units) and, beside it, a PNG grid of up to 64 fields in normalised
/// units, where structure is visible (for log-transformed data: the log field).
fn write(args: &Args, g: &Generated) -> Result<()> {
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fields::io::write_npy_f32(&args.out, g.fields.view())
        .with_context(|| format!("writing {}", args.out.display()))?;
    let png = args.out.with_extension("png");
    let shown = g
        .normalised
        .slice(ndarray::s![..g.normalised.dim().0.min(64), .., ..]);
    evaluation::plot::write_grid_png(shown, &png)?;
    Ok(())
}
