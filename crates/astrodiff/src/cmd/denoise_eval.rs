//! `astrodiff denoise-eval`: the diffusion denoiser against classical filters on held-out
//! patches with synthetic noise.
//!
//! For every noise level and every held-out patch x (in the model's trained space: after the
//! transform, before normalisation), a noisy copy `y = x + σ ε` is drawn from a seeded stream;
//! then five estimates are scored against x:
//! - `noisy`: y itself (the yardstick: MSE = σ²);
//! - `wiener`: the Wiener filter with the signal's mean and per-mode variance estimated from the
//!   training patches (fields::filters), i.e. the exact posterior mean if the field were Gaussian;
//! - `gaussian`: Gaussian smoothing whose width minimises the MSE on the training patches with
//!   the same noise level (fields::filters::best_gaussian_sigma);
//! - `diffusion_mean`: the mean of K posterior samples from the trained model
//!   (`astrodiff denoise`'s sampler);
//! - `diffusion_sample`: one posterior sample (the first of the K) per patch.
//!
//! Noise levels are absolute (`--sigma`, trained units) or per patch (`--snr`: σ = std of the
//! true patch / SNR). Scores: MSE, P(k) ratio and cross-correlation r(k) to the truth, MFs at
//! the truth's thresholds, and for the diffusion posterior the coverage of its 68% and 95%
//! intervals (see [`metrics`]).

pub use evaluation::denoising as metrics;

use crate::cmd::denoise;
use anyhow::{bail, Context, Result};
use evaluation::plot::{line_chart, LineChart, Series};
use fields::dataset::PreparedDataset;
use fields::MapStack;
use metrics::{Baselines, Level, Scores, Summary};
use ndarray::{s, Array2, Array3, ArrayView2, Axis};
use pipeline::{Injection, LoadOptions, PosteriorConfig, TrainedRun};
use rand::Rng;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run folder of a trained model.
    #[arg(long, value_name = "RUN_DIR")]
    pub checkpoint: PathBuf,
    /// Prepared dataset folder (astrodiff data prepare) holding the held-out split.
    #[arg(long, value_name = "PREPARED_DIR")]
    pub data: PathBuf,
    /// Which split of --data to evaluate on.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Prepared dataset whose `train` split gives the baselines' signal spectrum and smoothing
    /// width (default: --data).
    #[arg(long, value_name = "PREPARED_DIR")]
    pub train_data: Option<PathBuf>,
    /// Absolute noise levels, comma separated, in the trained space (e.g. dex for log10 models).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "S1,S2,…",
        allow_negative_numbers = true
    )]
    pub sigma: Vec<f64>,
    /// Per-patch signal-to-noise ratios, comma separated: σ = std(true patch)/SNR.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "R1,R2,…",
        allow_negative_numbers = true
    )]
    pub snr: Vec<f64>,
    #[command(flatten)]
    pub posterior: denoise::PosteriorArgs,
    /// Number of held-out patches (the first M; default all).
    #[arg(long)]
    pub n_maps: Option<usize>,
    /// Training patches used by the baselines (the first M): enough for the spectrum and the
    /// smoothing width, and bounded so that per-patch width tuning stays cheap.
    #[arg(long, default_value_t = 512)]
    pub n_train: usize,
    /// Output JSON (one entry per noise level and method).
    #[arg(long, value_name = "OUT.json")]
    pub json: PathBuf,
    /// Boundary the FFT baselines assume: `mirror` filters the patch's symmetric extension
    /// (2N×2N, periodic and continuous) and crops, the fair choice for patches cut from a larger
    /// map; `periodic` filters the patch as a torus. `auto`: periodic only if the dataset says
    /// its maps are.
    #[arg(long, value_enum, default_value_t = Boundary::Auto)]
    pub baseline_boundary: Boundary,
    /// Folder for the figures (default: next to the JSON, `<stem>_plots/`).
    #[arg(long)]
    pub plots: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Boundary {
    Auto,
    Periodic,
    Mirror,
}

pub const METHODS: [&str; 5] = [
    "noisy",
    "wiener",
    "gaussian",
    "diffusion_mean",
    "diffusion_sample",
];

