//! Anonymous statistics over pseudonymised data (N7c, N16, N25): counts, sums, means and
//! histograms per group, released only as anonymous results. A group with fewer than k
//! distinct persons is suppressed (k from the policy), one person's contribution is bounded
//! (rows per person, values clamped to bounds), and where asked every figure carries exactly
//! sampled discrete Laplace or Gaussian noise calibrated to that bound. The budget a release
//! spends is kept by the store, per dataset; this module only says what a release costs.
//!
//! Pure: bytes in, figures out; randomness comes from the caller.

pub mod aggregate;
pub mod noise;
pub mod privacy;
pub mod query;
pub mod release;

pub use aggregate::{Aggregator, GroupTally, Tally};
pub use noise::RandomBits;
pub use privacy::{Delta, Epsilon};
pub use query::{Aggregate, Bounds, Mechanism, Milli, Noise, Query, QueryError};
pub use release::{NoisePart, NoiseReport, Release, ReleasedGroup, Value, preflight, release};

use crate::pseudonym::table::{OnBadRow, RowError, TableError};

/// Why a table could not be tallied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TallyError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(transparent)]
    Row(#[from] RowError),
}

/// The tally of a whole table in memory: the library call for small tables; files go through
/// [`Aggregator`] chunk by chunk.
pub fn tally(
    query: Query,
    table: &[u8],
    on_bad: OnBadRow,
) -> Result<(Tally, Vec<RowError>), TallyError> {
    let (mut aggregator, header) = Aggregator::new(query, table)?;
    let mut errors = Vec::new();
    aggregator.process(&table[header..], true, on_bad, &mut errors)?;
    Ok((aggregator.finish(), errors))
}
