//! Resumable simulation suites written in the CAMELS Multifield Dataset layout.
//!
//! Three sets, as CAMELS arranges its simulations ([`SimSet`]):
//! * `LH`: a Latin hypercube over Ω_m ∈ [0.1, 0.5], σ₈ ∈ [0.6, 1.0], every simulation its own seed.
//! * `CV` (cosmic variance): every simulation at the fiducial Ω_m = 0.3, σ₈ = 0.8, each with its
//!   own seed (CAMELS has 27), so their scatter is sample variance alone.
//! * `1P`: one parameter varied at a time over its range, the other at its fiducial value, and
//!   every simulation with the same seed (as in CAMELS, whose 1P runs share the fiducial's initial
//!   conditions), so differences come from the parameter alone. A dark-matter-only simulator has
//!   two such parameters; the `n_sims` simulations are Ω_m's `n_sims/2` values then σ₈'s, evenly
//!   spaced from the range's minimum to its maximum (11 each, the fiducial in the middle, like
//!   CAMELS' original 1P).
//!
//! Output in `out_dir` (`<SET>` is `LH`, `CV` or `1P`):
//! * `Maps_Mcdm_<name>_<SET>_z=0.00.npy`: float32, shape (n_sims·3·slabs, N, N), Σ in
//!   (M_sun/h)/(Mpc/h)²; map m belongs to simulation m / (3·slabs), like CMD's m // 15.
//! * `params_<SET>_<name>.txt`: one row per simulation, the CAMELS header and column order
//!   `# Om sigma8 SN1 AGN1 SN2 AGN2` (tab-separated header, space-separated `%.5f` values); the
//!   astrophysical feedback columns hold their fiducial value 1.0 (a dark-matter-only run).
//! * `sims_<SET>_<name>.json`: the settings, the master seed and every simulation's derived seed.
//! * `work_<name>/` (LH) or `work_<name>_<SET>/`: one `sim_#####.npy` (+ `.json`) per finished
//!   simulation and `config.json`. A rerun with the same settings skips finished simulations,
//!   then re-assembles the stack.
//!
//! Every file is written under a temporary name in the same folder and renamed into place.

use crate::lhs::{derive_seed, latin_hypercube};
use crate::{simulate, CosmoParams, SimConfig, SimError};
use ndarray::{s, Array3, ArrayViewMut3};
use ndarray_npy::{read_npy, write_npy, write_zeroed_npy, ViewMutNpyExt};
use rayon::prelude::*;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How a suite's simulations are arranged in parameter space (the CAMELS sets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum SimSet {
    /// Latin hypercube over the prior box, a seed per simulation.
    #[default]
    #[serde(rename = "LH")]
    Lh,
    /// Cosmic variance: all at the fiducial cosmology, a seed per simulation.
    #[serde(rename = "CV")]
    Cv,
    /// One parameter at a time around the fiducial cosmology, one seed for all.
    #[serde(rename = "1P")]
    OneP,
}

impl SimSet {
    /// How many simulations the set has when none is given: CAMELS' 27 for CV and 22 for 1P
    /// (11 values of Ω_m, then 11 of σ₈); an LH suite has no natural size.
    pub fn default_n_sims(self) -> Option<usize> {
        match self {
            SimSet::Lh => None,
            SimSet::Cv => Some(27),
            SimSet::OneP => Some(22),
        }
    }

    /// The set's name in CAMELS file names.
    pub fn name(self) -> &'static str {
        match self {
            SimSet::Lh => "LH",
            SimSet::Cv => "CV",
            SimSet::OneP => "1P",
        }
    }
}

impl std::str::FromStr for SimSet {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, SimError> {
        match s {
            "LH" => Ok(SimSet::Lh),
            "CV" => Ok(SimSet::Cv),
            "1P" => Ok(SimSet::OneP),
            _ => Err(SimError::Param(format!(
                "unknown simulation set {s:?}: LH (Latin hypercube), CV (cosmic variance) or 1P (one parameter at a time)"
            ))),
        }
    }
}

/// The fiducial cosmology of the CV and 1P sets (CAMELS': Ω_m = 0.3, σ₈ = 0.8).
pub const FIDUCIAL: (f64, f64) = (0.3, 0.8);

/// A suite of simulations: a Latin hypercube, a cosmic-variance or a one-parameter set.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SuiteConfig {
    /// Suite name used in the file names (CAMELS uses the simulation code, e.g. IllustrisTNG).
    pub name: String,
    /// Absent in work folders written before sets existed: those are Latin hypercubes.
    #[serde(default)]
    pub set: SimSet,
    pub n_sims: usize,
    /// Master seed; the design and every simulation's seed derive from it.
    pub seed: u64,
    pub sim: SimConfig,
    pub omega_m_range: (f64, f64),
    pub sigma_8_range: (f64, f64),
}

