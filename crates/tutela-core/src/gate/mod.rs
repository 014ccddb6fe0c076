//! The gate (N7b, N19): usage and traffic events on their way from the network into analytics,
//! each decided for its route's purpose, its identifiers pseudonymised in the purpose's domain,
//! and given the `expires_at` of the purpose's retention rule. This module is the pure part:
//! routes ([`config`]), the identifier index ([`index`]), the event scanner ([`json`]), the
//! transform ([`Gate`]) and messages of several events ([`Outputs`]). Streams,
//! acknowledgements and the clock belong to the caller.

mod batch;
pub mod config;
pub mod index;
pub mod json;
mod transform;

pub use batch::{Destination, Outputs, events};
pub use config::{Field, FieldAction, Route, parse_routes};
pub use index::{IdentifierIndex, TOKEN_DOMAIN, identifier_token, is_token};
pub use transform::{
    CACHE_ENTRIES, DeadReason, Gate, GateCounts, MAX_CLOCK_SKEW_MS, Verdict, World,
};
