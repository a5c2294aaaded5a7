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

/// Seed of simulation `index` derived from the master seed ([`fields::rng::index_seed`]):
/// distinct, well-mixed streams that do not depend on how many simulations are run.
pub fn derive_seed(master: u64, index: u64) -> u64 {
    fields::rng::index_seed(master, index)
}
