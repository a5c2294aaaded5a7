//! `astrodiff stats` / `astrodiff compare` end to end with the built binary: results against the
//! oracle fixtures, the JSON schema scripts rely on, and one-line errors for bad input.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_astrodiff");

fn fixtures() -> PathBuf {
    match std::env::var_os("ASTRODIFF_FIXTURES") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/metrics"
        )),
    }
}

/// Writes a NumPy v1.0 file with the given dtype descriptor, shape and raw little-endian data.
fn write_npy(path: &Path, descr: &str, shape: &[usize], data: &[u8]) {
    let shape_s = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_s}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).unwrap();
}

fn f64_bytes(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn smooth_map(n: usize, phase: f64, amp: f64) -> Vec<f64> {
    (0..n * n)
        .map(|p| {
            let (i, j) = ((p / n) as f64, (p % n) as f64);
            let t = 2.0 * std::f64::consts::PI / n as f64;
            amp * ((t * i + phase).sin()
                + (2.0 * t * j - phase).cos()
                + 0.3 * (3.0 * t * (i + j)).sin())
        })
        .collect()
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run astrodiff")
}

fn run_ok(args: &[&str]) -> Value {
    let out = run(args);
    assert!(
        out.status.success(),
        "astrodiff {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn join(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:?}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn stats_on_a_fixture_matches_the_oracle() {
    let dir = fixtures();
    let field = dir.join("lognormal_128.npy");
    let oracle: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("lognormal_128.json")).unwrap())
            .unwrap();
    let edges = f64s(&oracle["histogram"]["edges"]);
    let thresholds = f64s(&oracle["minkowski"]["thresholds"]);
    // log10 for the histogram and MFs, as in the fixture
    let j = run_ok(&[
        "stats",
        field.to_str().unwrap(),
        "--box-size",
        "25",
        "--transform",
        "log10",
        "--edges",
        &join(&edges),
        "--thresholds",
        &join(&thresholds),
    ]);
    assert_eq!(j["n_maps"], 1);
    assert!(j.get("ensemble").is_none(), "a single map has no ensemble");
    let m = &j["maps"][0];
    assert_eq!(m["histogram"]["counts"], oracle["histogram"]["counts"]);
    assert_eq!(
        m["histogram"]["n_below"],
        oracle["histogram"]["n_below_first_edge"]
    );
    assert_eq!(
        m["histogram"]["n_above"],
        oracle["histogram"]["n_above_last_edge"]
    );
    assert_eq!(f64s(&m["histogram"]["edges"]), edges);
    let mk = &m["minkowski"];
    assert_eq!(f64s(&mk["thresholds"]), thresholds);
    for (t, r) in oracle["minkowski"]["reference"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        assert_eq!(
            mk["chi"][t].as_f64().unwrap(),
            r["periodic"]["chi8"].as_f64().unwrap(),
            "chi at {t}"
        );
        assert_eq!(
            mk["v0"][t].as_f64().unwrap(),
            r["V0"].as_f64().unwrap(),
            "V0 at {t}"
        );
        let (got, want) = (
            mk["length_pix"][t].as_f64().unwrap(),
            r["periodic"]["ms_length_pix"].as_f64().unwrap(),
        );
        assert!((got - want).abs() <= 1e-9, "length at {t}: {got} vs {want}");
        for key in ["v1", "v2"] {
            assert!(mk[key][t].is_number());
        }
    }
    // P(k) of ρ itself (identity), against reference_f64
    let j = run_ok(&["stats", field.to_str().unwrap(), "--box-size", "25"]);
    let ps = &j["maps"][0]["power_spectrum"];
    let want = &oracle["power_spectrum"]["reference_f64"];
    assert_eq!(ps["nmodes"], want["nmodes"]);
    for (g, w) in f64s(&ps["pk"]).iter().zip(f64s(&want["pk"])) {
        assert!((g - w).abs() <= 1e-9 * w.abs(), "{g} vs {w}");
    }
    assert_eq!(f64s(&ps["k"]).len(), 90);
    // quantimpy convention reproduces the quantimpy block
    let j = run_ok(&[
        "stats",
        field.to_str().unwrap(),
        "--box-size",
        "25",
        "--transform",
        "log10",
        "--thresholds",
        &join(&thresholds),
        "--mf-convention",
        "quantimpy",
    ]);
    for (t, q) in oracle["minkowski"]["quantimpy"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let mk = &j["maps"][0]["minkowski"];
        assert_eq!(mk["v0"][t].as_f64().unwrap(), q["area"].as_f64().unwrap());
        assert!((mk["v2"][t].as_f64().unwrap() - q["euler"].as_f64().unwrap()).abs() < 1e-9);
    }
}

