//! Bin positions of many values against evenly spaced edges, vectorised and exact.
//!
//! The position of x is the number of edges below it: #{e < x} for an MF level (x is in the
//! excursion set of u iff x > u) or #{e ≤ x} for a histogram (e_m ≤ x < e_{m+1} is bin m; the
//! last bin closed as numpy's).
//! When the edges are exactly `numpy.linspace`'s (as [`crate::uniform_edges`] and the default
//! thresholds are), any edge can be recomputed bit for bit from its index, k·step + lo, so a value's
//! position is guessed arithmetically, moved by at most one step each way by comparing with the
//! recomputed edges, and verified — no table lookups, so the loop becomes SIMD code (AVX-512,
//! AVX2 or the baseline, chosen at run time). If any value fails the verification the caller
//! redoes the slice by search. The result is therefore always the count of the very
//! comparisons the definitions use.

/// Whether an edge equal to the value counts as below it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Side {
    /// #{e < x}
    Strict,
    /// #{e ≤ x}, except that x equal to the last edge gets m, not m + 1 (numpy's closed last
    /// histogram bin).
    InclusiveClosed,
}

/// Edges e_0 … e_m equal to `numpy.linspace(lo, hi, m + 1)`: e_k = k·((hi − lo)/m) + lo for
/// k < m, e_m = hi.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Linspace {
    lo: f64,
    hi: f64,
    step: f64,
    m: i32,
    inv_step: f64,
}

impl Linspace {
    /// Recognises such edges (at least two, strictly increasing).
    pub(crate) fn detect(edges: &[f64]) -> Option<Self> {
        let m = edges
            .len()
            .checked_sub(1)
            .filter(|&m| m >= 1 && m < i32::MAX as usize)?;
        let (lo, hi) = (edges[0], edges[m]);
        let span = hi - lo;
        if !(span > 0.0 && span.is_finite()) {
            return None;
        }
        let s = Linspace {
            lo,
            hi,
            step: span / m as f64,
            m: m as i32,
            inv_step: m as f64 / span,
        };
        (0..m)
            .all(|k| s.inner_edge(k as f64) == edges[k])
            .then_some(s)
    }

    /// Multiply and add only (Rust never fuses them), so SIMD lanes give numpy's bits.
    #[inline(always)]
    fn inner_edge(&self, k: f64) -> f64 {
        k * self.step + self.lo
    }

    /// Edge k for any integral k (as f64, so the SIMD loop needs no integer conversions):
    /// −∞ below 0, hi at m, +∞ above m, so two edges bracket every value.
    #[inline(always)]
    fn edge(&self, k: f64) -> f64 {
        let m = self.m as f64;
        let e = if k == m { self.hi } else { self.inner_edge(k) };
        let e = if k < 0.0 { f64::NEG_INFINITY } else { e };
        if k > m {
            f64::INFINITY
        } else {
            e
        }
    }

    /// Positions of all values, and whether every one passed verification (if not, the
    /// positions are not to be used).
    pub(crate) fn positions(&self, x: &[f64], side: Side) -> (Vec<u32>, bool) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                // SAFETY: the feature this function was compiled for was just detected.
                return unsafe { self.positions_avx512(x, side) };
            }
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: as above.
                return unsafe { self.positions_avx2(x, side) };
            }
        }
        self.positions_impl(x, side)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn positions_avx512(&self, x: &[f64], side: Side) -> (Vec<u32>, bool) {
        self.positions_impl(x, side)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn positions_avx2(&self, x: &[f64], side: Side) -> (Vec<u32>, bool) {
        self.positions_impl(x, side)
    }

    #[inline(always)]
    fn positions_impl(&self, x: &[f64], side: Side) -> (Vec<u32>, bool) {
        match side {
            Side::Strict => self.positions_with(x, |e, v| e < v, false),
            Side::InclusiveClosed => self.positions_with(x, |e, v| e <= v, true),
        }
    }

    #[inline(always)]
    fn positions_with(
        &self,
        x: &[f64],
        below: impl Fn(f64, f64) -> bool,
        closed_last: bool,
    ) -> (Vec<u32>, bool) {
        let top = (self.m + 1) as f64;
        let mut out = vec![0u32; x.len()];
        let mut ok = true;
        for (p, &v) in out.iter_mut().zip(x) {
            // position g: edge g − 1 below v, edge g not; guess it from the spacing
            let g = ((v - self.lo) * self.inv_step + 1.0)
                .clamp(0.0, top)
                .floor();
            let (e_lo, e_hi) = (self.edge(g - 1.0), self.edge(g));
            let down = !below(e_lo, v);
            let up = below(e_hi, v);
            // one step either way; the edge on the far side of that step checks it
            let far = self.edge(if down { g - 2.0 } else { g + 1.0 });
            let (lo, hi, g) = if down {
                (far, e_lo, g - 1.0)
            } else if up {
                (e_hi, far, g + 1.0)
            } else {
                (e_lo, e_hi, g)
            };
            ok &= below(lo, v) & !below(hi, v);
            let g = if closed_last && v == self.hi {
                g - 1.0
            } else {
                g
            };
            *p = g as u32;
        }
        (out, ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn positions_equal_binary_search() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let edge_sets = [
            crate::uniform_edges(-2.0, 2.0, 40),
            crate::uniform_edges(-1.3, 0.7, 24),
            crate::uniform_edges(3.0, 3.0000001, 7), // tiny span
            crate::uniform_edges(0.0, 1.0, 1),
            crate::uniform_edges(-0.37, 2.1, 40),
        ];
        for edges in &edge_sets {
            let lin = Linspace::detect(edges).expect("a linspace");
            let mut x: Vec<f64> = edges
                .iter()
                .flat_map(|&e| [e, e.next_down(), e.next_up()])
                .collect();
            let (lo, hi) = (edges[0], edges[edges.len() - 1]);
            let w = hi - lo;
            x.extend((0..4001).map(|_| rng.gen_range(lo - 0.2 * w..hi + 0.2 * w)));
            x.extend([1e300, -1e300, 0.0]);
            let last = edges[edges.len() - 1];
            for side in [Side::Strict, Side::InclusiveClosed] {
                let want: Vec<u32> = x
                    .iter()
                    .map(|&v| match side {
                        Side::Strict => edges.partition_point(|&e| e < v) as u32,
                        Side::InclusiveClosed => {
                            edges.partition_point(|&e| e <= v) as u32 - (v == last) as u32
                        }
                    })
                    .collect();
                let (got, ok) = lin.positions(&x, side);
                assert!(ok, "verification failed for {edges:?}");
                assert_eq!(got, want, "{edges:?} {side:?}");
                assert_eq!(lin.positions_impl(&x, side).0, want, "baseline path");
            }
        }
    }

    #[test]
    fn uneven_edges_are_not_taken_for_a_linspace() {
        assert!(Linspace::detect(&[0.0, 0.5, 0.75, 1.0]).is_none());
        // the other common formula, lo + (hi − lo)·k/m, differs from numpy's in some bits
        let scaled: Vec<f64> = (0..=40)
            .map(|k| -0.37 + (2.1 - -0.37) * k as f64 / 40.0)
            .collect();
        let numpy = crate::uniform_edges(-0.37, 2.1, 40);
        if scaled != numpy {
            assert!(Linspace::detect(&scaled).is_none());
        }
        let mut e = crate::uniform_edges(0.0, 1.0, 10);
        e[3] = e[3].next_up();
        assert!(Linspace::detect(&e).is_none());
    }
}
