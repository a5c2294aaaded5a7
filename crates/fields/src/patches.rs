//! Cutting N×N patches out of large maps (e.g. 512² dust maps into 64² patches).
//!
//! A patch is named by its source map and top-left pixel (row `i`, column `j`).
//! Periodic maps (simulation boxes) let patches wrap around the edges; others
//! keep patches inside. For splits inside one map, [`region_bands`] cuts the map
//! into horizontal bands of rows and patches never leave their band, so no test
//! patch shares a pixel with a training patch ([`patches_overlap`] checks it).

use std::ops::Range;

use ndarray::{Array2, ArrayView2};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{FieldsError, Result};
use crate::rng::substream;

/// Where a patch comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Patch {
    /// Index of the source map.
    pub source: usize,
    /// Top-left row.
    pub i: usize,
    /// Top-left column.
    pub j: usize,
}

/// How patch positions are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Placement {
    /// Every `stride` pixels in both directions (`stride = size` tiles without overlap).
    Grid { stride: usize },
    /// `count` positions drawn uniformly (seeded), overlaps allowed.
    Random { count: usize },
}

/// Copy the `size × size` patch at `(i0, j0)`; periodic maps wrap around the
/// edges, non-periodic ones must contain the whole patch.
pub fn cut_patch(
    map: ArrayView2<f64>,
    i0: usize,
    j0: usize,
    size: usize,
    periodic: bool,
) -> Result<Array2<f64>> {
    let (r, c) = map.dim();
    if size == 0 || size > r || size > c {
        return Err(FieldsError::invalid(
            "patch size",
            format!("{size} does not fit a {r}×{c} map"),
        ));
    }
    if periodic {
        Ok(Array2::from_shape_fn((size, size), |(a, b)| {
            map[[(i0 + a) % r, (j0 + b) % c]]
        }))
    } else {
        if i0 + size > r || j0 + size > c {
            return Err(FieldsError::invalid(
                "patch position",
                format!("({i0}, {j0}) + {size} leaves the {r}×{c} non-periodic map"),
            ));
        }
        Ok(map
            .slice(ndarray::s![i0..i0 + size, j0..j0 + size])
            .to_owned())
    }
}

/// Split the rows `0..side` into train/val/test bands by `fractions`
/// (summing to 1). A band with a non-zero fraction must hold at least `size` rows.
pub fn region_bands(side: usize, size: usize, fractions: [f64; 3]) -> Result<[Range<usize>; 3]> {
    let a = (fractions[0] * side as f64).round() as usize;
    let b = ((fractions[0] + fractions[1]) * side as f64).round() as usize;
    let bands = [0..a.min(side), a.min(side)..b.min(side), b.min(side)..side];
    for (k, band) in bands.iter().enumerate() {
        if fractions[k] > 0.0 && band.len() < size {
            return Err(FieldsError::invalid(
                "region split",
                format!(
                    "the {} band holds {} rows, fewer than one {size}-pixel patch; use larger fractions or smaller patches",
                    ["train", "val", "test"][k],
                    band.len()
                ),
            ));
        }
    }
    Ok(bands)
}

/// Top-left positions of patches of `size` in a `side × side` map, restricted
/// to the rows `rows` (a band; `0..side` for the whole map). Rows wrap only
/// when the band is the whole periodic map; columns wrap whenever the map is periodic.
pub fn positions(
    side: usize,
    size: usize,
    rows: Range<usize>,
    periodic: bool,
    placement: Placement,
    seed: u64,
    source: usize,
) -> Result<Vec<(usize, usize)>> {
    if size == 0 || size > side {
        return Err(FieldsError::invalid(
            "patch size",
            format!("{size} does not fit a {side}-pixel map"),
        ));
    }
    let whole = rows.start == 0 && rows.end == side;
    let wrap_rows = periodic && whole;
    // Valid top-left ranges (exclusive ends).
    let i_end = if wrap_rows {
        side
    } else if rows.len() >= size {
        rows.end - size + 1
    } else {
        return Ok(Vec::new());
    };
    let i_start = if wrap_rows { 0 } else { rows.start };
    let j_end = if periodic { side } else { side - size + 1 };
    Ok(match placement {
        Placement::Grid { stride } => {
            if stride == 0 {
                return Err(FieldsError::invalid("patch stride", "must be > 0"));
            }
            let mut v = Vec::new();
            for i in (i_start..i_end).step_by(stride) {
                for j in (0..j_end).step_by(stride) {
                    v.push((i, j));
                }
            }
            v
        }
        Placement::Random { count } => {
            let mut rng = substream(seed, &[0x09a7_c4e5, source as u64, rows.start as u64]);
            (0..count)
                .map(|_| (rng.gen_range(i_start..i_end), rng.gen_range(0..j_end)))
                .collect()
        }
    })
}

