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
use clap::ValueEnum;
use diffusion::config::RunConfig;
use diffusion::model::{Net, NetDenoiser};
use diffusion::sampler::{SamplerConfig, SamplerKind};
use diffusion::schedule::NoiseSchedule;
use diffusion::tch::{self, Device, Kind, Tensor};
use fields::transform::{Normalization, PointTransform};
use fields::MapStack;
use ndarray::{s, Array2, Array3, Array4, ArrayView2, Axis};
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
    /// How the observation enters the reverse process.
    #[arg(long, value_enum, default_value_t = Injection::Exact)]
    pub injection: Injection,
    /// Reverse process from t*: ancestral DDPM over every step (default), or DDIM.
    #[arg(long, value_enum, default_value_t = Sampler::Ddpm)]
    pub sampler: Sampler,
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

/// How the noisy observation y (normalised units) becomes the state at t*
/// (diffusion::inverse::Injection, as a command-line value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Injection {
    /// Variance preserving: t* is the first step with σ_t ≥ σ_norm, the observation gets the
    /// missing noise sqrt(σ_t*² − σ_norm²)·ε′ and is scaled by sqrt(ᾱ_t*), so the start state
    /// has exactly the distribution q(x_t* | x_0) the network was trained on.
    Exact,
    /// The seed paper's code: t* is the step with σ_t nearest σ_norm and y itself (unscaled,
    /// no top-up) is the state at t*. Kept for comparison.
    Paper,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Sampler {
    Ddpm,
    Ddim,
}

/// The affine normalisation and the point transform a model was trained with.
#[derive(Clone, Debug)]
pub struct Space {
    pub transform: PointTransform,
    pub norm: Normalization,
}

impl Space {
    /// `scale` of z = (x − offset)·scale: multiplies a noise level in trained units.
    pub fn scale(&self) -> f64 {
        self.norm.apply_value(1.0) - self.norm.apply_value(0.0)
    }
    /// Physical → trained (transformed) units; errors name the file and the pixel.
    pub fn to_trained(
        &self,
        mut map: Array2<f64>,
        source: &Path,
        index: usize,
    ) -> Result<Array2<f64>> {
        if let PointTransform::Log10 { floor: None } = self.transform {
            if let Some(((i, j), v)) = map.indexed_iter().find(|(_, v)| **v <= 0.0) {
                bail!(
                    "{}: value {v} ≤ 0 at map {index}, pixel (i={i}, j={j}): the model was trained on log10 of \
                     the field, so the noisy map must be positive (its noise is taken as additive in log10 space)",
                    source.display()
                );
            }
        }
        self.transform.apply_map(map.view_mut(), source, index)?;
        Ok(map)
    }
    /// Trained → physical units.
    pub fn trained_to_physical(&self, mut a: ndarray::ArrayViewMut<f64, ndarray::IxDyn>) {
        self.transform.invert_f64(&mut a);
    }
    pub fn normalise(&self, x: f64) -> f64 {
        self.norm.apply_value(x)
    }
    pub fn denormalise(&self, z: f64) -> f64 {
        self.norm.invert_value(z)
    }
}

/// A trained model ready to denoise.
pub struct Model {
    pub net: Net,
    pub config: RunConfig,
    pub schedule: NoiseSchedule,
    pub space: Space,
    /// Side of the training patches, when the run recorded it.
    pub resolution: Option<usize>,
    pub device: Device,
    pub step: u64,
    /// The Gaussian prior the network predicts on top of (`diffusion.gaussian_prior`).
    pub prior: Option<diffusion::analytic::GrfDenoiser>,
}

