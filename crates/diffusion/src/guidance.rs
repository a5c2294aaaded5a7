//! Classifier-free guidance (Ho & Salimans 2022) as a denoiser, so every sampler gets it for free.
//!
//! Convention: `ε̂ = (1 + w) ε̂(x_t, t | θ) − w ε̂(x_t, t | ∅)`. **w = 0 is no guidance**: the
//! conditional prediction is returned as it is, without calling the unconditional model, so a
//! guided sampler at w = 0 reproduces the plain conditional sampler bit for bit. w > 0 sharpens
//! towards θ; w = −1 is the unconditional model. (Some papers write the same rule with
//! s = 1 + w, where s = 1 means none.)

use crate::sampler::Denoiser;
use tch::Tensor;

/// A conditional and an unconditional noise predictor combined with guidance weight `weight`.
pub struct Guided<'a> {
    pub conditional: &'a dyn Denoiser,
    pub unconditional: &'a dyn Denoiser,
    /// w: 0 is no guidance (see the module docs).
    pub weight: f64,
}

impl Denoiser for Guided<'_> {
    fn predict_eps(&self, x_t: &Tensor, t: &Tensor) -> Tensor {
        let cond = self.conditional.predict_eps(x_t, t);
        if self.weight == 0.0 {
            return cond;
        }
        let uncond = self.unconditional.predict_eps(x_t, t);
        cond * (1.0 + self.weight) - uncond * self.weight
    }
}
