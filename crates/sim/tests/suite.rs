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

#[test]
fn cv_set_is_the_fiducial_cosmology_with_a_seed_per_simulation() {
    use sim::camels_out::{SimSet, FIDUCIAL};
    let cfg = SuiteConfig::new("Test", 5, 3, small()).with_set(SimSet::Cv);
    let d = design(&cfg);
    assert_eq!(d.len(), 5);
    assert!(d.iter().all(|e| (e.omega_m, e.sigma_8) == FIDUCIAL));
    let mut seeds: Vec<u64> = d.iter().map(|e| e.seed).collect();
    seeds.sort_unstable();
    seeds.dedup();
    assert_eq!(seeds.len(), 5, "every CV simulation has its own seed");
    // The LH suite of the same master seed shares the seeds (only the design differs), so a
    // CV set is the sample variance of the LH simulations' initial conditions.
    let lh = design(&SuiteConfig::new("Test", 5, 3, small()));
    assert_eq!(
        d.iter().map(|e| e.seed).collect::<Vec<_>>(),
        lh.iter().map(|e| e.seed).collect::<Vec<_>>()
    );
    assert_eq!(cfg.maps_file(), "Maps_Mcdm_Test_CV_z=0.00.npy");
    assert_eq!(cfg.params_file(), "params_CV_Test.txt");
}

#[test]
fn one_p_set_varies_one_parameter_at_a_time_with_one_seed() {
    use sim::camels_out::{SimSet, FIDUCIAL};
    let cfg = SuiteConfig::new("Test", 22, 3, small()).with_set(SimSet::OneP);
    let d = design(&cfg);
    assert_eq!(d.len(), 22);
    assert!(d.iter().all(|e| e.seed == d[0].seed), "one seed for all");
    for (j, e) in d[..11].iter().enumerate() {
        assert!((e.omega_m - (0.1 + 0.04 * j as f64)).abs() < 1e-9, "{e:?}");
        assert_eq!(e.sigma_8, FIDUCIAL.1);
    }
    for (j, e) in d[11..].iter().enumerate() {
        assert_eq!(e.omega_m, FIDUCIAL.0);
        assert!((e.sigma_8 - (0.6 + 0.04 * j as f64)).abs() < 1e-9, "{e:?}");
    }
    // The middle of each half is the fiducial cosmology itself.
    assert_eq!((d[5].omega_m, d[5].sigma_8), FIDUCIAL);
    assert_eq!((d[16].omega_m, d[16].sigma_8), FIDUCIAL);
    let odd = SuiteConfig::new("Test", 5, 3, small()).with_set(SimSet::OneP);
    let e = odd.validate().unwrap_err().to_string();
    assert!(e.contains("n_sims = 5 for the 1P set"), "{e}");
    assert!("2P"
        .parse::<SimSet>()
        .unwrap_err()
        .to_string()
        .contains("\"2P\""));
}

#[test]
fn one_p_suite_on_disk_reads_back_and_its_fiducial_runs_agree() {
    use sim::camels_out::SimSet;
    let dir = tempfile::tempdir().unwrap();
    // 3 values per parameter: Ω_m ∈ {0.1, 0.3, 0.5} at σ₈ = 0.8, then σ₈ ∈ {0.6, 0.8, 1.0}.
    let cfg = SuiteConfig::new("Test", 6, 11, small()).with_set(SimSet::OneP);
    let files = run_suite(&cfg, dir.path(), &|_| {}).unwrap();
    assert_eq!(
        files.maps.file_name().unwrap(),
        "Maps_Mcdm_Test_1P_z=0.00.npy"
    );
    assert!(dir.path().join("work_Test_1P").is_dir());
    let t = fields::camels::ParamsTable::read(&files.params).unwrap();
    assert_eq!(t.rows.nrows(), 6);
    assert_eq!((t.rows[[1, 0]], t.rows[[1, 1]]), (0.3, 0.8));
    assert_eq!((t.rows[[3, 0]], t.rows[[3, 1]]), (0.3, 0.6));
    let maps: Array3<f32> = read_npy(&files.maps).unwrap();
    assert_eq!(maps.dim(), (90, 32, 32));
    let sim_maps = |i: usize| {
        maps.slice(ndarray::s![i * 15..(i + 1) * 15, .., ..])
            .to_owned()
    };
    // Same seed, same cosmology: the two fiducial runs are the same simulation.
    assert_eq!(sim_maps(1), sim_maps(4));
    // Same seed, another Ω_m: the same structures, not the same maps.
    assert_ne!(sim_maps(0), sim_maps(1));
    // The LH work folder of the same name is untouched by (and does not collide with) the 1P set.
    assert!(!dir.path().join("work_Test").exists());
}
