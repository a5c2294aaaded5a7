//! The figures of an evaluation, drawn from an [`Evaluation`] alone (and the maps, for the
//! grids), so a report can be redrawn from the stored JSON and `.npy` files.

use crate::error::Result;
use crate::plot::{self, Series};
use crate::sets::{transformed, Evaluation};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use stats::ensemble::{Band, Ensemble};
use stats::Transform;
use std::path::Path;

fn series(label: String, x: Vec<f64>, b: &Band) -> Series {
    Series {
        label,
        x,
        mean: b.mean.clone(),
        std: Some(b.std.clone()),
        p05: Some(b.p05.clone()),
        p95: Some(b.p95.clone()),
    }
}

fn centres(edges: &[f64]) -> Vec<f64> {
    edges.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect()
}

/// One figure of the report: file name (beside the HTML) and caption.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub file: String,
    pub caption: String,
}

pub fn value_label(t: Transform) -> &'static str {
    match t {
        Transform::Identity => "field value",
        Transform::Log10 => "log10(field)",
        Transform::Overdensity => "δ = ρ/ρ̄ − 1",
    }
}

/// Draws the evaluation's figures into `dir` as `<prefix>grid_real.png`, `<prefix>grid_generated.png`,
/// `<prefix>pk.png`, `<prefix>pdf.png`, `<prefix>minkowski.png`. `real`/`generated` are the raw maps
/// for the grids (up to `n_grid` each, same colour scale); pass empty slices to skip the grids.
pub fn write_figures(
    dir: &Path,
    prefix: &str,
    ev: &Evaluation,
    real: &[Array2<f64>],
    generated: &[Array2<f64>],
    n_grid: usize,
) -> Result<Vec<Figure>> {
    let mut figs = Vec::new();
    let t = ev.config.transform;
    let lr = format!("{} (n={})", ev.real.label, ev.real.n_maps);
    let lg = format!("{} (n={})", ev.generated.label, ev.generated.n_maps);
    if !real.is_empty() && !generated.is_empty() {
        let gr = transformed(&real[..real.len().min(n_grid)], t, &ev.real.label)?;
        let gg = transformed(
            &generated[..generated.len().min(n_grid)],
            t,
            &ev.generated.label,
        )?;
        let views: Vec<ArrayView2<f64>> = gr.iter().chain(&gg).map(|m| m.view()).collect();
        let (vmin, vmax) = plot::robust_range(views.iter(), 0.005, 0.995);
        let n_cols = n_grid.clamp(1, 8);
        for (name, set, label) in [("grid_real", &gr, &lr), ("grid_generated", &gg, &lg)] {
            let file = format!("{prefix}{name}.png");
            let v: Vec<ArrayView2<f64>> = set.iter().map(|m| m.view()).collect();
            plot::plot_map_grid(
                &dir.join(&file),
                &v,
                n_cols,
                vmin,
                vmax,
                value_label(t),
                label,
            )?;
            figs.push(Figure {
                file,
                caption: format!(
                    "{label}: first {} maps, shared colour scale [{vmin:.3}, {vmax:.3}]",
                    v.len()
                ),
            });
        }
    }
    let k = ev.real_ensemble.power_spectrum.k.clone();
    // The Gaussian null as a mean line without bands, so the two sets' bands stay readable.
    let null = ev.gaussian_null.as_ref();
    let ln = null.map(|n| format!("Gaussian null (n={})", n.n_fields));
    let line = |label: &str, x: &[f64], b: &Band| Series {
        label: label.into(),
        x: x.to_vec(),
        mean: b.mean.clone(),
        std: None,
        p05: None,
        p95: None,
    };
    let mut pk = vec![
        series(lr.clone(), k.clone(), &ev.real_ensemble.power_spectrum.pk),
        series(
            lg.clone(),
            k.clone(),
            &ev.generated_ensemble.power_spectrum.pk,
        ),
    ];
    if let (Some(n), Some(l)) = (null, &ln) {
        pk.push(line(l, &k, &n.ensemble.power_spectrum.pk));
    }
    let file = format!("{prefix}pk.png");
    plot::plot_power_spectrum(
        &dir.join(&file),
        &pk,
        Some(0),
        Some(ev.k_nyquist / 2.0),
        &format!(
            "Power spectrum of {} (L = {} Mpc/h)",
            value_label(t),
            ev.config.box_size
        ),
    )?;
    figs.push(Figure {
        file,
        caption: "P(k): mean (line), ±1σ (dark band), 5–95% (light band); lower panel: ratio to the real mean, \
                  with the real set's scatter shaded. Vertical line: k_Nyq/2, the limit of the ratio test."
            .into(),
    });
    let x = centres(&ev.real_ensemble.histogram.edges);
    let mut pdf = vec![
        series(lr.clone(), x.clone(), &ev.real_ensemble.histogram.pdf),
        series(lg.clone(), x.clone(), &ev.generated_ensemble.histogram.pdf),
    ];
    if let (Some(n), Some(l)) = (null, &ln) {
        pdf.push(line(l, &x, &n.ensemble.histogram.pdf));
    }
    let file = format!("{prefix}pdf.png");
    plot::plot_pdf(&dir.join(&file), &pdf, value_label(t), true, "Pixel PDF")?;
    figs.push(Figure {
        file,
        caption:
            "Pixel PDF (counts / (all pixels × bin width)), per-map mean with bands, log scale."
                .into(),
    });
    let th = ev.real_ensemble.minkowski.thresholds.clone();
    let mf = |e: &Ensemble, l: &str| {
        [
            series(l.into(), th.clone(), &e.minkowski.v0),
            series(l.into(), th.clone(), &e.minkowski.v1),
            series(l.into(), th.clone(), &e.minkowski.v2),
        ]
    };
    let [r0, r1, r2] = mf(&ev.real_ensemble, &lr);
    let [g0, g1, g2] = mf(&ev.generated_ensemble, &lg);
    let file = format!("{prefix}minkowski.png");
    let (mut a, mut b, mut c) = (vec![r0, g0], vec![r1, g1], vec![r2, g2]);
    if let (Some(n), Some(l)) = (null, &ln) {
        let m = &n.ensemble.minkowski;
        a.push(line(l, &th, &m.v0));
        b.push(line(l, &th, &m.v1));
        c.push(line(l, &th, &m.v2));
    }
    plot::plot_minkowski(
        &dir.join(&file),
        [&a, &b, &c],
        &format!("threshold ({})", value_label(t)),
        &format!(
            "Minkowski functionals ({} convention)",
            ev.config.convention
        ),
    )?;
    figs.push(Figure {
        file,
        caption:
            "Minkowski functionals of the excursion sets {x > u} versus threshold u, with bands."
                .into(),
    });
    Ok(figs)
}
