//! Invariants that must hold exactly (or within sampling error) for any field.

use ndarray::{s, Array2, ArrayView2};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use stats::minkowski::{bit_quad_counts, Boundary};
use stats::{histogram, power_spectrum};

fn noise(n: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_simple_fn((n, n), || StandardNormal.sample(&mut rng))
}

/// The 8 symmetries of the square (periodic maps: flips are shifts of reflections).
fn dihedral(f: ArrayView2<f64>, which: u8) -> Array2<f64> {
    let g = if which & 4 != 0 { f.t() } else { f };
    let g = if which & 1 != 0 {
        g.slice_move(s![..;-1, ..])
    } else {
        g
    };
    let g = if which & 2 != 0 {
        g.slice_move(s![.., ..;-1])
    } else {
        g
    };
    g.to_owned()
}

fn roll(f: &Array2<f64>, di: usize, dj: usize) -> Array2<f64> {
    let n = f.nrows();
    Array2::from_shape_fn((n, n), |(i, j)| f[[(i + di) % n, (j + dj) % n]])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn pk_invariant_under_shifts_and_dihedral(n in 3usize..40, seed: u64, di in 0usize..40, dj in 0usize..40, which in 0u8..8) {
        let f = noise(n, seed).mapv(|v| v + 0.5);
        let p0 = power_spectrum(f.view(), 25.0).unwrap();
        let g = dihedral(roll(&f, di % n, dj % n).view(), which);
        let p1 = power_spectrum(g.view(), 25.0).unwrap();
        prop_assert_eq!(&p0.nmodes, &p1.nmodes);
        prop_assert_eq!(&p0.k, &p1.k);
        let max = p0.pk.iter().cloned().fold(0.0, f64::max);
        for (a, b) in p0.pk.iter().zip(&p1.pk) {
            prop_assert!((a - b).abs() <= 1e-9 * a.abs() + 1e-13 * max, "{} vs {}", a, b);
        }
    }

    /// Without ties, {−f > −u} is the complement of {f > u} on the torus:
    /// V0(−f, −u) = 1 − V0(f, u) and χ₈ of the set = −χ₄ of the complement, exactly.
    #[test]
    fn torus_duality(n in 2usize..33, seed: u64, raw in prop::collection::vec(-2.5f64..2.5, 1..12)) {
        let f = noise(n, seed);
        let mut u = raw;
        u.sort_by(f64::total_cmp);
        u.dedup();
        prop_assume!(u.iter().all(|t| f.iter().all(|v| v != t)));
        let neg_f = f.mapv(|v| -v);
        let neg_u: Vec<f64> = u.iter().rev().map(|t| -t).collect();
        let a = bit_quad_counts(f.view(), &u, Boundary::Periodic).unwrap();
        let mut b = bit_quad_counts(neg_f.view(), &neg_u, Boundary::Periodic).unwrap();
        b.reverse();
        let n2 = (n * n) as u64;
        for (x, y) in a.iter().zip(&b) {
            prop_assert_eq!(x.n_above + y.n_above, n2);
            prop_assert_eq!(x.chi8(), -y.chi4());
            prop_assert_eq!(x.chi4(), -y.chi8());
            prop_assert_eq!(x.n_boundary_edges, y.n_boundary_edges);
            // (ms length is not dual: saddle cells join the above set, which flips with the sign)
        }
    }

    /// Open-boundary χ₈ = 8-connected components of the set − holes (4-connected components of
    /// the complement that do not reach the outside), by flood fill: an independent oracle.
    #[test]
    fn open_euler_equals_components_minus_holes(n in 1usize..14, seed: u64, p in 0.1f64..0.9) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let f = Array2::from_shape_simple_fn((n, n), || if rng.gen::<f64>() < p { 1.0 } else { 0.0 });
        let c = bit_quad_counts(f.view(), &[0.5], Boundary::Open).unwrap()[0];
        let set = f.mapv(|v| v > 0.5);
        let (components, _) = label(&set, true);
        // complement in the image padded by one ring: the ring's component is the outside
        let mut comp = Array2::from_elem((n + 2, n + 2), true);
        comp.slice_mut(s![1..=n, 1..=n]).assign(&set.mapv(|b| !b));
        let (bg, _) = label(&comp, false);
        prop_assert_eq!(c.chi8(), components as f64 - (bg - 1) as f64);
        // and χ₄ = 4-components − 8-connected holes
        let (c4, _) = label(&set, false);
        let (bg8, _) = label(&comp, true);
        prop_assert_eq!(c.chi4(), c4 as f64 - (bg8 - 1) as f64);
    }

    /// Bit-quad counts against a per-threshold brute force on the torus, for uniform thresholds
    /// on a field quantised to the same grid (many exact ties x == u, the strict-> rule's edge).
    #[test]
    fn counts_match_brute_force_with_ties(n in 2usize..20, seed: u64, nt in 1usize..12, step in 1u32..4) {
        let du = 0.25 * step as f64;
        let f = noise(n, seed).mapv(|v| (v * 4.0).round() / 4.0);
        let u: Vec<f64> = (0..nt).map(|t| -1.5 + du * t as f64).collect();
        let got = bit_quad_counts(f.view(), &u, Boundary::Periodic).unwrap();
        for (t, &ut) in u.iter().enumerate() {
            let b = |i: usize, j: usize| f[[i % n, j % n]] > ut;
            let (mut q1, mut q3, mut qd, mut edges, mut above) = (0u64, 0u64, 0u64, 0u64, 0u64);
            for i in 0..n {
                for j in 0..n {
                    let w = [b(i, j), b(i + 1, j), b(i + 1, j + 1), b(i, j + 1)];
                    match w.iter().filter(|&&x| x).count() {
                        1 => q1 += 1,
                        3 => q3 += 1,
                        2 if w[0] == w[2] => qd += 1,
                        _ => {}
                    }
                    edges += (b(i, j) != b(i + 1, j)) as u64 + (b(i, j) != b(i, j + 1)) as u64;
                    above += b(i, j) as u64;
                }
            }
            let g = &got[t];
            prop_assert_eq!((g.q1, g.q3, g.qd, g.n_boundary_edges, g.n_above), (q1, q3, qd, edges, above), "u = {}", ut);
        }
    }

    #[test]
    fn histogram_matches_linear_scan(n in 1usize..20, seed: u64, mut edges in prop::collection::vec(-3.0f64..3.0, 2..10)) {
        edges.sort_by(f64::total_cmp);
        edges.dedup();
        prop_assume!(edges.len() >= 2);
        // round values to a coarse grid so some land exactly on edges
        let f = noise(n, seed).mapv(|v| (v * 4.0).round() / 4.0);
        let mut e = edges.clone();
        e[0] = -0.5; // an exactly representable edge that ties happen on
        e.sort_by(f64::total_cmp);
        e.dedup();
        prop_assume!(e.len() >= 2);
        let h = histogram(f.view(), &e).unwrap();
        let last = e.len() - 1;
        let mut counts = vec![0u64; last];
        for &x in f.iter() {
            for m in 0..last {
                if e[m] <= x && (x < e[m + 1] || (m == last - 1 && x == e[last])) {
                    counts[m] += 1;
                }
            }
        }
        prop_assert_eq!(&h.counts, &counts);
        prop_assert_eq!(h.n_below, f.iter().filter(|&&x| x < e[0]).count() as u64);
        prop_assert_eq!(h.n_above, f.iter().filter(|&&x| x > e[last]).count() as u64);
    }
}

