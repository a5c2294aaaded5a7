//! `astrodiff._astrodiff`: the compiled half of the Python package. A thin layer: every number
//! comes from the workspace's libraries (`stats` for the estimators, `evaluation` for comparing
//! and judging sets, `fields` for files, `sim` for the simulator and, with the `torch` feature,
//! `pipeline` for trained runs); this file only converts arrays and errors. The Python half
//! (`python/astrodiff/__init__.py`) names the results and documents units and conventions.
//!
//! Arrays are read in place (any memory order, float32 or float64; float32 maps are promoted to
//! float64 one at a time), and the GIL is released while the libraries work.

use evaluation::measure::{self, ArrayMaps, CompareOptions, MapSource, MeasureOptions};
use ndarray::{Array1, Array2, ArrayView3, Axis, Ix3};
use numpy::{
    IntoPyArray, PyArrayDescrMethods, PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyFileNotFoundError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;
use std::path::PathBuf;

#[cfg(feature = "torch")]
mod model;

/// One line, the whole cause chain joined by ": " (as the CLI prints it).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let m = c.to_string();
        if !s.ends_with(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        src = c.source();
    }
    s
}

pub(crate) fn value_error(e: impl std::error::Error) -> PyErr {
    PyValueError::new_err(chain(&e))
}

/// A float32 or float64 array of one map (N, N) or a stack (n, N, N), borrowed from numpy.
pub(crate) enum Maps<'py> {
    F64(PyReadonlyArrayDyn<'py, f64>),
    F32(PyReadonlyArrayDyn<'py, f32>),
}

impl<'py> Maps<'py> {
    /// Borrows `obj` (a numpy array; the Python side calls `np.asarray` first), checking dtype
    /// and rank; `what` names the argument in messages.
    pub(crate) fn extract(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<(Self, bool)> {
        let arr = obj.cast::<PyUntypedArray>().map_err(|_| {
            PyTypeError::new_err(format!(
                "{what}: expected a numpy array, got {}",
                obj.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_else(|_| "?".into())
            ))
        })?;
        let ndim = arr.ndim();
        if ndim != 2 && ndim != 3 {
            return Err(PyValueError::new_err(format!(
                "{what}: expected one map (N, N) or a stack (n, N, N), got {ndim} dimension(s) of shape {:?}",
                arr.shape()
            )));
        }
        let dtype = arr.dtype();
        let maps = if dtype.is_equiv_to(&numpy::dtype::<f64>(obj.py())) {
            Maps::F64(obj.extract()?)
        } else if dtype.is_equiv_to(&numpy::dtype::<f32>(obj.py())) {
            Maps::F32(obj.extract()?)
        } else {
            let name = dtype.to_string();
            let kind = dtype.kind();
            let hint = if kind == b'c' {
                "complex values have no P(k) or excursion sets here; pass the real part, or np.abs(x)"
            } else {
                "convert with np.asarray(x, dtype=np.float64)"
            };
            return Err(PyValueError::new_err(format!(
                "{what}: dtype {name} is not supported (float32 or float64 only; {hint})"
            )));
        };
        Ok((maps, ndim == 2))
    }

    /// The maps as a source for the libraries, named `what` in messages.
    pub(crate) fn source(&self, what: &str) -> PyResult<Box<dyn MapSource + '_>> {
        fn three<T>(a: ndarray::ArrayViewD<'_, T>) -> ArrayView3<'_, T> {
            if a.ndim() == 2 {
                a.insert_axis(Axis(0))
                    .into_dimensionality::<Ix3>()
                    .expect("2 + 1 axes")
            } else {
                a.into_dimensionality::<Ix3>().expect("checked: 3 axes")
            }
        }
        Ok(match self {
            Maps::F64(a) => {
                Box::new(ArrayMaps::new(what, three(a.as_array())).map_err(value_error)?)
            }
            Maps::F32(a) => {
                Box::new(ArrayMaps::new(what, three(a.as_array())).map_err(value_error)?)
            }
        })
    }
}

/// A set given as an array or as a file path (.npy, .npz, FITS; memory-mapped).
enum Set<'py> {
    Array(Maps<'py>),
    File(fields::MapStack),
}

impl<'py> Set<'py> {
    fn extract(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Self> {
        if let Ok(p) = obj.extract::<PathBuf>() {
            return Ok(Set::File(open_stack(&p)?));
        }
        Ok(Set::Array(Maps::extract(obj, what)?.0))
    }
    fn source(&self, what: &str) -> PyResult<Box<dyn MapSource + '_>> {
        match self {
            Set::Array(m) => m.source(what),
            Set::File(s) => Ok(Box::new(s)),
        }
    }
    /// The file's absolute path, as the CLI records it.
    fn path(&self) -> Option<String> {
        match self {
            Set::Array(_) => None,
            Set::File(s) => Some(evaluation::SetInfo::absolute_path(s.source_path())),
        }
    }
}

/// Opens a map file; a missing file is `FileNotFoundError`, anything else `ValueError`.
fn open_stack(p: &std::path::Path) -> PyResult<fields::MapStack> {
    let s = p.to_string_lossy();
    let member = s.rfind(".npz:").map(|i| PathBuf::from(&s[..i + 4]));
    if !p.exists() && !member.as_deref().is_some_and(|m| m.exists()) {
        return Err(PyFileNotFoundError::new_err(format!(
            "{}: no such file",
            p.display()
        )));
    }
    let st = fields::MapStack::open(p).map_err(value_error)?;
    if st.is_empty() {
        return Err(PyValueError::new_err(format!(
            "{}: the stack holds no maps",
            p.display()
        )));
    }
    Ok(st)
}

fn parse<T: std::str::FromStr>(s: &str) -> PyResult<T>
where
    T::Err: std::error::Error,
{
    s.parse::<T>().map_err(value_error)
}

/// Every map of `src` after the transform, in parallel, in order.
fn per_map<T: Send>(
    src: &dyn MapSource,
    t: stats::Transform,
    f: impl Fn(Array2<f64>) -> stats::Result<T> + Sync,
) -> Result<Vec<T>, String> {
    (0..src.len())
        .into_par_iter()
        .map(|i| {
            measure::transformed(src, i, t)
                .map_err(|e| e.to_string())
                .and_then(|x| f(x).map_err(|e| format!("{}: map {i}: {e}", src.name())))
        })
        .collect()
}

/// Stacks per-map rows into (n, m), or returns the single row for one map.
fn rows<'py, T: numpy::Element + Copy>(
    py: Python<'py>,
    v: Vec<Vec<T>>,
    single: bool,
) -> Bound<'py, PyAny> {
    if single {
        return Array1::from(v.into_iter().next().unwrap_or_default())
            .into_pyarray(py)
            .into_any();
    }
    let m = v.first().map_or(0, |r| r.len());
    let flat: Vec<T> = v.iter().flatten().copied().collect();
    Array2::from_shape_vec((v.len(), m), flat)
        .expect("rows of one length")
        .into_pyarray(py)
        .into_any()
}

