//! The pure core of tutela.
//!
//! It turns a policy file into a validated [`policy::Policy`], compiles that into a
//! [`compiled::CompiledPolicy`] built for speed, folds ledger events into a compact
//! [`state::SubjectState`], and answers "may purpose P process categories C of subject S now?"
//! with [`compiled::CompiledPolicy::decide`].
//!
//! Architecture invariant: nothing in this crate does IO or reads a clock. Time comes in as an
//! argument; included policy files come in through a [`policy::SourceLoader`] the caller provides.

pub mod audience;
pub mod basis;
pub mod calls;
pub mod checksum;
pub mod compiled;
pub mod countries;
pub mod coverage;
pub mod csv;
pub mod datamap;
pub mod decide;
pub mod diff;
pub mod duration;
pub mod gate;
pub mod hex;
pub mod index;
pub mod intake;
pub mod lang;
pub mod ledger;
pub mod merkle;
pub mod merkle_nodes;
pub mod policy;
pub mod pseudonym;
pub mod query;
pub mod reason;
pub mod record;
pub mod redact;
pub mod render;
pub mod report;
pub mod request;
pub mod retention;
pub mod review;
pub mod risk;
pub mod scenario;
pub mod snapshot;
pub mod state;
pub mod stats;
pub mod tcf;
pub mod transfers;
pub mod words;
pub mod write_rules;

pub use jiff::Timestamp;
