//! The workspace's FFT plans: multi-dimensional real FFTs on flat row-major buffers (realfft
//! along the last axis, rustfft along the others), parallel over lines with rayon. The P(k)
//! estimator, `fields::filters` and the simulator all plan through [`FftPlan`].
//!
//! Conventions (the FFTW/numpy ones): `forward` is the unnormalised DFT
//! `F[k] = Σ_x f[x] e^{−2πi k·x/N}`; `inverse` is the unnormalised inverse (no 1/N^d), so
//! `inverse(forward(f)) = N^d f`. The half-spectrum layout is `[..., N/2+1]` along the last axis.

use rayon::prelude::*;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::num_complex::Complex64;
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

/// FFT of every contiguous line of length `fft.len()` in `lines`.
fn fft_lines(lines: &mut [Complex64], fft: &Arc<dyn Fft<f64>>) {
    let n = fft.len();
    let batch = (64 * 1024 / n).max(1) * n;
    lines
        .par_chunks_mut(batch)
        .for_each(|chunk| fft.process(chunk));
}

/// FFT along axis 0 of a `[n0][inner]` buffer, through a transpose so that lines are contiguous.
fn fft_axis0_parallel(data: &mut [Complex64], n0: usize, inner: usize, fft: &Arc<dyn Fft<f64>>) {
    let mut t = vec![Complex64::default(); n0 * inner];
    {
        let src: &[Complex64] = data;
        t.par_chunks_mut(n0).enumerate().for_each(|(r, row)| {
            for (i, v) in row.iter_mut().enumerate() {
                *v = src[i * inner + r];
            }
        });
    }
    fft_lines(&mut t, fft);
    data.par_chunks_mut(inner).enumerate().for_each(|(i, row)| {
        for (r, v) in row.iter_mut().enumerate() {
            *v = t[r * n0 + i];
        }
    });
}

/// Same as [`fft_axis0_parallel`] but serial, for use inside an outer parallel loop.
fn fft_axis0_serial(
    data: &mut [Complex64],
    n0: usize,
    inner: usize,
    fft: &Arc<dyn Fft<f64>>,
    t: &mut Vec<Complex64>,
) {
    t.resize(n0 * inner, Complex64::default());
    for r in 0..inner {
        for i in 0..n0 {
            t[r * n0 + i] = data[i * inner + r];
        }
    }
    fft.process(t);
    for i in 0..n0 {
        for r in 0..inner {
            data[i * inner + r] = t[r * n0 + i];
        }
    }
}

/// Plans for square/cubic grids of side n (the 3D transforms and the simulator need n even).
#[derive(Clone)]
pub struct FftPlan {
    n: usize,
    r2c: Arc<dyn RealToComplex<f64>>,
    c2r: Arc<dyn ComplexToReal<f64>>,
    fwd: Arc<dyn Fft<f64>>,
    inv: Arc<dyn Fft<f64>>,
}

impl FftPlan {
    pub fn new(n: usize) -> Self {
        let mut rp = RealFftPlanner::<f64>::new();
        let mut cp = FftPlanner::<f64>::new();
        FftPlan {
            n,
            r2c: rp.plan_fft_forward(n),
            c2r: rp.plan_fft_inverse(n),
            fwd: cp.plan_fft_forward(n),
            inv: cp.plan_fft_inverse(n),
        }
    }

    /// Grid side.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The forward real-to-complex plan of length n.
    pub fn r2c(&self) -> Arc<dyn RealToComplex<f64>> {
        self.r2c.clone()
    }

    /// The forward complex plan of length n.
    pub fn c2c(&self) -> Arc<dyn Fft<f64>> {
        self.fwd.clone()
    }

    /// Length of the half axis, n/2 + 1.
    pub fn nc(&self) -> usize {
        self.n / 2 + 1
    }

    fn rows_r2c(&self, real: &mut [f64], out: &mut [Complex64]) {
        let (n, nc) = (self.n, self.nc());
        real.par_chunks_mut(n)
            .zip(out.par_chunks_mut(nc))
            .for_each(|(r, c)| {
                self.r2c
                    .process(r, c)
                    .expect("r2c lengths match by construction");
            });
    }

    fn rows_c2r(&self, spec: &mut [Complex64], out: &mut [f64]) {
        let (n, nc) = (self.n, self.nc());
        spec.par_chunks_mut(nc)
            .zip(out.par_chunks_mut(n))
            .for_each(|(c, r)| {
                // The DC (and, for even n, Nyquist) bins of a real signal are real; drop
                // round-off imaginary parts so realfft accepts them.
                c[0].im = 0.0;
                if n % 2 == 0 {
                    c[nc - 1].im = 0.0;
                }
                self.c2r
                    .process(c, r)
                    .expect("c2r lengths match by construction");
            });
    }

