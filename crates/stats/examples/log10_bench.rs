//! log10 of one 256² map: the stats crate's vectorised log10 against the platform libm's
//! `f64::log10`, one thread, printed as a table (ms per map).
//!
//! `cargo run --release -p stats --example log10_bench`
use std::time::Instant;
fn main() {
    let n = 65536;
    let x: Vec<f64> = (0..n).map(|i| 1e-3 + (i as f64) * 0.37).collect();
    let reps = 2000;
    let t = Instant::now();
    for _ in 0..reps {
        std::hint::black_box(stats::log10::log10_of(std::hint::black_box(&x)));
    }
    println!(
        "log10_of      {:.3} ms",
        t.elapsed().as_secs_f64() * 1e3 / reps as f64
    );
    let mut y = x.clone();
    let t = Instant::now();
    for _ in 0..reps {
        y.copy_from_slice(&x);
        stats::log10::log10_in_place(std::hint::black_box(&mut y));
    }
    println!(
        "in place      {:.3} ms",
        t.elapsed().as_secs_f64() * 1e3 / reps as f64
    );
    let t = Instant::now();
    for _ in 0..reps {
        std::hint::black_box(x.iter().map(|v| v.log10()).collect::<Vec<f64>>());
    }
    println!(
        "libm          {:.3} ms",
        t.elapsed().as_secs_f64() * 1e3 / reps as f64
    );
    let t = Instant::now();
    for _ in 0..reps {
        std::hint::black_box(x.to_vec());
    }
    println!(
        "alloc+copy    {:.3} ms",
        t.elapsed().as_secs_f64() * 1e3 / reps as f64
    );
}
