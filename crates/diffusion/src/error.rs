//! The crate's one error type. The specific kinds (`ScheduleError`, `SamplerError`,
//! `InverseError`, `CheckpointError`) stay where their rules live and convert into it, so every
//! public function that can fail returns [`Result`]; callers keep the chain through `source()`.

use crate::checkpoint::CheckpointError;
use crate::inverse::InverseError;
use crate::sampler::SamplerError;
use crate::schedule::ScheduleError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration, argument or data value that breaks a rule of this crate; the message
    /// names the value and what is wrong.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error(transparent)]
    Sampler(#[from] SamplerError),
    #[error(transparent)]
    Inverse(#[from] InverseError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Write(#[from] atomicio::Error),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// A file that could not be read or written (path in the message, the OS error as source).
    #[error("{path}: {what}")]
    Io {
        path: std::path::PathBuf,
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// What was being done, with the cause kept as `source()`.
    #[error("{context}")]
    Context {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }
    pub fn io(path: &std::path::Path, what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            what: what.into(),
            source,
        }
    }
}

/// A message built in this crate is an [`Error::Invalid`].
impl From<String> for Error {
    fn from(m: String) -> Self {
        Error::Invalid(m)
    }
}
impl From<&str> for Error {
    fn from(m: &str) -> Self {
        Error::Invalid(m.to_string())
    }
}

/// `context`/`with_context` on results whose error converts into a boxed error, as anyhow's
/// (the cause stays reachable through `source()`).
pub trait Context<T> {
    fn context(self, context: impl Into<String>) -> Result<T>;
    fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T>;
}

impl<T, E> Context<T> for std::result::Result<T, E>
where
    E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
{
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::Context {
            context: context.into(),
            source: e.into(),
        })
    }
    fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| Error::Context {
            context: f().into(),
            source: e.into(),
        })
    }
}

/// Returns early with [`Error::Invalid`].
macro_rules! bail {
    ($($t:tt)*) => { return Err($crate::error::Error::Invalid(format!($($t)*))) };
}
pub(crate) use bail;

/// [`bail!`] unless the condition holds.
macro_rules! ensure {
    ($c:expr, $($t:tt)*) => { if !$c { $crate::error::bail!($($t)*) } };
}
pub(crate) use ensure;
