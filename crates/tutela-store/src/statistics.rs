//! The privacy budget of each pseudonymised dataset (N7c, N16), behind [`StatisticsStore`]: a
//! noisy release spends part of it before its figures are handed out, in one conditional
//! update that no concurrent release can overtake, with an audit row naming the dataset, the
//! spend and the query's shape (never a figure). A spend that would pass the limit is refused
//! and changes nothing.

use std::future::Future;

use sqlx::Row;

use crate::sql::micros;
use crate::{AnyStore, PgStore, SqliteStore, StoreError};

/// What one release costs, and who asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetSpend {
    pub dataset: String,
    pub at: jiff::Timestamp,
    /// Epsilon in millionths.
    pub epsilon_micros: u64,
    /// Delta in units of 10⁻¹².
    pub delta_picos: u64,
    pub actor: String,
    /// The query's shape as JSON: aggregate, columns, bounds, noise; no figure of the data.
    pub query: String,
}

/// What a dataset's releases may add up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetLimit {
    pub epsilon_micros: u64,
    pub delta_picos: u64,
}

/// What a dataset's releases have spent so far.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BudgetUse {
    pub epsilon_micros: u64,
    pub delta_picos: u64,
    pub releases: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpendOutcome {
    /// Spent; what has been spent since the first release, this one included.
    Spent(BudgetUse),
    /// Refused: the spend would pass the limit; what had been spent before.
    Exhausted(BudgetUse),
}

pub trait StatisticsStore: Send + Sync {
    /// Spends `spend` from its dataset's budget, unless that would pass `limit`.
    fn spend_budget(
        &self,
        spend: &BudgetSpend,
        limit: BudgetLimit,
    ) -> impl Future<Output = Result<SpendOutcome, StoreError>> + Send;

    /// What `dataset`'s releases have spent (nothing, for a dataset never released from).
    fn budget_use(
        &self,
        dataset: &str,
    ) -> impl Future<Output = Result<BudgetUse, StoreError>> + Send;
}

/// Budget figures are far below `i64::MAX`; one above it is taken as `i64::MAX`, which no
/// limit admits.
fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

macro_rules! statistics_store {
    ($store:ty) => {
        impl StatisticsStore for $store {
            async fn spend_budget(
                &self,
                spend: &BudgetSpend,
                limit: BudgetLimit,
            ) -> Result<SpendOutcome, StoreError> {
                let (eps, delta) = (to_i64(spend.epsilon_micros), to_i64(spend.delta_picos));
                let (eps_limit, delta_limit) =
                    (to_i64(limit.epsilon_micros), to_i64(limit.delta_picos));
                let mut tx = self.begin_sealed().await?;
                sqlx::query(
                    "INSERT INTO privacy_budgets (dataset_id, epsilon_spent_micros, delta_spent_picos, releases) \
                     VALUES ($1, 0, 0, 0) ON CONFLICT (dataset_id) DO NOTHING",
                )
                .bind(&spend.dataset)
                .execute(&mut *tx)
                .await?;
                // The limit is checked in the update itself: two releases at once cannot both
                // pass on the same remainder.
                let spent = sqlx::query(
                    "UPDATE privacy_budgets SET epsilon_spent_micros = epsilon_spent_micros + $2, \
                     delta_spent_picos = delta_spent_picos + $3, releases = releases + 1 \
                     WHERE dataset_id = $1 AND epsilon_spent_micros + $2 <= $4 \
                     AND delta_spent_picos + $3 <= $5 \
                     RETURNING epsilon_spent_micros, delta_spent_picos, releases",
                )
                .bind(&spend.dataset)
                .bind(eps)
                .bind(delta)
                .bind(eps_limit)
                .bind(delta_limit)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = spent else {
                    drop(tx);
                    return Ok(SpendOutcome::Exhausted(self.budget_use(&spend.dataset).await?));
                };
                let used = BudgetUse {
                    epsilon_micros: to_u64(row.try_get(0)?),
                    delta_picos: to_u64(row.try_get(1)?),
                    releases: to_u64(row.try_get(2)?),
                };
                let body = serde_json::json!({
                    "epsilon_micros": spend.epsilon_micros,
                    "delta_picos": spend.delta_picos,
                    "epsilon_spent_micros": used.epsilon_micros,
                    "delta_spent_picos": used.delta_picos,
                    "query": spend.query,
                })
                .to_string();
                audit!(tx, micros(spend.at), &spend.actor, "privacy_budget_spent", &spend.dataset, None::<&str>, body);
                tx.commit().await?;
                Ok(SpendOutcome::Spent(used))
            }

            async fn budget_use(&self, dataset: &str) -> Result<BudgetUse, StoreError> {
                let row = sqlx::query(
                    "SELECT epsilon_spent_micros, delta_spent_picos, releases FROM privacy_budgets \
                     WHERE dataset_id = $1",
                )
                .bind(dataset)
                .fetch_optional(&self.pool)
                .await?;
                Ok(match row {
                    None => BudgetUse::default(),
                    Some(r) => BudgetUse {
                        epsilon_micros: to_u64(r.try_get(0)?),
                        delta_picos: to_u64(r.try_get(1)?),
                        releases: to_u64(r.try_get(2)?),
                    },
                })
            }
        }
    };
}

statistics_store!(SqliteStore);
statistics_store!(PgStore);

impl StatisticsStore for AnyStore {
    async fn spend_budget(
        &self,
        spend: &BudgetSpend,
        limit: BudgetLimit,
    ) -> Result<SpendOutcome, StoreError> {
        dispatch!(self, st => st.spend_budget(spend, limit).await)
    }
    async fn budget_use(&self, dataset: &str) -> Result<BudgetUse, StoreError> {
        dispatch!(self, st => st.budget_use(dataset).await)
    }
}
