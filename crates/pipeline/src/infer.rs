//! Parameter inference from a conditional run's own likelihood (issue 13).
//!
//! For observed maps x (physical units, as `sample` writes them), the posterior over the
//! parameters the model is conditioned on is p(θ | x) ∝ p(θ) Π_i p_model(x_i | θ), with
//! log p_model(x_i | θ) the variational bound of `diffusion::likelihood` through the
//! conditional network at θ. Conventions:
//!
//! * **Prior**: flat in the physical θ on the model's prior box (`fields::condition`: the CAMELS
//!   Latin hypercube's box, on which CAMELS draws Ω_m and σ_8 uniformly).
//! * **Grid**: `grid` nodes per parameter from the box's low to its high edge, the outer product
//!   row-major with the last parameter fastest (`stats::posterior`'s convention). An estimate
//!   whose posterior that grid does not resolve (narrower than a node spacing) zooms, up to
//!   `zooms` times, onto a window around its peak (`stats::posterior::zoomed_posterior`); its
//!   JSON entry carries the final axes. Marginals,
//!   means, standard deviations and the 68 % / 95 % central quantiles come from
//!   [`stats::posterior::GridPosterior`].
//! * **Combining fields**: consecutive groups of `fields_per_estimate` maps (the last group may
//!   be shorter) give one estimate each, their bounds summed (independent maps of one
//!   simulation). Map i's common random numbers are drawn from `derive_seed(vlb.seed, [i])`,
//!   i its index in the input, so a map's term does not depend on how the maps are grouped.
//! * **Monte Carlo error**: with `vlb.draws` = D ≥ 2 the posterior is that of the bound averaged
//!   over the D noise draws, and the spread of the D draws' own posteriors on the final grid
//!   gives the standard error of its mean (`stats::posterior::monte_carlo_std`), which is added
//!   to the marginal in quadrature (`GridPosterior::marginal_with_noise`) and recorded as
//!   `monte_carlo_std`. The common random numbers make the bound's noise a smooth function of θ
//!   that shifts a posterior rather than widening it, so without this the reported width
//!   leaves it out (measured on a trained run in docs/emulator.md). One draw reports no such
//!   error.
//! * **Units**: the bound is in nats of the normalised field (`diffusion::likelihood`); the
//!   normalisation does not depend on θ, so posteriors are unaffected.
//! * **Conditioning input**: every grid node goes through `Condition::input_row`, the same rule
//!   as sampling; no guidance (the plain conditional model is the likelihood).

use crate::error::{bail, Result};
use crate::run::TrainedRun;
use diffusion::likelihood::{VlbConfig, VlbEstimator};
use diffusion::model::NetDenoiser;
use diffusion::tch::{Kind, Tensor};
use fields::rng::derive_seed;
use ndarray::{Array3, ArrayView3, Axis};
use serde::Serialize;
use stats::posterior::{grid_points, linspace, monte_carlo_std, zoomed_posterior, Marginal};
use std::collections::BTreeMap;
use std::path::Path;

/// How the posterior is computed.
#[derive(Clone, Debug, Serialize)]
pub struct InferOptions {
    /// Maps combined into one estimate (≥ 1).
    pub fields_per_estimate: usize,
    /// Grid nodes per parameter over its prior box (≥ 3).
    pub grid: usize,
    /// At most this many zooms of an estimate's grid onto a posterior it does not resolve
    /// (`stats::posterior::zoomed_posterior`); 0: the box grid only.
    pub zooms: usize,
    /// The bound: truncation, stride, noise draws and the seed of the common random numbers.
    pub vlb: VlbConfig,
    /// Also slice-sample each estimate's posterior (`stats::slice`) through the same bound,
    /// started at the grid posterior's mean with its standard deviations as widths.
    pub mcmc: Option<stats::slice::SliceConfig>,
}

impl Default for InferOptions {
    fn default() -> Self {
        InferOptions {
            fields_per_estimate: 1,
            grid: 9,
            zooms: 4,
            vlb: VlbConfig {
                stride: 20,
                ..VlbConfig::default()
            },
            mcmc: None,
        }
    }
}

