//! Throughput of P(k) + pixel PDF + Minkowski functionals per map, printed as a table.
//!
//! `cargo run --release -p stats --example stats_bench -- [--maps 1000] [--side 256] [--threads 2]
//!     [--write-npy maps.npy] [--json timings.json]`
//!
//! Maps are lognormal "projected densities" ρ = exp(g − σ²/2), g a Gaussian random field with
//! P ∝ k⁻² exp(−(k/k_c)²), seeded (ChaCha8, seed 2024 + map index). As in the seed paper's
//! evaluation, P(k) is taken of ρ, the PDF (40 bins) and the MFs (25 thresholds between the 1st and
//! 99th percentile) of log10 ρ. Times are wall-clock over all maps on `--threads` cores divided by
//! the number of maps. `bench/run_stats_bench.sh` runs the Python pair on the same `.npy`.

use ndarray::{Array2, Array3, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use rustfft::num_complex::Complex;
use rustfft::FftPlanner;
use stats::{histogram, minkowski, MfConvention, PowerSpectrumPlan, Transform};
use std::time::Instant;

struct Opts {
    maps: usize,
    side: usize,
    threads: usize,
    write_npy: Option<String>,
    json: Option<String>,
}

fn parse() -> Opts {
    let mut o = Opts {
        maps: 1000,
        side: 256,
        threads: 2,
        write_npy: None,
        json: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .unwrap_or_else(|| panic!("{a} needs a value"))
                .clone()
        };
        match a.as_str() {
            "--maps" => o.maps = val().parse().expect("--maps N"),
            "--side" => o.side = val().parse().expect("--side N"),
            "--threads" => o.threads = val().parse().expect("--threads N"),
            "--write-npy" => o.write_npy = Some(val()),
            "--json" => o.json = Some(val()),
            "--bench" => {} // passed by `cargo bench`
            other => panic!("unknown argument {other}"),
        }
    }
    o
}

/// In-place 2D complex FFT (rows, then columns) — only for making the test fields.
fn fft2(a: &mut Array2<Complex<f64>>, inverse: bool) {
    let n = a.nrows();
    let mut planner = FftPlanner::new();
    let fft = if inverse {
        planner.plan_fft_inverse(n)
    } else {
        planner.plan_fft_forward(n)
    };
    for _ in 0..2 {
        for mut row in a.axis_iter_mut(Axis(0)) {
            let mut v = row.to_vec();
            fft.process(&mut v);
            row.assign(&ndarray::Array1::from(v));
        }
        *a = a.t().to_owned();
    }
}

fn lognormal(n: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut a = Array2::from_shape_simple_fn((n, n), || {
        Complex::new(StandardNormal.sample(&mut rng), 0.0)
    });
    fft2(&mut a, false);
    let kc = n as f64 / 8.0;
    for ((i, j), v) in a.indexed_iter_mut() {
        let k = |a: usize| {
            if a <= n / 2 {
                a as f64
            } else {
                a as f64 - n as f64
            }
        };
        let q2 = k(i).powi(2) + k(j).powi(2);
        let amp = if q2 == 0.0 {
            0.0
        } else {
            (q2.powf(-1.0) * (-q2 / (kc * kc)).exp()).sqrt()
        };
        *v *= amp;
    }
    fft2(&mut a, true);
    let g = a.mapv(|c| c.re);
    let sd = (g.mapv(|x| x * x).mean().unwrap()).sqrt();
    let sigma = 1.0;
    g.mapv(|x| (sigma * x / sd - 0.5 * sigma * sigma).exp())
}

