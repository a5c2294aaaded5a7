//! Fields drawn from a trained run, returned in physical units by one out-of-range rule.
//!
//! **Out-of-range rule.** A sampler can leave pixels outside anything the network was trained
//! on; for a log10 model, 10^x of such a pixel overflows to ∞ or underflows to 0. By default
//! ([`OutOfRange::Clamp`]) every normalised pixel is clamped to the training split's range
//! ([`TrainedRun::training_range`]: recorded by `prepare`, or [−1, 1] for min–max data) before
//! the inverse normalisation and transform, as the seed paper's sampler clamps its output to
//! [−1, 1]; how many pixels were clamped is returned. NaN pixels are never changed. With
//! [`OutOfRange::Keep`] (or a run that records no range) values are returned as sampled.

use crate::error::{bail, Context, Result};
use crate::run::TrainedRun;
use diffusion::guidance::Guided;
use diffusion::model::NetDenoiser;
use diffusion::sampler::{self, SamplerConfig};
use diffusion::tch::{Device, Kind, Tensor};
use ndarray::{Array2, Array3};
use rand::{RngCore, SeedableRng};

/// What happens to pixels outside the training range (module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutOfRange {
    /// Clamp to the training range (the default).
    #[default]
    Clamp,
    /// Return the values as sampled.
    Keep,
}

/// How fields are generated.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// Number of fields.
    pub n: usize,
    pub sampler: SamplerConfig,
    /// Seed of the initial noise and the stochastic steps; batch b draws with the b-th number
    /// of a ChaCha8 stream seeded by it, so the output depends on the seed and on `batch`.
    pub seed: u64,
    /// Fields per network call.
    pub batch: usize,
    /// Field side (default: the training resolution).
    pub size: Option<usize>,
    /// θ in physical units for a conditional model, in the order of its condition
    /// (`config.condition` of the [`TrainedRun`]): one row for every field, or one row
    /// per field (`n` rows). Each value must lie in its prior box.
    pub params: Option<Array2<f64>>,
    /// Classifier-free guidance weight w (`diffusion::guidance`): 0, the default, is the plain
    /// conditional model.
    pub guidance: f64,
    pub out_of_range: OutOfRange,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            n: 16,
            sampler: SamplerConfig::ddim(50, 0.0),
            seed: 0,
            batch: 16,
            size: None,
            params: None,
            guidance: 0.0,
            out_of_range: OutOfRange::Clamp,
        }
    }
}

/// Generated fields.
#[derive(Clone, Debug)]
pub struct Generated {
    /// (n, N, N) in physical units; in normalised units when the run records no data space
    /// (`physical` is false then).
    pub fields: Array3<f32>,
    /// The same fields in the network's normalised units, after the out-of-range rule.
    pub normalised: Array3<f32>,
    pub physical: bool,
    /// Pixels clamped by the out-of-range rule, and the bounds used (normalised units).
    pub clamped: u64,
    pub range: Option<(f64, f64)>,
    /// Non-finite values in `fields` (NaN from the sampler, or overflow under `Keep`).
    pub nonfinite: u64,
    /// Network evaluations (each on one batch) and the field side.
    pub nfe: usize,
    pub side: usize,
}

