//! Connectors to the operator's databases: PostgreSQL, MariaDB/MySQL and SQLite, driven by a
//! [`DatasetMap`]. A connector finds a person's rows from their identifiers, copies them
//! (Art. 15, 20), corrects named fields (Art. 16), sets restriction flags (Art. 18) and erases
//! (Art. 17) in one transaction per database, in the order the core's planner gives.
//!
//! Stores decide nothing: what is erased, kept or restricted comes from
//! [`tutela_core::datamap::plan_erasure`]. Table and column names come from a validated map
//! (letters, digits, underscores) and are quoted per dialect; values are always bound.

pub mod demo;
mod dialect;
mod exec;
mod sweep;

use std::collections::{BTreeMap, BTreeSet};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tutela_core::datamap::{
    Action, ConnectorKind, DatasetMap, FieldErase, Row, ValueType, children, plan_erasure,
};
use tutela_core::policy::Policy;
use tutela_core::report::CollectedTable;

use dialect::Dialect;
pub use exec::Bind;
use exec::{Exec, Pool};
pub use sweep::{SweepBatch, SweepCursor};

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
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Restricted {
    pub table: String,
    pub rows: usize,
    pub rule: String,
    pub until: String,
    pub why: &'static str,
}

pub struct Connector {
    pub map: DatasetMap,
    pool: Pool,
    dialect: Dialect,
    hash_key: Vec<u8>,
}

