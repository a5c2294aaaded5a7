//! On-the-fly augmentation and reproducible batching.
//!
//! Square maps have the 8 symmetries of the square ([`Dihedral`]: 4 rotations,
//! each optionally mirrored); periodic maps (whole simulation boxes) are also
//! unchanged statistically by cyclic shifts ([`roll`]). Patches cut from a
//! larger map are *not* periodic, so they must not be rolled.
//!
//! [`BatchStream::batch_at`] is a pure function of `(seed, step)`: epoch `e`
//! visits the items in a permutation seeded by `(seed, e)` (no replacement
//! within an epoch), and item `k` of step `s` gets a dihedral element and a
//! roll seeded by `(seed, s, k)`. Resuming training at step `s` therefore needs
//! no saved random state — only the seed and the step.

use std::sync::{Arc, Mutex};

use ndarray::{Array2, Array3, ArrayView2, ArrayViewMut2, Axis};
use rand::seq::SliceRandom;
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{FieldsError, Result};
use crate::rng::substream;

/// One of the 8 symmetries of the square: mirror columns (if `flip`), then
/// rotate by `rot` × 90° counter-clockwise (`np.rot90(np.fliplr(m) if flip else m, rot)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Dihedral {
    pub rot: u8,
    pub flip: bool,
}

impl Dihedral {
    /// The identity.
    pub const IDENTITY: Dihedral = Dihedral {
        rot: 0,
        flip: false,
    };

    /// All 8 elements; `all()[k]` has `rot = k % 4`, `flip = k >= 4`.
    pub fn all() -> [Dihedral; 8] {
        std::array::from_fn(|k| Dihedral::from_index(k as u8))
    }

    /// Element number `k` in 0..8.
    pub fn from_index(k: u8) -> Dihedral {
        Dihedral {
            rot: k % 4,
            flip: k % 8 >= 4,
        }
    }

    /// Number of this element in 0..8.
    pub fn index(self) -> u8 {
        self.rot % 4 + if self.flip { 4 } else { 0 }
    }

    /// The input pixel that lands on output pixel `(i, j)` of an `n × n` map.
    #[inline]
    pub fn source(self, i: usize, j: usize, n: usize) -> (usize, usize) {
        let (mut a, mut b) = (i, j);
        // np.rot90(m)[i, j] = m[j, n-1-i]
        for _ in 0..self.rot % 4 {
            (a, b) = (b, n - 1 - a);
        }
        if self.flip {
            b = n - 1 - b;
        }
        (a, b)
    }

    /// The transformed map.
    pub fn apply<T: Copy>(self, map: ArrayView2<T>) -> Array2<T> {
        let n = map.nrows();
        assert_eq!(n, map.ncols(), "dihedral transforms need square maps");
        Array2::from_shape_fn((n, n), |(i, j)| map[self.source(i, j, n)])
    }

    /// `self` followed by `then`, as one element.
    pub fn then(self, then: Dihedral) -> Dihedral {
        // Compose through the action on a 3×3 probe (small, unambiguous).
        let n = 3;
        let target: Vec<(usize, usize)> = (0..n * n)
            .map(|p| {
                let (i, j) = then.source(p / n, p % n, n);
                self.source(i, j, n)
            })
            .collect();
        *Dihedral::all()
            .iter()
            .find(|g| (0..n * n).all(|p| g.source(p / n, p % n, n) == target[p]))
            .expect("the dihedral group is closed")
    }

    /// The element that undoes this one.
    pub fn inverse(self) -> Dihedral {
        *Dihedral::all()
            .iter()
            .find(|g| self.then(**g) == Dihedral::IDENTITY)
            .expect("every group element has an inverse")
    }
}

/// Cyclic shift with numpy's convention: `out[i, j] = map[(i − di) mod n, (j − dj) mod n]`
/// (`np.roll(map, (di, dj), axis=(0, 1))`).
pub fn roll<T: Copy>(map: ArrayView2<T>, di: usize, dj: usize) -> Array2<T> {
    let (r, c) = map.dim();
    Array2::from_shape_fn((r, c), |(i, j)| {
        map[[(i + r - di % r) % r, (j + c - dj % c) % c]]
    })
}

/// Roll by `(di, dj)`, then apply `g`, writing into `dst` (same side as `src`).
pub fn augment_into(
    src: ArrayView2<f32>,
    mut dst: ArrayViewMut2<f32>,
    g: Dihedral,
    di: usize,
    dj: usize,
) {
    let n = src.nrows();
    for ((i, j), d) in dst.indexed_iter_mut() {
        let (a, b) = g.source(i, j, n);
        *d = src[[(a + n - di % n) % n, (b + n - dj % n) % n]];
    }
}

/// Which augmentations a [`BatchStream`] draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Augment {
    /// A uniformly drawn element of the 8 dihedral symmetries.
    pub dihedral: bool,
    /// A uniformly drawn cyclic shift (only valid for periodic maps).
    pub roll: bool,
}

impl Augment {
    /// Nothing: items come out as stored.
    pub const NONE: Augment = Augment {
        dihedral: false,
        roll: false,
    };
    /// Dihedral always; rolls only for periodic data.
    pub fn for_data(periodic: bool) -> Augment {
        Augment {
            dihedral: true,
            roll: periodic,
        }
    }
}

/// What [`BatchStream`] does to one item of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemDraw {
    /// Index of the stored map.
    pub index: usize,
    pub dihedral: Dihedral,
    /// Roll `(di, dj)`, applied before the dihedral element.
    pub shift: (usize, usize),
}

