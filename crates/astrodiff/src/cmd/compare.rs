//! `astrodiff compare A B`: ensemble comparison of two sets of maps (e.g. real vs generated).
//!
//! Both sets are measured with the same edges and thresholds (defaults: histogram over the range
//! of both sets, thresholds between the 1st and 99th percentiles of A). A is the reference:
//! the reduced χ² of each statistic is Σ (mean_B − mean_A)²/σ_A²/(n_bins − 1), the ratio of
//! means is B/A, and W1 / KS compare the pooled pixel values (after the transform).

use super::stats::{ensemble_csv, open, to_json, write_out, write_plots, MeasureArgs};
use anyhow::{Context, Result};
use evaluation::measure::{self, CompareOptions};
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

pub fn run(args: Args) -> Result<()> {
    let a = open(&args.a)?;
    let b = open(&args.b)?;
    let opts = CompareOptions {
        measure: args.measure.options(),
        label_a: args.label_a.clone(),
        label_b: args.label_b.clone(),
        max_pooled_pixels: args.max_pooled_pixels,
    };
    let pb = crate::progress::bar(a.len() + b.len(), "maps", "measuring");
    let out = measure::compare_sets(&a, &b, &opts, &|| pb.inc(1));
    pb.finish_and_clear();
    let out = out?;
    let (ea, eb) = (&out.a.ensemble, &out.b.ensemble);
    if let Some(prefix) = &args.csv {
        for (tag, e) in [("_a_ensemble.csv", ea), ("_b_ensemble.csv", eb)] {
            let mut p = prefix.as_os_str().to_owned();
            p.push(tag);
            write_out(&PathBuf::from(p), ensemble_csv(e).as_bytes())?;
        }
    }
    if let Some(dir) = &args.plots {
        let label_a = format!("{} (n={})", args.label_a, out.a.n_maps);
        let label_b = format!("{} (n={})", args.label_b, out.b.n_maps);
        write_plots(
            dir,
            &[(label_a, ea.clone()), (label_b, eb.clone())],
            &out.config,
            true,
        )?;
    }
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
