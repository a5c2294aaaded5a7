//! Golden outputs: `stats`, `compare`, `evaluate`, `sample` and `denoise` run on fixed inputs and
//! seeds, and their outputs are checked against those the code wrote before the
//! library-first redesign, kept in `tests/golden/expected/`. The inputs (simulated maps and a tiny
//! checkpoint trained for 3 steps) are in `tests/golden/inputs/`, made by
//! `tests/golden/make_inputs.sh`; `tests/golden/README.md` records the commit the references come from.
//!
//! "Equal" means: every string, integer and boolean identical; every float within 1e-9 relative
//! (the pure-Rust statistics: FFT kernels may pick different SIMD paths on another CPU); the
//! model's outputs within 1e-4 of their range (libtorch's CPU kernels may sum in another order
//! with another thread count). Paths are compared with the folders replaced by placeholders.
//!
//! To re-bless (only when a change of output is intended and said in the commit):
//! `ASTRODIFF_GOLDEN_BLESS=1 cargo test -p astrodiff --test golden`.

mod common;

use common::{astrodiff, ok, p};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}
fn input(name: &str) -> String {
    p(&golden().join("inputs").join(name))
}
fn bless() -> bool {
    std::env::var_os("ASTRODIFF_GOLDEN_BLESS").is_some()
}

/// Reads JSON with the run's folders replaced by placeholders, so paths compare across machines.
fn normalised_json(path: &Path, tmp: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = text
        .replace(&p(&golden().join("inputs")), "<INPUTS>")
        .replace(&p(tmp), "<OUT>");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Collects every difference between `a` (reference) and `b` beyond the float tolerance.
fn diff_json(a: &Value, b: &Value, at: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => diff_json(u, v, &format!("{at}.{k}"), out),
                    _ => out.push(format!("{at}.{k}: present on one side only")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                out.push(format!("{at}: length {} vs {}", x.len(), y.len()));
            } else {
                for (i, (u, v)) in x.iter().zip(y).enumerate() {
                    diff_json(u, v, &format!("{at}[{i}]"), out);
                }
            }
        }
        (Value::Number(x), Value::Number(y)) if !(x.is_f64() || y.is_f64()) => {
            if x != y {
                out.push(format!("{at}: {x} vs {y}"));
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            let (u, v) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            if (u - v).abs() > 1e-9 * u.abs().max(v.abs()).max(1e-300) {
                out.push(format!("{at}: {u} vs {v}"));
            }
        }
        _ => {
            if a != b {
                out.push(format!("{at}: {a} vs {b}"));
            }
        }
    }
}

/// Checks (or, when blessing, writes) the reference copy of one JSON output.
fn check_json(name: &str, produced: &Path, tmp: &Path) {
    let got = normalised_json(produced, tmp);
    let reference = golden().join("expected").join(name);
    if bless() {
        std::fs::create_dir_all(reference.parent().unwrap()).unwrap();
        let mut s = serde_json::to_string_pretty(&got).unwrap();
        s.push('\n');
        std::fs::write(&reference, s).unwrap();
        return;
    }
    let want: Value =
        serde_json::from_str(&std::fs::read_to_string(&reference).unwrap_or_else(|e| {
            panic!("{}: {e} (bless first, see golden.rs)", reference.display())
        }))
        .unwrap();
    let mut diffs = Vec::new();
    diff_json(&want, &got, name, &mut diffs);
    assert!(
        diffs.is_empty(),
        "{name} differs from the golden output in {} places, first: {:#?}",
        diffs.len(),
        &diffs[..diffs.len().min(10)]
    );
}

