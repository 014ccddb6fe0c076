//! The policy language: a TOML file (plus included product modules, N1) parsed into raw
//! structures, then validated into a [`Policy`] that cannot be invalid.

mod error;
mod limits;
mod load;
pub mod model;
pub mod raw;
mod source;
mod validate;

pub(crate) use error::SpannedErrors;
pub use error::{PolicyError, PolicyErrors};
pub use limits::MAX_THIRD_COUNTRIES;
pub use load::{
    MemoryLoader, RecordedSource, RecordingLoader, ReplayLoader, SourceLoader, load_policy,
};
pub use model::*;
pub use source::Source;
