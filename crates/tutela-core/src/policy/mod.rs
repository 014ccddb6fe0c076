//! The policy language: a TOML file (plus included product modules, N1) parsed into raw
//! structures, then validated into a [`Policy`] that cannot be invalid.

mod error;
mod load;
pub mod model;
pub mod raw;
mod validate;

pub(crate) use error::SpannedErrors;
pub use error::{PolicyError, PolicyErrors};
pub use load::{
    MemoryLoader, RecordedSource, RecordingLoader, ReplayLoader, Source, SourceLoader, load_policy,
};
pub use model::*;
pub use validate::MAX_THIRD_COUNTRIES;