/// A slice-sampled posterior of one estimate ([`InferOptions::mcmc`]).
#[derive(Clone, Debug, Serialize)]
pub struct McmcEstimate {
    /// Empirical marginals of the chain (mean, std, quantiles as numpy's default).
    pub params: BTreeMap<String, Marginal>,
    /// The chain after burn-in, one row of θ (condition order) per sweep.
    pub samples: Vec<Vec<f64>>,
    /// Bound evaluations (θ values) the chain cost, burn-in included.
    pub evaluations: usize,
    /// Seed of the chain's generator: `derive_seed(vlb.seed, [first map, 1])`.
    pub seed: u64,
}

/// One estimate: which maps it combines and each parameter's marginal.
#[derive(Clone, Debug, Serialize)]
pub struct Estimate {
    /// Indices of the maps in the input.
    pub fields: Vec<usize>,
    /// Marginal posterior of every parameter, by the name the model was conditioned with; with
    /// ≥ 2 noise draws, widened by `monte_carlo_std`.
    pub params: BTreeMap<String, Marginal>,
    /// With ≥ 2 noise draws (`vlb.draws`): the Monte Carlo error of each posterior mean that
    /// averaging the draws leaves, the delete-one jackknife over draws on the final grid
    /// (`stats::posterior::monte_carlo_std`), already added to `params` in quadrature (the marginal convolved with it,
    /// `GridPosterior::marginal_with_noise`). Absent with one draw, whose error is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monte_carlo_std: Option<BTreeMap<String, f64>>,
    /// Posterior mass in the outermost grid cells of each parameter: a large value says the
    /// posterior is cut by the prior box (or the grid is too coarse).
    pub edge_mass: BTreeMap<String, f64>,
    /// Parameters whose marginal is narrower than the grid's node spacing
    /// (`GridPosterior::resolves`): their mean, std and quantiles are set by the grid; refine
    /// the grid (`grid`) before quoting them.
    pub unresolved: Vec<String>,
    /// Zooms of the grid this estimate needed (`InferOptions::zooms`), and its final grid's
    /// axes (physical units), on which `log_likelihood` is tabulated.
    pub zooms: usize,
    pub axes: Vec<Vec<f64>>,
    /// log p_model(x | θ) summed over the estimate's maps at every node of `axes` (nats).
    pub log_likelihood: Vec<f64>,
    /// The slice-sampled posterior, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcmc: Option<McmcEstimate>,
}

/// The result of [`TrainedRun::infer`].
#[derive(Clone, Debug, Serialize)]
pub struct Inference {
    /// Parameter names in the model's condition order.
    pub names: Vec<String>,
    /// The first grid's axis of every parameter (physical units), over the prior box; an
    /// estimate that zoomed carries its own final axes.
    pub axes: Vec<Vec<f64>>,
    pub estimates: Vec<Estimate>,
    pub options: InferOptions,
    /// Timesteps the network is evaluated at per map and grid node, and network rows in all.
    pub timesteps_evaluated: usize,
    pub network_rows: u64,
}

impl TrainedRun {
    /// The model's condition, or the one-line error for an unconditional model.
    pub(crate) fn require_condition(&self) -> Result<&fields::condition::Condition> {
        match &self.config.condition {
            Some(c) => Ok(c),
            None => bail!(
                "{}: the model is unconditional (trained without --condition): it has no parameters to infer or emulate",
                self.source.display()
            ),
        }
    }

