//! The map against its database, on the database's catalog: every table and column the map
//! names exists, has a type the connector can use as the map uses it, and the indexes the
//! retention sweeps walk exist. Reads the catalog only; writes nothing.

use tutela_core::datamap::{FieldErase, TableErase, ValueType, children};
use tutela_core::policy::Policy;

use crate::types::{self, Catalog, Column, ColumnType};
use crate::{Connector, ConnectorError};

/// One way the database does not fit its map. Names tables and columns, never values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub table: String,
    /// The column concerned; `None` for the table itself.
    pub column: Option<String>,
    pub message: String,
    /// What to change.
    pub help: String,
}

impl Connector {
    /// Every way the database does not fit the map, in map order; empty when it does. The
    /// sweeps' indexes are those of the retention rules in force on `today`.
    pub async fn audit(
        &self,
        policy: &Policy,
        today: jiff::civil::Date,
    ) -> Result<Vec<Problem>, ConnectorError> {
        let catalog = self.read_catalog().await?;
        let map = &self.map;
        let referenced = children(map);
        let mut out = Vec::new();
        for (ti, t) in map.tables.iter().enumerate() {
            let mut p = |column: Option<&str>, message: String, help: &str| {
                out.push(Problem {
                    table: t.name.clone(),
                    column: column.map(str::to_owned),
                    message,
                    help: help.to_owned(),
                });
            };
            if catalog.table(&t.name).is_none() {
                p(
                    None,
                    format!("table `{}` does not exist", t.name),
                    "create it, or correct the table's name in the map",
                );
                continue;
            }
            // Each column once, with the first role the map gives it.
            let mut named: Vec<(&str, &str)> = vec![(t.key.as_str(), "the key")];
            named.extend(
                t.references
                    .iter()
                    .map(|r| (r.column.as_str(), "a reference")),
            );
            named.extend(t.timestamp.iter().map(|c| (c.as_str(), "`timestamp`")));
            named.extend(
                t.retention
                    .iter()
                    .map(|(_, c)| (c.as_str(), "`retention_from`")),
            );
            named.extend(
                t.contract_end
                    .iter()
                    .map(|c| (c.as_str(), "`contract_end`")),
            );
            named.extend(
                t.restrict_flag
                    .iter()
                    .map(|c| (c.as_str(), "`restrict_flag`")),
            );
            named.extend(t.fields.iter().map(|f| (f.name.as_str(), "a field")));
            let mut seen = std::collections::BTreeSet::new();
            named.retain(|(c, _)| seen.insert(c.to_ascii_lowercase()));
            for (c, role) in &named {
                if catalog.column(&t.name, c).is_none() {
                    p(
                        Some(c),
                        format!(
                            "column `{}.{c}` does not exist (the map names it as {role})",
                            t.name
                        ),
                        "create it, or correct the name in the map",
                    );
                }
            }
            let col = |c: &str| catalog.column(&t.name, c);
            // Lookups bind the map's type: a text compared with an integer column fails on
            // PostgreSQL and, on MariaDB, matches every row whose number the text reads as.
            let lookup = |c: &Column, ty: ValueType| match ty {
                ValueType::Integer => matches!(c.ty, ColumnType::Integer | ColumnType::Numeric),
                ValueType::Text => match self.kind() {
                    tutela_core::datamap::ConnectorKind::Postgres => c.ty == ColumnType::Text,
                    _ => !matches!(
                        c.ty,
                        ColumnType::Integer | ColumnType::Numeric | ColumnType::Boolean
                    ),
                },
            };
            let type_name = |ty: ValueType| match ty {
                ValueType::Integer => "integer",
                ValueType::Text => "text",
            };
            if let Some(c) = col(&t.key)
                && !lookup(c, t.key_type)
            {
                p(
                    Some(&t.key),
                    format!(
                        "the key `{}.{}` is a `{}` column, but the map says key_type = \"{}\"",
                        t.name,
                        t.key,
                        c.declared,
                        type_name(t.key_type)
                    ),
                    "set key_type to integer or text as the column is",
                );
            }
            for r in &t.references {
                let parent = &map.tables[r.table];
                if let Some(c) = col(&r.column)
                    && !lookup(c, parent.key_type)
                {
                    p(
                        Some(&r.column),
                        format!(
                            "`{}.{}` is a `{}` column, but it references `{}`, whose key is {} (key_type)",
                            t.name,
                            r.column,
                            c.declared,
                            parent.name,
                            type_name(parent.key_type)
                        ),
                        "the referencing column and the referenced key need the same type",
                    );
                }
            }
            for f in &t.fields {
                let Some(c) = col(&f.name) else { continue };
                if let Some(kind) = &f.identifies
                    && !lookup(c, f.value_type)
                {
                    p(
                        Some(&f.name),
                        format!(
                            "the identifier `{}.{}` ({kind}) is a `{}` column, but the map looks it up as type = \"{}\"",
                            t.name,
                            f.name,
                            c.declared,
                            type_name(f.value_type)
                        ),
                        "set the field's type to integer or text as the column is",
                    );
                }
            }
            for (c, what) in t
                .retention
                .iter()
                .map(|(_, c)| (c, "the retention period runs from"))
                .chain(
                    t.timestamp
                        .iter()
                        .filter(|c| t.retention.as_ref().is_none_or(|(_, r)| r != *c))
                        .map(|c| (c, "`timestamp` names")),
                )
            {
                if let Some(column) = col(c)
                    && !column.ty.holds_time()
                {
                    p(
                        Some(c),
                        format!(
                            "`{}.{c}` is a `{}` column; {what} it, so it must be a date, a timestamp or ISO 8601 text",
                            t.name, column.declared
                        ),
                        "name a date or time column",
                    );
                }
            }
            if let Some(flag) = &t.restrict_flag
                && let Some(c) = col(flag)
                && !matches!(
                    c.ty,
                    ColumnType::Boolean | ColumnType::Integer | ColumnType::Numeric
                )
            {
                p(
                    Some(flag),
                    format!(
                        "the restriction flag `{}.{flag}` is a `{}` column; a flag is boolean or integer",
                        t.name, c.declared
                    ),
                    "name a boolean or integer column",
                );
            }
            // What an erasure writes into the rows it keeps: the table's own `update`, rows of
            // a `delete` table that kept rows still reference,
            let anonymised = match t.erase {
                TableErase::Update => true,
                TableErase::Delete => referenced.contains_key(&ti),
                TableErase::Keep => false,
            };
            // And the fields a row kept under a retention duty does not keep (`keep`).
            let (_, erased_when_kept) = t.kept_fields();
            for f in t
                .fields
                .iter()
                .filter(|f| anonymised || erased_when_kept.contains(&f.name))
            {
                let Some(c) = col(&f.name) else { continue };
                let written = match &f.erase {
                    FieldErase::Keep => continue,
                    FieldErase::Null => None,
                    // The keyed hash: 32 hexadecimal characters.
                    FieldErase::Hash => Some("0".repeat(32)),
                    FieldErase::Fixed(v) => Some(v.clone()),
                };
                let fits = match (&f.erase, types::convert(c, written.as_deref())) {
                    (FieldErase::Hash, Ok(_)) => {
                        matches!(c.ty, ColumnType::Text | ColumnType::Other)
                    }
                    (_, r) => r.is_ok(),
                };
                if !fits {
                    let erase = match &f.erase {
                        FieldErase::Null => "null".to_owned(),
                        FieldErase::Hash => "hash".to_owned(),
                        FieldErase::Fixed(v) => format!("fixed:{v}"),
                        FieldErase::Keep => "keep".to_owned(),
                    };
                    p(
                        Some(&f.name),
                        format!(
                            "erase = \"{erase}\" cannot be written to `{}.{}`, a `{}` column{}",
                            t.name,
                            f.name,
                            c.declared,
                            if c.nullable { "" } else { " NOT NULL" }
                        ),
                        match f.erase {
                            FieldErase::Hash => {
                                "a hash needs a text column of at least 32 characters; use null or fixed:VALUE"
                            }
                            _ if !c.nullable => {
                                "the column is NOT NULL: use fixed:VALUE with a value of its type (or allow NULL in the column)"
                            }
                            _ => {
                                "use an erasure the column takes (null, or fixed: with a value of its type)"
                            }
                        },
                    );
                }
            }
        }
        // The indexes of the sweeps: each walks its table in the order of the rule's column,
        // and asks of every row whether a row of a child table still references it.
        let plan = tutela_core::retention::plan_sweep(policy, std::slice::from_ref(map), today);
        for target in &plan.targets {
            let mut wanted = vec![(target.table_name.as_str(), target.column.as_str(), "walks")];
            wanted.extend(
                target
                    .children
                    .iter()
                    .map(|(t, c)| (t.as_str(), c.as_str(), "looks up for every row it deletes")),
            );
            for (table, column, how) in wanted {
                if catalog.column(table, column).is_none() || catalog.indexed(table, column) {
                    continue;
                }
                if out
                    .iter()
                    .any(|p| p.table == table && p.column.as_deref() == Some(column))
                {
                    continue;
                }
                out.push(Problem {
                    table: table.to_owned(),
                    column: Some(column.to_owned()),
                    message: format!(
                        "no index starts with `{table}.{column}`, which the retention sweep of `{}` (rule `{}`) {how}",
                        target.table_name, target.rule
                    ),
                    help: format!("CREATE INDEX {table}_by_{column} ON {table} ({column})"),
                });
            }
        }
        Ok(out)
    }

    /// The catalog as read now (not the one read at open): what the database has.
    pub async fn read_catalog(&self) -> Result<Catalog, ConnectorError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        let read = Catalog::read(&mut tx, self.map.connector, &self.map)
            .await
            .map_err(|e| self.error(e))?;
        tx.rollback().await.map_err(|e| self.error(e))?;
        Ok(read)
    }
}
