//! Loading a dataset map: the TOML as written (with spans), validated against the policy into a
//! [`DatasetMap`], every error collected with the file's line and column and a fix.

use serde::Deserialize;
use toml::Spanned;

use super::{
    ConnectorKind, DatasetMap, Field, FieldErase, IDENTIFIERS, Label, Rectify, Reference, Table,
    TableErase, ValueType,
};
use crate::basis::LegalBasis;
use crate::policy::{Policy, PolicyErrors};

use super::Errors;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMap {
    dataset: RawDataset,
    #[serde(default)]
    table: Vec<RawTable>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataset {
    id: Spanned<String>,
    connector: Spanned<String>,
    url: Option<String>,
    url_env: Option<String>,
    person_table: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    name: Spanned<String>,
    key: Option<String>,
    key_type: Option<Spanned<String>>,
    timestamp: Option<String>,
    erase: Option<Spanned<String>>,
    restrict_flag: Option<String>,
    #[serde(default)]
    portable: bool,
    retention: Option<Spanned<String>>,
    retention_from: Option<String>,
    contract_end: Option<Spanned<String>>,
    keep: Option<Vec<Spanned<String>>>,
    label: Option<RawLabel>,
    #[serde(default)]
    references: Vec<RawReference>,
    #[serde(default)]
    field: Vec<RawField>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReference {
    column: String,
    table: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    name: Spanned<String>,
    category: Spanned<String>,
    identifies: Option<Spanned<String>>,
    erase: Option<Spanned<String>>,
    rectify_as: Option<String>,
    rectify: Option<Spanned<String>>,
    label: Option<RawLabel>,
    #[serde(rename = "type")]
    value_type: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLabel {
    de: String,
    en: String,
}

/// Parses and validates the map in `text` (named `file` in errors) against `policy`.
pub fn load(file: &str, text: &str, policy: &Policy) -> Result<DatasetMap, PolicyErrors> {
    let mut e = Errors::new(file, text);
    let raw: RawMap = match toml::from_str(text) {
        Ok(r) => r,
        Err(err) => {
            e.at(
                err.span().unwrap_or(0..0),
                err.message().to_owned(),
                "see the dataset map format in docs/datasets.md",
            );
            return Err(PolicyErrors(e.list));
        }
    };
    let connector = dataset(&mut e, &raw.dataset);
    let names: Vec<&str> = raw
        .table
        .iter()
        .map(|t| t.name.get_ref().as_str())
        .collect();
    let tables: Vec<Table> = (0..raw.table.len())
        .map(|ti| table(&mut e, policy, &names, ti, &raw.table[ti]))
        .collect();
    let person_table = person_table(&mut e, &raw.dataset, &names);
    let parents_first = if e.list.is_empty() {
        connected(&mut e, &raw.table, &tables, person_table)
    } else {
        Vec::new()
    };
    if !e.list.is_empty() {
        return Err(PolicyErrors(e.list));
    }
    Ok(DatasetMap {
        id: raw.dataset.id.into_inner(),
        connector,
        url: raw.dataset.url,
        url_env: raw.dataset.url_env,
        person_table,
        tables,
        parents_first,
    })
}

fn ident_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// The option `value` names among `options`, or `absent` when there is none. An unknown one
/// is an error at its span (`unknown {what} …`, with `fix`); `absent` then stands in, so the
/// rest of the map is still checked.
fn choice<T: Clone>(
    e: &mut Errors,
    value: Option<&Spanned<String>>,
    options: &[(&str, T)],
    absent: T,
    what: &str,
    fix: &str,
) -> T {
    let Some(v) = value else {
        return absent;
    };
    match options.iter().find(|(name, _)| name == v.get_ref()) {
        Some((_, t)) => t.clone(),
        None => {
            e.at(v.span(), format!("unknown {what} `{}`", v.get_ref()), fix);
            absent
        }
    }
}

/// The `[dataset]` section: its connector, and exactly one of `url` and `url_env`.
fn dataset(e: &mut Errors, d: &RawDataset) -> ConnectorKind {
    let connector = choice(
        e,
        Some(&d.connector),
        &[
            ("postgres", ConnectorKind::Postgres),
            ("mysql", ConnectorKind::Mysql),
            ("mariadb", ConnectorKind::Mysql),
            ("sqlite", ConnectorKind::Sqlite),
        ],
        ConnectorKind::Postgres,
        "connector",
        "use postgres, mysql or sqlite",
    );
    if d.url.is_none() == d.url_env.is_none() {
        e.at(
            d.id.span(),
            "a dataset needs exactly one of `url` and `url_env`".into(),
            "keep credentials out of the file: url_env = \"NAME_OF_THE_VARIABLE\"",
        );
    }
    if !ident_ok(d.id.get_ref()) {
        e.at(
            d.id.span(),
            format!("`{}` is not a dataset id", d.id.get_ref()),
            "use letters, digits and underscores",
        );
    }
    connector
}

/// Table `ti` of the map, checked against the policy and the other tables' `names`.
fn table(e: &mut Errors, policy: &Policy, names: &[&str], ti: usize, t: &RawTable) -> Table {
    let name = t.name.get_ref();
    if !ident_ok(name) {
        e.at(
            t.name.span(),
            format!("`{name}` is not a table name tutela can quote safely"),
            "use letters, digits and underscores",
        );
    }
    if names[..ti].contains(&name.as_str()) {
        e.at(
            t.name.span(),
            format!("table `{name}` is mapped twice"),
            "map each table once",
        );
    }
    let key_type = choice(
        e,
        t.key_type.as_ref(),
        &[("integer", ValueType::Integer), ("text", ValueType::Text)],
        ValueType::Integer,
        "key type",
        "use integer or text",
    );
    let erase = choice(
        e,
        t.erase.as_ref(),
        &[
            ("delete", TableErase::Delete),
            ("update", TableErase::Update),
            ("keep", TableErase::Keep),
        ],
        TableErase::Delete,
        "table erasure",
        "use delete, update or keep",
    );
    let retention = retention(e, policy, t);
    if let Some(c) = &t.contract_end
        && !ident_ok(c.get_ref())
    {
        e.at(
            c.span(),
            format!(
                "`{}` is not a column name tutela can quote safely",
                c.get_ref()
            ),
            "name the column holding the contract's end date (letters, digits, underscores)",
        );
    }
    let references = references(e, names, ti, t);
    let fields: Vec<Field> = t.field.iter().map(|f| field(e, policy, f)).collect();
    let keep = keep(e, t, &fields);
    if fields.is_empty() {
        e.at(
            t.name.span(),
            format!("table `{name}` maps no field"),
            "add [[table.field]] entries with their categories",
        );
    }
    if t.portable {
        portable(e, policy, t);
    }
    Table {
        name: name.clone(),
        key: t.key.clone().unwrap_or_else(|| "id".to_owned()),
        key_type,
        timestamp: t.timestamp.clone(),
        erase,
        restrict_flag: t.restrict_flag.clone(),
        portable: t.portable,
        retention,
        keep,
        contract_end: t.contract_end.as_ref().map(|c| c.get_ref().clone()),
        references,
        fields,
        label: t.label.as_ref().map(RawLabel::label),
    }
}

/// The table's retention rule (an index into the policy's rules) and the column its period
/// runs from.
fn retention(e: &mut Errors, policy: &Policy, t: &RawTable) -> Option<(usize, String)> {
    let r = t.retention.as_ref()?;
    let Some(i) = policy.retention.iter().position(|x| &x.id == r.get_ref()) else {
        e.at(
            r.span(),
            format!("the policy has no retention rule `{}`", r.get_ref()),
            "use an id from the policy's [[retention]] rules",
        );
        return None;
    };
    match t.retention_from.clone().or_else(|| t.timestamp.clone()) {
        Some(col) => Some((i, col)),
        None => {
            e.at(
                r.span(),
                "a retention rule needs the column its period runs from".into(),
                "add retention_from = \"issued_at\" (or timestamp = …)",
            );
            None
        }
    }
}

/// The tables table `ti` references, each mapped and not itself.
fn references(e: &mut Errors, names: &[&str], ti: usize, t: &RawTable) -> Vec<Reference> {
    let mut references = Vec::new();
    for r in &t.references {
        match names.iter().position(|n| n == r.table.get_ref()) {
            Some(p) if p != ti => references.push(Reference {
                column: r.column.clone(),
                table: p,
            }),
            _ => e.at(
                r.table.span(),
                format!(
                    "table `{}` references `{}`, which is not mapped",
                    t.name.get_ref(),
                    r.table.get_ref()
                ),
                "map the referenced table too, or remove the reference",
            ),
        }
        if !ident_ok(&r.column) {
            e.at(
                r.table.span(),
                format!(
                    "`{}` is not a column name tutela can quote safely",
                    r.column
                ),
                "use letters, digits and underscores",
            );
        }
    }
    references
}

/// One mapped field: its category, the identifier it holds, how an erasure and a
/// rectification treat it.
fn field(e: &mut Errors, policy: &Policy, f: &RawField) -> Field {
    let fname = f.name.get_ref();
    if !ident_ok(fname) {
        e.at(
            f.name.span(),
            format!("`{fname}` is not a column name tutela can quote safely"),
            "use letters, digits and underscores",
        );
    }
    if policy.category(f.category.get_ref()).is_none() {
        e.at(
            f.category.span(),
            format!("unknown category `{}`", f.category.get_ref()),
            "use a category id of the policy",
        );
    }
    let identifies = f.identifies.as_ref().map(|i| {
        if !IDENTIFIERS.contains(&i.get_ref().as_str()) {
            e.at(
                i.span(),
                format!("unknown identifier kind `{}`", i.get_ref()),
                "use customer_number, email, iccid, imsi, msisdn or imei",
            );
        }
        i.get_ref().clone()
    });
    let erase = field_erase(e, f.erase.as_ref());
    let value_type = choice(
        e,
        f.value_type.as_ref(),
        &[("text", ValueType::Text), ("integer", ValueType::Integer)],
        ValueType::Text,
        "type",
        "use text or integer",
    );
    let rectify = rectify(e, f, identifies.as_deref());
    let rectify_as = f
        .rectify_as
        .clone()
        .or_else(|| identifies.clone())
        .or_else(|| (rectify != Rectify::Nobody).then(|| fname.clone()));
    Field {
        name: fname.clone(),
        category: f.category.get_ref().clone(),
        rectify_as,
        rectify,
        label: f.label.as_ref().map(RawLabel::label),
        identifies,
        erase,
        value_type,
    }
}

/// How an erasure treats a field: `null` (the default), `hash`, `fixed:TEXT` or `keep`.
fn field_erase(e: &mut Errors, erase: Option<&Spanned<String>>) -> FieldErase {
    if let Some(text) = erase.and_then(|x| x.get_ref().strip_prefix("fixed:")) {
        return FieldErase::Fixed(text.to_owned());
    }
    choice(
        e,
        erase,
        &[
            ("null", FieldErase::Null),
            ("hash", FieldErase::Hash),
            ("keep", FieldErase::Keep),
        ],
        FieldErase::Null,
        "field erasure",
        "use null, hash, fixed:TEXT or keep",
    )
}

/// Who may correct a field. Identifiers (other than the e-mail address, which is contact data)
/// never change through a request; a named field is corrected by an agent unless the map says.
fn rectify(e: &mut Errors, f: &RawField, identifies: Option<&str>) -> Rectify {
    let fixed_identifier = identifies.is_some_and(|k| k != "email");
    let absent = if fixed_identifier {
        Rectify::Nobody
    } else if identifies.is_some() {
        Rectify::Person
    } else if f.rectify_as.is_some() {
        Rectify::Agent
    } else {
        Rectify::Nobody
    };
    let rectify = choice(
        e,
        f.rectify.as_ref(),
        &[
            ("nobody", Rectify::Nobody),
            ("person", Rectify::Person),
            ("agent", Rectify::Agent),
        ],
        absent,
        "rectification rule",
        "use person, agent or nobody",
    );
    if fixed_identifier
        && rectify != Rectify::Nobody
        && let Some(r) = &f.rectify
    {
        e.at(
            r.span(),
            format!(
                "`{}` is an identifier ({}); identifiers never change through a request",
                f.name.get_ref(),
                identifies.unwrap_or_default()
            ),
            "use rectify = \"nobody\"",
        );
    }
    rectify
}

/// The fields a row kept for a duty keeps, each a mapped field of the table.
fn keep(e: &mut Errors, t: &RawTable, fields: &[Field]) -> Option<Vec<String>> {
    let keep = t.keep.as_ref()?;
    Some(
        keep.iter()
            .map(|name| {
                if !fields.iter().any(|f| &f.name == name.get_ref()) {
                    e.at(
                        name.span(),
                        format!(
                            "`{}` in `keep` is not a field of table `{}`",
                            name.get_ref(),
                            t.name.get_ref()
                        ),
                        "name mapped fields of this table ([[table.field]])",
                    );
                }
                name.get_ref().clone()
            })
            .collect(),
    )
}

/// A portable table holds only data processed on consent or for a contract (Art. 20).
fn portable(e: &mut Errors, policy: &Policy, t: &RawTable) {
    for f in &t.field {
        let Some(c) = policy.category(f.category.get_ref()) else {
            continue;
        };
        let covered = policy.purposes.iter().any(|p| {
            p.categories.contains(&c)
                && p.bases
                    .iter()
                    .any(|b| matches!(b.legal_basis, LegalBasis::Consent | LegalBasis::Contract))
        });
        if !covered {
            e.at(
                f.category.span(),
                format!(
                    "table `{}` is portable, but no purpose processes `{}` on consent or for a contract",
                    t.name.get_ref(),
                    f.category.get_ref()
                ),
                "Art. 20 covers data processed on consent or contract; set portable = false",
            );
        }
    }
}

/// The index of the person table, which must be mapped.
fn person_table(e: &mut Errors, d: &RawDataset, names: &[&str]) -> usize {
    if let Some(p) = names.iter().position(|n| n == d.person_table.get_ref()) {
        return p;
    }
    e.at(
        d.person_table.span(),
        format!(
            "the person table `{}` is not mapped",
            d.person_table.get_ref()
        ),
        "name one of the [[table]] entries",
    );
    0
}

/// The tables parents first. Every table reaches the person table through its first
/// reference, and the references have no cycle.
fn connected(
    e: &mut Errors,
    raw: &[RawTable],
    tables: &[Table],
    person_table: usize,
) -> Vec<usize> {
    let mut parents_first = Vec::new();
    let mut placed = vec![false; tables.len()];
    while parents_first.len() < tables.len() {
        let before = parents_first.len();
        for (i, t) in tables.iter().enumerate() {
            if !placed[i] && t.references.iter().all(|r| placed[r.table]) {
                placed[i] = true;
                parents_first.push(i);
            }
        }
        if parents_first.len() == before {
            for (i, t) in raw.iter().enumerate() {
                if !placed[i] {
                    e.at(
                        t.name.span(),
                        format!("table `{}` is part of a reference cycle", t.name.get_ref()),
                        "references point from child to parent and may not loop",
                    );
                }
            }
            break;
        }
    }
    for (i, t) in raw.iter().enumerate() {
        let mut at = i;
        let mut steps = 0;
        while at != person_table && steps <= tables.len() {
            match tables[at].references.first() {
                Some(r) => at = r.table,
                None => break,
            }
            steps += 1;
        }
        if at != person_table {
            e.at(
                t.name.span(),
                format!(
                    "table `{}` does not lead to the person table through its first reference",
                    t.name.get_ref()
                ),
                "add a reference (first in the list) towards the person table",
            );
        }
    }
    parents_first
}

impl RawLabel {
    fn label(&self) -> Label {
        Label {
            de: self.de.clone(),
            en: self.en.clone(),
        }
    }
}
