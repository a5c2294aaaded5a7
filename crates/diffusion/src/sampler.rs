//! Reverse-process samplers (DDPM ancestral, DDIM, DPM-Solver++ 2M) behind the [`Denoiser`]
//! trait. This module knows nothing of the network: anything that maps (x_t, t) to ε̂ samples.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use tch::{Device, Kind, Tensor};

/// A noise predictor ε̂(x_t, t).
///
/// `x_t`: the noisy batch [B, …]; `t`: i64 tensor [B] of 0-based timestep indices
/// (t = 0 is the least noisy, see [`crate::schedule`]). Returns ε̂ with the shape of `x_t`.
/// Samplers call it inside `tch::no_grad`.
pub trait Denoiser {
    fn predict_eps(&self, x_t: &Tensor, t: &Tensor) -> Tensor;
}

impl<F> Denoiser for F
where
    F: Fn(&Tensor, &Tensor) -> Tensor,
{
    fn predict_eps(&self, x_t: &Tensor, t: &Tensor) -> Tensor {
        self(x_t, t)
    }
}

/// Seeded standard-normal noise, generated on the CPU as f32 from ChaCha8 and then moved to the
/// target device, so one seed gives the same numbers on CPU and GPU and never touches tch's
/// global RNG.
pub struct NoiseRng {
    rng: ChaCha8Rng,
}

impl NoiseRng {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// A tensor of i.i.d. N(0, 1) values with the given shape, device and float kind.
    pub fn randn(&mut self, shape: &[i64], device: Device, kind: Kind) -> Tensor {
        let n: i64 = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| StandardNormal.sample(&mut self.rng))
            .collect();
        Tensor::from_slice(&v)
            .view(shape)
            .to_kind(kind)
            .to_device(device)
    }
}
