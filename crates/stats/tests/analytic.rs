//! Analytic cases, made here (not read from fixtures): plane wave, Parseval, a brute-force DFT
//! for odd N and odd box sizes, shapes with known Euler numbers and level-set lengths.

use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use stats::minkowski::{bit_quad_counts, Boundary};
use stats::power_spectrum::{n_bins, wavenumber};
use stats::{histogram, power_spectrum};
use std::f64::consts::PI;

fn noise(n: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_simple_fn((n, n), || StandardNormal.sample(&mut rng))
}

#[test]
fn bin_counts_follow_pylians() {
    for (n, want) in [
        (16, 11),
        (64, 45),
        (128, 90),
        (96, 67),
        (63, 43),
        (256, 181),
    ] {
        assert_eq!(n_bins(n), want, "N = {n}");
    }
}

#[test]
fn plane_wave_power_only_in_bin_5() {
    let n = 64;
    let f = Array2::from_shape_fn((n, n), |(i, j)| {
        1.0 + 2.0 * (2.0 * PI * (3 * i + 4 * j) as f64 / n as f64 + 0.3).cos()
    });
    let ps = power_spectrum(f.view(), 25.0).unwrap();
    // L²A²/(4·nmodes) with nmodes = 20 in bin 5.
    assert_eq!(ps.nmodes[4], 20.0);
    assert!(
        (ps.pk[4] - 31.25).abs() <= 1e-9 * 31.25,
        "bin 5: {}",
        ps.pk[4]
    );
    for (b, p) in ps.pk.iter().enumerate().filter(|(b, _)| *b != 4) {
        assert!(p.abs() <= 1e-20, "bin {}: {p}", b + 1);
    }
}

/// Σ_b P_b·nmodes_full_b = (L²/N²)·Σ(f − mean)², where the half-plane sums count each ± pair
/// once: Σ_half |F|² = (Σ_all≠0 |F|² + Σ_self-conjugate |F|²)/2.
#[test]
fn parseval() {
    for (n, l) in [(64usize, 25.0f64), (63, 7.5), (17, 1000.0), (32, 1.0)] {
        let f = noise(n, n as u64);
        let ps = power_spectrum(f.view(), l).unwrap();
        let n4 = (n * n * n * n) as f64;
        let half_sum: f64 = ps
            .pk
            .iter()
            .zip(&ps.nmodes)
            .map(|(p, c)| p * c)
            .sum::<f64>()
            * n4
            / (l * l);
        // self-conjugate modes of even N, by direct sums (independent of the FFT)
        let mut sc = 0.0;
        if n % 2 == 0 {
            let sign = |k: usize| if k & 1 == 0 { 1.0 } else { -1.0 };
            let f_n0: f64 = f.indexed_iter().map(|((i, _), v)| v * sign(i)).sum();
            let f_0n: f64 = f.indexed_iter().map(|((_, j), v)| v * sign(j)).sum();
            let f_nn: f64 = f.indexed_iter().map(|((i, j), v)| v * sign(i + j)).sum();
            sc = f_n0 * f_n0 + f_0n * f_0n + f_nn * f_nn;
        }
        let all_nonzero = 2.0 * half_sum - sc;
        let mean = f.mean().unwrap();
        let var_sum: f64 = f.iter().map(|v| (v - mean) * (v - mean)).sum();
        let want = (n * n) as f64 * var_sum;
        assert!(
            (all_nonzero - want).abs() <= 1e-10 * want,
            "N = {n}: {all_nonzero} vs {want}"
        );
    }
}

/// The docs/conventions.md §1 algorithm written the slow, obvious way: O(N⁴) DFT, then half-plane binning.
fn brute_force_pk(f: &Array2<f64>, l: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = f.nrows();
    let nb = n_bins(n);
    let (mut ks, mut ps, mut cs) = (vec![0.0; nb], vec![0.0; nb], vec![0.0; nb]);
    for a in 0..n {
        for b in 0..=n / 2 {
            let (kx, ky) = (wavenumber(a, n), b as i64);
            if (b == 0 || (n & 1 == 0 && b == n / 2)) && kx < 0 {
                continue;
            }
            let q = ((kx * kx + ky * ky) as f64).sqrt();
            let bin = q.floor() as usize;
            if bin == 0 {
                continue;
            }
            let (mut re, mut im) = (0.0, 0.0);
            for ((i, j), v) in f.indexed_iter() {
                let ph = -2.0 * PI * ((a * i + b * j) % n) as f64 / n as f64;
                re += v * ph.cos();
                im += v * ph.sin();
            }
            ks[bin - 1] += q;
            ps[bin - 1] += re * re + im * im;
            cs[bin - 1] += 1.0;
        }
    }
    let n2 = (n * n) as f64;
    let k = ks
        .iter()
        .zip(&cs)
        .map(|(s, c)| 2.0 * PI / l * s / c)
        .collect();
    let p = ps
        .iter()
        .zip(&cs)
        .map(|(s, c)| (l / n2) * (l / n2) * s / c)
        .collect();
    (k, p, cs)
}