/// Connected components of the `true` pixels (no wrap) with 8- or 4-connectivity.
fn label(b: &Array2<bool>, eight: bool) -> (usize, Array2<usize>) {
    let (h, w) = b.dim();
    let mut lab = Array2::zeros((h, w));
    let mut count = 0;
    for start in 0..h * w {
        let (si, sj) = (start / w, start % w);
        if !b[[si, sj]] || lab[[si, sj]] != 0 {
            continue;
        }
        count += 1;
        let mut stack = vec![(si, sj)];
        lab[[si, sj]] = count;
        while let Some((i, j)) = stack.pop() {
            for di in -1i64..=1 {
                for dj in -1i64..=1 {
                    if (di == 0 && dj == 0) || (!eight && di != 0 && dj != 0) {
                        continue;
                    }
                    let (ni, nj) = (i as i64 + di, j as i64 + dj);
                    if ni < 0 || nj < 0 || ni >= h as i64 || nj >= w as i64 {
                        continue;
                    }
                    let (ni, nj) = (ni as usize, nj as usize);
                    if b[[ni, nj]] && lab[[ni, nj]] == 0 {
                        lab[[ni, nj]] = count;
                        stack.push((ni, nj));
                    }
                }
            }
        }
    }
    (count, lab)
}

/// White noise of variance σ² has E[P] = L²σ²/N² in every bin; the bin mean of nmodes
/// exponential |F|² has relative standard deviation 1/√nmodes. The corner bins hold a handful of
/// modes (bin 45 of N = 64 only the real mode (32, 32), χ²₁-distributed), so the test uses bins
/// with ≥ 20 modes. Fixed seeds: deterministic.
#[test]
fn white_noise_is_flat_within_sampling_error() {
    let (n, l, sigma) = (64usize, 25.0, 1.7);
    let expected = l * l * sigma * sigma / (n * n) as f64;
    for seed in 0..8 {
        let f = noise(n, 1000 + seed).mapv(|v| sigma * v);
        let ps = power_spectrum(f.view(), l).unwrap();
        let mut chi2 = 0.0;
        let mut nb = 0.0;
        for (b, (p, m)) in ps
            .pk
            .iter()
            .zip(&ps.nmodes)
            .enumerate()
            .filter(|(_, (_, m))| **m >= 20.0)
        {
            nb += 1.0;
            let z = (p / expected - 1.0) * m.sqrt();
            chi2 += z * z;
            assert!(
                z.abs() < 6.0,
                "seed {seed} bin {}: P/E = {} with {m} modes",
                b + 1,
                p / expected
            );
        }
        assert!(nb >= 30.0);
        assert!(
            (chi2 - nb).abs() < 6.0 * (2.0 * nb).sqrt(),
            "seed {seed}: chi2 {chi2} over {nb} bins"
        );
    }
}
