//! Pixel transforms, resampling and normalisation, each with its inverse where
//! one exists.
//!
//! The usual chain for CAMELS density maps (Mudur & Finkbeiner 2022) is
//! physical field → downsample → log10 → normalise to [−1, 1]; generated fields
//! go back with [`Normalization::invert`] then [`PointTransform::invert`].
//! Downsampling has no inverse: generated fields stay at the prepared resolution.

use std::path::Path;

use ndarray::{Array2, ArrayBase, ArrayView2, ArrayViewMut2, DataMut, Dimension, Zip};
use serde::{Deserialize, Serialize};

use crate::error::{FieldsError, Result};
use crate::io::write_atomic;

/// A pixel-wise transform.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PointTransform {
    /// Values unchanged.
    #[default]
    Identity,
    /// `log10(max(x, floor))`. Without a floor a value ≤ 0 is an error; with
    /// one, values below it are clamped (and do not come back exactly).
    Log10 { floor: Option<f64> },
}

impl PointTransform {
    /// Apply to map number `map_index` of `source` (both only for messages).
    pub fn apply_map(
        &self,
        mut map: ArrayViewMut2<f64>,
        source: &Path,
        map_index: usize,
    ) -> Result<()> {
        match *self {
            PointTransform::Identity => Ok(()),
            PointTransform::Log10 { floor } => {
                if let Some(f) = floor {
                    if !(f > 0.0 && f.is_finite()) {
                        return Err(FieldsError::invalid(
                            "log10 floor",
                            format!("{f} must be a positive number"),
                        ));
                    }
                    map.mapv_inplace(|v| v.max(f).log10());
                    return Ok(());
                }
                // NaN is left for `check_finite` to report.
                if let Some(((i, j), &v)) = map.indexed_iter().find(|(_, v)| **v <= 0.0) {
                    return Err(FieldsError::NonPositive {
                        path: source.into(),
                        map: map_index,
                        i,
                        j,
                        value: v,
                    });
                }
                map.mapv_inplace(f64::log10);
                Ok(())
            }
        }
    }

    /// Inverse on f32 data (`10^y` for log10), in place.
    pub fn invert<S, D>(&self, a: &mut ArrayBase<S, D>)
    where
        S: DataMut<Elem = f32>,
        D: Dimension,
    {
        if let PointTransform::Log10 { .. } = self {
            a.mapv_inplace(|y| 10f64.powf(y as f64) as f32);
        }
    }

    /// Inverse on f64 data, in place.
    pub fn invert_f64<S, D>(&self, a: &mut ArrayBase<S, D>)
    where
        S: DataMut<Elem = f64>,
        D: Dimension,
    {
        if let PointTransform::Log10 { .. } = self {
            a.mapv_inplace(|y| 10f64.powf(y));
        }
    }
}

/// How to change the resolution of a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Resample {
    /// Mean over `f×f` blocks (integer factors only): conserves the map's mean
    /// (total flux / mass) exactly up to rounding.
    #[default]
    Area,
    /// Antialiased bicubic (a = −0.5, kernel widened by the scale factor), as
    /// PIL and `torch.nn.functional.interpolate(mode="bicubic", antialias=True)`
    /// — what torchvision's `Resize` used in the seed paper.
    Bicubic,
}

/// Block-average a square map by an integer `factor` (side must divide).
pub fn downsample_area(map: ArrayView2<f64>, factor: usize) -> Result<Array2<f64>> {
    let (r, c) = map.dim();
    if factor == 0 || r % factor != 0 || c % factor != 0 {
        return Err(FieldsError::invalid(
            "area downsampling",
            format!("factor {factor} does not divide the map size {r}×{c}"),
        ));
    }
    let (ro, co) = (r / factor, c / factor);
    let inv = 1.0 / (factor * factor) as f64;
    let mut out = Array2::<f64>::zeros((ro, co));
    for ((i, j), o) in out.indexed_iter_mut() {
        let block = map.slice(ndarray::s![
            i * factor..(i + 1) * factor,
            j * factor..(j + 1) * factor
        ]);
        *o = block.sum() * inv;
    }
    Ok(out)
}

/// Torch/PIL antialiased cubic kernel (a = −0.5).
fn cubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// For each output index: (input indices, normalised weights).
fn aa_weights(n_in: usize, n_out: usize, periodic: bool) -> Vec<(Vec<usize>, Vec<f64>)> {
    let scale = n_in as f64 / n_out as f64;
    let (support, inv) = if scale >= 1.0 {
        (2.0 * scale, 1.0 / scale)
    } else {
        (2.0, 1.0)
    };
    (0..n_out)
        .map(|i| {
            let center = scale * (i as f64 + 0.5);
            let mut lo = (center - support + 0.5).floor() as i64;
            let mut hi = (center + support + 0.5).floor() as i64;
            if !periodic {
                lo = lo.max(0);
                hi = hi.min(n_in as i64);
            }
            let mut idx = Vec::new();
            let mut w = Vec::new();
            for k in lo..hi {
                let wk = cubic((k as f64 - center + 0.5) * inv);
                if wk != 0.0 {
                    idx.push(k.rem_euclid(n_in as i64) as usize);
                    w.push(wk);
                }
            }
            let total: f64 = w.iter().sum();
            w.iter_mut().for_each(|x| *x /= total);
            (idx, w)
        })
        .collect()
}

