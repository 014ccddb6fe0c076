//! One small execution interface over the three drivers: rows of text, statements with bound
//! values, transactions.

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use sqlx::Row;
use tutela_core::datamap::ConnectorKind;

/// A bound value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bind {
    Int(i64),
    Text(String),
    Null,
}

pub trait Exec: Send {
    /// Every row as text columns.
    fn rows(
        &mut self,
        sql: &str,
        binds: &[Bind],
    ) -> impl Future<Output = Result<Vec<Vec<Option<String>>>, sqlx::Error>> + Send;

    /// Rows affected.
    fn exec(
        &mut self,
        sql: &str,
        binds: &[Bind],
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;
}

pub enum Pool {
    Postgres(sqlx::PgPool),
    Mysql(sqlx::MySqlPool),
    Sqlite(sqlx::SqlitePool),
}

pub enum Tx {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Mysql(sqlx::Transaction<'static, sqlx::MySql>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

impl Pool {
    pub async fn connect(kind: ConnectorKind, url: &str) -> Result<Pool, sqlx::Error> {
        let timeout = Duration::from_secs(10);
        Ok(match kind {
            ConnectorKind::Postgres => Pool::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(timeout)
                    .connect(url)
                    .await?,
            ),
            ConnectorKind::Mysql => Pool::Mysql(
                sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(timeout)
                    .connect(url)
                    .await?,
            ),
            ConnectorKind::Sqlite => {
                let path = url
                    .strip_prefix("sqlite://")
                    .or_else(|| url.strip_prefix("sqlite:"))
                    .unwrap_or(url);
                let options =
                    sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
                        .foreign_keys(true)
                        .busy_timeout(timeout);
                Pool::Sqlite(
                    sqlx::sqlite::SqlitePoolOptions::new()
                        .max_connections(4)
                        .acquire_timeout(timeout)
                        .connect_with(options)
                        .await?,
                )
            }
        })
    }

    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
            Pool::Mysql(p) => Tx::Mysql(p.begin().await?),
            Pool::Sqlite(p) => Tx::Sqlite(p.begin().await?),
        })
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Postgres(t) => t.commit().await,
            Tx::Mysql(t) => t.commit().await,
            Tx::Sqlite(t) => t.commit().await,
        }
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Postgres(t) => t.rollback().await,
            Tx::Mysql(t) => t.rollback().await,
            Tx::Sqlite(t) => t.rollback().await,
        }
    }
}

macro_rules! bind_all {
    ($q:expr, $binds:expr) => {{
        let mut q = $q;
        for b in $binds {
            q = match b {
                Bind::Int(i) => q.bind(*i),
                Bind::Text(s) => q.bind(s.clone()),
                Bind::Null => q.bind(Option::<String>::None),
            };
        }
        q
    }};
}

macro_rules! run {
    ($self:ident, $t:ident => $body:expr) => {
        match $self {
            Tx::Postgres($t) => $body,
            Tx::Mysql($t) => $body,
            Tx::Sqlite($t) => $body,
        }
    };
}

impl Exec for Tx {
    async fn rows(
        &mut self,
        sql: &str,
        binds: &[Bind],
    ) -> Result<Vec<Vec<Option<String>>>, sqlx::Error> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        run!(self, t => {
            let rows = bind_all!(sqlx::query(sql), binds).fetch_all(&mut **t).await?;
            rows.iter()
                .map(|r| (0..r.len()).map(|i| r.try_get::<Option<String>, _>(i)).collect())
                .collect()
        })
    }

    async fn exec(&mut self, sql: &str, binds: &[Bind]) -> Result<u64, sqlx::Error> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        run!(self, t => Ok(bind_all!(sqlx::query(sql), binds).execute(&mut **t).await?.rows_affected()))
    }
}

/// An error described without the values involved: driver messages name tables and columns,
/// never bound values.
pub fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => d.message().to_owned(),
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
            "the database cannot be reached".to_owned()
        }
        sqlx::Error::Tls(_) => "the TLS connection failed".to_owned(),
        other => other.to_string(),
    }
}
