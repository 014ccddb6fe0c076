//! The key store: the wrapped data keys, in a database of their own (an SQLite file beside the
//! data, or a PostgreSQL database). Never the data store: a backup of the data must not hold
//! the keys that open it, so that destroying a key erases the data in every backup too.
//!
//! A destroyed key must be gone from the key store's files as well (issue 30): the SQLite file
//! is opened with `secure_delete` (freed space is overwritten with zeros) and its WAL is
//! checkpointed and truncated after each destruction ([`KeyStore::scrub`]). PostgreSQL keeps
//! dead row versions until VACUUM and its WAL until recycled; docs/encryption.md says what an
//! operator does about that.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::StoreError;

/// A wrapped data key as stored; `wrapped` is `None` once the key was destroyed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub owner: String,
    pub master_key_id: Option<String>,
    pub wrapped: Option<Vec<u8>>,
}

#[derive(Clone, Debug)]
pub enum KeyStore {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

macro_rules! on_pool {
    ($self:ident, $p:ident => $e:expr) => {
        match $self {
            KeyStore::Sqlite($p) => $e,
            KeyStore::Postgres($p) => $e,
        }
    };
}

const SCHEMA_SQLITE: &str = "CREATE TABLE IF NOT EXISTS data_keys (\
    owner TEXT PRIMARY KEY, master_key_id TEXT, wrapped BLOB, \
    created_at_us INTEGER NOT NULL, destroyed_at_us INTEGER)";
/// `PRAGMA user_version` of a key store rewritten once with `secure_delete` on.
const SCRUBBED: i64 = 1;

const SCHEMA_POSTGRES: &str = "CREATE TABLE IF NOT EXISTS data_keys (\
    owner TEXT PRIMARY KEY, master_key_id TEXT, wrapped BYTEA, \
    created_at_us BIGINT NOT NULL, destroyed_at_us BIGINT)";

impl KeyStore {
    /// `sqlite://PATH` or `postgres://…`; creates the table when missing.
    pub async fn open(url: &str) -> Result<KeyStore, StoreError> {
        let store = if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            crate::sql::private_sqlite_files(path)?;
            let options = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .pragma("secure_delete", "ON");
            let pool = SqlitePoolOptions::new()
                .max_connections(2)
                .connect_with(options)
                .await?;
            sqlx::query(SCHEMA_SQLITE).execute(&pool).await?;
            crate::sql::private_sqlite_files(path)?;
            // Once per key store: a file written before `secure_delete` may still hold destroyed
            // keys in its free space; VACUUM rewrites it without them.
            let version: i64 = sqlx::query_scalar("PRAGMA user_version")
                .fetch_one(&pool)
                .await?;
            if version < SCRUBBED {
                sqlx::query("VACUUM").execute(&pool).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "PRAGMA user_version = {SCRUBBED}"
                )))
                .execute(&pool)
                .await?;
            }
            let store = KeyStore::Sqlite(pool);
            // A destruction whose scrub a crash interrupted leaves the key in the WAL.
            store.scrub().await?;
            store
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(PgConnectOptions::from_str(url)?)
                .await?;
            sqlx::query(SCHEMA_POSTGRES).execute(&pool).await?;
            KeyStore::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        Ok(store)
    }

    pub async fn get(&self, owner: &str) -> Result<Option<WrappedKey>, StoreError> {
        on_pool!(self, p => {
            let row = sqlx::query("SELECT owner, master_key_id, wrapped FROM data_keys WHERE owner = $1")
                .bind(owner)
                .fetch_optional(p)
                .await?;
            row.map(|r| Ok(WrappedKey {
                owner: r.try_get("owner")?,
                master_key_id: r.try_get("master_key_id")?,
                wrapped: r.try_get("wrapped")?,
            }))
            .transpose()
        })
    }

    /// The stored keys of `owners` (those that have a row), in one query per 500 owners.
    pub async fn get_many(&self, owners: &[String]) -> Result<Vec<WrappedKey>, StoreError> {
        let mut out = Vec::with_capacity(owners.len());
        for chunk in owners.chunks(500) {
            // One placeholder per owner: the SQL text holds no value.
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT owner, master_key_id, wrapped FROM data_keys WHERE owner IN ({})",
                marks.join(", ")
            );
            on_pool!(self, p => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for o in chunk {
                    q = q.bind(o);
                }
                for r in q.fetch_all(p).await? {
                    out.push(WrappedKey {
                        owner: r.try_get("owner")?,
                        master_key_id: r.try_get("master_key_id")?,
                        wrapped: r.try_get("wrapped")?,
                    });
                }
            });
        }
        Ok(out)
    }

    /// Stores new keys in one transaction. An owner whose key exists keeps it; an owner whose
    /// key was destroyed gets the new one (a person erased and later back): the old data stays
    /// unreadable, since it was sealed under the destroyed key. Answers the owners whose key
    /// this call stored (the others had a live key already, from another process).
    pub async fn insert(
        &self,
        keys: &[(String, String, Vec<u8>)],
        at_us: i64,
    ) -> Result<Vec<String>, StoreError> {
        on_pool!(self, p => {
            let mut tx = p.begin().await?;
            let mut stored = Vec::with_capacity(keys.len());
            for (owner, master, wrapped) in keys {
                let row: Option<String> = sqlx::query_scalar(
                    "INSERT INTO data_keys (owner, master_key_id, wrapped, created_at_us) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (owner) DO UPDATE SET master_key_id = excluded.master_key_id, \
                     wrapped = excluded.wrapped, created_at_us = excluded.created_at_us, destroyed_at_us = NULL \
                     WHERE data_keys.wrapped IS NULL RETURNING owner",
                )
                .bind(owner)
                .bind(master)
                .bind(wrapped.as_slice())
                .bind(at_us)
                .fetch_optional(&mut *tx)
                .await?;
                stored.extend(row);
            }
            tx.commit().await?;
            Ok(stored)
        })
    }

    /// Destroys a key: the row stays as a tombstone saying when.
    pub async fn destroy(&self, owner: &str, at_us: i64) -> Result<(), StoreError> {
        on_pool!(self, p => {
            sqlx::query(
                "INSERT INTO data_keys (owner, master_key_id, wrapped, created_at_us, destroyed_at_us) \
                 VALUES ($1, NULL, NULL, $2, $2) \
                 ON CONFLICT (owner) DO UPDATE SET master_key_id = NULL, wrapped = NULL, destroyed_at_us = $2",
            )
            .bind(owner)
            .bind(at_us)
            .execute(p)
            .await?;
            Ok(())
        })
    }

    /// Destroys the key of `owner` if it is live and was created at or before `before_us`: the
    /// replay of an erasure on a key store restored from a backup, which must not destroy a key
    /// made after the erasure (the person came back). Answers whether a key was destroyed.
    pub async fn destroy_created_before(
        &self,
        owner: &str,
        before_us: i64,
        at_us: i64,
    ) -> Result<bool, StoreError> {
        on_pool!(self, p => {
            let n = sqlx::query(
                "UPDATE data_keys SET master_key_id = NULL, wrapped = NULL, destroyed_at_us = $3 \
                 WHERE owner = $1 AND wrapped IS NOT NULL AND created_at_us <= $2",
            )
            .bind(owner)
            .bind(before_us)
            .bind(at_us)
            .execute(p)
            .await?
            .rows_affected();
            Ok(n > 0)
        })
    }

    /// Removes the copies of destroyed keys that the database keeps in files besides the table:
    /// SQLite's WAL is checkpointed into the file (where `secure_delete` zeroed the destroyed
    /// key) and truncated to nothing. PostgreSQL has no such step that is cheap enough to run
    /// after each destruction; see [`KeyStore::compact`].
    pub async fn scrub(&self) -> Result<(), StoreError> {
        let KeyStore::Sqlite(pool) = self else {
            return Ok(());
        };
        // A checkpoint that met a reader of an older snapshot reports `busy` and leaves the
        // WAL; the next try, once that reader is done, truncates it.
        for attempt in 0..50 {
            let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(pool)
                .await?;
            if busy == 0 {
                return Ok(());
            }
            if attempt == 0 {
                tracing::debug!("the key store's WAL is in use; checkpoint retried");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::warn!(
            "the key store's WAL could not be truncated after a key was destroyed; it will be at the next destruction or start"
        );
        Ok(())
    }

    /// Rewrites the key store so that no destroyed key is left in its files: SQLite `VACUUM`
    /// and a scrub; PostgreSQL `VACUUM FULL data_keys`, which holds an exclusive lock on the
    /// table while it copies it (every key read waits), so tutela runs it only when asked
    /// (`tutela keys compact`).
    pub async fn compact(&self) -> Result<(), StoreError> {
        match self {
            KeyStore::Sqlite(p) => {
                sqlx::query("VACUUM").execute(p).await?;
            }
            KeyStore::Postgres(p) => {
                // VACUUM may not run in a transaction block: the simple protocol, one statement.
                sqlx::raw_sql("VACUUM FULL data_keys").execute(p).await?;
            }
        }
        self.scrub().await
    }

    /// Up to `limit` live keys wrapped under another master key than `active`.
    pub async fn wrapped_elsewhere(
        &self,
        active: &str,
        limit: i64,
    ) -> Result<Vec<WrappedKey>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT owner, master_key_id, wrapped FROM data_keys \
                 WHERE wrapped IS NOT NULL AND master_key_id <> $1 ORDER BY owner LIMIT $2",
            )
            .bind(active)
            .bind(limit)
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| Ok(WrappedKey {
                    owner: r.try_get("owner")?,
                    master_key_id: r.try_get("master_key_id")?,
                    wrapped: r.try_get("wrapped")?,
                }))
                .collect()
        })
    }

    /// Replaces a key's wrapping, only if it is still wrapped under `old` (a concurrent
    /// destruction wins).
    pub async fn rewrap(
        &self,
        owner: &str,
        old: &str,
        new: &str,
        wrapped: &[u8],
    ) -> Result<(), StoreError> {
        on_pool!(self, p => {
            sqlx::query(
                "UPDATE data_keys SET master_key_id = $3, wrapped = $4 \
                 WHERE owner = $1 AND master_key_id = $2 AND wrapped IS NOT NULL",
            )
            .bind(owner)
            .bind(old)
            .bind(new)
            .bind(wrapped)
            .execute(p)
            .await?;
            Ok(())
        })
    }

    /// Live keys per master key id, and the number of destroyed keys.
    pub async fn counts(&self) -> Result<(Vec<(String, i64)>, i64), StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT master_key_id, COUNT(*) AS n FROM data_keys WHERE wrapped IS NOT NULL \
                 GROUP BY master_key_id ORDER BY master_key_id",
            )
            .fetch_all(p)
            .await?;
            let live = rows
                .iter()
                .map(|r| Ok((r.try_get::<String, _>("master_key_id")?, r.try_get::<i64, _>("n")?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            let destroyed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM data_keys WHERE wrapped IS NULL")
                .fetch_one(p)
                .await?;
            Ok((live, destroyed))
        })
    }
}