#[pyfunction]
#[pyo3(signature = (field, box_size, transform="identity"))]
fn power_spectrum<'py>(
    py: Python<'py>,
    field: &Bound<'py, PyAny>,
    box_size: f64,
    transform: &str,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let t: stats::Transform = parse(transform)?;
    let (maps, single) = Maps::extract(field, "field")?;
    let src = maps.source("field")?;
    let plan = stats::PowerSpectrumPlan::new(src.side(), box_size).map_err(value_error)?;
    let out = py
        .detach(|| per_map(src.as_ref(), t, |m| plan.compute(m.view())))
        .map_err(PyValueError::new_err)?;
    let k = out[0].k.clone();
    let nmodes = out[0].nmodes.clone();
    let pk = out.into_iter().map(|p| p.pk).collect();
    Ok((
        Array1::from(k).into_pyarray(py).into_any(),
        rows(py, pk, single),
        Array1::from(nmodes).into_pyarray(py).into_any(),
    ))
}

#[pyfunction]
#[pyo3(signature = (field, edges=None, bins=40, transform="identity"))]
fn histogram<'py>(
    py: Python<'py>,
    field: &Bound<'py, PyAny>,
    edges: Option<Vec<f64>>,
    bins: usize,
    transform: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let t: stats::Transform = parse(transform)?;
    let (maps, single) = Maps::extract(field, "field")?;
    let src = maps.source("field")?;
    let mut opts = MeasureOptions::new(1.0);
    opts.transform = t;
    opts.edges = edges;
    opts.n_bins = bins;
    opts.thresholds = Some(vec![0.0]); // not used here; skips the percentile pass
    let cfg = py
        .detach(|| measure::resolve_config(&opts, &[src.as_ref()], src.as_ref()))
        .map_err(value_error)?;
    let edges = cfg.edges;
    let hs = py
        .detach(|| per_map(src.as_ref(), t, |m| stats::histogram(m.view(), &edges)))
        .map_err(PyValueError::new_err)?;
    let d = PyDict::new(py);
    d.set_item("edges", Array1::from(edges.clone()).into_pyarray(py))?;
    d.set_item(
        "counts",
        rows(py, hs.iter().map(|h| h.counts.clone()).collect(), single),
    )?;
    d.set_item(
        "pdf",
        rows(py, hs.iter().map(|h| h.pdf_over_total()).collect(), single),
    )?;
    d.set_item(
        "density",
        rows(py, hs.iter().map(|h| h.numpy_density()).collect(), single),
    )?;
    for (name, f) in [
        (
            "n_below",
            (|h: &stats::Histogram| h.n_below) as fn(&stats::Histogram) -> u64,
        ),
        ("n_above", |h| h.n_above),
        ("n_total", |h| h.n_total),
    ] {
        let v: Vec<u64> = hs.iter().map(f).collect();
        if single {
            d.set_item(name, v[0])?;
        } else {
            d.set_item(name, Array1::from(v).into_pyarray(py))?;
        }
    }
    Ok(d)
}

