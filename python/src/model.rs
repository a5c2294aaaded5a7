//! Trained runs from Python (the `torch` feature): `load_run(dir)` → `Run` with `sample` and
//! `denoise`, over `pipeline::TrainedRun` — the same calls, defaults and seeds as
//! `astrodiff sample` and `astrodiff denoise`, so the arrays equal the CLI's files.

use crate::{chain, parse, value_error, Maps};
use ndarray::{Array2, Array3, Axis};
use numpy::{IntoPyArray, PyReadonlyArrayDyn};
use pyo3::exceptions::{PyFileNotFoundError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;

fn run_error(e: pipeline::Error) -> PyErr {
    PyValueError::new_err(chain(&e))
}

/// A trained run folder (or checkpoint file), loaded once.
#[pyclass(module = "astrodiff._astrodiff", name = "Run", unsendable)]
pub struct Run {
    run: pipeline::TrainedRun,
}

#[pyfunction]
#[pyo3(signature = (path, ema=true, device=None, threads=None))]
fn load_run(
    path: PathBuf,
    ema: bool,
    device: Option<String>,
    threads: Option<usize>,
) -> PyResult<Run> {
    if !path.exists() {
        return Err(PyFileNotFoundError::new_err(format!(
            "{}: no such run folder or checkpoint",
            path.display()
        )));
    }
    let opts = pipeline::LoadOptions {
        raw_weights: !ema,
        device,
        threads,
    };
    Ok(Run {
        run: pipeline::TrainedRun::load(&path, &opts).map_err(run_error)?,
    })
}

#[pymethods]
impl Run {
    /// The run folder or checkpoint it was loaded from.
    #[getter]
    fn source(&self) -> String {
        self.run.source.display().to_string()
    }

    /// Training steps of the loaded weights.
    #[getter]
    fn step(&self) -> u64 {
        self.run.step
    }

    /// The parameters the model is conditioned on, in the order `sample(params=...)` takes
    /// them (empty for an unconditional model).
    #[getter]
    fn condition(&self) -> Vec<String> {
        self.run
            .config
            .condition
            .as_ref()
            .map(|c| c.names().iter().map(|n| n.to_string()).collect())
            .unwrap_or_default()
    }

    /// Training resolution (None for checkpoints that do not record it).
    #[getter]
    fn resolution(&self) -> Option<usize> {
        self.run.resolution
    }

    #[pyo3(signature = (n=64, sampler="ddim", steps=50, eta=0.0, seed=0, batch=16, size=None,
        params=None, keep_out_of_range=false, guidance=0.0))]
    #[allow(clippy::too_many_arguments)]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        sampler: &str,
        steps: usize,
        eta: f64,
        seed: u64,
        batch: usize,
        size: Option<usize>,
        params: Option<PyReadonlyArrayDyn<'py, f64>>,
        keep_out_of_range: bool,
        guidance: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let kind = match parse::<pipeline::SamplerKind>(sampler)? {
            pipeline::SamplerKind::Ddim { .. } => pipeline::SamplerKind::Ddim { eta },
            k => k,
        };
        let params = match params {
            None => None,
            Some(p) => {
                let a = p.as_array();
                Some(match a.ndim() {
                    1 => a
                        .to_owned()
                        .into_shape_with_order((1, a.len()))
                        .map_err(value_error)?,
                    2 => a
                        .to_owned()
                        .into_dimensionality::<ndarray::Ix2>()
                        .map_err(value_error)?,
                    d => {
                        return Err(PyValueError::new_err(format!(
                            "params: one row of values, or one row per field, not {d} dimensions"
                        )))
                    }
                })
            }
        };
        let opts = pipeline::GenerateOptions {
            n,
            sampler: pipeline::SamplerConfig::new(kind, (steps > 0).then_some(steps)),
            seed,
            batch,
            size,
            params: params.map(|p: Array2<f64>| p),
            guidance,
            out_of_range: if keep_out_of_range {
                pipeline::OutOfRange::Keep
            } else {
                pipeline::OutOfRange::Clamp
            },
        };
        // The network is not Send (libtorch tensors): it runs holding the GIL, whose cost is
        // nothing next to the sampling itself.
        let g = self.run.generate(&opts, None).map_err(run_error)?;
        Ok(g.fields.into_pyarray(py).into_any())
    }

    #[pyo3(signature = (y, sigma, samples=16, injection="exact", sampler="ddpm", steps=None,
        eta=1.0, seed=0))]
    #[allow(clippy::too_many_arguments)]
    fn denoise<'py>(
        &self,
        py: Python<'py>,
        y: &Bound<'py, PyAny>,
        sigma: f64,
        samples: usize,
        injection: &str,
        sampler: &str,
        steps: Option<usize>,
        eta: f64,
        seed: u64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let config = pipeline::PosteriorConfig::checked(
            parse(injection)?,
            samples,
            parse(sampler)?,
            steps,
            eta,
            seed,
        )
        .map_err(|e| PyValueError::new_err(chain(&e)))?;
        let (maps, single) = Maps::extract(y, "y")?;
        let src = maps.source("y")?;
        let (b, n) = (src.len(), src.side());
        let mut noisy = Array3::<f64>::zeros((b, n, n));
        for m in 0..b {
            let map = src.map(m);
            stats::error::check_finite(map.view())
                .map_err(|e| PyValueError::new_err(format!("y: map {m}: {e}")))?;
            noisy.index_axis_mut(Axis(0), m).assign(&map);
        }
        let d = self
            .run
            .denoise(
                noisy.view(),
                std::path::Path::new("y"),
                sigma,
                &config,
                None,
            )
            .map_err(run_error)?;
        // float32, as `astrodiff denoise` writes samples.npy, mean.npy and std.npy.
        let f32s = |a: ndarray::ArrayViewD<f64>| {
            let a = a.mapv(|v| v as f32);
            if single {
                a.index_axis_move(Axis(0), 0)
            } else {
                a
            }
        };
        let out = PyDict::new(py);
        out.set_item(
            "samples",
            f32s(d.samples.view().into_dyn()).into_pyarray(py),
        )?;
        out.set_item("mean", f32s(d.mean.view().into_dyn()).into_pyarray(py))?;
        out.set_item("std", f32s(d.std.view().into_dyn()).into_pyarray(py))?;
        out.set_item("sigma_norm", d.sigma_norm)?;
        out.set_item("t_star", d.plan.t_star)?;
        out.set_item("sigma_t_star", d.plan.sigma_t_star)?;
        out.set_item("nfe", d.nfe)?;
        out.set_item("nonfinite", d.nonfinite)?;
        Ok(out)
    }

    /// The posterior over a conditional model's parameters behind `maps` ((N, N) or (n, N, N),
    /// physical units), as `astrodiff infer` writes it: a dict with "names", "axes" and
    /// "estimates" (each {"fields", "params": {name: {"mean", "std", "q16", ...}}, "edge_mass",
    /// "log_likelihood"}); the same numbers as the CLI's JSON for the same arguments. With
    /// `mcmc=N` each estimate also carries "mcmc": N slice samples after `burn_in` through the same
    /// bound (`astrodiff infer --mcmc N --burn-in B`).
    #[pyo3(signature = (maps, fields_per_estimate=1, grid=9, zooms=4, stride=20, t_max=None, draws=1, seed=0, mcmc=None, burn_in=20))]
    #[allow(clippy::too_many_arguments)]
    fn infer<'py>(
        &self,
        py: Python<'py>,
        maps: &Bound<'py, PyAny>,
        fields_per_estimate: usize,
        grid: usize,
        zooms: usize,
        stride: usize,
        t_max: Option<usize>,
        draws: usize,
        seed: u64,
        mcmc: Option<usize>,
        burn_in: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (m, _) = Maps::extract(maps, "maps")?;
        let src = m.source("maps")?;
        let (b, n) = (src.len(), src.side());
        let mut a = Array3::<f64>::zeros((b, n, n));
        for i in 0..b {
            let map = src.map(i);
            stats::error::check_finite(map.view())
                .map_err(|e| PyValueError::new_err(format!("maps: map {i}: {e}")))?;
            a.index_axis_mut(Axis(0), i).assign(&map);
        }
        let defaults = pipeline::InferOptions::default();
        let opts = pipeline::InferOptions {
            fields_per_estimate,
            grid,
            zooms,
            vlb: pipeline::VlbConfig {
                stride,
                t_max,
                draws,
                seed,
                ..defaults.vlb
            },
            mcmc: mcmc.map(|samples| pipeline::SliceConfig {
                samples,
                burn_in,
                ..Default::default()
            }),
        };
        let inf = self
            .run
            .infer(a.view(), std::path::Path::new("maps"), &opts, None)
            .map_err(run_error)?;
        let text = serde_json::to_string(&inf)
            .map_err(|e| PyValueError::new_err(format!("infer: {e}")))?;
        py.import("json")?.call_method1("loads", (text,))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Run>()?;
    m.add_function(wrap_pyfunction!(load_run, m)?)?;
    Ok(())
}
