//! Posterior samples of the clean field behind noisy maps, with a trained run as the prior
//! (Mudur & Finkbeiner 2022, the dust denoiser; the core is `diffusion::inverse`).
//!
//! Noise model: the observation is `y = x + n`, `n` white Gaussian noise of standard deviation
//! σ **in the space the model was trained in** (after the data transform, before
//! normalisation): the data's own units for an identity model, dex for a log10 model. The
//! normalisation is affine, so the network sees `σ_norm = σ·scale` ([`TrainedRun::sigma_norm`]
//! checks it once). The injection plan (`diffusion::inverse::plan_injection`) fixes where the
//! reverse process starts; it is returned with the number of network evaluations.

use crate::error::{bail, Context, Result};
use crate::run::TrainedRun;
use diffusion::inverse::{InjectionPlan, PosteriorConfig};
use diffusion::model::NetDenoiser;
use diffusion::tch::{Device, Kind, Tensor};
use ndarray::{Array3, Array4, ArrayView3, Axis};

/// Posterior draws in normalised units.
#[derive(Debug)]
pub struct NormalisedPosterior {
    /// [B, K, N, N].
    pub samples: Array4<f32>,
    pub plan: InjectionPlan,
    pub nfe: usize,
}

/// Posterior draws in physical units with their summary.
#[derive(Debug)]
pub struct Denoised {
    /// [B, K, N, N] samples, mean and standard deviation [B, N, N] over the K samples (of the
    /// physical-unit samples; the std with Bessel's correction when K > 1).
    pub samples: Array4<f64>,
    pub mean: Array3<f64>,
    pub std: Array3<f64>,
    /// σ in the model's normalised units, the injection plan (t*, σ_t*, scale, top-up noise)
    /// and the network evaluations.
    pub sigma_norm: f64,
    pub plan: InjectionPlan,
    pub nfe: usize,
    /// Non-finite values among the samples.
    pub nonfinite: usize,
}

impl TrainedRun {
    /// Posterior draws for noisy maps `y` [B, N, N] in **normalised** units sharing one
    /// `sigma_norm`. Map i draws from its own stream derived from (seed, i), with its K samples
    /// as one network batch; `progress` receives (maps done, B).
    pub fn posterior_normalised(
        &self,
        y: ArrayView3<f32>,
        sigma_norm: f64,
        config: &PosteriorConfig,
        progress: Option<&mut dyn FnMut(usize, usize)>,
    ) -> Result<NormalisedPosterior> {
        let _guard = diffusion::tch::no_grad_guard();
        let (b, n, _) = y.dim();
        let y = y.as_standard_layout();
        let obs = Tensor::from_slice(y.as_slice().expect("standard layout"))
            .view([b as i64, 1, n as i64, n as i64])
            .to_device(self.device);
        let den = NetDenoiser {
            unet: &self.net.unet,
            schedule: &self.schedule,
            prediction: self.config.diffusion.prediction,
            cond: None,
            prior: self.prior.as_ref(),
        };
        let post = diffusion::inverse::denoise_posterior(
            &den,
            &self.schedule,
            &obs,
            sigma_norm,
            config,
            progress,
        )
        .map_err(diffusion::Error::from)?;
        let v: Vec<f32> = Vec::<f32>::try_from(
            post.samples
                .to_device(Device::Cpu)
                .to_kind(Kind::Float)
                .flatten(0, -1),
        )?;
        let k = config.samples;
        Ok(NormalisedPosterior {
            samples: Array4::from_shape_vec((b, k, n, n), v)
                .context("posterior samples have an unexpected size")?,
            plan: post.plan,
            nfe: post.nfe,
        })
    }

    /// Posterior draws for noisy maps in **trained** units (after the transform) with noise σ
    /// in trained units; samples are returned in trained units.
    pub fn denoise_trained(
        &self,
        y: ArrayView3<f64>,
        sigma: f64,
        config: &PosteriorConfig,
        progress: Option<&mut dyn FnMut(usize, usize)>,
    ) -> Result<(Array4<f64>, f64, InjectionPlan, usize)> {
        let space = self.space()?;
        let sigma_norm = self.sigma_norm(sigma)?;
        let yn = y.mapv(|v| space.normalise(v) as f32);
        let post = self.posterior_normalised(yn.view(), sigma_norm, config, progress)?;
        let x = post.samples.mapv(|z| space.denormalise(z as f64));
        Ok((x, sigma_norm, post.plan, post.nfe))
    }

    /// Posterior draws for noisy maps `y` [B, N, N] in **physical** units (`source` names them
    /// in messages), noise σ in trained units (module docs). Returns physical-unit samples with
    /// their mean and standard deviation.
    pub fn denoise(
        &self,
        y: ArrayView3<f64>,
        source: &std::path::Path,
        sigma: f64,
        config: &PosteriorConfig,
        progress: Option<&mut dyn FnMut(usize, usize)>,
    ) -> Result<Denoised> {
        let space = self.space()?;
        let (b, n, _) = y.dim();
        self.check_input_side(n, source)?;
        let mut tr = Array3::<f64>::zeros((b, n, n));
        for m in 0..b {
            let t = space.to_trained(y.index_axis(Axis(0), m).to_owned(), source, m)?;
            tr.index_axis_mut(Axis(0), m).assign(&t);
        }
        let (mut samples, sigma_norm, plan, nfe) =
            self.denoise_trained(tr.view(), sigma, config, progress)?;
        space.trained_to_physical(&mut samples);
        let nonfinite = samples.iter().filter(|v| !v.is_finite()).count();
        if nonfinite == samples.len() {
            bail!(
                "{}: every posterior sample is non-finite (NaN or ∞)",
                self.source.display()
            );
        }
        let k = config.samples;
        let mean = samples.mean_axis(Axis(1)).expect("K ≥ 1");
        let std = samples.std_axis(Axis(1), if k > 1 { 1.0 } else { 0.0 });
        Ok(Denoised {
            samples,
            mean,
            std,
            sigma_norm,
            plan,
            nfe,
            nonfinite,
        })
    }
}