#[pyfunction]
#[pyo3(signature = (field, thresholds=None, convention="periodic", n_thresholds=25,
    transform="identity"))]
fn minkowski<'py>(
    py: Python<'py>,
    field: &Bound<'py, PyAny>,
    thresholds: Option<Vec<f64>>,
    convention: &str,
    n_thresholds: usize,
    transform: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let convention: stats::MfConvention = parse(convention)?;
    let t_in: stats::Transform = parse(transform)?;
    let (maps, single) = Maps::extract(field, "field")?;
    let src = maps.source("field")?;
    let mut opts = MeasureOptions::new(1.0);
    opts.transform = t_in;
    opts.edges = Some(vec![0.0, 1.0]); // not used here; skips the range pass
    opts.thresholds = thresholds;
    opts.n_thresholds = n_thresholds;
    let cfg = py
        .detach(|| measure::resolve_config(&opts, &[src.as_ref()], src.as_ref()))
        .map_err(value_error)?;
    let t = cfg.thresholds;
    let ms = py
        .detach(|| {
            per_map(src.as_ref(), t_in, |m| {
                stats::minkowski(m.view(), &t, convention)
            })
        })
        .map_err(PyValueError::new_err)?;
    let d = PyDict::new(py);
    d.set_item("thresholds", Array1::from(t.clone()).into_pyarray(py))?;
    d.set_item("convention", convention.to_string())?;
    type Get = fn(&stats::Minkowski) -> Vec<f64>;
    for (name, f) in [
        ("v0", (|m: &stats::Minkowski| m.v0.clone()) as Get),
        ("v1", |m| m.v1.clone()),
        ("v2", |m| m.v2.clone()),
        ("chi", |m| m.chi.clone()),
        ("length_pix", |m| m.length_pix.clone()),
    ] {
        d.set_item(name, rows(py, ms.iter().map(f).collect(), single))?;
    }
    d.set_item(
        "n_above",
        rows(py, ms.iter().map(|m| m.n_above.clone()).collect(), single),
    )?;
    Ok(d)
}

/// The measuring options of `compare` and `evaluate`, parsed from the keyword arguments.
#[allow(clippy::too_many_arguments)]
fn measure_options(
    box_size: f64,
    transform: &str,
    edges: Option<Vec<f64>>,
    bins: usize,
    thresholds: Option<Vec<f64>>,
    n_thresholds: usize,
    mf_convention: &str,
) -> PyResult<MeasureOptions> {
    Ok(MeasureOptions {
        box_size,
        transform: parse(transform)?,
        edges,
        n_bins: bins,
        thresholds,
        n_thresholds,
        convention: parse(mf_convention)?,
    })
}

#[pyfunction]
#[pyo3(signature = (a, b, box_size, transform="identity", edges=None, bins=40, thresholds=None,
    n_thresholds=25, mf_convention="periodic", label_a=String::from("A"), label_b=String::from("B"),
    max_pooled_pixels=1 << 27))]