#[test]
fn stack_gives_maps_ensemble_csv_and_plots() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 32;
    let data: Vec<f64> = (0..4)
        .flat_map(|m| smooth_map(n, 0.3 * m as f64, 1.0 + 0.1 * m as f64))
        .collect();
    let stack = tmp.path().join("stack.npy");
    write_npy(&stack, "<f8", &[4, n, n], &f64_bytes(&data));
    let json = tmp.path().join("out.json");
    let prefix = tmp.path().join("tab");
    let plots = tmp.path().join("plots");
    let out = run(&[
        "stats",
        stack.to_str().unwrap(),
        "--box-size",
        "25",
        "--json",
        json.to_str().unwrap(),
        "--csv",
        prefix.to_str().unwrap(),
        "--plots",
        plots.to_str().unwrap(),
        "--bins",
        "12",
        "--n-thresholds",
        "7",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(j["n_maps"], 4);
    assert_eq!(j["maps"].as_array().unwrap().len(), 4);
    for key in ["k", "pk", "nmodes"] {
        assert_eq!(
            j["maps"][2]["power_spectrum"][key]
                .as_array()
                .unwrap()
                .len(),
            22
        );
    }
    // defaults derived from the data are written out
    let edges = f64s(&j["maps"][0]["histogram"]["edges"]);
    assert_eq!(edges.len(), 13);
    let all: Vec<f64> = data.clone();
    let (lo, hi) = all
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    assert_eq!((edges[0], edges[12]), (lo, hi));
    assert_eq!(
        j["maps"][0]["minkowski"]["thresholds"]
            .as_array()
            .unwrap()
            .len(),
        7
    );
    let total: u64 = j["maps"][1]["histogram"]["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(total, (n * n) as u64, "data-range edges hold every pixel");
    let e = &j["ensemble"];
    assert_eq!(e["n_maps"], 4);
    let pk0: Vec<f64> = (0..4)
        .map(|m| j["maps"][m]["power_spectrum"]["pk"][0].as_f64().unwrap())
        .collect();
    let mean = pk0.iter().sum::<f64>() / 4.0;
    assert!((e["power_spectrum"]["pk"]["mean"][0].as_f64().unwrap() - mean).abs() <= 1e-12 * mean);
    for key in ["mean", "std", "p05", "p95"] {
        assert_eq!(e["minkowski"]["v1"][key].as_array().unwrap().len(), 7);
    }
    for suffix in ["_pk.csv", "_pdf.csv", "_mf.csv", "_ensemble.csv"] {
        let p = tmp.path().join(format!("tab{suffix}"));
        let text =
            std::fs::read_to_string(&p).unwrap_or_else(|_| panic!("{} missing", p.display()));
        assert!(text.lines().count() > 4);
    }
    for png in ["pk.png", "pdf.png", "minkowski.png"] {
        let bytes = std::fs::read(plots.join(png)).unwrap();
        assert_eq!(&bytes[..4], b"\x89PNG");
    }
    // --ensemble-only drops the per-map array
    let j = run_ok(&[
        "stats",
        stack.to_str().unwrap(),
        "--box-size",
        "25",
        "--ensemble-only",
    ]);
    assert!(j.get("maps").is_none());
    assert_eq!(j["ensemble"]["n_maps"], 4);
}

#[test]
fn compare_two_sets() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 32;
    let a: Vec<f64> = (0..6)
        .flat_map(|m| smooth_map(n, 0.2 * m as f64, 1.0 + 0.05 * m as f64))
        .collect();
    let b: Vec<f64> = a.iter().map(|v| 2.0 * v).collect();
    let (pa, pb) = (tmp.path().join("a.npy"), tmp.path().join("b.npy"));
    write_npy(&pa, "<f8", &[6, n, n], &f64_bytes(&a));
    write_npy(&pb, "<f8", &[6, n, n], &f64_bytes(&b));
    let plots = tmp.path().join("cmp");
    let j = run_ok(&[
        "compare",
        pa.to_str().unwrap(),
        pb.to_str().unwrap(),
        "--box-size",
        "25",
        "--plots",
        plots.to_str().unwrap(),
    ]);
    // B = 2A: P(k) ratio of means is 4 in every bin where A has power
    for r in j["comparison"]["power_spectrum"]["ratio_of_means"]
        .as_array()
        .unwrap()
    {
        if let Some(r) = r.as_f64() {
            assert!((r - 4.0).abs() < 1e-9, "ratio {r}");
        }
    }
    assert!(
        j["comparison"]["power_spectrum"]["reduced_chi2"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(j["pixel_distance"]["wasserstein1"].as_f64().unwrap() > 0.0);
    assert_eq!(j["a"]["n_maps"], 6);
    assert!(std::fs::read(plots.join("pk.png"))
        .unwrap()
        .starts_with(b"\x89PNG"));
    // a set against itself: zero distance everywhere
    let j = run_ok(&[
        "compare",
        pa.to_str().unwrap(),
        pa.to_str().unwrap(),
        "--box-size",
        "25",
    ]);
    assert_eq!(
        j["comparison"]["power_spectrum"]["reduced_chi2"].as_f64(),
        Some(0.0)
    );
    assert_eq!(j["pixel_distance"]["ks"].as_f64(), Some(0.0));
    assert_eq!(j["pixel_distance"]["wasserstein1"].as_f64(), Some(0.0));
}

/// Runs a command that must fail; returns its one-line message.
fn fails(args: &[&str]) -> String {
    let out = run(args);
    assert!(!out.status.success(), "astrodiff {args:?} should fail");
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert_eq!(err.lines().count(), 1, "error is not one line: {err}");
    err
}

#[test]
fn bad_input_gives_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name);
    let s = |p: &PathBuf| p.to_str().unwrap().to_string();
    let good: Vec<f64> = smooth_map(8, 0.0, 1.0);

    let missing = p("missing.npy");
    let e = fails(&["stats", &s(&missing), "--box-size", "25"]);
    assert!(e.contains("missing.npy"), "{e}");

    let one_d = p("one_d.npy");
    write_npy(&one_d, "<f8", &[8], &f64_bytes(&good[..8]));
    let e = fails(&["stats", &s(&one_d), "--box-size", "25"]);
    assert!(e.contains("one_d.npy"), "{e}");

    let rect = p("rect.npy");
    write_npy(&rect, "<f8", &[4, 5], &f64_bytes(&good[..20]));
    let e = fails(&["stats", &s(&rect), "--box-size", "25"]);
    assert!(
        e.contains("rect.npy") && e.contains('4') && e.contains('5'),
        "{e}"
    );

    let complex = p("complex.npy");
    write_npy(&complex, "<c8", &[4, 4], &[0u8; 4 * 4 * 8]);
    let e = fails(&["stats", &s(&complex), "--box-size", "25"]);
    assert!(e.contains("complex.npy") && e.contains("c8"), "{e}");

    let int = p("int.npy");
    write_npy(&int, "<i4", &[4, 4], &[0u8; 4 * 4 * 4]);
    let e = fails(&["stats", &s(&int), "--box-size", "25"]);
    assert!(e.contains("int.npy") && e.contains("i4"), "{e}");

    for (name, bad) in [("nan.npy", f64::NAN), ("inf.npy", f64::INFINITY)] {
        let mut v = good.clone();
        v[8 * 3 + 5] = bad;
        let path = p(name);
        write_npy(&path, "<f8", &[8, 8], &f64_bytes(&v));
        let e = fails(&["stats", &s(&path), "--box-size", "25"]);
        assert!(
            e.contains(name) && e.contains('3') && e.contains('5'),
            "{e}"
        );
        assert!(
            e.to_lowercase().contains(&format!("{bad}").to_lowercase()),
            "{e}"
        );
    }

    let truncated = p("truncated.npy");
    write_npy(&truncated, "<f8", &[8, 8], &f64_bytes(&good[..40]));
    let e = fails(&["stats", &s(&truncated), "--box-size", "25"]);
    assert!(e.contains("truncated.npy"), "{e}");

    let empty = p("empty.npy");
    write_npy(&empty, "<f8", &[0, 8, 8], &[]);
    let e = fails(&["stats", &s(&empty), "--box-size", "25"]);
    assert!(e.contains("empty.npy"), "{e}");

    let ok = p("ok.npy");
    write_npy(&ok, "<f8", &[8, 8], &f64_bytes(&good));
    let e = fails(&[
        "stats",
        &s(&ok),
        "--box-size",
        "25",
        "--thresholds",
        "0,0.5,0.5",
    ]);
    assert!(e.contains("thresholds[2] = 0.5"), "{e}");
    let e = fails(&["stats", &s(&ok), "--box-size", "25", "--thresholds", "1,-1"]);
    assert!(e.contains("thresholds[1] = -1"), "{e}");
    let e = fails(&["stats", &s(&ok), "--box-size", "25", "--edges", "0,1,0.5"]);
    assert!(e.contains("edges[2] = 0.5"), "{e}");
    let e = fails(&["stats", &s(&ok), "--box-size", "-3"]);
    assert!(e.contains("-3"), "{e}");
    let e = fails(&["stats", &s(&ok), "--box-size", "25", "--transform", "log10"]);
    assert!(e.contains("ok.npy") && e.contains("log10"), "{e}");

    // compare: a bad second file is named
    let e = fails(&["compare", &s(&ok), &s(&truncated), "--box-size", "25"]);
    assert!(e.contains("truncated.npy"), "{e}");
    let big = p("big.npy");
    write_npy(
        &big,
        "<f8",
        &[16, 16],
        &f64_bytes(&smooth_map(16, 0.0, 1.0)),
    );
    let e = fails(&["compare", &s(&ok), &s(&big), "--box-size", "25"]);
    assert!(e.contains("same side"), "{e}");
}

/// Names of temporary files (`.NAME.XXXXXX.tmp`) left in `dir`.
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect()
}

