use super::*;
use crate::io::MapStack;
use crate::rng::substream;
use ndarray::{Array, Array3};
use rand::Rng;

fn fixture(name: &str) -> Array2<f64> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    MapStack::open(&p).unwrap().map(0)
}

fn random_positive(side: usize, seed: u64) -> Array2<f64> {
    let mut rng = substream(seed, &[]);
    Array::from_shape_fn((side, side), |_| 10f64.powf(rng.gen_range(-3.0..5.0)))
}

#[test]
fn log10_round_trip() {
    let x = random_positive(32, 1);
    let mut y = x.clone();
    let t = PointTransform::Log10 { floor: None };
    t.apply_map(y.view_mut(), Path::new("mem"), 0).unwrap();
    assert!((y[[3, 4]] - x[[3, 4]].log10()).abs() < 1e-15);
    let mut back = y.clone();
    t.invert_f64(&mut back);
    Zip::from(&back)
        .and(&x)
        .for_each(|b, a| assert!(((b - a) / a).abs() < 1e-13));
    // f32 path: relative error of float32 only.
    let mut y32 = y.mapv(|v| v as f32);
    t.invert(&mut y32);
    Zip::from(&y32)
        .and(&x)
        .for_each(|b, a| assert!(((*b as f64 - a) / a).abs() < 1e-5));
}

#[test]
fn log10_rejects_non_positive_unless_floored() {
    let mut x = random_positive(8, 2);
    x[[5, 6]] = 0.0;
    x[[7, 7]] = -1.0;
    let t = PointTransform::Log10 { floor: None };
    let e = t
        .apply_map(x.view_mut(), Path::new("dust.npy"), 3)
        .unwrap_err();
    assert!(
        matches!(
            e,
            FieldsError::NonPositive {
                map: 3,
                i: 5,
                j: 6,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("dust.npy"));
    let t = PointTransform::Log10 { floor: Some(1e-6) };
    t.apply_map(x.view_mut(), Path::new("dust.npy"), 3).unwrap();
    assert_eq!(x[[5, 6]], -6.0);
    assert_eq!(x[[7, 7]], -6.0);
    assert!(PointTransform::Log10 { floor: Some(0.0) }
        .apply_map(x.view_mut(), Path::new("m"), 0)
        .is_err());
}

#[test]
fn area_downsampling_conserves_the_mean_exactly() {
    // Integer values: every partial sum is exact in f64, so the means agree bit for bit.
    let mut rng = substream(3, &[]);
    let x = Array::from_shape_fn((64, 64), |_| rng.gen_range(0..1000) as f64);
    for f in [2, 4, 8, 64] {
        let y = downsample_area(x.view(), f).unwrap();
        assert_eq!(y.dim(), (64 / f, 64 / f));
        assert_eq!(
            y.sum() / y.len() as f64,
            x.sum() / x.len() as f64,
            "factor {f}"
        );
    }
    // Arbitrary reals: equal to rounding.
    let x = random_positive(256, 4);
    let y = downsample_area(x.view(), 4).unwrap();
    let (mx, my) = (x.mean().unwrap(), y.mean().unwrap());
    assert!(((mx - my) / mx).abs() < 1e-13);
    // Each output pixel is its block's mean.
    let block = x.slice(ndarray::s![4..8, 8..12]).mean().unwrap();
    assert!((y[[1, 2]] - block).abs() < 1e-12 * block.abs());
    assert!(downsample_area(x.view(), 3).is_err());
    assert!(resize(x.view(), 100, Resample::Area, true).is_err());
}

#[test]
fn bicubic_matches_torch_antialiased_interpolate() {
    let x = fixture("resize_in_32.npy");
    for out in [16, 8, 12] {
        let want = fixture(&format!("resize_bicubic_aa_{out}.npy"));
        let got = resize_bicubic_aa(x.view(), out, false);
        let err = (&got - &want).mapv(f64::abs).fold(0.0f64, |a, &b| a.max(b));
        assert!(err < 1e-9, "{out}: max |diff| {err}");
    }
}

#[test]
fn periodic_bicubic_is_translation_equivariant_and_keeps_constants() {
    let c = Array2::<f64>::from_elem((32, 32), 2.5);
    let y = resize_bicubic_aa(c.view(), 8, true);
    assert!(y.iter().all(|v| (v - 2.5).abs() < 1e-12));
    let x = random_positive(32, 5);
    // Shift the input by one output pixel (4 input pixels): the output shifts by one.
    let shifted = Array::from_shape_fn((32, 32), |(i, j)| x[[(i + 4) % 32, (j + 8) % 32]]);
    let a = resize_bicubic_aa(x.view(), 8, true);
    let b = resize_bicubic_aa(shifted.view(), 8, true);
    for ((i, j), v) in b.indexed_iter() {
        assert!((v - a[[(i + 1) % 8, (j + 2) % 8]]).abs() < 1e-9 * v.abs().max(1.0));
    }
}

#[test]
fn normalise_then_denormalise_is_identity() {
    let mut rng = substream(6, &[]);
    let data = Array3::from_shape_fn((4, 16, 16), |_| rng.gen_range(-3.0f32..7.0));
    for norm in [
        Normalization::fit_minmax(data.iter()).unwrap(),
        Normalization::fit_standard(data.iter()).unwrap(),
    ] {
        let mut y = data.clone();
        norm.apply(&mut y);
        if let Normalization::MinMax { .. } = norm {
            let lo = y.iter().cloned().fold(f32::INFINITY, f32::min);
            let hi = y.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            assert!(
                (lo + 1.0).abs() < 1e-6 && (hi - 1.0).abs() < 1e-6,
                "{lo} {hi}"
            );
        } else {
            let n = y.len() as f64;
            let m = y.iter().map(|&v| v as f64).sum::<f64>() / n;
            let s = (y.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / n).sqrt();
            assert!(m.abs() < 1e-6 && (s - 1.0).abs() < 1e-5, "{m} {s}");
        }
        norm.invert(&mut y);
        Zip::from(&y)
            .and(&data)
            .for_each(|b, a| assert!((b - a).abs() <= 1e-6 * a.abs().max(1.0), "{a} {b}"));
        assert!((norm.invert_value(norm.apply_value(0.37)) - 0.37).abs() < 1e-12);
        // JSON round trip.
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("norm.json");
        norm.save_json(&p).unwrap();
        assert_eq!(Normalization::load_json(&p).unwrap(), norm);
    }
    assert!(Normalization::fit_minmax([1.0f32, 1.0].iter()).is_err());
    assert!(Normalization::fit_standard([].iter()).is_err());
}