/// Resize a map to `out × out` with antialiased bicubic filtering (separable,
/// rows then columns). Non-periodic maps use torch's edge handling (kernel cut
/// at the border and renormalised); periodic maps wrap around instead.
pub fn resize_bicubic_aa(map: ArrayView2<f64>, out: usize, periodic: bool) -> Array2<f64> {
    let (r, c) = map.dim();
    let wr = aa_weights(r, out, periodic);
    let wc = aa_weights(c, out, periodic);
    // Horizontal pass: (r, c) -> (r, out).
    let mut tmp = Array2::<f64>::zeros((r, out));
    for i in 0..r {
        let row = map.row(i);
        for (j, (idx, w)) in wc.iter().enumerate() {
            tmp[[i, j]] = idx.iter().zip(w).map(|(&k, &wk)| row[k] * wk).sum();
        }
    }
    // Vertical pass: (r, out) -> (out, out).
    let mut res = Array2::<f64>::zeros((out, out));
    for (i, (idx, w)) in wr.iter().enumerate() {
        for (&k, &wk) in idx.iter().zip(w) {
            res.row_mut(i).scaled_add(wk, &tmp.row(k));
        }
    }
    res
}

/// Resize a square map to `out × out` by `method`; identity if already that size.
pub fn resize(
    map: ArrayView2<f64>,
    out: usize,
    method: Resample,
    periodic: bool,
) -> Result<Array2<f64>> {
    let side = map.nrows();
    if out == 0 {
        return Err(FieldsError::invalid("resolution", "must be > 0"));
    }
    if out == side {
        return Ok(map.to_owned());
    }
    match method {
        Resample::Area => {
            if out > side || side / out * out != side {
                return Err(FieldsError::invalid(
                    "area downsampling",
                    format!("{side} → {out} is not an integer downsampling factor; use bicubic"),
                ));
            }
            downsample_area(map, side / out)
        }
        Resample::Bicubic => Ok(resize_bicubic_aa(map, out, periodic)),
    }
}

/// Normalisation of the (transformed) training data, stored as JSON next to
/// the data and the model so generated fields can be put back in physical units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Normalization {
    /// `y = 2 (x − min) / (max − min) − 1`: training data lands in [−1, 1] (the paper).
    MinMax { min: f64, max: f64 },
    /// `y = (x − mean) / std`.
    Standard { mean: f64, std: f64 },
}

impl Normalization {
    /// Min/max of the training data (must be finite and not constant).
    pub fn fit_minmax<'a>(data: impl IntoIterator<Item = &'a f32>) -> Result<Normalization> {
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for &v in data {
            min = min.min(v as f64);
            max = max.max(v as f64);
        }
        if !(min.is_finite() && max.is_finite()) || max <= min {
            return Err(FieldsError::invalid(
                "min/max normalisation",
                format!("training data range [{min}, {max}] is empty, constant or not finite"),
            ));
        }
        Ok(Normalization::MinMax { min, max })
    }

    /// Mean and (population) standard deviation of the training data.
    pub fn fit_standard<'a>(data: impl IntoIterator<Item = &'a f32>) -> Result<Normalization> {
        // Two accumulators in f64 (Welford) so millions of f32 pixels stay accurate.
        let (mut n, mut mean, mut m2) = (0u64, 0f64, 0f64);
        for &v in data {
            n += 1;
            let d = v as f64 - mean;
            mean += d / n as f64;
            m2 += d * (v as f64 - mean);
        }
        let std = (m2 / n.max(1) as f64).sqrt();
        if n == 0 || !(std > 0.0 && std.is_finite()) {
            return Err(FieldsError::invalid(
                "standardisation",
                format!("training data has std {std} over {n} values"),
            ));
        }
        Ok(Normalization::Standard { mean, std })
    }

    /// `(scale, offset)` with `y = (x − offset) · scale`.
    fn affine(&self) -> (f64, f64) {
        match *self {
            Normalization::MinMax { min, max } => (2.0 / (max - min), 0.5 * (min + max)),
            Normalization::Standard { mean, std } => (1.0 / std, mean),
        }
    }

    /// Normalise one value.
    pub fn apply_value(&self, x: f64) -> f64 {
        let (s, o) = self.affine();
        (x - o) * s
    }

    /// Undo [`Normalization::apply_value`].
    pub fn invert_value(&self, y: f64) -> f64 {
        let (s, o) = self.affine();
        y / s + o
    }

    /// Normalise in place (arithmetic in f64).
    pub fn apply<S, D>(&self, a: &mut ArrayBase<S, D>)
    where
        S: DataMut<Elem = f32>,
        D: Dimension,
    {
        let (s, o) = self.affine();
        Zip::from(a).par_for_each(|v| *v = ((*v as f64 - o) * s) as f32);
    }

    /// Back to the un-normalised (transformed) values, in place.
    pub fn invert<S, D>(&self, a: &mut ArrayBase<S, D>)
    where
        S: DataMut<Elem = f32>,
        D: Dimension,
    {
        let (s, o) = self.affine();
        Zip::from(a).par_for_each(|v| *v = (*v as f64 / s + o) as f32);
    }

    /// Write as JSON (atomically).
    pub fn save_json(&self, path: impl AsRef<Path>) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("plain data serialises");
        write_atomic(path.as_ref(), |w| {
            std::io::Write::write_all(w, text.as_bytes())
        })
    }

    /// Read from JSON written by [`Normalization::save_json`].
    pub fn load_json(path: impl AsRef<Path>) -> Result<Normalization> {
        let path = path.as_ref();
        let text =
            std::fs::read_to_string(path).map_err(|e| FieldsError::io(path, "cannot read", e))?;
        serde_json::from_str(&text)
            .map_err(|e| FieldsError::format(path, format!("not a normalisation JSON: {e}")))
    }
}

#[cfg(test)]
mod tests;
