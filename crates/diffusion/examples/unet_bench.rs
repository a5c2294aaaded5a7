//! U-Net benchmark: one training step (forward + backward + AdamW + EMA) and one sampling step
//! (no-grad forward) of the `paper-64` and `cpu-small` networks at batch 16 on 64² fields, with
//! parameter count, FLOPs per forward (counted from the layer shapes while running) and the
//! fraction of this machine's measured sgemm peak. "update" is the step's parameter update alone
//! (gradient clipping, AdamW, EMA), timed on both sides to show where a training step's time goes.
//!
//! `cargo run --release -p diffusion --example unet_bench -- [--threads 2] [--reps 3]
//!  [--pytorch A.json[,B.json…]] [--previous T.json[,…]] [--json-out T.json]
//!  [--nets paper-64,cpu-small] [--device cpu|cuda]`
//!
//! Timings on this 2-core machine drift by ±10 % between processes, so
//! `bench/run_unet_bench.sh` alternates the frameworks (PyTorch, tch, PyTorch, tch, …): each pass
//! writes its JSON, and the last tch pass prints the table from the best time of every pass of
//! each framework (`--pytorch` and `--previous` take several files and keep each key's minimum).

use diffusion::config::RunConfig;
use diffusion::nn::count_flops;
use diffusion::tch::{self, Device, Kind, Tensor};
use diffusion::train::Trainer;
use std::time::Instant;

fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let a: Vec<String> = std::env::args().collect();
    a.iter()
        .position(|x| x == name)
        .and_then(|i| a.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sync(d: Device) {
    if let Device::Cuda(i) = d {
        tch::Cuda::synchronize(i as i64);
    }
}

/// Best-of-`reps` seconds of `f` after one warm-up call.
fn time(reps: usize, d: Device, mut f: impl FnMut()) -> f64 {
    f();
    sync(d);
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let t = Instant::now();
        f();
        sync(d);
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

fn main() {
    let threads: i32 = arg("--threads", 2);
    let reps: usize = arg("--reps", 3);
    let batch: i64 = arg("--batch", 16);
    let size: i64 = arg("--size", 64);
    let nets: String = arg("--nets", "paper-64,cpu-small".to_string());
    let pytorch: String = arg("--pytorch", String::new());
    let previous: String = arg("--previous", String::new());
    let json_out: String = arg("--json-out", String::new());
    let device = match arg("--device", "cpu".to_string()).as_str() {
        "cuda" => Device::Cuda(0),
        _ => Device::Cpu,
    };
    tch::set_num_threads(threads);
    let py = read_passes(&pytorch);
    let prev = read_passes(&previous);
    let mut mine = serde_json::Map::new();

    // sgemm peak: a large square matmul, best of several.
    let n = if device == Device::Cpu { 2048 } else { 8192 };
    let a = Tensor::randn([n, n], (Kind::Float, device));
    let b = Tensor::randn([n, n], (Kind::Float, device));
    let t = time(5, device, || {
        let _ = a.matmul(&b);
    });
    let peak = 2.0 * (n as f64).powi(3) / t / 1e9;
    println!(
        "device {device:?}, torch threads {}, sgemm {n}×{n}: {peak:.1} GFLOP/s (this machine's peak reference)",
        tch::get_num_threads()
    );
    if let Some(p) = py.first() {
        println!(
            "PyTorch {} on the same threads: sgemm {:.1} GFLOP/s",
            p["torch"],
            p["sgemm_gflops"].as_f64().unwrap_or(f64::NAN)
        );
    }
    println!();
    println!(
        "| network | params | GFLOP/fwd (B={batch}) | train step s | train GFLOP/s | % peak | sample step s | sample GFLOP/s | % peak | PyTorch train s | PyTorch sample s | tch/PyTorch train | tch/PyTorch sample | update s (tch / PyTorch) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for name in nets.split(',') {
        let mut cfg = RunConfig::preset(name).expect("known preset");
        // The network step alone, as the PyTorch twin has it (no Gaussian prior).
        cfg.diffusion.gaussian_prior = false;
        cfg.train.batch_size = batch as usize;
        let mut tr = Trainer::new(cfg, 0, device).unwrap();
        let params = tr.net.num_params();
        let x1 = Tensor::randn([1, 1, size, size], (Kind::Float, device));
        let t1 = Tensor::from_slice(&[10i64]).to_device(device);
        let (_, f1) = count_flops(|| tch::no_grad(|| tr.net.unet.forward(&x1, &t1, None, false)));
        let fwd = f1 * batch as f64;
        let x = Tensor::randn([batch, 1, size, size], (Kind::Float, device));
        let tt = Tensor::randint(1000, [batch], (Kind::Int64, device));
        let sample_s = time(reps, device, || {
            let _ = tch::no_grad(|| tr.net.unet.forward(&x, &tt, None, false));
        });
        let train_s = time(reps, device, || {
            tr.train_step(&x, None).expect("train step");
        });
        let grad_clip = tr.cfg.train.grad_clip;
        let update_s = time(reps, device, || {
            tr.opt.clip_grad_norm(grad_clip);
            tr.opt.step(1e-4);
            tr.ema.update(&tr.net, tr.step);
        });
        let best = |key: &str, now: f64| {
            prev.iter()
                .filter_map(|p| p[name][key].as_f64())
                .fold(now, f64::min)
        };
        mine.insert(
            name.to_string(),
            serde_json::json!({"params": params, "train_s": train_s, "sample_s": sample_s, "update_s": update_s}),
        );
        let (train_s, sample_s, update_s) = (
            best("train_s", train_s),
            best("sample_s", sample_s),
            best("update_s", update_s),
        );
        // Backward ≈ 2× forward: a training step is ≈ 3 forward passes of arithmetic.
        let (tg, sg) = (3.0 * fwd / train_s / 1e9, fwd / sample_s / 1e9);
        let py_s = |key: &str| {
            py.iter()
                .filter_map(|p| p[name][key].as_f64())
                .reduce(f64::min)
                .unwrap_or(f64::NAN)
        };
        let (pt, ps, pu) = (py_s("train_s"), py_s("sample_s"), py_s("update_s"));
        if let Some(p) = py.first() {
            let pp = p[name]["params"].as_i64().unwrap_or(-1);
            if pp != params {
                eprintln!("warning: PyTorch {name} has {pp} parameters, tch {params}: not the same network");
            }
        }
        println!(
            "| {name} | {:.2} M | {:.1} | {train_s:.3} | {tg:.1} | {:.0}% | {sample_s:.3} | {sg:.1} | {:.0}% | {pt:.3} | {ps:.3} | {:.2} | {:.2} | {update_s:.3} / {pu:.3} |",
            params as f64 / 1e6,
            fwd / 1e9,
            100.0 * tg / peak,
            100.0 * sg / peak,
            train_s / pt,
            sample_s / ps
        );
    }
    if !json_out.is_empty() {
        let text = serde_json::Value::Object(mine).to_string();
        std::fs::write(&json_out, text).expect("writing --json-out");
    }
    println!();
    println!(
        "best of {reps} repetitions in each of {} tch and {} PyTorch passes",
        prev.len() + 1,
        py.len()
    );
}

/// The JSON objects of a comma-separated list of files (missing or unreadable ones skipped).
fn read_passes(list: &str) -> Vec<serde_json::Value> {
    list.split(',')
        .filter(|f| !f.is_empty())
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .filter_map(|s| serde_json::from_str(&s).ok())
        .collect()
}
