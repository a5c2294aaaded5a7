//! `astrodiff compare A B`: ensemble comparison of two sets of maps (e.g. real vs generated).
//!
//! Both sets are measured with the same edges and thresholds (defaults: histogram over the range
//! of both sets, thresholds between the 1st and 99th percentiles of A). A is the reference:
//! the reduced χ² of each statistic is Σ (mean_B − mean_A)²/σ_A²/(n_bins − 1), the ratio of
//! means is B/A, and W1 / KS compare the pooled pixel values (after the transform).

use super::stats::{
    ensemble_csv, measure_input, resolve_config, to_json, write_out, write_plots, Input,
    MeasureArgs, UNITS,
};
use anyhow::{Context, Result};
use serde::Serialize;
use stats::ensemble::{Comparison, Ensemble, PixelDistance};
use stats::{MfConvention, Transform};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Reference set A (e.g. the real maps): .npy 2D/3D, .npz or FITS.
    pub a: PathBuf,
    /// Set B (e.g. generated maps), same side N.
    pub b: PathBuf,
    #[command(flatten)]
    pub measure: MeasureArgs,
    /// Write the JSON summary here (default: standard output).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write PNG plots (pk.png with ratio panel, pdf.png, minkowski.png) into this folder.
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,
    /// Also write PREFIX_a_ensemble.csv and PREFIX_b_ensemble.csv (per-bin mean, std, 5–95 %).
    #[arg(long, value_name = "PREFIX")]
    pub csv: Option<PathBuf>,
    /// Legend label of set A.
    #[arg(long, default_value = "A")]
    pub label_a: String,
    /// Legend label of set B.
    #[arg(long, default_value = "B")]
    pub label_b: String,
    /// Pool at most this many pixels per set for W1/KS (8 bytes each); larger sets use evenly
    /// spaced maps (recorded as n_a / n_b).
    #[arg(long, default_value_t = 1 << 27)]
    pub max_pooled_pixels: usize,
}

#[derive(Serialize)]
struct SetOut {
    file: String,
    label: String,
    n_maps: usize,
    ensemble: Ensemble,
}

#[derive(Serialize)]
struct CompareOut {
    side: usize,
    box_size: f64,
    transform: Transform,
    mf_convention: MfConvention,
    units: super::stats::Units,
    a: SetOut,
    b: SetOut,
    /// B against A per statistic.
    comparison: Comparison,
    pixel_distance: PixelDistance,
}

/// Transformed pixels of evenly spaced maps, at most `cap` values (at least one map).
fn pooled(inp: &Input, t: Transform, cap: usize) -> Result<Vec<f64>> {
    let n = inp.stack.len();
    let per = inp.stack.side() * inp.stack.side();
    let take = (cap / per).clamp(1, n);
    let mut v = Vec::with_capacity(take * per);
    for s in 0..take {
        v.extend(inp.transformed(s * n / take, t)?.iter().copied());
    }
    Ok(v)
}

pub fn run(args: Args) -> Result<()> {
    let a = Input::open(&args.a)?;
    let b = Input::open(&args.b)?;
    if a.stack.side() != b.stack.side() {
        anyhow::bail!(
            "{} has {}x{} maps but {} has {}x{}: compare needs the same side",
            a.path.display(),
            a.stack.side(),
            a.stack.side(),
            b.path.display(),
            b.stack.side(),
            b.stack.side()
        );
    }
    let cfg = resolve_config(&args.measure, &[&a, &b], &a)?;
    let ma = measure_input(&a, &cfg)?;
    let mb = measure_input(&b, &cfg)?;
    let ea = Ensemble::from_maps(&ma).with_context(|| format!("{}: ensemble", a.path.display()))?;
    let eb = Ensemble::from_maps(&mb).with_context(|| format!("{}: ensemble", b.path.display()))?;
    let comparison = stats::compare(&ea, &eb)?;
    let pixel_distance = stats::pixel_distance(
        pooled(&a, cfg.transform, args.max_pooled_pixels)?,
        pooled(&b, cfg.transform, args.max_pooled_pixels)?,
    )?;
    let label_a = format!("{} (n={})", args.label_a, ma.len());
    let label_b = format!("{} (n={})", args.label_b, mb.len());
    if let Some(prefix) = &args.csv {
        for (tag, e) in [("_a_ensemble.csv", &ea), ("_b_ensemble.csv", &eb)] {
            let mut p = prefix.as_os_str().to_owned();
            p.push(tag);
            write_out(&PathBuf::from(p), ensemble_csv(e).as_bytes())?;
        }
    }
    if let Some(dir) = &args.plots {
        write_plots(
            dir,
            &[(label_a.clone(), ea.clone()), (label_b.clone(), eb.clone())],
            &cfg,
            true,
        )?;
    }
    let out = CompareOut {
        side: a.stack.side(),
        box_size: cfg.box_size,
        transform: cfg.transform,
        mf_convention: cfg.convention,
        units: UNITS,
        a: SetOut {
            file: a.path.display().to_string(),
            label: args.label_a,
            n_maps: ma.len(),
            ensemble: ea,
        },
        b: SetOut {
            file: b.path.display().to_string(),
            label: args.label_b,
            n_maps: mb.len(),
            ensemble: eb,
        },
        comparison,
        pixel_distance,
    };
    let json = to_json(&out)?;
    match &args.json {
        Some(p) => write_out(p, &json),
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(&json)
                .context("writing JSON to standard output")
        }
    }
}
