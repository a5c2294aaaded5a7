//! `astrodiff denoise`: posterior samples of the clean field behind a noisy map, drawn with a
//! trained diffusion model used as the prior (Mudur & Finkbeiner 2022, §dust).
//!
//! Noise model (what the numbers mean): the observation is `y = x + n` with `n` white Gaussian
//! noise of standard deviation σ **in the space the model was trained in**, i.e. after the data
//! transform (log10 for dust and density maps, identity otherwise) and before normalisation.
//! For an identity-transform model that is the data's own units; for a log10 model σ is in dex.
//! The normalisation is affine, `z = (x − offset)·scale`, so the model sees
//! `σ_norm = σ·scale`. The step t* whose noise-to-signal ratio sqrt((1−ᾱ)/ᾱ) matches σ_norm is
//! where the reverse process starts; see [`Injection`] for how the observation enters.
//! Outputs are put back in the input's physical units (inverse normalisation, then inverse
//! transform, e.g. 10^x), and the posterior mean and standard deviation are those of the
//! physical-unit samples.

use anyhow::{bail, Context, Result};
use fields::MapStack;
use ndarray::{s, Array3, ArrayView2, Axis};
use pipeline::{Injection, LoadOptions, PosteriorConfig, SamplerKind, TrainedRun};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run folder of a trained model (or its checkpoint.safetensors).
    #[arg(long, value_name = "RUN_DIR")]
    pub checkpoint: PathBuf,
    /// Noisy map (N, N) or stack (n, N, N): .npy, .npz or FITS, in physical units.
    #[arg(long, value_name = "NOISY")]
    pub input: PathBuf,
    /// Noise standard deviation per pixel in the model's trained space (after the transform,
    /// before normalisation: dex for log10 models).
    #[arg(
        long,
        value_name = "S",
        allow_negative_numbers = true,
        required_unless_present = "noise_map",
        conflicts_with = "noise_map"
    )]
    pub sigma: Option<f64>,
    /// Instead of --sigma: a map of per-pixel noise standard deviations, or a noise realisation,
    /// in the same units; σ = sqrt(mean(v²)). The noise is treated as white and homogeneous.
    #[arg(long, value_name = "STD")]
    pub noise_map: Option<PathBuf>,
    #[command(flatten)]
    pub posterior: PosteriorArgs,
    /// Use the raw (non-EMA) weights.
    #[arg(long)]
    pub no_ema: bool,
    /// Output folder: samples.npy, mean.npy, std.npy, denoise.png, denoise.json.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// How the posterior samples are drawn; shared by `denoise` and `denoise-eval`.
#[derive(clap::Args, Debug, Clone)]
pub struct PosteriorArgs {
    /// Posterior samples per input map.
    #[arg(long, default_value_t = 16)]
    pub samples: usize,
    /// How the observation enters the reverse process: `exact` (variance preserving: t* is the
    /// first step with σ_t ≥ σ_norm, the observation gets the missing noise
    /// sqrt(σ_t*² − σ_norm²)·ε′ and is scaled by sqrt(ᾱ_t*), so the start state has exactly the
    /// distribution q(x_t* | x_0) the network was trained on) or `paper` (the seed paper's code:
    /// t* is the step with σ_t nearest σ_norm and y itself is the state at t*).
    #[arg(long, default_value = "exact")]
    pub injection: Injection,
    /// Reverse process from t*: `ddpm` (ancestral, over every step; default) or `ddim`.
    #[arg(long, default_value = "ddpm")]
    pub sampler: SamplerKind,
    /// Steps from t* to the data (default: every step, t*+1 network calls).
    #[arg(long)]
    pub steps: Option<usize>,
    /// DDIM stochasticity η ∈ [0, 1]; with η = 0 the samples differ only through the exact
    /// injection's top-up noise, so their spread is not a posterior width.
    #[arg(long, default_value_t = 1.0)]
    pub eta: f64,
    /// Seed of every random draw (synthetic noise in denoise-eval, noise top-up and
    /// reverse-process noise).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl PosteriorArgs {
    /// The library's posterior settings, checked by the library (`PosteriorConfig::checked`).
    pub fn config(&self) -> Result<PosteriorConfig> {
        Ok(PosteriorConfig::checked(
            self.injection,
            self.samples,
            self.sampler,
            self.steps,
            self.eta,
            self.seed,
        )?)
    }
}

