//! `astrodiff evaluate` and `astrodiff report` through the binary: artifacts are well-formed,
//! the report's statistics equal what `astrodiff compare` computes on the same files, and a
//! regenerated report matches.

use ndarray::Array3;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const N: usize = 32;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_astrodiff"))
}

/// Positive "densities" 1e10·(1 + δ) of lognormal fields, as a CAMELS-like (n, N, N) f32 stack.
fn write_stack(path: &Path, n: usize, seed0: u64, amp: f64) {
    let mut a = Array3::<f32>::zeros((n, N, N));
    for i in 0..n {
        let d = sim::lognormal_field_2d(
            N,
            25.0,
            move |k: f64| amp * k.powi(-2) * (-(k * 1.5).powi(2)).exp(),
            seed0 + i as u64,
        );
        a.index_axis_mut(ndarray::Axis(0), i)
            .assign(&d.mapv(|v| (1e10 * (1.0 + v)) as f32));
    }
    ndarray_npy::write_npy(path, &a).unwrap();
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

fn assert_close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (x, y) in a.iter().zip(b) {
        if x.is_nan() && y.is_nan() {
            continue;
        }
        assert!(
            (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1e-300),
            "{what}: {x} vs {y}"
        );
    }
}

#[test]
fn evaluate_writes_a_self_contained_report_that_agrees_with_compare() {
    let d = tempfile::tempdir().unwrap();
    let (real, gen) = (d.path().join("real.npy"), d.path().join("gen.npy"));
    write_stack(&real, 12, 0, 1.0);
    write_stack(&gen, 10, 500, 1.0);
    let out = d.path().join("eval");
    let o = bin()
        .args([
            "evaluate",
            real.to_str().unwrap(),
            gen.to_str().unwrap(),
            "--box-size",
            "25",
            "--transform",
            "log10",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("overall: "), "{stdout}");

    let ev = json(&out.join("evaluation.json"));
    assert_eq!(ev["schema"], "astrodiff.evaluation/1");
    assert_eq!(ev["real"]["n_maps"], 12);
    assert_eq!(ev["generated"]["n_maps"], 10);
    assert_eq!(ev["n_half1"], 6);
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary, ev["summary"]);
    // 5 absolute statistics and 5 shape statistics (per-map standardised fields).
    let rows = summary["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    assert_eq!(rows[5]["statistic"], "skewness, kurtosis");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for f in [
        "grid_real.png",
        "grid_generated.png",
        "pk.png",
        "pdf.png",
        "minkowski.png",
    ] {
        assert!(out.join(f).is_file(), "{f}");
        assert!(
            html.contains(&format!("alt=\"{f}\" src=\"data:image/png;base64,")),
            "{f} not embedded"
        );
    }
    assert!(
        html.contains("<table class=\"summary\">")
            && html.contains(summary["verdict"].as_str().unwrap())
    );

    // The same files through `compare`, with its own defaults.
    let cj = d.path().join("compare.json");
    let o = bin()
        .args([
            "compare",
            real.to_str().unwrap(),
            gen.to_str().unwrap(),
            "--box-size",
            "25",
            "--transform",
            "log10",
            "--json",
        ])
        .arg(&cj)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let c = json(&cj);
    let (ea, eb) = (&c["a"]["ensemble"], &c["b"]["ensemble"]);
    assert_close(
        &floats(&ev["config"]["edges"]),
        &floats(&ea["histogram"]["edges"]),
        "edges",
    );
    assert_close(
        &floats(&ev["config"]["thresholds"]),
        &floats(&ea["minkowski"]["thresholds"]),
        "thresholds",
    );
    for (mine, theirs) in [(&ev["real_ensemble"], ea), (&ev["generated_ensemble"], eb)] {
        assert_close(
            &floats(&mine["power_spectrum"]["k"]),
            &floats(&theirs["power_spectrum"]["k"]),
            "k",
        );
        for field in ["mean", "std", "p05", "p95"] {
            assert_close(
                &floats(&mine["power_spectrum"]["pk"][field]),
                &floats(&theirs["power_spectrum"]["pk"][field]),
                "pk",
            );
            assert_close(
                &floats(&mine["histogram"]["pdf"][field]),
                &floats(&theirs["histogram"]["pdf"][field]),
                "pdf",
            );
            for v in ["v0", "v1", "v2"] {
                assert_close(
                    &floats(&mine["minkowski"][v][field]),
                    &floats(&theirs["minkowski"][v][field]),
                    v,
                );
            }
        }
    }
    for stat in ["power_spectrum", "pdf", "v0", "v1", "v2"] {
        let (m, t) = (&ev["comparison"][stat], &c["comparison"][stat]);
        assert_close(
            &[m["reduced_chi2"].as_f64().unwrap()],
            &[t["reduced_chi2"].as_f64().unwrap()],
            stat,
        );
        assert_close(
            &floats(&m["ratio_of_means"]),
            &floats(&t["ratio_of_means"]),
            stat,
        );
    }
    for k in ["wasserstein1", "ks"] {
        assert_close(
            &[ev["pixel_distance"][k].as_f64().unwrap()],
            &[c["pixel_distance"][k].as_f64().unwrap()],
            k,
        );
    }
    // The summary table's χ² values are the comparison's.
    let pk_row = &summary["rows"][0];
    assert_eq!(pk_row["statistic"], "P(k)");
    assert_eq!(
        pk_row["metrics"][0]["value"],
        c["comparison"]["power_spectrum"]["reduced_chi2"]
    );

    // `report DIR` regenerates the same report from the stored artifacts.
    std::fs::remove_file(out.join("report.html")).unwrap();
    std::fs::remove_file(out.join("pk.png")).unwrap();
    let o = bin().arg("report").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let again = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(again, html);
}

#[test]
fn bad_inputs_give_one_line_errors_naming_the_file() {
    let d = tempfile::tempdir().unwrap();
    let real = d.path().join("real.npy");
    write_stack(&real, 4, 0, 1.0);
    let missing = d.path().join("nope.npy");
    let o = bin()
        .arg("evaluate")
        .arg(&real)
        .arg(&missing)
        .args(["--box-size", "25"])
        .arg("--out")
        .arg(d.path().join("o"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("nope.npy"), "{err}");

    let other = d.path().join("other.npy");
    ndarray_npy::write_npy(&other, &Array3::<f32>::ones((2, 16, 16))).unwrap();
    let o = bin()
        .arg("evaluate")
        .arg(&real)
        .arg(&other)
        .args(["--box-size", "25"])
        .arg("--out")
        .arg(d.path().join("o"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("16×16") && err.contains("32×32"), "{err}");

    let o = bin().arg("report").arg(d.path()).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("neither run.json nor evaluation.json"));
}
