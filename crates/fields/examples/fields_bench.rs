//! Throughput of the data layer, printed as a table.
//!
//! `cargo run --release -p fields --example fields_bench [-- N_MAPS]`
//!
//! Writes a synthetic CMD-layout stack of N_MAPS (default 600) 256² float32
//! maps to a temporary folder, then times: memory-mapped map reads, area and
//! antialiased-bicubic 256 → 64 resampling, `prepare` to 64² and 128²,
//! and `BatchStream::batch_at` (augmented batches of 64).

use std::time::Instant;

use fields::augment::{Augment, BatchStream};
use fields::dataset::{prepare, PrepareConfig};
use fields::io::{write_npy_f32, MapStack};
use fields::rng::substream;
use fields::split::SplitSpec;
use fields::transform::{downsample_area, resize_bicubic_aa, PointTransform};
use ndarray::Array3;
use rand::Rng;

fn row(what: &str, n: f64, unit: &str, secs: f64) {
    println!(
        "| {what:<44} | {:>10.1} {unit:<8} | {:>9.3} s |",
        n / secs,
        secs
    );
}

fn main() {
    let n_maps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let side = 256;
    let dir = tempfile::tempdir().expect("temp dir");
    let maps_path = dir.path().join("Maps_Mcdm_Bench_LH_z=0.00.npy");
    let mut rng = substream(0, &[]);
    let maps = Array3::from_shape_fn((n_maps, side, side), |_| {
        10f32.powf(rng.gen_range(9.0..13.0))
    });
    write_npy_f32(&maps_path, maps.view()).unwrap();
    let params: String = (0..n_maps / 15).map(|_| "0.3 0.8 1 1 1 1\n").collect();
    std::fs::write(dir.path().join("params_LH_Bench.txt"), params).unwrap();
    drop(maps);

    println!(
        "fields data layer, {n_maps} maps of {side}² float32 ({} MB), rayon threads: {}",
        (n_maps * side * side * 4) >> 20,
        rayon::current_num_threads()
    );
    println!(
        "| {:<44} | {:>19} | {:>11} |",
        "operation", "throughput", "time"
    );
    println!("|{}|{}|{}|", "-".repeat(46), "-".repeat(21), "-".repeat(13));

    let stack = MapStack::open(&maps_path).unwrap();
    let t = Instant::now();
    let mut acc = 0.0f64;
    for m in 0..n_maps {
        acc += stack.map_f32(m)[[0, 0]] as f64;
    }
    row(
        "mmap read map_f32 (256², page cache warm)",
        n_maps as f64,
        "maps/s",
        t.elapsed().as_secs_f64(),
    );
    let t = Instant::now();
    for m in 0..n_maps {
        acc += stack.map(m)[[1, 1]];
    }
    row(
        "mmap read map -> f64 (256²)",
        n_maps as f64,
        "maps/s",
        t.elapsed().as_secs_f64(),
    );

    let some: Vec<_> = (0..n_maps.min(200)).map(|m| stack.map(m)).collect();
    let t = Instant::now();
    for m in &some {
        acc += downsample_area(m.view(), 4).unwrap()[[0, 0]];
    }
    row(
        "area downsample 256 -> 64 (1 thread)",
        some.len() as f64,
        "maps/s",
        t.elapsed().as_secs_f64(),
    );
    let t = Instant::now();
    for m in &some {
        acc += resize_bicubic_aa(m.view(), 64, true)[[0, 0]];
    }
    row(
        "antialiased bicubic 256 -> 64 (1 thread)",
        some.len() as f64,
        "maps/s",
        t.elapsed().as_secs_f64(),
    );

    for res in [64usize, 128] {
        let mut cfg = PrepareConfig::new(&maps_path, res, dir.path().join(format!("ds{res}")));
        cfg.transform = PointTransform::Log10 { floor: None };
        cfg.split = SplitSpec::parse("0.7,0.15,0.15", 0).unwrap();
        let t = Instant::now();
        let ds = prepare(&cfg).unwrap();
        row(
            &format!("prepare 256² -> {res}² (log10, minmax, write)"),
            n_maps as f64,
            "maps/s",
            t.elapsed().as_secs_f64(),
        );
        let train = ds.load("train").unwrap();
        let params = ds.load_params("train").unwrap();
        let bs = BatchStream::new(train, params, 0, Augment::for_data(true)).unwrap();
        let steps = if res == 64 { 400 } else { 100 };
        let t = Instant::now();
        for s in 0..steps {
            acc += bs.batch_at(s, 64)[[0, 0, 0]] as f64;
        }
        row(
            &format!("batch_at(step, 64) at {res}² (dihedral + roll)"),
            (steps * 64) as f64,
            "maps/s",
            t.elapsed().as_secs_f64(),
        );
    }
    // Keep the work observable so nothing is optimised away.
    eprintln!("checksum {acc:.3e}");
}
