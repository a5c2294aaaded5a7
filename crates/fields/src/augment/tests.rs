use super::*;
use crate::rng::substream;
use ndarray::{array, Array};
use rand_distr_free::gaussian_field;

/// A correlated random periodic field (smoothed white noise), without extra dependencies.
mod rand_distr_free {
    use super::*;
    pub fn gaussian_field(n: usize, seed: u64) -> Array2<f64> {
        let mut rng = substream(seed, &[]);
        let w = Array::from_shape_fn((n, n), |_| rng.gen_range(-1.0..1.0f64));
        // Periodic 5×5 box blur, asymmetric weights so no symmetry is built in.
        Array::from_shape_fn((n, n), |(i, j)| {
            let mut s = 0.0;
            for a in 0..5 {
                for b in 0..5 {
                    s += w[[(i + a) % n, (j + b) % n]] * (1.0 + 0.1 * a as f64 + 0.03 * b as f64);
                }
            }
            s
        })
    }
}

fn sorted(v: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = v.collect();
    v.sort_by(f64::total_cmp);
    v
}

#[test]
fn dihedral_matches_numpy_rot90_and_fliplr() {
    let m = array![[1, 2], [3, 4]];
    assert_eq!(
        Dihedral {
            rot: 1,
            flip: false
        }
        .apply(m.view()),
        array![[2, 4], [1, 3]]
    );
    assert_eq!(
        Dihedral {
            rot: 2,
            flip: false
        }
        .apply(m.view()),
        array![[4, 3], [2, 1]]
    );
    assert_eq!(
        Dihedral { rot: 0, flip: true }.apply(m.view()),
        array![[2, 1], [4, 3]]
    );
    // rot90(fliplr(m)) = [[1, 3], [2, 4]] (the transpose).
    assert_eq!(
        Dihedral { rot: 1, flip: true }.apply(m.view()),
        array![[1, 3], [2, 4]]
    );
}

#[test]
fn dihedral_group_closure_inverse_and_distinctness() {
    let m = gaussian_field(7, 1);
    let all = Dihedral::all();
    let images: Vec<Array2<f64>> = all.iter().map(|g| g.apply(m.view())).collect();
    for a in 0..8 {
        assert_eq!(Dihedral::from_index(a as u8).index(), a as u8);
        for b in a + 1..8 {
            assert_ne!(images[a], images[b], "{a} {b}");
        }
    }
    for g in all {
        for h in all {
            let seq = h.apply(g.apply(m.view()).view());
            assert_eq!(g.then(h).apply(m.view()), seq);
        }
        assert_eq!(g.inverse().apply(g.apply(m.view()).view()), m);
        assert_eq!(g.then(g.inverse()), Dihedral::IDENTITY);
    }
}

#[test]
fn rolls_follow_numpy_and_invert() {
    let m = Array::from_shape_fn((4, 4), |(i, j)| (4 * i + j) as i32);
    let r = roll(m.view(), 1, 3);
    // np.roll(m, (1, 3), axis=(0, 1))[1, 3] == m[0, 0]
    assert_eq!(r[[1, 3]], 0);
    assert_eq!(r[[0, 0]], m[[3, 1]]);
    assert_eq!(roll(r.view(), 3, 1), m);
    assert_eq!(roll(m.view(), 4, 8), m);
}

#[test]
fn augmentation_permutes_pixels_only() {
    let m = gaussian_field(16, 2).mapv(|v| v as f32);
    let want = sorted(m.iter().map(|&v| v as f64));
    for g in Dihedral::all() {
        for (di, dj) in [(0, 0), (3, 11), (15, 1)] {
            let mut out = Array2::<f32>::zeros((16, 16));
            augment_into(m.view(), out.view_mut(), g, di, dj);
            assert_eq!(out, g.apply(roll(m.view(), di, dj).view()));
            assert_eq!(sorted(out.iter().map(|&v| v as f64)), want);
        }
    }
}

