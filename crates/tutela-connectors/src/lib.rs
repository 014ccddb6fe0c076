//! Connectors to the operator's databases: PostgreSQL, MariaDB/MySQL and SQLite, driven by a
//! [`DatasetMap`]. A connector finds a person's rows from their identifiers, copies them
//! (Art. 15, 20), corrects named fields (Art. 16), sets restriction flags (Art. 18) and erases
//! (Art. 17) in one transaction per database, in the order the core's planner gives.
//!
//! Stores decide nothing: what is erased, kept or restricted comes from
//! [`tutela_core::datamap::plan_erasure`]. Table and column names come from a validated map
//! (letters, digits, underscores) and are quoted per dialect; values are always bound, with
//! the type of the column they are written to ([`ColumnType`], read from the database's
//! catalog).
//!
//! Before an erasure or rectification writes, it can be planned ([`Connector::plan_erasure`],
//! [`Connector::plan_rectification`]) and the plan approved; the run given the plan's digest
//! plans again inside its transaction and writes only if that gives the same plan.

mod audit;
pub mod demo;
mod dialect;
mod exec;
mod plan;
mod sweep;
mod types;

use std::collections::{BTreeMap, BTreeSet};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tutela_core::datamap::{
    Action, ConnectorKind, DatasetMap, FieldErase, Label, Rectify, Row, ValueType, children,
    plan_erasure,
};
use tutela_core::policy::Policy;
use tutela_core::report::CollectedTable;

pub use audit::Problem;
use dialect::Dialect;
pub use exec::Bind;
use exec::{Exec, Pool};
pub use plan::{
    DatasetPlan, FieldChange, FieldEffect, FieldPlan, PlanAction, RUNNING_CONTRACT, TablePlan,
};
pub use sweep::{SweepBatch, SweepCursor};
pub use types::{Catalog, Column, ColumnType};

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The database is away or refused the connection: worth retrying.
    #[error("dataset `{dataset}` is unavailable: {why}")]
    Unavailable { dataset: String, why: String },
    /// The database does not match the map (a missing table or column).
    #[error("dataset `{dataset}` does not match its map: {why}")]
    Map { dataset: String, why: String },
    /// A correction names something the map does not know.
    #[error("{0}")]
    Refused(String),
    #[error("no database URL for dataset `{0}`: set the variable named by `url_env`")]
    NoUrl(String),
    /// The check at start found the database not matching the map: nothing is read for a
    /// sweep, and nothing is written, until the map or the database is fixed and tutela
    /// restarted.
    #[error(
        "dataset `{dataset}` is not touched: the database does not match its map ({why}); fix the map or the database and restart tutela"
    )]
    Broken { dataset: String, why: String },
    /// A value tutela was to write is not of its column's type (a rectification's
    /// `birth_date = "yesterday"`, a hash for a `date` column): nothing was written, and
    /// trying again changes nothing. Names the column and what it takes, never the value.
    #[error(
        "dataset `{dataset}`: `{table}.{column}` is a `{declared}` column and takes {expected}; the value to write is not one"
    )]
    Value {
        dataset: String,
        table: String,
        column: String,
        declared: String,
        expected: &'static str,
    },
    /// The person's rows no longer give the plan that was approved (a row changed, came or
    /// went since): nothing was written. Not permanent: the request is planned and approved
    /// again. Names the dataset, never values.
    #[error("{0}")]
    Stale(String),
    /// The database refused a write for good (NULL in a NOT NULL column, a value too long,
    /// out of range or against a constraint): nothing was written, and trying again changes
    /// nothing until the data, the map or the database changes.
    #[error("dataset `{dataset}`: {what} cannot be written: {why}")]
    Rejected {
        dataset: String,
        what: String,
        why: String,
    },
}

impl ConnectorError {
    /// Whether trying again cannot succeed without someone changing the request, the map or
    /// the database: the step is refused, not retried.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            ConnectorError::Refused(_)
                | ConnectorError::Broken { .. }
                | ConnectorError::Value { .. }
                | ConnectorError::Rejected { .. }
        )
    }
}

/// Where a database stands against its map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapStatus {
    /// Not checked yet (the database was away at start): checked before its first write.
    Unchecked,
    Matches,
    /// The check found a table or column of the map missing; the reason names it.
    Broken(String),
}

/// The identifiers of a person, by kind (`customer_number`, `email`, `iccid`, …).
pub type Identities = BTreeMap<String, Vec<String>>;

/// A person's rows per table (by the map's table index).
pub type Collected = BTreeMap<usize, Vec<Row>>;

/// What an erasure did; counts and rules, never values.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ErasureReport {
    pub dataset: String,
    pub deleted: BTreeMap<String, usize>,
    pub anonymised: BTreeMap<String, usize>,
    pub restricted: Vec<Restricted>,
    /// Rows kept whole for a running contract (Art. 6(1)(b)), neither erased nor restricted.
    pub kept_for_contract: Vec<KeptForContract>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeptForContract {
    pub table: String,
    pub rows: usize,
    /// The day the contract ends (YYYY-MM-DD); None while it has no end date.
    pub until: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Restricted {
    pub table: String,
    pub rows: usize,
    pub rule: String,
    pub until: String,
    pub why: &'static str,
    /// The fields that stay in these rows (what the duty needs), by column name.
    pub kept: Vec<String>,
    /// The fields erased in them (null, hash or fixed, as the map says).
    pub erased: Vec<String>,
}

/// A field a rectification request may name: its name in `details.changes`, who may change
/// it, and its label for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RectifiableField {
    pub name: String,
    pub rule: Rectify,
    pub label: Option<Label>,
}