#[allow(clippy::too_many_arguments)]
fn compare_json(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
    box_size: f64,
    transform: &str,
    edges: Option<Vec<f64>>,
    bins: usize,
    thresholds: Option<Vec<f64>>,
    n_thresholds: usize,
    mf_convention: &str,
    label_a: String,
    label_b: String,
    max_pooled_pixels: usize,
) -> PyResult<String> {
    let opts = CompareOptions {
        measure: measure_options(
            box_size,
            transform,
            edges,
            bins,
            thresholds,
            n_thresholds,
            mf_convention,
        )?,
        label_a,
        label_b,
        max_pooled_pixels,
    };
    let (sa, sb) = (Set::extract(a, "a")?, Set::extract(b, "b")?);
    let (src_a, src_b) = (sa.source("a")?, sb.source("b")?);
    let r = py
        .detach(|| measure::compare_sets(src_a.as_ref(), src_b.as_ref(), &opts, &|| {}))
        .map_err(value_error)?;
    serde_json::to_string(&r).map_err(value_error)
}

/// Every map of a set as f64 (`evaluate` holds both sets in memory, as the CLI does).
fn owned_maps(src: &dyn MapSource, max: Option<usize>) -> Vec<Array2<f64>> {
    let n = max.unwrap_or(usize::MAX).min(src.len());
    (0..n).into_par_iter().map(|i| src.map(i)).collect()
}

#[pyfunction]
#[pyo3(signature = (real, generated, box_size, transform="identity", edges=None, bins=40,
    thresholds=None, n_thresholds=25, mf_convention="periodic", maps_per_sim=1, train_maps=0,
    baseline_splits=evaluation::verdict::BASELINE_SPLITS, baseline_seed=0, null=true,
    null_from=None, null_fields=None, null_seed=0, label_real=String::from("real"),
    label_generated=String::from("generated"), max_maps=None, out=None))]
#[allow(clippy::too_many_arguments)]
fn evaluate_json(
    py: Python<'_>,
    real: &Bound<'_, PyAny>,
    generated: &Bound<'_, PyAny>,
    box_size: f64,
    transform: &str,
    edges: Option<Vec<f64>>,
    bins: usize,
    thresholds: Option<Vec<f64>>,
    n_thresholds: usize,
    mf_convention: &str,
    maps_per_sim: usize,
    train_maps: usize,
    baseline_splits: usize,
    baseline_seed: u64,
    null: bool,
    null_from: Option<&Bound<'_, PyAny>>,
    null_fields: Option<usize>,
    null_seed: u64,
    label_real: String,
    label_generated: String,
    max_maps: Option<usize>,
    out: Option<PathBuf>,
) -> PyResult<String> {
    let m = measure_options(
        box_size,
        transform,
        edges,
        bins,
        thresholds,
        n_thresholds,
        mf_convention,
    )?;
    if max_maps == Some(0) {
        return Err(PyValueError::new_err("max_maps must be at least 1"));
    }
    let (sr, sg) = (
        Set::extract(real, &label_real)?,
        Set::extract(generated, &label_generated)?,
    );
    let (src_r, src_g) = (sr.source(&label_real)?, sg.source(&label_generated)?);
    let fit = match null_from {
        Some(obj) if null => {
            let s = Set::extract(obj, "null_from")?;
            let src = s.source("null_from")?;
            let maps = py.detach(|| owned_maps(src.as_ref(), max_maps));
            let info = match &s {
                Set::File(st) => {
                    evaluation::SetInfo::of_file(st.source_path(), maps.len(), src.side())
                }
                Set::Array(_) => evaluation::SetInfo {
                    label: "null_from".into(),
                    path: None,
                    n_maps: maps.len(),
                    side: src.side(),
                },
            };
            Some((maps, info))
        }
        _ => None,
    };
    let opts = evaluation::EvalOptions {
        box_size: m.box_size,
        transform: m.transform,
        convention: m.convention,
        edges: m.edges,
        thresholds: m.thresholds,
        n_bins: m.n_bins,
        n_thresholds: m.n_thresholds,
        null: null.then(|| evaluation::NullOptions {
            seed: null_seed,
            n_fields: null_fields,
            fit,
        }),
        maps_per_sim,
        n_train: train_maps,
        baseline_splits,
        baseline_seed,
    };
    let info = |label: &str, set: &Set| evaluation::SetInfo {
        label: label.to_string(),
        path: set.path(),
        n_maps: 0,
        side: 0,
    };
    let (ir, ig) = (info(&label_real, &sr), info(&label_generated, &sg));
    let json = py.detach(|| -> Result<String, String> {
        let r = owned_maps(src_r.as_ref(), max_maps);
        let g = owned_maps(src_g.as_ref(), max_maps);
        let ev = evaluation::evaluate_sets(&r, &g, ir, ig, &opts, &|| {}).map_err(|e| chain(&e))?;
        if let Some(dir) = &out {
            evaluation::write_evaluation_report(dir, &ev, &r, &g).map_err(|e| chain(&e))?;
        }
        serde_json::to_string(&ev).map_err(|e| e.to_string())
    });
    json.map_err(PyValueError::new_err)
}

