//! `astrodiff infer`: the posterior over a conditional model's parameters behind observed maps,
//! from the model's own likelihood on a grid over its prior box (`pipeline::infer` holds the
//! conventions: flat prior in physical θ, the bound of `diffusion::likelihood`, maps of one
//! estimate combined by summing their bounds).

use anyhow::{Context, Result};
use fields::MapStack;
use ndarray::{Array3, Axis};
use pipeline::{InferOptions, LoadOptions, TrainedRun};
use std::path::{Path, PathBuf};

/// Where the network runs; shared by `infer`, `infer-eval` and `evaluate-emulator`.
#[derive(clap::Args, Debug, Clone)]
pub struct DeviceArgs {
    /// `cpu`, `cuda` or `cuda:N` (default: CUDA when available).
    #[arg(long)]
    pub device: Option<String>,
    /// CPU threads for torch (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

impl DeviceArgs {
    /// The run at `checkpoint` on this device (`raw`: the non-EMA weights).
    pub fn load(&self, checkpoint: &Path, raw: bool) -> Result<TrainedRun> {
        Ok(TrainedRun::load(
            checkpoint,
            &LoadOptions {
                raw_weights: raw,
                device: self.device.clone(),
                threads: self.threads,
            },
        )?)
    }
}

/// The grid and the bound; shared by `infer` and `infer-eval`.
#[derive(clap::Args, Debug, Clone)]
pub struct PosteriorArgs {
    /// Grid nodes per parameter over the prior box.
    #[arg(long, default_value_t = 9)]
    pub grid: usize,
    /// At most this many zooms of a grid onto a posterior it does not resolve (0: the box only).
    #[arg(long, default_value_t = 4)]
    pub zooms: usize,
    /// One network call per block of this many timesteps (1: every timestep, the full bound;
    /// T network calls per map and grid node).
    #[arg(long, default_value_t = 20)]
    pub stride: usize,
    /// Keep only the first K timesteps of the bound (Diffusion-HMC uses 20); default all.
    #[arg(long, value_name = "K")]
    pub t_max: Option<usize>,
    /// Noise draws per evaluated timestep, averaged (cost × D). With 2 or more, the spread of
    /// the draws' own posteriors gives the Monte Carlo error of each posterior mean, which is
    /// added to the posterior's width (JSON: monte_carlo_std).
    #[arg(long, default_value_t = 1)]
    pub draws: usize,
    /// Seed of the bound's common random numbers.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl PosteriorArgs {
    pub fn options(&self, fields_per_estimate: usize) -> InferOptions {
        InferOptions {
            fields_per_estimate,
            grid: self.grid,
            zooms: self.zooms,
            vlb: pipeline::VlbConfig {
                stride: self.stride,
                t_max: self.t_max,
                draws: self.draws,
                seed: self.seed,
                ..InferOptions::default().vlb
            },
            mcmc: None,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run folder of a model trained with --condition (or its checkpoint.safetensors).
    #[arg(long, value_name = "RUN_DIR")]
    pub checkpoint: PathBuf,
    /// Observed maps (N, N) or (n, N, N): .npy, .npz or FITS, in physical units.
    #[arg(long, value_name = "FIELDS")]
    pub input: PathBuf,
    /// Consecutive maps combined into one estimate (e.g. the 15 maps of one simulation).
    #[arg(long, default_value_t = 1)]
    pub fields_per_estimate: usize,
    #[command(flatten)]
    pub posterior: PosteriorArgs,
    /// Use the raw (non-EMA) weights.
    #[arg(long)]
    pub no_ema: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Also slice-sample each estimate's posterior through the bound: this many samples
    /// (sweeps over the parameters) after --burn-in, written to OUT.samples.npy beside the JSON
    /// (float32, estimates × samples × parameters, condition order) and summarised in the JSON's `mcmc`.
    #[arg(long, value_name = "N")]
    pub mcmc: Option<usize>,
    #[arg(long, default_value_t = 20)]
    pub burn_in: usize,
    /// Output JSON: {"estimates": [{"fields", "params": {name: {mean, std, q16, …}}}], …}.
    #[arg(long, value_name = "OUT.json")]
    pub json: PathBuf,
}

pub fn run(args: Args) -> Result<()> {
    let stack = MapStack::open(&args.input)?;
    stack.check_finite()?;
    let (n_maps, n, _) = stack.shape();
    let run = args.device.load(&args.checkpoint, args.no_ema)?;
    let mut maps = Array3::<f64>::zeros((n_maps, n, n));
    for m in 0..n_maps {
        maps.index_axis_mut(Axis(0), m).assign(&stack.map(m));
    }
    let mut opts = args.posterior.options(args.fields_per_estimate);
    opts.mcmc = args.mcmc.map(|samples| pipeline::SliceConfig {
        samples,
        burn_in: args.burn_in,
        ..Default::default()
    });
    let t0 = std::time::Instant::now();
    let pb = crate::progress::bar(0, "grid nodes", "inferring");
    let mut cb = |i: usize, total: usize| {
        pb.set_length(total as u64);
        pb.set_position(i as u64);
    };
    let inf = run.infer(maps.view(), &args.input, &opts, Some(&mut cb))?;
    pb.finish_and_clear();
    let wall = t0.elapsed().as_secs_f64();
    for e in &inf.estimates {
        let parts: Vec<String> = inf
            .names
            .iter()
            .map(|name| {
                let m = &e.params[name];
                format!(
                    "{name} = {:.4} ± {:.4} (68 %: {:.4}–{:.4})",
                    m.mean, m.std, m.q16, m.q84
                )
            })
            .collect();
        eprintln!(
            "maps {}–{}: {}",
            e.fields[0],
            e.fields[e.fields.len() - 1],
            parts.join(", ")
        );
        if !e.unresolved.is_empty() {
            eprintln!(
                "warning: the {}-node grid does not resolve the posterior of {} (narrower than a node spacing): raise --grid",
                args.posterior.grid,
                e.unresolved.join(", ")
            );
        }
        if let Some(mc) = &e.mcmc {
            let parts: Vec<String> = inf
                .names
                .iter()
                .map(|name| {
                    let m = &mc.params[name];
                    format!(
                        "{name} = {:.4} ± {:.4} (68 %: {:.4}–{:.4})",
                        m.mean, m.std, m.q16, m.q84
                    )
                })
                .collect();
            eprintln!(
                "  slice sampler, {} samples ({} bound evaluations): {}",
                mc.samples.len(),
                mc.evaluations,
                parts.join(", ")
            );
        }
    }
    if args.mcmc.is_some() {
        let (ne, ns, np) = (inf.estimates.len(), args.mcmc.unwrap_or(0), inf.names.len());
        let mut a = Array3::<f32>::zeros((ne, ns, np));
        for (i, e) in inf.estimates.iter().enumerate() {
            for (j, row) in e.mcmc.iter().flat_map(|m| m.samples.iter()).enumerate() {
                for (p, v) in row.iter().enumerate() {
                    a[[i, j, p]] = *v as f32;
                }
            }
        }
        let path = args.json.with_extension("samples.npy");
        fields::io::write_npy_f32(&path, a.view())
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    let out = serde_json::json!({
        "checkpoint": args.checkpoint,
        "model_step": run.step,
        "ema": run.ema,
        "input": args.input,
        "n_maps": n_maps,
        "side": n,
        "prior": "flat in the physical parameters on the model's prior box",
        "names": inf.names,
        "axes": inf.axes,
        "estimates": inf.estimates,
        "options": inf.options,
        "timesteps_evaluated": inf.timesteps_evaluated,
        "network_rows": inf.network_rows,
        "wall_s": wall,
    });
    evaluation::plot::write_atomic(&args.json, serde_json::to_string_pretty(&out)?.as_bytes())
        .with_context(|| format!("writing {}", args.json.display()))?;
    eprintln!(
        "wrote {} ({} estimate(s), {} grid nodes, {} network rows, {wall:.1} s)",
        args.json.display(),
        inf.estimates.len(),
        inf.estimates.first().map_or(0, |e| e.log_likelihood.len()),
        inf.network_rows
    );
    Ok(())
}
