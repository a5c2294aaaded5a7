//! A trained run folder, loaded once by one rule: the network config and weights from
//! `checkpoint.safetensors`, and the data space (point transform, normalisation, resolution,
//! training range) from the dataset manifest the checkpoint carries.
//!
//! Where the manifest comes from, in order:
//! 1. the checkpoint's `normalisation` metadata entry, which `astrodiff train` fills with the
//!    prepared dataset's `dataset.json` (per-map provenance dropped): a whole [`DatasetMeta`];
//! 2. for checkpoints written before that (a bare [`Normalization`] or an object holding one
//!    under `normalization`, `normalisation` or `norm`): what that entry records, with the
//!    transform and resolution it lacks taken from `dataset.json` (or `data.json`) in the run
//!    folder.
//!
//! A run with neither still samples, in the network's normalised units.

use crate::error::{bail, Context, Error, Result};
use diffusion::analytic::GrfDenoiser;
use diffusion::checkpoint::{self, Checkpoint};
use diffusion::config::RunConfig;
use diffusion::model::Net;
use diffusion::schedule::NoiseSchedule;
use diffusion::tch::Device;
use fields::dataset::DatasetMeta;
use fields::transform::{Normalization, PointTransform};
use std::path::{Path, PathBuf};

/// The largest field side `generate` accepts: far past any field a U-Net is trained on; larger
/// requests would abort on allocation.
pub const MAX_SIDE: usize = 8192;

/// The space a model was trained in: `z = normalise(transform(x))` for a physical value `x`.
#[derive(Clone, Debug, PartialEq)]
pub struct Space {
    pub transform: PointTransform,
    pub norm: Normalization,
}

impl Space {
    /// `scale` of the affine normalisation `z = (x − offset)·scale`: multiplies a noise level
    /// given in trained units (after the transform, before normalisation).
    pub fn scale(&self) -> f64 {
        self.norm.apply_value(1.0) - self.norm.apply_value(0.0)
    }
    /// Trained (transformed) units → normalised units.
    pub fn normalise(&self, x: f64) -> f64 {
        self.norm.apply_value(x)
    }
    /// Normalised → trained (transformed) units.
    pub fn denormalise(&self, z: f64) -> f64 {
        self.norm.invert_value(z)
    }
    /// Physical → trained units for one map; errors name `source`, the map and the pixel.
    pub fn to_trained(
        &self,
        mut map: ndarray::Array2<f64>,
        source: &Path,
        index: usize,
    ) -> Result<ndarray::Array2<f64>> {
        if let PointTransform::Log10 { floor: None } = self.transform {
            if let Some(((i, j), v)) = map.indexed_iter().find(|(_, v)| **v <= 0.0) {
                bail!(
                    "{}: value {v} ≤ 0 at map {index}, pixel (i={i}, j={j}): the model was trained on log10 of \
                     the field, so the noisy map must be positive (its noise is taken as additive in log10 space)",
                    source.display()
                );
            }
        }
        self.transform.apply_map(map.view_mut(), source, index)?;
        Ok(map)
    }
    /// Trained → physical units, in place.
    pub fn trained_to_physical<D: ndarray::Dimension>(&self, a: &mut ndarray::Array<f64, D>) {
        let mut v = a.view_mut().into_dyn();
        self.transform.invert_f64(&mut v);
    }
}

/// How a run is loaded.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// The raw weights instead of the EMA weights.
    pub raw_weights: bool,
    /// `cpu`, `cuda` or `cuda:N`; `None`: CUDA when available, else the CPU.
    pub device: Option<String>,
    /// CPU threads for torch (`None`: all cores).
    pub threads: Option<usize>,
}

/// A trained model with everything needed to return physical units.
pub struct TrainedRun {
    /// The run folder or checkpoint file it was loaded from (for messages).
    pub source: PathBuf,
    pub net: Net,
    pub config: RunConfig,
    pub schedule: NoiseSchedule,
    /// The data space; `None` when neither the checkpoint nor the run folder records it.
    pub space: Option<Space>,
    /// The dataset manifest, when the checkpoint carries a whole one.
    pub manifest: Option<DatasetMeta>,
    /// Side of the training fields, when recorded (or fixed by the Gaussian prior).
    pub resolution: Option<usize>,
    /// Range of the training split in normalised units (the out-of-range rule's bounds).
    pub training_range: Option<(f64, f64)>,
    /// The Gaussian prior the network predicts on top of (`diffusion.gaussian_prior`).
    pub prior: Option<GrfDenoiser>,
    pub device: Device,
    /// Optimiser steps and accumulated training wall time of the checkpoint.
    pub step: u64,
    pub wall_s: f64,
    /// Whether the EMA weights were loaded.
    pub ema: bool,
}