#[test]
fn odd_and_even_sides_match_brute_force_dft() {
    for (n, l) in [
        (5usize, 1.0f64),
        (7, 25.0),
        (9, 3.3),
        (15, 205.0),
        (16, 25.0),
        (21, 0.5),
    ] {
        let f = noise(n, 100 + n as u64).mapv(|v| v + 2.0);
        let ps = power_spectrum(f.view(), l).unwrap();
        let (k, p, c) = brute_force_pk(&f, l);
        assert_eq!(ps.nmodes, c, "N = {n}: nmodes");
        let total: f64 = c.iter().sum();
        let want_total = if n % 2 == 0 {
            (n * n - 4) / 2 + 3
        } else {
            (n * n - 1) / 2
        } as f64;
        assert_eq!(
            total, want_total,
            "N = {n}: half-plane mode count without DC"
        );
        for b in 0..k.len() {
            assert!((ps.k[b] - k[b]).abs() <= 1e-12 * k[b], "N = {n} k[{b}]");
            assert!(
                (ps.pk[b] - p[b]).abs() <= 1e-9 * p[b],
                "N = {n} P[{b}]: {} vs {}",
                ps.pk[b],
                p[b]
            );
        }
    }
}

fn shape(n: usize, inside: impl Fn(f64, f64) -> bool) -> Array2<f64> {
    Array2::from_shape_fn(
        (n, n),
        |(i, j)| if inside(i as f64, j as f64) { 1.0 } else { 0.0 },
    )
}

#[test]
fn euler_numbers_of_disk_annulus_two_disks() {
    let n = 128;
    let r2 = |i: f64, j: f64, ci: f64, cj: f64| (i - ci).powi(2) + (j - cj).powi(2);
    let cases = [
        (
            "disk",
            shape(n, |i, j| r2(i, j, 50.3, 70.9) <= 22.0 * 22.0),
            1.0,
        ),
        (
            "annulus",
            shape(n, |i, j| {
                (144.0..=900.0).contains(&r2(i, j, 64.0, 64.0)) && r2(i, j, 64.0, 64.0) > 144.0
            }),
            0.0,
        ),
        (
            "two disks",
            shape(n, |i, j| {
                r2(i, j, 30.0, 30.0) <= 15.0 * 15.0 || r2(i, j, 90.0, 80.0) <= 20.0 * 20.0
            }),
            2.0,
        ),
        (
            "three disks, one with a hole",
            shape(n, |i, j| {
                let d = r2(i, j, 30.0, 30.0);
                (d <= 15.0 * 15.0 && d > 25.0)
                    || r2(i, j, 90.0, 80.0) <= 20.0 * 20.0
                    || r2(i, j, 100.0, 20.0) <= 100.0
            }),
            2.0,
        ),
    ];
    for (name, f, chi) in cases {
        for b in [Boundary::Periodic, Boundary::Open] {
            let c = bit_quad_counts(f.view(), &[0.5], b).unwrap()[0];
            assert_eq!(c.chi8(), chi, "{name} {b:?} chi8");
            assert_eq!(c.chi4(), chi, "{name} {b:?} chi4");
        }
    }
    // Torus topology: the full set and a wrapping stripe have χ = 0, a torus with one hole −1.
    let full = Array2::<f64>::ones((16, 16));
    let stripe = shape(16, |i, _| (3.0..6.0).contains(&i));
    let holed = shape(16, |i, j| !(i == 5.0 && j == 9.0));
    for (name, f, chi) in [
        ("full", full, 0.0),
        ("stripe", stripe, 0.0),
        ("holed torus", holed, -1.0),
    ] {
        let c = bit_quad_counts(f.view(), &[0.5], Boundary::Periodic).unwrap()[0];
        assert_eq!(c.chi8(), chi, "{name}");
    }
}

#[test]
fn level_set_lengths_of_a_gaussian_blob() {
    // exp(−r²/(2s²)) > u ⇔ r < R with u = exp(−R²/(2s²)); marching squares ≈ 2πR.
    let (n, s) = (128, 12.0);
    let f = Array2::from_shape_fn((n, n), |(i, j)| {
        let r2 = (i as f64 - 63.3).powi(2) + (j as f64 - 64.6).powi(2);
        (-r2 / (2.0 * s * s)).exp()
    });
    for r in [10.0, 20.0, 30.0, 40.0] {
        let u = (-r * r / (2.0 * s * s)).exp();
        let c = bit_quad_counts(f.view(), &[u], Boundary::Periodic).unwrap()[0];
        let rel = c.ms_length_pix / (2.0 * PI * r) - 1.0;
        assert!(
            rel.abs() < 2e-3,
            "R = {r}: length {} vs {}",
            c.ms_length_pix,
            2.0 * PI * r
        );
        assert!(
            (c.n_above as f64 / (PI * r * r) - 1.0).abs() < 0.02,
            "R = {r}: area"
        );
        assert_eq!(c.chi8(), 1.0);
    }
}

#[test]
fn histogram_last_bin_closed_and_outside_counted() {
    let f = Array2::from_shape_vec((2, 3), vec![-1.0, 0.0, 0.5, 1.0, 2.0, 2.5]).unwrap();
    let h = histogram(f.view(), &[0.0, 1.0, 2.0]).unwrap();
    assert_eq!(h.counts, vec![2, 2]); // [0,1): 0, 0.5; [1,2]: 1, 2
    assert_eq!((h.n_below, h.n_above, h.n_total), (1, 1, 6));
    assert!(histogram(f.view(), &[0.0, 0.0]).is_err());
}
