#![cfg(test)]
use crate::html::*;
use crate::records::read_json;
use crate::sets::*;
use crate::verdict::{self as summary, Summary};
use ndarray::Array2;
use stats::Transform;
use std::f64::consts::PI;

const N: usize = 64;
const L: f64 = 25.0;

/// P(k) ∝ k⁻² exp(−(kR)²) with R = 2 pixels, normalised so the field variance is `var`.
fn pk_model(var: f64) -> impl Fn(f64) -> f64 + Sync + Copy {
    let r = 2.0 * L / N as f64;
    let shape = move |k: f64| k.powi(-2) * (-(k * r).powi(2)).exp();
    // σ² = Σ_{k≠0} P(k) / L² over all N² modes.
    let kf = 2.0 * PI / L;
    let mut s = 0.0;
    for a in 0..N {
        for b in 0..N {
            let (x, y) = (
                stats::power_spectrum::wavenumber(a, N),
                stats::power_spectrum::wavenumber(b, N),
            );
            if x != 0 || y != 0 {
                s += shape(kf * ((x * x + y * y) as f64).sqrt());
            }
        }
    }
    let amp = var * L * L / s;
    move |k: f64| amp * shape(k)
}

fn lognormal_set(n: usize, seed0: u64) -> Vec<Array2<f64>> {
    (0..n as u64)
        .map(|i| sim::lognormal_field_2d(N, L, pk_model(1.0), seed0 + i))
        .collect()
}

fn gaussian_set(n: usize, seed0: u64) -> Vec<Array2<f64>> {
    (0..n as u64)
        .map(|i| sim::gaussian_field_2d(N, L, pk_model(1.0), seed0 + i))
        .collect()
}

fn info(label: &str) -> SetInfo {
    SetInfo {
        label: label.into(),
        path: None,
        n_maps: 0,
        side: 0,
    }
}

fn run(a: &[Array2<f64>], b: &[Array2<f64>]) -> Evaluation {
    evaluate_sets(
        a,
        b,
        info("real"),
        info("other"),
        &EvalOptions::default(),
        &|| {},
    )
    .unwrap()
}

fn row_pass(ev: &Evaluation, stat: &str) -> Option<bool> {
    ev.summary.row(stat).unwrap().pass
}

