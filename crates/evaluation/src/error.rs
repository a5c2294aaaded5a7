//! The crate's one error type. Messages are one line naming the file or value and what is
//! wrong; [`Error::Context`] adds what was being done and keeps the cause as `source()`, so a
//! caller that prints the chain (the CLI joins it with ": ") shows the root cause too.

use std::fmt::Display;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad value or an inconsistent pair of inputs.
    #[error("{0}")]
    Invalid(String),
    /// What was being done, with the cause as `source()`.
    #[error("{context}")]
    Context {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    #[error(transparent)]
    Stats(#[from] stats::StatsError),
    #[error(transparent)]
    Fields(#[from] fields::FieldsError),
    #[error(transparent)]
    Sim(#[from] sim::SimError),
    #[error(transparent)]
    Filter(#[from] fields::filters::FilterError),
    #[error(transparent)]
    Write(#[from] atomicio::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `.context(..)` / `.with_context(..)` for any error or missing value, as anyhow spells it.
pub trait Context<T> {
    fn context(self, c: impl Display) -> Result<T>;
    fn with_context<C: Display>(self, f: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> Context<T> for std::result::Result<T, E> {
    fn context(self, c: impl Display) -> Result<T> {
        self.map_err(|e| Error::Context {
            context: c.to_string(),
            source: Box::new(e),
        })
    }
    fn with_context<C: Display>(self, f: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| Error::Context {
            context: f().to_string(),
            source: Box::new(e),
        })
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, c: impl Display) -> Result<T> {
        self.ok_or_else(|| Error::Invalid(c.to_string()))
    }
    fn with_context<C: Display>(self, f: impl FnOnce() -> C) -> Result<T> {
        self.ok_or_else(|| Error::Invalid(f().to_string()))
    }
}

/// Returns early with [`Error::Invalid`] and a formatted message (anyhow's `bail!`).
macro_rules! bail {
    ($($t:tt)*) => {
        return Err($crate::error::Error::Invalid(format!($($t)*)))
    };
}
pub(crate) use bail;
