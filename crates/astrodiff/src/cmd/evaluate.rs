//! `astrodiff evaluate REAL GENERATED --out DIR`: judges any set of maps against a reference set
//! (e.g. generated samples against held-out simulations) and writes `evaluation.json` (every
//! ensemble and comparison), `summary.json` (the verdict table), the PNG figures and a
//! self-contained `report.html` into DIR.
//!
//! Statistics are the `stats` crate's, measured exactly as `astrodiff compare` does (same default
//! edges and thresholds); on top come the real-vs-real split baseline and the verdicts
//! (see docs/report.md for the rule).

use crate::report::{self, EvalOptions, SetInfo};
use anyhow::{bail, Context, Result};
use ndarray::Array2;
use stats::{MfConvention, Transform};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Reference maps (e.g. the held-out real set): .npy 2D/3D, .npz or FITS.
    pub real: PathBuf,
    /// Maps to judge (e.g. generated samples), same side N.
    pub generated: PathBuf,
    /// Folder for evaluation.json, summary.json, the PNGs and report.html.
    #[arg(long)]
    pub out: PathBuf,
    /// Box side L in Mpc/h (25 for CAMELS); sets the k axis.
    #[arg(long, default_value_t = 25.0)]
    pub box_size: f64,
    /// Applied to every map before all statistics: identity, log10 or overdensity.
    #[arg(long, default_value = "identity")]
    pub transform: Transform,
    /// Minkowski-functional convention: periodic, open or quantimpy.
    #[arg(long, default_value = "periodic")]
    pub mf_convention: MfConvention,
    /// Histogram edges e0,e1,… (transformed units); default: --bins uniform bins over both sets.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub edges: Option<Vec<f64>>,
    #[arg(long, default_value_t = 40)]
    pub bins: usize,
    /// MF thresholds (transformed units); default: --n-thresholds between the real set's 1st and
    /// 99th percentiles.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub thresholds: Option<Vec<f64>>,
    #[arg(long, default_value_t = 25)]
    pub n_thresholds: usize,
    /// Use at most the first N maps of each file (everything is held in memory as f64).
    #[arg(long)]
    pub max_maps: Option<usize>,
    /// Label of the reference set in the report.
    #[arg(long, default_value = "real")]
    pub label_real: String,
    /// Label of the judged set in the report.
    #[arg(long, default_value = "generated")]
    pub label_generated: String,
}

/// Loads up to `max` maps, with the file's absolute path for the record.
pub(crate) fn load(path: &Path, max: Option<usize>) -> Result<(Vec<Array2<f64>>, String)> {
    let stack = fields::MapStack::open(path)?;
    if stack.is_empty() {
        bail!("{}: the stack holds no maps", path.display());
    }
    let n = max.unwrap_or(usize::MAX).min(stack.len());
    if n == 0 {
        bail!("--max-maps must be at least 1");
    }
    let maps = (0..n).map(|i| stack.map(i)).collect();
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    Ok((maps, abs.display().to_string()))
}

/// Plain-text summary table for the terminal.
pub(crate) fn print_summary(s: &report::summary::Summary) {
    let f = |x: Option<f64>| x.map(|v| format!("{v:.4}")).unwrap_or_else(|| "n/a".into());
    // Width of the longest statistic name ("skewness, kurtosis"), counted in characters.
    let w = s
        .rows
        .iter()
        .map(|r| r.statistic.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "{:<w$} {:<22} {:>12} {:>12} {:>12}  verdict",
        "stat", "metric", "generated", "real/real", "threshold"
    );
    for r in &s.rows {
        for m in &r.metrics {
            println!(
                "{:<w$} {:<22} {:>12} {:>12} {:>12}  {}",
                r.statistic,
                m.name,
                f(m.value),
                f(m.baseline),
                f(m.threshold),
                match m.pass {
                    Some(true) => "pass",
                    Some(false) => "FAIL",
                    None => "-",
                }
            );
        }
    }
    println!("overall: {}", s.verdict);
}

pub fn run(args: Args) -> Result<()> {
    let (real, real_path) = load(&args.real, args.max_maps)?;
    let (generated, gen_path) = load(&args.generated, args.max_maps)?;
    let opts = EvalOptions {
        box_size: args.box_size,
        transform: args.transform,
        convention: args.mf_convention,
        edges: args.edges.clone(),
        thresholds: args.thresholds.clone(),
        n_bins: args.bins,
        n_thresholds: args.n_thresholds,
    };
    let pb = crate::progress::bar(real.len() + generated.len(), "maps", "measuring");
    let ev = report::evaluate_sets(
        &real,
        &generated,
        SetInfo {
            label: args.label_real.clone(),
            path: Some(real_path),
            n_maps: 0,
            side: 0,
        },
        SetInfo {
            label: args.label_generated.clone(),
            path: Some(gen_path),
            n_maps: 0,
            side: 0,
        },
        &opts,
        &|| pb.inc(1),
    )
    .with_context(|| {
        format!(
            "evaluating {} against {}",
            args.generated.display(),
            args.real.display()
        )
    })?;
    pb.finish_and_clear();
    let html = report::write_evaluation_report(&args.out, &ev, &real, &generated)?;
    print_summary(&ev.summary);
    eprintln!(
        "wrote {} (and evaluation.json, summary.json, PNGs beside it)",
        html.display()
    );
    Ok(())
}
