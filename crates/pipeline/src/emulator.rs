//! A conditional run judged as an emulator, one cosmology at a time (issue 13): for every
//! simulation of a held-out split, fields generated at its parameters against its own maps by
//! P(k), the pixel PDF and the Minkowski functionals (`evaluation::emulator` holds the
//! statistics and their conventions).
//!
//! Fields of simulation s are drawn with seed `derive_seed(seed, [s])`, in batches of `batch`,
//! under the out-of-range rule of [`crate::generate`]; P(k) is of δ = ρ/ρ̄ − 1 of the physical
//! maps, in Pylians' integer bins up to k_Nyq, h/Mpc; the PDF and MF are of log10 ρ on levels
//! from the simulation's own real maps.

use crate::error::{bail, Result};
use crate::generate::GenerateOptions;
use crate::run::TrainedRun;
use diffusion::sampler::SamplerConfig;
use evaluation::emulator::{
    compare_simulation, median, mf_row, pdf_row, SimulationComparison, SimulationLevels,
};
use evaluation::inference::PkStatistic;
use fields::rng::derive_seed;
use ndarray::Array2;
use serde::Serialize;
use stats::Transform;
use std::collections::BTreeMap;

/// How the emulator is judged.
#[derive(Clone, Debug, Serialize)]
pub struct EmulatorOptions {
    /// Fields generated per simulation (≥ 3).
    pub n_per_sim: usize,
    pub sampler: SamplerConfig,
    pub guidance: f64,
    pub seed: u64,
    pub batch: usize,
    /// At most this many simulations of the split (its first ones).
    pub max_sims: Option<usize>,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            n_per_sim: 50,
            sampler: SamplerConfig::new(diffusion::sampler::SamplerKind::Dpmpp2mSde, Some(100)),
            guidance: 0.0,
            seed: 0,
            batch: 16,
            max_sims: None,
        }
    }
}

/// One simulation: its θ and the comparisons by P(k), PDF and Minkowski functionals.
#[derive(Clone, Debug, Serialize)]
pub struct SimulationEmulation {
    pub simulation: usize,
    pub theta: BTreeMap<String, f64>,
    pub pk: SimulationComparison,
    pub pdf: SimulationComparison,
    pub mf: SimulationComparison,
    /// The PDF edges and MF thresholds (log10 ρ) of this simulation.
    pub levels: SimulationLevels,
    /// Pixels clamped by the out-of-range rule among the generated fields.
    pub clamped: u64,
}

/// The result of [`TrainedRun::evaluate_emulator`].
#[derive(Clone, Debug, Serialize)]
pub struct EmulatorEval {
    pub names: Vec<String>,
    pub split: String,
    /// Bin centres, h/Mpc.
    pub k: Vec<f64>,
    pub simulations: Vec<SimulationEmulation>,
    /// Median over simulations of the per-simulation P(k) reduced χ², and of the three
    /// leave-one-out medians.
    pub median_reduced_chi2: f64,
    /// Median over simulations of the per-simulation PDF and MF reduced χ².
    pub median_pdf_reduced_chi2: f64,
    pub median_mf_reduced_chi2: f64,
    pub median_true_true: f64,
    pub median_generated_true: f64,
    pub median_generated_generated: f64,
    /// Geometric mean over simulations of the generated/true P(k) ratio, per bin.
    pub mean_ratio: Vec<f64>,
    pub options: EmulatorOptions,
}

