//! 2D power spectrum, reproducing Pylians3 `Pk_library.Pk_plane(delta, BoxSize, MAS='None')`
//! (docs/conventions.md §1), in f64 for square maps of any side N (odd too) and any box size L.
//!
//! Conventions, exactly:
//! * `F[a,b] = Σ_ij f[i,j] exp(−2πi(a·i + b·j)/N)`, unnormalised; the field is used as given
//!   (no mean subtraction; DC only disappears because bin 0 is dropped).
//! * Index a → integer wavenumber `a if a ≤ N/2 else a − N`, so an even-N Nyquist index is +N/2.
//!   kx runs along axis 0 (rows), ky along axis 1.
//! * Half plane: ky = 0..N/2 (the rfft columns); on row ky = 0, and for even N also on
//!   ky = N/2, modes with kx < 0 are skipped, so each ± pair and each self-conjugate mode
//!   counts once.
//! * Bin b = floor(sqrt(kx² + ky²)) computed from the integers (no physical edges), b = 1..kmax,
//!   kmax = floor(sqrt(2)·(N/2)); bin 0 (the DC mode) is dropped.
//! * `k_b = (2π/L)·mean(q)` in h/Mpc, `P_b = (L/N²)²·mean|F|²` in (field units)²·(Mpc/h)², and
//!   `nmodes_b` the number of modes (a float, as Pylians stores it). No window deconvolution.

use crate::error::{check_square_finite, Result, StatsError};
use ndarray::ArrayView2;
use realfft::num_complex::Complex;
use realfft::RealToComplex;
use rustfft::Fft;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Per-thread FFT buffers, reused between maps.
#[derive(Default)]
struct Work {
    row: Vec<f64>,
    rows: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    spec: Vec<Complex<f64>>,
    cscratch: Vec<Complex<f64>>,
}

thread_local! {
    static WORK: std::cell::RefCell<Work> = std::cell::RefCell::new(Work::default());
}

/// One measured power spectrum; the three vectors have length kmax (bins 1..=kmax).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerSpectrum {
    /// Mean |k| of the modes in each bin, h/Mpc.
    pub k: Vec<f64>,
    /// Power, (field units)²·(Mpc/h)².
    pub pk: Vec<f64>,
    /// Number of independent (half-plane) modes per bin.
    pub nmodes: Vec<f64>,
}

/// Integer wavenumber of FFT index `a` for side `n`, with an even-N Nyquist index → +N/2.
pub fn wavenumber(a: usize, n: usize) -> i64 {
    if a <= n / 2 {
        a as i64
    } else {
        a as i64 - n as i64
    }
}

/// Number of output bins, `floor(sqrt(2·m·m))` with m = N/2 (Pylians' `int(np.sqrt(2*m*m))`).
pub fn n_bins(n: usize) -> usize {
    let m = (n / 2) as f64;
    (2.0 * m * m).sqrt().floor() as usize
}

/// A reusable plan for side N and box size L: the FFTs and the mode → bin table.
/// Shareable between threads (`compute` takes `&self`).
pub struct PowerSpectrumPlan {
    n: usize,
    box_size: f64,
    r2c: Arc<dyn RealToComplex<f64>>,
    c2c: Arc<dyn Fft<f64>>,
    /// Output bin (0-based, i.e. bin index − 1) of the mode stored at `b·N + a` in the
    /// transposed spectrum (b = ky index, a = kx index); `u32::MAX` for skipped modes and DC.
    bin_of_mode: Vec<u32>,
    k: Vec<f64>,
    nmodes: Vec<f64>,
}

impl PowerSpectrumPlan {
    /// Builds the plan. `box_size` is L in Mpc/h (any positive unit works; k is 2π/L-scaled).
    pub fn new(n: usize, box_size: f64) -> Result<Self> {
        if n == 0 {
            return Err(StatsError::Empty { rows: 0, cols: 0 });
        }
        if !(box_size.is_finite() && box_size > 0.0) {
            return Err(StatsError::BadBoxSize(box_size));
        }
        let nb = n_bins(n);
        let half = n / 2;
        let ncols = half + 1;
        let mut bin_of_mode = vec![u32::MAX; ncols * n];
        let mut qsum = vec![0.0f64; nb];
        let mut count = vec![0.0f64; nb];
        for b in 0..ncols {
            let ky = b as i64; // b ≤ N/2, so the column index is the wavenumber itself
                               // Rows ky = 0 and (even N) ky = N/2 hold both members of each ± pair: keep kx ≥ 0.
            let edge_row = b == 0 || (n & 1 == 0 && b == half);
            for a in 0..n {
                let kx = wavenumber(a, n);
                if edge_row && kx < 0 {
                    continue;
                }
                // sqrt is correctly rounded, so perfect squares land exactly on their bin.
                let q = ((kx * kx + ky * ky) as f64).sqrt();
                let bin = q.floor() as usize;
                if bin == 0 {
                    continue; // only DC: dropped, as in Pylians
                }
                bin_of_mode[b * n + a] = (bin - 1) as u32;
                qsum[bin - 1] += q;
                count[bin - 1] += 1.0;
            }
        }
        let kf = 2.0 * std::f64::consts::PI / box_size;
        let k = qsum.iter().zip(&count).map(|(s, c)| kf * s / c).collect();
        let plan = crate::fft::FftPlan::new(n);
        let (r2c, c2c) = (plan.r2c(), plan.c2c());
        Ok(Self {
            n,
            box_size,
            r2c,
            c2c,
            bin_of_mode,
            k,
            nmodes: count,
        })
    }

