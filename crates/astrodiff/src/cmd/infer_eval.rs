//! `astrodiff infer-eval`: how calibrated a conditional model's parameter posteriors are over a
//! held-out split, beside a Gaussian P(k) likelihood fitted to the training simulations
//! (`pipeline::TrainedRun::infer_eval`; conventions in `evaluation::inference`).

use anyhow::{Context, Result};
use fields::dataset::PreparedDataset;
use pipeline::InferEvalOptions;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run folder of a model trained with --condition (or its checkpoint.safetensors).
    #[arg(long, value_name = "RUN_DIR")]
    pub checkpoint: PathBuf,
    /// Prepared dataset (split by simulation, with its parameter table).
    #[arg(long, value_name = "PREPARED")]
    pub data: PathBuf,
    /// Held-out split to judge on.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Maps of each simulation combined into its estimate (its first ones).
    #[arg(long, default_value_t = 5)]
    pub fields_per_estimate: usize,
    /// At most this many simulations of the split.
    #[arg(long)]
    pub max_sims: Option<usize>,
    #[command(flatten)]
    pub posterior: super::infer::PosteriorArgs,
    #[command(flatten)]
    pub device: super::infer::DeviceArgs,
    /// Output JSON: per-simulation posteriors by both methods and their calibration.
    #[arg(long, value_name = "OUT.json")]
    pub json: PathBuf,
}

pub fn run(args: Args) -> Result<()> {
    let ds = PreparedDataset::open(&args.data)
        .with_context(|| format!("opening {}", args.data.display()))?;
    let run = args.device.load(&args.checkpoint, false)?;
    let opts = InferEvalOptions {
        infer: args.posterior.options(args.fields_per_estimate),
        max_sims: args.max_sims,
        ..InferEvalOptions::default()
    };
    let t0 = std::time::Instant::now();
    let pb = crate::progress::bar(0, "simulations", "inferring");
    let mut cb = |i: usize, n: usize| {
        pb.set_length(n as u64);
        pb.set_position(i as u64);
    };
    let ev = run.infer_eval(&ds, &args.split, &opts, Some(&mut cb))?;
    pb.finish_and_clear();
    let wall = t0.elapsed().as_secs_f64();
    println!(
        "{} simulations of the {} split, {} maps each; coverage's binomial σ at n = {}: ±{:.1} % (68 %), ±{:.1} % (95 %)",
        ev.simulations.len(),
        ev.split,
        args.fields_per_estimate,
        ev.simulations.len(),
        100.0 * ev.diffusion[0].coverage68_se,
        100.0 * ev.diffusion[0].coverage95_se
    );
    println!(
        "{:<22} {:<10} {:>10} {:>10} {:>10} {:>8} {:>8} {:>12}",
        "method", "parameter", "bias", "mean std", "mean |z|", "68 %", "95 %", "PIT KS"
    );
    for (label, rows) in [
        ("diffusion likelihood", &ev.diffusion),
        ("Gaussian P(k)", &ev.pk_baseline),
    ] {
        for c in rows.iter() {
            println!(
                "{:<22} {:<10} {:>10.4} {:>10.4} {:>10.3} {:>7.1}% {:>7.1}% {:>5.3}/{:.3}",
                label,
                c.name,
                c.bias,
                c.mean_std,
                c.mean_abs_z,
                100.0 * c.coverage68,
                100.0 * c.coverage95,
                c.pit_ks,
                c.pit_ks_crit05
            );
        }
    }
    println!("PIT KS: distance of the PITs from uniform / its 5 % critical value. Coverage of central intervals by level (rank statistics):");
    let levels: Vec<String> = evaluation::inference::COVERAGE_LEVELS
        .iter()
        .map(|l| format!("{:>5.0}", 100.0 * l))
        .collect();
    println!("{:<33} {}", "level %", levels.join(" "));
    for (label, rows) in [("diffusion", &ev.diffusion), ("P(k)", &ev.pk_baseline)] {
        for c in rows.iter() {
            let cov: Vec<String> = c
                .coverage_curve
                .iter()
                .map(|[_, v]| format!("{:>5.0}", 100.0 * v))
                .collect();
            println!("{:<33} {}", format!("{label} {}", c.name), cov.join(" "));
        }
    }
    let unresolved = ev
        .simulations
        .iter()
        .filter(|s| !s.diffusion_unresolved.is_empty())
        .count();
    if unresolved > 0 {
        println!(
            "warning: for {unresolved} of {} simulations the {}-node grid does not resolve the diffusion posterior \
             (narrower than a node spacing): its std, |z| and coverage are set by the grid, not the likelihood; raise --grid",
            ev.simulations.len(),
            args.posterior.grid
        );
    }
    let out = serde_json::json!({
        "checkpoint": args.checkpoint,
        "model_step": run.step,
        "data": args.data,
        "prior": "flat in the physical parameters on the model's prior box",
        "result": ev,
        "wall_s": wall,
    });
    evaluation::plot::write_atomic(&args.json, serde_json::to_string_pretty(&out)?.as_bytes())
        .with_context(|| format!("writing {}", args.json.display()))?;
    eprintln!("wrote {} ({wall:.1} s)", args.json.display());
    Ok(())
}
