//! `astrodiff evaluate REAL GENERATED --out DIR`: judges any set of maps against a reference set
//! (e.g. generated samples against held-out simulations) and writes `evaluation.json` (every
//! ensemble and comparison), `summary.json` (the verdict table), the PNG figures and a
//! self-contained `report.html` into DIR.
//!
//! Statistics are the `stats` crate's, measured exactly as `astrodiff compare` does (same default
//! edges and thresholds); on top come the real-vs-real split baseline and the verdicts
//! (see docs/report.md for the rule).

use anyhow::{bail, Context, Result};
use evaluation::{self as report, EvalOptions, SetInfo};
use ndarray::Array2;
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
    #[command(flatten)]
    pub measure: super::stats::MeasureArgs,
    /// Use at most the first N maps of each file (everything is held in memory as f64).
    #[arg(long)]
    pub max_maps: Option<usize>,
    /// Label of the reference set in the report.
    #[arg(long, default_value = "real")]
    pub label_real: String,
    /// Label of the judged set in the report.
    #[arg(long, default_value = "generated")]
    pub label_generated: String,
    /// The reference maps come in consecutive groups of N from one simulation (15 for CAMELS
    /// CMD stacks): the verdict's yardstick then counts simulations, not maps, and the
    /// real-vs-real halves are cut between simulations. 1 = independent maps.
    #[arg(long, default_value_t = 1)]
    pub maps_per_sim: usize,
    /// Maps the judged generator was trained on (e.g. 480 for the demo's 32 training
    /// simulations). A model of its training set inherits that set's sample variance, so the
    /// yardstick adds deff/N for it; 0 = not known, no such term.
    #[arg(long, default_value_t = 0)]
    pub train_maps: usize,
    /// Real-vs-real splits (at simulation boundaries) averaged for the baseline; 1 = only the
    /// contiguous split.
    #[arg(long, default_value_t = evaluation::verdict::BASELINE_SPLITS)]
    pub baseline_splits: usize,
    /// Seed of the random baseline splits (recorded in summary.json).
    #[arg(long, default_value_t = 0)]
    pub baseline_seed: u64,
    /// Fit the Gaussian null to these maps (e.g. the training set) instead of the reference set.
    #[arg(long)]
    pub null_from: Option<PathBuf>,
    /// Fields of the Gaussian null (default: as many as the judged set).
    #[arg(long)]
    pub null_fields: Option<usize>,
    /// Seed of the Gaussian null's fields.
    #[arg(long, default_value_t = 0)]
    pub null_seed: u64,
    /// Judge no Gaussian null beside the set.
    #[arg(long, conflicts_with_all = ["null_from", "null_fields"])]
    pub no_null: bool,
}

/// Loads up to `max` maps, with the file's absolute path for the record.
pub(crate) fn load(path: &Path, max: Option<usize>) -> Result<(Vec<Array2<f64>>, String)> {
    if max == Some(0) {
        bail!("--max-maps must be at least 1");
    }
    let maps = report::load_maps(path, max)?;
    Ok((maps, SetInfo::absolute_path(path)))
}

/// The Gaussian null of `evaluate`'s flags (loaded maps included).
fn null_options(args: &Args) -> Result<Option<report::NullOptions>> {
    if args.no_null {
        return Ok(None);
    }
    let fit = match &args.null_from {
        Some(p) => {
            let (maps, _) = load(p, args.max_maps)?;
            let info = SetInfo::of_file(p, maps.len(), maps[0].nrows());
            Some((maps, info))
        }
        None => None,
    };
    Ok(Some(report::NullOptions {
        seed: args.null_seed,
        n_fields: args.null_fields,
        fit,
    }))
}

/// Plain-text summary table for the terminal, with the Gaussian null's values beside the
/// generated set's where it was judged.
pub(crate) fn print_summary(s: &evaluation::verdict::Summary, null: Option<&report::NullEval>) {
    let f = |x: Option<f64>| x.map(|v| format!("{v:.4}")).unwrap_or_else(|| "n/a".into());
    // Width of the longest statistic name ("skewness, kurtosis"), counted in characters.
    let w = s
        .rows
        .iter()
        .map(|r| r.statistic.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let mark = |p: Option<bool>| match p {
        Some(true) => "pass",
        Some(false) => "FAIL",
        None => "-",
    };
    println!(
        "{:<w$} {:<22} {:>12} {:>12} {:>12}  verdict{}",
        "stat",
        "metric",
        "generated",
        "real/real",
        "threshold",
        if null.is_some() {
            "   Gaussian null"
        } else {
            ""
        }
    );
    for r in &s.rows {
        let nr = null.and_then(|n| n.summary.row(&r.statistic));
        for m in &r.metrics {
            let nm = nr.and_then(|r| r.metric(&m.name));
            println!(
                "{:<w$} {:<22} {:>12} {:>12} {:>12}  {:<7}{}",
                r.statistic,
                m.name,
                f(m.value),
                f(m.baseline),
                f(m.threshold),
                mark(m.pass),
                nm.map(|n| format!(" {:>12} {}", f(n.value), mark(n.pass)))
                    .unwrap_or_default()
            );
        }
    }
    println!(
        "real/real: mean of {} split(s) at simulation boundaries (seed {}); training-set term: {}",
        s.baseline_splits,
        s.baseline_seed,
        match s.sizes.n_train {
            0 => "none (training maps not given)".to_string(),
            n => format!("{n} maps"),
        }
    );
    println!("overall: {}", s.verdict);
    if let Some(n) = null {
        println!(
            "Gaussian null ({} fields, fitted to {}): {}{}",
            n.n_fields,
            n.fitted_on.label,
            n.summary.verdict,
            if n.summary.pass == Some(true) {
                " - WARNING: the verdict cannot tell a Gaussian field with this P(k) from the real maps"
            } else {
                ""
            }
        );
    }
}

pub fn run(args: Args) -> Result<()> {
    let (real, real_path) = load(&args.real, args.max_maps)?;
    let (generated, gen_path) = load(&args.generated, args.max_maps)?;
    let opts = EvalOptions {
        box_size: args.measure.box_size,
        transform: args.measure.transform,
        convention: args.measure.mf_convention,
        edges: args.measure.edges.clone(),
        thresholds: args.measure.thresholds.clone(),
        n_bins: args.measure.bins,
        n_thresholds: args.measure.n_thresholds,
        null: null_options(&args)?,
        maps_per_sim: args.maps_per_sim,
        n_train: args.train_maps,
        baseline_splits: args.baseline_splits,
        baseline_seed: args.baseline_seed,
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
    print_summary(&ev.summary, ev.gaussian_null.as_ref());
    eprintln!(
        "wrote {} (and evaluation.json, summary.json, PNGs beside it)",
        html.display()
    );
    Ok(())
}