impl TrainedRun {
    /// Draws `opts.n` fields; `progress` receives (network calls done, calls in all).
    pub fn generate(
        &self,
        opts: &GenerateOptions,
        mut progress: Option<&mut dyn FnMut(usize, usize)>,
    ) -> Result<Generated> {
        if opts.n == 0 || opts.batch == 0 {
            bail!("the number of fields and the batch size must be positive");
        }
        let size = self.generation_side(opts.size)?;
        let cond_rows = self.condition_rows(opts.params.as_ref(), opts.n, opts.guidance)?;
        let _guard = diffusion::tch::no_grad_guard();
        let mut seeds = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed);
        let nb = opts.n.div_ceil(opts.batch);
        let per_batch = opts.sampler.steps.unwrap_or(self.schedule.timesteps());
        let total = nb * per_batch;
        let mut out = Vec::with_capacity(opts.n * size * size);
        let mut nfe = 0;
        for b in 0..nb {
            let first = b * opts.batch;
            let bs = opts.batch.min(opts.n - first);
            let cond = cond_rows.as_ref().map(|rows| {
                let d = rows.ncols();
                let part: Vec<f32> = if rows.nrows() == 1 {
                    rows.row(0).iter().copied().cycle().take(bs * d).collect()
                } else {
                    rows.slice(ndarray::s![first..first + bs, ..])
                        .iter()
                        .copied()
                        .collect()
                };
                Tensor::from_slice(&part)
                    .view([bs as i64, d as i64])
                    .to_device(self.device)
            });
            let null = cond.as_ref().map(|c| c.zeros_like());
            let den = NetDenoiser {
                unet: &self.net.unet,
                schedule: &self.schedule,
                prediction: self.config.diffusion.prediction,
                cond,
                prior: self.prior.as_ref(),
            };
            let uncond = NetDenoiser {
                unet: den.unet,
                schedule: den.schedule,
                prediction: den.prediction,
                cond: null,
                prior: den.prior,
            };
            let guided = Guided {
                conditional: &den,
                unconditional: &uncond,
                weight: opts.guidance,
            };
            let seed = seeds.next_u64();
            let base = b * per_batch;
            let mut cb = |i: usize, _n: usize| {
                if let Some(p) = progress.as_mut() {
                    p(base + i, total)
                }
            };
            let shape = [bs as i64, 1, size as i64, size as i64];
            let res = sampler::sample(
                &guided,
                &self.schedule,
                &opts.sampler,
                &shape,
                self.device,
                seed,
                Some(&mut cb),
            )
            .map_err(diffusion::Error::from)?;
            nfe += res.nfe;
            let x = res
                .x0
                .to_device(Device::Cpu)
                .to_kind(Kind::Float)
                .flatten(0, -1);
            out.extend(Vec::<f32>::try_from(&x)?);
        }
        let mut normalised = Array3::from_shape_vec((opts.n, size, size), out)
            .context("sampled fields have an unexpected size")?;
        let range = match opts.out_of_range {
            OutOfRange::Clamp => self.training_range,
            OutOfRange::Keep => None,
        };
        let mut clamped = 0u64;
        if let Some((lo, hi)) = range {
            let (lo, hi) = (lo as f32, hi as f32);
            normalised.mapv_inplace(|v| {
                if v < lo || v > hi {
                    clamped += 1;
                    v.clamp(lo, hi)
                } else {
                    v
                }
            });
        }
        let mut fields = normalised.clone();
        let physical = match &self.space {
            Some(sp) => {
                sp.norm.invert(&mut fields);
                sp.transform.invert(&mut fields);
                true
            }
            None => false,
        };
        let nonfinite = fields.iter().filter(|v| !v.is_finite()).count() as u64;
        if nonfinite as usize == fields.len() {
            bail!(
                "{}: every sampled value is non-finite (NaN or ∞)",
                self.source.display()
            );
        }
        Ok(Generated {
            fields,
            normalised,
            physical,
            clamped,
            range,
            nonfinite,
            nfe,
            side: size,
        })
    }

    /// θ from `name=value,…` text (`--params`) as one row in the model's condition order;
    /// errors for an unconditional model. The prior box is checked where every θ is, when
    /// [`TrainedRun::generate`] turns it into the network's input.
    pub fn parse_params(&self, text: &str) -> Result<Array2<f64>> {
        let Some(c) = &self.config.condition else {
            bail!(
                "--params given but {} is unconditional (trained without --condition)",
                self.source.display()
            );
        };
        let theta = c.parse(text)?;
        Ok(Array2::from_shape_vec((1, theta.len()), theta).expect("one row"))
    }

    /// The network's conditioning input for `n` fields from θ rows (one, or one per field),
    /// each checked against the model's prior box by `fields::condition`.
    fn condition_rows(
        &self,
        params: Option<&Array2<f64>>,
        n: usize,
        guidance: f64,
    ) -> Result<Option<Array2<f32>>> {
        if !guidance.is_finite() {
            bail!("--guidance {guidance}: must be a finite number (0 = no guidance)");
        }
        let (c, p) = match (&self.config.condition, params) {
            (None, None) if self.config.unet.cond_dim > 0 => bail!(
                "{}: the network takes {} conditioning inputs but records no condition (trained before conditioning by name)",
                self.source.display(),
                self.config.unet.cond_dim
            ),
            (None, None) => {
                if guidance != 0.0 {
                    bail!("--guidance {guidance}: the model is unconditional (guidance needs a model trained with --condition)");
                }
                return Ok(None);
            }
            (None, Some(_)) => bail!(
                "{}: parameters given but the model is unconditional (trained without --condition)",
                self.source.display()
            ),
            (Some(c), None) => bail!(
                "{}: the model is conditioned on {}: give them (--params {})",
                self.source.display(),
                c.names().join(", "),
                c.names().iter().map(|n| format!("{n}=…")).collect::<Vec<_>>().join(",")
            ),
            (Some(c), Some(p)) => (c, p),
        };
        if p.nrows() != 1 && p.nrows() != n {
            bail!(
                "{} rows of parameters for {n} fields: give one row, or one per field",
                p.nrows()
            );
        }
        let mut rows = Array2::<f32>::zeros((p.nrows(), c.input_dim()));
        for (i, theta) in p.outer_iter().enumerate() {
            let row = c.input_row(&theta.to_vec())?;
            rows.row_mut(i).assign(&ndarray::Array1::from(row));
        }
        Ok(Some(rows))
    }
}