#[pyfunction]
#[pyo3(signature = (path, max_maps=None))]
fn load_maps<'py>(
    py: Python<'py>,
    path: PathBuf,
    max_maps: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let st = open_stack(&path)?;
    let n = max_maps.unwrap_or(usize::MAX).min(st.len());
    if n == 0 {
        return Err(PyValueError::new_err("max_maps must be at least 1"));
    }
    Ok(if st.dtype_name().starts_with("float64") {
        let side = st.side();
        let a = py.detach(|| {
            let mut a = ndarray::Array3::<f64>::zeros((n, side, side));
            a.axis_iter_mut(Axis(0))
                .into_par_iter()
                .enumerate()
                .for_each(|(i, mut m)| m.assign(&st.map(i)));
            a
        });
        a.into_pyarray(py).into_any()
    } else {
        py.detach(|| st.maps_f32(0..n)).into_pyarray(py).into_any()
    })
}

#[pyfunction]
fn read_params<'py>(py: Python<'py>, path: PathBuf) -> PyResult<(Vec<String>, Bound<'py, PyAny>)> {
    if !path.exists() {
        return Err(PyFileNotFoundError::new_err(format!(
            "{}: no such file",
            path.display()
        )));
    }
    let t = fields::camels::ParamsTable::read(&path).map_err(value_error)?;
    Ok((t.names, t.rows.into_pyarray(py).into_any()))
}

#[pyfunction]
#[pyo3(signature = (n_sims, seed=0, particles=64, mesh=128, box_size=25.0, map_res=256, steps=20,
    z_init=19.0, slabs=5, cloud=None, name="Sim", set="LH"))]
#[allow(clippy::too_many_arguments)]
fn simulate<'py>(
    py: Python<'py>,
    n_sims: usize,
    seed: u64,
    particles: usize,
    mesh: usize,
    box_size: f64,
    map_res: usize,
    steps: usize,
    z_init: f64,
    slabs: usize,
    cloud: Option<f64>,
    name: &str,
    set: &str,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, Vec<u64>)> {
    let set: sim::camels_out::SimSet = set.parse().map_err(value_error)?;
    let cfg = sim::camels_out::SuiteConfig::new(
        name,
        n_sims,
        seed,
        sim::SimConfig {
            particles,
            mesh,
            box_size,
            steps,
            z_init,
            map_res,
            slabs,
            cloud,
        },
    )
    .with_set(set);
    let (maps, entries) = py
        .detach(|| sim::camels_out::simulate_suite(&cfg, &|_| {}))
        .map_err(value_error)?;
    let params = Array2::from_shape_fn((entries.len(), 2), |(i, j)| {
        if j == 0 {
            entries[i].omega_m
        } else {
            entries[i].sigma_8
        }
    });
    Ok((
        maps.into_pyarray(py).into_any(),
        params.into_pyarray(py).into_any(),
        entries.iter().map(|e| e.seed).collect(),
    ))
}

#[pymodule]
fn _astrodiff(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(power_spectrum, m)?)?;
    m.add_function(wrap_pyfunction!(histogram, m)?)?;
    m.add_function(wrap_pyfunction!(minkowski, m)?)?;
    m.add_function(wrap_pyfunction!(compare_json, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate_json, m)?)?;
    m.add_function(wrap_pyfunction!(load_maps, m)?)?;
    m.add_function(wrap_pyfunction!(read_params, m)?)?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("HAS_TORCH", cfg!(feature = "torch"))?;
    #[cfg(feature = "torch")]
    model::register(m)?;
    Ok(())
}