impl TrainedRun {
    /// Generates `n_per_sim` fields at the parameters of every simulation of `split` and compares
    /// them with its maps; `progress` receives (simulations done, in all).
    pub fn evaluate_emulator(
        &self,
        ds: &fields::dataset::PreparedDataset,
        split: &str,
        opts: &EmulatorOptions,
        mut progress: Option<&mut dyn FnMut(usize, usize)>,
    ) -> Result<EmulatorEval> {
        let cond = self.require_condition()?;
        if opts.n_per_sim < 3 {
            bail!(
                "--n-per-sim {}: give at least 3 (leave-one-out variances)",
                opts.n_per_sim
            );
        }
        let stat = PkStatistic::new(ds.resolution(), ds.box_size().unwrap_or(25.0), 1)
            .map_err(|e| crate::Error::Invalid(format!("{}: {e}", ds.dir.display())))?;
        let (held, theta, _) = crate::infer::simulations(ds, split, cond, None, opts.max_sims)?;
        let n = held.len();
        let names: Vec<String> = cond.names().iter().map(|s| s.to_string()).collect();
        let rows = |maps: Vec<ndarray::ArrayView2<f64>>| -> Result<Vec<Vec<f64>>> {
            maps.into_iter()
                .map(|m| {
                    stat.of_maps(&[m])
                        .map_err(|e| crate::Error::Invalid(format!("P(k): {e}")))
                })
                .collect()
        };
        let mut simulations = Vec::with_capacity(n);
        for s in 0..n {
            let g = self.generate(
                &GenerateOptions {
                    n: opts.n_per_sim,
                    sampler: opts.sampler,
                    seed: derive_seed(opts.seed, &[s as u64]),
                    batch: opts.batch,
                    params: Some(
                        Array2::from_shape_vec((1, theta[s].len()), theta[s].clone())
                            .expect("one row"),
                    ),
                    guidance: opts.guidance,
                    ..GenerateOptions::default()
                },
                None,
            )?;
            if g.nonfinite > 0 {
                bail!(
                    "simulation {s}: {} generated values are not finite; P(k) cannot be judged",
                    g.nonfinite
                );
            }
            let gen = g.fields.mapv(|v| v as f64);
            let at = |e: evaluation::Error| crate::Error::Invalid(format!("simulation {s}: {e}"));
            let real = rows(held[s].outer_iter().collect())?;
            let generated = rows(gen.outer_iter().collect())?;
            let pk = compare_simulation(&real, &generated).map_err(at)?;
            let log = |maps: ndarray::ArrayView3<f64>| -> Result<Vec<Array2<f64>>> {
                maps.outer_iter()
                    .map(|m| Transform::Log10.apply(m).map_err(|e| at(e.into())))
                    .collect()
            };
            let (real_log, gen_log) = (log(held[s].view())?, log(gen.view())?);
            let levels =
                SimulationLevels::of(&real_log.iter().map(|m| m.view()).collect::<Vec<_>>())
                    .map_err(at)?;
            let by = |f: &dyn Fn(ndarray::ArrayView2<f64>) -> evaluation::Result<Vec<f64>>| {
                let r: Vec<Vec<f64>> = real_log
                    .iter()
                    .map(|m| f(m.view()))
                    .collect::<Result<_, _>>()?;
                let g: Vec<Vec<f64>> = gen_log
                    .iter()
                    .map(|m| f(m.view()))
                    .collect::<Result<_, _>>()?;
                compare_simulation(&r, &g)
            };
            let pdf = by(&|m| pdf_row(m, &levels)).map_err(at)?;
            let mf = by(&|m| mf_row(m, &levels)).map_err(at)?;
            simulations.push(SimulationEmulation {
                simulation: s,
                theta: names
                    .iter()
                    .cloned()
                    .zip(theta[s].iter().copied())
                    .collect(),
                pk,
                pdf,
                mf,
                levels,
                clamped: g.clamped,
            });
            if let Some(p) = progress.as_mut() {
                p(s + 1, n);
            }
        }
        let pick = |f: &dyn Fn(&SimulationEmulation) -> f64| {
            median(&simulations.iter().map(f).collect::<Vec<_>>())
        };
        let nb = simulations[0].pk.ratio.len();
        let mean_ratio = (0..nb)
            .map(|b| (simulations.iter().map(|s| s.pk.ratio[b].ln()).sum::<f64>() / n as f64).exp())
            .collect();
        Ok(EmulatorEval {
            names,
            split: split.to_string(),
            k: stat.k(),
            median_reduced_chi2: pick(&|s| s.pk.reduced_chi2),
            median_pdf_reduced_chi2: pick(&|s| s.pdf.reduced_chi2),
            median_mf_reduced_chi2: pick(&|s| s.mf.reduced_chi2),
            median_true_true: pick(&|s| s.pk.median_true_true),
            median_generated_true: pick(&|s| s.pk.median_generated_true),
            median_generated_generated: pick(&|s| s.pk.median_generated_generated),
            mean_ratio,
            simulations,
            options: opts.clone(),
        })
    }
}

