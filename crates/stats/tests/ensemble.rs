//! Ensemble summaries and set-vs-set comparison.

use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use stats::ensemble::{percentile_sorted, Band, StatComparison};
use stats::{
    compare, measure, measure_many, pixel_distance, Ensemble, MfConvention, PowerSpectrumPlan,
    StatsConfig, Transform,
};

fn cfg() -> StatsConfig {
    StatsConfig {
        box_size: 25.0,
        transform: Transform::Identity,
        edges: (0..=16).map(|i| -4.0 + 0.5 * i as f64).collect(),
        thresholds: (0..9).map(|i| -2.0 + 0.5 * i as f64).collect(),
        convention: MfConvention::Periodic,
    }
}

fn map(i: usize, scale: f64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(i as u64);
    Array2::from_shape_simple_fn((32, 32), || {
        let z: f64 = StandardNormal.sample(&mut rng);
        scale * z
    })
}

#[test]
fn percentiles_follow_numpy_linear_rule() {
    let v: Vec<f64> = (1..=10).map(f64::from).collect();
    // np.percentile(np.arange(1, 11), [5, 50, 95]) = [1.45, 5.5, 9.55]
    assert!((percentile_sorted(&v, 0.05) - 1.45).abs() < 1e-12);
    assert!((percentile_sorted(&v, 0.5) - 5.5).abs() < 1e-12);
    assert!((percentile_sorted(&v, 0.95) - 9.55).abs() < 1e-12);
    let band = Band::from_rows(&[&[1.0, 10.0], &[3.0, 10.0]]).unwrap();
    assert_eq!(band.mean, vec![2.0, 10.0]);
    assert_eq!(band.std, vec![1.0, 0.0]); // population std
}

#[test]
fn measure_many_is_in_order_and_equals_single_measurements() {
    let c = cfg();
    let many = measure_many(12, 32, &c, |i| Ok::<_, String>(map(i, 1.0)), || {}).unwrap();
    let plan = PowerSpectrumPlan::new(32, 25.0).unwrap();
    for (i, m) in many.iter().enumerate() {
        assert_eq!(
            m,
            &measure(map(i, 1.0).view(), &plan, &c).unwrap(),
            "map {i}"
        );
    }
    let err = measure_many(
        3,
        32,
        &c,
        |i| {
            if i == 2 {
                Err("truncated")
            } else {
                Ok(map(i, 1.0))
            }
        },
        || {},
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "map 2: truncated");
}

#[test]
fn comparison_of_a_set_with_itself_and_with_a_rescaled_set() {
    let c = cfg();
    let a = measure_many(40, 32, &c, |i| Ok::<_, String>(map(i, 1.0)), || {}).unwrap();
    let b = measure_many(40, 32, &c, |i| Ok::<_, String>(map(1000 + i, 2.0)), || {}).unwrap();
    let (ea, eb) = (
        Ensemble::from_maps(&a).unwrap(),
        Ensemble::from_maps(&b).unwrap(),
    );
    let same = compare(&ea, &ea).unwrap();
    assert_eq!(same.power_spectrum.reduced_chi2, Some(0.0));
    assert!(same.power_spectrum.ratio_of_means.iter().all(|r| *r == 1.0));
    let diff = compare(&ea, &eb).unwrap();
    // P scales with the variance: ratio ≈ 4 in every bin, and far outside A's scatter.
    let r = &diff.power_spectrum.ratio_of_means;
    let mean_ratio = r.iter().sum::<f64>() / r.len() as f64;
    assert!((mean_ratio - 4.0).abs() < 0.2, "mean ratio {mean_ratio}");
    assert!(diff.power_spectrum.reduced_chi2.unwrap() > 100.0);
    // the reduced χ² formula itself
    let sa = Band {
        mean: vec![1.0, 2.0, 3.0],
        std: vec![0.5, 0.0, 2.0],
        p05: vec![0.0; 3],
        p95: vec![0.0; 3],
    };
    let sb = Band {
        mean: vec![2.0, 5.0, 4.0],
        ..sa.clone()
    };
    let cmp = StatComparison::new(&sa, &sb);
    assert_eq!(cmp.n_bins_used, 2); // σ_A = 0 bin left out
    assert_eq!(cmp.reduced_chi2, Some((1.0 / 0.25 + 1.0 / 4.0) / 1.0));
}

