//! `astrodiff report RUN_DIR`: regenerates the figures and `report.html` of a run folder from
//! its stored artifacts, without measuring or sampling again.
//!
//! * A `demo` run folder (`run.json`): one section per evaluated sample set (its
//!   `evaluation.json`, the samples `.npy` and the held-out `.npy` for the map grids), the
//!   training curve from the metrics log, sampler timings, seeds and versions.
//! * An `evaluate` output folder (`evaluation.json` only): the same single-section report that
//!   `evaluate` wrote; the grids are redrawn when the two recorded `.npy` files still exist.

use anyhow::{bail, Result};
use evaluation::{self as report, Evaluation, RunRecord, RunSet};
use ndarray::Array2;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run folder (with run.json, e.g. runs/demo) or an `evaluate` output folder (evaluation.json).
    pub run_dir: PathBuf,
}

fn maps_if_present(recorded: Option<&str>, base: &Path) -> Result<Vec<Array2<f64>>> {
    match recorded.and_then(|r| report::locate(r, base)) {
        Some(p) => Ok(super::evaluate::load(&p, Some(8))?.0),
        None => Ok(Vec::new()),
    }
}

/// Regenerates `dir/report.html` (and its PNGs) for a run folder holding `run.json`.
pub fn regenerate_run(dir: &Path) -> Result<PathBuf> {
    let run: RunRecord = report::read_json(&dir.join("run.json"))?;
    if run.schema != report::RUN_SCHEMA {
        bail!(
            "{}: schema '{}' is not {}",
            dir.join("run.json").display(),
            run.schema,
            report::RUN_SCHEMA
        );
    }
    let reference = maps_if_present(run.reference.as_deref(), dir)?;
    let mut loaded: Vec<(usize, Evaluation, Vec<Array2<f64>>)> = Vec::new();
    for (i, s) in run.samples.iter().enumerate() {
        let Some(ev_dir) = &s.evaluation else {
            continue;
        };
        let ev: Evaluation = report::read_json(&dir.join(ev_dir).join("evaluation.json"))?;
        loaded.push((i, ev, maps_if_present(Some(&s.file), dir)?));
    }
    let sets: Vec<RunSet> = loaded
        .iter()
        .map(|(i, ev, g)| RunSet {
            sample: *i,
            evaluation: ev,
            generated: g,
        })
        .collect();
    Ok(report::write_run_report(
        dir,
        &run,
        &reference,
        &sets,
        report::LossCurve::FromLog,
    )?)
}

/// Regenerates the report of an `evaluate` output folder.
pub fn regenerate_evaluation(dir: &Path) -> Result<PathBuf> {
    let ev: Evaluation = report::read_json(&dir.join("evaluation.json"))?;
    if ev.schema != report::EVALUATION_SCHEMA {
        bail!(
            "{}: schema '{}' is not {}",
            dir.join("evaluation.json").display(),
            ev.schema,
            report::EVALUATION_SCHEMA
        );
    }
    let real = maps_if_present(ev.real.path.as_deref(), dir)?;
    let generated = maps_if_present(ev.generated.path.as_deref(), dir)?;
    Ok(report::write_evaluation_report(
        dir, &ev, &real, &generated,
    )?)
}

pub fn run(args: Args) -> Result<()> {
    let dir = &args.run_dir;
    if !dir.is_dir() {
        bail!("{}: not a folder", dir.display());
    }
    let html = if dir.join("run.json").exists() {
        regenerate_run(dir)?
    } else if dir.join("evaluation.json").exists() {
        regenerate_evaluation(dir)?
    } else {
        bail!(
            "{}: neither run.json nor evaluation.json found; is this a run or evaluate folder?",
            dir.display()
        );
    };
    eprintln!("wrote {}", html.display());
    Ok(())
}
