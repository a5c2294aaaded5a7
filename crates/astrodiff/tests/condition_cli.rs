//! Conditioning by name through the CLI (issue 13): `train --condition Om,sigma8` on a
//! simulated CAMELS-layout suite records the condition and its prior box, `sample --params`
//! takes θ by name, guidance w = 0 is the plain conditional sampler, and every bad input is one
//! error line naming the value.

mod common;

use common::{astrodiff, error_line, ok, p, TINY};
use std::path::{Path, PathBuf};

/// A 4-simulation suite of 16² maps, prepared with its parameter table.
fn prepared(root: &Path) -> (PathBuf, PathBuf) {
    prepared_suite(root, 4, "0-2,,3")
}

/// `n_sims` simulations of 16² maps (3 per simulation), split as `split` (train,val,test).
fn prepared_suite(root: &Path, n_sims: usize, split: &str) -> (PathBuf, PathBuf) {
    prepared_set(root, n_sims, split, "LH")
}

/// As [`prepared_suite`], for the CAMELS set `set` (LH, CV or 1P).
fn prepared_set(root: &Path, n_sims: usize, split: &str, set: &str) -> (PathBuf, PathBuf) {
    let sim = root.join("sim");
    let n_sims = n_sims.to_string();
    ok(
        &astrodiff(&[
            "simulate",
            "--set",
            set,
            "--n-sims",
            &n_sims,
            "--seed",
            "2",
            "--particles",
            "16",
            "--mesh",
            "32",
            "--map-res",
            "16",
            "--slabs",
            "1",
            "--steps",
            "4",
            "--out",
            &p(&sim),
        ]),
        "simulate",
    );
    let data = root.join("prep");
    ok(
        &astrodiff(&[
            "data",
            "prepare",
            "--input",
            &p(&sim),
            "--resolution",
            "16",
            "--norm",
            "standard",
            "--split",
            split,
            "--out",
            &p(&data),
        ]),
        "data prepare",
    );
    let cfg = root.join("tiny.toml");
    std::fs::write(&cfg, TINY).unwrap();
    (data, cfg)
}

fn train(data: &Path, cfg: &Path, out: &Path, condition: Option<&str>) -> std::process::Output {
    train_resume(data, cfg, out, condition, false)
}

