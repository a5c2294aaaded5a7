//! Second-order Lagrangian perturbation theory (2LPT) initial conditions.
//!
//! Particles start on a regular lattice q = (i, j, k)·L/N_p and are displaced by
//! x = q + D₁ s⁽¹⁾ + D₂ s⁽²⁾ with s⁽¹⁾ = −∇φ⁽¹⁾, ∇²φ⁽¹⁾ = δ₀ (the linear density at z = 0) and
//! s⁽²⁾ = ∇φ⁽²⁾, ∇²φ⁽²⁾ = Σ_{i<j} [φ⁽¹⁾_{,ii} φ⁽¹⁾_{,jj} − (φ⁽¹⁾_{,ij})²] (Scoccimarro 1998).
//! D₁ = D(a)/D(1), D₂ ≈ −(3/7) D₁² Ω_m(a)^{−1/143}. Momenta are p = a² dx/dt (time in 1/H₀,
//! lengths in Mpc/h): p = a² E(a) [f₁ D₁ s⁽¹⁾ + f₂ D₂ s⁽²⁾] with f₂ ≈ 2 Ω_m(a)^{6/11}.

use crate::cosmology::Cosmology;
use crate::grf::{gaussian_modes_3d, par_modes_3d};
use crate::Particles;
use rayon::prelude::*;
use rustfft::num_complex::Complex64;
use stats::fft::FftPlan;
use std::f64::consts::PI;

/// Real-space field from `spec` multiplied mode by mode with `mult(k_int)` (k_int the integer
/// wavenumbers), divided by n³ so that it is the inverse of the forward DFT.
fn filtered(
    plan: &FftPlan,
    spec: &[Complex64],
    mult: impl Fn([i64; 3]) -> Complex64 + Sync,
) -> Vec<f64> {
    let n = plan.n();
    let mut s = spec.to_vec();
    par_modes_3d(n, &mut s, |z, k| *z *= mult(k));
    let mut f = plan.inverse_3d(&mut s);
    let norm = 1.0 / (n as f64).powi(3);
    f.par_iter_mut().for_each(|v| *v *= norm);
    f
}

/// i·k_i for a gradient, zero at the Nyquist index (an odd operator there would break the
/// Hermitian symmetry of a real field).
#[inline]
pub(crate) fn ik(k: i64, n: usize, kf: f64) -> f64 {
    if k.unsigned_abs() as usize == n / 2 {
        0.0
    } else {
        kf * k as f64
    }
}

/// The two displacement fields (each 3 components of N_p³ values) for the linear density modes
/// `delta` at z = 0 (half spectrum, unnormalised-DFT convention).
pub fn lpt_displacements(
    plan: &FftPlan,
    box_size: f64,
    delta: &[Complex64],
) -> ([Vec<f64>; 3], [Vec<f64>; 3]) {
    let n = plan.n();
    let kf = 2.0 * PI / box_size;
    let k2 = |k: [i64; 3]| kf * kf * (k[0] * k[0] + k[1] * k[1] + k[2] * k[2]) as f64;
    // s1 = -∇φ1, φ1 = -δ/k²  ⇒  s1_k = i k δ / k².
    let s1: [Vec<f64>; 3] = std::array::from_fn(|d| {
        filtered(plan, delta, |k| {
            let kk = k2(k);
            if kk == 0.0 {
                Complex64::default()
            } else {
                Complex64::new(0.0, ik(k[d], n, kf) / kk)
            }
        })
    });
    // φ1,ij = k_i k_j δ / k² (mixed terms use the gradient rule at Nyquist).
    let pair = |i: usize, j: usize| {
        filtered(plan, delta, move |k| {
            let kk = k2(k);
            if kk == 0.0 {
                return Complex64::default();
            }
            let v = if i == j {
                (kf * k[i] as f64).powi(2)
            } else {
                ik(k[i], n, kf) * ik(k[j], n, kf)
            };
            Complex64::new(v / kk, 0.0)
        })
    };
    let (pxx, pyy, pzz) = (pair(0, 0), pair(1, 1), pair(2, 2));
    let (pxy, pxz, pyz) = (pair(0, 1), pair(0, 2), pair(1, 2));
    let mut src: Vec<f64> = (0..pxx.len())
        .into_par_iter()
        .map(|i| {
            pxx[i] * pyy[i] + pxx[i] * pzz[i] + pyy[i] * pzz[i]
                - pxy[i] * pxy[i]
                - pxz[i] * pxz[i]
                - pyz[i] * pyz[i]
        })
        .collect();
    let src_k = plan.forward_3d(&mut src);
    // φ2 = -S/k², s2 = +∇φ2 ⇒ s2_k = -i k S / k².
    let s2: [Vec<f64>; 3] = std::array::from_fn(|d| {
        filtered(plan, &src_k, |k| {
            let kk = k2(k);
            if kk == 0.0 {
                Complex64::default()
            } else {
                Complex64::new(0.0, -ik(k[d], n, kf) / kk)
            }
        })
    });
    (s1, s2)
}

/// 2LPT particles at scale factor `a_init`: N_p³ particles on a lattice in a periodic box of side
/// `box_size` (Mpc/h), Gaussian linear field of `cosmo` drawn with `seed`.
pub fn initial_conditions(
    cosmo: &Cosmology,
    n_side: usize,
    box_size: f64,
    a_init: f64,
    seed: u64,
) -> Particles {
    let plan = FftPlan::new(n_side);
    let delta = gaussian_modes_3d(&plan, box_size, |k| cosmo.power_linear(k), seed);
    let (s1, s2) = lpt_displacements(&plan, box_size, &delta);
    let d1 = cosmo.growth(a_init) / cosmo.growth_today();
    let om_a = cosmo.omega_m_a(a_init);
    let d2 = -3.0 / 7.0 * d1 * d1 * om_a.powf(-1.0 / 143.0);
    let f1 = cosmo.growth_rate(a_init);
    let f2 = 2.0 * om_a.powf(6.0 / 11.0);
    let pfac = a_init * a_init * cosmo.e_of_a(a_init);
    let cell = box_size / n_side as f64;
    let n = n_side;
    let (pos, mom): (Vec<[f64; 3]>, Vec<[f64; 3]>) = (0..n * n * n)
        .into_par_iter()
        .map(|idx| {
            let q = [
                (idx / (n * n)) as f64 * cell,
                ((idx / n) % n) as f64 * cell,
                (idx % n) as f64 * cell,
            ];
            let mut x = [0.0; 3];
            let mut p = [0.0; 3];
            for d in 0..3 {
                x[d] = (q[d] + d1 * s1[d][idx] + d2 * s2[d][idx]).rem_euclid(box_size);
                p[d] = pfac * (f1 * d1 * s1[d][idx] + f2 * d2 * s2[d][idx]);
            }
            // rem_euclid can return box_size itself for tiny negative inputs.
            for v in x.iter_mut() {
                if *v >= box_size {
                    *v -= box_size;
                }
            }
            (x, p)
        })
        .unzip();
    Particles {
        pos,
        mom,
        a: a_init,
        box_size,
        n_side,
    }
}