    /// Side N the plan was built for.
    pub fn side(&self) -> usize {
        self.n
    }

    /// Box size L the plan was built for, Mpc/h.
    pub fn box_size(&self) -> f64 {
        self.box_size
    }

    /// P(k) of one N×N map (already transformed; see [`crate::Transform`]).
    pub fn compute(&self, f: ArrayView2<f64>) -> Result<PowerSpectrum> {
        let n = check_square_finite(f)?;
        if n != self.n {
            return Err(StatsError::Mismatch(format!(
                "map side {n} but the P(k) plan is for side {}",
                self.n
            )));
        }
        let ncols = n / 2 + 1;
        let sum = WORK.with_borrow_mut(|w| {
            // Buffers live per thread and are reused: a fresh 0.5 MB spectrum per 256² map would
            // cost page faults and zeroing comparable to the FFT itself.
            let zero = Complex::new(0.0, 0.0);
            w.row.resize(n, 0.0);
            w.scratch.resize(self.r2c.get_scratch_len(), zero);
            w.spec.resize(ncols * n, zero);
            w.cscratch.resize(self.c2c.get_inplace_scratch_len(), zero);
            // 1. rfft along axis 1 (contiguous rows) into a row-major (N, N/2+1) buffer,
            // 2. a cache-blocked transpose, so that 3. the FFTs along axis 0 run over contiguous
            //    chunks of length N. (Scattering each row straight into the transposed layout
            //    strides by N·16 bytes, 4 KiB at N = 256, and thrashes one L1 set.)
            w.rows.resize(ncols * n, zero);
            for (frow, out) in f.outer_iter().zip(w.rows.chunks_exact_mut(ncols)) {
                for (dst, src) in w.row.iter_mut().zip(frow.iter()) {
                    *dst = *src;
                }
                self.r2c
                    .process_with_scratch(&mut w.row, out, &mut w.scratch)
                    .expect("buffer lengths come from the plan");
            }
            transpose::transpose(&w.rows, &mut w.spec, ncols, n);
            self.c2c.process_with_scratch(&mut w.spec, &mut w.cscratch);
            // 4. Bin |F|² with the precomputed table; f64 sums, two interleaved so that
            //    neighbouring modes of one bin do not wait on each other's additions.
            let nb = self.k.len();
            let mut sums = vec![0.0f64; 2 * nb];
            for (pair, bins) in w.spec.chunks(2).zip(self.bin_of_mode.chunks(2)) {
                for (lane, (v, &bin)) in pair.iter().zip(bins).enumerate() {
                    if bin != u32::MAX {
                        sums[2 * bin as usize + lane] += v.norm_sqr();
                    }
                }
            }
            (0..nb)
                .map(|b| sums[2 * b] + sums[2 * b + 1])
                .collect::<Vec<f64>>()
        });
        let n2 = (n * n) as f64;
        let norm = (self.box_size / n2) * (self.box_size / n2);
        let pk = sum
            .iter()
            .zip(&self.nmodes)
            .map(|(s, c)| norm * s / c)
            .collect();
        Ok(PowerSpectrum {
            k: self.k.clone(),
            pk,
            nmodes: self.nmodes.clone(),
        })
    }
}

/// One-off P(k) of a square map with box size L (Mpc/h). Build a [`PowerSpectrumPlan`] once
/// when measuring many maps of the same side.
pub fn power_spectrum(f: ArrayView2<f64>, box_size: f64) -> Result<PowerSpectrum> {
    let n = check_square_finite(f)?;
    PowerSpectrumPlan::new(n, box_size)?.compute(f)
}
