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
    /// Shown in the message, deliberately not a `source()` (chains would print it twice).
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: not a valid astrodiff checkpoint: {msg}")]
    Format { path: PathBuf, msg: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |error| CheckpointError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// The metadata of a checkpoint (see the module docs).
#[derive(Debug, Clone)]
pub struct Header {
    pub step: u64,
    pub seed: u64,
    pub adam_step: u64,
    pub wall_s: f64,
    pub config: RunConfig,
    pub normalisation: Option<String>,
}

/// A checkpoint read back into memory (tensors on the CPU); its header fields read through
/// (`ck.step`, `ck.config`).
pub struct Checkpoint {
    pub header: Header,
    pub tensors: HashMap<String, Tensor>,
}

impl std::ops::Deref for Checkpoint {
    type Target = Header;
    fn deref(&self) -> &Header {
        &self.header
    }
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
    atomicio::write_with_hook(path, |w| w.write_all(&bytes), before_rename).map_err(|e| match e {
        atomicio::Error::Io { path, error, .. } => CheckpointError::Io { path, error },
        other => CheckpointError::Format {
            path: path.to_path_buf(),
            msg: other.to_string(),
        },
    })
}

/// Reads a checkpoint file (or `RUN_DIR/checkpoint.safetensors` when given a directory).
/// Refuses a file whose tensors hold NaN or ∞ (a diverged run): nothing sampled, denoised or
/// resumed from it could be used.
pub fn read(path: &Path) -> Result<Checkpoint, CheckpointError> {
    let path = if path.is_dir() {
        path.join(FILE_NAME)
    } else {
        path.to_path_buf()
    };
    let bytes = std::fs::read(&path).map_err(io_err(&path))?;
    let d = decode(&bytes, &path)?;
    let tensors = d
        .tensors
        .into_iter()
        .map(|(name, shape, data)| {
            let t = match data {
                Values::F32(v) => Tensor::from_slice(&v),
                Values::F64(v) => Tensor::from_slice(&v),
            };
            (name, t.reshape(shape.as_slice()))
        })
        .collect();
    Ok(Checkpoint {
        header: d.header,
        tensors,
    })
}

/// Tensor values as stored.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// A checkpoint decoded from its bytes, before any tensor is made (so it can be checked, and
/// fuzzed, without libtorch): `(name, shape, values)` per tensor, in file order.
#[derive(Debug)]
pub struct Decoded {
    pub header: Header,
    pub tensors: Vec<(String, Vec<i64>, Values)>,
}

/// What a safetensors error means, for a user (its variant names mean nothing to one).
fn describe(e: &safetensors::SafeTensorError) -> String {
    use safetensors::SafeTensorError as E;
    match e {
        E::HeaderTooSmall | E::InvalidHeaderLength | E::MetadataIncompleteBuffer => {
            "truncated or not a safetensors file (its header or data is cut short)".into()
        }
        E::InvalidHeader | E::InvalidHeaderStart | E::InvalidHeaderDeserialization => {
            "not a safetensors file (its header is not valid JSON)".into()
        }
        E::HeaderTooLarge => "not a safetensors file (header length over 100 MB)".into(),
        E::InvalidOffset(n) => format!("corrupt: tensor '{n}' has invalid data offsets"),
        E::TensorInvalidInfo | E::InvalidTensorView(..) | E::ValidationOverflow => {
            "corrupt: a tensor's shape, dtype and data size disagree".into()
        }
        E::TensorNotFound(n) => format!("no tensor '{n}'"),
        E::IoError(e) => e.to_string(),
        E::JsonError(e) => format!("header is not valid JSON: {e}"),
    }
}

/// Decodes and checks a checkpoint's bytes; `path` names it in errors.
pub fn decode(bytes: &[u8], path: &Path) -> Result<Decoded, CheckpointError> {
    let bad = |msg: String| CheckpointError::Format {
        path: path.to_path_buf(),
        msg,
    };
    let st = SafeTensors::deserialize(bytes).map_err(|e| bad(describe(&e)))?;
    let (_, md) = SafeTensors::read_metadata(bytes).map_err(|e| bad(describe(&e)))?;
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
    let mut tensors = Vec::new();
    let mut views = st.tensors();
    views.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, view) in views {
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        let data = view.data();
        let values = match view.dtype() {
            Dtype::F32 => Values::F32(
                data.chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                    .collect(),
            ),
            Dtype::F64 => Values::F64(
                data.chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                    .collect(),
            ),
            d => return Err(bad(format!("tensor '{name}' has unsupported dtype {d:?}"))),
        };
        let nonfinite = match &values {
            Values::F32(v) => v.iter().filter(|x| !x.is_finite()).count(),
            Values::F64(v) => v.iter().filter(|x| !x.is_finite()).count(),
        };
        if nonfinite > 0 {
            return Err(bad(format!(
                "tensor '{name}' holds {nonfinite} non-finite value(s) (NaN or ∞): the run diverged; \
                 use an earlier checkpoint or retrain with a lower train.lr"
            )));
        }
        tensors.push((name, shape, values));
    }
    Ok(Decoded {
        header: Header {
            step: num("step")?,
            seed: num("seed")?,
            adam_step: num("adam_step")?,
            wall_s: meta
                .get("wall_s")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0.0),
            config,
            normalisation: meta.get("normalisation").cloned(),
        },
        tensors,
    })
}

/// Copies `src[name]` into each of `dst` (name, variable), checking names and shapes.
pub fn load_into(
    dst: &[(String, Tensor)],
    src: &HashMap<String, &Tensor>,
    what: &str,
) -> crate::Result<()> {
    if src.len() != dst.len() {
        return Err(crate::Error::invalid(format!(
            "{what}: checkpoint has {} tensors, the network {}",
            src.len(),
            dst.len()
        )));
    }
    tch::no_grad(|| {
        for (name, var) in dst {
            let s = src.get(name).ok_or_else(|| {
                crate::Error::invalid(format!("{what}: checkpoint lacks '{name}'"))
            })?;
            if s.size() != var.size() {
                return Err(crate::Error::invalid(format!(
                    "{what}: '{name}' has shape {:?} in the checkpoint, {:?} in the network",
                    s.size(),
                    var.size()
                )));
            }
            var.shallow_clone().copy_(s);
        }
        Ok(())
    })
}
