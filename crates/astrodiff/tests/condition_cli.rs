//! Conditioning by name through the CLI (issue 13): `train --condition Om,sigma8` on a
//! simulated CAMELS-layout suite records the condition and its prior box, `sample --params`
//! takes θ by name, guidance w = 0 is the plain conditional sampler, and every bad input is one
//! error line naming the value.

mod common;

use common::{astrodiff, error_line, ok, p, TINY};
use std::path::{Path, PathBuf};

/// A 4-simulation suite of 16² maps, prepared with its parameter table.
fn prepared(root: &Path) -> (PathBuf, PathBuf) {
    let sim = root.join("sim");
    ok(
        &astrodiff(&[
            "simulate",
            "--n-sims",
            "4",
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
            "0-2,,3",
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