fn main() {
    let o = parse();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(o.threads)
        .build()
        .unwrap();
    let (n, nm) = (o.side, o.maps);
    eprintln!("generating {nm} lognormal {n}x{n} maps ...");
    let t0 = Instant::now();
    // stored as float32, as CAMELS maps are; every statistic sees the f32 values promoted to f64
    let maps: Vec<Array2<f64>> = pool.install(|| {
        (0..nm)
            .into_par_iter()
            .map(|i| lognormal(n, 2024 + i as u64).mapv(|v| v as f32 as f64))
            .collect()
    });
    eprintln!("  {:.1} s", t0.elapsed().as_secs_f64());
    if let Some(p) = &o.write_npy {
        let mut a = Array3::<f32>::zeros((nm, n, n));
        for (i, m) in maps.iter().enumerate() {
            a.index_axis_mut(Axis(0), i).assign(&m.mapv(|v| v as f32));
        }
        ndarray_npy::write_npy(p, &a).expect("write maps .npy");
    }
    // binning from the first 64 maps' log10 pixels
    let mut px: Vec<f64> = maps
        .iter()
        .take(64)
        .flat_map(|m| m.iter().map(|v| v.log10()))
        .collect();
    px.sort_by(f64::total_cmp);
    let (lo, hi) = (px[0], px[px.len() - 1]);
    let edges = stats::uniform_edges(lo, hi, 40);
    let thresholds = stats::ensemble::percentile_thresholds(&px, 25).expect("25 thresholds"); // the CLI's default rule
    let plan = PowerSpectrumPlan::new(n, 25.0).unwrap();

    let time = |f: &(dyn Fn(&Array2<f64>) + Sync)| -> f64 {
        let t = Instant::now();
        pool.install(|| maps.par_iter().for_each(f));
        t.elapsed().as_secs_f64() * 1e3 / nm as f64
    };
    if std::env::var_os("STATS_BENCH_PROFILE").is_some() {
        // only the one-pass total, repeated: for `perf record`
        for _ in 0..5 {
            let t = Instant::now();
            pool.install(|| {
                maps.par_iter().for_each(|m| {
                    let x = Transform::Log10.apply(m.view()).unwrap();
                    std::hint::black_box((
                        plan.compute(m.view()).unwrap(),
                        histogram(x.view(), &edges).unwrap(),
                        minkowski(x.view(), &thresholds, MfConvention::Quantimpy).unwrap(),
                    ));
                })
            });
            eprintln!(
                "total {:.3} ms/map",
                t.elapsed().as_secs_f64() * 1e3 / nm as f64
            );
        }
        return;
    }
    // warm-up (page faults, FFT plan caches)
    time(&|m| {
        std::hint::black_box(plan.compute(m.view()).unwrap());
    });
    let pk_ms = time(&|m| {
        std::hint::black_box(plan.compute(m.view()).unwrap());
    });
    let pdf_ms = time(&|m| {
        let x = Transform::Log10.apply(m.view()).unwrap();
        std::hint::black_box(histogram(x.view(), &edges).unwrap());
    });
    let mf_q_ms = time(&|m| {
        let x = Transform::Log10.apply(m.view()).unwrap();
        std::hint::black_box(minkowski(x.view(), &thresholds, MfConvention::Quantimpy).unwrap());
    });
    let mf_p_ms = time(&|m| {
        let x = Transform::Log10.apply(m.view()).unwrap();
        std::hint::black_box(minkowski(x.view(), &thresholds, MfConvention::Periodic).unwrap());
    });
    let total_ms = time(&|m| {
        let x = Transform::Log10.apply(m.view()).unwrap();
        std::hint::black_box((
            plan.compute(m.view()).unwrap(),
            histogram(x.view(), &edges).unwrap(),
            minkowski(x.view(), &thresholds, MfConvention::Quantimpy).unwrap(),
        ));
    });
    if std::env::var_os("STATS_BENCH_BREAKDOWN").is_some() {
        let xs: Vec<Array2<f64>> = maps
            .iter()
            .map(|m| Transform::Log10.apply(m.view()).unwrap())
            .collect();
        let t2 = |f: &(dyn Fn(&Array2<f64>) + Sync)| -> f64 {
            let t = Instant::now();
            pool.install(|| xs.par_iter().for_each(f));
            t.elapsed().as_secs_f64() * 1e3 / nm as f64
        };
        let log_ms = time(&|m| {
            std::hint::black_box(Transform::Log10.apply(m.view()).unwrap());
        });
        let h = t2(&|x| {
            std::hint::black_box(histogram(x.view(), &edges).unwrap());
        });
        let q = t2(&|x| {
            std::hint::black_box(
                minkowski(x.view(), &thresholds, MfConvention::Quantimpy).unwrap(),
            );
        });
        let p = t2(&|x| {
            std::hint::black_box(minkowski(x.view(), &thresholds, MfConvention::Periodic).unwrap());
        });
        eprintln!("breakdown ms/map: log10 {log_ms:.3}, histogram {h:.3}, MF quantimpy {q:.3}, MF periodic {p:.3}");
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "\nastrodiff stats, {nm} maps of {n}x{n}, {} threads (load avg {})",
        o.threads,
        load.trim()
    );
    println!("{:<44}{:>12}", "statistic", "ms / map");
    println!("{:<44}{:>12.3}", "P(k) (Pk_plane estimator)", pk_ms);
    println!("{:<44}{:>12.3}", "pixel PDF, 40 bins", pdf_ms);
    println!(
        "{:<44}{:>12.3}",
        "MFs, 25 thresholds, quantimpy convention", mf_q_ms
    );
    println!(
        "{:<44}{:>12.3}",
        "MFs, 25 thresholds, periodic convention", mf_p_ms
    );
    println!(
        "{:<44}{:>12.3}",
        "P(k) + PDF + MFs (quantimpy), one pass", total_ms
    );
    if let Some(p) = &o.json {
        // map 0's values let the Python side check it measured the same thing
        let m0 = &maps[0];
        let x0 = Transform::Log10.apply(m0.view()).unwrap();
        let pk0 = plan.compute(m0.view()).unwrap();
        let mf0 = minkowski(x0.view(), &thresholds, MfConvention::Quantimpy).unwrap();
        let h0 = histogram(x0.view(), &edges).unwrap();
        let j = serde_json::json!({
            "n_maps": nm, "side": n, "threads": o.threads, "box_size": 25.0,
            "edges": edges, "thresholds": thresholds,
            "pk_ms": pk_ms, "pdf_ms": pdf_ms, "mf_ms": mf_q_ms, "mf_periodic_ms": mf_p_ms, "total_ms": total_ms,
            "loadavg": load.trim(),
            "check_map0": {"pk": pk0.pk, "k": pk0.k, "area": mf0.v0, "length": mf0.v1, "euler": mf0.v2, "counts": h0.counts},
        });
        std::fs::write(p, serde_json::to_string_pretty(&j).unwrap()).expect("write json");
    }
}