/// What a manifest entry records (the legacy forms record parts of it).
struct Recorded {
    norm: Option<Normalization>,
    transform: Option<PointTransform>,
    resolution: Option<usize>,
}

fn parse_recorded(text: &str, what: &Path) -> Result<(Recorded, Option<DatasetMeta>)> {
    if let Ok(meta) = serde_json::from_str::<DatasetMeta>(text) {
        let r = Recorded {
            norm: Some(meta.normalization),
            transform: Some(meta.transform),
            resolution: Some(meta.resolution),
        };
        return Ok((r, Some(meta)));
    }
    let v: serde_json::Value = serde_json::from_str(text).with_context(|| {
        format!(
            "{}: the stored dataset description is not JSON",
            what.display()
        )
    })?;
    let norm_v = ["normalization", "normalisation", "norm"]
        .iter()
        .find_map(|k| v.get(*k).cloned())
        .unwrap_or_else(|| v.clone());
    let norm: Normalization = serde_json::from_value(norm_v).with_context(|| {
        format!(
            "{}: no normalisation (min/max or mean/std) found",
            what.display()
        )
    })?;
    let transform = match v.get("transform") {
        Some(t) => Some(
            serde_json::from_value(t.clone())
                .with_context(|| format!("{}: unknown transform {t}", what.display()))?,
        ),
        None => None,
    };
    let resolution = v
        .get("resolution")
        .and_then(|x| x.as_u64())
        .map(|x| x as usize);
    Ok((
        Recorded {
            norm: Some(norm),
            transform,
            resolution,
        },
        None,
    ))
}

impl TrainedRun {
    /// Loads a run folder (or a checkpoint file inside one); see the module docs for the rule.
    pub fn load(path: &Path, opts: &LoadOptions) -> Result<TrainedRun> {
        let device = diffusion::model::select_device(opts.device.as_deref(), opts.threads)?;
        let ck = checkpoint::read(path)
            .with_context(|| format!("loading the model from {}", path.display()))?;
        Self::from_checkpoint(path, &ck, device, opts.raw_weights)
    }

    /// As [`TrainedRun::load`] for a checkpoint already in memory (`path` locates the run
    /// folder for the legacy manifest and names it in messages).
    pub fn from_checkpoint(
        path: &Path,
        ck: &Checkpoint,
        device: Device,
        raw_weights: bool,
    ) -> Result<TrainedRun> {
        let at = |e: diffusion::Error| Error::Context {
            context: path.display().to_string(),
            source: Box::new(e),
        };
        let config = ck.config.clone();
        let schedule = config
            .diffusion
            .schedule
            .build()
            .map_err(|e| at(e.into()))?;
        let net = Net::new(&config, device, 0).map_err(at)?;
        let group = if raw_weights { "model" } else { "ema" };
        checkpoint::load_into(&net.named_params(), &ck.group(group), group).map_err(at)?;
        let prior = ck.prior(&schedule).map_err(at)?;

        let (stored, manifest) = match &ck.normalisation {
            Some(t) => {
                let (r, m) = parse_recorded(t, path)?;
                (Some(r), m)
            }
            None => (None, None),
        };
        let folder = if manifest.is_none() {
            let dir = if path.is_dir() {
                path.to_path_buf()
            } else {
                path.parent().unwrap_or(Path::new(".")).to_path_buf()
            };
            match ["dataset.json", "data.json"]
                .iter()
                .map(|f| dir.join(f))
                .find(|p| p.exists())
            {
                Some(p) => {
                    let text = std::fs::read_to_string(&p)
                        .with_context(|| format!("reading {}", p.display()))?;
                    Some(parse_recorded(&text, &p)?.0)
                }
                None => None,
            }
        } else {
            None
        };
        // The checkpoint's own record first, then the run folder's.
        let norm = stored
            .as_ref()
            .and_then(|r| r.norm)
            .or(folder.as_ref().and_then(|r| r.norm));
        let transform = stored
            .as_ref()
            .and_then(|r| r.transform)
            .or(folder.as_ref().and_then(|r| r.transform));
        let resolution = stored
            .as_ref()
            .and_then(|r| r.resolution)
            .or(folder.as_ref().and_then(|r| r.resolution))
            .or(prior.as_ref().map(|p| p.n));
        let space = match (norm, transform) {
            (Some(norm), Some(transform)) => Some(Space { transform, norm }),
            (None, _) => None,
            (Some(_), None) => bail!(
                "{}: neither the checkpoint nor a dataset.json in the run folder records the data transform (log10 or identity)",
                path.display()
            ),
        };
        let training_range = training_range(manifest.as_ref(), norm);
        Ok(TrainedRun {
            source: path.to_path_buf(),
            net,
            config,
            schedule,
            space,
            manifest,
            resolution,
            training_range,
            prior,
            device,
            step: ck.step,
            wall_s: ck.wall_s,
            ema: !raw_weights,
        })
    }