impl SuiteConfig {
    /// The CAMELS LH ranges Ω_m ∈ [0.1, 0.5], σ₈ ∈ [0.6, 1.0].
    pub fn new(name: &str, n_sims: usize, seed: u64, sim: SimConfig) -> Self {
        SuiteConfig {
            name: name.to_string(),
            set: SimSet::Lh,
            n_sims,
            seed,
            sim,
            omega_m_range: (0.1, 0.5),
            sigma_8_range: (0.6, 1.0),
        }
    }

    /// The same suite arranged as another set (the CV or 1P companion of an LH suite).
    pub fn with_set(mut self, set: SimSet) -> Self {
        self.set = set;
        self
    }

    /// Checks what the set asks of `n_sims`: at least one simulation, and for 1P an even
    /// number (the same count of values for Ω_m and for σ₈).
    pub fn validate(&self) -> Result<(), SimError> {
        self.sim.validate()?;
        if self.n_sims == 0 {
            return Err(SimError::Param("n_sims must be at least 1".into()));
        }
        if self.set == SimSet::OneP && !self.n_sims.is_multiple_of(2) {
            return Err(SimError::Param(format!(
                "n_sims = {} for the 1P set: give an even number (n_sims/2 values of Ω_m, then of σ₈; CAMELS-like: 22)",
                self.n_sims
            )));
        }
        Ok(())
    }

    pub fn maps_file(&self) -> String {
        format!("Maps_Mcdm_{}_{}_z=0.00.npy", self.name, self.set.name())
    }
    pub fn params_file(&self) -> String {
        format!("params_{}_{}.txt", self.set.name(), self.name)
    }
    pub fn manifest_file(&self) -> String {
        format!("sims_{}_{}.json", self.set.name(), self.name)
    }
    pub fn work_dir(&self, out: &Path) -> PathBuf {
        match self.set {
            // LH keeps the folder name it had before sets existed, so old runs still resume.
            SimSet::Lh => out.join(format!("work_{}", self.name)),
            set => out.join(format!("work_{}_{}", self.name, set.name())),
        }
    }
}

/// One simulation of the design.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SuiteEntry {
    pub index: usize,
    pub seed: u64,
    pub omega_m: f64,
    pub sigma_8: f64,
}

/// The set's design (values rounded to the 5 decimals written to the params file, so the file
/// states exactly what was simulated) and per-simulation seeds (see [`SimSet`]).
pub fn design(cfg: &SuiteConfig) -> Vec<SuiteEntry> {
    let pts: Vec<[f64; 2]> = match cfg.set {
        SimSet::Lh => latin_hypercube(
            cfg.n_sims,
            &[cfg.omega_m_range, cfg.sigma_8_range],
            derive_seed(cfg.seed, u64::MAX),
        )
        .iter()
        .map(|p| [p[0], p[1]])
        .collect(),
        SimSet::Cv => vec![[FIDUCIAL.0, FIDUCIAL.1]; cfg.n_sims],
        SimSet::OneP => {
            let v = (cfg.n_sims / 2).max(1);
            let at = |(lo, hi): (f64, f64), j: usize| {
                if v == 1 {
                    (lo + hi) / 2.0
                } else {
                    lo + (hi - lo) * j as f64 / (v - 1) as f64
                }
            };
            (0..cfg.n_sims)
                .map(|i| {
                    if i < v {
                        [at(cfg.omega_m_range, i), FIDUCIAL.1]
                    } else {
                        [FIDUCIAL.0, at(cfg.sigma_8_range, i - v)]
                    }
                })
                .collect()
        }
    };
    let r5 = |x: f64| (x * 1e5).round() / 1e5;
    pts.iter()
        .enumerate()
        .map(|(i, p)| SuiteEntry {
            index: i,
            // 1P: one seed for all, so the simulations differ by the parameter alone.
            seed: derive_seed(cfg.seed, if cfg.set == SimSet::OneP { 0 } else { i as u64 }),
            omega_m: r5(p[0]),
            sigma_8: r5(p[1]),
        })
        .collect()
}

/// Progress events of [`run_suite`] (sent from worker threads).
#[derive(Debug, Clone, Copy)]
pub enum Event {
    /// Simulation already on disk.
    Skipped(usize),
    /// One PM step of a simulation finished.
    Step { sim: usize, step: usize },
    /// Simulation finished and written.
    Done(usize),
}