    /// The posterior over the model's conditioned parameters behind `maps` [n, N, N] (physical
    /// units; `source` names them in messages); `progress` receives (grid nodes done, in all).
    pub fn infer(
        &self,
        maps: ArrayView3<f64>,
        source: &Path,
        opts: &InferOptions,
        mut progress: Option<&mut dyn FnMut(usize, usize)>,
    ) -> Result<Inference> {
        let cond = self.require_condition()?;
        if opts.fields_per_estimate == 0 {
            bail!("--fields-per-estimate 0: give at least 1");
        }
        if opts.grid < 3 {
            bail!("--grid {}: give at least 3 nodes per parameter", opts.grid);
        }
        let (n, side, _) = maps.dim();
        if n == 0 {
            bail!("{}: no maps to infer from", source.display());
        }
        self.check_input_side(side, source)?;
        // Before the grid, so a bad chain length does not cost a grid's time first.
        if let Some(cfg) = &opts.mcmc {
            cfg.check()?;
        }
        let space = self.space()?;
        let mut normalised = Array3::<f32>::zeros((n, side, side));
        for m in 0..n {
            let t = space.to_trained(maps.index_axis(Axis(0), m).to_owned(), source, m)?;
            normalised
                .index_axis_mut(Axis(0), m)
                .assign(&t.mapv(|v| space.normalise(v) as f32));
        }
        let evaluated = opts.vlb.evaluated_steps(&self.schedule)?.len();
        let names: Vec<String> = cond.names().iter().map(|s| s.to_string()).collect();
        let axes: Vec<Vec<f64>> = cond
            .params
            .iter()
            .map(|p| linspace(p.lo, p.hi, opts.grid))
            .collect();
        let nodes = grid_points(&axes);
        let input = |theta: &[f64]| -> Result<Tensor> {
            let row = cond.input_row(theta)?;
            Ok(Tensor::from_slice(&row)
                .view([1, row.len() as i64])
                .to_device(self.device)
                .to_kind(Kind::Float))
        };

        // One estimator per map (its own common random numbers), grouped afterwards.
        let estimators: Vec<VlbEstimator> = (0..n)
            .map(|m| {
                let x0 = Tensor::from_slice(
                    normalised
                        .index_axis(Axis(0), m)
                        .as_slice()
                        .expect("standard layout"),
                )
                .view([1, 1, side as i64, side as i64])
                .to_device(self.device);
                let cfg = VlbConfig {
                    seed: derive_seed(opts.vlb.seed, &[m as u64]),
                    ..opts.vlb
                };
                Ok(VlbEstimator::new(&self.schedule, &x0, &cfg)?)
            })
            .collect::<Result<_>>()?;
        let _guard = diffusion::tch::no_grad_guard();
        let mut evaluations = 0usize;
        // log p(x_m | θ) of the maps `maps` at θ, one value per noise draw.
        let mut bound = |theta: &[f64], maps: &[usize]| -> Result<Vec<Vec<f64>>> {
            let den = NetDenoiser {
                unet: &self.net.unet,
                schedule: &self.schedule,
                prediction: self.config.diffusion.prediction,
                cond: Some(input(theta)?),
                prior: self.prior.as_ref(),
            };
            evaluations += maps.len();
            maps.iter()
                .map(|&m| Ok(estimators[m].log_likelihood_draws(&den)?.remove(0)))
                .collect()
        };
        let draws = opts.vlb.draws;
        // Σ over the maps of each draw's bound: [draw] at one node.
        let summed = |per_map: Vec<Vec<f64>>| -> Vec<f64> {
            (0..draws)
                .map(|d| per_map.iter().map(|v| v[d]).sum())
                .collect()
        };
        let all: Vec<usize> = (0..n).collect();
        // [map][node][draw] on the first grid.
        let mut per_map: Vec<Vec<Vec<f64>>> = vec![Vec::with_capacity(nodes.len()); n];
        for (i, theta) in nodes.iter().enumerate() {
            for (m, v) in bound(theta, &all)?.into_iter().enumerate() {
                per_map[m].push(v);
            }
            if let Some(p) = progress.as_mut() {
                p(i + 1, nodes.len());
            }
        }

        let bounds: Vec<(f64, f64)> = cond.params.iter().map(|p| (p.lo, p.hi)).collect();
        let mut estimates = Vec::new();
        for start in (0..n).step_by(opts.fields_per_estimate) {
            let fields: Vec<usize> = (start..(start + opts.fields_per_estimate).min(n)).collect();
            // [node][draw], the estimate's maps summed.
            let first: Vec<Vec<f64>> = (0..nodes.len())
                .map(|j| summed(fields.iter().map(|&m| per_map[m][j].clone()).collect()))
                .collect();
            // The first grid is the one computed above for every map; zooms evaluate this
            // estimate's maps only. The posterior is that of the bound averaged over the draws;
            // `last` keeps each draw's table on the grid evaluated last, the final one.
            let mut calls = 0;
            let mut last: Vec<Vec<f64>> = Vec::new();
            let (post, log_likelihood, zooms) =
                zoomed_posterior::<crate::Error>(&bounds, opts.grid, opts.zooms, |pts| {
                    calls += 1;
                    last = if calls == 1 {
                        first.clone()
                    } else {
                        pts.iter()
                            .map(|t| Ok(summed(bound(t, &fields)?)))
                            .collect::<Result<_>>()?
                    };
                    Ok(last
                        .iter()
                        .map(|v| v.iter().sum::<f64>() / draws as f64)
                        .collect())
                })
                .map_err(|e| crate::Error::Invalid(format!("posterior of maps {fields:?}: {e}")))?;
            let mc_std = if draws >= 2 {
                let per_draw: Vec<Vec<f64>> = (0..draws)
                    .map(|d| last.iter().map(|v| v[d]).collect())
                    .collect();
                Some(monte_carlo_std(post.axes(), &per_draw).map_err(|e| {
                    crate::Error::Invalid(format!("posterior of maps {fields:?}: {e}"))
                })?)
            } else {
                None
            };
            let mut params = BTreeMap::new();
            let mut edge_mass = BTreeMap::new();
            let mut unresolved = Vec::new();
            for (p, name) in names.iter().enumerate() {
                let marginal = match &mc_std {
                    Some(s) => post.marginal_with_noise(p, s[p])?,
                    None => post.marginal(p),
                };
                params.insert(name.clone(), marginal);
                edge_mass.insert(name.clone(), post.edge_mass(p));
                if !post.resolves(p) {
                    unresolved.push(name.clone());
                }
            }
            let monte_carlo_std = mc_std.map(|s| names.iter().cloned().zip(s).collect());
            let mcmc = match &opts.mcmc {
                None => None,
                Some(cfg) => {
                    use rand::SeedableRng;
                    let x0: Vec<f64> = (0..names.len()).map(|p| post.marginal(p).mean).collect();
                    let widths: Vec<f64> = (0..names.len())
                        .map(|p| post.marginal(p).std.max(1e-3 * (bounds[p].1 - bounds[p].0)))
                        .collect();
                    let seed = derive_seed(opts.vlb.seed, &[start as u64, 1]);
                    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
                    let chain = stats::slice::slice_sample::<crate::Error, _, _>(
                        |t| Ok(summed(bound(t, &fields)?).iter().sum::<f64>() / draws as f64),
                        &x0,
                        &widths,
                        &bounds,
                        cfg,
                        &mut rng,
                    )?;
                    Some(McmcEstimate {
                        params: names
                            .iter()
                            .enumerate()
                            .map(|(p, n)| {
                                (n.clone(), stats::slice::chain_marginal(&chain.samples, p))
                            })
                            .collect(),
                        samples: chain.samples,
                        evaluations: chain.evaluations,
                        seed,
                    })
                }
            };
            estimates.push(Estimate {
                fields,
                params,
                monte_carlo_std,
                edge_mass,
                unresolved,
                zooms,
                axes: post.axes().to_vec(),
                log_likelihood,
                mcmc,
            });
        }
        let network_rows = (evaluations * evaluated * opts.vlb.draws) as u64;
        Ok(Inference {
            names,
            axes,
            estimates,
            options: opts.clone(),
            timesteps_evaluated: evaluated,
            network_rows,
        })
    }
}

