//! Pixel histogram (the one-point PDF) on explicit edges, with numpy's rule
//! (docs/conventions.md §2).
//!
//! * `counts[m]` counts x with e_m ≤ x < e_{m+1}; **the last bin is closed**, e_{n−1} ≤ x ≤ e_n
//!   (`numpy.histogram`). Comparisons are f64 against f64 edges.
//! * Values outside [e_0, e_n] are not binned but counted in `n_below` / `n_above`.
//! * Two normalisations: [`Histogram::pdf_over_total`] = counts/(n_total·width) (all pixels) and
//!   [`Histogram::numpy_density`] = counts/(n_in_range·width) (`np.histogram(density=True)`).

use crate::binning;
use crate::error::{check_finite, check_increasing, Result};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

/// Counts of one map (or a pooled set) on fixed edges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Bin edges e_0 < … < e_n (n bins), in the units of the transformed field.
    pub edges: Vec<f64>,
    pub counts: Vec<u64>,
    /// Values x < e_0.
    pub n_below: u64,
    /// Values x > e_n.
    pub n_above: u64,
    /// All values seen, in range or not.
    pub n_total: u64,
}

impl Histogram {
    /// Empty histogram on `edges` (checked: ≥ 2 finite, strictly increasing).
    pub fn new(edges: &[f64]) -> Result<Self> {
        check_increasing("edges", edges, 2)?;
        Ok(Self {
            edges: edges.to_vec(),
            counts: vec![0; edges.len() - 1],
            n_below: 0,
            n_above: 0,
            n_total: 0,
        })
    }

    /// Adds one value with numpy's rule.
    #[inline]
    pub fn add(&mut self, x: f64) {
        self.n_total += 1;
        let e = &self.edges;
        let last = e[e.len() - 1];
        if x < e[0] {
            self.n_below += 1;
        } else if x > last {
            self.n_above += 1;
        } else if x == last {
            *self.counts.last_mut().expect("≥ 1 bin") += 1; // closed last bin
        } else {
            // Guess the bin as if the edges were uniform, then step to the bin with
            // e[m] ≤ x < e[m+1] by exact comparisons: exact for any edges, O(1) for uniform ones.
            let nb = self.counts.len();
            let guess = ((x - e[0]) / (last - e[0]) * nb as f64) as usize;
            let mut m = guess.min(nb - 1);
            while x < e[m] {
                m -= 1;
            }
            while x >= e[m + 1] {
                m += 1;
            }
            self.counts[m] += 1;
        }
    }

    /// Adds many values with numpy's rule; the same counts as [`Histogram::add`] on each.
    /// Evenly spaced edges take a vectorised pass (`binning`); otherwise each value's bin is
    /// guessed and walked to. Four interleaved count arrays keep runs of equal bins from
    /// waiting on each other's increments.
    pub fn add_all(&mut self, values: &[f64]) {
        let e = &self.edges;
        let nb = self.counts.len();
        let (first, last) = (e[0], e[nb]);
        // slot 0 = below, 1..=nb = bins, nb + 1 = above
        let mut lanes = vec![[0u64; 4]; nb + 2];
        if let Some(lin) = binning::Linspace::detect(e) {
            // position = #{e_k ≤ x}: 0 below, m + 1 in bin m, nb + 1 at or above the last edge
            // (numpy's closed last bin: x = e_nb has position nb)
            let (pos, ok) = lin.positions(values, binning::Side::InclusiveClosed);
            if ok {
                for (i, &p) in pos.iter().enumerate() {
                    lanes[p as usize][i & 3] += 1;
                }
                self.add_slots(&lanes, values.len());
                return;
            }
        }
        let scale = nb as f64 / (last - first);
        for (i, &x) in values.iter().enumerate() {
            let slot = if x < first {
                0
            } else if x >= last {
                if x == last {
                    nb // closed last bin
                } else {
                    nb + 1
                }
            } else {
                let mut m = (((x - first) * scale) as usize).min(nb - 1);
                while x < e[m] {
                    m -= 1;
                }
                while x >= e[m + 1] {
                    m += 1;
                }
                m + 1
            };
            lanes[slot][i & 3] += 1;
        }
        self.add_slots(&lanes, values.len());
    }

