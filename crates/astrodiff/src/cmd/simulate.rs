//! `astrodiff simulate`: run the built-in 2LPT + particle-mesh simulator over a Latin hypercube in
//! (Ω_m, σ₈), or as CAMELS' CV and 1P sets (`--set`), and write CAMELS-layout files
//! (`Maps_Mcdm_<name>_<SET>_z=0.00.npy`, `params_<SET>_<name>.txt`) that the data layer reads
//! exactly like real CAMELS files. Resumable: finished simulations are kept under
//! `<out>/work_<name>[_<SET>]/` and skipped on a rerun. See docs/simulator.md.

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sim::camels_out::{design, run_suite, Event, SimSet, SuiteConfig};
use sim::SimConfig;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Number of simulations (each gives 3 × slabs maps; 15 by default, as in CAMELS CMD).
    /// Required for LH; CV defaults to 27 and 1P to 22 (11 values of Ω_m, then 11 of σ₈).
    #[arg(long)]
    pub n_sims: Option<usize>,
    /// Arrangement in (Ω_m, σ₈), as CAMELS names its sets: LH (Latin hypercube over the prior
    /// box, a seed each), CV (all at Ω_m = 0.3, σ₈ = 0.8, a seed each: cosmic variance) or 1P
    /// (one parameter at a time over its range, the other fiducial, one seed for all).
    #[arg(long, default_value = "LH")]
    pub set: SimSet,
    /// Particles per side (N³ particles).
    #[arg(long, default_value_t = 64)]
    pub particles: usize,
    /// Particle-mesh cells per side.
    #[arg(long, default_value_t = 128)]
    pub mesh: usize,
    /// Box side in Mpc/h.
    #[arg(long = "box", default_value_t = 25.0)]
    pub box_size: f64,
    /// Map side in pixels.
    #[arg(long, default_value_t = 256)]
    pub map_res: usize,
    /// Kick–drift–kick steps from z_init to z = 0 (FastPM stepping: 10–40 give correct linear growth).
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// Initial redshift of the 2LPT initial conditions.
    #[arg(long, default_value_t = 19.0)]
    pub z_init: f64,
    /// Slabs per axis (maps per simulation = 3 × slabs).
    #[arg(long, default_value_t = 5)]
    pub slabs: usize,
    /// Fixed deposition cloud half-width in map pixels (1 = plain CIC); default: adaptive, one
    /// inter-particle spacing × (ρ/ρ̄)^(-1/3), at least 1 pixel (see docs/simulator.md).
    #[arg(long)]
    pub cloud: Option<f64>,
    /// Master seed: the Latin-hypercube design and every simulation's seed derive from it (recorded
    /// in `sims_LH_<name>.json`).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Suite name used in the file names (CAMELS uses e.g. IllustrisTNG).
    #[arg(long, default_value = "Sim")]
    pub name: String,
}

pub fn run(args: Args) -> Result<()> {
    let sim_cfg = SimConfig {
        particles: args.particles,
        mesh: args.mesh,
        box_size: args.box_size,
        steps: args.steps,
        z_init: args.z_init,
        map_res: args.map_res,
        slabs: args.slabs,
        cloud: args.cloud,
    };
    let Some(n_sims) = args.n_sims.or(args.set.default_n_sims()) else {
        anyhow::bail!("--n-sims is required for the {} set", args.set.name());
    };
    let cfg = SuiteConfig::new(&args.name, n_sims, args.seed, sim_cfg).with_set(args.set);
    cfg.validate().context("simulate")?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create output folder {}", args.out.display()))?;
    let n_entries = design(&cfg).len();
    let total_steps = (n_entries * args.steps) as u64;
    let bar = ProgressBar::with_draw_target(Some(total_steps), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} simulate [{elapsed_precise}] {wide_bar} {pos}/{len} steps ({eta} left) {msg}")
            .expect("valid template"),
    );
    let done = AtomicUsize::new(0);
    let skipped = AtomicUsize::new(0);
    let t0 = Instant::now();
    let files = run_suite(&cfg, &args.out, &|ev| match ev {
        Event::Skipped(_) => {
            skipped.fetch_add(1, Ordering::Relaxed);
            bar.inc(args.steps as u64);
        }
        Event::Step { .. } => bar.inc(1),
        Event::Done(_) => {
            let d = done.fetch_add(1, Ordering::Relaxed) + 1;
            bar.set_message(format!(
                "{d} simulated, {} skipped",
                skipped.load(Ordering::Relaxed)
            ));
        }
    })
    .with_context(|| format!("simulate into {}", args.out.display()))?;
    bar.finish_and_clear();
    eprintln!(
        "simulated {} and reused {} of {} simulations in {:.1} s ({} maps of {}², box {} Mpc/h)",
        files.simulated,
        files.skipped,
        n_sims,
        t0.elapsed().as_secs_f64(),
        n_sims * 3 * args.slabs,
        args.map_res,
        args.box_size
    );
    eprintln!("wrote {}", files.maps.display());
    eprintln!("wrote {}", files.params.display());
    eprintln!("wrote {}", files.manifest.display());
    Ok(())
}