/// The emulator's ∂⟨ln P(k)⟩/∂θ against a one-parameter simulation series (one entry per
/// conditioned parameter); the fit's conventions are `evaluation::response`'s.
#[derive(Clone, Debug, Serialize)]
pub struct ParameterResponse {
    pub name: String,
    /// θ_fid of this parameter: the value most simulations of the split share.
    pub fiducial: f64,
    /// The series: this parameter's values among the simulations whose other parameters sit
    /// at their fiducial values (in the split's order), and those simulations.
    pub theta: Vec<f64>,
    pub simulations: Vec<usize>,
    pub simulated: evaluation::response::Response,
    pub emulated: evaluation::response::Response,
}

/// The result of [`TrainedRun::emulator_response`].
#[derive(Clone, Debug, Serialize)]
pub struct ResponseEval {
    pub split: String,
    /// Bin centres, h/Mpc.
    pub k: Vec<f64>,
    /// Maps per simulation (the simulated side) and fields generated per θ (the emulated).
    pub maps_per_sim: usize,
    pub n_per_sim: usize,
    pub parameters: Vec<ParameterResponse>,
}

/// The most common value of `v` (ties: the smallest); values come from one parameter table,
/// so equal parameters are equal floats.
fn mode(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let (mut best, mut best_n, mut i) = (s[0], 0, 0);
    while i < s.len() {
        let j = s[i..].iter().take_while(|x| **x == s[i]).count();
        if j > best_n {
            (best, best_n) = (s[i], j);
        }
        i += j;
    }
    best
}