const TAG_EPOCH: u64 = 0xE90C;
const TAG_ITEM: u64 = 0x17E3;

/// Shuffled, augmented training batches as a pure function of `(seed, step)`.
pub struct BatchStream {
    data: Array3<f32>,
    params: Option<Array2<f32>>,
    seed: u64,
    augment: Augment,
    /// Permutations of the most recent epochs (cache only; results never depend on it).
    perms: Mutex<Vec<(u64, Arc<Vec<u32>>)>>,
}

impl BatchStream {
    /// `data` is `(n, N, N)`; `params`, when given, `(n, p)` rows matching the maps.
    pub fn new(
        data: Array3<f32>,
        params: Option<Array2<f32>>,
        seed: u64,
        augment: Augment,
    ) -> Result<BatchStream> {
        let (n, r, c) = data.dim();
        if n == 0 || r != c || r == 0 {
            return Err(FieldsError::invalid(
                "batch stream",
                format!(
                    "needs a non-empty stack of square maps, got {:?}",
                    data.dim()
                ),
            ));
        }
        if n > u32::MAX as usize {
            return Err(FieldsError::invalid("batch stream", "more than 2³² maps"));
        }
        if let Some(p) = &params {
            if p.nrows() != n {
                return Err(FieldsError::invalid(
                    "batch stream",
                    format!("{} parameter rows for {n} maps", p.nrows()),
                ));
            }
        }
        Ok(BatchStream {
            data,
            params,
            seed,
            augment,
            perms: Mutex::new(Vec::new()),
        })
    }

    /// Number of stored maps.
    pub fn len(&self) -> usize {
        self.data.len_of(Axis(0))
    }

    /// Always false (an empty stream cannot be built).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Map side N.
    pub fn side(&self) -> usize {
        self.data.len_of(Axis(1))
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn augment(&self) -> Augment {
        self.augment
    }

    /// The stored (un-augmented) maps.
    pub fn data(&self) -> &Array3<f32> {
        &self.data
    }

    /// The stored parameter rows, if any.
    pub fn params(&self) -> Option<&Array2<f32>> {
        self.params.as_ref()
    }

    /// Steps in one pass over the data, `ceil(n / batch_size)`. Batches run on
    /// across epoch boundaries, so every epoch visits every map exactly once
    /// in the stream of items.
    pub fn steps_per_epoch(&self, batch_size: usize) -> u64 {
        (self.len() as u64).div_ceil(batch_size.max(1) as u64)
    }

    /// The epoch that item 0 of `step` belongs to.
    pub fn epoch_of(&self, step: u64, batch_size: usize) -> u64 {
        step * batch_size as u64 / self.len() as u64
    }

    fn permutation(&self, epoch: u64) -> Arc<Vec<u32>> {
        let mut cache = self.perms.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, p)) = cache.iter().find(|(e, _)| *e == epoch) {
            return p.clone();
        }
        let mut p: Vec<u32> = (0..self.len() as u32).collect();
        p.shuffle(&mut substream(self.seed, &[TAG_EPOCH, epoch]));
        let p = Arc::new(p);
        if cache.len() >= 2 {
            cache.remove(0);
        }
        cache.push((epoch, p.clone()));
        p
    }

    /// What item `k` of batch `step` is: map index, dihedral element and roll.
    pub fn draw(&self, step: u64, batch_size: usize, k: usize) -> ItemDraw {
        let n = self.len() as u64;
        let g = step * batch_size as u64 + k as u64;
        let index = self.permutation(g / n)[(g % n) as usize] as usize;
        let mut rng = substream(self.seed, &[TAG_ITEM, step, k as u64]);
        // Always draw both so turning one augmentation off leaves the other's draws unchanged.
        let d = Dihedral::from_index(rng.gen_range(0..8u8));
        let side = self.side();
        let shift = (rng.gen_range(0..side), rng.gen_range(0..side));
        ItemDraw {
            index,
            dihedral: if self.augment.dihedral {
                d
            } else {
                Dihedral::IDENTITY
            },
            shift: if self.augment.roll { shift } else { (0, 0) },
        }
    }

    /// Map indices of batch `step`.
    pub fn indices_at(&self, step: u64, batch_size: usize) -> Vec<usize> {
        (0..batch_size)
            .map(|k| self.draw(step, batch_size, k).index)
            .collect()
    }

    /// Batch `step` as `(batch_size, N, N)` float32, augmented.
    pub fn batch_at(&self, step: u64, batch_size: usize) -> Array3<f32> {
        let side = self.side();
        let draws: Vec<ItemDraw> = (0..batch_size)
            .map(|k| self.draw(step, batch_size, k))
            .collect();
        let mut out = Array3::<f32>::zeros((batch_size, side, side));
        out.axis_iter_mut(Axis(0))
            .into_par_iter()
            .zip(draws.par_iter())
            .for_each(|(dst, d)| {
                let src = self.data.index_axis(Axis(0), d.index);
                augment_into(src, dst, d.dihedral, d.shift.0, d.shift.1);
            });
        out
    }

    /// Parameter rows `(batch_size, p)` of the maps in batch `step` (same order
    /// as [`BatchStream::batch_at`]); `None` when the data has no parameters.
    pub fn params_at(&self, step: u64, batch_size: usize) -> Option<Array2<f32>> {
        let p = self.params.as_ref()?;
        let idx = self.indices_at(step, batch_size);
        Some(p.select(Axis(0), &idx))
    }
}

#[cfg(test)]
mod tests;
