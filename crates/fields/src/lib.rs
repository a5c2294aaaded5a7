//! `fields`: astrophysical 2D fields from files to training batches and back.
//!
//! - [`io`]: `.npy` (memory-mapped), `.npz`, FITS readers ([`io::MapStack`]) and atomic writers.
//! - [`camels`]: the CAMELS CMD layout (`Maps_<field>_<suite>_<set>_z=<z>.npy` + parameter tables).
//! - [`condition`]: the parameters a model is conditioned on, by name, with their prior box.
//! - [`split`]: train/val/test splits over simulations, source maps or regions.
//! - [`rng`]: deterministic seeded sub-streams.
//! - [`error`]: [`FieldsError`], one-line messages naming the file and the problem.

pub mod augment;
pub mod camels;
pub mod condition;
pub mod dataset;
pub mod error;
pub mod filters;
pub mod io;
pub mod patches;
pub mod rng;
pub mod split;
pub mod transform;

pub use error::{FieldsError, Result};
pub use io::MapStack;
