//! Field statistics of 2D maps, exact to the conventions users trust
//! (docs/conventions.md; the oracle fixtures in `../shared/fixtures/metrics/` follow it):
//!
//! * [`power_spectrum`](mod@power_spectrum): Pylians3 `Pk_plane` half-plane estimator, f64, any N and box size.
//! * [`histogram`](mod@histogram): the pixel PDF with numpy's binning rule.
//! * [`minkowski`](mod@minkowski): V0, V1, V2 of {x > u}, periodic (reference), open, or quantimpy 0.2.6.
//! * [`moments`](mod@moments): mean, std, skewness, excess kurtosis, and the standardised field ν.
//! * [`posterior`]: marginal means, widths and quantiles of a log density on a parameter grid.
//! * [`ensemble`]: many maps in parallel, per-bin bands, and set-vs-set comparison.
//!
//! Input is always an `ArrayView2<f64>` (promote f32 first); this crate reads no files.

mod binning;
mod bitquad;
pub mod ensemble;
pub mod error;
pub mod fft;
pub mod histogram;
pub mod log10;
pub mod minkowski;
pub mod moments;
pub mod posterior;
pub mod power_spectrum;
pub mod slice;
pub mod transform;

pub use ensemble::{
    compare, measure, measure_many, pixel_distance, Comparison, Ensemble, MapStats, StatsConfig,
};
pub use error::{Result, StatsError};
pub use histogram::{histogram, uniform_edges, Histogram};
pub use minkowski::{
    bit_quad_counts, minkowski, quantimpy_counts, Boundary, MfConvention, Minkowski,
};
pub use moments::{moments, standardize, Moments};
pub use power_spectrum::{power_spectrum, PowerSpectrum, PowerSpectrumPlan};
pub use transform::Transform;