/// Reads a normalisation (and, when present, the transform and resolution) from JSON: a
/// prepared dataset's dataset.json, or a bare [`Normalization`], or an object holding one.
/// The transform is `None` when the JSON does not say.
pub fn parse_norm_json(
    text: &str,
    what: &Path,
) -> Result<(Normalization, Option<PointTransform>, Option<usize>)> {
    let v: serde_json::Value = serde_json::from_str(text)
        .with_context(|| format!("{}: normalisation is not JSON", what.display()))?;
    let norm_v = ["normalization", "normalisation", "norm"]
        .iter()
        .find_map(|k| v.get(*k).cloned())
        .unwrap_or_else(|| v.clone());
    let norm: Normalization = serde_json::from_value(norm_v).with_context(|| {
        format!(
            "{}: no normalisation (min/max or mean/std) found",
            what.display()
        )
    })?;
    let transform = match v.get("transform") {
        Some(t) => Some(
            serde_json::from_value(t.clone())
                .with_context(|| format!("{}: unknown transform {t}", what.display()))?,
        ),
        None => None,
    };
    let resolution = v
        .get("resolution")
        .and_then(|x| x.as_u64())
        .map(|x| x as usize);
    Ok((norm, transform, resolution))
}

/// As [`parse_norm_json`] for a file that must name its transform (a dataset.json).
pub fn parse_space(text: &str, what: &Path) -> Result<(Space, Option<usize>)> {
    let (norm, transform, res) = parse_norm_json(text, what)?;
    let transform = transform
        .with_context(|| format!("{}: does not record the data transform", what.display()))?;
    Ok((Space { transform, norm }, res))
}

impl Model {
    /// Loads RUN_DIR/checkpoint.safetensors (EMA weights unless `raw`).
    pub fn load(run: &Path, raw: bool) -> Result<Model> {
        let ck = diffusion::checkpoint::read(run)
            .with_context(|| format!("loading the model from {}", run.display()))?;
        let device = diffusion::default_device();
        let config = ck.config.clone();
        let schedule = config
            .diffusion
            .schedule
            .build()
            .map_err(|e| anyhow::anyhow!("{}: {e}", run.display()))?;
        let net =
            Net::new(&config, device, 0).map_err(|e| anyhow::anyhow!("{}: {e}", run.display()))?;
        let group = if raw { "model" } else { "ema" };
        diffusion::checkpoint::load_into(&net.named_params(), &ck.group(group), group)
            .map_err(|e| anyhow::anyhow!("{}: {e}", run.display()))?;
        let dir = if run.is_dir() {
            run.to_path_buf()
        } else {
            run.parent().unwrap_or(Path::new(".")).to_path_buf()
        };
        // The checkpoint's own record first; what it lacks (transform, resolution) from the
        // dataset.json that `astrodiff train` keeps in the run folder.
        let ds_file = ["dataset.json", "data.json"]
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.exists());
        let ds = match &ds_file {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                Some(parse_norm_json(&text, p)?)
            }
            None => None,
        };
        let ck_rec = match &ck.normalisation {
            Some(t) => Some(parse_norm_json(t, run)?),
            None => None,
        };
        let norm = ck_rec
            .as_ref()
            .map(|r| r.0)
            .or(ds.as_ref().map(|r| r.0))
            .with_context(|| {
                format!(
                    "{}: the checkpoint records no normalisation and no dataset.json is next to it",
                    run.display()
                )
            })?;
        let transform = ck_rec
            .as_ref()
            .and_then(|r| r.1)
            .or(ds.as_ref().and_then(|r| r.1))
            .with_context(|| {
                format!(
                    "{}: neither the checkpoint nor a dataset.json in the run folder records the data transform (log10 or identity)",
                    run.display()
                )
            })?;
        let resolution = ck_rec
            .as_ref()
            .and_then(|r| r.2)
            .or(ds.as_ref().and_then(|r| r.2));
        let space = Space { transform, norm };
        let prior = ck
            .prior(&schedule)
            .map_err(|e| anyhow::anyhow!("{}: {e}", run.display()))?;
        // A prior fixes the field side the model can take.
        let resolution = resolution.or(prior.as_ref().map(|p| p.n));
        Ok(Model {
            prior,
            net,
            config,
            schedule,
            space,
            resolution,
            device,
            step: ck.step,
        })
    }

    /// Rejects maps the network cannot take: wrong side, or not a multiple of the total stride.
    pub fn check_side(&self, n: usize, source: &Path) -> Result<()> {
        if let Some(r) = self.resolution {
            if r != n {
                bail!(
                    "{}: maps are {n}×{n} pixels but the model was trained on {r}×{r} patches",
                    source.display()
                );
            }
        }
        let stride = self.net.unet.total_stride() as usize;
        if !n.is_multiple_of(stride) {
            bail!(
                "{}: map side {n} is not a multiple of the network's total stride {stride}",
                source.display()
            );
        }
        Ok(())
    }

    /// σ in trained units → σ in the model's normalised units, with the checks the user needs.
    pub fn sigma_norm(&self, sigma: f64) -> Result<f64> {
        if !(sigma.is_finite() && sigma > 0.0) {
            bail!("--sigma = {sigma}: the noise level must be a finite number > 0");
        }
        let s = sigma * self.space.scale();
        let max = self.schedule.max_sigma();
        if s > max {
            bail!(
                "--sigma = {sigma} is σ = {s:.4} in the model's normalised units, above the schedule's \
                 maximum noise level {max:.4} (t = {}); the model cannot denoise that much noise",
                self.schedule.timesteps() - 1
            );
        }
        Ok(s)
    }
}