fn train_resume(
    data: &Path,
    cfg: &Path,
    out: &Path,
    condition: Option<&str>,
    resume: bool,
) -> std::process::Output {
    let mut args = vec![
        "train".to_string(),
        "--data".into(),
        p(data),
        "--config".into(),
        p(cfg),
        "--out".into(),
        p(out),
        "--steps".into(),
        "2".into(),
        "--device".into(),
        "cpu".into(),
        "--threads".into(),
        "1".into(),
    ];
    if let Some(c) = condition {
        args.extend(["--condition".to_string(), c.to_string()]);
    }
    if resume {
        args.push("--resume".into());
    }
    astrodiff(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn sample(run: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "sample",
        "--checkpoint",
        run.to_str().unwrap(),
        "--n",
        "2",
        "--sampler",
        "ddim",
        "--steps",
        "3",
        "--seed",
        "4",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    astrodiff(&args)
}

fn read(path: &Path) -> Vec<f32> {
    let a: ndarray::Array3<f32> = ndarray_npy::read_npy(path).unwrap();
    a.into_raw_vec_and_offset().0
}

#[test]
fn train_and_sample_by_parameter_name_with_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (data, cfg) = prepared(dir.path());

    // A column the table does not have: named, with the ones it has.
    let e = error_line(&train(&data, &cfg, &dir.path().join("bad"), Some("Om,Ob")));
    assert!(
        e.contains("--condition Ob") && e.contains("Omega_m (Om)"),
        "{e}"
    );
    assert!(!dir
        .path()
        .join("bad")
        .join("checkpoint.safetensors")
        .exists());

    let run = dir.path().join("cond");
    ok(
        &train(&data, &cfg, &run, Some("Om,sigma8")),
        "conditional train",
    );
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    let c = &config["condition"]["params"];
    assert_eq!(c[0]["name"], "Om");
    assert_eq!(c[0]["column"], "Omega_m");
    assert_eq!(
        (c[1]["lo"].as_f64(), c[1]["hi"].as_f64()),
        (Some(0.6), Some(1.0))
    );
    assert_eq!(
        config["unet"]["cond_dim"], 3,
        "two parameters and the presence flag"
    );

    // θ by name, in any order; guidance 0 is the plain conditional sampler bit for bit.
    let (a, b, g) = (
        dir.path().join("a.npy"),
        dir.path().join("b.npy"),
        dir.path().join("g.npy"),
    );
    ok(
        &sample(&run, &a, &["--params", "sigma8=0.8,Om=0.3"]),
        "sample",
    );
    ok(
        &sample(
            &run,
            &b,
            &["--params", "Om=0.3,sigma8=0.8", "--guidance", "0"],
        ),
        "sample w=0",
    );
    ok(
        &sample(
            &run,
            &g,
            &["--params", "Om=0.3,sigma8=0.8", "--guidance", "2"],
        ),
        "sample w=2",
    );
    assert_eq!(read(&a), read(&b));
    assert_ne!(read(&a), read(&g), "w = 2 must change the fields");
    // Another θ gives other fields from the same seed.
    let o = dir.path().join("o.npy");
    ok(
        &sample(&run, &o, &["--params", "Om=0.45,sigma8=0.65"]),
        "sample other θ",
    );
    assert_ne!(read(&a), read(&o));

    let x = dir.path().join("x.npy");
    for (extra, needle) in [
        (
            vec!["--params", "Om=0.6,sigma8=0.8"],
            "outside the model's prior box [0.1, 0.5]",
        ),
        (
            vec!["--params", "Om=0.3,h=0.7"],
            "--params h: unknown parameter",
        ),
        (vec!["--params", "Om=0.3"], "missing sigma8"),
        (vec![], "conditioned on Om, sigma8"),
    ] {
        let e = error_line(&sample(&run, &x, &extra));
        assert!(e.contains(needle), "{extra:?}: {e}");
        assert!(
            !x.exists(),
            "a failed sample must not write {}",
            x.display()
        );
    }

    // An unconditional model refuses θ and guidance.
    let plain = dir.path().join("plain");
    ok(&train(&data, &cfg, &plain, None), "unconditional train");
    let e = error_line(&sample(&plain, &x, &["--params", "Om=0.3,sigma8=0.8"]));
    assert!(e.contains("unconditional"), "{e}");
    let e = error_line(&sample(&plain, &x, &["--guidance", "1"]));
    assert!(e.contains("unconditional"), "{e}");
    // Resuming with another condition is refused rather than silently ignored.
    let e = error_line(&train_resume(&data, &cfg, &plain, Some("Om"), true));
    assert!(e.contains("conditioned on nothing"), "{e}");
}

fn infer(run: &Path, input: &Path, json: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "infer",
        "--checkpoint",
        run.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--device",
        "cpu",
        "--json",
        json.to_str().unwrap(),
    ];
    if !extra.contains(&"--grid") {
        args.extend(["--grid", "4"]);
    }
    args.extend_from_slice(extra);
    astrodiff(&args)
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn tables(v: &serde_json::Value) -> Vec<Vec<f64>> {
    v["estimates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["log_likelihood"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect()
}

/// `infer` on a conditional run: one estimate per group of maps with ordered quantiles inside
/// the prior box; a group's table is the sum of its maps' own (the common random numbers belong
/// to the map, not to the grouping); the seed reproduces it; bad input is one line.
#[test]
fn infer_writes_grid_posteriors_that_combine_maps_by_summing_their_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let (data, cfg) = prepared(dir.path());
    let run = dir.path().join("cond");
    ok(
        &train(&data, &cfg, &run, Some("Om,sigma8")),
        "conditional train",
    );
    let maps = dir.path().join("maps.npy");
    ok(
        &sample(&run, &maps, &["--params", "Om=0.3,sigma8=0.8"]),
        "sample",
    );

    let single = dir.path().join("single.json");
    ok(
        &infer(&run, &maps, &single, &["--zooms", "0"]),
        "infer, one map per estimate",
    );
    let s = read_json(&single);
    assert_eq!(s["names"], serde_json::json!(["Om", "sigma8"]));
    let est = s["estimates"].as_array().unwrap();
    assert_eq!(est.len(), 2, "two maps, one per estimate");
    for e in est {
        for (name, lo, hi) in [("Om", 0.1, 0.5), ("sigma8", 0.6, 1.0)] {
            let m = &e["params"][name];
            let q = |k: &str| m[k].as_f64().unwrap();
            assert!(
                lo <= q("q025")
                    && q("q025") <= q("q16")
                    && q("q16") <= q("q50")
                    && q("q50") <= q("q84")
                    && q("q84") <= q("q975")
                    && q("q975") <= hi,
                "{name}: quantiles out of order or outside the box: {m}"
            );
            assert!(
                q("mean") > lo && q("mean") < hi && q("std") > 0.0,
                "{name}: {m}"
            );
        }
    }
    assert_eq!(s["axes"][0][0], 0.1);
    assert_eq!(s["axes"][1][3], 1.0);

    let pair = dir.path().join("pair.json");
    ok(
        &infer(
            &run,
            &maps,
            &pair,
            &["--fields-per-estimate", "2", "--zooms", "0"],
        ),
        "infer, two maps per estimate",
    );
    let (one, two) = (tables(&s), tables(&read_json(&pair)));
    assert_eq!(two.len(), 1);
    assert_eq!(
        read_json(&pair)["estimates"][0]["fields"],
        serde_json::json!([0, 1])
    );
    for j in 0..16 {
        let sum = one[0][j] + one[1][j];
        assert!(
            (two[0][j] - sum).abs() <= 1e-9 * sum.abs(),
            "node {j}: {} against {sum}",
            two[0][j]
        );
    }
    // The bound depends on θ (the surface is not flat) and on the seed of its noise.
    assert!(one[0].iter().any(|v| (v - one[0][0]).abs() > 1e-6));
    let again = dir.path().join("again.json");
    ok(
        &infer(&run, &maps, &again, &["--zooms", "0"]),
        "infer again",
    );
    assert_eq!(tables(&read_json(&again)), one, "same seed, same numbers");
    let other = dir.path().join("other.json");
    ok(
        &infer(&run, &maps, &other, &["--seed", "9", "--zooms", "0"]),
        "infer, seed 9",
    );
    assert_ne!(tables(&read_json(&other)), one);
    // With zooms (the default), every estimate says how many it took and on which axes.
    let zoomed = dir.path().join("zoomed.json");
    ok(&infer(&run, &maps, &zoomed, &[]), "infer with zooms");
    for e in read_json(&zoomed)["estimates"].as_array().unwrap() {
        let z = e["zooms"].as_u64().unwrap();
        assert!(z <= 4, "{e}");
        assert_eq!(e["axes"].as_array().unwrap().len(), 2);
        if z == 0 {
            assert_eq!(e["axes"], s["axes"], "no zoom: the box grid");
        }
    }

    // The slice sampler through the same bound: the samples beside the JSON, inside the box,
    // the same for the same seed.
    let chain = dir.path().join("chain.json");
    let mc = ["--zooms", "0", "--mcmc", "6", "--burn-in", "2"];
    ok(&infer(&run, &maps, &chain, &mc), "infer --mcmc");
    let samples: ndarray::Array3<f32> =
        ndarray_npy::read_npy(dir.path().join("chain.samples.npy")).unwrap();
    assert_eq!(samples.dim(), (2, 6, 2), "estimates × samples × parameters");
    for (p, (lo, hi)) in [(0.1f32, 0.5f32), (0.6, 1.0)].iter().enumerate() {
        let col = samples.index_axis(ndarray::Axis(2), p);
        assert!(col.iter().all(|v| (*lo..=*hi).contains(v)), "{col}");
    }
    let c = read_json(&chain);
    let e0 = &c["estimates"][0]["mcmc"];
    assert_eq!(e0["samples"].as_array().unwrap().len(), 6);
    assert!(
        e0["evaluations"].as_u64().unwrap() >= 1 + 8 * 2,
        "≥ 1 + 2 per coordinate and sweep"
    );
    assert!(e0["params"]["Om"]["std"].as_f64().unwrap() > 0.0);
    let chain2 = dir.path().join("chain2.json");
    ok(&infer(&run, &maps, &chain2, &mc), "infer --mcmc again");
    assert_eq!(
        read_json(&chain2)["estimates"][0]["mcmc"]["samples"],
        e0["samples"]
    );
    let e = error_line(&infer(
        &run,
        &maps,
        &dir.path().join("y.json"),
        &["--mcmc", "1"],
    ));
    assert!(e.contains("at least 2 samples"), "{e}");

    // Bad input, one line each, and no output left behind.
    let x = dir.path().join("x.json");
    let e = error_line(&infer(&run, &maps, &x, &["--grid", "2"]));
    assert!(e.contains("--grid 2"), "{e}");
    let e = error_line(&infer(&run, &maps, &x, &["--fields-per-estimate", "0"]));
    assert!(e.contains("--fields-per-estimate 0"), "{e}");
    let e = error_line(&infer(&run, &maps, &x, &["--stride", "0"]));
    assert!(e.contains("stride = 0"), "{e}");
    let small = dir.path().join("small.npy");
    ndarray_npy::write_npy(&small, &ndarray::Array3::<f32>::ones((1, 8, 8))).unwrap();
    let e = error_line(&infer(&run, &small, &x, &[]));
    assert!(e.contains("small.npy") && e.contains("8×8"), "{e}");
    let negative = dir.path().join("negative.npy");
    ndarray_npy::write_npy(
        &negative,
        &ndarray::Array3::<f32>::from_elem((1, 16, 16), -1.0),
    )
    .unwrap();
    let e = error_line(&infer(&run, &negative, &x, &[]));
    assert!(e.contains("negative.npy") && e.contains("≤ 0"), "{e}");
    let plain = dir.path().join("plain");
    ok(&train(&data, &cfg, &plain, None), "unconditional train");
    let e = error_line(&infer(&plain, &maps, &x, &[]));
    assert!(e.contains("unconditional"), "{e}");
    assert!(!x.exists(), "a failed infer must not write {}", x.display());
}

/// `infer-eval` on a 16-simulation suite: one posterior per held-out simulation by each method,
/// calibrations over them, and one-line errors where it cannot judge.
#[test]
fn infer_eval_judges_both_likelihoods_on_the_held_out_simulations() {
    let dir = tempfile::tempdir().unwrap();
    let (data, cfg) = prepared_suite(dir.path(), 16, "0-13,,14-15");
    let run = dir.path().join("cond");
    ok(
        &train(&data, &cfg, &run, Some("Om,sigma8")),
        "conditional train",
    );
    let json = dir.path().join("eval.json");
    let ie = |run: &Path, data: &Path, extra: &[&str]| {
        let mut args = vec![
            "infer-eval",
            "--checkpoint",
            run.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--grid",
            "4",
            "--stride",
            "100",
            "--device",
            "cpu",
            "--json",
            json.to_str().unwrap(),
        ];
        if !extra.contains(&"--fields-per-estimate") {
            args.extend(["--fields-per-estimate", "2"]);
        }
        args.extend_from_slice(extra);
        astrodiff(&args)
    };
    let out = ie(&run, &data, &[]);
    ok(&out, "infer-eval");
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        table.contains("Gaussian P(k)") && table.contains("sigma8"),
        "{table}"
    );
    let v = read_json(&json);
    let sims = v["result"]["simulations"].as_array().unwrap();
    assert_eq!(sims.len(), 2, "two held-out simulations");
    assert_eq!(
        sims[1]["maps"],
        serde_json::json!([3, 4]),
        "the first 2 of its 3 maps"
    );
    let truth = sims[0]["truth"]["Om"].as_f64().unwrap();
    assert!((0.1..=0.5).contains(&truth), "{truth}");
    for method in ["diffusion", "pk_baseline"] {
        for c in v["result"][method].as_array().unwrap() {
            assert_eq!(c["n"], 2);
            for key in ["coverage68", "coverage95"] {
                let x = c[key].as_f64().unwrap();
                assert!([0.0, 0.5, 1.0].contains(&x), "{method} {key}: {x}");
            }
            // Rank statistics: one PIT per simulation, a coverage per level.
            let pit = c["pit"].as_array().unwrap();
            assert_eq!(pit.len(), 2);
            assert!(
                pit.iter()
                    .all(|u| (0.0..=1.0).contains(&u.as_f64().unwrap())),
                "{c}"
            );
            assert_eq!(c["coverage_curve"].as_array().unwrap().len(), 11);
            assert!(c["pit_ks"].as_f64().unwrap() >= 0.25, "n = 2: KS ≥ 1/(2n)");
        }
    }
    assert_eq!(v["result"]["pk_training_sims"], 14);

    // The emulator per cosmology: each held-out simulation's 3 maps against 3 fields
    // generated at its θ.
    let emu = dir.path().join("emu.json");
    let ee = |extra: &[&str]| {
        let mut args = vec![
            "evaluate-emulator",
            "--checkpoint",
            run.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--sampler",
            "ddim",
            "--steps",
            "3",
            "--device",
            "cpu",
            "--json",
            emu.to_str().unwrap(),
        ];
        if !extra.contains(&"--n-per-sim") {
            args.extend(["--n-per-sim", "3"]);
        }
        args.extend_from_slice(extra);
        astrodiff(&args)
    };
    ok(&ee(&[]), "evaluate-emulator");
    let em = read_json(&emu);
    let es = em["result"]["simulations"].as_array().unwrap();
    assert_eq!(es.len(), 2);
    assert_eq!(
        es[0]["theta"], sims[0]["truth"],
        "the same simulations and θ as infer-eval"
    );
    assert_eq!(es[0]["pk"]["loo_true_true"].as_array().unwrap().len(), 3);
    assert_eq!(
        es[0]["pk"]["ratio"].as_array().unwrap().len(),
        8,
        "bins 1..=8 of 16²"
    );
    assert!(es[0]["pk"]["reduced_chi2"].as_f64().unwrap() > 0.0);
    // PDF and Minkowski rows at the simulation's own levels: 13 edges, 8 thresholds (V0–V2).
    assert_eq!(es[0]["levels"]["edges"].as_array().unwrap().len(), 13);
    assert_eq!(es[0]["levels"]["thresholds"].as_array().unwrap().len(), 8);
    assert_eq!(es[0]["pdf"]["ratio"].as_array().unwrap().len(), 12);
    assert_eq!(es[0]["mf"]["ratio"].as_array().unwrap().len(), 24);
    for stat in ["pdf", "mf"] {
        let c = es[0][stat]["reduced_chi2"].as_f64().unwrap();
        assert!(c.is_finite() && c >= 0.0, "{stat}: {c}");
        assert!(em["result"][format!("median_{stat}_reduced_chi2")].is_f64());
    }
    let e = error_line(&ee(&["--n-per-sim", "2"]));
    assert!(e.contains("--n-per-sim 2"), "{e}");

    // The response ∂⟨ln P⟩/∂θ against a 1P set: 3 values of Ω_m, then 3 of σ₈, around the
    // fiducial 0.3 / 0.8; each series also holds the other's fiducial simulation.
    let one_p = dir.path().join("1p");
    let report = dir.path().join("report");
    std::fs::create_dir_all(&one_p).unwrap();
    let (data_1p, _) = prepared_set(&one_p, 6, "0-5,,", "1P");
    ok(
        &ee(&[
            "--response-data",
            data_1p.to_str().unwrap(),
            "--out",
            report.to_str().unwrap(),
        ]),
        "evaluate-emulator --response-data --out",
    );
    let r = &read_json(&emu)["response"];
    assert_eq!(
        read_json(&report.join("emulator.json")),
        read_json(&emu),
        "--out's JSON is --json's"
    );
    // The report: the plane, the mean ratio and one response figure per parameter, embedded.
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert_eq!(
        html.matches("data:image/png;base64,").count(),
        4,
        "{}",
        &html[..500.min(html.len())]
    );
    assert!(html.contains("Response to sigma8") && html.contains("<th>Om</th>"));
    let params = r["parameters"].as_array().unwrap();
    assert_eq!(params.len(), 2);
    for (p, (name, fid)) in params.iter().zip([("Om", 0.3), ("sigma8", 0.8)]) {
        assert_eq!(p["name"], name);
        assert!((p["fiducial"].as_f64().unwrap() - fid).abs() < 1e-6, "{p}");
        assert_eq!(p["theta"].as_array().unwrap().len(), 4, "{p}");
        for side in ["simulated", "emulated"] {
            let slope = p[side]["slope"].as_array().unwrap();
            assert_eq!(slope.len(), 8, "{side}: bins 1..=8 of 16²");
            assert!(
                slope.iter().all(|x| x.as_f64().unwrap().is_finite()),
                "{side}"
            );
        }
    }
    // A Latin hypercube has no one-parameter series.
    let e = error_line(&ee(&[
        "--response-data",
        data.to_str().unwrap(),
        "--response-split",
        "test",
    ]));
    assert!(e.contains("Om series") && e.contains("--set 1P"), "{e}");

    let e = error_line(&ie(&run, &data, &["--fields-per-estimate", "4"]));
    assert!(
        e.contains("--fields-per-estimate 4") && e.contains("3 map(s) per simulation"),
        "{e}"
    );
    let e = error_line(&ie(&run, &data, &["--split", "train"]));
    assert!(e.contains("--split train"), "{e}");
    // 3 training simulations cannot fit the baseline's mean and covariance.
    let small = dir.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    let (small_data, _) = prepared(&small);
    let e = error_line(&ie(&run, &small_data, &[]));
    assert!(e.contains("3 training simulations"), "{e}");
}
