//! One error type for the crate. Every variant names the file (or value) and
//! what is wrong with it, on one line, so the CLI can print it as is.

use std::path::PathBuf;

/// Errors from reading, checking, transforming and preparing fields.
///
/// `path` is the file the problem was found in; for arrays that never came
/// from a file it is a short description such as `<in-memory>`.
#[derive(Debug, thiserror::Error)]
pub enum FieldsError {
    /// An operating-system error while opening, mapping, reading or writing.
    #[error("{}: {what}: {error}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        error: std::io::Error,
    },
    /// The file is not a well-formed .npy/.npz/FITS/params/JSON file.
    #[error("{}: {reason}", path.display())]
    Format { path: PathBuf, reason: String },
    /// The element type is not a real floating-point type we can read.
    #[error("{}: unsupported dtype {dtype}: {hint}", path.display())]
    Dtype {
        path: PathBuf,
        dtype: String,
        hint: String,
    },
    /// A .npy array stored in Fortran (column-major) order.
    #[error("{}: array is stored in Fortran order; save it C-ordered, e.g. np.save(f, np.ascontiguousarray(a))", path.display())]
    FortranOrder { path: PathBuf },
    /// The file holds fewer data bytes than its header promises.
    #[error("{}: truncated: header needs {expected} data bytes but only {actual} are present", path.display())]
    Truncated {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
    /// Wrong number of dimensions (maps are 2D, stacks 3D).
    #[error("{}: shape {shape:?}: {reason}", path.display())]
    Shape {
        path: PathBuf,
        shape: Vec<usize>,
        reason: String,
    },
    /// Maps must be square N×N.
    #[error("{}: maps are not square: {rows}×{cols} pixels", path.display())]
    NotSquare {
        path: PathBuf,
        rows: usize,
        cols: usize,
    },
    /// No maps, or maps of zero size.
    #[error("{}: holds no maps (shape {shape:?})", path.display())]
    Empty { path: PathBuf, shape: Vec<usize> },
    /// A NaN or infinity in the data.
    #[error("{}: non-finite value {value} at map {map}, pixel (i={i}, j={j})", path.display())]
    NonFinite {
        path: PathBuf,
        map: usize,
        i: usize,
        j: usize,
        value: f64,
    },
    /// A value ≤ 0 where log10 is to be taken.
    #[error("{}: value {value} ≤ 0 at map {map}, pixel (i={i}, j={j}) cannot take log10; give a floor (e.g. --log-floor 1e-10) or use --transform identity", path.display())]
    NonPositive {
        path: PathBuf,
        map: usize,
        i: usize,
        j: usize,
        value: f64,
    },
    /// A CAMELS parameter table that does not fit its maps.
    #[error("{}: {reason}", path.display())]
    Params { path: PathBuf, reason: String },
    /// A bad argument or configuration value (no file involved).
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
}

impl From<atomicio::Error> for FieldsError {
    fn from(e: atomicio::Error) -> Self {
        match e {
            atomicio::Error::Io { path, what, error } => FieldsError::Io { path, what, error },
            locked @ atomicio::Error::Locked { .. } => FieldsError::Invalid {
                what: "folder".into(),
                reason: locked.to_string(),
            },
        }
    }
}

impl FieldsError {
    pub(crate) fn io(path: impl Into<PathBuf>, what: &'static str, error: std::io::Error) -> Self {
        FieldsError::Io {
            path: path.into(),
            what,
            error,
        }
    }
    pub(crate) fn format(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        FieldsError::Format {
            path: path.into(),
            reason: reason.into(),
        }
    }
    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldsError::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = FieldsError> = std::result::Result<T, E>;
