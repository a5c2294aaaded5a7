//! CAMELS-layout suite output: file names, shapes, params format, mass units, resume, seeds.

use ndarray::Array3;
use ndarray_npy::read_npy;
use sim::camels_out::{design, run_suite, Event, SuiteConfig};
use sim::{CosmoParams, SimConfig};
use std::sync::atomic::{AtomicUsize, Ordering};

fn small() -> SimConfig {
    SimConfig {
        particles: 16,
        mesh: 32,
        box_size: 25.0,
        steps: 4,
        z_init: 9.0,
        map_res: 32,
        slabs: 5,
        cloud: None,
    }
}

#[test]
fn suite_writes_camels_layout_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SuiteConfig::new("Test", 3, 7, small());
    let done = AtomicUsize::new(0);
    let files = run_suite(&cfg, dir.path(), &|e| {
        if let Event::Done(_) = e {
            done.fetch_add(1, Ordering::Relaxed);
        }
    })
    .unwrap();
    assert_eq!(done.load(Ordering::Relaxed), 3);
    assert_eq!(
        files.maps.file_name().unwrap(),
        "Maps_Mcdm_Test_LH_z=0.00.npy"
    );
    let maps: Array3<f32> = read_npy(&files.maps).unwrap();
    assert_eq!(maps.dim(), (45, 32, 32));
    let zeros = maps
        .iter()
        .filter(|&&v| !(v > 0.0 && v.is_finite()))
        .count();
    assert_eq!(zeros, 0, "every pixel must be positive (log10-able)");

    // Mass: each slab's mean surface density is the CDM mass of the slab over its area,
    // Σ̄ = Ω_cdm ρ_crit L/slabs on average over the 5 slabs of one axis (exact: every particle
    // lands in exactly one slab per axis, and deposition conserves mass).
    let entries = design(&cfg);
    for e in &entries {
        let p = CosmoParams::with(e.omega_m, e.sigma_8);
        let want = (p.omega_m - p.omega_b) * sim::cosmology::RHO_CRIT_0 * 25.0 / 5.0;
        for ax in 0..3 {
            let s: f64 = (0..5)
                .map(|sl| {
                    maps.index_axis(ndarray::Axis(0), e.index * 15 + ax * 5 + sl)
                        .iter()
                        .map(|&v| v as f64)
                        .sum::<f64>()
                        / 1024.0
                })
                .sum::<f64>()
                / 5.0;
            assert!(
                (s / want - 1.0).abs() < 1e-5,
                "sim {} axis {ax}: mean Σ {s} vs {want}",
                e.index
            );
        }
    }

    // params file: the CAMELS header and six %.5f columns, astrophysical ones at 1.0.
    let text = std::fs::read_to_string(&files.params).unwrap();
    // The real CAMELS table sits in ../shared beside the checkout (as in CI); no silent fallback.
    let real_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/real/camels_params/params_LH_IllustrisTNG.txt"
    );
    let real = std::fs::read_to_string(real_path)
        .unwrap_or_else(|e| panic!("{real_path}: {e}"))
        .lines()
        .next()
        .unwrap()
        .to_string();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), real, "header must match CAMELS");
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(' ').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 3);
    for (r, e) in rows.iter().zip(&entries) {
        assert_eq!(r.len(), 6);
        assert_eq!((r[0], r[1]), (e.omega_m, e.sigma_8));
        assert!((0.1..=0.5).contains(&r[0]) && (0.6..=1.0).contains(&r[1]));
        assert_eq!(&r[2..], &[1.0, 1.0, 1.0, 1.0]);
    }
    // Latin hypercube: one point per third of each range.
    let mut strata: Vec<usize> = rows
        .iter()
        .map(|r| ((r[0] - 0.1) / 0.4 * 3.0) as usize)
        .collect();
    strata.sort();
    assert_eq!(strata, vec![0, 1, 2]);
    // Seeds recorded.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files.manifest).unwrap()).unwrap();
    assert_eq!(
        manifest["simulations"][2]["seed"].as_u64().unwrap(),
        entries[2].seed
    );

    // Resume: nothing re-simulated, identical output.
    let before = std::fs::read(&files.maps).unwrap();
    let again = run_suite(&cfg, dir.path(), &|_| {}).unwrap();
    assert_eq!((again.simulated, again.skipped), (0, 3));
    assert_eq!(std::fs::read(&files.maps).unwrap(), before);
    // A deleted simulation is redone, bit-identically (same seed, same output).
    std::fs::remove_file(cfg.work_dir(dir.path()).join("sim_00001.npy")).unwrap();
    let again = run_suite(&cfg, dir.path(), &|_| {}).unwrap();
    assert_eq!((again.simulated, again.skipped), (1, 2));
    assert_eq!(std::fs::read(&files.maps).unwrap(), before);
    // Other settings in the same work folder are refused with a message naming the file.
    let mut other = cfg.clone();
    other.sim.steps = 5;
    let err = run_suite(&other, dir.path(), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("config.json") && err.contains("different settings"),
        "{err}"
    );
    // No temporary files left behind.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(!name.contains(".tmp"), "left over: {name}");
    }
}

#[test]
fn bad_settings_name_the_value() {
    let mut c = small();
    c.mesh = 15;
    assert!(c.validate().unwrap_err().to_string().contains("mesh = 15"));
    c = small();
    c.box_size = -1.0;
    assert!(c.validate().unwrap_err().to_string().contains("box"));
}
