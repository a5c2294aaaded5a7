//! A U-Net together with its noise schedule and objective, usable by the samplers as a
//! [`Denoiser`].

use crate::analytic::GrfDenoiser;
use crate::checkpoint::Checkpoint;
use crate::config::{Prediction, RunConfig};
use crate::error::{Error, Result};
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
    pub fn new(cfg: &RunConfig, device: Device, init_seed: u64) -> Result<Self> {
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

/// Checkpoint tensor names of the Gaussian prior (`diffusion.gaussian_prior`).
pub const PRIOR_MEAN: &str = "prior/mean";
pub const PRIOR_MODE_VAR: &str = "prior/mode_var";

/// The Gaussian prior's prediction of `x_t` in the network's parameterisation (ε, or v from
/// its ε and x̂₀), without gradient: what the network's output is added to.
pub fn prior_prediction(
    prior: &GrfDenoiser,
    schedule: &NoiseSchedule,
    prediction: Prediction,
    x_t: &Tensor,
    t: &Tensor,
) -> Tensor {
    tch::no_grad(|| {
        let eps = prior.predict_eps(x_t, t);
        match prediction {
            Prediction::Eps => eps,
            Prediction::V => {
                let x0 = schedule.x0_from_eps(x_t, t, &eps);
                schedule.v_target(&x0, &eps, t)
            }
        }
    })
}

/// The prior tensors of a Gaussian prior, in checkpoint layout.
pub fn prior_tensors(prior: &GrfDenoiser) -> Vec<(String, Tensor)> {
    let m = (prior.n / 2 + 1) as i64;
    vec![
        (PRIOR_MEAN.into(), Tensor::from_slice(&[prior.mean])),
        (
            PRIOR_MODE_VAR.into(),
            Tensor::from_slice(&prior.mode_var).view([prior.n as i64, m]),
        ),
    ]
}

impl Checkpoint {
    /// The Gaussian prior of a run trained with `diffusion.gaussian_prior` (None otherwise).
    /// Errors if the config asks for one and the tensors are missing or malformed.
    pub fn prior(&self, schedule: &NoiseSchedule) -> Result<Option<GrfDenoiser>> {
        if !self.config.diffusion.gaussian_prior {
            return Ok(None);
        }
        let get = |name: &str| {
            self.tensors.get(name).ok_or_else(|| {
                format!("diffusion.gaussian_prior is set but the tensor {name} is missing")
            })
        };
        let (mean, var) = (get(PRIOR_MEAN)?, get(PRIOR_MODE_VAR)?);
        let sz = var.size();
        if mean.numel() != 1 || sz.len() != 2 || sz[1] != sz[0] / 2 + 1 || sz[0] < 2 {
            return Err(Error::invalid(format!(
                "{PRIOR_MODE_VAR} has shape {sz:?}, expected [N, N/2+1]"
            )));
        }
        let mode_var = Vec::<f64>::try_from(&var.to_kind(tch::Kind::Double).flatten(0, -1))
            .map_err(|e| Error::invalid(format!("{PRIOR_MODE_VAR}: {e}")))?;
        if mode_var.iter().any(|v| *v < 0.0) {
            return Err(Error::invalid(format!(
                "{PRIOR_MODE_VAR} holds a negative variance"
            )));
        }
        Ok(Some(GrfDenoiser::from_mode_variance(
            schedule,
            sz[0] as usize,
            mean.double_value(&[0]),
            mode_var,
        )))
    }
}

/// A trained network seen by the samplers: returns ε̂ whatever the network predicts.
pub struct NetDenoiser<'a> {
    pub unet: &'a UNet,
    pub schedule: &'a NoiseSchedule,
    pub prediction: Prediction,
    /// Conditioning vectors [B, cond_dim] for the batch being sampled (None if unconditional).
    pub cond: Option<Tensor>,
    /// The Gaussian prior the network's output is added to (`diffusion.gaussian_prior`).
    pub prior: Option<&'a GrfDenoiser>,
}

impl Denoiser for NetDenoiser<'_> {
    fn predict_eps(&self, x_t: &Tensor, t: &Tensor) -> Tensor {
        tch::no_grad(|| {
            let t = t.to_device(x_t.device());
            let mut out = self.unet.forward(x_t, &t, self.cond.as_ref(), false);
            if let Some(p) = self.prior {
                out += prior_prediction(p, self.schedule, self.prediction, x_t, &t);
            }
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
pub fn select_device(arg: Option<&str>, threads: Option<usize>) -> Result<Device> {
    if threads == Some(0) {
        return Err(Error::invalid(
            "--threads 0: give at least 1 thread (or leave it out for all cores)",
        ));
    }
    let dev = match arg.map(|s| s.trim().to_ascii_lowercase()) {
        None => Device::cuda_if_available(),
        Some(s) if s == "cpu" => Device::Cpu,
        Some(s) if s == "cuda" || s.starts_with("cuda:") => {
            let i: usize = match s.strip_prefix("cuda:") {
                Some(n) => n
                    .parse()
                    .map_err(|_| Error::invalid(format!("--device '{s}': bad GPU index")))?,
                None => 0,
            };
            if !tch::Cuda::is_available() || i >= tch::Cuda::device_count() as usize {
                return Err(Error::invalid(format!(
                    "--device {s}: no such CUDA device (libtorch sees {} GPU(s); is the binary built with --features cuda?)",
                    if tch::Cuda::is_available() { tch::Cuda::device_count() } else { 0 }
                )));
            }
            Device::Cuda(i)
        }
        Some(s) => {
            return Err(Error::invalid(format!(
                "--device '{s}': expected cpu, cuda or cuda:N"
            )))
        }
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
