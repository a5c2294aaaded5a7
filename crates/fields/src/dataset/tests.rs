use super::*;
use crate::patches::{patches_overlap, Patch};
use crate::rng::substream;
use crate::transform::downsample_area;
use ndarray::{s, Array};
use rand::Rng;
use std::collections::HashSet;

/// Positive log-normal-ish maps; map m of simulation s = m / per_sim carries
/// the simulation's index in its mean so leaks would be visible.
fn cmd_maps(n_sims: usize, per_sim: usize, side: usize, seed: u64) -> Array3<f32> {
    let mut rng = substream(seed, &[]);
    Array::from_shape_fn((n_sims * per_sim, side, side), |(m, _, _)| {
        ((m / per_sim) as f32 + 1.0) * 10f32.powf(rng.gen_range(-1.0..1.0))
    })
}

fn write_cmd(
    dir: &Path,
    suite: &str,
    n_sims: usize,
    per_sim: usize,
    side: usize,
) -> (PathBuf, Array3<f32>) {
    let maps = cmd_maps(n_sims, per_sim, side, 1);
    let p = dir.join(format!("Maps_Mcdm_{suite}_LH_z=0.00.npy"));
    write_npy_f32(&p, maps.view()).unwrap();
    let mut t = String::from("# Om\tsigma8\tSN1\tAGN1\tSN2\tAGN2\n");
    for s in 0..n_sims {
        t.push_str(&format!(
            "{:.5} {:.5} 1.00000 1.00000 1.00000 1.00000\n",
            0.1 + 0.01 * s as f64,
            0.6 + 0.01 * s as f64
        ));
    }
    std::fs::write(dir.join(format!("params_LH_{suite}.txt")), t).unwrap();
    (p, maps)
}

#[test]
fn cmd_stack_splits_by_simulation_and_round_trips_to_physical_units() {
    let d = tempfile::tempdir().unwrap();
    let (maps_path, maps) = write_cmd(d.path(), "Synth", 20, 3, 32);
    let out = d.path().join("prepared");
    let mut cfg = PrepareConfig::new(&maps_path, 16, &out);
    cfg.transform = PointTransform::Log10 { floor: None };
    cfg.split = SplitSpec::parse("0.6,0.2,0.2", 5).unwrap();
    cfg.seed = 5;
    let ds = prepare(&cfg).unwrap();
    let m = &ds.meta;
    assert_eq!(m.split.unit, "simulation");
    assert_eq!(m.split.maps_per_unit, 3);
    assert!(m.periodic);
    assert_eq!(m.box_size_mpc_h, Some(25.0));
    assert_eq!(m.param_names.len(), 6);
    let units = m.split.units.clone().unwrap();
    assert_eq!(
        (units.train.len(), units.val.len(), units.test.len()),
        (12, 4, 4)
    );
    // No simulation in two splits, every map of a simulation in the same split.
    let mut seen: HashSet<usize> = HashSet::new();
    for name in SPLITS {
        let sims: HashSet<usize> = m.items[name].iter().map(|it| it[0] / 3).collect();
        assert!(seen.is_disjoint(&sims), "{name}");
        seen.extend(&sims);
        assert_eq!(m.items[name].len(), 3 * sims.len());
        assert_eq!(ds.count(name), m.items[name].len());
        // Stored in consecutive groups of one simulation, as the verdict's design effect reads them.
        assert_eq!(ds.maps_per_simulation(name), 3);
        for g in m.items[name].chunks(3) {
            assert!(g.iter().all(|it| it[0] / 3 == g[0][0] / 3), "{name}: {g:?}");
        }
    }
    assert_eq!(seen.len(), 20);
    // Parameter rows follow their maps.
    let tp = ds.load_params("train").unwrap().unwrap();
    for (k, it) in m.items["train"].iter().enumerate() {
        assert!((tp[[k, 0]] as f64 - (0.1 + 0.01 * (it[0] / 3) as f64)).abs() < 1e-6);
    }
    // Training data spans exactly [-1, 1].
    let train = ds.load("train").unwrap();
    assert_eq!(train.dim(), (36, 16, 16));
    let lo = train.iter().cloned().fold(f32::INFINITY, f32::min);
    let hi = train.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    assert!((lo + 1.0).abs() < 1e-6 && (hi - 1.0).abs() < 1e-6);
    // Back to physical units = area-downsampled original map.
    let test = ds.load("test").unwrap();
    let mut phys = test.clone();
    ds.to_physical(&mut phys);
    for (k, it) in m.items["test"].iter().enumerate() {
        let orig = maps.slice(s![it[0], .., ..]).mapv(|v| v as f64);
        let want = downsample_area(orig.view(), 2).unwrap();
        for (a, b) in phys.slice(s![k, .., ..]).iter().zip(want.iter()) {
            assert!(((*a as f64 - b) / b).abs() < 1e-5, "{a} {b}");
        }
    }
    // And forward again.
    ds.from_physical(&mut phys, Path::new("generated")).unwrap();
    for (a, b) in phys.iter().zip(test.iter()) {
        assert!((a - b).abs() < 1e-5);
    }
    // Reopen from disk; same seed gives the same dataset.
    let again = PreparedDataset::open(&out).unwrap();
    assert_eq!(again.meta, ds.meta);
    let out2 = d.path().join("prepared2");
    cfg.out = out2.clone();
    let ds2 = prepare(&cfg).unwrap();
    assert_eq!(ds2.meta.items, ds.meta.items);
    assert_eq!(ds2.load("val").unwrap(), ds.load("val").unwrap());
    // A batch stream with conditioning rows.
    let bs = ds.batch_stream(3).unwrap();
    assert_eq!(bs.batch_at(0, 8).dim(), (8, 16, 16));
    assert_eq!(bs.params_at(0, 8).unwrap().dim(), (8, 6));
    // Nothing but the expected files, no temporaries.
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "dataset.json",
            "normalization.json",
            "test.npy",
            "test_params.npy",
            "train.npy",
            "train_params.npy",
            "val.npy",
            "val_params.npy"
        ]
    );
}