/// Maps of `n_sims` simulations of the demo's suite (its default simulator settings at
/// 32², seed 0, Latin hypercube over Ω_m and σ_8), ordered by simulation, in log10 units
/// taken by the evaluation.
fn demo_suite(n_sims: usize) -> Vec<Array2<f64>> {
    use sim::camels_out::{design, SuiteConfig};
    let sc = sim::SimConfig {
        particles: 32,
        mesh: 64,
        box_size: 25.0,
        steps: 20,
        z_init: 19.0,
        map_res: 32,
        slabs: 5,
        cloud: None,
    };
    let cfg = SuiteConfig::new("Demo", n_sims, 0, sc);
    design(&cfg)
        .iter()
        .flat_map(|e| {
            let p = sim::CosmoParams::with(e.omega_m, e.sigma_8);
            let out = sim::simulate(&sc, p, e.seed, |_| {}).unwrap();
            out.maps
                .into_iter()
                .map(|m| m.mapv(|v| v as f64))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn on_the_demos_data_the_gaussian_null_fails_and_other_simulations_pass() {
    // 16 simulations "train" (and fit the null), 16 are held out, as in the demo.
    let maps = demo_suite(32);
    let (train, held) = maps.split_at(16 * 15);
    let opts = EvalOptions {
        transform: Transform::Log10,
        null: Some(NullOptions {
            seed: 3,
            n_fields: Some(240),
            fit: Some((train.to_vec(), info("training maps"))),
        }),
        maps_per_sim: 15,
        n_train: 240,
        ..EvalOptions::default()
    };
    let ev = evaluate_sets(held, train, info("held-out"), info("train"), &opts, &|| {}).unwrap();
    // The yardstick carried the training set's term and averaged 32 splits.
    assert_eq!(ev.summary.sizes.n_train, 240);
    assert_eq!(ev.summary.baseline_splits, summary::BASELINE_SPLITS);
    let show = |s: &Summary| serde_json::to_string_pretty(s).unwrap();
    // Real simulations of other cosmologies from the same prior are within sample variance …
    assert_eq!(ev.summary.pass, Some(true), "{}", show(&ev.summary));
    // … the Gaussian null with the training P(k) is not, and the shape rows are what see it.
    let null = ev.gaussian_null.as_ref().unwrap();
    assert_eq!(null.n_fields, 240);
    assert_eq!(null.fitted_on.n_maps, 240);
    assert_eq!(null.summary.pass, Some(false), "{}", show(&null.summary));
    for stat in ["skewness, kurtosis", "PDF of ν", "V0(ν)"] {
        assert_eq!(
            null.summary.row(stat).unwrap().pass,
            Some(false),
            "{stat}: {}",
            show(&null.summary)
        );
    }
    // Its P(k) is the training set's, and the P(k) row says so.
    assert_eq!(
        null.summary.row("P(k)").unwrap().pass,
        Some(true),
        "{}",
        show(&null.summary)
    );
}

#[test]
fn held_out_real_against_more_real_is_within_sample_variance() {
    let ev = run(&lognormal_set(32, 0), &lognormal_set(32, 10_000));
    assert_eq!(
        ev.summary.pass,
        Some(true),
        "{}",
        serde_json::to_string_pretty(&ev.summary).unwrap()
    );
    assert_eq!(ev.summary.verdict, summary::PASS);
}

#[test]
fn gaussian_field_with_the_same_power_spectrum_fails_on_minkowski_functionals() {
    let ev = run(&lognormal_set(32, 0), &gaussian_set(32, 10_000));
    let table = serde_json::to_string_pretty(&ev.summary).unwrap();
    // Same P(k) in expectation: the power spectrum alone cannot tell them apart…
    assert_eq!(row_pass(&ev, "P(k)"), Some(true), "{table}");
    // …but the one-point PDF and the morphology can.
    for stat in ["V0", "V1", "V2", "PDF"] {
        assert_eq!(row_pass(&ev, stat), Some(false), "{stat}: {table}");
    }
    assert_eq!(ev.summary.verdict, summary::FAIL);
}

#[test]
fn wrong_amplitude_fails_on_the_power_spectrum() {
    // Gaussian fields whose P(k) is 1.5× too high everywhere. (Gaussian, not lognormal: the
    // per-map P(k) scatter of σ = 1 lognormal fields is so heavy-tailed that 32 maps cannot
    // pin the amplitude to 50 %, and the rule rightly says so.)
    let other: Vec<Array2<f64>> = gaussian_set(32, 10_000)
        .into_iter()
        .map(|m| m * 1.5f64.sqrt())
        .collect();
    let ev = run(&gaussian_set(32, 0), &other);
    assert_eq!(
        row_pass(&ev, "P(k)"),
        Some(false),
        "{}",
        serde_json::to_string_pretty(&ev.summary).unwrap()
    );
}

/// Fields whose mean and amplitude vary from map to map as over a Latin hypercube: map i is
/// b_i + a_i · ν_i with a_i log-uniform in [0.5, 2], b_i uniform in [−1.5, 1.5] and ν_i a
/// standardised lognormal field (`skewed`) or a Gaussian one.
fn scattered_set(n: usize, seed0: u64, skewed: bool) -> Vec<Array2<f64>> {
    (0..n as u64)
        .map(|i| {
            let g = sim::gaussian_field_2d(N, L, pk_model(1.0), seed0 + i);
            let x = if skewed {
                g.mapv(|v| (0.8 * v).exp())
            } else {
                g
            };
            let (nu, _) = stats::standardize(x.view()).unwrap();
            let u = ((seed0 + i).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64
                / (1u64 << 53) as f64;
            let v = ((seed0 + i).wrapping_mul(0xD1B5_4A32_D192_ED03) >> 11) as f64
                / (1u64 << 53) as f64;
            nu * 2f64.powf(2.0 * u - 1.0) + 3.0 * (v - 0.5)
        })
        .collect()
}

#[test]
fn shape_rows_see_a_gaussian_field_that_mean_and_amplitude_scatter_hide() {
    let real = scattered_set(32, 0, true);
    let ev = run(&real, &scattered_set(32, 5_000, false));
    let table = serde_json::to_string_pretty(&ev.summary).unwrap();
    // In absolute thresholds the per-map scatter swamps the morphology: V0 and V1 pass…
    assert_eq!(row_pass(&ev, "V0"), Some(true), "{table}");
    assert_eq!(row_pass(&ev, "V1"), Some(true), "{table}");
    let shape = ev.shape.as_ref().unwrap();
    // Skewness: the lognormal-shaped maps are skewed, the Gaussian ones are not.
    assert!(shape.moments_real.mean[0] > 1.0 && shape.moments_generated.mean[0].abs() < 0.2);
    // …while in ν every shape row fails.
    for stat in summary::SHAPE_ROWS {
        assert_eq!(row_pass(&ev, stat), Some(false), "{stat}: {table}");
    }
    assert_eq!(ev.summary.pass, Some(false));
    // More maps of the same kind pass every row, the shape rows included.
    let ev = run(&real, &scattered_set(32, 9_000, true));
    let table = serde_json::to_string_pretty(&ev.summary).unwrap();
    assert_eq!(ev.summary.rows.len(), 10);
    assert_eq!(ev.summary.pass, Some(true), "{table}");
}

#[test]
fn too_few_maps_give_no_verdict_but_a_well_formed_table() {
    let ev = run(&lognormal_set(3, 0), &lognormal_set(5, 100));
    assert_eq!(ev.summary.pass, None);
    assert_eq!(ev.summary.verdict, summary::NO_VERDICT);
    assert_eq!(ev.summary.rows.len(), 10);
}

#[test]
fn report_embeds_every_figure_and_the_table() {
    let d = tempfile::tempdir().unwrap();
    let real = lognormal_set(8, 0);
    let gen = lognormal_set(8, 50);
    let ev = run(&real, &gen);
    let html = write_evaluation_report(d.path(), &ev, &real, &gen).unwrap();
    let text = std::fs::read_to_string(html).unwrap();
    for f in [
        "grid_real.png",
        "grid_generated.png",
        "pk.png",
        "pdf.png",
        "minkowski.png",
    ] {
        assert!(d.path().join(f).exists(), "{f}");
        assert!(
            text.contains(&format!("alt=\"{f}\" src=\"data:image/png;base64,iVBOR")),
            "{f} not embedded"
        );
    }
    assert!(text.contains("<table class=\"summary\">"));
    // Statistic, verdict and null-verdict cells span the metrics of each of the 5 absolute
    // and 5 shape statistics.
    assert_eq!(text.matches("<td rowspan").count(), 3 * 10);
    // The Gaussian null is judged and said in words, beside the table.
    assert!(text.contains("<th>Gaussian null vs real</th>"));
    assert!(
        text.contains("Gaussian null: <b>"),
        "null paragraph missing"
    );
    // No reference to any outside file.
    assert!(!text.contains("src=\"http") && !text.contains("<link"));
    let back: Evaluation = read_json(&d.path().join("evaluation.json")).unwrap();
    assert_eq!(back.summary, ev.summary);
}

#[test]
fn mismatched_map_sides_are_refused_with_the_set_named() {
    let a = lognormal_set(4, 0);
    let b = vec![Array2::<f64>::ones((32, 32))];
    let e = evaluate_sets(
        &a,
        &b,
        info("real"),
        info("gen.npy"),
        &EvalOptions::default(),
        &|| {},
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("gen.npy: map 0 is 32×32, expected 64×64"),
        "{e}"
    );
}

#[test]
fn zero_maps_per_sim_and_an_empty_null_are_refused_before_any_work() {
    let a = lognormal_set(2, 0);
    let run_with = |opts: EvalOptions| {
        evaluate_sets(&a, &a, info("real"), info("gen"), &opts, &|| {})
            .unwrap_err()
            .to_string()
    };
    let e = run_with(EvalOptions {
        maps_per_sim: 0,
        ..EvalOptions::default()
    });
    assert!(e.contains("maps per simulation must be at least 1"), "{e}");
    let e = run_with(EvalOptions {
        null: Some(NullOptions {
            n_fields: Some(0),
            ..NullOptions::default()
        }),
        ..EvalOptions::default()
    });
    assert!(e.contains("Gaussian null needs at least one field"), "{e}");
}

#[test]
fn a_file_set_is_labelled_by_its_name_and_recorded_by_its_absolute_path() {
    let dir = std::env::temp_dir().join(format!("astrodiff_setinfo_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("train.npy");
    std::fs::write(&f, b"x").unwrap();
    let i = SetInfo::of_file(&f, 3, 8);
    assert_eq!(i.label, "train.npy");
    let p = std::path::PathBuf::from(i.path.unwrap());
    assert!(
        p.is_absolute() && p.ends_with("train.npy"),
        "{}",
        p.display()
    );
    assert_eq!((i.n_maps, i.side), (3, 8));
    std::fs::remove_dir_all(&dir).unwrap();
}
