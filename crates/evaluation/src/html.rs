//! The self-contained HTML report: one file with every PNG embedded as a base64 data URI and
//! inline CSS, so it opens in any browser with no other file.

use crate::error::{Context, Result};
use crate::figures::{value_label, write_figures, Figure};
use crate::records::write_json;
use crate::records::{RunRecord, SampleRecord};
use crate::sets::{Evaluation, NullEval};
use crate::verdict::Summary;
use base64::Engine;
use ndarray::Array2;
use std::path::{Path, PathBuf};

/// One evaluation section of the report.
pub struct Section<'a> {
    pub title: String,
    pub evaluation: &'a Evaluation,
    pub figures: Vec<Figure>,
    pub sampling: Option<&'a SampleRecord>,
}

/// The report's inputs.
pub struct ReportInput<'a> {
    pub title: String,
    pub run: Option<&'a RunRecord>,
    pub sections: Vec<Section<'a>>,
    pub training_curve: Option<Figure>,
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(crate) fn num(x: Option<f64>) -> String {
    match x {
        None => "—".into(),
        Some(0.0) => "0".into(),
        Some(v) if v.abs() >= 1e4 || v.abs() < 1e-3 => format!("{v:.3e}"),
        Some(v) => format!("{v:.4}"),
    }
}

fn metric_title(name: &str) -> &str {
    match name {
        "reduced_chi2" => "reduced χ²",
        "max_abs_ratio_minus_1" => "max |ratio − 1|, k ≤ k<sub>Nyq</sub>/2",
        "wasserstein1" => "Wasserstein-1 of pixel values",
        other => other,
    }
}

/// The summary table as HTML (one row per metric, statistic cells spanning their metrics), with
/// the Gaussian null's values and verdicts in two more columns when it was judged.
pub fn summary_table_html(s: &Summary, null: Option<&Summary>) -> String {
    let cls = |p: Option<bool>| match p {
        Some(true) => "pass",
        Some(false) => "fail",
        None => "none",
    };
    let split_head = match s.baseline_splits {
        1 => "real vs real (split)".to_string(),
        n => format!("real vs real (mean of {n} splits)"),
    };
    let mut h = format!(
        "<table class=\"summary\"><thead><tr><th>statistic</th><th>metric</th><th>generated vs real</th>\
         <th>{split_head}</th><th>threshold</th><th>verdict</th>",
    );
    if null.is_some() {
        h.push_str("<th>Gaussian null vs real</th><th>null verdict</th>");
    }
    h.push_str("</tr></thead><tbody>\n");
    for r in &s.rows {
        let nr = null.and_then(|n| n.row(&r.statistic));
        for (i, m) in r.metrics.iter().enumerate() {
            h.push_str("<tr>");
            if i == 0 {
                h.push_str(&format!(
                    "<td rowspan=\"{}\"><b>{}</b>{}</td>",
                    r.metrics.len(),
                    esc(&r.statistic),
                    if r.design_effect > 1.0 {
                        format!(
                            "<br><small title=\"design effect of the held-out set: variance inflation of its mean from maps of one simulation being correlated\">deff {:.1}</small>",
                            r.design_effect
                        )
                    } else {
                        String::new()
                    }
                ));
            }
            h.push_str(&format!(
                "<td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>≤ {}</td>",
                metric_title(&m.name),
                cls(m.pass),
                num(m.value),
                num(m.baseline),
                num(m.threshold)
            ));
            if i == 0 {
                h.push_str(&format!(
                    "<td rowspan=\"{}\" class=\"{}\">{}</td>",
                    r.metrics.len(),
                    cls(r.pass),
                    esc(&r.verdict)
                ));
            }
            if null.is_some() {
                let nm = nr.and_then(|r| r.metric(&m.name));
                h.push_str(&format!(
                    "<td class=\"{}\">{}</td>",
                    cls(nm.and_then(|m| m.pass)),
                    num(nm.and_then(|m| m.value))
                ));
                if i == 0 {
                    h.push_str(&format!(
                        "<td rowspan=\"{}\" class=\"{}\">{}</td>",
                        r.metrics.len(),
                        cls(nr.and_then(|r| r.pass)),
                        esc(nr.map_or("—", |r| r.verdict.as_str()))
                    ));
                }
            }
            h.push_str("</tr>\n");
        }
    }
    h.push_str("</tbody></table>\n");
    h
}