/// σ from a noise map: sqrt(mean(v²)) of a std map or a noise realisation.
fn sigma_from_noise_map(path: &Path, n_expected: usize) -> Result<f64> {
    let st = MapStack::open(path)?;
    st.check_finite()?;
    if st.side() != n_expected {
        let side = st.side();
        bail!("{}: noise map is {side}×{side} pixels but the input maps are {n_expected}×{n_expected}", path.display());
    }
    let (mut ss, mut cnt, mut lo, mut hi) = (0.0, 0usize, f64::INFINITY, f64::NEG_INFINITY);
    for i in 0..st.len() {
        for &v in st.map(i).iter() {
            ss += v * v;
            cnt += 1;
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    let sigma = (ss / cnt as f64).sqrt();
    if lo >= 0.0 && hi > 1.2 * lo {
        eprintln!(
            "warning: {}: per-pixel noise std ranges {lo:.4}–{hi:.4}; the denoiser assumes homogeneous white noise and uses σ = {sigma:.4}",
            path.display()
        );
    }
    Ok(sigma)
}

pub fn run(args: Args) -> Result<()> {
    let config = args.posterior.config()?;
    let stack = MapStack::open(&args.input)?;
    stack.check_finite()?;
    let (n_maps, n, _) = stack.shape();
    let sigma = match (args.sigma, &args.noise_map) {
        (Some(s), _) => s,
        (None, Some(p)) => {
            let s = sigma_from_noise_map(p, n)?;
            if !(s.is_finite() && s > 0.0) {
                bail!(
                    "{}: the noise map gives σ = {s} (all zero?); the noise level must be > 0",
                    p.display()
                );
            }
            s
        }
        (None, None) => bail!("give --sigma or --noise-map"),
    };
    let load = LoadOptions {
        raw_weights: args.no_ema,
        ..LoadOptions::default()
    };
    let run = TrainedRun::load(&args.checkpoint, &load)?;
    let mut noisy = Array3::<f64>::zeros((n_maps, n, n));
    for m in 0..n_maps {
        noisy.index_axis_mut(Axis(0), m).assign(&stack.map(m));
    }
    let pb = crate::progress::bar(n_maps, "maps", "denoising");
    let mut cb = |i: usize, _n: usize| pb.set_position(i as u64);
    let d = run.denoise(noisy.view(), &args.input, sigma, &config, Some(&mut cb))?;
    pb.finish_and_clear();
    let plan = d.plan;
    eprintln!(
        "denoise: {n_maps} map(s) of {n}², σ = {sigma} (trained units) = {:.5} normalised → t* = {} \
         (σ_t* = {:.5}), {} samples each, injection {:?}, {} network calls",
        d.sigma_norm, plan.t_star, plan.sigma_t_star, config.samples, config.injection, d.nfe
    );
    if d.nonfinite > 0 {
        eprintln!(
            "warning: {} of {} posterior-sample values are non-finite (NaN or ∞)",
            d.nonfinite,
            d.samples.len()
        );
    }
    write_outputs(&args, &run, &noisy, &d, sigma, &config)
}

/// samples.npy, mean.npy, std.npy (one map: without the leading axis), denoise.json and the
/// panel figure.
fn write_outputs(
    args: &Args,
    run: &TrainedRun,
    noisy: &Array3<f64>,
    d: &pipeline::Denoised,
    sigma: f64,
    config: &PosteriorConfig,
) -> Result<()> {
    let (n_maps, n, _) = noisy.dim();
    let k = config.samples;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let write = |name: &str, a: ndarray::ArrayViewD<f32>| -> Result<()> {
        let p = args.out.join(name);
        fields::io::write_npy_f32(&p, a).with_context(|| format!("writing {}", p.display()))
    };
    let (samples, mean, std) = (
        d.samples.mapv(|v| v as f32),
        d.mean.mapv(|v| v as f32),
        d.std.mapv(|v| v as f32),
    );
    if n_maps == 1 {
        write("samples.npy", samples.index_axis(Axis(0), 0).into_dyn())?;
        write("mean.npy", mean.index_axis(Axis(0), 0).into_dyn())?;
        write("std.npy", std.index_axis(Axis(0), 0).into_dyn())?;
    } else {
        write("samples.npy", samples.view().into_dyn())?;
        write("mean.npy", mean.view().into_dyn())?;
        write("std.npy", std.view().into_dyn())?;
    }
    let space = run.space()?;
    let info = serde_json::json!({
        "checkpoint": args.checkpoint,
        "model_step": run.step,
        "input": args.input,
        "n_maps": n_maps,
        "side": n,
        "sigma_trained_units": sigma,
        "sigma_normalised": d.sigma_norm,
        "normalisation_scale": space.scale(),
        "transform": space.transform,
        "t_star": d.plan.t_star,
        "sigma_t_star": d.plan.sigma_t_star,
        "nfe": d.nfe,
        "samples": k,
        "injection": config.injection,
        "sampler": config.sampler,
        "seed": config.seed,
        "ema": run.ema,
        "noise_model": "additive white Gaussian noise in the trained space (after the transform, before normalisation)",
    });
    evaluation::plot::write_atomic(
        &args.out.join("denoise.json"),
        serde_json::to_string_pretty(&info)?.as_bytes(),
    )?;
    let rows: Vec<[ArrayView2<f64>; 4]> = (0..n_maps.min(4))
        .map(|m| {
            [
                noisy.index_axis(Axis(0), m),
                d.samples.slice(s![m, 0, .., ..]),
                d.mean.index_axis(Axis(0), m),
                d.std.index_axis(Axis(0), m),
            ]
        })
        .collect();
    if let Err(e) = evaluation::plot::panels_png(
        &args.out.join("denoise.png"),
        &rows,
        &["noisy", "one sample", "posterior mean", "posterior std"],
        &format!("denoise: σ = {sigma} (t* = {}), K = {k}", d.plan.t_star),
        3,
    ) {
        // The arrays are what matters; a machine without fonts still gets them.
        eprintln!(
            "warning: {}/denoise.png not written: {e:#}",
            args.out.display()
        );
    }
    eprintln!(
        "wrote {}/{{samples,mean,std}}.npy, denoise.png, denoise.json",
        args.out.display()
    );
    Ok(())
}