#[test]
fn explicit_ranges_folder_input_and_bicubic_chain() {
    let d = tempfile::tempdir().unwrap();
    let sim_dir = d.path().join("sim_out");
    std::fs::create_dir(&sim_dir).unwrap();
    write_cmd(&sim_dir, "mysim", 10, 2, 32);
    std::fs::write(
        sim_dir.join("sims_LH_mysim.json"),
        r#"{"suite": {"sim": {"box_size": 50.0}}}"#,
    )
    .unwrap();
    // Simulator output folder as input: the one CMD stack inside is found.
    let mut cfg = PrepareConfig::new(&sim_dir, 8, d.path().join("out"));
    cfg.split = SplitSpec::parse("0-6,7,8-9", 0).unwrap();
    cfg.resample = Resample::Bicubic;
    cfg.transform = PointTransform::Log10 { floor: None };
    cfg.norm = NormKind::Standard;
    let ds = prepare(&cfg).unwrap();
    let m = &ds.meta;
    assert_eq!(m.split.units.as_ref().unwrap().val, vec![7]);
    assert_eq!(
        m.items["test"].iter().map(|it| it[0]).collect::<Vec<_>>(),
        vec![16, 17, 18, 19]
    );
    assert_eq!(m.box_size_mpc_h, Some(50.0));
    assert!(matches!(m.chain[0], Step::Point { .. }));
    assert!(matches!(
        m.chain[1],
        Step::Resize {
            from: 32,
            to: 8,
            method: Resample::Bicubic
        }
    ));
    assert!(matches!(m.normalization, Normalization::Standard { .. }));
    let train = ds.load("train").unwrap();
    let mean = train.iter().map(|&v| v as f64).sum::<f64>() / train.len() as f64;
    assert!(mean.abs() < 1e-5);
}

fn write_dust(dir: &Path, n: usize, side: usize) -> Vec<Array2<f32>> {
    (0..n)
        .map(|k| {
            let mut rng = substream(100 + k as u64, &[]);
            let a = Array::from_shape_fn((side, side), |_| rng.gen_range(0.03f32..1.0));
            write_npy_f32(dir.join(format!("I_{}.npy", k + 1)), a.view()).unwrap();
            a
        })
        .collect()
}

