//! Bit-quad counts of every excursion set of one map, on bit planes.
//!
//! The excursion set {level > t} of threshold t is stored as one bit per pixel (64 pixels per
//! word), and every 2×2 window of a row pair is classified with word-wide logic and `popcount`:
//! 64 windows per handful of instructions. A plane is built by comparing the pixels' levels
//! with t; with AVX2 and fewer than 128 thresholds the levels are bytes and 32 pixels are
//! compared per instruction (`movemask` packs the results into bits). Counts are exact
//! integers, identical to a window-by-window count, on every path.

/// Counts of the 2×2 windows (and of their top-left pixels) of one excursion set.
/// Window corners: a = (i, j), b = (i, j+1), c = (i+1, j), d = (i+1, j+1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WindowCounts {
    /// Windows whose top-left pixel is set.
    pub top_left: u64,
    /// Windows with exactly one / exactly three set corners.
    pub q1: u64,
    pub q3: u64,
    /// Windows with two set corners on a diagonal (a and d, or b and c).
    pub qd: u64,
    /// Windows with a ≠ c, a ≠ b, a ≠ d, c ≠ b (the fixtures' c0..c3 order).
    pub pairs: [u64; 4],
}

/// Counts for t = 0..nt of the sets {level > t} over the windows of a `rows` × `cols` grid of
/// levels (row-major; padding or wrapped copies already in place): windows with top-left
/// (i, j), i < rows − 1, j < cols − 1. Every level must be ≤ nt.
pub(crate) fn window_counts(
    levels: &[u32],
    rows: usize,
    cols: usize,
    nt: usize,
) -> Vec<WindowCounts> {
    assert_eq!(levels.len(), rows * cols);
    debug_assert!(levels.iter().all(|&l| l as usize <= nt), "a level above nt");
    if rows < 2 || cols < 2 {
        return vec![WindowCounts::default(); nt];
    }
    #[cfg(target_arch = "x86_64")]
    {
        if nt < 128
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("popcnt")
        {
            let bytes: Vec<i8> = levels.iter().map(|&l| l as i8).collect();
            // SAFETY: the features these functions were compiled for were just detected.
            return unsafe { counts_avx2(&bytes, rows, cols, nt) };
        }
    }
    counts_portable(levels, rows, cols, nt)
}

/// Words per plane row: one spare zero word so that "shift in the next word's bit 0" needs
/// no branch.
fn words_per_row(cols: usize) -> usize {
    cols.div_ceil(64) + 1
}

/// Masks of the valid window columns j ≤ cols − 2 in each word.
fn column_masks(cols: usize) -> Vec<u64> {
    let nwin = cols - 1;
    (0..words_per_row(cols) - 1)
        .map(|w| {
            let lo = 64 * w;
            if lo + 64 <= nwin {
                u64::MAX
            } else if lo >= nwin {
                0
            } else {
                (1u64 << (nwin - lo)) - 1
            }
        })
        .collect()
}