#[derive(Serialize)]
pub struct Entry {
    pub level: String,
    pub noise: Level,
    pub method: String,
    /// Mean over patches of σ (trained units) and of σ in the model's normalised units.
    pub sigma_mean: f64,
    pub sigma_norm_mean: f64,
    /// MSE divided by the mean noise variance (1 for the noisy input).
    pub mse_over_noise_var: f64,
    /// Gaussian smoothing width(s) in pixels (gaussian method only; mean over patches).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gaussian_sigma_px: Option<f64>,
    /// Range of start steps t* used (diffusion methods only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t_star: Option<[usize; 2]>,
    #[serde(flatten)]
    pub scores: Summary,
}

#[derive(Serialize)]
struct Report<'a> {
    checkpoint: &'a Path,
    model_step: u64,
    data: &'a Path,
    split: &'a str,
    train_data: &'a Path,
    n_maps: usize,
    n_train: usize,
    side: usize,
    samples: usize,
    seed: u64,
    injection: Injection,
    sampler: diffusion::sampler::SamplerConfig,
    transform: fields::transform::PointTransform,
    normalisation_scale: f64,
    baseline_boundary: &'static str,
    units: &'static str,
    entries: Vec<Entry>,
}

/// Patches of a prepared split, back in the trained space (inverse of that dataset's
/// normalisation; its transform must match the model's).
fn load_split(
    ds: &PreparedDataset,
    split: &str,
    limit: Option<usize>,
    model: &TrainedRun,
) -> Result<Array3<f64>> {
    let dir = &ds.dir;
    let file = dir.join(format!("{split}.npy"));
    let stack = MapStack::open(&file)
        .with_context(|| format!("reading the '{split}' split of {}", dir.display()))?;
    stack.check_finite()?;
    let space = pipeline::Space {
        transform: ds.meta.transform,
        norm: ds.meta.normalization,
    };
    if space.transform != model.space()?.transform {
        bail!(
            "{}: data transform {:?} differs from the model's {:?}",
            dir.join("dataset.json").display(),
            space.transform,
            model.space()?.transform
        );
    }
    let n = limit.unwrap_or(stack.len()).min(stack.len());
    if n == 0 {
        bail!("{}: no patches to use", file.display());
    }
    let mut out = Array3::<f64>::zeros((n, stack.side(), stack.side()));
    for i in 0..n {
        out.index_axis_mut(Axis(0), i)
            .assign(&stack.map(i).mapv(|z| space.denormalise(z)));
    }
    Ok(out)
}