#[test]
fn augmentation_keeps_pk_pdf_and_minkowski_functionals() {
    let n = 64;
    let m = gaussian_field(n, 3);
    let base_pk = stats::power_spectrum(m.view(), 25.0).unwrap();
    let edges = stats::uniform_edges(-8.0, 8.0, 40);
    let base_h = stats::histogram(m.view(), &edges).unwrap();
    let thr: Vec<f64> = (-6..=6).map(|t| t as f64).collect();
    let base_mf = stats::minkowski(m.view(), &thr, stats::MfConvention::Periodic).unwrap();
    let close = |a: &[f64], b: &[f64], what: &str| {
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() <= 1e-9 * x.abs().max(1e-12),
                "{what}: {x} vs {y}"
            );
        }
    };
    for g in Dihedral::all() {
        for (di, dj) in [(0, 0), (5, 40)] {
            let t = g.apply(roll(m.view(), di, dj).view());
            let pk = stats::power_spectrum(t.view(), 25.0).unwrap();
            close(&base_pk.pk, &pk.pk, "P(k)");
            assert_eq!(base_pk.k, pk.k);
            assert_eq!(
                stats::histogram(t.view(), &edges).unwrap().counts,
                base_h.counts
            );
            let mf = stats::minkowski(t.view(), &thr, stats::MfConvention::Periodic).unwrap();
            close(&base_mf.v0, &mf.v0, "V0");
            close(&base_mf.v1, &mf.v1, "V1");
            close(&base_mf.v2, &mf.v2, "V2");
        }
    }
}

fn stream(n: usize, seed: u64, augment: Augment) -> BatchStream {
    let data = Array3::from_shape_fn((n, 8, 8), |(m, i, j)| (m * 100 + i * 8 + j) as f32);
    let params = Array2::from_shape_fn((n, 2), |(m, p)| (m * 10 + p) as f32);
    BatchStream::new(data, Some(params), seed, augment).unwrap()
}

#[test]
fn batches_are_a_pure_function_of_seed_and_step() {
    let a = stream(10, 7, Augment::for_data(true));
    let b = stream(10, 7, Augment::for_data(true));
    // Different call orders, separate instances: same batches.
    let fwd: Vec<_> = (0..6).map(|s| a.batch_at(s, 4)).collect();
    for s in (0..6).rev() {
        assert_eq!(b.batch_at(s, 4), fwd[s as usize]);
        assert_eq!(b.params_at(s, 4), a.params_at(s, 4));
    }
    assert_eq!(
        stream(10, 7, Augment::for_data(true)).batch_at(123_456, 4),
        a.batch_at(123_456, 4)
    );
    assert_ne!(
        stream(10, 8, Augment::for_data(true)).batch_at(0, 4),
        fwd[0]
    );
}

#[test]
fn epochs_visit_every_map_once_and_items_match_their_draws() {
    for (n, bs) in [(10usize, 5usize), (10, 3), (7, 7), (5, 16)] {
        let s = stream(n, 11, Augment::for_data(true));
        let steps = 40u64;
        let items: Vec<usize> = (0..steps).flat_map(|st| s.indices_at(st, bs)).collect();
        let mut epochs_seen = 0;
        for chunk in items.chunks_exact(n) {
            let mut c = chunk.to_vec();
            c.sort_unstable();
            assert_eq!(c, (0..n).collect::<Vec<_>>(), "n={n} bs={bs}");
            epochs_seen += 1;
        }
        assert!(epochs_seen >= 3);
        // Successive epochs are shuffled differently.
        assert_ne!(items[..n], items[n..2 * n]);
        let batch = s.batch_at(3, bs);
        let params = s.params_at(3, bs).unwrap();
        for k in 0..bs {
            let d = s.draw(3, bs, k);
            let want = d
                .dihedral
                .apply(roll(s.data().index_axis(Axis(0), d.index), d.shift.0, d.shift.1).view());
            assert_eq!(batch.index_axis(Axis(0), k), want);
            assert_eq!(params[[k, 1]], (d.index * 10 + 1) as f32);
        }
    }
}

#[test]
fn augment_switches() {
    let s = stream(6, 1, Augment::NONE);
    let b = s.batch_at(2, 6);
    for (k, idx) in s.indices_at(2, 6).into_iter().enumerate() {
        assert_eq!(b.index_axis(Axis(0), k), s.data().index_axis(Axis(0), idx));
    }
    let s = stream(6, 1, Augment::for_data(false));
    assert!((0..50).all(|st| s.draw(st, 6, 0).shift == (0, 0)));
    assert!((0..50).any(|st| s.draw(st, 6, 0).dihedral != Dihedral::IDENTITY));
    let s = stream(6, 1, Augment::for_data(true));
    assert!((0..50).any(|st| s.draw(st, 6, 0).shift != (0, 0)));
    assert!(BatchStream::new(Array3::zeros((0, 4, 4)), None, 0, Augment::NONE).is_err());
    assert!(BatchStream::new(
        Array3::zeros((3, 4, 4)),
        Some(Array2::zeros((2, 1))),
        0,
        Augment::NONE
    )
    .is_err());
}