/// The paragraph on the Gaussian null: what it is, and whether the verdict told it apart.
fn null_html(n: &NullEval) -> String {
    let (cls, says) = match n.summary.pass {
        Some(false) => (
            "pass",
            "the verdict tells it from the real maps, as it should",
        ),
        Some(true) => (
            "fail",
            "<b>the verdict cannot tell it from the real maps</b>: a pass of the generated set \
             then says no more than that its P(k) is right",
        ),
        None => ("none", "no verdict"),
    };
    format!(
        "<p><span class=\"verdict {cls}\">Gaussian null: <b>{}</b></span> {} fields of a Gaussian \
         random field with the mean and 2D power of {} ({} maps), seed {}: {says}.</p>\n",
        esc(&n.summary.verdict),
        n.n_fields,
        esc(&n.fitted_on.label),
        n.fitted_on.n_maps,
        n.seed
    )
}

pub(crate) fn img(dir: &Path, f: &Figure) -> Result<String> {
    let p = dir.join(&f.file);
    let bytes = std::fs::read(&p).with_context(|| format!("reading figure {}", p.display()))?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    Ok(format!(
        "<figure><img alt=\"{}\" src=\"data:image/png;base64,{b64}\"><figcaption>{}</figcaption></figure>\n",
        esc(&f.file),
        esc(&f.caption)
    ))
}