/// How [`TrainedRun::infer_eval`] judges the inference over a held-out split.
#[derive(Clone, Debug, Serialize)]
pub struct InferEvalOptions {
    /// The posterior settings; `fields_per_estimate` maps of each simulation (its first ones)
    /// make its one estimate.
    pub infer: InferOptions,
    /// At most this many simulations of the split (its first ones); None: all.
    pub max_sims: Option<usize>,
    /// P(k) bins merged per baseline bin (`evaluation::inference`).
    pub pk_merge: usize,
}

impl Default for InferEvalOptions {
    fn default() -> Self {
        InferEvalOptions {
            infer: InferOptions {
                fields_per_estimate: 5,
                ..InferOptions::default()
            },
            max_sims: None,
            pk_merge: 2,
        }
    }
}

/// One held-out simulation's estimates by both methods.
#[derive(Clone, Debug, Serialize)]
pub struct SimulationEstimate {
    /// Index of the simulation within the split, and the maps used (indices in the split).
    pub simulation: usize,
    pub maps: Vec<usize>,
    pub truth: BTreeMap<String, f64>,
    /// The diffusion model's own likelihood.
    pub diffusion: BTreeMap<String, Marginal>,
    pub diffusion_edge_mass: BTreeMap<String, f64>,
    /// Parameters the grid does not resolve for the diffusion likelihood ([`Estimate::unresolved`]).
    pub diffusion_unresolved: Vec<String>,
    /// The Monte Carlo error already in `diffusion`'s widths ([`Estimate::monte_carlo_std`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diffusion_monte_carlo_std: Option<BTreeMap<String, f64>>,
    /// The Gaussian P(k) likelihood.
    pub pk: BTreeMap<String, Marginal>,
    /// The PIT of the truth under each posterior, P(θ ≤ truth) (the diffusion one widened by
    /// its Monte Carlo error, as `diffusion`).
    pub diffusion_pit: BTreeMap<String, f64>,
    pub pk_pit: BTreeMap<String, f64>,
}

