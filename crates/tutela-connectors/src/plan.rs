//! Plans of erasures and rectifications, for an agent to approve before anything is written:
//! per table what happens to which rows and fields, and a digest over the plan and the rows it
//! was made from. A run given the approved digest plans again inside its own transaction and
//! refuses ([`crate::ConnectorError::Stale`]) when the data no longer gives the same plan.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};
use tutela_core::datamap::{Action, DatasetMap, Field, FieldErase, Label, Rectify, Row, Table};

use crate::Collected;

/// What an erasure or rectification will do in one dataset.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DatasetPlan {
    pub dataset: String,
    pub tables: Vec<TablePlan>,
    /// Hex SHA-256 over the actions and the values of every row they were planned on; the run
    /// re-plans inside its transaction and refuses (ConnectorError::Stale) when this differs.
    pub digest: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TablePlan {
    pub table: String,
    pub action: PlanAction,
    /// Every row's key (the operator's primary key values), in order.
    pub keys: Vec<String>,
    pub fields: Vec<FieldPlan>,
    /// For restrict / keep_for_contract: the retention rule id (or "running_contract"), the
    /// date it ends as YYYY-MM-DD (None when a contract has no end date yet), and why
    /// ("legal_retention", "referenced_by_retained_record", "running_contract").
    pub rule: Option<String>,
    pub until: Option<String>,
    pub why: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanAction {
    Delete,
    Anonymise,
    Restrict,
    KeepForContract,
    Change,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldPlan {
    /// The column name.
    pub name: String,
    /// The field's data category from the map.
    pub category: String,
    pub label: Option<Label>,
    pub effect: FieldEffect,
    /// Rectification only: who may change it (the map's rule) and, per row, the value before
    /// and after.
    pub rectify: Option<Rectify>,
    pub changes: Vec<FieldChange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldEffect {
    Deleted,
    Nulled,
    Hashed,
    Fixed,
    Kept,
    Changed,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldChange {
    pub key: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// The rule and reason of rows kept for a running contract.
pub const RUNNING_CONTRACT: &str = "running_contract";

/// The plan of an erasure: one table plan per action of the core's planner, in its order.
pub fn erasure(map: &DatasetMap, actions: &[Action], rows: &Collected) -> DatasetPlan {
    let tables = actions.iter().map(|a| table_plan(map, a)).collect();
    finish(map, tables, rows)
}

fn table_plan(map: &DatasetMap, action: &Action) -> TablePlan {
    let table = &map.tables[action.table()];
    let (kind, rule, until, why) = match action {
        Action::Delete { .. } => (PlanAction::Delete, None, None, None),
        Action::Update { .. } => (PlanAction::Anonymise, None, None, None),
        Action::Restrict {
            rule, until, why, ..
        } => (
            PlanAction::Restrict,
            Some(rule.clone()),
            Some(until.clone()),
            Some((*why).to_owned()),
        ),
        Action::KeepForContract { until, .. } => (
            PlanAction::KeepForContract,
            Some(RUNNING_CONTRACT.to_owned()),
            until.clone(),
            Some(RUNNING_CONTRACT.to_owned()),
        ),
    };
    let fields = table
        .fields
        .iter()
        .map(|f| FieldPlan {
            name: f.name.clone(),
            category: f.category.clone(),
            label: f.label.clone(),
            effect: effect(action, f),
            rectify: None,
            changes: Vec::new(),
        })
        .collect();
    TablePlan {
        table: table.name.clone(),
        action: kind,
        keys: action.keys().to_vec(),
        fields,
        rule,
        until,
        why,
    }
}

/// What an erasure action does to one field of its rows.
fn effect(action: &Action, f: &Field) -> FieldEffect {
    let by_erase = || match f.erase {
        FieldErase::Null => FieldEffect::Nulled,
        FieldErase::Hash => FieldEffect::Hashed,
        FieldErase::Fixed(_) => FieldEffect::Fixed,
        FieldErase::Keep => FieldEffect::Kept,
    };
    match action {
        Action::Delete { .. } => FieldEffect::Deleted,
        Action::Update { .. } => by_erase(),
        Action::Restrict { erased, .. } if erased.contains(&f.name) => by_erase(),
        Action::Restrict { .. } | Action::KeepForContract { .. } => FieldEffect::Kept,
    }
}

/// The plan of a rectification: per table with a changed field, its rows and, per changed
/// field (map order), the value before and after in each row. `changes` maps (table, field)
/// indices to the new value.
pub fn rectification(
    map: &DatasetMap,
    changes: &BTreeMap<(usize, usize), String>,
    rows: &Collected,
) -> DatasetPlan {
    let mut tables = Vec::new();
    for (&ti, table_rows) in rows {
        let t = &map.tables[ti];
        let fields: Vec<FieldPlan> = t
            .fields
            .iter()
            .enumerate()
            .filter_map(|(fi, f)| {
                let after = changes.get(&(ti, fi))?;
                Some(changed_field(f, fi, after, table_rows))
            })
            .collect();
        if fields.is_empty() {
            continue;
        }
        tables.push(TablePlan {
            table: t.name.clone(),
            action: PlanAction::Change,
            keys: table_rows.iter().map(|r| r.key.clone()).collect(),
            fields,
            rule: None,
            until: None,
            why: None,
        });
    }
    finish(map, tables, rows)
}

fn changed_field(f: &Field, fi: usize, after: &str, rows: &[Row]) -> FieldPlan {
    FieldPlan {
        name: f.name.clone(),
        category: f.category.clone(),
        label: f.label.clone(),
        effect: FieldEffect::Changed,
        rectify: Some(f.rectify),
        changes: rows
            .iter()
            .map(|r| FieldChange {
                key: r.key.clone(),
                before: r.values.get(fi).cloned().flatten(),
                after: Some(after.to_owned()),
            })
            .collect(),
    }
}

fn finish(map: &DatasetMap, tables: Vec<TablePlan>, rows: &Collected) -> DatasetPlan {
    let digest = digest(map, &tables, rows);
    DatasetPlan {
        dataset: map.id.clone(),
        tables,
        digest,
    }
}

/// One planned row as hashed: its table, key, the keys it references, its retention and
/// contract columns and its mapped values.
type HashedRow<'a> = (
    &'a str,
    &'a str,
    &'a [Option<String>],
    Option<&'a str>,
    Option<&'a str>,
    &'a [Option<String>],
);

/// SHA-256 (hex) over the dataset, the table plans (keys and changes in key order, so that
/// the order the database returned rows in does not matter) and every planned row's values.
/// No time goes in: on unchanged data the plan and the run of the same day agree.
fn digest(map: &DatasetMap, tables: &[TablePlan], rows: &Collected) -> String {
    let canonical: Vec<TablePlan> = tables
        .iter()
        .map(|t| {
            let mut t = t.clone();
            t.keys.sort();
            for f in &mut t.fields {
                f.changes.sort_by(|a, b| a.key.cmp(&b.key));
            }
            t
        })
        .collect();
    let mut planned: Vec<HashedRow<'_>> = Vec::new();
    for t in tables {
        let Some(ti) = map.table(&t.table) else {
            continue;
        };
        let table: &Table = &map.tables[ti];
        let keys: BTreeSet<&String> = t.keys.iter().collect();
        for r in rows.get(&ti).into_iter().flatten() {
            if keys.contains(&r.key) {
                planned.push((
                    table.name.as_str(),
                    r.key.as_str(),
                    &r.parents,
                    r.retention_from.as_deref(),
                    r.contract_end.as_deref(),
                    &r.values,
                ));
            }
        }
    }
    planned.sort();
    planned.dedup();
    // Strings, lists and options only: JSON of them cannot fail.
    let text = serde_json::to_vec(&(&map.id, &canonical, &planned)).unwrap_or_default();
    Sha256::digest(&text)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
