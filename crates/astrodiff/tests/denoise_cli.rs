//! `astrodiff denoise` and `denoise-eval` end to end on a tiny model trained inside the test
//! (a few optimiser steps on 16² patches of a synthetic positive field, log10 + min/max): the
//! outputs' shapes, units and invariants, seeding, and the one-line errors for bad input.
#![cfg(feature = "torch")]

mod common;

use common::{astrodiff, error_line, ok, p};
use ndarray::{Array2, Array3, Array4, Axis};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

/// A smooth positive periodic field: 10^(0.3·Σ cos(k·x + φ)) with seeded phases.
fn field(n: usize, seed: u64) -> Array2<f32> {
    let tau = std::f64::consts::TAU;
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let waves: Vec<(f64, f64, f64, f64)> = (0..12)
        .map(|_| {
            let kx = (next() * 6.0).floor() + 1.0;
            let ky = (next() * 6.0).floor();
            (kx, ky, tau * next(), 1.0 / (kx * kx + ky * ky).sqrt())
        })
        .collect();
    Array2::from_shape_fn((n, n), |(i, j)| {
        let v: f64 = waves
            .iter()
            .map(|(kx, ky, ph, a)| {
                a * (tau * (kx * i as f64 + ky * j as f64) / n as f64 + ph).cos()
            })
            .sum();
        10f64.powf(0.3 * v) as f32
    })
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    run: PathBuf,
    data: PathBuf,
}

/// Source maps → prepared 16² patches → a tiny network trained for 3 steps. Built once per
/// test binary.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let src = root.join("maps");
        std::fs::create_dir_all(&src).unwrap();
        for m in 0..3 {
            fields::io::write_npy_f32(src.join(format!("I_{}.npy", m + 1)), field(64, m).view())
                .unwrap();
        }
        let data = root.join("prep");
        let s = |p: &Path| p.to_str().unwrap().to_string();
        ok(
            &astrodiff(&[
                "data",
                "prepare",
                "--input",
                &s(&src.join("I_1.npy")),
                "--input",
                &s(&src.join("I_2.npy")),
                "--input",
                &s(&src.join("I_3.npy")),
                "--resolution",
                "16",
                "--patch",
                "16",
                "--periodic",
                "true",
                "--split",
                "0-1,,2",
                "--split-by",
                "unit",
                "--transform",
                "log10",
                "--out",
                &s(&data),
            ]),
            "data prepare",
        );
        let cfg = root.join("tiny.toml");
        std::fs::write(
            &cfg,
            r#"
[unet]
base_channels = 8
channel_mults = [1, 2]
attention = ["none", "none"]
mid_attention = "none"
heads = 1
head_dim = 8
groups = 4
circular = false
[diffusion.schedule]
kind = "linear"
timesteps = 100
beta_start = 1e-4
beta_end = 2e-2
[train]
batch_size = 4
warmup_steps = 0
ema_start = 0
"#,
        )
        .unwrap();
        let run = root.join("run");
        ok(
            &astrodiff(&[
                "train",
                "--preset",
                "cpu-small",
                "--config",
                &s(&cfg),
                "--data",
                &s(&data),
                "--out",
                &s(&run),
                "--steps",
                "3",
                "--seed",
                "0",
            ]),
            "train",
        );
        Fixture {
            _dir: dir,
            root,
            run,
            data,
        }
    })
}

/// Held-out patches of the prepared set in physical units, written as a noisy input.
fn noisy_input(name: &str, n_maps: usize, side: usize) -> PathBuf {
    let f = fixture();
    let mut maps = Array3::<f32>::zeros((n_maps, side, side));
    for m in 0..n_maps {
        let full = field(64, 10 + m as u64);
        maps.index_axis_mut(Axis(0), m)
            .assign(&full.slice(ndarray::s![..side, ..side]));
    }
    let path = f.root.join(name);
    fields::io::write_npy_f32(&path, maps.view()).unwrap();
    path
}

