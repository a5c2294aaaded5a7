//! Gaussian and lognormal random fields on periodic 2D/3D grids, with any isotropic P(k).
//!
//! Normalisation (the same as the stats estimator, Pylians `Pk_plane` convention): with F the
//! unnormalised forward DFT of the field, the expected power is
//! **P(k) = (L^d / N^{2d}) ⟨|F(k)|²⟩**, L the box side in Mpc/h, N the grid side, d = 2 or 3.
//! Equivalently the field variance is (1/L^d) Σ_k P(k) over all modes k ≠ 0.
//!
//! Construction: unit white noise in real space → forward DFT → multiply by
//! sqrt(P(|k|) N^d / L^d) → inverse DFT / N^d. Starting in real space makes the field exactly real
//! and Hermitian-symmetric, including the self-conjugate Nyquist modes. The k = 0 mode is set to 0
//! (zero-mean field). Wavenumbers are |k| = (2π/L) sqrt(Σ k_i²) with the integer k_i from
//! [`stats::power_spectrum::wavenumber`]. Same seed, same field: the noise comes from ChaCha20 with one
//! stream per plane, so results do not depend on the number of threads.

use ndarray::{Array2, Array3};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use rustfft::num_complex::Complex64;
use stats::fft::FftPlan;
use stats::power_spectrum::wavenumber;
use std::f64::consts::PI;

/// Unit-variance white noise on n^d points (d = 2 or 3), one ChaCha20 stream per outermost index.
pub(crate) fn white_noise(n: usize, d: u32, seed: u64) -> Vec<f64> {
    let plane = n.pow(d - 1);
    let mut v = vec![0.0; n * plane];
    v.par_chunks_mut(plane).enumerate().for_each(|(i, chunk)| {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        rng.set_stream(i as u64);
        for x in chunk.iter_mut() {
            *x = StandardNormal.sample(&mut rng);
        }
    });
    v
}

/// Calls `f(flat_index, k_squared_integer)` for every half-spectrum mode of an n² grid.
pub(crate) fn modes_2d(n: usize, mut f: impl FnMut(usize, [i64; 2])) {
    let nc = n / 2 + 1;
    for a in 0..n {
        let kx = wavenumber(a, n);
        for b in 0..nc {
            f(a * nc + b, [kx, b as i64]);
        }
    }
}

/// Half-spectrum (n×n×(n/2+1)) modes of an n³ grid, in parallel over the first axis.
pub(crate) fn par_modes_3d<T: Send>(n: usize, spec: &mut [T], f: impl Fn(&mut T, [i64; 3]) + Sync) {
    let nc = n / 2 + 1;
    spec.par_chunks_mut(n * nc)
        .enumerate()
        .for_each(|(a, block)| {
            let kx = wavenumber(a, n);
            for b in 0..n {
                let ky = wavenumber(b, n);
                for c in 0..nc {
                    f(&mut block[b * nc + c], [kx, ky, c as i64]);
                }
            }
        });
}

/// Fourier modes F(k) (unnormalised-DFT convention, half spectrum n×n×(n/2+1)) of a 3D Gaussian
/// field with power spectrum `pk` (k in h/Mpc → P in (Mpc/h)³). F(0) = 0.
pub fn gaussian_modes_3d(
    plan: &FftPlan,
    box_size: f64,
    pk: impl Fn(f64) -> f64 + Sync,
    seed: u64,
) -> Vec<Complex64> {
    let n = plan.n();
    let mut noise = white_noise(n, 3, seed);
    let mut spec = plan.forward_3d(&mut noise);
    let kf = 2.0 * PI / box_size;
    let scale = (n as f64).powi(3) / box_size.powi(3);
    par_modes_3d(n, &mut spec, |z, k| {
        let q2 = (k[0] * k[0] + k[1] * k[1] + k[2] * k[2]) as f64;
        if q2 == 0.0 {
            *z = Complex64::default();
        } else {
            let p = pk(kf * q2.sqrt()).max(0.0);
            *z *= (p * scale).sqrt();
        }
    });
    spec
}