impl From<Injection> for diffusion::inverse::Injection {
    fn from(i: Injection) -> Self {
        match i {
            Injection::Exact => diffusion::inverse::Injection::Exact,
            Injection::Paper => diffusion::inverse::Injection::Paper,
        }
    }
}

/// Start step t* for a normalised noise level under `injection` (diffusion::inverse's rule).
pub fn start_step(
    schedule: &NoiseSchedule,
    sigma_norm: f64,
    injection: Injection,
) -> Result<usize> {
    Ok(
        diffusion::inverse::plan_injection(schedule, sigma_norm, injection.into())
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .t_star,
    )
}

/// Posterior draws for noisy normalised maps `y` [B, N, N] sharing one σ_norm, through
/// `diffusion::inverse::denoise_posterior` (the core the analytic GRF test checks): returns
/// [B, K, N, N] normalised samples. Map i draws from its own stream derived from (seed, i).
/// `progress` receives (maps done, B).
#[allow(clippy::too_many_arguments)]
pub fn posterior_samples(
    model: &Model,
    y: &Array3<f32>,
    sigma_norm: f64,
    k: usize,
    injection: Injection,
    sampler: &SamplerConfig,
    seed: u64,
    progress: Option<&mut dyn FnMut(usize, usize)>,
) -> Result<Array4<f32>> {
    let (b, n, _) = y.dim();
    let y = y.as_standard_layout();
    let obs = Tensor::from_slice(y.as_slice().context("contiguous input")?)
        .view([b as i64, 1, n as i64, n as i64])
        .to_device(model.device);
    let den = NetDenoiser {
        unet: &model.net.unet,
        schedule: &model.schedule,
        prediction: model.config.diffusion.prediction,
        cond: None,
        prior: model.prior.as_ref(),
    };
    let post = diffusion::inverse::denoise_posterior(
        &den,
        &model.schedule,
        &obs,
        sigma_norm,
        injection.into(),
        k,
        sampler,
        seed,
        progress,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let v: Vec<f32> = Vec::<f32>::try_from(
        post.samples
            .to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .flatten(0, -1),
    )
    .context("samples to host")?;
    Ok(Array4::from_shape_vec((b, k, n, n), v)?)
}

/// The sampler settings the flags ask for.
pub fn sampler_config(sampler: Sampler, steps: Option<usize>, eta: f64) -> Result<SamplerConfig> {
    if let Some(0) = steps {
        bail!("--steps must be ≥ 1");
    }
    Ok(match sampler {
        Sampler::Ddpm => SamplerConfig::new(SamplerKind::Ddpm, steps),
        Sampler::Ddim => {
            if !(0.0..=1.0).contains(&eta) {
                bail!("--eta = {eta} must be in [0, 1]");
            }
            SamplerConfig::new(SamplerKind::Ddim { eta }, steps)
        }
    })
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
    if args.posterior.samples == 0 {
        bail!("--samples must be ≥ 1");
    }
    let sampler = sampler_config(
        args.posterior.sampler,
        args.posterior.steps,
        args.posterior.eta,
    )?;
    let stack = MapStack::open(&args.input)?;
    stack.check_finite()?;
    let (n_maps, n, _) = stack.shape();
    let sigma = match (args.sigma, &args.noise_map) {
        (Some(s), _) => s,
        (None, Some(p)) => sigma_from_noise_map(p, n)?,
        (None, None) => bail!("give --sigma or --noise-map"),
    };
    if !(sigma.is_finite() && sigma > 0.0) {
        match (args.sigma, &args.noise_map) {
            (None, Some(p)) => bail!(
                "{}: the noise map gives σ = {sigma} (all zero?); the noise level must be > 0",
                p.display()
            ),
            _ => bail!("--sigma = {sigma}: the noise level must be a finite number > 0"),
        }
    }
    let _guard = tch::no_grad_guard();
    let model = Model::load(&args.checkpoint, args.no_ema)?;
    model.check_side(n, &args.input)?;
    let sigma_norm = model.sigma_norm(sigma)?;
    let t_star = start_step(&model.schedule, sigma_norm, args.posterior.injection)?;
    eprintln!(
        "denoise: {n_maps} map(s) of {n}², σ = {sigma} (trained units) = {sigma_norm:.5} normalised → t* = {t_star} \
         (σ_t* = {:.5}), {} samples each, injection {:?}",
        model.schedule.sigmas[t_star], args.posterior.samples, args.posterior.injection
    );

    // Observations in normalised units.
    let mut noisy_phys = Vec::with_capacity(n_maps);
    let mut y = Array3::<f32>::zeros((n_maps, n, n));
    for m in 0..n_maps {
        let phys = stack.map(m);
        let tr = model.space.to_trained(phys.clone(), &args.input, m)?;
        y.index_axis_mut(Axis(0), m)
            .assign(&tr.mapv(|v| model.space.normalise(v) as f32));
        noisy_phys.push(phys);
    }

    // All maps in one call: map i draws from its own stream derived from (seed, i), with its
    // K samples as one network batch.
    let k = args.posterior.samples;
    let pb = crate::progress::bar(n_maps, "maps", "denoising");
    let mut cb = |i: usize, _n: usize| pb.set_position(i as u64);
    let samples = posterior_samples(
        &model,
        &y,
        sigma_norm,
        k,
        args.posterior.injection,
        &sampler,
        args.posterior.seed,
        Some(&mut cb),
    )?;
    pb.finish_and_clear();

    // Back to physical units; statistics of the physical samples.
    let mut phys = samples.mapv(|z| model.space.denormalise(z as f64));
    model.space.trained_to_physical(phys.view_mut().into_dyn());
    let nonfinite = phys.iter().filter(|v| !v.is_finite()).count();
    if nonfinite == phys.len() {
        bail!(
            "{}: every posterior sample is non-finite (NaN or ∞); nothing written to {}",
            args.checkpoint.display(),
            args.out.display()
        );
    }
    if nonfinite > 0 {
        eprintln!(
            "warning: {nonfinite} of {} posterior-sample values are non-finite (NaN or ∞)",
            phys.len()
        );
    }
    let mean = phys.mean_axis(Axis(1)).expect("K ≥ 1");
    let std = phys.std_axis(Axis(1), if k > 1 { 1.0 } else { 0.0 });
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let phys32 = phys.mapv(|v| v as f32);
    let write = |name: &str, a: ndarray::ArrayViewD<f32>| -> Result<()> {
        let p = args.out.join(name);
        fields::io::write_npy_f32(&p, a).with_context(|| format!("writing {}", p.display()))
    };
    if n_maps == 1 {
        write("samples.npy", phys32.index_axis(Axis(0), 0).into_dyn())?;
        write(
            "mean.npy",
            mean.mapv(|v| v as f32).index_axis(Axis(0), 0).into_dyn(),
        )?;
        write(
            "std.npy",
            std.mapv(|v| v as f32).index_axis(Axis(0), 0).into_dyn(),
        )?;
    } else {
        write("samples.npy", phys32.view().into_dyn())?;
        write("mean.npy", mean.mapv(|v| v as f32).view().into_dyn())?;
        write("std.npy", std.mapv(|v| v as f32).view().into_dyn())?;
    }
    let info = serde_json::json!({
        "checkpoint": args.checkpoint,
        "model_step": model.step,
        "input": args.input,
        "n_maps": n_maps,
        "side": n,
        "sigma_trained_units": sigma,
        "sigma_normalised": sigma_norm,
        "normalisation_scale": model.space.scale(),
        "transform": model.space.transform,
        "t_star": t_star,
        "sigma_t_star": model.schedule.sigmas[t_star],
        "samples": k,
        "injection": args.posterior.injection,
        "sampler": sampler,
        "seed": args.posterior.seed,
        "ema": !args.no_ema,
        "noise_model": "additive white Gaussian noise in the trained space (after the transform, before normalisation)",
    });
    evaluation::plot::write_atomic(
        &args.out.join("denoise.json"),
        serde_json::to_string_pretty(&info)?.as_bytes(),
    )?;
    let rows: Vec<[ArrayView2<f64>; 4]> = (0..n_maps.min(4))
        .map(|m| {
            [
                noisy_phys[m].view(),
                phys.slice(s![m, 0, .., ..]),
                mean.index_axis(Axis(0), m),
                std.index_axis(Axis(0), m),
            ]
        })
        .collect();
    if let Err(e) = panels_png(
        &args.out.join("denoise.png"),
        &rows,
        &["noisy", "one sample", "posterior mean", "posterior std"],
        &format!("denoise: σ = {sigma} (t* = {t_star}), K = {k}"),
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

/// Rows of panels with column titles on top. The first `shared` panels of a row share one
/// colour scale (0.5–99.5% of their pixels, so they compare directly); the others each get
/// their own.
pub fn panels_png<const C: usize>(
    path: &Path,
    rows: &[[ArrayView2<f64>; C]],
    titles: &[&str; C],
    title: &str,
    shared: usize,
) -> Result<()> {
    use plotters::prelude::*;
    if rows.is_empty() {
        bail!("no maps to draw in {}", path.display());
    }
    let n = rows[0][0].nrows();
    let scale = (160 / n).max(1) as u32;
    let pw = n as u32 * scale;
    let (gap, head) = (8u32, 52u32);
    let w = C as u32 * (pw + gap) + gap;
    let h = head + rows.len() as u32 * (pw + gap + 16) + gap;
    evaluation::plot::render_png(path, (w, h), |root| {
        let de = |e: &dyn std::fmt::Display| anyhow::anyhow!("drawing {}: {e}", path.display());
        root.draw(&Text::new(
            title.to_string(),
            (gap as i32, 6),
            ("sans-serif", 18).into_font(),
        ))
        .map_err(|e| de(&e))?;
        for (c, t) in titles.iter().enumerate() {
            let x = (gap + c as u32 * (pw + gap)) as i32;
            root.draw(&Text::new(
                t.to_string(),
                (x, 30),
                ("sans-serif", 15).into_font(),
            ))
            .map_err(|e| de(&e))?;
        }
        for (r, row) in rows.iter().enumerate() {
            let common = evaluation::plot::robust_range(row[..shared.min(C)].iter(), 0.005, 0.995);
            for (c, m) in row.iter().enumerate() {
                let (lo, hi) = if c < shared {
                    common
                } else {
                    evaluation::plot::robust_range(std::iter::once(m), 0.005, 0.995)
                };
                let ox = (gap + c as u32 * (pw + gap)) as i32;
                let oy = (head + r as u32 * (pw + gap + 16)) as i32;
                for ((i, j), &v) in m.indexed_iter() {
                    let col = evaluation::plot::viridis((v - lo) / (hi - lo));
                    let (x, y) = (
                        ox + (j as u32 * scale) as i32,
                        oy + (i as u32 * scale) as i32,
                    );
                    root.draw(&Rectangle::new(
                        [(x, y), (x + scale as i32, y + scale as i32)],
                        col.filled(),
                    ))
                    .map_err(|e| de(&e))?;
                }
                root.draw(&Text::new(
                    format!("{} … {}", fmt_g(lo), fmt_g(hi)),
                    (ox, oy + pw as i32 + 2),
                    ("sans-serif", 12).into_font(),
                ))
                .map_err(|e| de(&e))?;
            }
        }
        Ok(())
    })
}

/// Three significant digits, switching to exponent notation for very small or large values.
fn fmt_g(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e4).contains(&a) {
        format!("{v:.2e}")
    } else {
        format!("{v:.4}")
    }
}
