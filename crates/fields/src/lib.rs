//! `fields`: astrophysical 2D fields from files to training batches and back.
//!
//! - [`io`]: `.npy` (memory-mapped), `.npz`, FITS readers ([`io::MapStack`]) and atomic writers.
//! - [`error`]: [`FieldsError`], one-line messages naming the file and the problem.

pub mod error;
pub mod io;

pub use error::{FieldsError, Result};
pub use io::MapStack;
