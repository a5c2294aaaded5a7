//! Checkpoints: one safetensors file holding the model, EMA and AdamW state, with the step,
//! seed, resolved config and the data's normalisation in its metadata, written atomically.
//!
//! Tensor names: `model/<param>`, `ema/<param>`, `adam_m/<param>`, `adam_v/<param>`.
//! Metadata (all strings): `format` = [`FORMAT`], `step` (optimiser steps done = next step to
//! run), `seed`, `adam_step`, `wall_s` (training wall time so far), `config` (the resolved
//! [`RunConfig`] as JSON) and, when the data layer provided it, `normalisation` (its JSON).
//! No RNG state is stored: every step's randomness is a pure function of (seed, step).

use crate::config::RunConfig;
use safetensors::tensor::{Dtype, SafeTensors, View};
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// Identifies this layout in the metadata.
pub const FORMAT: &str = "astrodiff-checkpoint-1";
/// File name of the latest checkpoint inside a run directory.
pub const FILE_NAME: &str = "checkpoint.safetensors";

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a valid astrodiff checkpoint: {msg}")]
    Format { path: PathBuf, msg: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A checkpoint read back into memory (tensors on the CPU).
pub struct Checkpoint {
    pub step: u64,
    pub seed: u64,
    pub adam_step: u64,
    pub wall_s: f64,
    pub config: RunConfig,
    pub normalisation: Option<String>,
    pub tensors: HashMap<String, Tensor>,
}

impl Checkpoint {
    /// The parameters stored under `prefix/` (e.g. `"ema"`), keyed by parameter name.
    pub fn group(&self, prefix: &str) -> HashMap<String, &Tensor> {
        let p = format!("{prefix}/");
        self.tensors
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(&p).map(|n| (n.to_string(), v)))
            .collect()
    }
}

struct Raw {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl View for &Raw {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

fn to_raw(t: &Tensor) -> Raw {
    let t = t.detach().to_device(Device::Cpu).contiguous();
    let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
    let flat = t.flatten(0, -1);
    match t.kind() {
        Kind::Double => {
            let v = Vec::<f64>::try_from(&flat).expect("f64 tensor to vec");
            Raw {
                dtype: Dtype::F64,
                shape,
                data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            }
        }
        _ => {
            let v = Vec::<f32>::try_from(&flat.to_kind(Kind::Float)).expect("f32 tensor to vec");
            Raw {
                dtype: Dtype::F32,
                shape,
                data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            }
        }
    }
}

/// Writes `tensors` and `meta` to `path` atomically: a temporary file in the same folder is
/// written and fsynced, then renamed over `path` (and the folder fsynced). If the process dies
/// at any point, `path` holds either the previous checkpoint or the new one, never a mixture.
pub fn write_atomic(
    path: &Path,
    tensors: &[(String, Tensor)],
    meta: HashMap<String, String>,
) -> Result<(), CheckpointError> {
    write_atomic_with_hook(path, tensors, meta, || Ok(()))
}

/// [`write_atomic`] with a hook run after the temporary file is complete and before the
/// rename (tests use it to simulate a crash at the worst moment).
pub fn write_atomic_with_hook(
    path: &Path,
    tensors: &[(String, Tensor)],
    meta: HashMap<String, String>,
    before_rename: impl FnOnce() -> std::io::Result<()>,
) -> Result<(), CheckpointError> {
    let raws: Vec<(String, Raw)> = tensors
        .iter()
        .map(|(n, t)| (n.clone(), to_raw(t)))
        .collect();
    let bytes =
        safetensors::tensor::serialize(raws.iter().map(|(n, r)| (n.as_str(), r)), &Some(meta))
            .map_err(|e| CheckpointError::Format {
                path: path.to_path_buf(),
                msg: e.to_string(),
            })?;
    let tmp = tmp_path(path);
    {
        let mut f = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(&bytes).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
    }
    before_rename().map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Persist the rename itself; failure to open a directory is not fatal on all systems.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// The temporary name used while writing `path`.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Reads a checkpoint file (or `RUN_DIR/checkpoint.safetensors` when given a directory).
pub fn read(path: &Path) -> Result<Checkpoint, CheckpointError> {
    let path = if path.is_dir() {
        path.join(FILE_NAME)
    } else {
        path.to_path_buf()
    };
    let bytes = std::fs::read(&path).map_err(io_err(&path))?;
    let bad = |msg: String| CheckpointError::Format {
        path: path.clone(),
        msg,
    };
    let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(format!("{e:?}")))?;
    let (_, md) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(format!("{e:?}")))?;
    let meta = md.metadata().clone().unwrap_or_default();
    let get = |k: &str| {
        meta.get(k)
            .ok_or_else(|| bad(format!("metadata has no '{k}'")))
    };
    if get("format")? != FORMAT {
        return Err(bad(format!(
            "format is '{}', expected '{FORMAT}'",
            get("format")?
        )));
    }
    let num = |k: &str| -> Result<u64, CheckpointError> {
        get(k)?
            .parse()
            .map_err(|_| bad(format!("metadata '{k}' is not an integer")))
    };
    let config: RunConfig =
        serde_json::from_str(get("config")?).map_err(|e| bad(format!("config: {e}")))?;
    let mut tensors = HashMap::new();
    for (name, view) in st.tensors() {
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        let data = view.data();
        let t = match view.dtype() {
            Dtype::F32 => {
                let v: Vec<f32> = data
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                    .collect();
                Tensor::from_slice(&v)
            }
            Dtype::F64 => {
                let v: Vec<f64> = data
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                    .collect();
                Tensor::from_slice(&v)
            }
            d => return Err(bad(format!("tensor '{name}' has unsupported dtype {d:?}"))),
        };
        tensors.insert(name, t.reshape(shape.as_slice()));
    }
    Ok(Checkpoint {
        step: num("step")?,
        seed: num("seed")?,
        adam_step: num("adam_step")?,
        wall_s: meta
            .get("wall_s")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0.0),
        config,
        normalisation: meta.get("normalisation").cloned(),
        tensors,
    })
}

/// Copies `src[name]` into each of `dst` (name, variable), checking names and shapes.
pub fn load_into(
    dst: &[(String, Tensor)],
    src: &HashMap<String, &Tensor>,
    what: &str,
) -> Result<(), String> {
    if src.len() != dst.len() {
        return Err(format!(
            "{what}: checkpoint has {} tensors, the network {}",
            src.len(),
            dst.len()
        ));
    }
    tch::no_grad(|| {
        for (name, var) in dst {
            let s = src
                .get(name)
                .ok_or_else(|| format!("{what}: checkpoint lacks '{name}'"))?;
            if s.size() != var.size() {
                return Err(format!(
                    "{what}: '{name}' has shape {:?} in the checkpoint, {:?} in the network",
                    s.size(),
                    var.size()
                ));
            }
            var.shallow_clone().copy_(s);
        }
        Ok(())
    })
}
