//! Makes docs/figures/simulator_maps.png: one projected CDM map (log10 Σ) at low and at high σ₈
//! (same seed, Ω_m = 0.3, 64³ particles, 128³ mesh, 20 steps, 25 Mpc/h, 256² pixels) and the 2D
//! power spectra of δ = Σ/⟨Σ⟩ − 1 averaged over each simulation's 15 maps.
//!
//! `cargo run --release -p sim --example simulator_figure [-- OUT.png]`

use ndarray::Array2;
use plotters::prelude::*;
use sim::{simulate, CosmoParams, SimConfig};

/// Magma-like colour map (8 anchors of matplotlib's magma), t in [0, 1].
fn magma(t: f64) -> RGBColor {
    const A: [(u8, u8, u8); 8] = [
        (0, 0, 4),
        (28, 16, 68),
        (79, 18, 123),
        (129, 37, 129),
        (181, 54, 122),
        (229, 80, 100),
        (251, 135, 97),
        (252, 253, 191),
    ];
    let x = t.clamp(0.0, 1.0) * 7.0;
    let i = (x.floor() as usize).min(6);
    let f = x - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    RGBColor(
        mix(A[i].0, A[i + 1].0),
        mix(A[i].1, A[i + 1].1),
        mix(A[i].2, A[i + 1].2),
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "docs/figures/simulator_maps.png".into());
    let cfg = SimConfig::default();
    let cases = [(0.6, "σ₈ = 0.6"), (1.0, "σ₈ = 1.0")];
    let mut maps: Vec<Array2<f32>> = Vec::new();
    let mut spectra = Vec::new();
    for (s8, label) in cases {
        let t = std::time::Instant::now();
        let o = simulate(&cfg, CosmoParams::with(0.3, s8), 42, |_| {})?;
        let zeros: usize = o
            .maps
            .iter()
            .map(|m| m.iter().filter(|&&v| v <= 0.0).count())
            .sum();
        let m0 = &o.maps[2 * cfg.slabs]; // first slab projected along z
        let (mn, mx) = m0
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        println!("{label}: {:.1} s, map Σ range {mn:.3e}..{mx:.3e} (M_sun/h)/(Mpc/h)², empty pixels in 15 maps: {zeros}", t.elapsed().as_secs_f64());
        // Mean P(k) of δ over the 15 maps.
        let mut mean: Option<(Vec<f64>, Vec<f64>)> = None;
        for m in &o.maps {
            let mu = m.iter().map(|&v| v as f64).sum::<f64>() / m.len() as f64;
            let d = m.mapv(|v| v as f64 / mu - 1.0);
            let ps = stats::power_spectrum(d.view(), cfg.box_size).expect("finite square map");
            match &mut mean {
                None => {
                    mean = Some((
                        ps.k.clone(),
                        ps.pk.iter().map(|p| p / o.maps.len() as f64).collect(),
                    ))
                }
                Some((_, acc)) => acc
                    .iter_mut()
                    .zip(&ps.pk)
                    .for_each(|(a, p)| *a += p / o.maps.len() as f64),
            }
        }
        spectra.push((label, mean.unwrap()));
        maps.push(m0.clone());
    }
    // Shared colour scale over both maps (log10 Σ, 0.5th–99.9th percentile of the pooled pixels).
    let mut all: Vec<f64> = maps
        .iter()
        .flat_map(|m| m.iter().map(|&v| (v.max(1.0) as f64).log10()))
        .collect();
    all.sort_by(|a, b| a.total_cmp(b));
    let (lo, hi) = (all[all.len() / 200], all[all.len() * 999 / 1000]);

    let (w, h) = (1560u32, 600u32);
    // plots carry their font (DejaVu Sans, assets/fonts/LICENSE-DejaVu.txt): no system fonts needed
    plotters::style::register_font(
        "sans-serif",
        plotters::style::FontStyle::Normal,
        include_bytes!("../../../assets/fonts/DejaVuSans.ttf"),
    )
    .map_err(|_| "the embedded font does not parse")?;
    let root = BitMapBackend::new(&out, (w, h)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(1040);
    let panels = left.split_evenly((1, 2));
    for (i, area) in panels.iter().enumerate() {
        let area = area.margin(40, 10, 10, 10);
        area.titled(
            &format!("log10 Σ_cdm, {}  (Ω_m = 0.3, 5 Mpc/h slab)", cases[i].1),
            ("sans-serif", 18),
        )?;
        let m = &maps[i];
        let n = m.nrows();
        let side = 480i32;
        for py in 0..side {
            for px in 0..side {
                let (r, c) = (
                    (py as usize * n) / side as usize,
                    (px as usize * n) / side as usize,
                );
                let v = (m[[r, c]].max(1.0) as f64).log10();
                area.draw_pixel((px + 10, py + 30), &magma((v - lo) / (hi - lo)))?;
            }
        }
    }
    left.draw(&Text::new(
        format!(
            "colour: log10 Σ from {lo:.2} to {hi:.2} [(M_sun/h)/(Mpc/h)²], 25 Mpc/h box, 256² px"
        ),
        (20, 570),
        ("sans-serif", 16),
    ))?;
    let kmin = spectra[0].1 .0[0] * 0.9;
    let kmax = spectra[0].1 .0.last().copied().unwrap() * 1.1;
    let pmin = spectra
        .iter()
        .flat_map(|s| s.1 .1.iter().copied())
        .fold(f64::MAX, f64::min)
        * 0.5;
    let pmax = spectra
        .iter()
        .flat_map(|s| s.1 .1.iter().copied())
        .fold(f64::MIN, f64::max)
        * 2.0;
    let mut chart = ChartBuilder::on(&right.margin(20, 20, 20, 20))
        .caption(
            "2D P(k) of δ = Σ/⟨Σ⟩ − 1 (mean of 15 maps)",
            ("sans-serif", 18),
        )
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d((kmin..kmax).log_scale(), (pmin..pmax).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("k [h/Mpc]")
        .y_desc("P(k) [(Mpc/h)²]")
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .x_label_formatter(&|v| format!("{v}"))
        .draw()?;
    let colours = [RGBColor(40, 90, 200), RGBColor(210, 60, 40)];
    for (i, (label, (k, p))) in spectra.iter().enumerate() {
        let c = colours[i];
        chart
            .draw_series(LineSeries::new(
                k.iter().copied().zip(p.iter().copied()),
                c.stroke_width(2),
            ))?
            .label(*label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()?;
    root.present()?;
    println!("wrote {out}");
    Ok(())
}
