//! Exponential moving average of the network weights (weights only: the U-Net has no buffers).

use crate::model::Net;
use tch::Tensor;

/// `ema ← decay·ema + (1 − decay)·w` after each optimiser step from `start` on; before that
/// the EMA copies the weights (so an early EMA is not dragged towards the random init).
pub struct Ema {
    pub net: Net,
    pub decay: f64,
    pub start: u64,
    params: Vec<Tensor>,
}

impl Ema {
    /// Wraps `net` (a second instance of the same architecture) as the EMA of `src`, starting
    /// as an exact copy of `src`.
    pub fn new(net: Net, src: &Net, decay: f64, start: u64) -> Self {
        let params: Vec<Tensor> = net.named_params().into_iter().map(|(_, t)| t).collect();
        let ema = Self {
            net,
            decay,
            start,
            params,
        };
        ema.copy_from(src);
        ema
    }

    fn copy_from(&self, src: &Net) {
        tch::no_grad(|| {
            for (e, (_, w)) in self.params.iter().zip(src.named_params()) {
                e.shallow_clone().copy_(&w);
            }
        });
    }

    /// Update after optimiser step `step` (0-based) of `src`.
    pub fn update(&self, src: &Net, step: u64) {
        if step < self.start {
            return self.copy_from(src);
        }
        let d = self.decay;
        tch::no_grad(|| {
            for (e, (_, w)) in self.params.iter().zip(src.named_params()) {
                // In place, no temporary: ema + (1 − d)(w − ema).
                let _ = e.shallow_clone().lerp_(&w, 1.0 - d);
            }
        });
    }
}