/// Gaussian random field on an n³ periodic grid of side `box_size` (Mpc/h) with power spectrum
/// `pk(k)` (k in h/Mpc, P in (Mpc/h)³). Zero mean. See the module docs for the normalisation.
/// Panics if n is odd or zero.
pub fn gaussian_field_3d(
    n: usize,
    box_size: f64,
    pk: impl Fn(f64) -> f64 + Sync,
    seed: u64,
) -> Array3<f64> {
    assert!(
        n >= 2 && n.is_multiple_of(2),
        "grid side must be even, got {n}"
    );
    let plan = FftPlan::new(n);
    let mut spec = gaussian_modes_3d(&plan, box_size, pk, seed);
    let mut f = plan.inverse_3d(&mut spec);
    let norm = 1.0 / (n as f64).powi(3);
    f.par_iter_mut().for_each(|v| *v *= norm);
    Array3::from_shape_vec((n, n, n), f).expect("shape matches")
}

/// Gaussian random field on an n×n periodic grid of side `box_size` (Mpc/h) with 2D power
/// spectrum `pk(k)` (k in h/Mpc, P in (field units)²(Mpc/h)²). Zero mean. Panics if n is odd or zero.
pub fn gaussian_field_2d(
    n: usize,
    box_size: f64,
    pk: impl Fn(f64) -> f64 + Sync,
    seed: u64,
) -> Array2<f64> {
    assert!(
        n >= 2 && n.is_multiple_of(2),
        "grid side must be even, got {n}"
    );
    let plan = FftPlan::new(n);
    let mut noise = white_noise(n, 2, seed);
    let mut spec = plan.forward_2d(&mut noise);
    let kf = 2.0 * PI / box_size;
    let scale = (n as f64).powi(2) / box_size.powi(2);
    modes_2d(n, |i, k| {
        let q2 = (k[0] * k[0] + k[1] * k[1]) as f64;
        if q2 == 0.0 {
            spec[i] = Complex64::default();
        } else {
            spec[i] *= (pk(kf * q2.sqrt()).max(0.0) * scale).sqrt();
        }
    });
    let mut f = plan.inverse_2d(&mut spec);
    let norm = 1.0 / (n as f64).powi(2);
    f.iter_mut().for_each(|v| *v *= norm);
    Array2::from_shape_vec((n, n), f).expect("shape matches")
}

/// Power spectrum of the Gaussian field g such that δ = exp(g − σ_g²/2) − 1 has power `pk` on the
/// grid: ξ_δ = IDFT(P)/V, ξ_g = ln(1 + ξ_δ), P_g = V/N^d · DFT(ξ_g) (Coles & Jones 1991, done
/// exactly on the periodic lattice). Negative P_g (the target is not reachable by a lognormal
/// field) are clipped to 0. Returns (P_g on the half spectrum, σ_g²).
fn lognormal_gaussian_power(
    n: usize,
    d: u32,
    box_size: f64,
    pk: &(impl Fn(f64) -> f64 + Sync),
) -> (Vec<f64>, f64) {
    let plan = FftPlan::new(n);
    let kf = 2.0 * PI / box_size;
    let vol = box_size.powi(d as i32);
    let nd = (n as f64).powi(d as i32);
    let nc = n / 2 + 1;
    let mut spec = vec![Complex64::default(); n.pow(d - 1) * nc];
    let fill = |spec: &mut [Complex64], f: &(dyn Fn(f64) -> f64 + Sync)| {
        if d == 2 {
            modes_2d(n, |i, k| {
                spec[i] = Complex64::new(f((k[0] * k[0] + k[1] * k[1]) as f64), 0.0)
            });
        } else {
            par_modes_3d(n, spec, |z, k| {
                *z = Complex64::new(f((k[0] * k[0] + k[1] * k[1] + k[2] * k[2]) as f64), 0.0)
            });
        }
    };
    fill(&mut spec, &|q2| {
        if q2 == 0.0 {
            0.0
        } else {
            pk(kf * q2.sqrt()).max(0.0) / vol
        }
    });
    let mut xi = if d == 2 {
        plan.inverse_2d(&mut spec)
    } else {
        plan.inverse_3d(&mut spec)
    };
    xi.par_iter_mut()
        .for_each(|x| *x = (1.0 + *x).max(1e-300).ln() * vol / nd);
    let pg_spec = if d == 2 {
        plan.forward_2d(&mut xi)
    } else {
        plan.forward_3d(&mut xi)
    };
    let mut pg: Vec<f64> = pg_spec.iter().map(|z| z.re.max(0.0)).collect();
    pg[0] = 0.0;
    // σ_g² = (1/V) Σ_all modes P_g; the half spectrum counts interior columns twice.
    let mut var = 0.0;
    for (i, p) in pg.iter().enumerate() {
        let c = i % nc;
        let w = if c == 0 || c == nc - 1 { 1.0 } else { 2.0 };
        var += w * p;
    }
    (pg, var / vol)
}

