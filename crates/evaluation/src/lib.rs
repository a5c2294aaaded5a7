//! Judging generated fields against real ones, callable from any program: no libtorch, no
//! terminal. `astrodiff evaluate`, `report`, `demo` and `denoise-eval` are thin callers of it.
//!
//! In data-flow order:
//! - [`measure`]: one set measured, two compared, as `astrodiff stats` and `compare` do, from
//!   files or arrays in memory ([`measure::MapSource`]); the default edges and thresholds.
//! - [`sets`]: [`evaluate_sets`] measures two sets of maps (P(k), pixel PDF, Minkowski
//!   functionals, and the shape statistics of per-map standardised fields), compares them, and
//!   judges the generated set and a Gaussian null against the held-out one; the result
//!   ([`Evaluation`]) is what `evaluation.json` holds.
//! - [`verdict`]: the verdict rule, a pure function from the comparison numbers to the summary
//!   table (`summary.json`). The rule and its calibration: docs/report.md ("The summary table
//!   and the verdict rule"), measured by bench/run_verdict_check.sh.
//! - [`denoising`]: scores and coverage of a denoiser against the truth (docs/dust.md).
//! - [`emulator`]: a conditional emulator's fields against one simulation's maps by P(k)
//!   (reduced χ² of the mean, the leave-one-out χ² distributions, the ratio).
//! - [`inference`]: calibration of parameter posteriors (bias, mean |z|, 68/95 % coverage) and
//!   the Gaussian P(k) likelihood they are judged beside.
//! - [`records`]: `run.json` and the other run records, JSON reading and atomic writing.
//! - [`plot`] (one palette, one embedded font, PNG written atomically) and [`figures`]: the
//!   figures; [`html`]: the self-contained report.
//!
//! Errors: one type, [`Error`]; progress is reported through callbacks, never drawn here.

pub mod denoising;
pub mod emulator;
pub mod emulator_report;
pub mod error;
pub mod figures;
pub mod html;
pub mod inference;
pub mod measure;
pub mod plot;
pub mod records;
pub mod response;
pub mod sets;
mod tests;
pub mod verdict;

pub use error::{Error, Result};
pub use figures::{write_figures, Figure};
pub use html::{
    render_html, summary_table_html, write_evaluation_report, write_run_report, LossCurve,
    ReportInput, RunSet, Section,
};
pub use records::{
    locate, read_json, read_loss_log, versions, write_json, RunRecord, SampleRecord,
    TrainingRecord, RUN_SCHEMA,
};
pub use sets::{
    evaluate_sets, load_maps, EvalOptions, Evaluation, NullEval, NullOptions, SetInfo, ShapeEval,
    EVALUATION_SCHEMA,
};
