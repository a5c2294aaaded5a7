//! `astrodiff report RUN_DIR`: regenerates the figures and `report.html` of a run folder from
//! its stored artifacts, without measuring or sampling again.
//!
//! * A `demo` run folder (`run.json`): one section per evaluated sample set (its
//!   `evaluation.json`, the samples `.npy` and the held-out `.npy` for the map grids), the
//!   training curve from the metrics log, sampler timings, seeds and versions.
//! * An `evaluate` output folder (`evaluation.json` only): the same single-section report that
//!   `evaluate` wrote; the grids are redrawn when the two recorded `.npy` files still exist.

use anyhow::{bail, Context, Result};
use evaluation::{self as report, Evaluation, Figure, ReportInput, RunRecord, Section};
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
    let mut evals: Vec<(Evaluation, Vec<Figure>, usize)> = Vec::new();
    for (i, s) in run.samples.iter().enumerate() {
        let Some(ev_dir) = &s.evaluation else {
            continue;
        };
        let ev_path = dir.join(ev_dir).join("evaluation.json");
        let ev: Evaluation = report::read_json(&ev_path)?;
        let generated = maps_if_present(Some(&s.file), dir)?;
        let prefix = format!("{}_", s.sampler);
        let figs = report::write_figures(dir, &prefix, &ev, &reference, &generated, 8)
            .with_context(|| format!("drawing figures of {}", ev_path.display()))?;
        evals.push((ev, figs, i));
    }
    let training_curve = match &run.training {
        Some(t) => {
            let log = dir.join(&t.metrics_log);
            let (steps, losses) = if log.exists() {
                report::read_loss_log(&log)?
            } else {
                (vec![], vec![])
            };
            if steps.is_empty() {
                None
            } else {
                let file = "training_loss.png".to_string();
                evaluation::plot::plot_training_curve(
                    &dir.join(&file),
                    &steps,
                    &losses,
                    "Training loss",
                )?;
                Some(Figure {
                    file,
                    caption: format!(
                        "Training loss per logged step ({}), raw and running mean.",
                        t.metrics_log
                    ),
                })
            }
        }
        None => None,
    };
    let sections = evals
        .iter()
        .map(|(ev, figs, i)| {
            let s = &run.samples[*i];
            Section {
                title: format!(
                    "{} sampler, {} steps: generated vs held-out",
                    s.sampler, s.steps
                ),
                evaluation: ev,
                figures: figs.clone(),
                sampling: Some(s),
            }
        })
        .collect();
    Ok(report::render_html(
        dir,
        &ReportInput {
            title: format!("astrodiff run '{}'", run.name),
            run: Some(&run),
            sections,
            training_curve,
        },
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
