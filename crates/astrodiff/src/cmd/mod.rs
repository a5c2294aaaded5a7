pub mod compare;
pub mod data;
pub mod simulate;
pub mod stats;
#[cfg(feature = "torch")]
pub mod sample;
#[cfg(feature = "torch")]
pub mod train;