/// What [`run_suite`] wrote.
#[derive(Debug, Clone)]
pub struct SuiteFiles {
    pub maps: PathBuf,
    pub params: PathBuf,
    pub manifest: PathBuf,
    pub simulated: usize,
    pub skipped: usize,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SimError + '_ {
    move |error| SimError::Io {
        path: path.display().to_string(),
        error,
    }
}

fn file_err(path: &Path, msg: impl std::fmt::Display) -> SimError {
    SimError::File {
        path: path.display().to_string(),
        msg: msg.to_string(),
    }
}

/// Writes via a temporary file in the same folder, then renames (the workspace's rule,
/// [`atomicio`]): a crash never leaves a partial file, an error never leaves the temporary one.
fn atomic_write(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), SimError>,
) -> Result<(), SimError> {
    atomicio::write_via(path, write)
}

fn write_text(path: &Path, text: &str) -> Result<(), SimError> {
    atomic_write(path, |tmp| {
        let mut f = fs::File::create(tmp).map_err(io_err(tmp))?;
        f.write_all(text.as_bytes()).map_err(io_err(tmp))?;
        f.sync_all().map_err(io_err(tmp))
    })
}

/// The params file text in the CAMELS layout.
pub fn params_text(entries: &[SuiteEntry]) -> String {
    let mut s = String::from("# Om\tsigma8\tSN1\tAGN1\tSN2\tAGN2\n");
    for e in entries {
        s.push_str(&format!(
            "{:.5} {:.5} {:.5} {:.5} {:.5} {:.5}\n",
            e.omega_m, e.sigma_8, 1.0, 1.0, 1.0, 1.0
        ));
    }
    s
}

fn sim_path(work: &Path, i: usize) -> PathBuf {
    work.join(format!("sim_{i:05}.npy"))
}

/// Loads a finished simulation's maps if present and of the expected shape.
fn load_done(path: &Path, shape: (usize, usize, usize)) -> Option<Array3<f32>> {
    let a: Array3<f32> = read_npy(path).ok()?;
    (a.dim() == shape).then_some(a)
}

/// Runs simulation `e` of the suite: its 3 × slabs maps (in the order of the maps file) and
/// its cosmology.
fn simulate_entry(
    cfg: &SuiteConfig,
    e: &SuiteEntry,
    progress: &(dyn Fn(Event) + Sync),
) -> Result<(Array3<f32>, CosmoParams), SimError> {
    let params = CosmoParams::with(e.omega_m, e.sigma_8);
    let out = simulate(&cfg.sim, params, e.seed, |step| {
        progress(Event::Step { sim: e.index, step })
    })?;
    let n = cfg.sim.map_res;
    let mut stack = Array3::<f32>::zeros((3 * cfg.sim.slabs, n, n));
    for (m, map) in out.maps.iter().enumerate() {
        stack.slice_mut(s![m, .., ..]).assign(map);
    }
    Ok((stack, params))
}

/// Runs the whole suite in memory (nothing written, nothing resumed): the maps of every
/// simulation, `(n_sims · 3 · slabs, N, N)` in the order of the maps file that [`run_suite`]
/// writes, and the design (one entry per simulation). Same seeds, same maps as [`run_suite`].
pub fn simulate_suite(
    cfg: &SuiteConfig,
    progress: &(dyn Fn(Event) + Sync),
) -> Result<(Array3<f32>, Vec<SuiteEntry>), SimError> {
    cfg.validate()?;
    let entries = design(cfg);
    let per_sim = 3 * cfg.sim.slabs;
    let n = cfg.sim.map_res;
    let stacks = entries
        .par_iter()
        .with_max_len(1)
        .map(|e| {
            let (stack, _) = simulate_entry(cfg, e, progress)?;
            progress(Event::Done(e.index));
            Ok(stack)
        })
        .collect::<Result<Vec<_>, SimError>>()?;
    let mut all = Array3::<f32>::zeros((cfg.n_sims * per_sim, n, n));
    for (i, st) in stacks.iter().enumerate() {
        all.slice_mut(s![i * per_sim..(i + 1) * per_sim, .., ..])
            .assign(st);
    }
    Ok((all, entries))
}

