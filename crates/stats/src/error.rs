//! The one error type of the crate. Every variant names the offending value or index so the
//! CLI can print a single line that tells the user what to fix.

/// Everything that can be wrong with the input of a statistic.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// A name that is not one of the choices (a transform, an MF convention).
    #[error("unknown {what} '{value}' (expected {expected})")]
    Unknown {
        what: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("map is empty (shape {rows}x{cols})")]
    Empty { rows: usize, cols: usize },
    #[error("map is not square: shape {rows}x{cols} (P(k) and the MFs need N x N)")]
    NotSquare { rows: usize, cols: usize },
    #[error("non-finite value {value} at pixel [{i}, {j}]")]
    NonFinite { i: usize, j: usize, value: f64 },
    #[error("log10 transform needs positive values, but pixel [{i}, {j}] = {value}")]
    NonPositive { i: usize, j: usize, value: f64 },
    #[error("overdensity transform needs a non-zero mean, but the map mean is {mean}")]
    ZeroMean { mean: f64 },
    #[error(
        "{what} must be strictly increasing, but {what}[{index}] = {value} follows {previous}"
    )]
    NotIncreasing {
        what: &'static str,
        index: usize,
        value: f64,
        previous: f64,
    },
    #[error("{what} is empty; at least {min} values are needed")]
    TooFew { what: &'static str, min: usize },
    #[error("{what} contains a non-finite value {value} at index {index}")]
    NonFiniteParameter {
        what: &'static str,
        index: usize,
        value: f64,
    },
    #[error("map is constant (every pixel {value}): its skewness, kurtosis and standardised field are undefined")]
    Constant { value: f64 },
    #[error("{what} = {value}: must be between {min} and {max}")]
    Count {
        what: &'static str,
        value: usize,
        min: usize,
        max: usize,
    },
    #[error("box size must be positive and finite, got {0}")]
    BadBoxSize(f64),
    #[error("maps in one set must share a shape/binning: {0}")]
    Mismatch(String),
    /// A posterior grid that cannot be summarised (the message says why).
    #[error("{0}")]
    Posterior(String),
}

impl StatsError {
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        StatsError::Posterior(msg.into())
    }
}

pub type Result<T> = std::result::Result<T, StatsError>;

/// Checks that a map is non-empty, square and finite. The first non-finite pixel is reported
/// (row-major order), so the message points at something the user can look up.
pub fn check_square_finite(x: ndarray::ArrayView2<f64>) -> Result<usize> {
    let (rows, cols) = x.dim();
    if rows == 0 || cols == 0 {
        return Err(StatsError::Empty { rows, cols });
    }
    if rows != cols {
        return Err(StatsError::NotSquare { rows, cols });
    }
    check_finite(x)?;
    Ok(rows)
}

/// Checks every pixel is finite (NaN and ±Inf are rejected).
pub fn check_finite(x: ndarray::ArrayView2<f64>) -> Result<()> {
    // Branch-free over a contiguous map (vectorises); the slow path only finds the culprit.
    let all_finite = match x.as_slice() {
        Some(v) => {
            // an all-ones exponent is ±inf or NaN; OR-ing integer flags vectorises
            const EXP: u64 = 0x7ff0_0000_0000_0000;
            v.iter()
                .fold(0u64, |bad, x| bad | ((x.to_bits() & EXP == EXP) as u64))
                == 0
        }
        None => x.iter().all(|v| v.is_finite()),
    };
    if all_finite {
        return Ok(());
    }
    for ((i, j), &value) in x.indexed_iter() {
        if !value.is_finite() {
            return Err(StatsError::NonFinite { i, j, value });
        }
    }
    Ok(())
}

/// Checks a parameter list (edges, thresholds) is non-empty with `min` entries, finite and
/// strictly increasing.
pub fn check_increasing(what: &'static str, v: &[f64], min: usize) -> Result<()> {
    if v.len() < min {
        return Err(StatsError::TooFew { what, min });
    }
    for (index, &value) in v.iter().enumerate() {
        if !value.is_finite() {
            return Err(StatsError::NonFiniteParameter { what, index, value });
        }
        if index > 0 && value <= v[index - 1] {
            return Err(StatsError::NotIncreasing {
                what,
                index,
                value,
                previous: v[index - 1],
            });
        }
    }
    Ok(())
}