pub(crate) const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1300px;margin:2em auto;padding:0 1em;color:#222}\
h1{font-size:1.7em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:.3em .7em;text-align:left;vertical-align:top}\
th{background:#f0f0f0}td.pass{background:#dff3dc}td.fail{background:#f8d7d5}td.none{background:#eee}\
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}figcaption{font-size:.9em;color:#555}\
.verdict{font-size:1.2em;padding:.5em .8em;display:inline-block;border-radius:4px}.verdict.pass{background:#dff3dc}\
.verdict.fail{background:#f8d7d5}.verdict.none{background:#eee}code,pre{background:#f6f6f6;padding:.1em .3em}\
pre{padding:.6em;overflow-x:auto;font-size:.85em}.rule{font-size:.9em;color:#444;max-width:1000px}";

/// Renders the report to `dir/report.html` (figures are read from `dir` and embedded).
pub fn render_html(dir: &Path, inp: &ReportInput<'_>) -> Result<PathBuf> {
    let mut h = String::new();
    h.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head><body>\n",
        esc(&inp.title)
    ));
    h.push_str(&format!("<h1>{}</h1>\n", esc(&inp.title)));
    for sec in &inp.sections {
        let ev = sec.evaluation;
        let s = &ev.summary;
        let cls = match s.pass {
            Some(true) => "pass",
            Some(false) => "fail",
            None => "none",
        };
        h.push_str(&format!("<h2>{}</h2>\n", esc(&sec.title)));
        h.push_str(&format!(
            "<p><span class=\"verdict {cls}\">Overall: <b>{}</b></span></p>\n<p>{} ({} maps of {}², from <code>{}</code>) \
             against {} ({} maps, from <code>{}</code>); statistics on {} with L = {} Mpc/h, MF convention {}.</p>\n",
            esc(&s.verdict),
            esc(&ev.generated.label),
            ev.generated.n_maps,
            ev.generated.side,
            esc(ev.generated.path.as_deref().unwrap_or("memory")),
            esc(&ev.real.label),
            ev.real.n_maps,
            esc(ev.real.path.as_deref().unwrap_or("memory")),
            value_label(ev.config.transform),
            ev.config.box_size,
            ev.config.convention
        ));
        if let Some(sr) = sec.sampling {
            h.push_str(&format!(
                "<p>Sampler <b>{}</b>, {} steps, {} samples, seed {}: {:.1} s in all, <b>{:.2} s per sample</b>.{}</p>\n",
                esc(&sr.sampler),
                sr.steps,
                sr.n,
                sr.seed,
                sr.wall_s,
                sr.wall_per_sample_s,
                match sr.clamped_pixels {
                    Some(c) if c > 0 => format!(
                        " {c} of {} pixels ({:.2} %) fell outside the training range and were clamped to it.",
                        sr.n * ev.generated.side * ev.generated.side,
                        100.0 * c as f64 / (sr.n * ev.generated.side * ev.generated.side) as f64
                    ),
                    _ => String::new(),
                }
            ));
        }
        if let Some(n) = &ev.gaussian_null {
            h.push_str(&null_html(n));
        }
        h.push_str(&summary_table_html(
            s,
            ev.gaussian_null.as_ref().map(|n| &n.summary),
        ));
        h.push_str(&format!(
            "<p class=\"rule\"><b>Verdict rule.</b> {} Pixel KS distance: {} (baseline {}).</p>\n",
            esc(&s.rule),
            num(Some(ev.pixel_distance.ks)),
            num(Some(ev.baseline_pixel_distance.ks))
        ));
        for f in &sec.figures {
            h.push_str(&img(dir, f)?);
        }
    }
    if let Some(run) = inp.run {
        if let Some(t) = &run.training {
            h.push_str("<h2>Training</h2>\n");
            h.push_str(&format!(
                "<p>Preset <b>{}</b>{}, {} optimisation steps in {:.0} s; checkpoint <code>{}</code>.</p>\n",
                esc(&t.preset),
                t.n_params.map(|n| format!(" ({n} parameters)")).unwrap_or_default(),
                t.steps,
                t.wall_s,
                esc(&t.checkpoint)
            ));
        }
    }
    if let Some(f) = &inp.training_curve {
        h.push_str(&img(dir, f)?);
    }
    if let Some(run) = inp.run {
        if !run.samples.is_empty() {
            h.push_str("<h2>Sampling</h2>\n<table><thead><tr><th>sampler</th><th>steps</th><th>samples</th><th>seed</th><th>wall time</th><th>per sample</th><th>file</th></tr></thead><tbody>\n");
            for s in &run.samples {
                h.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1} s</td><td>{:.2} s</td><td><code>{}</code></td></tr>\n",
                    esc(&s.sampler),
                    s.steps,
                    s.n,
                    s.seed,
                    s.wall_s,
                    s.wall_per_sample_s,
                    esc(&s.file)
                ));
            }
            h.push_str("</tbody></table>\n");
        }
        h.push_str("<h2>Reproduction</h2>\n<table><tbody>\n");
        h.push_str(&format!(
            "<tr><th>command</th><td><code>{}</code></td></tr>\n",
            esc(&run.command)
        ));
        for (k, v) in &run.seeds {
            h.push_str(&format!("<tr><th>seed: {}</th><td>{v}</td></tr>\n", esc(k)));
        }
        for (k, v) in &run.versions {
            h.push_str(&format!(
                "<tr><th>version: {}</th><td>{}</td></tr>\n",
                esc(k),
                esc(v)
            ));
        }
        for (k, v) in &run.timings {
            h.push_str(&format!(
                "<tr><th>wall time: {}</th><td>{v:.1} s</td></tr>\n",
                esc(k)
            ));
        }
        h.push_str("</tbody></table>\n");
        let cfg = serde_json::to_string_pretty(&run.config).unwrap_or_default();
        h.push_str(&format!(
            "<details><summary>Resolved configuration</summary><pre>{}</pre></details>\n",
            esc(&cfg)
        ));
        if let Some(d) = &run.dataset {
            let d = serde_json::to_string_pretty(d).unwrap_or_default();
            h.push_str(&format!(
                "<details><summary>Dataset</summary><pre>{}</pre></details>\n",
                esc(&d)
            ));
        }
    } else {
        h.push_str(&format!(
            "<h2>Reproduction</h2><table><tbody><tr><th>version: astrodiff</th><td>{}</td></tr></tbody></table>\n",
            env!("CARGO_PKG_VERSION")
        ));
    }
    h.push_str("</body></html>\n");
    let path = dir.join("report.html");
    crate::plot::write_atomic(&path, h.as_bytes())?;
    Ok(path)
}
/// Writes `evaluation.json`, `summary.json`, the figures and `report.html` of a plain
/// two-set evaluation into `dir`.
pub fn write_evaluation_report(
    dir: &Path,
    ev: &Evaluation,
    real: &[Array2<f64>],
    generated: &[Array2<f64>],
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_json(&dir.join("evaluation.json"), ev)?;
    write_json(&dir.join("summary.json"), &ev.summary)?;
    let figures = write_figures(dir, "", ev, real, generated, 8)?;
    let title = format!(
        "astrodiff evaluation: {} vs {}",
        ev.generated.label, ev.real.label
    );
    render_html(
        dir,
        &ReportInput {
            title,
            run: None,
            sections: vec![Section {
                title: "Summary".into(),
                evaluation: ev,
                figures,
                sampling: None,
            }],
            training_curve: None,
        },
    )
}

