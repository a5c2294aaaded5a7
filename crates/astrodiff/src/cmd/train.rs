//! `astrodiff train`: train a diffusion model on a prepared dataset.

use anyhow::Result;
use diffusion::train::TrainEvent;
use pipeline::{Progress, TrainOptions, TrainOutcome};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Starting configuration: cpu-small (2 CPU cores), paper-64 or paper-128 (the seed paper).
    #[arg(long, default_value = "cpu-small")]
    pub preset: String,
    /// TOML file overriding any subset of the preset (see docs/model.md).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Prepared dataset folder (from `astrodiff data prepare`).
    #[arg(long)]
    pub data: PathBuf,
    /// Run folder: checkpoint, config.json, metrics.jsonl, samples/.
    #[arg(long)]
    pub out: PathBuf,
    /// Train until this many optimiser steps have been done in total (counting earlier sessions).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Stop after this many minutes of this session (with --steps: whichever comes first).
    #[arg(long)]
    pub minutes: Option<f64>,
    /// Seed of the weight init, the batch order/augmentation and the per-step noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Continue the run in --out from its checkpoint (its stored config and seed are used).
    #[arg(long)]
    pub resume: bool,
    /// cpu, cuda or cuda:N (default: CUDA if available, else CPU).
    #[arg(long)]
    pub device: Option<String>,
    /// CPU threads for torch (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Condition on these columns of the dataset's parameter table, by name (Om,sigma8 as in the
    /// CAMELS header, or Omega_m,sigma_8), normalised to their prior box; train.cond_dropout of
    /// the items see no condition, for classifier-free guidance (docs/emulator.md).
    #[arg(long, value_delimiter = ',')]
    pub condition: Option<Vec<String>>,
}

impl Args {
    pub fn options(&self) -> TrainOptions {
        TrainOptions {
            preset: self.preset.clone(),
            overrides: self.config.clone(),
            data: self.data.clone(),
            out: self.out.clone(),
            steps: self.steps,
            minutes: self.minutes,
            seed: self.seed,
            resume: self.resume,
            device: self.device.clone(),
            threads: self.threads,
            condition: self.condition.clone(),
        }
    }
}

pub fn run(args: Args) -> Result<()> {
    let (out, _) = train(&args.options())?;
    print_outcome(&out);
    Ok(())
}

/// The session's last line: steps done, speed, last loss, where the checkpoint is.
pub fn print_outcome(out: &TrainOutcome) {
    let done = out.step - out.start_step;
    match out.last {
        Some(s) => eprintln!(
            "done: step {} (+{done} in {:.0} s, {:.2} steps/s), last loss {:.4}; checkpoint {}",
            out.step,
            out.seconds,
            done as f64 / out.seconds.max(1e-9),
            s.loss,
            out.checkpoint.display()
        ),
        None => eprintln!("nothing to do: the run is already at step {}", out.step),
    }
}

/// Runs [`pipeline::train()`] with a progress bar (steps, or seconds of a time budget), printed
/// remarks and preview grids (`samples/step_XXXXXXX.png` every `train.sample_every` steps).
/// Returns the outcome and this session's logged (step, mean loss) pairs.
pub fn train(opts: &TrainOptions) -> Result<(TrainOutcome, Vec<(u64, f64)>)> {
    let (len, unit) = match (opts.steps, opts.minutes) {
        (Some(n), _) => (n as usize, "steps"),
        (None, Some(m)) => ((m * 60.0) as usize, "s"),
        _ => (0, ""),
    };
    let bar = crate::progress::bar(len, unit, "training");
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{elapsed_precise}} [{{bar:30}}] {{pos}}/{{len}} {unit} ETA {{eta}}  {{msg}}"
        ))
        .expect("valid template"),
    );
    let mut preview_err = None;
    let mut losses = Vec::new();
    let out = pipeline::train(opts, &mut |e| match e {
        Progress::Note(n) => bar.suspend(|| eprintln!("note: {n}")),
        Progress::Started {
            preset,
            n_params,
            n_train,
            side,
            batch,
            device,
            start_step,
        } => {
            bar.suspend(|| {
                eprintln!(
                    "training {preset} ({:.2} M parameters) on {} ({n_train} train maps of {side}²), batch {batch}, device {device:?}",
                    n_params as f64 / 1e6,
                    opts.data.display(),
                )
            });
            if opts.steps.is_some() {
                bar.set_position(start_step);
            }
        }
        Progress::Train(TrainEvent::Step { step, session_s }) => match opts.steps {
            Some(_) => bar.set_position(step),
            None => bar.set_position(session_s as u64),
        },
        Progress::Train(TrainEvent::Metrics {
            step,
            loss,
            samples_per_s,
        }) => {
            losses.push((step, loss));
            bar.set_message(format!("loss {loss:.4}  {samples_per_s:.1} samples/s"))
        }
        Progress::Train(TrainEvent::Preview { step, fields }) => {
            let png = opts.out.join("samples").join(format!("step_{step:07}.png"));
            if let Err(e) = evaluation::plot::write_grid_png(fields.view(), &png) {
                preview_err.get_or_insert(e);
            }
        }
    })?;
    bar.finish_and_clear();
    if let Some(e) = preview_err {
        eprintln!("warning: a preview grid was not written: {e:#}");
    }
    Ok((out, losses))
}