pub struct Connector {
    pub map: DatasetMap,
    pool: Pool,
    dialect: Dialect,
    hash_key: Vec<u8>,
    status: std::sync::Mutex<MapStatus>,
    /// The mapped tables' column types, read once (at open, or before the first write when
    /// the tables did not exist yet).
    catalog: std::sync::Mutex<Option<std::sync::Arc<Catalog>>>,
}

const CHUNK: usize = 500;

fn connector_name(kind: ConnectorKind) -> &'static str {
    match kind {
        ConnectorKind::Postgres => "postgres",
        ConnectorKind::Mysql => "mysql",
        ConnectorKind::Sqlite => "sqlite",
    }
}

fn expected_scheme(kind: ConnectorKind) -> &'static str {
    match kind {
        ConnectorKind::Postgres => "postgres://",
        ConnectorKind::Mysql => "mysql:// (or mariadb://)",
        ConnectorKind::Sqlite => "sqlite://",
    }
}

/// What kind of URL `url` is when it is not one for `kind`; `None` when it fits (or has no
/// scheme tutela knows, which the driver then judges).
fn wrong_engine(kind: ConnectorKind, url: &str) -> Option<&'static str> {
    let scheme = url.split_once(':').map_or("", |(s, _)| s);
    let found = match scheme {
        "postgres" | "postgresql" => ConnectorKind::Postgres,
        "mysql" | "mariadb" => ConnectorKind::Mysql,
        "sqlite" => ConnectorKind::Sqlite,
        _ => return None,
    };
    (found != kind).then_some(match found {
        ConnectorKind::Postgres => "a PostgreSQL one",
        ConnectorKind::Mysql => "a MySQL/MariaDB one",
        ConnectorKind::Sqlite => "a SQLite one",
    })
}

impl Connector {
    /// Connects to the map's database: `url` when given, else the map's `url` or `url_env`.
    pub async fn open(
        map: DatasetMap,
        url: Option<&str>,
        hash_key: Vec<u8>,
    ) -> Result<Connector, ConnectorError> {
        let url = match (url, &map.url, &map.url_env) {
            (Some(u), _, _) => u.to_owned(),
            (None, Some(u), _) => u.clone(),
            (None, None, Some(var)) => {
                std::env::var(var).map_err(|_| ConnectorError::NoUrl(map.id.clone()))?
            }
            (None, None, None) => return Err(ConnectorError::NoUrl(map.id.clone())),
        };
        // A URL of another engine than the map's connector would fail with a driver's
        // message (or, worse, connect to something else): said plainly instead.
        if let Some(wrong) = wrong_engine(map.connector, &url) {
            return Err(ConnectorError::Refused(format!(
                "dataset `{}`: the map's connector is `{}` but the database URL is {wrong}; use a {} URL or change `connector` in the map",
                map.id,
                connector_name(map.connector),
                expected_scheme(map.connector)
            )));
        }
        let pool =
            Pool::connect(map.connector, &url)
                .await
                .map_err(|e| ConnectorError::Unavailable {
                    dataset: map.id.clone(),
                    why: exec::describe(&e),
                })?;
        let dialect = Dialect::of(map.connector);
        let c = Connector {
            map,
            pool,
            dialect,
            hash_key,
            status: std::sync::Mutex::new(MapStatus::Unchecked),
            catalog: std::sync::Mutex::new(None),
        };
        // The column types, once; a database that fails here is read again before a write.
        let _ = c.catalog().await;
        Ok(c)
    }

    /// The mapped tables as the database has them: read once, and again while a mapped table
    /// is missing from it (created after the connector opened).
    pub async fn catalog(&self) -> Result<std::sync::Arc<Catalog>, ConnectorError> {
        let cached = self
            .catalog
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(c) = cached.filter(|c| c.covers(&self.map)) {
            return Ok(c);
        }
        let read = std::sync::Arc::new(self.read_catalog().await?);
        *self.catalog.lock().unwrap_or_else(|e| e.into_inner()) = Some(read.clone());
        Ok(read)
    }

    /// The bound value and its placeholder (the `n`-th) for writing `value` (NULL when
    /// `None`) to `table.column`, converted to the column's type.
    fn typed(
        &self,
        catalog: &Catalog,
        table: &str,
        column: &str,
        value: Option<&str>,
        n: usize,
    ) -> Result<(String, Bind), ConnectorError> {
        let Some(col) = catalog.column(table, column) else {
            return Err(ConnectorError::Map {
                dataset: self.map.id.clone(),
                why: format!("column `{table}.{column}` does not exist"),
            });
        };
        let bind = types::convert(col, value).map_err(|unfit| match unfit {
            types::Unfit::Type => ConnectorError::Value {
                dataset: self.map.id.clone(),
                table: table.to_owned(),
                column: column.to_owned(),
                declared: col.declared.clone(),
                expected: col.ty.expects(),
            },
            types::Unfit::NotNull => ConnectorError::Rejected {
                dataset: self.map.id.clone(),
                what: format!("`{table}.{column}`"),
                why: "the column is NOT NULL and cannot be cleared".to_owned(),
            },
            types::Unfit::TooLong(max) => ConnectorError::Rejected {
                dataset: self.map.id.clone(),
                what: format!("`{table}.{column}`"),
                why: format!("the column takes at most {max} characters"),
            },
        })?;
        Ok((self.dialect.typed_mark(n, col), bind))
    }

