//! `sim`: a small, validated cosmological simulator ("mini-CAMELS").
//!
//! * [`cosmology`]: flat ΛCDM, Eisenstein & Hu (1998) transfer function, σ₈-normalised linear
//!   P(k), growth factor D(a) (→ a early on) and rate f(a).
//! * [`grf`]: Gaussian and lognormal random fields in 2D/3D with any P(k) — also the cheap
//!   synthetic fields for other crates' tests ([`gaussian_field_2d`], [`lognormal_field_2d`], …).
//! * [`lpt`]: 2LPT initial conditions; [`pm`]: particle-mesh N-body with FastPM stepping.
//! * [`maps`]: CAMELS-CMD-like projected mass maps; [`lhs`]: Latin-hypercube designs;
//!   [`camels_out`]: resumable suites written as `Maps_Mcdm_<name>_LH_z=0.00.npy` + `params_LH_<name>.txt`.
//! * [`null`]: the Gaussian null of a set of maps (its mean and 2D power, nothing else).
//! * [`pk`]: 2D/3D power-spectrum estimators (Pylians convention) used for validation.
//!
//! Units throughout: Mpc/h, h/Mpc, M_sun/h, time in 1/H₀.

pub mod camels_out;
pub mod cosmology;
pub mod grf;
pub mod lhs;
pub mod lpt;
pub mod maps;
pub mod null;
pub mod pk;
pub mod pm;

pub use cosmology::{CosmoParams, Cosmology};
pub use grf::{gaussian_field_2d, gaussian_field_3d, lognormal_field_2d, lognormal_field_3d};
pub use null::GaussianNull;

use ndarray::Array2;

/// Errors of the simulator library.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("invalid parameter: {0}")]
    Param(String),
    /// Shown in the message, deliberately not a `source()` (chains would print it twice).
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{path}: {msg}")]
    File { path: String, msg: String },
}

impl From<atomicio::Error> for SimError {
    fn from(e: atomicio::Error) -> Self {
        match e {
            atomicio::Error::Io { path, what, error } => SimError::Io {
                path: format!("{}: {what}", path.display()),
                error,
            },
            other => SimError::File {
                path: String::new(),
                msg: other.to_string(),
            },
        }
    }
}

/// N-body particles: comoving positions in [0, L)³ (Mpc/h) and canonical momenta p = a² dx/dt
/// ((Mpc/h)·H₀), at scale factor `a`. All particles have equal mass.
#[derive(Debug, Clone)]
pub struct Particles {
    pub pos: Vec<[f64; 3]>,
    pub mom: Vec<[f64; 3]>,
    pub a: f64,
    pub box_size: f64,
    /// Particles per side of the initial lattice (N_p³ particles).
    pub n_side: usize,
}

impl Particles {
    /// Mean momentum per particle (zero for an isolated periodic system).
    pub fn mean_momentum(&self) -> [f64; 3] {
        let mut s = [0.0; 3];
        for m in &self.mom {
            for d in 0..3 {
                s[d] += m[d];
            }
        }
        s.map(|v| v / self.mom.len() as f64)
    }
}

/// Numerical settings of one simulation.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SimConfig {
    /// Particles per side (N_p³ particles).
    pub particles: usize,
    /// PM mesh cells per side.
    pub mesh: usize,
    /// Box side (Mpc/h).
    pub box_size: f64,
    /// Number of kick–drift–kick steps from z_init to z = 0.
    pub steps: usize,
    /// Initial redshift of the 2LPT initial conditions.
    pub z_init: f64,
    /// Map side in pixels.
    pub map_res: usize,
    /// Slabs per axis (maps per simulation = 3 × slabs).
    pub slabs: usize,
    /// Fixed deposition cloud half-width in map pixels (1 = CIC); `None` = adaptive
    /// (see [`maps`]), the default.
    pub cloud: Option<f64>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            particles: 64,
            mesh: 128,
            box_size: 25.0,
            steps: 20,
            z_init: 19.0,
            map_res: 256,
            slabs: 5,
            cloud: None,
        }
    }
}

impl SimConfig {
    /// Checks the settings, with a message naming the bad value.
    pub fn validate(&self) -> Result<(), SimError> {
        let even = |name: &str, v: usize, min: usize| {
            if v < min || !v.is_multiple_of(2) {
                Err(SimError::Param(format!(
                    "{name} = {v} must be even and at least {min}"
                )))
            } else {
                Ok(())
            }
        };
        even("particles", self.particles, 4)?;
        even("mesh", self.mesh, 4)?;
        even("map_res", self.map_res, 4)?;
        if !(self.box_size.is_finite() && self.box_size > 0.0) {
            return Err(SimError::Param(format!(
                "box = {} must be a positive length in Mpc/h",
                self.box_size
            )));
        }
        if self.steps == 0 {
            return Err(SimError::Param("steps must be at least 1".into()));
        }
        if !(self.z_init.is_finite() && self.z_init > 0.0) {
            return Err(SimError::Param(format!(
                "z_init = {} must be > 0",
                self.z_init
            )));
        }
        if self.slabs == 0 {
            return Err(SimError::Param("slabs must be at least 1".into()));
        }
        if let Some(c) = self.cloud {
            if !(c.is_finite() && c >= 1.0) {
                return Err(SimError::Param(format!("cloud = {c} must be ≥ 1 pixel")));
            }
        }
        Ok(())
    }

    /// Mass of one particle in the CDM maps (M_sun/h): the particles trace all matter, but like
    /// CAMELS `Mcdm` the maps count the CDM share only, Ω_cdm = Ω_m − Ω_b.
    pub fn cdm_particle_mass(&self, p: &CosmoParams) -> f64 {
        (p.omega_m - p.omega_b) * cosmology::RHO_CRIT_0 * self.box_size.powi(3)
            / (self.particles as f64).powi(3)
    }
}

/// Output of one simulation.
pub struct SimOutput {
    pub particles: Particles,
    /// 3 × slabs maps (see [`maps::projected_maps`]), Σ in (M_sun/h)/(Mpc/h)².
    pub maps: Vec<Array2<f32>>,
}

/// Runs one simulation: 2LPT at z_init, PM to z = 0, projected maps. `on_step` is called after
/// every PM step. Deterministic in `seed`.
pub fn simulate(
    cfg: &SimConfig,
    params: CosmoParams,
    seed: u64,
    on_step: impl FnMut(usize),
) -> Result<SimOutput, SimError> {
    cfg.validate()?;
    let cosmo = Cosmology::new(params)?;
    let a_init = 1.0 / (1.0 + cfg.z_init);
    let mut particles = lpt::initial_conditions(&cosmo, cfg.particles, cfg.box_size, a_init, seed);
    let pm = pm::ParticleMesh::new(cfg.mesh, cfg.box_size);
    pm::evolve(&mut particles, &cosmo, &pm, 1.0, cfg.steps, on_step);
    let clouds = match cfg.cloud {
        Some(c) => vec![c],
        None => maps::adaptive_clouds(&particles.pos, cfg.box_size, cfg.particles, cfg.map_res),
    };
    let maps = maps::projected_maps(
        &particles.pos,
        cfg.box_size,
        cfg.cdm_particle_mass(&params),
        cfg.map_res,
        cfg.slabs,
        &clouds,
    );
    Ok(SimOutput { particles, maps })
}