fn read4(path: &Path) -> Array4<f32> {
    ndarray_npy::read_npy(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
fn read3(path: &Path) -> Array3<f32> {
    ndarray_npy::read_npy(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn denoise(input: &Path, sigma: &str, out: &Path, extra: &[&str]) -> Output {
    let f = fixture();
    let mut args = vec!["denoise", "--checkpoint"];
    let run = p(&f.run);
    let inp = p(input);
    let o = p(out);
    args.extend([
        run.as_str(),
        "--input",
        inp.as_str(),
        "--sigma",
        sigma,
        "--out",
        o.as_str(),
    ]);
    args.extend(extra);
    astrodiff(&args)
}

#[test]
fn writes_posterior_samples_mean_and_std_in_physical_units() {
    let f = fixture();
    let input = noisy_input("two.npy", 2, 16);
    let out = f.root.join("den_a");
    ok(
        &denoise(&input, "0.05", &out, &["--samples", "3", "--seed", "7"]),
        "denoise",
    );
    let samples = read4(&out.join("samples.npy"));
    assert_eq!(samples.dim(), (2, 3, 16, 16));
    let mean = read3(&out.join("mean.npy"));
    let std = read3(&out.join("std.npy"));
    assert_eq!(mean.dim(), (2, 16, 16));
    assert_eq!(std.dim(), (2, 16, 16));
    // log10 model: physical samples are 10^x > 0; mean/std are those of the physical samples.
    assert!(samples.iter().all(|v| v.is_finite() && *v > 0.0));
    let m64 = samples.mapv(|v| v as f64);
    let want_mean = m64.mean_axis(Axis(1)).unwrap();
    let want_std = m64.std_axis(Axis(1), 1.0);
    for (a, b) in mean.iter().zip(want_mean.iter()) {
        assert!(
            (*a as f64 - b).abs() <= 1e-5 * b.abs().max(1e-6),
            "{a} vs {b}"
        );
    }
    for (a, b) in std.iter().zip(want_std.iter()) {
        assert!(
            (*a as f64 - b).abs() <= 1e-4 * b.abs().max(1e-6),
            "{a} vs {b}"
        );
    }
    // Draws differ from each other (the posterior has width).
    assert!(want_std.iter().any(|s| *s > 0.0));
    assert!(out.join("denoise.png").exists());
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("denoise.json")).unwrap()).unwrap();
    assert_eq!(info["samples"], 3);
    assert!(info["t_star"].as_u64().unwrap() < 100);

    // Same seed → identical files; another seed → different samples.
    let again = f.root.join("den_b");
    ok(
        &denoise(&input, "0.05", &again, &["--samples", "3", "--seed", "7"]),
        "denoise again",
    );
    assert_eq!(
        std::fs::read(out.join("samples.npy")).unwrap(),
        std::fs::read(again.join("samples.npy")).unwrap()
    );
    let other = f.root.join("den_c");
    ok(
        &denoise(&input, "0.05", &other, &["--samples", "3", "--seed", "8"]),
        "denoise other seed",
    );
    assert_ne!(read4(&other.join("samples.npy")), samples);
}

#[test]
fn one_map_gives_k_by_n_by_n_and_both_injections_run() {
    let f = fixture();
    let input = noisy_input("one.npy", 1, 16);
    for inj in ["exact", "paper"] {
        let out = f.root.join(format!("den_one_{inj}"));
        ok(
            &denoise(
                &input,
                "0.1",
                &out,
                &[
                    "--samples",
                    "2",
                    "--injection",
                    inj,
                    "--sampler",
                    "ddim",
                    "--steps",
                    "4",
                ],
            ),
            inj,
        );
        assert_eq!(read3(&out.join("samples.npy")).dim(), (2, 16, 16));
        let mean: Array2<f32> = ndarray_npy::read_npy(out.join("mean.npy")).unwrap();
        assert_eq!(mean.dim(), (16, 16));
    }
}

#[test]
fn noise_level_from_a_noise_map() {
    let f = fixture();
    let input = noisy_input("nm_in.npy", 1, 16);
    let std_map = Array2::<f32>::from_elem((16, 16), 0.05);
    let nm = f.root.join("std.npy");
    fields::io::write_npy_f32(&nm, std_map.view()).unwrap();
    let out = f.root.join("den_nm");
    let o = astrodiff(&[
        "denoise",
        "--checkpoint",
        &p(&f.run),
        "--input",
        &p(&input),
        "--noise-map",
        &p(&nm),
        "--samples",
        "2",
        "--out",
        &p(&out),
    ]);
    ok(&o, "denoise --noise-map");
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("denoise.json")).unwrap()).unwrap();
    assert!((info["sigma_trained_units"].as_f64().unwrap() - 0.05).abs() < 1e-7);
}