    /// The data space, or an error saying the run does not record it.
    pub fn space(&self) -> Result<&Space> {
        self.space.as_ref().ok_or_else(|| {
            Error::Invalid(format!(
                "{}: the checkpoint records no normalisation and no dataset.json is next to it",
                self.source.display()
            ))
        })
    }

    /// The network's total down-sampling factor: field sides must be multiples of it.
    pub fn stride(&self) -> usize {
        self.net.unet.total_stride() as usize
    }

    /// Side of the fields to generate: `requested`, or the training resolution. Checks the
    /// side against the stride, [`MAX_SIDE`] and the Gaussian prior (which fixes the side).
    pub fn generation_side(&self, requested: Option<usize>) -> Result<usize> {
        let size = match (requested, self.resolution) {
            (Some(s), _) => s,
            (None, Some(r)) => r,
            (None, None) => bail!(
                "{}: no dataset description stored; give the field side",
                self.source.display()
            ),
        };
        if size > MAX_SIDE {
            bail!(
                "field side {size}: at most {MAX_SIDE} pixels per side (one {size}² field alone is {:.1} GB in float32)",
                (size as f64).powi(2) * 4.0 / 1e9
            );
        }
        let stride = self.stride();
        if size == 0 || !size.is_multiple_of(stride) {
            bail!("field side {size}: must be a multiple of the network's total stride {stride}");
        }
        if let Some(p) = &self.prior {
            if p.n != size {
                bail!(
                    "field side {size}: this model predicts on top of a Gaussian prior fitted at {}²; it samples only {}² fields",
                    p.n,
                    p.n
                );
            }
        }
        Ok(size)
    }

    /// Rejects observed maps the network cannot take: a side other than the training one, or
    /// not a multiple of the total stride. `source` names the maps in messages.
    pub fn check_input_side(&self, n: usize, source: &Path) -> Result<()> {
        if let Some(r) = self.resolution {
            if r != n {
                bail!(
                    "{}: maps are {n}×{n} pixels but the model was trained on {r}×{r} patches",
                    source.display()
                );
            }
        }
        let stride = self.stride();
        if !n.is_multiple_of(stride) {
            bail!(
                "{}: map side {n} is not a multiple of the network's total stride {stride}",
                source.display()
            );
        }
        Ok(())
    }

    /// A noise level in trained units (after the transform, before normalisation) as the
    /// model's normalised σ, checked once: finite, > 0 and within the schedule.
    pub fn sigma_norm(&self, sigma: f64) -> Result<f64> {
        if !(sigma.is_finite() && sigma > 0.0) {
            bail!("--sigma = {sigma}: the noise level must be a finite number > 0");
        }
        let s = sigma * self.space()?.scale();
        let max = self.schedule.max_sigma();
        if s > max {
            bail!(
                "--sigma = {sigma} is σ = {s:.4} in the model's normalised units, above the schedule's \
                 maximum noise level {max:.4} (t = {}); the model cannot denoise that much noise",
                self.schedule.timesteps() - 1
            );
        }
        Ok(s)
    }
}

/// The out-of-range rule's bounds in normalised units: the training split's range recorded by
/// `prepare` (`train_range`, in trained units), else [−1, 1] for a min–max normalisation (the
/// training data span exactly that), else none.
fn training_range(meta: Option<&DatasetMeta>, norm: Option<Normalization>) -> Option<(f64, f64)> {
    let norm = norm?;
    if let Some([lo, hi]) = meta.and_then(|m| m.train_range) {
        let (a, b) = (norm.apply_value(lo), norm.apply_value(hi));
        return (a.is_finite() && b.is_finite() && a < b).then_some((a, b));
    }
    match norm {
        Normalization::MinMax { .. } => Some((-1.0, 1.0)),
        Normalization::Standard { .. } => None,
    }
}
