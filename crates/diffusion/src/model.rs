//! A U-Net together with its noise schedule and objective, usable by the samplers as a
//! [`Denoiser`].

use crate::config::{Prediction, RunConfig};
use crate::sampler::Denoiser;
use crate::schedule::NoiseSchedule;
use crate::unet::UNet;
use tch::{nn::VarStore, Device, Tensor};

/// A network's variables and forward function.
pub struct Net {
    pub vs: VarStore,
    pub unet: UNet,
}

impl Net {
    /// Builds the network of `cfg` on `device`, initialised (like PyTorch) from torch's global
    /// generator, which this seeds with `init_seed`.
    pub fn new(cfg: &RunConfig, device: Device, init_seed: u64) -> Result<Self, String> {
        tch::manual_seed(init_seed as i64);
        let vs = VarStore::new(device);
        let unet = UNet::new(&vs.root(), &cfg.unet)?;
        Ok(Self { vs, unet })
    }

    /// The variables sorted by name: the fixed order used by the optimiser, the EMA and the
    /// checkpoint.
    pub fn named_params(&self) -> Vec<(String, Tensor)> {
        let mut v: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    pub fn num_params(&self) -> i64 {
        self.vs.variables().values().map(|t| t.numel() as i64).sum()
    }
}

/// A trained network seen by the samplers: returns ε̂ whatever the network predicts.
pub struct NetDenoiser<'a> {
    pub unet: &'a UNet,
    pub schedule: &'a NoiseSchedule,
    pub prediction: Prediction,
    /// Conditioning vectors [B, cond_dim] for the batch being sampled (None if unconditional).
    pub cond: Option<Tensor>,
}

impl Denoiser for NetDenoiser<'_> {
    fn predict_eps(&self, x_t: &Tensor, t: &Tensor) -> Tensor {
        tch::no_grad(|| {
            let t = t.to_device(x_t.device());
            let out = self.unet.forward(x_t, &t, self.cond.as_ref(), false);
            match self.prediction {
                Prediction::Eps => out,
                Prediction::V => self.schedule.eps_from_v(x_t, &t, &out),
            }
        })
    }
}

/// Device from a `--device` value: `cpu`, `cuda` (GPU 0), `cuda:N`, or `None` for CUDA when
/// available, else CPU. On the CPU, torch's intra-op threads are set to `threads` or, by
/// default, the number of cores.
pub fn select_device(arg: Option<&str>, threads: Option<usize>) -> Result<Device, String> {
    if threads == Some(0) {
        return Err("--threads 0: give at least 1 thread (or leave it out for all cores)".into());
    }
    let dev = match arg.map(|s| s.trim().to_ascii_lowercase()) {
        None => Device::cuda_if_available(),
        Some(s) if s == "cpu" => Device::Cpu,
        Some(s) if s == "cuda" || s.starts_with("cuda:") => {
            let i: usize = match s.strip_prefix("cuda:") {
                Some(n) => n
                    .parse()
                    .map_err(|_| format!("--device '{s}': bad GPU index"))?,
                None => 0,
            };
            if !tch::Cuda::is_available() || i >= tch::Cuda::device_count() as usize {
                return Err(format!(
                    "--device {s}: no such CUDA device (libtorch sees {} GPU(s); is the binary built with --features cuda?)",
                    if tch::Cuda::is_available() { tch::Cuda::device_count() } else { 0 }
                ));
            }
            Device::Cuda(i)
        }
        Some(s) => return Err(format!("--device '{s}': expected cpu, cuda or cuda:N")),
    };
    if dev == Device::Cpu {
        let n = threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        tch::set_num_threads(n as i32);
    }
    Ok(dev)
}