/// One evaluated sample set of a run: the index of its [`SampleRecord`] in `run.samples`, its
/// evaluation and (up to 8 of) its maps for the grid figures.
pub struct RunSet<'a> {
    pub sample: usize,
    pub evaluation: &'a Evaluation,
    pub generated: &'a [Array2<f64>],
}

/// The training loss per logged step, for the report's curve.
pub enum LossCurve<'a> {
    /// Steps and losses in memory (what the caller collected while training).
    Values(&'a [f64], &'a [f64]),
    /// Read from the metrics log the run record names (a report regenerated from disk, or a run
    /// resumed over several sessions).
    FromLog,
}

/// Draws the figures of a run folder (per set, prefixed by its sampler, and the training loss)
/// and writes `dir/report.html`; returns its path.
pub fn write_run_report(
    dir: &Path,
    run: &RunRecord,
    reference: &[Array2<f64>],
    sets: &[RunSet<'_>],
    loss: LossCurve<'_>,
) -> Result<PathBuf> {
    let mut figs: Vec<Vec<Figure>> = Vec::with_capacity(sets.len());
    for set in sets {
        let s = run
            .samples
            .get(set.sample)
            .with_context(|| format!("sample set {} is not in the run record", set.sample))?;
        let prefix = format!("{}_", s.sampler);
        let n_ref = reference.len().min(8);
        let n_gen = set.generated.len().min(8);
        figs.push(
            write_figures(
                dir,
                &prefix,
                set.evaluation,
                &reference[..n_ref],
                &set.generated[..n_gen],
                8,
            )
            .with_context(|| format!("drawing the figures of {}", s.file))?,
        );
    }
    let training_curve = match &run.training {
        Some(t) => {
            let log = dir.join(&t.metrics_log);
            let (steps, losses) = match loss {
                LossCurve::Values(s, l) => (s.to_vec(), l.to_vec()),
                LossCurve::FromLog if log.exists() => crate::records::read_loss_log(&log)?,
                LossCurve::FromLog => (vec![], vec![]),
            };
            if steps.is_empty() {
                None
            } else {
                let file = "training_loss.png".to_string();
                crate::plot::plot_training_curve(
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
    let sections = sets
        .iter()
        .zip(figs)
        .map(|(set, figures)| {
            let s = &run.samples[set.sample];
            Section {
                title: format!(
                    "{} sampler, {} steps: generated vs held-out",
                    s.sampler, s.steps
                ),
                evaluation: set.evaluation,
                figures,
                sampling: Some(s),
            }
        })
        .collect();
    render_html(
        dir,
        &ReportInput {
            title: format!("astrodiff run '{}'", run.name),
            run: Some(run),
            sections,
            training_curve,
        },
    )
}
