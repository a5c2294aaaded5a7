//! log10 of one 256² map: the stats crate's vectorised log10 against the platform libm's
//! `f64::log10`, one thread, printed as a table (ms per map).
//!
//! `cargo run --release -p stats --example log10_bench`
use std::time::Instant;

fn main() {
    let x: Vec<f64> = (0..65536).map(|i| 1e-3 + (i as f64) * 0.37).collect();
    let reps = 2000;
    let time = |f: &dyn Fn() -> Vec<f64>| {
        let t = Instant::now();
        for _ in 0..reps {
            std::hint::black_box(f());
        }
        t.elapsed().as_secs_f64() * 1e3 / reps as f64
    };
    let ours = time(&|| stats::log10::log10_of(std::hint::black_box(&x)));
    let libm = time(&|| std::hint::black_box(&x).iter().map(|v| v.log10()).collect());
    let copy = time(&|| std::hint::black_box(&x).to_vec());
    println!("{:<32}{:>10}", "log10 of 65 536 values", "ms");
    println!("{:<32}{:>10.3}", "stats::log10::log10_of", ours);
    println!("{:<32}{:>10.3}", "libm f64::log10", libm);
    println!("{:<32}{:>10.3}", "(allocate + copy only)", copy);
    println!("ratio libm / ours: {:.2}x", libm / ours);
}
