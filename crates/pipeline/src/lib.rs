//! pipeline: a trained run as a library, over `diffusion` (the network, schedules, samplers)
//! and `fields` (the dataset manifest and its transforms).
//!
//! - [`train()`]: train or resume a run folder on a prepared dataset;
//! - [`TrainedRun::load`]: one rule for what a run folder is (config, dataset manifest, EMA
//!   weights; old checkpoints still load; see [`run`]);
//! - [`TrainedRun::generate`]: fields in physical units under one documented out-of-range rule
//!   ([`generate`]);
//! - [`TrainedRun::infer`]: the posterior over a conditional model's parameters behind observed
//!   maps, from the model's own likelihood on a grid over the prior box ([`infer`]);
//! - [`TrainedRun::evaluate_emulator`]: a conditional run's fields at each held-out
//!   simulation's parameters against its own maps, by P(k), PDF and Minkowski functionals, and
//!   [`TrainedRun::emulator_response`]: its ∂ ln P(k)/∂θ against a 1P set's ([`emulator`]);
//! - [`TrainedRun::denoise`]: posterior samples behind noisy maps, with the injection plan and
//!   the number of network evaluations ([`denoise`]).
//!
//! `astrodiff sample`, `denoise`, `denoise-eval`, `train` and `demo` are thin layers over these.
//! The library prints nothing: progress and remarks reach the caller through callbacks.

pub mod denoise;
pub mod emulator;
pub mod error;
pub mod generate;
pub mod infer;
pub mod run;
pub mod train;

pub use denoise::{Denoised, NormalisedPosterior};
pub use diffusion::inverse::{Injection, PosteriorConfig};
pub use diffusion::likelihood::VlbConfig;
pub use diffusion::sampler::{SamplerConfig, SamplerKind};
pub use emulator::{
    EmulatorEval, EmulatorOptions, ParameterResponse, ResponseEval, SimulationEmulation,
};
pub use error::{Context, Error, Result};
pub use generate::{GenerateOptions, Generated, OutOfRange};
pub use infer::{
    Estimate, InferEval, InferEvalOptions, InferOptions, Inference, McmcEstimate,
    SimulationEstimate,
};
pub use run::{LoadOptions, Space, TrainedRun, MAX_SIDE};
pub use stats::slice::SliceConfig;
pub use train::{train, Progress, TrainOptions, TrainOutcome};
