//! Latin-hypercube design and per-simulation seeds.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// `n` points of a Latin hypercube over the given (min, max) ranges: along every dimension each of
/// the n equal strata holds exactly one point, placed uniformly at random inside its stratum.
/// Returns `n` rows of `ranges.len()` values. Deterministic in `seed`.
pub fn latin_hypercube(n: usize, ranges: &[(f64, f64)], seed: u64) -> Vec<Vec<f64>> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut out = vec![vec![0.0; ranges.len()]; n];
    for (d, &(lo, hi)) in ranges.iter().enumerate() {
        let mut perm: Vec<usize> = (0..n).collect();
        perm.shuffle(&mut rng);
        for (i, row) in out.iter_mut().enumerate() {
            let u: f64 = rng.gen();
            row[d] = lo + (hi - lo) * (perm[i] as f64 + u) / n as f64;
        }
    }
    out
}

/// Seed of simulation `index` derived from the master seed (SplitMix64 of master ⊕ index-mixed
/// constant): distinct, well-mixed streams that do not depend on how many simulations are run.
pub fn derive_seed(master: u64, index: u64) -> u64 {
    let mut z = master ^ index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