/// Standard normal from a ChaCha stream (Box–Muller; the CLI crate has no rand_distr).
fn gauss(rng: &mut impl Rng) -> f64 {
    let u: f64 = 1.0 - rng.gen::<f64>();
    let v: f64 = rng.gen();
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

// The patch index p addresses several parallel per-patch arrays (σ, noise streams, outputs).
#[allow(clippy::needless_range_loop)]
pub fn run(args: Args) -> Result<()> {
    let mut levels: Vec<Level> = args.sigma.iter().map(|&s| Level::Sigma(s)).collect();
    levels.extend(args.snr.iter().map(|&r| Level::Snr(r)));
    if levels.is_empty() {
        bail!("give at least one noise level with --sigma s1,s2,… or --snr r1,r2,…");
    }
    for l in &levels {
        match *l {
            Level::Sigma(s) if !(s.is_finite() && s > 0.0) => {
                bail!("--sigma {s}: noise levels must be finite and > 0")
            }
            Level::Snr(r) if !(r.is_finite() && r > 0.0) => {
                bail!("--snr {r}: signal-to-noise ratios must be finite and > 0")
            }
            _ => {}
        }
    }
    if args.posterior.samples < 2 {
        bail!("--samples must be ≥ 2 (the posterior spread needs at least two draws)");
    }
    let config = args.posterior.config()?;
    let _guard = diffusion::tch::no_grad_guard();
    let model = TrainedRun::load(&args.checkpoint, &LoadOptions::default())?;
    let space = model.space()?.clone();
    let data = PreparedDataset::open(&args.data)?;
    let test = load_split(&data, &args.split, args.n_maps, &model)?;
    let train_dir = args.train_data.clone().unwrap_or_else(|| args.data.clone());
    let train_ds = match &args.train_data {
        Some(d) => PreparedDataset::open(d)?,
        None => data.clone(),
    };
    let train = load_split(&train_ds, "train", Some(args.n_train), &model)?;
    let (m, n, _) = test.dim();
    model.check_input_side(n, &args.data.join(format!("{}.npy", args.split)))?;
    if train.dim().1 != n {
        bail!(
            "{}: training patches are {}² but the held-out ones {n}²",
            train_dir.display(),
            train.dim().1
        );
    }
    let mirror_ext = match args.baseline_boundary {
        Boundary::Periodic => false,
        Boundary::Mirror => true,
        Boundary::Auto => !data.periodic(),
    };
    let baselines = Baselines::new(&train, mirror_ext)?;
    let scale = space.scale();
    let k = args.posterior.samples;
    eprintln!(
        "denoise-eval: {m} held-out patches of {n}², {} training patches for the baselines, K = {k}, levels {:?}",
        train.dim().0,
        levels.iter().map(|l| l.label()).collect::<Vec<_>>()
    );

    let plots_dir = args.plots.clone().unwrap_or_else(|| {
        let stem = args
            .json
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "denoise_eval".into());
        args.json
            .parent()
            .unwrap_or(Path::new("."))
            .join(format!("{stem}_plots"))
    });
    std::fs::create_dir_all(&plots_dir)
        .with_context(|| format!("creating {}", plots_dir.display()))?;

    let mut entries = Vec::new();
    for (li, level) in levels.iter().enumerate() {
        // Noise, per patch, from its own sub-stream: the same patches get the same noise
        // whatever --n-maps or the batch size.
        let sig: Vec<f64> = (0..m)
            .map(|p| level.sigma_for(test.index_axis(Axis(0), p)))
            .collect();
        if let Some(bad) = sig.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            bail!(
                "{}: a patch has noise level {bad} (constant patch?)",
                level.label()
            );
        }
        let mut noisy = test.clone();
        for p in 0..m {
            let mut rng = fields::rng::substream(args.posterior.seed, &[1, li as u64, p as u64]);
            noisy
                .index_axis_mut(Axis(0), p)
                .mapv_inplace(|v| v + sig[p] * gauss(&mut rng));
        }
        // σ in normalised units, checked by the run's one rule.
        let sig_norm: Vec<f64> = sig
            .iter()
            .enumerate()
            .map(|(p, &s)| {
                model
                    .sigma_norm(s)
                    .with_context(|| format!("{}: patch {p}", level.label()))
            })
            .collect::<Result<_>>()?;
        let mut t_star = Vec::with_capacity(m);

        // Baselines.
        let mut gauss_cache: BTreeMap<u64, f64> = BTreeMap::new();
        let mut wiener = Array3::<f64>::zeros((m, n, n));
        let mut smooth = Array3::<f64>::zeros((m, n, n));
        let mut widths = Vec::with_capacity(m);
        for p in 0..m {
            let y = noisy.index_axis(Axis(0), p);
            wiener
                .index_axis_mut(Axis(0), p)
                .assign(&baselines.wiener(y, sig[p])?);
            let key = sig[p].to_bits();
            let w = match gauss_cache.get(&key) {
                Some(w) => *w,
                None => {
                    let w = baselines.best_width(
                        sig[p],
                        fields::rng::derive_seed(args.posterior.seed, &[2, li as u64, p as u64]),
                    )?;
                    gauss_cache.insert(key, w);
                    w
                }
            };
            widths.push(w);
            smooth
                .index_axis_mut(Axis(0), p)
                .assign(&baselines.smooth(y, w)?);
        }

        // Diffusion posterior: one call per patch (its own σ in --snr mode), K samples as one
        // network batch, seeded by (seed, level, patch).
        let mut post = ndarray::Array4::<f64>::zeros((m, k, n, n));
        let pb = crate::progress::bar(m, "patches", &level.label());
        for p in 0..m {
            let y = noisy
                .slice(s![p..p + 1, .., ..])
                .mapv(|v| space.normalise(v) as f32);
            let seed = fields::rng::derive_seed(args.posterior.seed, &[3, li as u64, p as u64]);
            let cfg = PosteriorConfig {
                seed,
                ..config.clone()
            };
            let out = model.posterior_normalised(y.view(), sig_norm[p], &cfg, None)?;
            t_star.push(out.plan.t_star);
            post.index_axis_mut(Axis(0), p).assign(
                &out.samples
                    .index_axis(Axis(0), 0)
                    .mapv(|z| space.denormalise(z as f64)),
            );
            pb.set_position(p as u64 + 1);
        }
        pb.finish_and_clear();

        // Scores.
        let mut sc: Vec<Scores> = METHODS
            .iter()
            .map(|_| Scores::new(n, mirror_ext))
            .collect::<evaluation::Result<_>>()?;
        for p in 0..m {
            let truth = test.index_axis(Axis(0), p);
            let mean = post
                .index_axis(Axis(0), p)
                .mean_axis(Axis(0))
                .expect("K ≥ 1");
            let ests: [Array2<f64>; 5] = [
                noisy.index_axis(Axis(0), p).to_owned(),
                wiener.index_axis(Axis(0), p).to_owned(),
                smooth.index_axis(Axis(0), p).to_owned(),
                mean,
                post.slice(s![p, 0, .., ..]).to_owned(),
            ];
            for (s, e) in sc.iter_mut().zip(&ests) {
                s.add(e.view(), truth)?;
            }
            sc[3].add_coverage(post.index_axis(Axis(0), p), truth);
        }
        let sigma_mean = sig.iter().sum::<f64>() / m as f64;
        let noise_var = sig.iter().map(|s| s * s).sum::<f64>() / m as f64;
        let t_range = [
            *t_star.iter().min().unwrap_or(&0),
            *t_star.iter().max().unwrap_or(&0),
        ];
        for (mi, s) in sc.iter().enumerate() {
            let summary = s.summary(Some(k));
            entries.push(Entry {
                level: level.label(),
                noise: *level,
                method: METHODS[mi].to_string(),
                sigma_mean,
                sigma_norm_mean: sigma_mean * scale,
                mse_over_noise_var: summary.mse / noise_var,
                gaussian_sigma_px: (mi == 2).then(|| widths.iter().sum::<f64>() / m as f64),
                t_star: (mi >= 3).then_some(t_range),
                scores: summary,
            });
        }
        let lvl_entries = &entries[entries.len() - METHODS.len()..];
        // Figures are a by-product: a machine without fonts must not lose the numbers.
        if let Err(e) = write_level_plots(
            &plots_dir,
            level,
            lvl_entries,
            &test,
            &noisy,
            &wiener,
            &smooth,
            &post,
        ) {
            eprintln!("warning: figures for {} not written: {e:#}", level.label());
        }
    }

    print_table(&entries);
    let report = Report {
        checkpoint: &args.checkpoint,
        model_step: model.step,
        data: &args.data,
        split: &args.split,
        train_data: &train_dir,
        n_maps: m,
        n_train: train.dim().0,
        side: n,
        samples: k,
        seed: args.posterior.seed,
        injection: config.injection,
        sampler: config.sampler,
        transform: space.transform,
        normalisation_scale: scale,
        baseline_boundary: if mirror_ext { "mirror" } else { "periodic" },
        units: "maps, σ and MSE in the model's trained space (after the transform, before normalisation); \
                k in rad/pixel (box = N pixels, k_Nyq = π); P(k) in [field]²·pixel²",
        entries,
    };
    let text = serde_json::to_string_pretty(&report)?;
    evaluation::plot::write_atomic(&args.json, text.as_bytes())?;
    eprintln!(
        "wrote {} and figures in {}",
        args.json.display(),
        plots_dir.display()
    );
    Ok(())
}