const CHUNK: usize = 500;

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
        let pool =
            Pool::connect(map.connector, &url)
                .await
                .map_err(|e| ConnectorError::Unavailable {
                    dataset: map.id.clone(),
                    why: exec::describe(&e),
                })?;
        let dialect = Dialect::of(map.connector);
        Ok(Connector {
            map,
            pool,
            dialect,
            hash_key,
        })
    }

    pub fn kind(&self) -> ConnectorKind {
        self.map.connector
    }

    fn error(&self, e: sqlx::Error) -> ConnectorError {
        let why = exec::describe(&e);
        match e {
            sqlx::Error::Database(_) => ConnectorError::Map {
                dataset: self.map.id.clone(),
                why,
            },
            _ => ConnectorError::Unavailable {
                dataset: self.map.id.clone(),
                why,
            },
        }
    }

    /// Checks that every mapped table and column exists, with one empty query per table.
    pub async fn check(&self) -> Result<(), ConnectorError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        for t in 0..self.map.tables.len() {
            let sql = format!("{} WHERE 1 = 0", self.select_rows(t));
            tx.rows(&sql, &[]).await.map_err(|e| self.error(e))?;
        }
        tx.rollback().await.map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Runs statements in one transaction: the schema and data of tests and the demo.
    pub async fn run_statements(&self, statements: &[String]) -> Result<(), ConnectorError> {
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
            for f in &t.fields {
                columns.push(f.name.clone());
                categories.push(f.category.clone());
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
            });
        }
        out
    }

    /// Erases the person in one transaction: the plan of the core, children first.
    pub async fn erase(
        &self,
        ids: &Identities,
        policy: &Policy,
        now: jiff::Timestamp,
    ) -> Result<ErasureReport, ConnectorError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        let rows = self
            .collect_in(&mut tx, ids)
            .await
            .map_err(|e| self.error(e))?;
        let plan = plan_erasure(&self.map, policy, &rows, now);
        let mut report = ErasureReport {
            dataset: self.map.id.clone(),
            ..ErasureReport::default()
        };
        for action in &plan {
            self.apply(&mut tx, action, &rows, &mut report)
                .await
                .map_err(|e| self.error(e))?;
        }
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(report)
    }

    async fn apply<E: Exec>(
        &self,
        tx: &mut E,
        action: &Action,
        rows: &Collected,
        report: &mut ErasureReport,
    ) -> Result<(), sqlx::Error> {
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
                    tx.exec(&sql, &binds(t.key_type, chunk)).await?;
                }
                *report.deleted.entry(t.name.clone()).or_default() += keys.len();
            }
            Action::Update { table, keys } => {
                let t = &self.map.tables[*table];
                let wanted: BTreeSet<&String> = keys.iter().collect();
                for row in rows.get(table).into_iter().flatten() {
                    if !wanted.contains(&row.key) {
                        continue;
                    }
                    let mut sets = Vec::new();
                    let mut values = Vec::new();
                    for (f, v) in t.fields.iter().zip(&row.values) {
                        let new = match &f.erase {
                            FieldErase::Keep => continue,
                            FieldErase::Null => None,
                            FieldErase::Hash => v.as_deref().map(|v| self.keyed_hash(v)),
                            FieldErase::Fixed(text) => Some(text.clone()),
                        };
                        values.push(match new {
                            Some(s) => Bind::Text(s),
                            None => Bind::Null,
                        });
                        sets.push(format!(
                            "{} = {}",
                            q(&f.name),
                            self.dialect.mark(values.len())
                        ));
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
                    tx.exec(&sql, &values).await?;
                }
                *report.anonymised.entry(t.name.clone()).or_default() += keys.len();
            }
            Action::Restrict {
                table,
                keys,
                rule,
                until,
                why,
            } => {
                let t = &self.map.tables[*table];
                if let Some(flag) = &t.restrict_flag {
                    self.set_flag(tx, *table, flag, keys).await?;
                }
                report.restricted.push(Restricted {
                    table: t.name.clone(),
                    rows: keys.len(),
                    rule: rule.clone(),
                    until: until.clone(),
                    why,
                });
            }
        }
        Ok(())
    }

    async fn set_flag<E: Exec>(
        &self,
        tx: &mut E,
        table: usize,
        flag: &str,
        keys: &[String],
    ) -> Result<(), sqlx::Error> {
        let t = &self.map.tables[table];
        for chunk in keys.chunks(CHUNK) {
            let sql = format!(
                "UPDATE {} SET {} = 1 WHERE {} IN ({})",
                self.dialect.quote(&t.name),
                self.dialect.quote(flag),
                self.dialect.quote(&t.key),
                self.dialect.marks(1, chunk.len())
            );
            tx.exec(&sql, &binds(t.key_type, chunk)).await?;
        }
        Ok(())
    }

    /// Sets the restriction flag on every row of the person where the map names one.
    pub async fn restrict(&self, ids: &Identities) -> Result<usize, ConnectorError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        let rows = self
            .collect_in(&mut tx, ids)
            .await
            .map_err(|e| self.error(e))?;
        let mut n = 0;
        for (&ti, rs) in &rows {
            if let Some(flag) = &self.map.tables[ti].restrict_flag {
                let keys: Vec<String> = rs.iter().map(|r| r.key.clone()).collect();
                self.set_flag(&mut tx, ti, flag, &keys)
                    .await
                    .map_err(|e| self.error(e))?;
                n += keys.len();
            }
        }
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(n)
    }

    /// Corrects the fields whose `rectify_as` name is a key of `changes`, in the person's rows.
    pub async fn rectify(
        &self,
        ids: &Identities,
        changes: &BTreeMap<String, String>,
    ) -> Result<usize, ConnectorError> {
        let known = self.rectifiable();
        if let Some(unknown) = changes.keys().find(|k| !known.contains(k.as_str())) {
            return Err(ConnectorError::Refused(format!(
                "dataset `{}` has no field to correct as `{unknown}`; it knows {}",
                self.map.id,
                known.iter().copied().collect::<Vec<_>>().join(", ")
            )));
        }
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        let rows = self
            .collect_in(&mut tx, ids)
            .await
            .map_err(|e| self.error(e))?;
        let mut n = 0;
        for (&ti, rs) in &rows {
            let t = &self.map.tables[ti];
            for f in &t.fields {
                let Some(value) = f.rectify_as.as_ref().and_then(|r| changes.get(r)) else {
                    continue;
                };
                let keys: Vec<String> = rs.iter().map(|r| r.key.clone()).collect();
                for chunk in keys.chunks(CHUNK) {
                    let sql = format!(
                        "UPDATE {} SET {} = {} WHERE {} IN ({})",
                        self.dialect.quote(&t.name),
                        self.dialect.quote(&f.name),
                        self.dialect.mark(1),
                        self.dialect.quote(&t.key),
                        self.dialect.marks(2, chunk.len())
                    );
                    let mut values = vec![Bind::Text(value.clone())];
                    values.extend(binds(t.key_type, chunk));
                    tx.exec(&sql, &values).await.map_err(|e| self.error(e))?;
                }
                n += keys.len();
            }
        }
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(n)
    }

    /// The names a rectification may use in this dataset.
    pub fn rectifiable(&self) -> BTreeSet<&str> {
        self.map
            .tables
            .iter()
            .flat_map(|t| t.fields.iter().filter_map(|f| f.rectify_as.as_deref()))
            .collect()
    }

    fn keyed_hash(&self, value: &str) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.hash_key) else {
            return "erased".to_owned();
        };
        mac.update(value.as_bytes());
        let out = mac.finalize().into_bytes();
        out.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    /// `SELECT key, references…, retention_from, fields… FROM table`, all as text.
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
            let sql = format!(
                "{} WHERE {} IN ({})",
                self.select_rows(t),
                self.dialect.quote(column),
                self.dialect.marks(1, chunk.len())
            );
            for mut raw in tx.rows(&sql, &binds(ty, chunk)).await? {
                let values = raw.split_off(2 + table.references.len());
                let retention_from = raw.pop().flatten();
                let key = raw.first().cloned().flatten().unwrap_or_default();
                let parents = raw.into_iter().skip(1).collect();
                out.push(Row {
                    key,
                    parents,
                    retention_from,
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
        // 1. The person's rows in the person table, from every identifier any table holds.
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
