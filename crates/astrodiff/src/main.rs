//! `astrodiff`: the command-line front end. Each subcommand lives in `cmd/<name>.rs`
//! with its own clap `Args` and a `run` function; this file only dispatches.

use clap::{Parser, Subcommand};

mod cmd;
mod progress;

#[derive(Parser)]
#[command(
    name = "astrodiff",
    version,
    about = "Diffusion models for astrophysical fields, judged with P(k), pixel PDFs and Minkowski functionals"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Power spectrum, pixel histogram and Minkowski functionals of one map or a stack.
    Stats(cmd::stats::Args),
    /// Compare two ensembles of maps (e.g. real vs generated) statistic by statistic.
    Compare(cmd::compare::Args),
    /// Prepare datasets (CAMELS files, dust maps, simulator output) and inspect files.
    #[command(subcommand)]
    Data(cmd::data::DataCommand),
    /// Run the built-in particle-mesh simulator and write CAMELS-layout maps.
    Simulate(cmd::simulate::Args),
    /// Train a diffusion model on a prepared dataset.
    #[cfg(feature = "torch")]
    Train(cmd::train::Args),
    /// Draw fields from a trained model.
    #[cfg(feature = "torch")]
    Sample(cmd::sample::Args),
    /// Judge a set of maps against a reference set (e.g. generated vs held-out).
    Evaluate(cmd::evaluate::Args),
    /// Regenerate the HTML report of a run folder.
    Report(cmd::report::Args),
    /// Simulate, train, sample, evaluate and report, end to end, on a CPU budget.
    #[cfg(feature = "torch")]
    Demo(cmd::demo::Args),
    /// Denoise noisy maps with a trained diffusion prior: posterior samples, mean and std.
    #[cfg(feature = "torch")]
    Denoise(cmd::denoise::Args),
    /// Evaluate the diffusion denoiser against classical filters on held-out maps.
    #[cfg(feature = "torch")]
    DenoiseEval(cmd::denoise_eval::Args),
    /// Infer a conditional model's parameters behind observed maps: grid posterior, JSON.
    #[cfg(feature = "torch")]
    Infer(cmd::infer::Args),
    /// Calibration of `infer` over held-out simulations, beside a Gaussian P(k) likelihood.
    #[cfg(feature = "torch")]
    InferEval(cmd::infer_eval::Args),
    /// A conditional model per cosmology: fields at each held-out simulation's parameters
    /// against its maps, by P(k).
    #[cfg(feature = "torch")]
    EvaluateEmulator(cmd::evaluate_emulator::Args),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Stats(a) => cmd::stats::run(a),
        Command::Compare(a) => cmd::compare::run(a),
        Command::Data(a) => cmd::data::run(a),
        Command::Simulate(a) => cmd::simulate::run(a),
        #[cfg(feature = "torch")]
        Command::Train(a) => cmd::train::run(a),
        #[cfg(feature = "torch")]
        Command::Sample(a) => cmd::sample::run(a),
        Command::Evaluate(a) => cmd::evaluate::run(a),
        Command::Report(a) => cmd::report::run(a),
        #[cfg(feature = "torch")]
        Command::Demo(a) => cmd::demo::run(a),
        #[cfg(feature = "torch")]
        Command::Denoise(a) => cmd::denoise::run(a),
        #[cfg(feature = "torch")]
        Command::DenoiseEval(a) => cmd::denoise_eval::run(a),
        #[cfg(feature = "torch")]
        Command::Infer(a) => cmd::infer::run(a),
        #[cfg(feature = "torch")]
        Command::InferEval(a) => cmd::infer_eval::run(a),
        #[cfg(feature = "torch")]
        Command::EvaluateEmulator(a) => cmd::evaluate_emulator::run(a),
    };
    if let Err(e) = result {
        // One line, naming what went wrong; the chain joined so the root cause shows.
        let msg = e
            .chain()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(": ");
        eprintln!("error: {msg}");
        std::process::exit(1);
    }
}