    /// A database error of a write to `what` (a table, or `table.column`).
    fn write_error(&self, e: sqlx::Error, what: &str) -> ConnectorError {
        match exec::classify(&e) {
            exec::Failure::Value => ConnectorError::Rejected {
                dataset: self.map.id.clone(),
                what: what.to_owned(),
                why: exec::describe(&e),
            },
            _ => self.error(e),
        }
    }

    /// What the last check found.
    pub fn status(&self) -> MapStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_status(&self, status: MapStatus) {
        *self.status.lock().unwrap_or_else(|e| e.into_inner()) = status;
    }

    /// Whether this database may be written (erased, rectified, restricted, swept): never
    /// once its check found it broken; when it was never checked (away at start), the check
    /// runs first, and a mismatch then refuses the write without marking the dataset, so
    /// that the step is retried once the database is fixed.
    pub async fn writable(&self) -> Result<(), ConnectorError> {
        match self.status() {
            MapStatus::Matches => Ok(()),
            MapStatus::Broken(why) => Err(ConnectorError::Broken {
                dataset: self.map.id.clone(),
                why,
            }),
            MapStatus::Unchecked => match self.mismatch().await? {
                None => {
                    self.set_status(MapStatus::Matches);
                    Ok(())
                }
                Some(why) => Err(ConnectorError::Map {
                    dataset: self.map.id.clone(),
                    why,
                }),
            },
        }
    }

    pub fn kind(&self) -> ConnectorKind {
        self.map.connector
    }

    fn error(&self, e: sqlx::Error) -> ConnectorError {
        let why = exec::describe(&e);
        let dataset = self.map.id.clone();
        match exec::classify(&e) {
            exec::Failure::Map => ConnectorError::Map { dataset, why },
            // A refused value is no mismatch of the map, and no reason to try again.
            exec::Failure::Value => ConnectorError::Rejected {
                dataset,
                what: "a value".to_owned(),
                why,
            },
            exec::Failure::Away | exec::Failure::Other => {
                ConnectorError::Unavailable { dataset, why }
            }
        }
    }

    /// Checks that every mapped table and column exists, with one empty query per table
    /// (and per column of a table that fails, to name the missing one). A mismatch marks the
    /// dataset broken ([`MapStatus::Broken`]): from then on it is never written nor swept.
    /// A database that cannot be reached stays unchecked.
    pub async fn check(&self) -> Result<(), ConnectorError> {
        match self.mismatch().await? {
            None => {
                self.set_status(MapStatus::Matches);
                Ok(())
            }
            Some(why) => {
                self.set_status(MapStatus::Broken(why.clone()));
                Err(ConnectorError::Map {
                    dataset: self.map.id.clone(),
                    why,
                })
            }
        }
    }

    /// The first table of the map the database does not match, and its missing columns.
    async fn mismatch(&self) -> Result<Option<String>, ConnectorError> {
        let d = &self.dialect;
        for table in &self.map.tables {
            let mut columns: Vec<&str> = vec![table.key.as_str()];
            columns.extend(table.references.iter().map(|r| r.column.as_str()));
            columns.extend(table.retention.iter().map(|(_, c)| c.as_str()));
            columns.extend(table.contract_end.as_deref());
            columns.extend(table.timestamp.as_deref());
            columns.extend(table.restrict_flag.as_deref());
            columns.extend(table.fields.iter().map(|f| f.name.as_str()));
            let mut seen = BTreeSet::new();
            columns.retain(|c| seen.insert(*c));
            let name = d.quote(&table.name);
            // Qualified: SQLite reads an unknown double-quoted name as a string literal, so
            // `SELECT "missing"` would pass; `"table"."missing"` cannot.
            let all: Vec<String> = columns
                .iter()
                .map(|c| format!("{name}.{}", d.quote(c)))
                .collect();
            let sql = format!("SELECT {} FROM {name} WHERE 1 = 0", all.join(", "));
            match self.probe(&sql).await {
                Ok(()) => continue,
                Err(e @ sqlx::Error::Database(_)) => {
                    if let Err(sqlx::Error::Database(_)) = self
                        .probe(&format!("SELECT 1 FROM {name} WHERE 1 = 0"))
                        .await
                    {
                        return Ok(Some(format!("table `{}` does not exist", table.name)));
                    }
                    let mut missing = Vec::new();
                    for c in &columns {
                        let sql = format!("SELECT {name}.{} FROM {name} WHERE 1 = 0", d.quote(c));
                        if let Err(sqlx::Error::Database(_)) = self.probe(&sql).await {
                            missing.push(format!("`{}.{c}`", table.name));
                        }
                    }
                    return Ok(Some(if missing.is_empty() {
                        format!("table `{}`: {}", table.name, exec::describe(&e))
                    } else {
                        format!("column {} does not exist", missing.join(", "))
                    }));
                }
                Err(e) => return Err(self.error(e)),
            }
        }
        Ok(None)
    }

