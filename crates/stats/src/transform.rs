//! Input transforms applied to a map before any statistic is measured.
//!
//! All arithmetic is f64: float32 maps are promoted exactly before this step
//! (docs/conventions.md, "Common").

use crate::error::{check_finite, Result, StatsError};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

/// What the statistics are measured on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transform {
    /// x = f, the field as stored (Pylians' convention: no mean subtraction).
    #[default]
    Identity,
    /// x = log10(f); every pixel must be > 0 (e.g. CAMELS projected densities).
    Log10,
    /// x = δ = f / mean(f) − 1 with the f64 mean over all pixels, as
    /// `power_spectrum_overdensity` in the fixtures. P(f) = mean² · P(δ) in every k > 0 bin.
    Overdensity,
}

impl std::str::FromStr for Transform {
    type Err = crate::StatsError;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "identity" => Ok(Self::Identity),
            "log10" => Ok(Self::Log10),
            "overdensity" => Ok(Self::Overdensity),
            other => Err(crate::StatsError::Unknown {
                what: "transform",
                value: other.to_string(),
                expected: "identity, log10 or overdensity",
            }),
        }
    }
}

impl std::fmt::Display for Transform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Identity => "identity",
            Self::Log10 => "log10",
            Self::Overdensity => "overdensity",
        })
    }
}

impl Transform {
    /// Applies the transform, checking the input is finite first and the output is finite
    /// (log10 of a non-positive pixel is an error naming that pixel).
    pub fn apply(self, f: ArrayView2<f64>) -> Result<Array2<f64>> {
        match self {
            Self::Identity => {
                check_finite(f)?;
                Ok(f.to_owned())
            }
            Self::Log10 => {
                let f = f.as_standard_layout();
                let v = f.as_slice().expect("standard layout");
                // One branch-free pass decides; the slow path finds the culprit pixel (or
                // takes subnormal positive values through libm).
                if crate::log10::all_normal_positive(v) {
                    let y = crate::log10::log10_of_normal_positive(v);
                    return Ok(Array2::from_shape_vec(f.dim(), y).expect("same length"));
                }
                check_finite(f.view())?;
                if let Some(((i, j), &value)) = f.indexed_iter().find(|(_, v)| **v <= 0.0) {
                    return Err(StatsError::NonPositive { i, j, value });
                }
                let y = crate::log10::log10_of(v);
                Ok(Array2::from_shape_vec(f.dim(), y).expect("same length"))
            }
            Self::Overdensity => {
                check_finite(f)?;
                let mean = f.iter().sum::<f64>() / f.len() as f64;
                if mean == 0.0 || !mean.is_finite() {
                    return Err(StatsError::ZeroMean { mean });
                }
                Ok(f.mapv(|v| v / mean - 1.0))
            }
        }
    }
}