impl TrainedRun {
    /// The emulator's response ∂⟨ln P(k)⟩/∂θ at the fiducial cosmology beside the simulations',
    /// from a one-parameter-at-a-time set such as CAMELS' 1P (`ds`, split `split`): for each
    /// conditioned parameter, the simulations whose other parameters take their most common
    /// value form its series; `opts.n_per_sim` fields are generated at each of its θ with one
    /// seed for the whole series (`derive_seed(seed, [p])` for parameter p: common random
    /// numbers, as the 1P simulations share their initial conditions). `opts.max_sims` is
    /// ignored. `progress` receives (θ values done, in all).
    pub fn emulator_response(
        &self,
        ds: &fields::dataset::PreparedDataset,
        split: &str,
        opts: &EmulatorOptions,
        mut progress: Option<&mut dyn FnMut(usize, usize)>,
    ) -> Result<ResponseEval> {
        let cond = self.require_condition()?;
        if opts.n_per_sim < 2 {
            bail!(
                "--n-per-sim {}: the response needs at least 2 fields per θ",
                opts.n_per_sim
            );
        }
        if let Some(r) = self.resolution.filter(|r| *r != ds.resolution()) {
            bail!(
                "{}: maps of {}², the model was trained at {r}²",
                ds.dir.display(),
                ds.resolution()
            );
        }
        let stat = PkStatistic::new(ds.resolution(), ds.box_size().unwrap_or(25.0), 1)
            .map_err(|e| crate::Error::Invalid(format!("{}: {e}", ds.dir.display())))?;
        let (sims, theta, per) = crate::infer::simulations(ds, split, cond, None, None)?;
        let d = cond.params.len();
        let fid: Vec<f64> = (0..d)
            .map(|p| mode(&theta.iter().map(|t| t[p]).collect::<Vec<_>>()))
            .collect();
        let series: Vec<Vec<usize>> = (0..d)
            .map(|p| {
                (0..sims.len())
                    .filter(|&s| (0..d).all(|q| q == p || theta[s][q] == fid[q]))
                    .collect()
            })
            .collect();
        let total: usize = series.iter().map(|s| s.len()).sum();
        let rows = |maps: ndarray::ArrayView3<f64>| -> Result<Vec<Vec<f64>>> {
            maps.outer_iter()
                .map(|m| {
                    stat.of_maps(&[m])
                        .map_err(|e| crate::Error::Invalid(format!("P(k): {e}")))
                })
                .collect()
        };
        let mut parameters = Vec::with_capacity(d);
        let mut done = 0;
        for (p, idx) in series.iter().enumerate() {
            let name = &cond.params[p].name;
            let values: Vec<f64> = idx.iter().map(|&s| theta[s][p]).collect();
            let at = |e: evaluation::Error| {
                crate::Error::Invalid(format!(
                    "{} ({split} split), {name} series at the others' fiducial {:?}: {e}; \
                     give a one-parameter-at-a-time set (astrodiff simulate --set 1P)",
                    ds.dir.display(),
                    fid
                ))
            };
            let real: Vec<Vec<Vec<f64>>> = idx
                .iter()
                .map(|&s| rows(sims[s].view()))
                .collect::<Result<_>>()?;
            let simulated = evaluation::response::response(&values, &real, fid[p]).map_err(at)?;
            let mut generated = Vec::with_capacity(idx.len());
            for &s in idx {
                let g = self.generate(
                    &GenerateOptions {
                        n: opts.n_per_sim,
                        sampler: opts.sampler,
                        seed: derive_seed(opts.seed, &[p as u64]),
                        batch: opts.batch,
                        params: Some(
                            Array2::from_shape_vec((1, d), theta[s].clone()).expect("one row"),
                        ),
                        guidance: opts.guidance,
                        ..GenerateOptions::default()
                    },
                    None,
                )?;
                if g.nonfinite > 0 {
                    bail!(
                        "{name} = {}: {} generated values are not finite",
                        theta[s][p],
                        g.nonfinite
                    );
                }
                generated.push(rows(g.fields.mapv(|v| v as f64).view())?);
                done += 1;
                if let Some(pr) = progress.as_mut() {
                    pr(done, total);
                }
            }
            let emulated =
                evaluation::response::response(&values, &generated, fid[p]).map_err(at)?;
            parameters.push(ParameterResponse {
                name: name.clone(),
                fiducial: fid[p],
                theta: values,
                simulations: idx.clone(),
                simulated,
                emulated,
            });
        }
        Ok(ResponseEval {
            split: split.to_string(),
            k: stat.k(),
            maps_per_sim: per,
            n_per_sim: opts.n_per_sim,
            parameters,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fiducial_is_the_most_common_value() {
        assert_eq!(super::mode(&[0.1, 0.3, 0.5, 0.3, 0.2]), 0.3);
        assert_eq!(super::mode(&[0.4, 0.2]), 0.2);
    }
}

impl EmulatorEval {
    /// Writes the emulator's HTML report and its figures into `dir` (`dir/report.html`;
    /// `evaluation::emulator_report`), with `response` when measured and `notes` as its first
    /// paragraphs (the model, the data, the command).
    pub fn write_report(
        &self,
        dir: &std::path::Path,
        response: Option<&ResponseEval>,
        notes: Vec<String>,
    ) -> Result<std::path::PathBuf> {
        use evaluation::emulator_report::{
            write_emulator_report, EmulatorReport, ReportResponse, ReportSimulation,
        };
        let report = EmulatorReport {
            title: format!("Emulator per cosmology: {} split", self.split),
            notes,
            names: self.names.clone(),
            k: &self.k,
            simulations: self
                .simulations
                .iter()
                .map(|s| ReportSimulation {
                    simulation: s.simulation,
                    theta: self.names.iter().map(|n| s.theta[n]).collect(),
                    pk: &s.pk,
                    pdf: &s.pdf,
                    mf: &s.mf,
                    clamped: s.clamped,
                })
                .collect(),
            mean_ratio: &self.mean_ratio,
            medians: [
                ("P(k) reduced χ²", self.median_reduced_chi2),
                ("PDF reduced χ²", self.median_pdf_reduced_chi2),
                ("MF reduced χ²", self.median_mf_reduced_chi2),
                ("P(k) LOO true–true", self.median_true_true),
                ("P(k) LOO generated–true", self.median_generated_true),
                (
                    "P(k) LOO generated–generated",
                    self.median_generated_generated,
                ),
            ],
            responses: response
                .map(|r| {
                    r.parameters
                        .iter()
                        .map(|p| ReportResponse {
                            name: &p.name,
                            fiducial: p.fiducial,
                            n_values: p.theta.len(),
                            simulated: &p.simulated,
                            emulated: &p.emulated,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        };
        use crate::error::Context;
        write_emulator_report(dir, &report)
            .with_context(|| format!("writing the emulator report in {}", dir.display()))
    }
}