#[test]
fn sigma_must_be_positive() {
    let f = fixture();
    let input = noisy_input("s0.npy", 1, 16);
    for bad in ["0", "-0.1", "nan"] {
        let line = error_line(&denoise(&input, bad, &f.root.join("never"), &[]));
        assert!(
            line.contains("--sigma") && line.contains("> 0"),
            "{bad}: {line}"
        );
    }
    assert!(!f.root.join("never").exists());
}

#[test]
fn sigma_above_the_schedule_maximum_is_rejected() {
    let f = fixture();
    let input = noisy_input("s1.npy", 1, 16);
    // T = 100 linear β: σ_max = sqrt((1 − ᾱ)/ᾱ) ≈ 1.3 in normalised units.
    let line = error_line(&denoise(&input, "50", &f.root.join("never_big"), &[]));
    assert!(line.contains("maximum noise level"), "{line}");
}

#[test]
fn map_side_must_match_the_model() {
    let f = fixture();
    let input = noisy_input("big.npy", 1, 32);
    let line = error_line(&denoise(&input, "0.1", &f.root.join("never_side"), &[]));
    assert!(
        line.contains("32×32") && line.contains("16×16") && line.contains("big.npy"),
        "{line}"
    );
}

#[test]
fn nan_in_the_input_is_rejected() {
    let f = fixture();
    let mut maps = Array3::<f32>::ones((1, 16, 16));
    maps[[0, 3, 5]] = f32::NAN;
    let input = f.root.join("nan.npy");
    fields::io::write_npy_f32(&input, maps.view()).unwrap();
    let line = error_line(&denoise(&input, "0.1", &f.root.join("never_nan"), &[]));
    assert!(
        line.contains("nan.npy") && line.contains("NaN") && line.contains("i=3, j=5"),
        "{line}"
    );
}

#[test]
fn non_positive_pixels_cannot_be_log_transformed() {
    let f = fixture();
    let mut maps = Array3::<f32>::ones((1, 16, 16));
    maps[[0, 1, 2]] = -0.5;
    let input = f.root.join("neg.npy");
    fields::io::write_npy_f32(&input, maps.view()).unwrap();
    let line = error_line(&denoise(&input, "0.1", &f.root.join("never_neg"), &[]));
    assert!(line.contains("neg.npy") && line.contains("-0.5"), "{line}");
}

#[test]
fn denoise_eval_scores_every_method_at_every_level() {
    let f = fixture();
    let json = f.root.join("eval.json");
    let o = astrodiff(&[
        "denoise-eval",
        "--checkpoint",
        &p(&f.run),
        "--data",
        &p(&f.data),
        "--sigma",
        "0.05",
        "--snr",
        "2",
        "--samples",
        "4",
        "--n-maps",
        "6",
        "--json",
        &p(&json),
    ]);
    ok(&o, "denoise-eval");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2 * 5);
    let get = |level: &str, method: &str| {
        entries
            .iter()
            .find(|e| e["level"] == level && e["method"] == method)
            .unwrap_or_else(|| panic!("no entry {level}/{method}"))
    };
    for level in ["sigma=0.05", "snr=2"] {
        let noisy = get(level, "noisy");
        // The noisy input's MSE is the noise variance (4 patches × 256 pixels: ±4.4% per σ).
        let r = noisy["mse_over_noise_var"].as_f64().unwrap();
        assert!((r - 1.0).abs() < 0.25, "{level}: noisy MSE/σ² = {r}");
        // The Wiener filter never does worse than doing nothing (on average).
        assert!(get(level, "wiener")["mse"].as_f64().unwrap() < noisy["mse"].as_f64().unwrap());
        let cov = &get(level, "diffusion_mean")["coverage"];
        for key in ["gauss68", "gauss95", "rank68", "rank95"] {
            let c = cov[key].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&c), "{key} = {c}");
        }
        assert!(cov["gauss95"].as_f64().unwrap() >= cov["gauss68"].as_f64().unwrap());
        assert!(
            get(level, "gaussian")["gaussian_sigma_px"]
                .as_f64()
                .unwrap()
                >= 0.0
        );
    }
    let plots = f.root.join("eval_plots");
    assert!(
        plots.join("pk_ratio_snr2.png").exists() && plots.join("examples_sigma0.05.png").exists()
    );
}