/// Runs (or resumes) the suite and assembles the CAMELS-layout files in `out_dir`.
pub fn run_suite(
    cfg: &SuiteConfig,
    out_dir: &Path,
    progress: &(dyn Fn(Event) + Sync),
) -> Result<SuiteFiles, SimError> {
    cfg.validate()?;
    if cfg.name.is_empty() || cfg.name.contains(['/', '\\']) {
        return Err(SimError::Param(format!(
            "name {:?} must be non-empty and contain no path separator",
            cfg.name
        )));
    }
    let work = cfg.work_dir(out_dir);
    fs::create_dir_all(&work).map_err(io_err(&work))?;
    // The work folder belongs to one set of settings; resuming with others would mix suites.
    let cfg_path = work.join("config.json");
    let cfg_json = serde_json::to_string_pretty(cfg).expect("config serialises");
    if cfg_path.exists() {
        let old = fs::read_to_string(&cfg_path).map_err(io_err(&cfg_path))?;
        let old: SuiteConfig = serde_json::from_str(&old)
            .map_err(|e| file_err(&cfg_path, format!("unreadable suite config: {e}")))?;
        if old != *cfg {
            return Err(file_err(
                &cfg_path,
                "the work folder was made with different settings; use the same settings to resume, or another --out/--name",
            ));
        }
    } else {
        write_text(&cfg_path, &cfg_json)?;
    }

    let entries = design(cfg);
    let per_sim = 3 * cfg.sim.slabs;
    let n = cfg.sim.map_res;
    let shape = (per_sim, n, n);
    let (mut todo, mut skipped) = (Vec::new(), 0);
    for e in &entries {
        if load_done(&sim_path(&work, e.index), shape).is_some() {
            skipped += 1;
            progress(Event::Skipped(e.index));
        } else {
            todo.push(e.clone());
        }
    }
    // Simulations run concurrently (each also parallel inside); one per task keeps memory bounded.
    todo.par_iter()
        .with_max_len(1)
        .try_for_each(|e| -> Result<(), SimError> {
            let t0 = Instant::now();
            let (stack, params) = simulate_entry(cfg, e, progress)?;
            let path = sim_path(&work, e.index);
            let info = serde_json::json!({
                "index": e.index, "seed": e.seed, "omega_m": e.omega_m, "sigma_8": e.sigma_8,
                "params": params, "sim": cfg.sim, "wall_seconds": t0.elapsed().as_secs_f64(),
            });
            write_text(
                &path.with_extension("json"),
                &serde_json::to_string_pretty(&info).expect("json"),
            )?;
            atomic_write(&path, |tmp| {
                write_npy(tmp, &stack).map_err(|err| file_err(tmp, err))
            })?;
            progress(Event::Done(e.index));
            Ok(())
        })?;

    // Assemble the stack straight into a memory-mapped .npy (no full copy in memory).
    let maps_path = out_dir.join(cfg.maps_file());
    atomic_write(&maps_path, |tmp| {
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(tmp)
            .map_err(io_err(tmp))?;
        write_zeroed_npy::<f32, _>(&file, (cfg.n_sims * per_sim, n, n))
            .map_err(|e| file_err(tmp, e))?;
        // SAFETY: the file was just created by us under a private temporary name.
        let mut mm = unsafe { memmap2::MmapMut::map_mut(&file) }.map_err(io_err(tmp))?;
        {
            let mut view =
                ArrayViewMut3::<f32>::view_mut_npy(&mut mm).map_err(|e| file_err(tmp, e))?;
            for e in &entries {
                let p = sim_path(&work, e.index);
                let a = load_done(&p, shape)
                    .ok_or_else(|| file_err(&p, "missing or wrong shape after simulating"))?;
                view.slice_mut(s![e.index * per_sim..(e.index + 1) * per_sim, .., ..])
                    .assign(&a);
            }
        }
        mm.flush().map_err(io_err(tmp))?;
        file.sync_all().map_err(io_err(tmp))
    })?;
    let params_path = out_dir.join(cfg.params_file());
    write_text(&params_path, &params_text(&entries))?;
    let manifest_path = out_dir.join(cfg.manifest_file());
    let manifest = serde_json::json!({
        "suite": cfg,
        "set": cfg.set.name(),
        "maps_file": cfg.maps_file(),
        "params_file": cfg.params_file(),
        "maps_per_simulation": per_sim,
        "map_order": "map m = sim*3*slabs + axis*slabs + slab; projecting along x gives [y,z], along y [x,z], along z [x,y]",
        "units": "surface density of CDM (Omega_m - Omega_b share) in (M_sun/h)/(Mpc/h)^2",
        "fixed_params": {"omega_b": CosmoParams::default().omega_b, "h": CosmoParams::default().h, "n_s": CosmoParams::default().n_s},
        "simulations": entries,
    });
    write_text(
        &manifest_path,
        &serde_json::to_string_pretty(&manifest).expect("json"),
    )?;
    Ok(SuiteFiles {
        maps: maps_path,
        params: params_path,
        manifest: manifest_path,
        simulated: todo.len(),
        skipped,
    })
}