fn lognormal_from_gaussian(g: &mut [f64], var: f64) {
    g.par_iter_mut()
        .for_each(|x| *x = (*x - 0.5 * var).exp() - 1.0);
}

/// Lognormal overdensity δ = exp(g − σ_g²/2) − 1 on an n² grid whose power spectrum is `pk`
/// (the target P of δ itself, same convention as [`gaussian_field_2d`]); δ > −1 and ⟨δ⟩ = 0 in
/// expectation. Multiply (1 + δ) by a mean density to get a positive "projected density".
pub fn lognormal_field_2d(
    n: usize,
    box_size: f64,
    pk: impl Fn(f64) -> f64 + Sync,
    seed: u64,
) -> Array2<f64> {
    let (pg, var) = lognormal_gaussian_power(n, 2, box_size, &pk);
    let kf = 2.0 * PI / box_size;
    // Look the Gaussian power up by mode through its integer |k|² key (no interpolation).
    let lookup = lookup_by_q2(&pg, n, 2);
    let mut g = gaussian_field_2d(
        n,
        box_size,
        |k| lookup(((k / kf).powi(2)).round() as i64),
        seed,
    );
    lognormal_from_gaussian(g.as_slice_mut().expect("contiguous"), var);
    g
}

/// 3D version of [`lognormal_field_2d`].
pub fn lognormal_field_3d(
    n: usize,
    box_size: f64,
    pk: impl Fn(f64) -> f64 + Sync,
    seed: u64,
) -> Array3<f64> {
    let (pg, var) = lognormal_gaussian_power(n, 3, box_size, &pk);
    let kf = 2.0 * PI / box_size;
    let lookup = lookup_by_q2(&pg, n, 3);
    let mut g = gaussian_field_3d(
        n,
        box_size,
        |k| lookup(((k / kf).powi(2)).round() as i64),
        seed,
    );
    lognormal_from_gaussian(g.as_slice_mut().expect("contiguous"), var);
    g
}

/// P_g is isotropic up to round-off; map integer |k|² to its mean value over modes.
fn lookup_by_q2(pg: &[f64], n: usize, d: u32) -> impl Fn(i64) -> f64 + Sync {
    let maxq2 = (d as i64) * (n as i64 / 2).pow(2);
    let mut sum = vec![0.0; maxq2 as usize + 1];
    let mut cnt = vec![0.0; maxq2 as usize + 1];
    let nc = n / 2 + 1;
    for (i, p) in pg.iter().enumerate() {
        let c = (i % nc) as i64;
        let rest = i / nc;
        let q2 = if d == 2 {
            let a = wavenumber(rest, n);
            a * a + c * c
        } else {
            let (a, b) = (wavenumber(rest / n, n), wavenumber(rest % n, n));
            a * a + b * b + c * c
        };
        sum[q2 as usize] += p;
        cnt[q2 as usize] += 1.0;
    }
    let table: Vec<f64> = sum
        .iter()
        .zip(&cnt)
        .map(|(s, c)| if *c > 0.0 { s / c } else { 0.0 })
        .collect();
    move |q2: i64| table.get(q2 as usize).copied().unwrap_or(0.0)
}
