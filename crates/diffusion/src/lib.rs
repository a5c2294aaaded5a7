//! diffusion: the U-Net, noise schedules, samplers, training and inverse problems, on libtorch via tch.

pub use error::{Error, Result};
pub use tch;

pub mod analytic;
pub mod checkpoint;
pub mod config;
pub mod ema;
pub mod error;
pub mod guidance;
pub mod inverse;
pub mod likelihood;
pub mod model;
pub mod nn;
pub mod sampler;
pub mod schedule;
pub mod train;
pub mod unet;

/// Name of the device a run uses: CUDA when available, else CPU.
pub fn default_device() -> tch::Device {
    tch::Device::cuda_if_available()
}

#[cfg(test)]
mod tests {
    #[test]
    fn libtorch_links_and_computes() {
        let t = tch::Tensor::from_slice(&[1.0f32, 2.0, 3.0]);
        let s: f64 = t.sum(tch::Kind::Float).double_value(&[]);
        assert_eq!(s, 6.0);
    }
}