/// Checks (or writes) the reference copy of one `.npy` output, within 1e-4 of its range.
fn check_npy(name: &str, produced: &Path) {
    let got: ndarray::ArrayD<f32> =
        ndarray_npy::read_npy(produced).unwrap_or_else(|e| panic!("{}: {e}", produced.display()));
    let reference = golden().join("expected").join(name);
    if bless() {
        std::fs::create_dir_all(reference.parent().unwrap()).unwrap();
        std::fs::copy(produced, &reference).unwrap();
        return;
    }
    let want: ndarray::ArrayD<f32> = ndarray_npy::read_npy(&reference)
        .unwrap_or_else(|e| panic!("{}: {e} (bless first, see golden.rs)", reference.display()));
    assert_eq!(want.shape(), got.shape(), "{name}: shape");
    let range = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-30);
    let worst = want
        .iter()
        .zip(got.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        worst <= 1e-4 * range,
        "{name}: largest difference {worst} exceeds 1e-4 of the reference's range {range}"
    );
}

#[test]
fn stats_and_compare_match_the_reference() {
    let d = tempfile::tempdir().unwrap();
    let sj = d.path().join("stats.json");
    ok(
        &astrodiff(&[
            "stats",
            &input("real.npy"),
            "--box-size",
            "25",
            "--transform",
            "log10",
            "--json",
            &p(&sj),
        ]),
        "stats",
    );
    check_json("stats.json", &sj, d.path());
    let cj = d.path().join("compare.json");
    ok(
        &astrodiff(&[
            "compare",
            &input("real.npy"),
            &input("generated.npy"),
            "--box-size",
            "25",
            "--transform",
            "log10",
            "--json",
            &p(&cj),
        ]),
        "compare",
    );
    check_json("compare.json", &cj, d.path());
}

#[test]
fn evaluate_matches_the_reference() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("eval");
    ok(
        &astrodiff(&[
            "evaluate",
            &input("real.npy"),
            &input("generated.npy"),
            "--box-size",
            "25",
            "--out",
            &p(&out),
            "--transform",
            "log10",
            "--maps-per-sim",
            "6",
            "--train-maps",
            "36",
            "--baseline-splits",
            "8",
            "--baseline-seed",
            "3",
            "--null-seed",
            "5",
        ]),
        "evaluate",
    );
    check_json("evaluation.json", &out.join("evaluation.json"), d.path());
    check_json("summary.json", &out.join("summary.json"), d.path());
    // The report's text (the embedded PNGs stripped: their pixels depend on the font rasteriser).
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let text: String = html
        .split("data:image/png;base64,")
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part.to_string()
            } else {
                format!("<PNG>{}", &part[part.find('"').unwrap()..])
            }
        })
        .collect::<String>()
        .replace(&p(&golden().join("inputs")), "<INPUTS>");
    let reference = golden().join("expected/report.html");
    if bless() {
        std::fs::write(&reference, &text).unwrap();
    } else {
        let want = std::fs::read_to_string(&reference).unwrap();
        assert!(
            want == text,
            "report.html text differs from the golden one; first differing line: {:?}",
            want.lines().zip(text.lines()).find(|(a, b)| a != b)
        );
    }
}

#[cfg(feature = "torch")]
#[test]
fn a_checkpoint_written_before_the_redesign_samples_and_denoises_as_it_did() {
    let d = tempfile::tempdir().unwrap();
    for (sampler, steps) in [("ddim", "5"), ("ddpm", "10")] {
        let s = d.path().join(format!("{sampler}.npy"));
        ok(
            &astrodiff(&[
                "sample",
                "--checkpoint",
                &input("run"),
                "--n",
                "2",
                "--sampler",
                sampler,
                "--steps",
                steps,
                "--seed",
                "3",
                "--threads",
                "1",
                "--out",
                &p(&s),
            ]),
            "sample",
        );
        check_npy(&format!("sample_{sampler}.npy"), &s);
    }
    let out = d.path().join("den");
    ok(
        &astrodiff(&[
            "denoise",
            "--checkpoint",
            &input("run"),
            "--input",
            &input("noisy.npy"),
            "--sigma",
            "0.05",
            "--samples",
            "2",
            "--seed",
            "4",
            "--out",
            &p(&out),
        ]),
        "denoise",
    );
    for f in ["samples.npy", "mean.npy", "std.npy"] {
        check_npy(&format!("denoise_{f}"), &out.join(f));
    }
}