#[test]
fn overflowing_headers_absurd_counts_and_unwritable_outputs_fail_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name);
    let s = |p: &PathBuf| p.to_str().unwrap().to_string();

    // A header whose n·N·N·4 wraps to a small number (it used to pass the truncation check and
    // then panic on every map, forever).
    for (name, shape) in [
        ("wrap1.npy", vec![1usize << 54, 16, 16]),
        ("wrap2.npy", vec![4, 1 << 31, 1 << 31]),
    ] {
        let path = p(name);
        write_npy(&path, "<f4", &shape, &[0u8; 1024]);
        for cmd in [
            vec!["stats", &s(&path), "--box-size", "25"],
            vec!["data", "info", &s(&path)],
        ] {
            let e = fails(&cmd.to_vec());
            assert!(e.contains(name) && e.contains("overflow"), "{cmd:?}: {e}");
        }
        let ok = p("ok8.npy");
        write_npy(&ok, "<f8", &[8, 8], &f64_bytes(&smooth_map(8, 0.0, 1.0)));
        let e = fails(&["compare", &s(&ok), &s(&path), "--box-size", "25"]);
        assert!(e.contains(name) && e.contains("overflow"), "{e}");
    }

    let ok = p("ok.npy");
    write_npy(&ok, "<f8", &[8, 8], &f64_bytes(&smooth_map(8, 0.0, 1.0)));
    let e = fails(&[
        "stats",
        &s(&ok),
        "--box-size",
        "25",
        "--bins",
        "100000000000",
    ]);
    assert!(e.contains("--bins") && e.contains("100000000000"), "{e}");
    let e = fails(&["stats", &s(&ok), "--box-size", "25", "--n-thresholds", "0"]);
    assert!(e.contains("--n-thresholds") && e.contains("= 0"), "{e}");

    // --json naming an existing folder: the rename fails, and nothing is left beside it.
    let taken = p("taken");
    std::fs::create_dir(&taken).unwrap();
    let e = fails(&["stats", &s(&ok), "--box-size", "25", "--json", &s(&taken)]);
    assert!(e.contains("taken") && e.contains("rename"), "{e}");
    let e = fails(&[
        "compare",
        &s(&ok),
        &s(&ok),
        "--box-size",
        "25",
        "--json",
        &s(&taken),
    ]);
    assert!(e.contains("taken"), "{e}");
    assert_eq!(temporaries(tmp.path()), Vec::<String>::new());
}
