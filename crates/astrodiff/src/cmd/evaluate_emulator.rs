//! `astrodiff evaluate-emulator`: a conditional run judged per cosmology: for every held-out
//! simulation, fields generated at its parameters against its own maps by P(k), pixel PDF and
//! Minkowski functionals (`pipeline::TrainedRun::evaluate_emulator`; statistics in
//! `evaluation::emulator`).

use anyhow::{Context, Result};
use fields::dataset::PreparedDataset;
use pipeline::{EmulatorOptions, SamplerConfig, SamplerKind};
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
    /// Fields generated per simulation.
    #[arg(long, default_value_t = 50)]
    pub n_per_sim: usize,
    /// At most this many simulations of the split.
    #[arg(long)]
    pub max_sims: Option<usize>,
    /// Sampler (as `astrodiff sample`).
    #[arg(long, default_value = "dpmpp-sde")]
    pub sampler: SamplerKind,
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Classifier-free guidance weight (0: none).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub guidance: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    #[command(flatten)]
    pub device: super::infer::DeviceArgs,
    /// A prepared one-parameter-at-a-time set (`astrodiff simulate --set 1P`, then `data
    /// prepare`): also measure the emulator's ∂⟨ln P(k)⟩/∂θ at the fiducial against its maps'.
    #[arg(long, value_name = "PREPARED_1P")]
    pub response_data: Option<PathBuf>,
    /// Split of --response-data to use.
    #[arg(long, default_value = "train")]
    pub response_split: String,
    /// Output JSON: one entry per simulation, and the medians over them.
    #[arg(long, value_name = "OUT.json", required_unless_present = "out")]
    pub json: Option<PathBuf>,
    /// Output folder: `emulator.json` (as --json), `report.html` and its figures (the P(k)
    /// ratio over the parameter plane, the mean ratio, the response when measured).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let ds = PreparedDataset::open(&args.data)
        .with_context(|| format!("opening {}", args.data.display()))?;
    let run = args.device.load(&args.checkpoint, false)?;
    let opts = EmulatorOptions {
        n_per_sim: args.n_per_sim,
        sampler: SamplerConfig::new(args.sampler, Some(args.steps)),
        guidance: args.guidance,
        seed: args.seed,
        batch: args.batch,
        max_sims: args.max_sims,
    };
    let t0 = std::time::Instant::now();
    let pb = crate::progress::bar(0, "simulations", "emulating");
    let mut cb = |i: usize, n: usize| {
        pb.set_length(n as u64);
        pb.set_position(i as u64);
    };
    let ev = run.evaluate_emulator(&ds, &args.split, &opts, Some(&mut cb))?;
    pb.finish_and_clear();
    println!(
        "{} simulations of the {} split, {} generated fields each (P(k) of δ, {} bins to k_Nyq; \
         PDF {} bins and V0–V2 at {} levels of log10 ρ, per simulation)",
        ev.simulations.len(),
        ev.split,
        args.n_per_sim,
        ev.k.len(),
        evaluation::emulator::PDF_BINS,
        evaluation::emulator::MF_THRESHOLDS
    );
    println!(
        "{:<5} {:<28} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9}",
        "sim", "θ", "P(k) χ²", "LOO t–t", "LOO g–t", "LOO g–g", "PDF χ²", "MF χ²"
    );
    for s in &ev.simulations {
        let theta: Vec<String> = s.theta.iter().map(|(k, v)| format!("{k}={v:.3}")).collect();
        println!(
            "{:<5} {:<28} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>9.3} {:>9.3}",
            s.simulation,
            theta.join(","),
            s.pk.reduced_chi2,
            s.pk.median_true_true,
            s.pk.median_generated_true,
            s.pk.median_generated_generated,
            s.pdf.reduced_chi2,
            s.mf.reduced_chi2
        );
    }
    println!(
        "median{:<23} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>9.3} {:>9.3}",
        "",
        ev.median_reduced_chi2,
        ev.median_true_true,
        ev.median_generated_true,
        ev.median_generated_generated,
        ev.median_pdf_reduced_chi2,
        ev.median_mf_reduced_chi2
    );
    let ratio: Vec<String> = ev.mean_ratio.iter().map(|r| format!("{r:.2}")).collect();
    println!(
        "generated/true P(k), geometric mean over simulations, low → high k: {}",
        ratio.join(" ")
    );
    let response = match &args.response_data {
        Some(dir) => {
            let ds1 =
                PreparedDataset::open(dir).with_context(|| format!("opening {}", dir.display()))?;
            let pb = crate::progress::bar(0, "θ values", "response");
            let mut cb = |i: usize, n: usize| {
                pb.set_length(n as u64);
                pb.set_position(i as u64);
            };
            let r = run.emulator_response(&ds1, &args.response_split, &opts, Some(&mut cb))?;
            pb.finish_and_clear();
            print_response(&r);
            Some(r)
        }
        None => None,
    };
    let wall = t0.elapsed().as_secs_f64();
    let out = serde_json::json!({
        "checkpoint": args.checkpoint,
        "model_step": run.step,
        "data": args.data,
        "result": ev,
        "response_data": args.response_data,
        "response": response,
        "wall_s": wall,
    });
    let text = serde_json::to_string_pretty(&out)?;
    let jsons = args
        .json
        .iter()
        .cloned()
        .chain(args.out.as_ref().map(|d| d.join("emulator.json")));
    for path in jsons {
        evaluation::plot::write_atomic(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {} ({wall:.1} s)", path.display());
    }
    if let Some(dir) = &args.out {
        let notes = vec![
            format!(
                "Model {} (step {}), fields by {:?} with {} steps, guidance {}, seed {}, {} per simulation.",
                args.checkpoint.display(),
                run.step,
                args.sampler,
                args.steps,
                args.guidance,
                args.seed,
                args.n_per_sim
            ),
            format!("Held-out maps: {}, split {}.", args.data.display(), args.split),
            format!("Command: {}", std::env::args().collect::<Vec<_>>().join(" ")),
        ];
        let html = ev.write_report(dir, response.as_ref(), notes)?;
        eprintln!("wrote {}", html.display());
    }
    Ok(())
}

/// One table per parameter: the simulations' and the emulator's ∂⟨ln P⟩/∂θ per k bin.
fn print_response(r: &pipeline::ResponseEval) {
    for p in &r.parameters {
        println!(
            "∂⟨ln P(k)⟩/∂{} at {} = {} ({} simulations, {} maps each; {} generated fields per θ, \
             one seed across θ; ± the error if the θ were independent)",
            p.name,
            p.name,
            // The parameter tables hold float32: print the value as written there.
            p.fiducial as f32,
            p.theta.len(),
            r.maps_per_sim,
            r.n_per_sim
        );
        println!(
            "{:>9} {:>18} {:>18} {:>9}",
            "k [h/Mpc]", "simulations", "emulator", "ratio"
        );
        for (b, k) in r.k.iter().enumerate() {
            let (s, e) = (&p.simulated, &p.emulated);
            println!(
                "{k:>9.3} {:>9.3} ± {:<6.3} {:>9.3} ± {:<6.3} {:>9.3}",
                s.slope[b],
                s.error[b],
                e.slope[b],
                e.error[b],
                e.slope[b] / s.slope[b]
            );
        }
    }
}