    /// Adds per-slot counts (slot 0 below, m + 1 bin m, nb + 1 above), each split in 4 lanes.
    fn add_slots(&mut self, lanes: &[[u64; 4]], n_values: usize) {
        let nb = self.counts.len();
        let total = |s: usize| lanes[s].iter().sum::<u64>();
        self.n_below += total(0);
        self.n_above += total(nb + 1);
        for (m, c) in self.counts.iter_mut().enumerate() {
            *c += total(m + 1);
        }
        self.n_total += n_values as u64;
    }

    /// Adds the counts of another histogram on identical edges.
    pub fn merge(&mut self, other: &Histogram) {
        debug_assert_eq!(self.edges, other.edges);
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.n_below += other.n_below;
        self.n_above += other.n_above;
        self.n_total += other.n_total;
    }

    /// Values inside [e_0, e_n].
    pub fn n_in_range(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Density normalised by all pixels: counts / (n_total · width).
    pub fn pdf_over_total(&self) -> Vec<f64> {
        self.density(self.n_total)
    }

    /// `np.histogram(..., density=True)`: counts / (n_in_range · width).
    pub fn numpy_density(&self) -> Vec<f64> {
        self.density(self.n_in_range())
    }

    fn density(&self, norm: u64) -> Vec<f64> {
        self.counts
            .iter()
            .zip(self.edges.windows(2))
            .map(|(&c, w)| c as f64 / (norm as f64 * (w[1] - w[0])))
            .collect()
    }
}

/// Histogram of every pixel of a (transformed) map on `edges`.
pub fn histogram(x: ArrayView2<f64>, edges: &[f64]) -> Result<Histogram> {
    check_finite(x)?;
    let mut h = Histogram::new(edges)?;
    match x.as_slice() {
        Some(values) => h.add_all(values),
        None => x.iter().for_each(|&v| h.add(v)),
    }
    Ok(h)
}

/// `n` uniform bins over [lo, hi] (the data range when used as a default): the edges of
/// `numpy.linspace(lo, hi, n + 1)` bit for bit, i·((hi − lo)/n) + lo with the last edge exactly
/// `hi` (so the maximum lands in the closed last bin). A constant map (lo = hi) gets the range
/// [lo − 0.5, lo + 0.5], as `numpy.histogram` does.
/// Most bins a histogram may have (2²⁴: its edges and counts then take ~270 MB); more is a typo,
/// not a measurement, and would abort on allocation.
pub const MAX_BINS: usize = 1 << 24;

/// Checks a requested number of bins: 1 ≤ `n` ≤ [`MAX_BINS`].
pub fn check_bin_count(n: usize) -> crate::error::Result<usize> {
    if (1..=MAX_BINS).contains(&n) {
        Ok(n)
    } else {
        Err(crate::error::StatsError::Count {
            what: "number of bins",
            value: n,
            min: 1,
            max: MAX_BINS,
        })
    }
}

pub fn uniform_edges(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let (lo, hi) = if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    let n = n.max(1);
    let step = (hi - lo) / n as f64;
    let mut e: Vec<f64> = (0..=n).map(|i| i as f64 * step + lo).collect();
    e[n] = hi;
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn add_all_counts_as_add_does_on_edges_and_uneven_bins() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for edges in [
            vec![0.0, 1.0],
            uniform_edges(-1.0, 2.0, 7),
            vec![-3.0, -2.9, -1.0, 0.0, 0.001, 5.0, 5.5],
            uniform_edges(-3.5, 6.0, 200),
        ] {
            // values on every edge, just beside them, and random ones in and out of range
            let mut values: Vec<f64> = edges
                .iter()
                .flat_map(|&e| [e, e.next_down(), e.next_up()])
                .collect();
            values.extend((0..5000).map(|_| rng.gen_range(-4.0..7.0)));
            let mut one_by_one = Histogram::new(&edges).unwrap();
            values.iter().for_each(|&v| one_by_one.add(v));
            let mut bulk = Histogram::new(&edges).unwrap();
            bulk.add_all(&values);
            assert_eq!(bulk, one_by_one, "edges {edges:?}");
        }
    }
}