    /// Forward 2D DFT of an n×n real field (row-major). `real` is used as scratch.
    pub fn forward_2d(&self, real: &mut [f64]) -> Vec<Complex64> {
        let (n, nc) = (self.n, self.nc());
        assert_eq!(real.len(), n * n);
        let mut out = vec![Complex64::default(); n * nc];
        self.rows_r2c(real, &mut out);
        fft_axis0_parallel(&mut out, n, nc, &self.fwd);
        out
    }

    /// Unnormalised inverse 2D DFT of an n×(n/2+1) half spectrum. `spec` is used as scratch.
    pub fn inverse_2d(&self, spec: &mut [Complex64]) -> Vec<f64> {
        let (n, nc) = (self.n, self.nc());
        assert_eq!(spec.len(), n * nc);
        fft_axis0_parallel(spec, n, nc, &self.inv);
        let mut out = vec![0.0; n * n];
        self.rows_c2r(spec, &mut out);
        out
    }

    /// Forward 3D DFT of an n³ real field (row-major, last axis fastest). `real` is scratch.
    pub fn forward_3d(&self, real: &mut [f64]) -> Vec<Complex64> {
        let (n, nc) = (self.n, self.nc());
        assert_eq!(real.len(), n * n * n);
        let mut out = vec![Complex64::default(); n * n * nc];
        self.rows_r2c(real, &mut out);
        out.par_chunks_mut(n * nc)
            .for_each_init(Vec::new, |t, block| {
                fft_axis0_serial(block, n, nc, &self.fwd, t)
            });
        fft_axis0_parallel(&mut out, n, n * nc, &self.fwd);
        out
    }

    /// Unnormalised inverse 3D DFT of an n×n×(n/2+1) half spectrum. `spec` is scratch.
    pub fn inverse_3d(&self, spec: &mut [Complex64]) -> Vec<f64> {
        let (n, nc) = (self.n, self.nc());
        assert_eq!(spec.len(), n * n * nc);
        fft_axis0_parallel(spec, n, n * nc, &self.inv);
        spec.par_chunks_mut(n * nc)
            .for_each_init(Vec::new, |t, block| {
                fft_axis0_serial(block, n, nc, &self.inv, t)
            });
        let mut out = vec![0.0; n * n * n];
        self.rows_c2r(spec, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(f: &[f64], n: usize, d: usize, k: &[usize]) -> Complex64 {
        let mut s = Complex64::default();
        for (idx, v) in f.iter().enumerate() {
            let mut phase = 0.0;
            let mut rem = idx;
            for ax in (0..d).rev() {
                let x = rem % n;
                rem /= n;
                phase += (k[ax] * x) as f64;
            }
            s += Complex64::from_polar(*v, -2.0 * std::f64::consts::PI * phase / n as f64);
        }
        s
    }

    /// Forward transforms equal the naive DFT, and inverse(forward(f)) = N^d f.
    #[test]
    fn matches_naive_dft_and_roundtrips() {
        let n = 6;
        let plan = FftPlan::new(n);
        let nc = n / 2 + 1;
        let f3: Vec<f64> = (0..n * n * n)
            .map(|i| ((i * 7919) % 101) as f64 / 10.0 - 3.0)
            .collect();
        let spec = plan.forward_3d(&mut f3.clone());
        for a in 0..n {
            for b in 0..n {
                for c in 0..nc {
                    let want = naive(&f3, n, 3, &[a, b, c]);
                    assert!(
                        (spec[(a * n + b) * nc + c] - want).norm() < 1e-9,
                        "3D mode ({a},{b},{c})"
                    );
                }
            }
        }
        let back = plan.inverse_3d(&mut spec.clone());
        for (x, y) in back.iter().zip(&f3) {
            assert!((x / (n * n * n) as f64 - y).abs() < 1e-12);
        }
        let f2: Vec<f64> = (0..n * n).map(|i| ((i * 31) % 17) as f64 - 8.0).collect();
        let spec = plan.forward_2d(&mut f2.clone());
        for a in 0..n {
            for c in 0..nc {
                assert!(
                    (spec[a * nc + c] - naive(&f2, n, 2, &[a, c])).norm() < 1e-9,
                    "2D mode ({a},{c})"
                );
            }
        }
        let back = plan.inverse_2d(&mut spec.clone());
        for (x, y) in back.iter().zip(&f2) {
            assert!((x / (n * n) as f64 - y).abs() < 1e-12);
        }
    }
}
