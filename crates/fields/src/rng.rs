//! Deterministic random sub-streams: every random choice in the crate comes
//! from a user seed plus a fixed tag path (e.g. `[epoch]` or `[step, item]`),
//! so results depend only on the seed, never on call order or thread count.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// SplitMix64 finaliser: a bijective mix of 64 bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A 64-bit seed derived from `seed` and a tag path.
pub fn derive_seed(seed: u64, tags: &[u64]) -> u64 {
    tags.iter().fold(mix(seed), |acc, &t| mix(acc ^ mix(t)))
}

/// An independent ChaCha8 stream for `(seed, tags...)`.
pub fn substream(seed: u64, tags: &[u64]) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(derive_seed(seed, tags))
}
