//! The crate's one error type; causes from `diffusion` and `fields` stay reachable through
//! `source()`, so the CLI's one-line chain names every step.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value that breaks one of this crate's rules; the message names it.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Diffusion(#[from] diffusion::Error),
    #[error(transparent)]
    Fields(#[from] fields::FieldsError),
    #[error(transparent)]
    Stats(#[from] stats::StatsError),
    #[error(transparent)]
    Write(#[from] atomicio::Error),
    #[error(transparent)]
    Checkpoint(#[from] diffusion::checkpoint::CheckpointError),
    #[error("libtorch: {0}")]
    Torch(#[from] diffusion::tch::TchError),
    /// What was being done, with the cause kept as `source()`.
    #[error("{context}")]
    Context {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `context`/`with_context` as anyhow's, for any error that boxes.
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

macro_rules! bail {
    ($($t:tt)*) => { return Err($crate::error::Error::Invalid(format!($($t)*))) };
}
pub(crate) use bail;