#[test]
fn dust_folder_patches_hold_out_a_whole_map() {
    let d = tempfile::tempdir().unwrap();
    let dust = d.path().join("dust");
    std::fs::create_dir(&dust).unwrap();
    let maps = write_dust(&dust, 3, 64);
    let mut cfg = PrepareConfig::new(&dust, 8, d.path().join("out"));
    cfg.patch = Some(16);
    cfg.periodic = Some(true);
    cfg.transform = PointTransform::Log10 { floor: None };
    cfg.split = SplitSpec::parse("0-1,,2", 0).unwrap();
    let ds = prepare(&cfg).unwrap();
    let m = &ds.meta;
    assert!(!m.periodic, "patches are not periodic");
    assert_eq!(m.inputs.len(), 3);
    assert_eq!(ds.count("train"), 2 * 16);
    assert_eq!(ds.count("val"), 0);
    assert_eq!(ds.count("test"), 16);
    assert!(m.items["test"].iter().all(|it| it[0] == 2));
    assert!(m.items["train"].iter().all(|it| it[0] < 2));
    assert_eq!(ds.load("val").unwrap().dim(), (0, 8, 8));
    assert!(ds.load_params("train").unwrap().is_none());
    // Test patch k is the log10 of the area-averaged cut of I_3.
    let test = ds.load("test").unwrap();
    let mut phys = test.clone();
    ds.to_physical(&mut phys);
    let it = m.items["test"][5];
    let cut = maps[2]
        .slice(s![it[1]..it[1] + 16, it[2]..it[2] + 16])
        .mapv(|v| v as f64);
    let want = downsample_area(cut.view(), 2).unwrap();
    for (a, b) in phys.slice(s![5, .., ..]).iter().zip(want.iter()) {
        assert!(((*a as f64 - b) / b).abs() < 1e-5);
    }
    assert!(!ds.batch_stream(0).unwrap().augment().roll);
}

#[test]
fn single_map_region_split_has_no_overlapping_patches() {
    let d = tempfile::tempdir().unwrap();
    let maps = write_dust(d.path(), 1, 128);
    let _ = maps;
    let mut cfg = PrepareConfig::new(d.path().join("I_1.npy"), 16, d.path().join("out"));
    cfg.patch = Some(16);
    cfg.periodic = Some(true);
    cfg.placement = Some(Placement::Random { count: 40 });
    let ds = prepare(&cfg).unwrap();
    let m = &ds.meta;
    assert_eq!(m.split.by, SplitBy::Region);
    let b = m.split.bands.unwrap();
    assert_eq!(b, [[0, 90], [90, 109], [109, 128]]);
    let patch = |it: &ItemOrigin| Patch {
        source: it[0],
        i: it[1],
        j: it[2],
    };
    for (x, y) in [("train", "test"), ("train", "val"), ("val", "test")] {
        for p in &m.items[x] {
            for q in &m.items[y] {
                assert!(
                    !patches_overlap(&patch(p), &patch(q), 128, 16, true),
                    "{x} {p:?} / {y} {q:?}"
                );
            }
        }
    }
    assert_eq!(ds.count("train"), 40);
}

