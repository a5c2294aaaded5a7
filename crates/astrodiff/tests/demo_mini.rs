//! A miniature `astrodiff demo` (tiny U-Net, 5 training steps, 16² maps from four 16³-particle
//! simulations) through the binary: every artifact exists and is well-formed, and
//! `astrodiff report` regenerates the report from them.
#![cfg(feature = "torch")]

use serde_json::Value;
use std::path::Path;
use std::process::Command;

const TINY: &str = r#"
[unet]
base_channels = 8
channel_mults = [1, 2]
res_blocks = 1
attention = ["none", "none"]
mid_attention = "none"
heads = 1
head_dim = 8
groups = 4
[diffusion.schedule]
timesteps = 20
[train]
batch_size = 4
warmup_steps = 0
ema_start = 0
checkpoint_every = 0
log_every = 1
"#;

fn json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn npy_shape(p: &Path) -> Vec<usize> {
    let a: ndarray::ArrayD<f32> =
        ndarray_npy::read_npy(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert!(
        a.iter().all(|v| v.is_finite()),
        "{}: non-finite values",
        p.display()
    );
    a.shape().to_vec()
}

#[test]
fn miniature_demo_writes_every_artifact() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("tiny.toml");
    std::fs::write(&cfg, TINY).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_astrodiff"))
        .args([
            "demo",
            "--name",
            "mini",
            "--resolution",
            "16",
            "--n-sims",
            "4",
            "--particles",
            "16",
        ])
        .args([
            "--slabs",
            "1",
            "--sim-steps",
            "4",
            "--train-steps",
            "5",
            "--fast-steps",
            "3",
            "--max-ddpm",
            "2",
        ])
        .args(["--minutes", "5", "--seed", "3", "--runs"])
        .arg(d.path())
        .arg("--config")
        .arg(&cfg)
        .env("OMP_NUM_THREADS", "2")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stderr}");
    for stage in ["[1/6]", "[2/6]", "[3/6]", "[4/6]", "[5/6]", "[6/6]"] {
        assert!(
            stderr.contains(stage),
            "no progress line {stage}:\n{stderr}"
        );
    }
    let run = d.path().join("mini");

    let cfg = json(&run.join("demo_config.json"));
    assert_eq!(cfg["resolution"], 16);
    assert_eq!(cfg["held_out_sims"], 2);
    let ds = json(&run.join("data").join("dataset.json"));
    assert_eq!(ds["resolution"], 16);
    assert!(run.join("checkpoint.safetensors").is_file());
    let model = json(&run.join("config.json"));
    assert_eq!(model["unet"]["base_channels"], 8);
    let log = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 5, "{log}");
    for line in log.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert!(v["loss"].as_f64().unwrap().is_finite());
    }

    // 2 held-out simulations × 3 maps; as many fast samples; 2 DDPM samples.
    assert_eq!(npy_shape(&run.join("heldout.npy")), vec![6, 16, 16]);
    assert_eq!(
        npy_shape(&run.join("samples_dpmpp-sde.npy")),
        vec![6, 16, 16]
    );
    assert_eq!(npy_shape(&run.join("samples_ddpm.npy")), vec![2, 16, 16]);

    let rec = json(&run.join("run.json"));
    assert_eq!(rec["schema"], "astrodiff.run/1");
    assert_eq!(rec["training"]["steps"], 5);
    assert_eq!(rec["seeds"]["master"], 3);
    let samplers: Vec<&str> = rec["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sampler"].as_str().unwrap())
        .collect();
    assert_eq!(samplers, ["dpmpp-sde", "ddpm"]);
    assert_eq!(
        rec["samples"][1]["steps"], 20,
        "DDPM walks every timestep of the schedule"
    );
    for s in rec["samples"].as_array().unwrap() {
        assert!(s["wall_per_sample_s"].as_f64().unwrap() > 0.0);
        let ev_dir = run.join(s["evaluation"].as_str().expect("evaluated"));
        let ev = json(&ev_dir.join("evaluation.json"));
        assert_eq!(ev["real"]["n_maps"], 6);
        assert_eq!(ev["config"]["transform"], "log10");
        let summary = json(&ev_dir.join("summary.json"));
        // 5 absolute statistics and 5 shape statistics.
        assert_eq!(summary["rows"].as_array().unwrap().len(), 10);
        assert!(
            ev["shape"]["moments_real"]["mean"]
                .as_array()
                .unwrap()
                .len()
                == 2
        );
    }

    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    for f in [
        "dpmpp-sde_grid_real.png",
        "dpmpp-sde_grid_generated.png",
        "dpmpp-sde_pk.png",
        "dpmpp-sde_pdf.png",
        "dpmpp-sde_minkowski.png",
        "ddpm_pk.png",
        "training_loss.png",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
        assert!(
            html.contains(&format!("alt=\"{f}\" src=\"data:image/png;base64,iVBOR")),
            "{f} not embedded"
        );
    }
    assert_eq!(html.matches("<table class=\"summary\">").count(), 2);
    assert!(html.contains("Reproduction") && html.contains("samples_ddpm.npy"));

    // Regenerating from the artifacts gives the same page.
    std::fs::remove_file(run.join("report.html")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_astrodiff"))
        .arg("report")
        .arg(&run)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(run.join("report.html")).unwrap(),
        html
    );
}
