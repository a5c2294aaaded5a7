//! The emulator's HTML report (issue 13): one self-contained file (figures embedded, as
//! [`crate::html`]) with the per-simulation comparisons of [`crate::emulator`], the
//! generated/true P(k) ratio over the parameter plane, and the response ∂⟨ln P(k)⟩/∂θ of
//! [`crate::response`] when measured.
//!
//! The plane figure places every held-out simulation at its first two parameters and colours
//! it, per k band (the bins up to k_Nyq cut in thirds: low, middle, high k), by the band's mean
//! ln(generated/true P(k)) on a symmetric diverging scale (white: as the simulation), and in a
//! last panel by log10 of its reduced P(k) χ².

use crate::emulator::SimulationComparison;
use crate::error::Result;
use crate::figures::Figure;
use crate::html::{esc, img, num, CSS};
use crate::plot::{line_chart, plane_panels, LineChart, PlanePanel, Series};
use crate::response::Response;
use std::path::{Path, PathBuf};

/// One held-out simulation of the report.
pub struct ReportSimulation<'a> {
    pub simulation: usize,
    /// θ in the order of [`EmulatorReport::names`].
    pub theta: Vec<f64>,
    pub pk: &'a SimulationComparison,
    pub pdf: &'a SimulationComparison,
    pub mf: &'a SimulationComparison,
    pub clamped: u64,
}

/// One parameter's response, simulated and emulated.
pub struct ReportResponse<'a> {
    pub name: &'a str,
    pub fiducial: f64,
    pub n_values: usize,
    pub simulated: &'a Response,
    pub emulated: &'a Response,
}

