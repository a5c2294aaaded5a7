//! The run records a report is drawn from, as JSON: `run.json` ([`RunRecord`]: command, seeds,
//! versions, resolved configuration, training and sampling facts, timings), the training loss
//! log, and the lookup of recorded files after a run folder has moved.

use crate::error::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Schema tag of `run.json`.
pub const RUN_SCHEMA: &str = "astrodiff.run/1";

/// Writes `value` as pretty JSON, atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut s = serde_json::to_string_pretty(value).context("serialising JSON")?;
    s.push('\n');
    crate::plot::write_atomic(path, s.as_bytes())
}

/// Reads JSON with a message naming the file.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let s = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&s)
        .with_context(|| format!("{}: not a valid file of the expected kind", path.display()))
}
/// How one set of samples was drawn (recorded by `demo`, shown in the report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleRecord {
    /// e.g. "dpmpp", "ddpm".
    pub sampler: String,
    pub steps: usize,
    pub n: usize,
    pub seed: u64,
    pub wall_s: f64,
    pub wall_per_sample_s: f64,
    /// `.npy` file, relative to the run folder.
    pub file: String,
    /// Evaluation folder relative to the run folder (holding `evaluation.json`), if evaluated.
    pub evaluation: Option<String>,
    /// Pixels clamped to the training range after sampling (`demo`), if any check was done.
    #[serde(default)]
    pub clamped_pixels: Option<u64>,
}

/// Training facts shown in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    pub preset: String,
    pub steps: u64,
    pub wall_s: f64,
    /// JSONL metrics log (step, loss, …), relative to the run folder.
    pub metrics_log: String,
    pub checkpoint: String,
    pub n_params: Option<u64>,
}

/// `run.json`: what a run did, with seeds and versions to reproduce it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub schema: String,
    pub name: String,
    pub command: String,
    pub versions: BTreeMap<String, String>,
    pub seeds: BTreeMap<String, u64>,
    /// The resolved configuration (all defaults filled in).
    pub config: serde_json::Value,
    /// Held-out real maps, relative to the run folder.
    pub reference: Option<String>,
    pub dataset: Option<serde_json::Value>,
    pub training: Option<TrainingRecord>,
    pub samples: Vec<SampleRecord>,
    /// Wall time per stage, seconds.
    pub timings: BTreeMap<String, f64>,
}

/// Versions for reproduction.
pub fn versions() -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    v.insert("astrodiff".into(), env!("CARGO_PKG_VERSION").into());
    v.insert(
        "target".into(),
        format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
    );
    v
}

/// Reads (step, loss) pairs from a JSONL metrics log (lines with numeric `step` and `loss`;
/// other lines are skipped).
pub fn read_loss_log(path: &Path) -> Result<(Vec<f64>, Vec<f64>)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading training log {}", path.display()))?;
    let (mut s, mut l) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if let (Some(st), Some(lo)) = (
            v.get("step").and_then(|x| x.as_f64()),
            v.get("loss").and_then(|x| x.as_f64()),
        ) {
            s.push(st);
            l.push(lo);
        }
    }
    Ok((s, l))
}

/// Finds a recorded file: as written, else relative to `base`, else its file name in `base`.
pub fn locate(recorded: &str, base: &Path) -> Option<PathBuf> {
    let p = PathBuf::from(recorded);
    if p.exists() {
        return Some(p);
    }
    let j = base.join(&p);
    if j.exists() {
        return Some(j);
    }
    let n = base.join(p.file_name()?);
    n.exists().then_some(n)
}
