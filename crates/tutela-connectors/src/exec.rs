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
    Bool(bool),
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
                Bind::Bool(b) => q.bind(*b),
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

/// What kind of failure a database error is, for what tutela does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A table or column the statement names does not exist, or a compared type does not
    /// match the map's: the database does not match its map.
    Map,
    /// The database refused a value for good (its type, range or length, a constraint):
    /// trying again changes nothing.
    Value,
    /// Away, busy, locked, deadlocked, cancelled: worth trying again.
    Away,
    /// Anything else the database refused (a permission, …).
    Other,
}

/// Classifies a driver error by SQLSTATE (PostgreSQL), error number (MariaDB/MySQL) or
/// result code (SQLite).
pub fn classify(e: &sqlx::Error) -> Failure {
    let sqlx::Error::Database(d) = e else {
        return Failure::Away;
    };
    if let Some(pg) = d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        let code = pg.code();
        return match code {
            // undefined_table, undefined_column, invalid_schema_name, undefined_function
            // (`uuid = text`: the map's key type is not the column's).
            "42P01" | "42703" | "3F000" | "42883" => Failure::Map,
            // datatype_mismatch, and the classes data_exception and integrity_constraint.
            "42804" => Failure::Value,
            c if c.starts_with("22") || c.starts_with("23") => Failure::Value,
            // serialization, deadlock, lock not available, cancelled, resources, connection,
            // shutdown.
            c if c.starts_with("40")
                || c.starts_with("53")
                || c.starts_with("08")
                || c.starts_with("57")
                || c == "55P03" =>
            {
                Failure::Away
            }
            _ => Failure::Other,
        };
    }
    if let Some(my) = d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return match my.number() {
            1146 | 1054 | 1049 => Failure::Map,
            1048 | 1062 | 1264 | 1265 | 1292 | 1366 | 1367 | 1406 | 1411 | 1451 | 1452 | 1690
            | 3819 | 4025 => Failure::Value,
            1205 | 1213 | 2006 | 2013 => Failure::Away,
            _ if my
                .code()
                .is_some_and(|s| s.starts_with("22") || s.starts_with("23")) =>
            {
                Failure::Value
            }
            _ => Failure::Other,
        };
    }
    // SQLite: the primary result code is the low byte of the extended one.
    let primary = d
        .code()
        .and_then(|c| c.parse::<i64>().ok())
        .map(|c| c & 0xff);
    match primary {
        Some(5 | 6) => Failure::Away,
        Some(18..=20) => Failure::Value,
        _ if d.message().starts_with("no such table")
            || d.message().starts_with("no such column")
            || d.message().contains("has no column named") =>
        {
            Failure::Map
        }
        _ => Failure::Other,
    }
}

/// An error described without the values involved. Driver messages name tables, columns and
/// constraints; those that can quote a value (PostgreSQL's invalid input syntax, MariaDB's
/// incorrect value or duplicate entry) are replaced by their code.
pub fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => {
            if quotes_values(d.as_ref()) {
                let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
                format!("the database refused a value (error {code})")
            } else {
                d.message().to_owned()
            }
        }
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
            "the database cannot be reached".to_owned()
        }
        sqlx::Error::Tls(_) => "the TLS connection failed".to_owned(),
        other => other.to_string(),
    }
}

fn quotes_values(d: &dyn sqlx::error::DatabaseError) -> bool {
    if let Some(pg) = d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        // Data exceptions quote the input (`invalid input syntax for type date: "…"`), except
        // a string too long for its column.
        return pg.code().starts_with("22") && pg.code() != "22001";
    }
    if let Some(my) = d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        // Column cannot be null, data too long, foreign keys: names only. The others of the
        // classes 22 and 23 quote the value.
        return !matches!(my.number(), 1048 | 1406 | 1451 | 1452)
            && (matches!(
                my.number(),
                1062 | 1264 | 1265 | 1292 | 1366 | 1367 | 1411 | 1690
            ) || my
                .code()
                .is_some_and(|s| s.starts_with("22") || s.starts_with("23")));
    }
    // SQLite names constraints and columns, never values.
    false
}