/// The result of [`TrainedRun::infer_eval`].
#[derive(Clone, Debug, Serialize)]
pub struct InferEval {
    pub names: Vec<String>,
    pub split: String,
    pub maps_per_simulation: usize,
    pub simulations: Vec<SimulationEstimate>,
    /// Calibration per parameter, diffusion likelihood and P(k) baseline.
    pub diffusion: Vec<evaluation::inference::Calibration>,
    pub pk_baseline: Vec<evaluation::inference::Calibration>,
    /// The baseline's fit: training simulations used, bins, Hartlap factor.
    pub pk_training_sims: usize,
    pub pk_bins_k: Vec<f64>,
    pub pk_hartlap: f64,
    pub options: InferEvalOptions,
}

/// The maps of the first `max_sims` (or every) simulation of `split` (each its first `k` maps,
/// or all; physical units) and each simulation's θ in `cond`'s order, with the split's maps
/// per simulation. Errors when the split holds no simulation.
pub(crate) fn simulations(
    ds: &fields::dataset::PreparedDataset,
    split: &str,
    cond: &fields::condition::Condition,
    k: Option<usize>,
    max_sims: Option<usize>,
) -> Result<(Vec<Array3<f64>>, Vec<Vec<f64>>, usize)> {
    let mut maps = ds.load(split)?;
    ds.to_physical(&mut maps);
    let params = ds.load_params(split)?.ok_or_else(|| {
        crate::Error::Invalid(format!(
            "{}: the dataset has no parameter table to judge the model's parameters against",
            ds.dir.display()
        ))
    })?;
    let per = ds.maps_per_simulation(split);
    let k = k.unwrap_or(per);
    if per < k {
        bail!(
            "--fields-per-estimate {k}: the {split} split of {} has {per} map(s) per simulation",
            ds.dir.display()
        );
    }
    let cols: Vec<usize> = cond
        .params
        .iter()
        .map(|p| {
            ds.param_names()
                .iter()
                .position(|c| *c == p.column)
                .ok_or_else(|| {
                    crate::Error::Invalid(format!(
                        "{}: no column {} ({}) in the parameter table",
                        ds.dir.display(),
                        p.column,
                        p.name
                    ))
                })
        })
        .collect::<Result<_>>()?;
    let n_sims = max_sims.unwrap_or(usize::MAX).min(maps.dim().0 / per);
    if n_sims == 0 {
        bail!(
            "{}: the {split} split holds no simulation",
            ds.dir.display()
        );
    }
    let sims: Vec<Array3<f64>> = (0..n_sims)
        .map(|s| {
            maps.slice(ndarray::s![s * per..s * per + k, .., ..])
                .mapv(|v| v as f64)
        })
        .collect();
    let theta = (0..n_sims)
        .map(|s| cols.iter().map(|&c| params[[s * per, c]] as f64).collect())
        .collect();
    Ok((sims, theta, per))
}

impl TrainedRun {
    /// Infers θ for every simulation of `split` of the prepared dataset `ds` (its first
    /// `fields_per_estimate` maps), by the model's likelihood and by the Gaussian P(k)
    /// likelihood fitted to the training split's simulations, and calibrates both against the
    /// simulations' true parameters. `progress` receives (simulations done, in all).
    pub fn infer_eval(
        &self,
        ds: &fields::dataset::PreparedDataset,
        split: &str,
        opts: &InferEvalOptions,
        mut progress: Option<&mut dyn FnMut(usize, usize)>,
    ) -> Result<InferEval> {
        use evaluation::inference::{calibration, PkLikelihood, PkStatistic};
        let cond = self.require_condition()?;
        if split == "train" {
            bail!("--split train: judge inference on held-out simulations (test or val)");
        }
        let k = opts.infer.fields_per_estimate;
        let box_size = ds.box_size().unwrap_or(25.0);
        let stat = PkStatistic::new(ds.resolution(), box_size, opts.pk_merge)
            .map_err(|e| crate::Error::Invalid(format!("{}: {e}", ds.dir.display())))?;
        let (train_maps, train_theta, _) = simulations(ds, "train", cond, Some(k), None)?;
        let d_train: Vec<Vec<f64>> = train_maps
            .iter()
            .map(|m| stat.of_maps(&m.outer_iter().collect::<Vec<_>>()))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| crate::Error::Invalid(format!("P(k) of the training split: {e}")))?;
        let bounds: Vec<(f64, f64)> = cond.params.iter().map(|p| (p.lo, p.hi)).collect();
        let pk = PkLikelihood::fit(&train_theta, &d_train, &bounds)
            .map_err(|e| crate::Error::Invalid(format!("{}: {e}", ds.dir.display())))?;