#[test]
fn bad_inputs_name_the_file() {
    let d = tempfile::tempdir().unwrap();
    // NaN in a map.
    let (p, mut maps) = write_cmd(d.path(), "Nan", 4, 2, 16);
    maps[[5, 3, 7]] = f32::NAN;
    write_npy_f32(&p, maps.view()).unwrap();
    let e = prepare(&PrepareConfig::new(&p, 8, d.path().join("o1"))).unwrap_err();
    assert!(
        matches!(
            e,
            FieldsError::NonFinite {
                map: 5,
                i: 3,
                j: 7,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("Maps_Mcdm_Nan_LH_z=0.00.npy"));
    // Negative value before log10.
    let (p, mut maps) = write_cmd(d.path(), "Neg", 4, 2, 16);
    maps[[6, 0, 1]] = -2.0;
    write_npy_f32(&p, maps.view()).unwrap();
    let mut cfg = PrepareConfig::new(&p, 8, d.path().join("o2"));
    cfg.split = SplitSpec::parse("0-3,,", 0).unwrap();
    cfg.transform = PointTransform::Log10 { floor: None };
    let e = prepare(&cfg).unwrap_err();
    assert!(
        matches!(
            e,
            FieldsError::NonPositive {
                map: 6,
                i: 0,
                j: 1,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("Maps_Mcdm_Neg_LH_z=0.00.npy"));
    // Params rows not dividing the maps.
    let (p, _) = write_cmd(d.path(), "Rows", 4, 2, 16);
    let params = d.path().join("other_params.txt");
    std::fs::write(&params, "1 2 3 4 5 6\n1 2 3 4 5 6\n1 2 3 4 5 6\n").unwrap();
    let mut cfg = PrepareConfig::new(&p, 8, d.path().join("o3"));
    cfg.params = Some(params);
    let e = prepare(&cfg).unwrap_err().to_string();
    assert!(
        e.contains("other_params.txt") && e.contains("do not divide"),
        "{e}"
    );
    // Resolution that area resampling cannot reach.
    let e = prepare(&PrepareConfig::new(&p, 6, d.path().join("o4")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("bicubic"), "{e}");
    // Not a dataset folder.
    let e = PreparedDataset::open(d.path()).unwrap_err().to_string();
    assert!(e.contains("dataset.json"), "{e}");
}

#[test]
fn real_dust_maps_give_64px_train_and_test_patches_without_overlap() {
    let dust =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/real/mhd_dust_pywph");
    let d = tempfile::tempdir().unwrap();
    // I_3 held out entirely.
    let mut cfg = PrepareConfig::new(dust.join("I_1.npy"), 64, d.path().join("held_out"));
    cfg.inputs = ["I_1.npy", "I_2.npy", "I_3.npy"]
        .iter()
        .map(|f| dust.join(f))
        .collect();
    cfg.patch = Some(64);
    cfg.periodic = Some(true);
    cfg.transform = PointTransform::Log10 { floor: None };
    cfg.split = SplitSpec::parse("0-1,,2", 0).unwrap();
    let ds = prepare(&cfg).unwrap();
    assert_eq!(
        (ds.count("train"), ds.count("val"), ds.count("test")),
        (128, 0, 64)
    );
    assert!(ds.meta.items["test"].iter().all(|it| it[0] == 2));
    let test = ds.load("test").unwrap();
    assert_eq!(test.dim(), (64, 64, 64));
    // The 64 test tiles of I_3 cover it exactly once: their physical mean is the map's mean
    // (0.1119 per the data README).
    let mut phys = test.clone();
    ds.to_physical(&mut phys);
    let mean = phys.iter().map(|&v| v as f64).sum::<f64>() / phys.len() as f64;
    let want = MapStack::open(dust.join("I_3.npy"))
        .unwrap()
        .map(0)
        .mean()
        .unwrap();
    assert!((mean - want).abs() < 1e-6 * want, "{mean} {want}");
    assert!((want - 0.1119).abs() < 1e-4);
    // One map split by region: no test patch overlaps a training patch.
    let mut cfg = PrepareConfig::new(dust.join("I_1.npy"), 64, d.path().join("region"));
    cfg.patch = Some(64);
    cfg.periodic = Some(true);
    cfg.placement = Some(Placement::Grid { stride: 16 });
    let ds = prepare(&cfg).unwrap();
    assert_eq!(ds.meta.split.by, SplitBy::Region);
    let patch = |it: &ItemOrigin| Patch {
        source: it[0],
        i: it[1],
        j: it[2],
    };
    for p in &ds.meta.items["train"] {
        for q in ds.meta.items["test"].iter().chain(&ds.meta.items["val"]) {
            assert!(!patches_overlap(&patch(p), &patch(q), 512, 64, true));
        }
    }
    assert!(ds.count("train") > 500 && ds.count("test") > 0);
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_failed_re_prepare_never_leaves_the_old_manifest_over_new_data() {
    let d = tempfile::tempdir().unwrap();
    let (with_params, _) = write_cmd(d.path(), "Old", 6, 2, 16);
    let out = d.path().join("ds");
    let mut cfg = PrepareConfig::new(&with_params, 8, &out);
    cfg.split = SplitSpec::parse("0-3,4,5", 0).unwrap();
    let old = prepare(&cfg).unwrap();
    assert!(out.join("train_params.npy").exists());

    // Re-prepare other data into the same folder and make it fail part-way (a folder stands
    // where test.npy must go; before the fix, train.npy was already replaced by then and the
    // old dataset.json still described the old data).
    let src = d.path().join("plain");
    std::fs::create_dir_all(&src).unwrap();
    write_dust(&src, 4, 16);
    std::fs::remove_file(out.join("test.npy")).unwrap();
    std::fs::create_dir(out.join("test.npy")).unwrap();
    std::fs::write(out.join("test.npy").join("x"), b"keep me").unwrap();
    let mut cfg2 = PrepareConfig::new(&src, 8, &out);
    cfg2.split = SplitSpec::parse("0-1,2,3", 0).unwrap();
    assert!(prepare(&cfg2).is_err());
    // Either the old set, complete, or no manifest at all: here no manifest.
    match PreparedDataset::open(&out) {
        Ok(ds) => {
            assert_eq!(ds.meta, old.meta);
            assert_eq!(ds.load("train").unwrap().dim().0, ds.count("train"));
        }
        Err(e) => assert!(e.to_string().contains("dataset.json"), "{e}"),
    }
    assert!(!out.join("dataset.json").exists());
    // With the obstacle gone the re-prepare succeeds, and no stale parameter rows remain.
    std::fs::remove_dir_all(out.join("test.npy")).unwrap();
    let new = prepare(&cfg2).unwrap();
    assert!(new.meta.param_names.is_empty());
    assert_eq!(
        files_in(&out),
        [
            "dataset.json",
            "normalization.json",
            "test.npy",
            "train.npy",
            "val.npy"
        ]
    );
    assert_eq!(new.count("train"), 2);
}

#[test]
fn a_cmd_stack_without_its_params_table_is_refused_not_split_by_map() {
    let d = tempfile::tempdir().unwrap();
    let (p, _) = write_cmd(d.path(), "NoTable", 6, 3, 16);
    std::fs::remove_file(d.path().join("params_LH_NoTable.txt")).unwrap();
    let e = prepare(&PrepareConfig::new(&p, 8, d.path().join("o")))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Maps_Mcdm_NoTable_LH_z=0.00.npy")
            && e.contains("params_LH_NoTable.txt")
            && e.contains("--params"),
        "{e}"
    );
    assert!(!d.path().join("o").join("dataset.json").exists());
}

#[test]
fn bad_box_sizes_and_unnamed_params_columns_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let (p, _) = write_cmd(d.path(), "Box", 4, 2, 16);
    for b in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let mut cfg = PrepareConfig::new(&p, 8, d.path().join("o"));
        cfg.box_size = Some(b);
        let e = prepare(&cfg).unwrap_err().to_string();
        assert!(
            e.contains("--box-size") && e.contains("positive"),
            "{b}: {e}"
        );
    }
    // A CMD table with a column lost: 5 columns and no header naming them.
    let t = d.path().join("params_LH_Box.txt");
    std::fs::write(
        &t,
        "0.1 0.6 1 1 1\n0.2 0.7 1 1 1\n0.3 0.8 1 1 1\n0.4 0.9 1 1 1\n",
    )
    .unwrap();
    let e = prepare(&PrepareConfig::new(&p, 8, d.path().join("o")))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("params_LH_Box.txt") && e.contains("5 columns"),
        "{e}"
    );
    // Named columns are another layout, and fine.
    std::fs::write(
        &t,
        "# Om s8 a b c\n0.1 0.6 1 1 1\n0.2 0.7 1 1 1\n0.3 0.8 1 1 1\n0.4 0.9 1 1 1\n",
    )
    .unwrap();
    let ds = prepare(&PrepareConfig::new(&p, 8, d.path().join("o"))).unwrap();
    assert_eq!(ds.param_names(), ["Om", "s8", "a", "b", "c"]);
}

#[test]
fn nan_written_into_train_npy_after_prepare_is_named_before_training() {
    let d = tempfile::tempdir().unwrap();
    let (p, _) = write_cmd(d.path(), "Late", 4, 2, 16);
    let out = d.path().join("ds");
    let ds = prepare(&PrepareConfig::new(&p, 8, &out)).unwrap();
    let mut train = ds.load("train").unwrap();
    train[[1, 2, 3]] = f32::NAN;
    write_npy_f32(out.join("train.npy"), train.view()).unwrap();
    let e = ds.batch_stream(0).err().unwrap().to_string();
    assert!(e.contains("train.npy") && e.contains("non-finite"), "{e}");
}