    /// Runs one query in a transaction of its own (a failed statement ends a PostgreSQL
    /// transaction) and rolls it back.
    async fn probe(&self, sql: &str) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        tx.rows(sql, &[]).await?;
        tx.rollback().await
    }

    /// Runs statements in one transaction: the schema and data of tests and the demo.
    pub async fn run_statements(&self, statements: &[String]) -> Result<(), ConnectorError> {
        // They may change the schema: the column types are read again before the next write.
        *self.catalog.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        for s in statements {
            tx.exec(s, &[]).await.map_err(|e| self.error(e))?;
        }
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Every row of the person, per table.
    pub async fn collect(&self, ids: &Identities) -> Result<Collected, ConnectorError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        let rows = self
            .collect_in(&mut tx, ids)
            .await
            .map_err(|e| self.error(e))?;
        tx.rollback().await.map_err(|e| self.error(e))?;
        Ok(rows)
    }

    /// The collected rows as tables for a report, with column names and categories.
    pub fn tables(&self, rows: &Collected, portable_only: bool) -> Vec<CollectedTable> {
        let mut out = Vec::new();
        for (&ti, rs) in rows {
            let t = &self.map.tables[ti];
            if portable_only && !t.portable {
                continue;
            }
            let mut columns = vec![t.key.clone()];
            let mut categories = vec!["customer_number".to_owned()];
            // The key is the row's number in the operator's database, not a customer number.
            let mut labels = vec![Some(tutela_core::datamap::Label {
                de: "Datensatz-Nr.".to_owned(),
                en: "Record no.".to_owned(),
            })];
            for f in &t.fields {
                columns.push(f.name.clone());
                categories.push(f.category.clone());
                labels.push(f.label.clone());
            }
            let rows = rs
                .iter()
                .map(|r| {
                    let mut v = vec![Some(r.key.clone())];
                    v.extend(r.values.iter().cloned());
                    v
                })
                .collect();
            out.push(CollectedTable {
                dataset: self.map.id.clone(),
                table: t.name.clone(),
                columns,
                categories,
                rows,
                label: t.label.clone(),
                labels,
            });
        }
        out
    }

    /// What erasing the person at `now` would do, read only: the same checks as
    /// [`Connector::erase`] (a broken map, a value the database would refuse) refuse the same
    /// way, and nothing is written.
    pub async fn plan_erasure(
        &self,
        ids: &Identities,
        policy: &Policy,
        now: jiff::Timestamp,
    ) -> Result<DatasetPlan, ConnectorError> {
        self.writable().await?;
        let catalog = self.catalog().await?;
        let rows = self.collect(ids).await?;
        let actions = plan_erasure(&self.map, policy, &rows, now);
        self.check_writes(&catalog, &actions, &rows)?;
        Ok(plan::erasure(&self.map, &actions, &rows))
    }

    /// Erases the person in one transaction: the plan of the core, children first. With
    /// `approved` (the digest of an approved [`DatasetPlan`]), the rows read in the
    /// transaction must give that same plan, else nothing is written
    /// ([`ConnectorError::Stale`]); `None` erases whatever the rows give now.
    pub async fn erase(
        &self,
        ids: &Identities,
        policy: &Policy,
        now: jiff::Timestamp,
        approved: Option<&str>,
    ) -> Result<ErasureReport, ConnectorError> {
        self.writable().await?;
        let catalog = self.catalog().await?;
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        let rows = self
            .collect_in(&mut tx, ids)
            .await
            .map_err(|e| self.error(e))?;
        let plan = plan_erasure(&self.map, policy, &rows, now);
        if let Some(approved) = approved
            && plan::erasure(&self.map, &plan, &rows).digest != approved
        {
            tx.rollback().await.map_err(|e| self.error(e))?;
            return Err(self.stale());
        }
        let mut report = ErasureReport {
            dataset: self.map.id.clone(),
            ..ErasureReport::default()
        };
        // A failed action drops the transaction: nothing of the erasure is written.
        for action in &plan {
            self.apply(&mut tx, &catalog, action, &rows, &mut report)
                .await?;
        }
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(report)
    }

    fn stale(&self) -> ConnectorError {
        ConnectorError::Stale(format!(
            "dataset `{}`: the person's rows changed since the plan was approved; nothing was written, plan the request and approve it again",
            self.map.id
        ))
    }

    /// Every write the actions would make, prepared and not run: a value its column does not
    /// take refuses here as it would in the run.
    fn check_writes(
        &self,
        catalog: &Catalog,
        actions: &[Action],
        rows: &Collected,
    ) -> Result<(), ConnectorError> {
        for action in actions {
            match action {
                Action::Update { table, keys } => {
                    self.field_updates(catalog, *table, keys, rows, |_| true)?;
                }
                Action::Restrict {
                    table,
                    keys,
                    erased,
                    ..
                } => {
                    self.field_updates(catalog, *table, keys, rows, |f| erased.contains(&f.name))?;
                    let t = &self.map.tables[*table];
                    if let Some(flag) = &t.restrict_flag {
                        self.typed(catalog, &t.name, flag, Some("1"), 1)?;
                    }
                }
                Action::Delete { .. } | Action::KeepForContract { .. } => {}
            }
        }
        Ok(())
    }

    async fn apply<E: Exec>(
        &self,
        tx: &mut E,
        catalog: &Catalog,
        action: &Action,
        rows: &Collected,
        report: &mut ErasureReport,
    ) -> Result<(), ConnectorError> {
        let q = |s: &str| self.dialect.quote(s);
        match action {
            Action::Delete { table, keys } => {
                let t = &self.map.tables[*table];
                for chunk in keys.chunks(CHUNK) {
                    let sql = format!(
                        "DELETE FROM {} WHERE {} IN ({})",
                        q(&t.name),
                        q(&t.key),
                        self.dialect.marks(1, chunk.len())
                    );
                    tx.exec(&sql, &binds(t.key_type, chunk))
                        .await
                        .map_err(|e| self.write_error(e, &format!("`{}`", t.name)))?;
                }
                *report.deleted.entry(t.name.clone()).or_default() += keys.len();
            }
            Action::Update { table, keys } => {
                self.erase_fields(tx, catalog, *table, keys, rows, |_| true)
                    .await?;
                let t = &self.map.tables[*table];
                *report.anonymised.entry(t.name.clone()).or_default() += keys.len();
            }
            Action::Restrict {
                table,
                keys,
                rule,
                until,
                why,
                kept,
                erased,
            } => {
                let t = &self.map.tables[*table];
                // What the duty does not need goes now; what it needs stays, restricted.
                if !erased.is_empty() {
                    self.erase_fields(tx, catalog, *table, keys, rows, |f| {
                        erased.contains(&f.name)
                    })
                    .await?;
                }
                if let Some(flag) = &t.restrict_flag {
                    self.set_flag(tx, catalog, *table, flag, keys).await?;
                }
                report.restricted.push(Restricted {
                    table: t.name.clone(),
                    rows: keys.len(),
                    rule: rule.clone(),
                    until: until.clone(),
                    why,
                    kept: kept.clone(),
                    erased: erased.clone(),
                });
            }
            // The contract runs: its rows are neither written nor flagged, only reported.
            Action::KeepForContract { table, keys, until } => {
                report.kept_for_contract.push(KeptForContract {
                    table: self.map.tables[*table].name.clone(),
                    rows: keys.len(),
                    until: until.clone(),
                });
            }
        }
        Ok(())
    }

    /// Applies each selected field's erasure (null, hash, fixed; `keep` leaves it) to the
    /// rows `keys` of `table`, one typed `UPDATE` per row.
    async fn erase_fields<E: Exec>(
        &self,
        tx: &mut E,
        catalog: &Catalog,
        table: usize,
        keys: &[String],
        rows: &Collected,
        selected: impl Fn(&tutela_core::datamap::Field) -> bool,
    ) -> Result<(), ConnectorError> {
        let t = &self.map.tables[table];
        for (sql, values) in self.field_updates(catalog, table, keys, rows, selected)? {
            tx.exec(&sql, &values)
                .await
                .map_err(|e| self.write_error(e, &format!("`{}`", t.name)))?;
        }
        Ok(())
    }

    /// The `UPDATE`s (statement and bound values) that apply each selected field's erasure to
    /// the rows `keys` of `table`, each value converted to its column's type.
    fn field_updates(
        &self,
        catalog: &Catalog,
        table: usize,
        keys: &[String],
        rows: &Collected,
        selected: impl Fn(&tutela_core::datamap::Field) -> bool,
    ) -> Result<Vec<(String, Vec<Bind>)>, ConnectorError> {
        let q = |s: &str| self.dialect.quote(s);
        let t = &self.map.tables[table];
        let wanted: BTreeSet<&String> = keys.iter().collect();
        let mut out = Vec::new();
        for row in rows.get(&table).into_iter().flatten() {
            if !wanted.contains(&row.key) {
                continue;
            }
            let mut sets = Vec::new();
            let mut values = Vec::new();
            for (f, v) in t.fields.iter().zip(&row.values) {
                if !selected(f) {
                    continue;
                }
                let new = match &f.erase {
                    FieldErase::Keep => continue,
                    FieldErase::Null => None,
                    FieldErase::Hash => v.as_deref().map(|v| self.keyed_hash(v)),
                    FieldErase::Fixed(text) => Some(text.clone()),
                };
                let (mark, bind) =
                    self.typed(catalog, &t.name, &f.name, new.as_deref(), values.len() + 1)?;
                values.push(bind);
                sets.push(format!("{} = {mark}", q(&f.name)));
            }
            if sets.is_empty() {
                continue;
            }
            let sql = format!(
                "UPDATE {} SET {} WHERE {} = {}",
                q(&t.name),
                sets.join(", "),
                q(&t.key),
                self.dialect.mark(values.len() + 1)
            );
            values.extend(binds(t.key_type, std::slice::from_ref(&row.key)));
            out.push((sql, values));
        }
        Ok(out)
    }

    /// Sets the restriction flag: `TRUE` in a boolean column, `1` in a numeric one.
    async fn set_flag<E: Exec>(
        &self,
        tx: &mut E,
        catalog: &Catalog,
        table: usize,
        flag: &str,
        keys: &[String],
    ) -> Result<(), ConnectorError> {
        let t = &self.map.tables[table];
        let (mark, on) = self.typed(catalog, &t.name, flag, Some("1"), 1)?;
        for chunk in keys.chunks(CHUNK) {
            let sql = format!(
                "UPDATE {} SET {} = {mark} WHERE {} IN ({})",
                self.dialect.quote(&t.name),
                self.dialect.quote(flag),
                self.dialect.quote(&t.key),
                self.dialect.marks(2, chunk.len())
            );
            let mut values = vec![on.clone()];
            values.extend(binds(t.key_type, chunk));
            tx.exec(&sql, &values)
                .await
                .map_err(|e| self.write_error(e, &format!("`{}.{flag}`", t.name)))?;
        }
        Ok(())
    }

    /// Sets the restriction flag on every row of the person where the map names one.
    pub async fn restrict(&self, ids: &Identities) -> Result<usize, ConnectorError> {
        self.writable().await?;
        let catalog = self.catalog().await?;
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        let rows = self
            .collect_in(&mut tx, ids)
            .await
            .map_err(|e| self.error(e))?;
        let mut n = 0;
        for (&ti, rs) in &rows {
            if let Some(flag) = &self.map.tables[ti].restrict_flag {
                let keys: Vec<String> = rs.iter().map(|r| r.key.clone()).collect();
                self.set_flag(&mut tx, &catalog, ti, flag, &keys).await?;
                n += keys.len();
            }
        }
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(n)
    }

    /// The fields a rectification changes, by (table, field) index, with each new value as
    /// given and as bound to its column. Refused before anything is read: a name the dataset
    /// cannot correct (unknown, or a field nobody may change), a database not matching its
    /// map, a value its column does not take.
    async fn rectification_targets(
        &self,
        changes: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<(usize, usize), (String, String, Bind)>, ConnectorError> {
        let known = self.rectifiable();
        if let Some(unknown) = changes.keys().find(|k| !known.contains(k.as_str())) {
            return Err(ConnectorError::Refused(format!(
                "dataset `{}` has no field to correct as `{unknown}`; it knows {}",
                self.map.id,
                known.iter().copied().collect::<Vec<_>>().join(", ")
            )));
        }
        self.writable().await?;
        // Every value converted to its column's type before anything is written: one that
        // does not fit refuses the whole rectification, naming the column.
        let catalog = self.catalog().await?;
        let mut typed = BTreeMap::new();
        for (ti, t) in self.map.tables.iter().enumerate() {
            for (fi, f) in t.fields.iter().enumerate() {
                if f.rectify == Rectify::Nobody {
                    continue;
                }
                if let Some(value) = f.rectify_as.as_ref().and_then(|r| changes.get(r)) {
                    let (mark, bind) = self.typed(&catalog, &t.name, &f.name, Some(value), 1)?;
                    typed.insert((ti, fi), (value.clone(), mark, bind));
                }
            }
        }
        Ok(typed)
    }

    /// A change is one record's: never one value onto several rows (one IMSI onto all SIMs of
    /// the person). Refused before anything is written.
    fn one_record_each<V>(
        &self,
        targets: &BTreeMap<(usize, usize), V>,
        rows: &Collected,
    ) -> Result<(), ConnectorError> {
        for &(ti, fi) in targets.keys() {
            let n = rows.get(&ti).map_or(0, Vec::len);
            if n > 1 {
                let t = &self.map.tables[ti];
                return Err(ConnectorError::Refused(format!(
                    "dataset `{}`: `{}.{}` is held in {n} rows of the person; a rectification changes one record, so an agent corrects it there",
                    self.map.id, t.name, t.fields[fi].name
                )));
            }
        }
        Ok(())
    }

    fn rectification_plan(
        &self,
        targets: &BTreeMap<(usize, usize), (String, String, Bind)>,
        rows: &Collected,
    ) -> DatasetPlan {
        let after: BTreeMap<(usize, usize), String> = targets
            .iter()
            .map(|(&at, (value, _, _))| (at, value.clone()))
            .collect();
        plan::rectification(&self.map, &after, rows)
    }

    /// What correcting the person's fields named in `changes` would do, read only: refused
    /// as [`Connector::rectify`] refuses, else per row the value before and after.
    pub async fn plan_rectification(
        &self,
        ids: &Identities,
        changes: &BTreeMap<String, String>,
    ) -> Result<DatasetPlan, ConnectorError> {
        let targets = self.rectification_targets(changes).await?;
        let rows = self.collect(ids).await?;
        self.one_record_each(&targets, &rows)?;
        Ok(self.rectification_plan(&targets, &rows))
    }

    /// Corrects the fields whose `rectify_as` name is a key of `changes`, in the person's rows;
    /// returns how many rows were corrected (each once).
    /// With `approved` (the digest of an approved [`DatasetPlan`]), the rows read in the
    /// transaction must give that same plan, else nothing is written
    /// ([`ConnectorError::Stale`]).
    pub async fn rectify(
        &self,
        ids: &Identities,
        changes: &BTreeMap<String, String>,
        approved: Option<&str>,
    ) -> Result<usize, ConnectorError> {
        let targets = self.rectification_targets(changes).await?;
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        let rows = self
            .collect_in(&mut tx, ids)
            .await
            .map_err(|e| self.error(e))?;
        self.one_record_each(&targets, &rows)?;
        if let Some(approved) = approved
            && self.rectification_plan(&targets, &rows).digest != approved
        {
            tx.rollback().await.map_err(|e| self.error(e))?;
            return Err(self.stale());
        }
        // Rows corrected, each once however many of its fields changed.
        let mut corrected: BTreeSet<(usize, String)> = BTreeSet::new();
        for (&ti, rs) in &rows {
            let t = &self.map.tables[ti];
            for (fi, f) in t.fields.iter().enumerate() {
                let Some((_, mark, value)) = targets.get(&(ti, fi)) else {
                    continue;
                };
                let keys: Vec<String> = rs.iter().map(|r| r.key.clone()).collect();
                for chunk in keys.chunks(CHUNK) {
                    let sql = format!(
                        "UPDATE {} SET {} = {mark} WHERE {} IN ({})",
                        self.dialect.quote(&t.name),
                        self.dialect.quote(&f.name),
                        self.dialect.quote(&t.key),
                        self.dialect.marks(2, chunk.len())
                    );
                    let mut values = vec![value.clone()];
                    values.extend(binds(t.key_type, chunk));
                    tx.exec(&sql, &values)
                        .await
                        .map_err(|e| self.write_error(e, &format!("`{}.{}`", t.name, f.name)))?;
                }
                corrected.extend(keys.into_iter().map(|k| (ti, k)));
            }
        }
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(corrected.len())
    }

    /// The names a rectification may use in this dataset: fields the person or an agent may
    /// change; identifiers, keys and system fields never.
    pub fn rectifiable(&self) -> BTreeSet<&str> {
        self.map
            .tables
            .iter()
            .flat_map(|t| {
                t.fields
                    .iter()
                    .filter(|f| f.rectify != Rectify::Nobody)
                    .filter_map(|f| f.rectify_as.as_deref())
            })
            .collect()
    }

    /// The fields a rectification may name, with who may change them and their labels, in
    /// map order, each name once.
    pub fn rectifiable_fields(&self) -> Vec<RectifiableField> {
        let mut out: Vec<RectifiableField> = Vec::new();
        for f in self.map.tables.iter().flat_map(|t| &t.fields) {
            let Some(name) = f.rectify_as.as_deref() else {
                continue;
            };
            if f.rectify == Rectify::Nobody || out.iter().any(|r| r.name == name) {
                continue;
            }
            out.push(RectifiableField {
                name: name.to_owned(),
                rule: f.rectify,
                label: f.label.clone(),
            });
        }
        out
    }

    /// Whether `name` is a field (an identifier kind, its `rectify_as` name or its column)
    /// that the map says nobody may change through a request.
    pub fn never_rectified(&self, name: &str) -> bool {
        self.map.tables.iter().flat_map(|t| &t.fields).any(|f| {
            f.rectify == Rectify::Nobody
                && (f.rectify_as.as_deref() == Some(name)
                    || f.identifies.as_deref() == Some(name)
                    || f.name == name)
        })
    }

    fn keyed_hash(&self, value: &str) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.hash_key) else {
            return "erased".to_owned();
        };
        mac.update(value.as_bytes());
        let out = mac.finalize().into_bytes();
        out.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    /// `SELECT key, references…, retention_from, contract_end, fields… FROM table`, all as
    /// text.
    fn select_rows(&self, t: usize) -> String {
        let table = &self.map.tables[t];
        let d = &self.dialect;
        let mut cols = vec![d.text(&table.key)];
        for r in &table.references {
            cols.push(d.text(&r.column));
        }
        cols.push(match &table.retention {
            Some((_, col)) => d.text(col),
            None => "NULL".to_owned(),
        });
        cols.push(match &table.contract_end {
            Some(col) => d.text(col),
            None => "NULL".to_owned(),
        });
        for f in &table.fields {
            cols.push(d.text(&f.name));
        }
        format!("SELECT {} FROM {}", cols.join(", "), d.quote(&table.name))
    }

    async fn rows_where<E: Exec>(
        &self,
        tx: &mut E,
        t: usize,
        column: &str,
        ty: ValueType,
        values: &[String],
    ) -> Result<Vec<Row>, sqlx::Error> {
        let table = &self.map.tables[t];
        let mut out = Vec::new();
        for chunk in values.chunks(CHUNK) {
            // In key order: a plan and its run read the same rows in the same order.
            let sql = format!(
                "{} WHERE {} IN ({}) ORDER BY {}",
                self.select_rows(t),
                self.dialect.quote(column),
                self.dialect.marks(1, chunk.len()),
                self.dialect.quote(&table.key)
            );
            for mut raw in tx.rows(&sql, &binds(ty, chunk)).await? {
                let values = raw.split_off(3 + table.references.len());
                let contract_end = raw.pop().flatten();
                let retention_from = raw.pop().flatten();
                let key = raw.first().cloned().flatten().unwrap_or_default();
                let parents = raw.into_iter().skip(1).collect();
                out.push(Row {
                    key,
                    parents,
                    retention_from,
                    contract_end,
                    values,
                });
            }
        }
        Ok(out)
    }

    async fn collect_in<E: Exec>(
        &self,
        tx: &mut E,
        ids: &Identities,
    ) -> Result<Collected, sqlx::Error> {
        let map = &self.map;
        let roots = self.person_keys_in(tx, ids).await?;
        let mut collected: Collected = BTreeMap::new();
        if roots.is_empty() {
            return Ok(collected);
        }
        let person = &map.tables[map.person_table];
        let roots: Vec<String> = roots.into_iter().collect();
        let root_rows = self
            .rows_where(tx, map.person_table, &person.key, person.key_type, &roots)
            .await?;
        collected.insert(map.person_table, root_rows);
        // 2. Down the references, parents before children.
        let kids = children(map);
        for &ti in &map.parents_first {
            let Some(parent_rows) = collected.get(&ti) else {
                continue;
            };
            let parent_keys: Vec<String> = parent_rows.iter().map(|r| r.key.clone()).collect();
            if parent_keys.is_empty() {
                continue;
            }
            for &(child, ri) in kids.get(&ti).into_iter().flatten() {
                let column = map.tables[child].references[ri].column.clone();
                let ty = map.tables[ti].key_type;
                let rows = self
                    .rows_where(tx, child, &column, ty, &parent_keys)
                    .await?;
                let entry = collected.entry(child).or_default();
                let seen: BTreeSet<String> = entry.iter().map(|r| r.key.clone()).collect();
                entry.extend(rows.into_iter().filter(|r| !seen.contains(&r.key)));
            }
        }
        collected.retain(|_, rows| !rows.is_empty());
        Ok(collected)
    }

    /// The first part of collecting: the keys of the person's rows in the person table, from
    /// every identifier any table holds (rows found elsewhere followed up their first
    /// reference).
    async fn person_keys_in<E: Exec>(
        &self,
        tx: &mut E,
        ids: &Identities,
    ) -> Result<BTreeSet<String>, sqlx::Error> {
        let map = &self.map;
        let mut roots: BTreeSet<String> = BTreeSet::new();
        for (ti, t) in map.tables.iter().enumerate() {
            for f in &t.fields {
                let Some(kind) = &f.identifies else { continue };
                let Some(values) = ids.get(kind) else {
                    continue;
                };
                if values.is_empty() {
                    continue;
                }
                let found = self
                    .rows_where(tx, ti, &f.name, f.value_type, values)
                    .await?;
                let mut keys: Vec<String> = found.into_iter().map(|r| r.key).collect();
                let mut at = ti;
                // Walk up the first references to the person table.
                while at != map.person_table && !keys.is_empty() {
                    let Some(r) = map.tables[at].references.first() else {
                        keys.clear();
                        break;
                    };
                    let rows = self
                        .rows_where(tx, at, &map.tables[at].key, map.tables[at].key_type, &keys)
                        .await?;
                    keys = rows
                        .into_iter()
                        .filter_map(|row| row.parents.into_iter().next().flatten())
                        .collect();
                    at = r.table;
                }
                roots.extend(keys);
            }
        }
        Ok(roots)
    }
}