        let (held, theta, per) = simulations(ds, split, cond, Some(k), opts.max_sims)?;
        let n = held.len();
        let names: Vec<String> = cond.names().iter().map(|s| s.to_string()).collect();
        let source = ds.split_path(split);
        let mut simulations = Vec::with_capacity(n);
        for s in 0..n {
            let inf = self.infer(held[s].view(), &source, &opts.infer, None)?;
            let e = &inf.estimates[0];
            let d = stat
                .of_maps(&held[s].outer_iter().collect::<Vec<_>>())
                .map_err(|e| crate::Error::Invalid(format!("P(k) of simulation {s}: {e}")))?;
            let (post, _, _) = zoomed_posterior::<crate::Error>(
                &bounds,
                opts.infer.grid,
                opts.infer.zooms,
                |pts| Ok(pts.iter().map(|t| pk.log_likelihood(&d, t)).collect()),
            )
            .map_err(|e| crate::Error::Invalid(format!("P(k) posterior of simulation {s}: {e}")))?;
            let own = stats::posterior::GridPosterior::new(e.axes.clone(), &e.log_likelihood)?;
            let mut diffusion_pit = BTreeMap::new();
            let mut pk_pit = BTreeMap::new();
            for (p, name) in names.iter().enumerate() {
                let mc = e
                    .monte_carlo_std
                    .as_ref()
                    .map_or(0.0, |m| m.get(name).copied().unwrap_or(0.0));
                diffusion_pit.insert(name.clone(), own.cdf_with_noise(p, mc, theta[s][p])?);
                pk_pit.insert(name.clone(), post.cdf(p, theta[s][p]));
            }
            simulations.push(SimulationEstimate {
                diffusion_pit,
                pk_pit,
                simulation: s,
                maps: (s * per..s * per + k).collect(),
                truth: names
                    .iter()
                    .cloned()
                    .zip(theta[s].iter().copied())
                    .collect(),
                diffusion: e.params.clone(),
                diffusion_edge_mass: e.edge_mass.clone(),
                diffusion_unresolved: e.unresolved.clone(),
                diffusion_monte_carlo_std: e.monte_carlo_std.clone(),
                pk: names
                    .iter()
                    .enumerate()
                    .map(|(p, name)| (name.clone(), post.marginal(p)))
                    .collect(),
            });
            if let Some(p) = progress.as_mut() {
                p(s + 1, n);
            }
        }
        type Pick =
            dyn Fn(&SimulationEstimate) -> (&BTreeMap<String, Marginal>, &BTreeMap<String, f64>);
        let calibrate = |pick: &Pick| {
            names
                .iter()
                .map(|name| {
                    let truths: Vec<f64> = simulations.iter().map(|s| s.truth[name]).collect();
                    let ms: Vec<&Marginal> = simulations.iter().map(|s| &pick(s).0[name]).collect();
                    let pit: Vec<f64> = simulations.iter().map(|s| pick(s).1[name]).collect();
                    calibration(name, &truths, &ms, &pit)
                        .map_err(|e| crate::Error::Invalid(e.to_string()))
                })
                .collect::<Result<Vec<_>>>()
        };
        let diffusion = calibrate(&|s| (&s.diffusion, &s.diffusion_pit))?;
        let pk_baseline = calibrate(&|s| (&s.pk, &s.pk_pit))?;
        Ok(InferEval {
            names,
            split: split.to_string(),
            maps_per_simulation: per,
            simulations,
            diffusion,
            pk_baseline,
            pk_training_sims: pk.n_sims,
            pk_bins_k: stat.k(),
            pk_hartlap: pk.hartlap,
            options: opts.clone(),
        })
    }
}