/// What the report shows.
pub struct EmulatorReport<'a> {
    pub title: String,
    /// One line each: the model, the data, the sampler, the command.
    pub notes: Vec<String>,
    pub names: Vec<String>,
    /// Bin centres, h/Mpc.
    pub k: &'a [f64],
    pub simulations: Vec<ReportSimulation<'a>>,
    /// Geometric mean over simulations of the generated/true P(k), per bin.
    pub mean_ratio: &'a [f64],
    pub medians: [(&'a str, f64); 6],
    pub responses: Vec<ReportResponse<'a>>,
}

/// The bins of each third of `nb` (low, middle, high k).
fn bands(nb: usize) -> [std::ops::Range<usize>; 3] {
    let (a, b) = (nb / 3, 2 * nb / 3);
    [0..a.max(1), a.max(1)..b.max(2), b.max(2)..nb]
}

/// The plane figure's panels: per k band the mean ln ratio of each simulation, then log10 χ².
fn plane_values(r: &EmulatorReport<'_>) -> Vec<PlanePanel> {
    let mut panels: Vec<PlanePanel> = bands(r.k.len())
        .iter()
        .zip(["low", "middle", "high"])
        .filter(|(b, _)| !b.is_empty())
        .map(|(b, which)| PlanePanel {
            title: format!(
                "ln(gen/true P), {which} k: {:.2}–{:.2} h/Mpc",
                r.k[b.start],
                r.k[b.end - 1]
            ),
            values: r
                .simulations
                .iter()
                .map(|s| s.pk.ratio[b.clone()].iter().map(|x| x.ln()).sum::<f64>() / b.len() as f64)
                .collect(),
            diverging: true,
        })
        .collect();
    panels.push(PlanePanel {
        title: "log10 reduced χ² of ln P(k)".into(),
        values: r
            .simulations
            .iter()
            .map(|s| s.pk.reduced_chi2.log10())
            .collect(),
        diverging: false,
    });
    panels
}

/// Writes the figures and `dir/report.html`; returns the report's path.
pub fn write_emulator_report(dir: &Path, r: &EmulatorReport<'_>) -> Result<PathBuf> {
    let mut figures = Vec::new();
    if r.names.len() >= 2 && !r.simulations.is_empty() {
        let points: Vec<(f64, f64)> = r
            .simulations
            .iter()
            .map(|s| (s.theta[0], s.theta[1]))
            .collect();
        let panels = plane_values(r);
        let file = "emulator_plane.png";
        plane_panels(
            &dir.join(file),
            "The emulator over the parameter plane: one point per held-out simulation",
            (&r.names[0], &r.names[1]),
            &points,
            &panels,
        )?;
        figures.push(Figure {
            file: file.into(),
            caption: "Per held-out simulation at its (first two) parameters: the mean ln of the \
                      generated/true P(k) in each third of the bins up to k_Nyq (white: as the \
                      simulation; red: too much power), and log10 of its reduced χ² (≈ 0 for a \
                      perfect emulator)."
                .into(),
        });
    }
    let file = "emulator_ratio.png";
    line_chart(
        &dir.join(file),
        &LineChart {
            title: "Generated/true P(k), geometric mean over the held-out simulations",
            x_label: "k [h/Mpc]",
            y_label: "P_gen / P_true",
            log_x: true,
            guide: Some(1.0),
            ..Default::default()
        },
        &[Series::line(
            "emulator",
            r.k.to_vec(),
            r.mean_ratio.to_vec(),
        )],
    )?;
    figures.push(Figure {
        file: file.into(),
        caption: "exp of the mean over simulations of ln(P_gen/P_true) per bin.".into(),
    });
    for p in &r.responses {
        let file = format!(
            "response_{}.png",
            p.name.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        );
        let title = format!(
            "∂⟨ln P(k)⟩/∂{} at {} = {}",
            p.name, p.name, p.fiducial as f32
        );
        line_chart(
            &dir.join(&file),
            &LineChart {
                title: &title,
                x_label: "k [h/Mpc]",
                y_label: "d ln P / dθ",
                log_x: true,
                guide: Some(0.0),
                ..Default::default()
            },
            &[
                Series {
                    std: Some(p.simulated.error.clone()),
                    ..Series::line(
                        "simulations (1P) ± error",
                        r.k.to_vec(),
                        p.simulated.slope.clone(),
                    )
                },
                Series {
                    std: Some(p.emulated.error.clone()),
                    ..Series::line("emulator ± error", r.k.to_vec(), p.emulated.slope.clone())
                },
            ],
        )?;
        figures.push(Figure {
            file,
            caption: format!(
                "Weighted quadratic fit in {} over {} values of the one-parameter series, the \
                 others at their fiducial values; shaded: ± the slope's error, which assumes \
                 independent values (an upper bound when the series shares its seed).",
                p.name, p.n_values
            ),
        });
    }

    let mut h = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>{CSS}</style></head><body>\n<h1>{t}</h1>\n",
        t = esc(&r.title)
    );
    for n in &r.notes {
        h.push_str(&format!("<p>{}</p>\n", esc(n)));
    }
    h.push_str("<h2>Medians over the held-out simulations</h2>\n<table><tbody>\n");
    for (name, v) in &r.medians {
        h.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>\n",
            esc(name),
            num(Some(*v))
        ));
    }
    h.push_str(
        "</tbody></table>\n<p class=\"rule\">Reduced χ² of the mean, per simulation: (1/n_b) Σ_b (m_G − m_R)² / \
         (s²_R/n_R + s²_G/n_G) over its bins, ≈ 1 when the generated maps follow the simulation's \
         distribution. P(k) of δ = ρ/ρ̄ − 1 in Pylians' bins up to k_Nyq; PDF and Minkowski functionals of \
         log10 ρ at levels from each simulation's own maps. LOO: leave-one-out χ² medians \
         (true–true, generated–true, generated–generated).</p>\n",
    );
    for f in &figures {
        h.push_str(&img(dir, f)?);
    }
    h.push_str("<h2>Per simulation</h2>\n<table><thead><tr><th>sim</th>");
    for n in &r.names {
        h.push_str(&format!("<th>{}</th>", esc(n)));
    }
    h.push_str("<th>P(k) χ²</th><th>LOO t–t</th><th>LOO g–t</th><th>LOO g–g</th><th>PDF χ²</th><th>MF χ²</th><th>clamped px</th></tr></thead><tbody>\n");
    for s in &r.simulations {
        h.push_str(&format!("<tr><td>{}</td>", s.simulation));
        for t in &s.theta {
            h.push_str(&format!("<td>{t:.4}</td>"));
        }
        for v in [
            s.pk.reduced_chi2,
            s.pk.median_true_true,
            s.pk.median_generated_true,
            s.pk.median_generated_generated,
            s.pdf.reduced_chi2,
            s.mf.reduced_chi2,
        ] {
            h.push_str(&format!("<td>{}</td>", num(Some(v))));
        }
        h.push_str(&format!("<td>{}</td></tr>\n", s.clamped));
    }
    h.push_str("</tbody></table>\n");
    for p in &r.responses {
        h.push_str(&format!(
            "<h2>Response to {} at {}</h2>\n<table><thead><tr><th>k [h/Mpc]</th><th>simulations</th><th>emulator</th><th>ratio</th></tr></thead><tbody>\n",
            esc(p.name),
            p.fiducial as f32
        ));
        for (b, k) in r.k.iter().enumerate() {
            h.push_str(&format!(
                "<tr><td>{k:.3}</td><td>{:.3} ± {:.3}</td><td>{:.3} ± {:.3}</td><td>{:.3}</td></tr>\n",
                p.simulated.slope[b],
                p.simulated.error[b],
                p.emulated.slope[b],
                p.emulated.error[b],
                p.emulated.slope[b] / p.simulated.slope[b]
            ));
        }
        h.push_str("</tbody></table>\n");
    }
    h.push_str("</body></html>\n");
    let path = dir.join("report.html");
    crate::plot::write_atomic(&path, h.as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::compare_simulation;

    #[test]
    fn the_report_embeds_the_plane_ratio_and_response_figures() {
        // 4 simulations of 3 maps: the generated rows are the real ones shifted by +0.1 in ln P
        // in the high-k third, so only the high-k panel is coloured.
        let dir = tempfile::tempdir().unwrap();
        let k: Vec<f64> = (1..=9).map(|i| 0.25 * i as f64).collect();
        let real: Vec<Vec<f64>> = (0..3)
            .map(|j| k.iter().map(|x| -x + 0.01 * j as f64).collect())
            .collect();
        let gen: Vec<Vec<f64>> = real
            .iter()
            .map(|r| {
                r.iter()
                    .enumerate()
                    .map(|(b, v)| v + if b >= 6 { 0.1 } else { 0.0 })
                    .collect()
            })
            .collect();
        let cmp = compare_simulation(&real, &gen).unwrap();
        assert!((cmp.ratio[8] - 0.1f64.exp()).abs() < 1e-12 && (cmp.ratio[0] - 1.0).abs() < 1e-12);
        let resp = Response {
            slope: vec![1.0; 9],
            error: vec![0.1; 9],
        };
        let sims: Vec<ReportSimulation> = (0..4)
            .map(|s| ReportSimulation {
                simulation: s,
                theta: vec![0.1 + 0.1 * s as f64, 0.9 - 0.05 * s as f64],
                pk: &cmp,
                pdf: &cmp,
                mf: &cmp,
                clamped: 0,
            })
            .collect();
        let report = EmulatorReport {
            title: "test <emulator>".into(),
            notes: vec!["model: tiny".into()],
            names: vec!["Om".into(), "sigma8".into()],
            k: &k,
            simulations: sims,
            mean_ratio: &cmp.ratio,
            medians: [
                ("P(k) χ²", 1.0),
                ("PDF χ²", 1.0),
                ("MF χ²", 1.0),
                ("a", 0.0),
                ("b", 0.0),
                ("c", 0.0),
            ],
            responses: vec![ReportResponse {
                name: "Om",
                fiducial: 0.3,
                n_values: 11,
                simulated: &resp,
                emulated: &resp,
            }],
        };
        let path = write_emulator_report(dir.path(), &report).unwrap();
        let html = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            html.matches("data:image/png;base64,").count(),
            3,
            "plane, ratio, response"
        );
        assert!(
            html.contains("test &lt;emulator&gt;"),
            "the title is escaped"
        );
        assert_eq!(
            html.matches("<tr><td>").count(),
            4 + 9,
            "4 simulations, 9 response bins"
        );
        let panels = plane_values(&report);
        assert!(
            panels[0].title.contains("0.25–0.75 h/Mpc") && panels[2].title.contains("1.75–2.25")
        );
        for (p, want) in panels.iter().zip([0.0, 0.0, 0.1]) {
            assert!(
                p.values.iter().all(|v| (v - want).abs() < 1e-12),
                "{}: {:?}",
                p.title,
                p.values
            );
        }
        assert_eq!(crate::plot::diverging(0.0), plotters::style::WHITE);
        let plane = image::open(dir.path().join("emulator_plane.png")).unwrap();
        assert_eq!(
            (plane.width(), plane.height()),
            (4 * 420, 480),
            "three k bands and χ²"
        );
    }

    #[test]
    fn the_bands_cover_every_bin_once() {
        for nb in [3, 8, 16, 31] {
            let b = bands(nb);
            assert_eq!(b[0].start, 0);
            assert_eq!(b[2].end, nb);
            assert!(
                b[0].end == b[1].start && b[1].end == b[2].start && b.iter().all(|r| !r.is_empty())
            );
        }
    }
}