/// Any CPU: planes built pixel by pixel.
pub(crate) fn counts_portable(
    levels: &[u32],
    rows: usize,
    cols: usize,
    nt: usize,
) -> Vec<WindowCounts> {
    let wd = words_per_row(cols);
    let masks = column_masks(cols);
    let mut plane = vec![0u64; rows * wd];
    (0..nt)
        .map(|t| {
            for (row, prow) in levels.chunks_exact(cols).zip(plane.chunks_exact_mut(wd)) {
                for (word, chunk) in prow.iter_mut().zip(row.chunks(64)) {
                    *word = chunk
                        .iter()
                        .enumerate()
                        .fold(0u64, |w, (k, &l)| w | (((l as usize > t) as u64) << k));
                }
            }
            count_plane(&plane, rows, wd, &masks)
        })
        .collect()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt,bmi1")]
fn counts_avx2(levels: &[i8], rows: usize, cols: usize, nt: usize) -> Vec<WindowCounts> {
    use std::arch::x86_64::*;
    let wd = words_per_row(cols);
    let masks = column_masks(cols);
    let mut plane = vec![0u64; rows * wd];
    (0..nt)
        .map(|t| {
            let tv = _mm256_set1_epi8(t as i8);
            for (row, prow) in levels.chunks_exact(cols).zip(plane.chunks_exact_mut(wd)) {
                for (word, chunk) in prow.iter_mut().zip(row.chunks(64)) {
                    *word = if chunk.len() == 64 {
                        // levels < 128, so the signed byte compare is the unsigned one
                        // SAFETY: two 32-byte loads inside the 64-byte chunk.
                        let (lo, hi) = unsafe {
                            (
                                _mm256_loadu_si256(chunk.as_ptr() as *const __m256i),
                                _mm256_loadu_si256(chunk.as_ptr().add(32) as *const __m256i),
                            )
                        };
                        let lo = _mm256_movemask_epi8(_mm256_cmpgt_epi8(lo, tv)) as u32;
                        let hi = _mm256_movemask_epi8(_mm256_cmpgt_epi8(hi, tv)) as u32;
                        lo as u64 | (hi as u64) << 32
                    } else {
                        chunk
                            .iter()
                            .enumerate()
                            .fold(0u64, |w, (k, &l)| w | (((l as usize > t) as u64) << k))
                    };
                }
            }
            count_plane(&plane, rows, wd, &masks)
        })
        .collect()
}

#[inline(always)]
fn count_plane(plane: &[u64], rows: usize, wd: usize, masks: &[u64]) -> WindowCounts {
    let (mut tl, mut q1, mut q3, mut qd) = (0u64, 0u64, 0u64, 0u64);
    let mut pairs = [0u64; 4];
    for i in 0..rows - 1 {
        let r0 = &plane[i * wd..(i + 1) * wd];
        let r1 = &plane[(i + 1) * wd..(i + 2) * wd];
        for w in 0..wd - 1 {
            let m = masks[w];
            let a = r0[w];
            let b = (r0[w] >> 1) | (r0[w + 1] << 63);
            let c = r1[w];
            let d = (r1[w] >> 1) | (r1[w + 1] << 63);
            let (x, y) = (a ^ b, c ^ d);
            let (p, q) = (a & b, c & d);
            let one = (x & !y & !q) | (y & !x & !p);
            let three = (x & q) | (y & p);
            let diag = (a & d & !(b | c)) | (b & c & !(a | d));
            tl += (a & m).count_ones() as u64;
            q1 += (one & m).count_ones() as u64;
            q3 += (three & m).count_ones() as u64;
            qd += (diag & m).count_ones() as u64;
            pairs[0] += ((a ^ c) & m).count_ones() as u64;
            pairs[1] += (x & m).count_ones() as u64;
            pairs[2] += ((a ^ d) & m).count_ones() as u64;
            pairs[3] += ((c ^ b) & m).count_ones() as u64;
        }
    }
    WindowCounts {
        top_left: tl,
        q1,
        q3,
        qd,
        pairs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Window-by-window reference.
    fn naive(levels: &[u32], rows: usize, cols: usize, t: u32) -> WindowCounts {
        let s = |i: usize, j: usize| levels[i * cols + j] > t;
        let mut w = WindowCounts::default();
        for i in 0..rows - 1 {
            for j in 0..cols - 1 {
                let (a, b, c, d) = (s(i, j), s(i, j + 1), s(i + 1, j), s(i + 1, j + 1));
                let n = a as u32 + b as u32 + c as u32 + d as u32;
                w.top_left += a as u64;
                w.q1 += (n == 1) as u64;
                w.q3 += (n == 3) as u64;
                w.qd += (n == 2 && a == d) as u64;
                w.pairs[0] += (a != c) as u64;
                w.pairs[1] += (a != b) as u64;
                w.pairs[2] += (a != d) as u64;
                w.pairs[3] += (c != b) as u64;
            }
        }
        w
    }

    #[test]
    fn matches_window_by_window_count_on_random_grids() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        // sides straddling word boundaries, including 1-word and 3-word rows
        for &(rows, cols) in &[
            (2, 2),
            (3, 5),
            (17, 63),
            (9, 64),
            (8, 65),
            (66, 129),
            (5, 200),
        ] {
            let nt = 7;
            let levels: Vec<u32> = (0..rows * cols)
                .map(|_| rng.gen_range(0..=nt as u32))
                .collect();
            let got = window_counts(&levels, rows, cols, nt);
            let portable = counts_portable(&levels, rows, cols, nt);
            assert_eq!(
                got, portable,
                "SIMD and portable paths differ at {rows}×{cols}"
            );
            #[allow(clippy::needless_range_loop)] // t is also the threshold passed to naive()
            for t in 0..nt {
                assert_eq!(
                    got[t],
                    naive(&levels, rows, cols, t as u32),
                    "{rows}×{cols}, t = {t}"
                );
            }
        }
    }
}

#[cfg(test)]
mod many_thresholds {
    use super::*;

    #[test]
    fn more_than_127_thresholds_take_the_portable_path_and_agree() {
        // a ramp of levels 0..=300 on a 20×33 grid: same counts via both entry points
        let (rows, cols, nt) = (20usize, 33usize, 300usize);
        let levels: Vec<u32> = (0..rows * cols)
            .map(|p| ((p * 37) % (nt + 1)) as u32)
            .collect();
        let got = window_counts(&levels, rows, cols, nt);
        assert_eq!(got, counts_portable(&levels, rows, cols, nt));
        assert_eq!(
            got[0].top_left,
            (0..rows - 1)
                .flat_map(|i| (0..cols - 1).map(move |j| (i, j)))
                .filter(|&(i, j)| levels[i * cols + j] > 0)
                .count() as u64
        );
    }
}
