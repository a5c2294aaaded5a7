//! The 3D power-spectrum estimator used to validate the simulator, and the expected binned
//! spectra of fields drawn from a given P(k). 2D maps are measured with the `stats` crate's
//! `Pk_plane` estimator (the project's one 2D estimator; a dev-dependency here).
//!
//! Convention (Pylians `Pk_plane`, see docs/conventions.md §1, extended to 3D):
//! P_b = (L^d/N^{2d}) · mean_{modes in b} |F|², F the unnormalised forward DFT of the field as
//! given; bins b = floor(q), q = sqrt(Σ k_i²) in units of k_F = 2π/L, b = 1..=floor(sqrt(d)·N/2);
//! k_b = k_F · mean(q). Only independent modes are counted (one of each ±k pair; self-conjugate
//! modes once), so `nmodes` is the number of independent modes, and for a Gaussian field the
//! relative standard error of P_b is 1/sqrt(nmodes).

use ndarray::ArrayView3;
use stats::fft::FftPlan;
use stats::power_spectrum::wavenumber;
use std::f64::consts::PI;

/// Binned power spectrum. k in h/Mpc, P in (field units)²·(Mpc/h)^d.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PowerSpectrum {
    pub k: Vec<f64>,
    pub pk: Vec<f64>,
    pub nmodes: Vec<f64>,
    /// Bin index b (modes with b ≤ q < b+1, q in units of k_F).
    pub bin: Vec<usize>,
}

/// Whether half-spectrum mode `idx` (indices on the full axes) is the representative of its ± pair.
fn independent(idx: &[usize], n: usize) -> bool {
    let conj: Vec<usize> = idx.iter().map(|&a| (n - a) % n).collect();
    idx <= &conj[..]
}

/// CIC window of one axis, W = sinc²(π k_i / N) (k_i integer), for optional deconvolution.
fn cic_w(k: i64, n: usize) -> f64 {
    if k == 0 {
        return 1.0;
    }
    let x = PI * k as f64 / n as f64;
    (x.sin() / x).powi(2)
}

struct Acc {
    sum_p: Vec<f64>,
    sum_q: Vec<f64>,
    cnt: Vec<f64>,
}

impl Acc {
    fn new(nb: usize) -> Self {
        Acc {
            sum_p: vec![0.0; nb + 1],
            sum_q: vec![0.0; nb + 1],
            cnt: vec![0.0; nb + 1],
        }
    }
    fn add(&mut self, q2: i64, p: f64) {
        let q = (q2 as f64).sqrt();
        let b = q.floor() as usize;
        if b == 0 || b >= self.cnt.len() {
            return;
        }
        self.sum_p[b] += p;
        self.sum_q[b] += q;
        self.cnt[b] += 1.0;
    }
    fn finish(self, kf: f64, norm: f64) -> PowerSpectrum {
        let mut out = PowerSpectrum {
            k: vec![],
            pk: vec![],
            nmodes: vec![],
            bin: vec![],
        };
        for b in 1..self.cnt.len() {
            if self.cnt[b] > 0.0 {
                out.k.push(kf * self.sum_q[b] / self.cnt[b]);
                out.pk.push(norm * self.sum_p[b] / self.cnt[b]);
                out.nmodes.push(self.cnt[b]);
                out.bin.push(b);
            }
        }
        out
    }
}

/// 3D power spectrum of an n³ field in a box of side `box_size` (Mpc/h). With `deconvolve_cic`
/// the estimate of each mode is divided by the CIC window W²(k) = Π_i sinc⁴(πk_i/N) (for fields
/// made by CIC assignment of particles).
pub fn power_spectrum_3d(
    field: ArrayView3<f64>,
    box_size: f64,
    deconvolve_cic: bool,
) -> PowerSpectrum {
    let n = field.shape()[0];
    assert!(
        field.shape() == [n, n, n] && n.is_multiple_of(2),
        "need an even cubic grid"
    );
    let plan = FftPlan::new(n);
    let mut buf: Vec<f64> = field.iter().copied().collect();
    let spec = plan.forward_3d(&mut buf);
    let nc = n / 2 + 1;
    let kmax = ((3.0f64).sqrt() * (n / 2) as f64).floor() as usize;
    let mut acc = Acc::new(kmax);
    for a in 0..n {
        let kx = wavenumber(a, n);
        for b in 0..n {
            let ky = wavenumber(b, n);
            for c in 0..nc {
                if (c == 0 || c == n / 2) && !independent(&[a, b], n) {
                    continue;
                }
                let kz = c as i64;
                let mut p = spec[(a * n + b) * nc + c].norm_sqr();
                if deconvolve_cic {
                    let w = cic_w(kx, n) * cic_w(ky, n) * cic_w(kz, n);
                    p /= w * w;
                }
                acc.add(kx * kx + ky * ky + kz * kz, p);
            }
        }
    }
    acc.finish(2.0 * PI / box_size, box_size.powi(3) / (n as f64).powi(6))
}

/// The expectation of each bin of [`power_spectrum_3d`] for a field drawn with power `pk`:
/// the mean of P(|k|) over the bin's independent modes (not P at the mean k).
pub fn expected_binned_3d(n: usize, box_size: f64, pk: impl Fn(f64) -> f64) -> PowerSpectrum {
    let nc = n / 2 + 1;
    let kf = 2.0 * PI / box_size;
    let kmax = ((3.0f64).sqrt() * (n / 2) as f64).floor() as usize;
    let mut acc = Acc::new(kmax);
    for a in 0..n {
        let kx = wavenumber(a, n);
        for b in 0..n {
            let ky = wavenumber(b, n);
            for c in 0..nc {
                if (c == 0 || c == n / 2) && !independent(&[a, b], n) {
                    continue;
                }
                let q2 = kx * kx + ky * ky + (c * c) as i64;
                acc.add(q2, pk(kf * (q2 as f64).sqrt()));
            }
        }
    }
    acc.finish(kf, 1.0)
}

/// 2D analogue of [`expected_binned_3d`], binned as `stats::power_spectrum` bins.
pub fn expected_binned_2d(n: usize, box_size: f64, pk: impl Fn(f64) -> f64) -> PowerSpectrum {
    let nc = n / 2 + 1;
    let kf = 2.0 * PI / box_size;
    let kmax = ((2.0f64).sqrt() * (n / 2) as f64).floor() as usize;
    let mut acc = Acc::new(kmax);
    for a in 0..n {
        let kx = wavenumber(a, n);
        for c in 0..nc {
            if (c == 0 || c == n / 2) && !independent(&[a], n) {
                continue;
            }
            let q2 = kx * kx + (c * c) as i64;
            acc.add(q2, pk(kf * (q2 as f64).sqrt()));
        }
    }
    acc.finish(kf, 1.0)
}