#[test]
fn wasserstein_and_ks_on_known_samples() {
    // Shift by c: W1 = c. Disjoint supports: KS = 1.
    let a: Vec<f64> = (0..100).map(|i| i as f64 / 10.0).collect();
    let b: Vec<f64> = a.iter().map(|x| x + 100.0).collect();
    let d = pixel_distance(a.clone(), b).unwrap();
    assert!((d.wasserstein1 - 100.0).abs() < 1e-9);
    assert_eq!(d.ks, 1.0);
    // Identical samples (with ties): both zero.
    let d = pixel_distance(vec![1.0, 1.0, 2.0], vec![2.0, 1.0, 1.0]).unwrap();
    assert_eq!((d.wasserstein1, d.ks), (0.0, 0.0));
    // {0, 1} vs {0, 0, 1, 1, 1, 1}: F differs by 1/2 − 1/3 on [0, 1): W1 = KS = 1/6.
    let d = pixel_distance(vec![0.0, 1.0], vec![0.0, 0.0, 1.0, 1.0, 1.0, 1.0]).unwrap();
    assert!((d.wasserstein1 - 1.0 / 6.0).abs() < 1e-15 && (d.ks - 1.0 / 6.0).abs() < 1e-15);
    assert!(pixel_distance(vec![], vec![1.0]).is_err());
}

#[test]
fn errors_name_the_value() {
    let mut f = map(0, 1.0);
    f[[3, 5]] = f64::NAN;
    let e = stats::power_spectrum(f.view(), 25.0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("[3, 5]"), "{e}");
    let e = stats::minkowski(map(0, 1.0).view(), &[0.0, 1.0, 1.0], MfConvention::Periodic)
        .unwrap_err()
        .to_string();
    assert!(e.contains("thresholds[2] = 1"), "{e}");
    let e = stats::power_spectrum(Array2::<f64>::zeros((4, 5)).view(), 25.0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("4x5"), "{e}");
    let e = Transform::Log10
        .apply(Array2::<f64>::zeros((2, 2)).view())
        .unwrap_err()
        .to_string();
    assert!(e.contains("[0, 0] = 0"), "{e}");
    assert!(stats::power_spectrum(Array2::<f64>::zeros((0, 0)).view(), 25.0).is_err());
    assert!(stats::power_spectrum(map(0, 1.0).view(), -1.0).is_err());
}

#[test]
fn default_thresholds_span_the_1st_to_99th_percentile() {
    let sorted: Vec<f64> = (0..=100).map(f64::from).collect();
    assert_eq!(
        stats::ensemble::percentile_thresholds(&sorted, 3).unwrap(),
        vec![1.0, 50.0, 99.0]
    );
    // a constant map gets a unit range around the value
    assert_eq!(
        stats::ensemble::percentile_thresholds(&[4.0; 10], 3).unwrap(),
        vec![3.5, 4.0, 4.5]
    );
    // fewer than 2 thresholds, or absurdly many, are refused with the count in the message
    for n in [0, 1, stats::histogram::MAX_BINS + 1] {
        let e = stats::ensemble::percentile_thresholds(&sorted, n).unwrap_err();
        assert!(e.to_string().contains(&format!("= {n}")), "{e}");
    }
    assert!(stats::histogram::check_bin_count(0).is_err());
    assert!(stats::histogram::check_bin_count(100_000_000_000).is_err());
    assert_eq!(stats::histogram::check_bin_count(40), Ok(40));
}