/// Whether two `size × size` patches share a pixel (periodic maps: cyclically).
pub fn patches_overlap(p: &Patch, q: &Patch, side: usize, size: usize, periodic: bool) -> bool {
    if p.source != q.source {
        return false;
    }
    let axis = |a: usize, b: usize| {
        if periodic {
            let d = (b + side - a % side) % side;
            d < size || d + size > side
        } else {
            a.abs_diff(b) < size
        }
    };
    axis(p.i, q.i) && axis(p.j, q.j)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array;

    fn numbered(side: usize) -> Array2<f64> {
        Array::from_shape_fn((side, side), |(i, j)| (i * 1000 + j) as f64)
    }

    #[test]
    fn periodic_patches_wrap_at_all_corners() {
        let m = numbered(10);
        let p = cut_patch(m.view(), 8, 9, 4, true).unwrap();
        // Rows 8, 9, 0, 1 and columns 9, 0, 1, 2.
        assert_eq!(p[[0, 0]], 8009.0);
        assert_eq!(p[[0, 1]], 8000.0);
        assert_eq!(p[[1, 0]], 9009.0);
        assert_eq!(p[[2, 0]], 9.0);
        assert_eq!(p[[3, 3]], 1002.0);
        assert_eq!(p[[2, 1]], 0.0); // the map's (0, 0) corner
                                    // Interior cut equals a plain slice.
        let q = cut_patch(m.view(), 2, 3, 4, true).unwrap();
        assert_eq!(q, m.slice(ndarray::s![2..6, 3..7]));
        // Non-periodic maps keep patches inside.
        assert!(cut_patch(m.view(), 8, 9, 4, false).is_err());
        assert_eq!(cut_patch(m.view(), 6, 6, 4, false).unwrap()[[3, 3]], 9009.0);
        assert!(cut_patch(m.view(), 0, 0, 11, true).is_err());
    }

    #[test]
    fn grid_and_random_positions() {
        let g = positions(512, 64, 0..512, true, Placement::Grid { stride: 64 }, 0, 0).unwrap();
        assert_eq!(g.len(), 64);
        let g = positions(512, 64, 0..512, false, Placement::Grid { stride: 32 }, 0, 0).unwrap();
        assert_eq!(g.len(), 15 * 15);
        assert!(g.iter().all(|&(i, j)| i + 64 <= 512 && j + 64 <= 512));
        let r = positions(
            100,
            10,
            20..50,
            true,
            Placement::Random { count: 500 },
            7,
            1,
        )
        .unwrap();
        assert!(r.iter().all(|&(i, j)| (20..=40).contains(&i) && j < 100));
        assert_eq!(
            r,
            positions(
                100,
                10,
                20..50,
                true,
                Placement::Random { count: 500 },
                7,
                1
            )
            .unwrap()
        );
        assert_ne!(
            r,
            positions(
                100,
                10,
                20..50,
                true,
                Placement::Random { count: 500 },
                8,
                1
            )
            .unwrap()
        );
    }

    #[test]
    fn overlap_predicate_is_exact() {
        // Brute force over pixel sets on a small periodic and non-periodic map.
        let (side, size) = (12, 4);
        for periodic in [true, false] {
            let cover = |p: &Patch| {
                let mut s = std::collections::HashSet::new();
                for a in 0..size {
                    for b in 0..size {
                        s.insert(((p.i + a) % side, (p.j + b) % side));
                    }
                }
                s
            };
            let lim = if periodic { side } else { side - size + 1 };
            for i in 0..lim {
                for j in 0..lim {
                    let p = Patch {
                        source: 0,
                        i: 0,
                        j: 5.min(lim - 1),
                    };
                    let q = Patch { source: 0, i, j };
                    let shared = !cover(&p).is_disjoint(&cover(&q));
                    assert_eq!(
                        patches_overlap(&p, &q, side, size, periodic),
                        shared,
                        "{periodic} {i} {j}"
                    );
                }
            }
        }
    }

    #[test]
    fn region_split_never_overlaps_between_train_and_test() {
        let (side, size) = (512, 64);
        let bands = region_bands(side, size, [0.7, 0.15, 0.15]).unwrap();
        let mut sets = Vec::new();
        for (k, band) in bands.iter().enumerate() {
            let mut v = Vec::new();
            for placement in [
                Placement::Grid { stride: 16 },
                Placement::Random { count: 300 },
            ] {
                for (i, j) in
                    positions(side, size, band.clone(), true, placement, k as u64, 0).unwrap()
                {
                    v.push(Patch { source: 0, i, j });
                }
            }
            assert!(!v.is_empty());
            sets.push(v);
        }
        for a in 0..3 {
            for b in a + 1..3 {
                for p in &sets[a] {
                    assert!(sets[b]
                        .iter()
                        .all(|q| !patches_overlap(p, q, side, size, true)));
                }
            }
        }
        assert!(region_bands(512, 64, [0.9, 0.05, 0.05]).is_err());
    }
}