fn print_table(entries: &[Entry]) {
    println!(
        "{:<12} {:<17} {:>10} {:>8} {:>9} {:>9} {:>8} {:>8} {:>7} {:>7}",
        "level",
        "method",
        "MSE",
        "MSE/σ²",
        "P(k>kN/2)",
        "r(k>kN/2)",
        "V1 err",
        "V2 err",
        "cov68",
        "cov95"
    );
    for e in entries {
        let s = &e.scores;
        let (c68, c95) = match &s.coverage {
            Some(c) => (format!("{:.3}", c.gauss68), format!("{:.3}", c.gauss95)),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:<12} {:<17} {:>10.3e} {:>8.3} {:>9.3} {:>9.3} {:>8.3} {:>8.3} {:>7} {:>7}",
            e.level,
            e.method,
            s.mse,
            e.mse_over_noise_var,
            s.pk_ratio_high_k,
            s.r_high_k,
            s.v1.rel_l1,
            s.v2.rel_l1,
            c68,
            c95
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn write_level_plots(
    dir: &Path,
    level: &Level,
    entries: &[Entry],
    truth: &Array3<f64>,
    noisy: &Array3<f64>,
    wiener: &Array3<f64>,
    smooth: &Array3<f64>,
    post: &ndarray::Array4<f64>,
) -> Result<()> {
    let tag = level.label().replace('=', "");
    let k = &entries[0].scores.k;
    let lines = |f: &dyn Fn(&Summary) -> Vec<f64>| -> Vec<Series> {
        entries
            .iter()
            .map(|e| {
                // Up to the Nyquist wavenumber π: beyond it only the few corner modes remain.
                let y = f(&e.scores);
                let keep: Vec<usize> = (0..k.len())
                    .filter(|&b| k[b] <= std::f64::consts::PI + 1e-9)
                    .collect();
                Series::line(
                    e.method.clone(),
                    keep.iter().map(|&b| k[b]).collect(),
                    keep.iter().map(|&b| y[b]).collect(),
                )
            })
            .collect()
    };
    let k_axis = LineChart {
        x_label: "k  [rad/pixel]",
        log_x: true,
        guide: Some(1.0),
        ..LineChart::default()
    };
    line_chart(
        &dir.join(format!("pk_ratio_{tag}.png")),
        &LineChart {
            title: &format!(
                "P(k) of the estimate / P(k) of the truth (noisy input not shown), {}",
                level.label()
            ),
            y_label: "P_est / P_true",
            ..k_axis.clone()
        },
        // The noisy input's ratio grows to ~10² at high k and would flatten the others.
        &lines(&|s| s.pk_ratio.clone())
            .into_iter()
            .filter(|l| l.label != "noisy")
            .collect::<Vec<_>>(),
    )?;
    line_chart(
        &dir.join(format!("rk_{tag}.png")),
        &LineChart {
            title: &format!("cross-correlation with the truth r(k), {}", level.label()),
            y_label: "r(k)",
            ..k_axis
        },
        &lines(&|s| s.r_k.clone()),
    )?;
    let nu = &entries[0].scores.mf_nu;
    for (vi, name) in ["V0", "V1", "V2"].iter().enumerate() {
        let pick = |s: &Summary| match vi {
            0 => s.v0.clone(),
            1 => s.v1.clone(),
            _ => s.v2.clone(),
        };
        let mut ls = vec![Series::line(
            "truth",
            nu.clone(),
            pick(&entries[0].scores).true_mean,
        )];
        ls.extend(
            entries
                .iter()
                .map(|e| Series::line(e.method.clone(), nu.clone(), pick(&e.scores).est_mean)),
        );
        line_chart(
            &dir.join(format!("mf_{name}_{tag}.png")),
            &LineChart {
                title: &format!(
                    "Minkowski {name} at the truth's thresholds, {}",
                    level.label()
                ),
                x_label: "ν  (threshold = mean + ν·std of the true patch)",
                y_label: name,
                ..LineChart::default()
            },
            &ls,
        )?;
    }
    // Example patches: the first two, on one colour scale per row; std on its own.
    let rows: Vec<[ArrayView2<f64>; 7]> = (0..truth.dim().0.min(2))
        .map(|p| {
            [
                truth.index_axis(Axis(0), p),
                noisy.index_axis(Axis(0), p),
                wiener.index_axis(Axis(0), p),
                smooth.index_axis(Axis(0), p),
                post.slice(s![p, 0, .., ..]),
                post.slice(s![p, 1, .., ..]),
                post.slice(s![p, 0, .., ..]),
            ]
        })
        .collect();
    // Last column: posterior mean and std need owned arrays; draw them in a second figure.
    let means: Vec<Array2<f64>> = (0..rows.len())
        .map(|p| {
            post.index_axis(Axis(0), p)
                .mean_axis(Axis(0))
                .expect("K ≥ 1")
        })
        .collect();
    let stds: Vec<Array2<f64>> = (0..rows.len())
        .map(|p| post.index_axis(Axis(0), p).std_axis(Axis(0), 1.0))
        .collect();
    let rows: Vec<[ArrayView2<f64>; 7]> = rows
        .into_iter()
        .enumerate()
        .map(|(p, r)| {
            [
                r[0],
                r[1],
                r[2],
                r[3],
                means[p].view(),
                r[4],
                stds[p].view(),
            ]
        })
        .collect();
    evaluation::plot::panels_png(
        &dir.join(format!("examples_{tag}.png")),
        &rows,
        &[
            "truth",
            "noisy",
            "Wiener",
            "Gaussian",
            "post. mean",
            "sample",
            "post. std",
        ],
        &format!(
            "held-out patches, {} (trained units; std on its own scale)",
            level.label()
        ),
        6,
    )?;
    Ok(())
}