fn binds(ty: ValueType, values: &[String]) -> Vec<Bind> {
    values
        .iter()
        .map(|v| match ty {
            ValueType::Integer => v.parse().map(Bind::Int).unwrap_or(Bind::Null),
            ValueType::Text => Bind::Text(v.clone()),
        })
        .collect()
}

/// A person a dataset holds, found from any of the identifiers its map names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FoundPerson {
    /// The key of the person's row in the person table.
    pub key: String,
    /// The person's customer number (tutela's subject id) where the person table has a field
    /// that `identifies = "customer_number"` and the row holds one.
    pub customer_number: Option<String>,
}

impl Connector {
    /// The persons whose rows any of `ids` finds (every field of the map that `identifies` a
    /// kind, any table, followed up to the person table), with their customer numbers: how a
    /// request is resolved to a person before its verification. Reads only.
    pub async fn find(&self, ids: &Identities) -> Result<Vec<FoundPerson>, ConnectorError> {
        let map = &self.map;
        let person = &map.tables[map.person_table];
        let number = person
            .fields
            .iter()
            .position(|f| f.identifies.as_deref() == Some("customer_number"));
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        let keys: Vec<String> = self
            .person_keys_in(&mut tx, ids)
            .await
            .map_err(|e| self.error(e))?
            .into_iter()
            .collect();
        let rows = if keys.is_empty() {
            Vec::new()
        } else {
            self.rows_where(
                &mut tx,
                map.person_table,
                &person.key,
                person.key_type,
                &keys,
            )
            .await
            .map_err(|e| self.error(e))?
        };
        tx.rollback().await.map_err(|e| self.error(e))?;
        Ok(rows
            .into_iter()
            .map(|r| FoundPerson {
                customer_number: number.and_then(|i| r.values.get(i).cloned().flatten()),
                key: r.key,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_of_another_engine_is_named_not_handed_to_a_driver() {
        assert_eq!(
            wrong_engine(ConnectorKind::Postgres, "mysql://root@127.0.0.1/test"),
            Some("a MySQL/MariaDB one")
        );
        assert_eq!(
            wrong_engine(ConnectorKind::Mysql, "postgresql://u@h/db"),
            Some("a PostgreSQL one")
        );
        assert_eq!(
            wrong_engine(ConnectorKind::Postgres, "sqlite://x.db"),
            Some("a SQLite one")
        );
        assert_eq!(wrong_engine(ConnectorKind::Sqlite, "sqlite:x.db"), None);
        assert_eq!(wrong_engine(ConnectorKind::Mysql, "mariadb://h/db"), None);
        // No scheme tutela knows (a bare path): the driver judges it.
        assert_eq!(wrong_engine(ConnectorKind::Sqlite, "/var/x.db"), None);
    }
}
