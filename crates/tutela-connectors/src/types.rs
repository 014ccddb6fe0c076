//! The types of the operator's columns, read from the database's own catalog
//! (`pg_attribute`, `information_schema.columns`, `pragma_table_info`), and the values tutela
//! writes converted to them before they are bound.
//!
//! A connector never lets the database guess: a rectification of a `date` column binds a
//! date, the NULL of an erasure is a NULL of the column's type, a restriction flag is `TRUE` in
//! a `boolean` column and `1` in an integer one. A value that is not of the column's type is
//! refused before anything is written, naming the table, the column and what it takes, never
//! the value.

use std::collections::{BTreeMap, BTreeSet};

use tutela_core::datamap::{ConnectorKind, DatasetMap};

use crate::exec::{Bind, Exec};

/// What a column holds, as far as tutela's writes are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Integer,
    /// Decimal and floating point numbers.
    Numeric,
    Boolean,
    Date,
    /// A date and time without a time zone (written in UTC).
    Timestamp,
    /// PostgreSQL's `timestamp with time zone`.
    TimestampTz,
    /// Anything else (enums, UUIDs, JSON, blobs…): written as text for the database to convert.
    Other,
}

impl ColumnType {
    /// What a value for this column must look like, for error messages.
    pub fn expects(self) -> &'static str {
        match self {
            ColumnType::Text | ColumnType::Other => "text",
            ColumnType::Integer => "an integer",
            ColumnType::Numeric => "a number (such as 12.50)",
            ColumnType::Boolean => "a boolean (true or false)",
            ColumnType::Date => "a date (YYYY-MM-DD)",
            ColumnType::Timestamp => {
                "a date and time (YYYY-MM-DD HH:MM:SS, in UTC, or RFC 3339 with an offset)"
            }
            ColumnType::TimestampTz => {
                "a date and time (RFC 3339 such as 2026-03-01T10:00:00+01:00; without an offset, UTC)"
            }
        }
    }

    /// Whether the column can hold the time a retention period or a sweep runs from: a date or
    /// time, or text in ISO 8601 (which sorts as time).
    pub fn holds_time(self) -> bool {
        matches!(
            self,
            ColumnType::Date | ColumnType::Timestamp | ColumnType::TimestampTz | ColumnType::Text
        )
    }
}

/// One column of a mapped table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// The type as the database declares it (`date`, `varchar(200)`, `tinyint(1)`…).
    pub declared: String,
    pub ty: ColumnType,
    pub nullable: bool,
    /// The most characters a text column takes, where the database enforces a limit.
    pub max_chars: Option<u32>,
    /// PostgreSQL: the type a bound value is cast to, so that the value has the column's type
    /// (a bound text is `text` to PostgreSQL, never a `date`).
    pub cast: Option<String>,
}

/// A mapped table as the database has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableInfo {
    pub columns: Vec<Column>,
    /// Columns that lead an index (the primary key's included).
    pub indexed: BTreeSet<String>,
}

/// The mapped tables as the database has them; a table the database lacks is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    kind: ConnectorKind,
    pub tables: BTreeMap<String, TableInfo>,
}

impl Catalog {
    /// Column names compare as the database compares them: exactly on PostgreSQL, ignoring
    /// case on MariaDB/MySQL and SQLite.
    fn same(&self, a: &str, b: &str) -> bool {
        match self.kind {
            ConnectorKind::Postgres => a == b,
            ConnectorKind::Mysql | ConnectorKind::Sqlite => a.eq_ignore_ascii_case(b),
        }
    }

    pub fn table(&self, table: &str) -> Option<&TableInfo> {
        self.tables.get(table)
    }

    pub fn column(&self, table: &str, column: &str) -> Option<&Column> {
        self.table(table)?
            .columns
            .iter()
            .find(|c| self.same(&c.name, column))
    }

    /// Whether an index starts with the column.
    pub fn indexed(&self, table: &str, column: &str) -> bool {
        self.table(table)
            .is_some_and(|t| t.indexed.iter().any(|c| self.same(c, column)))
    }

    /// Whether every table of the map is in the catalog.
    pub fn covers(&self, map: &DatasetMap) -> bool {
        map.tables.iter().all(|t| self.tables.contains_key(&t.name))
    }

    /// Reads the mapped tables' columns and indexes from the database's catalog.
    pub async fn read<E: Exec>(
        tx: &mut E,
        kind: ConnectorKind,
        map: &DatasetMap,
    ) -> Result<Catalog, sqlx::Error> {
        let mut tables = BTreeMap::new();
        for t in &map.tables {
            let name = Bind::Text(t.name.clone());
            let (columns_sql, index_sql) = match kind {
                // `to_regclass` finds the table as a query would: through the search path.
                ConnectorKind::Postgres => (
                    "SELECT CAST(a.attname AS TEXT), \
                       CAST(format_type(a.atttypid, a.atttypmod) AS TEXT), \
                       CAST(b.typname AS TEXT), \
                       CAST(n.nspname AS TEXT), CAST(t.typname AS TEXT), \
                       CAST(a.attnotnull OR t.typnotnull AS TEXT), \
                       CAST(CASE WHEN b.typname IN ('varchar', 'bpchar') AND a.atttypmod > 4 \
                         THEN a.atttypmod - 4 END AS TEXT) \
                     FROM pg_catalog.pg_attribute a \
                     JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
                     JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
                     JOIN pg_catalog.pg_type b \
                       ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END \
                     WHERE a.attrelid = to_regclass(quote_ident($1)) \
                       AND a.attnum > 0 AND NOT a.attisdropped \
                     ORDER BY a.attnum",
                    "SELECT CAST(a.attname AS TEXT) FROM pg_catalog.pg_index i \
                     JOIN pg_catalog.pg_attribute a \
                       ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
                     WHERE i.indrelid = to_regclass(quote_ident($1))",
                ),
                ConnectorKind::Mysql => (
                    "SELECT CAST(column_name AS CHAR), CAST(column_type AS CHAR), \
                       CAST(data_type AS CHAR), '', '', \
                       CAST(CASE WHEN is_nullable = 'NO' THEN 'true' ELSE 'false' END AS CHAR), \
                       CAST(CASE WHEN data_type IN ('char', 'varchar') \
                         THEN character_maximum_length END AS CHAR) \
                     FROM information_schema.columns \
                     WHERE table_schema = DATABASE() AND table_name = ? \
                     ORDER BY ordinal_position",
                    "SELECT CAST(column_name AS CHAR) FROM information_schema.statistics \
                     WHERE table_schema = DATABASE() AND table_name = ? AND seq_in_index = 1",
                ),
                ConnectorKind::Sqlite => (
                    "SELECT name, type, '', '', '', \
                       CAST(CASE WHEN \"notnull\" = 1 THEN 'true' ELSE 'false' END AS TEXT), \
                       NULL, CAST(pk AS TEXT) \
                     FROM pragma_table_info(?) ORDER BY cid",
                    "SELECT ii.name FROM pragma_index_list(?) AS il, \
                       pragma_index_info(il.name) AS ii WHERE ii.seqno = 0",
                ),
            };
            let rows = tx.rows(columns_sql, std::slice::from_ref(&name)).await?;
            if rows.is_empty() {
                continue;
            }
            let mut info = TableInfo::default();
            for r in rows {
                let get = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
                let (column, declared, base) = (get(0), get(1), get(2));
                let ty = match kind {
                    ConnectorKind::Postgres => postgres_type(&base),
                    ConnectorKind::Mysql => mysql_type(&base, &declared),
                    ConnectorKind::Sqlite => sqlite_type(&declared),
                };
                let cast = match kind {
                    ConnectorKind::Postgres => postgres_cast(ty, &get(3), &get(4)),
                    ConnectorKind::Mysql | ConnectorKind::Sqlite => None,
                };
                // SQLite: the first column of the primary key is its index (an INTEGER
                // PRIMARY KEY is the rowid and has no index of its own).
                if kind == ConnectorKind::Sqlite && get(7) == "1" {
                    info.indexed.insert(column.clone());
                }
                info.columns.push(Column {
                    name: column,
                    declared: if declared.is_empty() {
                        "(none)".to_owned()
                    } else {
                        declared.to_lowercase()
                    },
                    ty,
                    nullable: get(5) != "true",
                    max_chars: get(6).parse().ok(),
                    cast,
                });
            }
            for r in tx.rows(index_sql, std::slice::from_ref(&name)).await? {
                if let Some(Some(c)) = r.into_iter().next() {
                    info.indexed.insert(c);
                }
            }
            tables.insert(t.name.clone(), info);
        }
        Ok(Catalog { kind, tables })
    }
}

/// PostgreSQL, by the name of the base type (of a domain, the type under it).
fn postgres_type(base: &str) -> ColumnType {
    match base {
        "int2" | "int4" | "int8" => ColumnType::Integer,
        "numeric" | "float4" | "float8" => ColumnType::Numeric,
        "bool" => ColumnType::Boolean,
        "date" => ColumnType::Date,
        "timestamp" => ColumnType::Timestamp,
        "timestamptz" => ColumnType::TimestampTz,
        "text" | "varchar" | "bpchar" | "name" => ColumnType::Text,
        _ => ColumnType::Other,
    }
}

/// The type a bound value is cast to on PostgreSQL. The database assigns it to the column
/// (a `bigint` to an `integer`, a `text` to a `varchar(20)`), checking range and length.
/// Other types are cast to the column's own type when its name needs no escaping; else the
/// value is bound as text and the database says what it thinks of it.
fn postgres_cast(ty: ColumnType, schema: &str, name: &str) -> Option<String> {
    let plain = |s: &str| {
        !s.is_empty() && s.len() <= 63 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    Some(
        match ty {
            ColumnType::Text => "TEXT",
            ColumnType::Integer => "BIGINT",
            ColumnType::Numeric => "NUMERIC",
            ColumnType::Boolean => "BOOLEAN",
            ColumnType::Date => "DATE",
            ColumnType::Timestamp => "TIMESTAMP",
            ColumnType::TimestampTz => "TIMESTAMPTZ",
            ColumnType::Other if plain(schema) && plain(name) => {
                return Some(format!("\"{schema}\".\"{name}\""));
            }
            ColumnType::Other => return None,
        }
        .to_owned(),
    )
}

/// MariaDB/MySQL, by `data_type` and `column_type`; `BOOLEAN` is `tinyint(1)` there.
fn mysql_type(data_type: &str, column_type: &str) -> ColumnType {
    let column_type = column_type.to_lowercase();
    match data_type.to_lowercase().as_str() {
        "tinyint" if column_type.starts_with("tinyint(1)") => ColumnType::Boolean,
        "bit" if column_type == "bit(1)" => ColumnType::Boolean,
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" => ColumnType::Integer,
        "decimal" | "numeric" | "float" | "double" | "real" => ColumnType::Numeric,
        "date" => ColumnType::Date,
        "datetime" | "timestamp" => ColumnType::Timestamp,
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => ColumnType::Text,
        _ => ColumnType::Other,
    }
}

/// SQLite, by the declared type: names of dates, times and booleans first (SQLite itself gives
/// them numeric affinity), then SQLite's own affinity rules.
fn sqlite_type(declared: &str) -> ColumnType {
    let d = declared.to_uppercase();
    if d.contains("BOOL") {
        ColumnType::Boolean
    } else if d.contains("DATETIME") || d.contains("TIMESTAMP") {
        ColumnType::Timestamp
    } else if d.contains("DATE") {
        ColumnType::Date
    } else if d.contains("INT") {
        ColumnType::Integer
    } else if d.contains("CHAR") || d.contains("CLOB") || d.contains("TEXT") {
        ColumnType::Text
    } else if ["REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL"]
        .iter()
        .any(|n| d.contains(n))
    {
        ColumnType::Numeric
    } else {
        ColumnType::Other
    }
}

/// Why a value cannot be written to a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unfit {
    /// Not of the column's type.
    Type,
    /// NULL in a NOT NULL column.
    NotNull,
    /// Longer than the column takes.
    TooLong(u32),
}

/// The value to bind for `value` (NULL when `None`) in `column`. For columns that are not
/// text, an empty value is NULL: it clears the field.
pub fn convert(column: &Column, value: Option<&str>) -> Result<Bind, Unfit> {
    let value = match value {
        Some(v) if column.ty != ColumnType::Text && column.ty != ColumnType::Other => {
            Some(v.trim()).filter(|v| !v.is_empty())
        }
        other => other,
    };
    let Some(v) = value else {
        return if column.nullable {
            Ok(Bind::Null)
        } else {
            Err(Unfit::NotNull)
        };
    };
    match column.ty {
        ColumnType::Text | ColumnType::Other => {
            if let Some(max) = column.max_chars
                && v.chars().count() > max as usize
            {
                return Err(Unfit::TooLong(max));
            }
            Ok(Bind::Text(v.to_owned()))
        }
        ColumnType::Integer => v
            .strip_prefix('+')
            .unwrap_or(v)
            .parse::<i64>()
            .map(Bind::Int)
            .map_err(|_| Unfit::Type),
        ColumnType::Numeric if is_number(v) => Ok(Bind::Text(v.to_owned())),
        ColumnType::Numeric => Err(Unfit::Type),
        ColumnType::Boolean => match v.to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "on" | "1" => Ok(Bind::Bool(true)),
            "false" | "f" | "no" | "n" | "off" | "0" => Ok(Bind::Bool(false)),
            _ => Err(Unfit::Type),
        },
        ColumnType::Date => date(v).map(|d| Bind::Text(d.to_string())),
        ColumnType::Timestamp => {
            let t = match v.parse::<jiff::Timestamp>() {
                // With an offset: the same instant in UTC.
                Ok(t) => t.to_zoned(jiff::tz::TimeZone::UTC).datetime(),
                Err(_) => civil_time(v)?,
            };
            Ok(Bind::Text(t.to_string().replacen('T', " ", 1)))
        }
        ColumnType::TimestampTz => {
            let t = match v.parse::<jiff::Timestamp>() {
                Ok(t) => t,
                Err(_) => civil_time(v)?
                    .to_zoned(jiff::tz::TimeZone::UTC)
                    .map_err(|_| Unfit::Type)?
                    .timestamp(),
            };
            Ok(Bind::Text(t.to_string()))
        }
    }
}

/// `YYYY-MM-DD` and nothing else (not `yesterday`, not a time).
fn date(v: &str) -> Result<jiff::civil::Date, Unfit> {
    let b = v.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shaped {
        return Err(Unfit::Type);
    }
    v.parse().map_err(|_| Unfit::Type)
}

/// A date, or a date and time without an offset (`T` or a space between them).
fn civil_time(v: &str) -> Result<jiff::civil::DateTime, Unfit> {
    if v.len() == 10 {
        return Ok(date(v)?.to_datetime(jiff::civil::Time::midnight()));
    }
    if v.len() < 16 || !matches!(v.as_bytes()[10], b'T' | b't' | b' ') {
        return Err(Unfit::Type);
    }
    let d = date(&v[..10])?;
    let time: jiff::civil::Time = v[11..].parse().map_err(|_| Unfit::Type)?;
    Ok(d.to_datetime(time))
}

/// A decimal number: an optional sign, digits with an optional fraction, an optional exponent.
fn is_number(v: &str) -> bool {
    let s = v.strip_prefix(['+', '-']).unwrap_or(v);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |x: &str| x.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = (!int.is_empty() || !frac.is_empty()) && digits(int) && digits(frac);
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(ty: ColumnType) -> Column {
        Column {
            name: "c".into(),
            declared: "x".into(),
            ty,
            nullable: true,
            max_chars: None,
            cast: None,
        }
    }

    #[test]
    fn values_convert_to_their_column_or_are_refused() {
        use ColumnType as T;
        let ok = |ty, v: &str| convert(&col(ty), Some(v));
        assert_eq!(
            ok(T::Date, "1980-02-03"),
            Ok(Bind::Text("1980-02-03".into()))
        );
        for bad in [
            "yesterday",
            "1980-2-3",
            "1980-02-30",
            "1980-02-03T10:00",
            "",
        ] {
            if bad.is_empty() {
                assert_eq!(ok(T::Date, bad), Ok(Bind::Null), "empty clears");
            } else {
                assert_eq!(ok(T::Date, bad), Err(Unfit::Type), "{bad}");
            }
        }
        assert_eq!(
            ok(T::Timestamp, "2026-03-01T10:00:00+01:00"),
            Ok(Bind::Text("2026-03-01 09:00:00".into()))
        );
        assert_eq!(
            ok(T::Timestamp, "2026-03-01 10:00:00.5"),
            Ok(Bind::Text("2026-03-01 10:00:00.5".into()))
        );
        assert_eq!(
            ok(T::Timestamp, "2026-03-01"),
            Ok(Bind::Text("2026-03-01 00:00:00".into()))
        );
        assert_eq!(
            ok(T::TimestampTz, "2026-03-01 10:00:00"),
            Ok(Bind::Text("2026-03-01T10:00:00Z".into()))
        );
        assert_eq!(
            ok(T::TimestampTz, "2026-03-01T10:00:00-02:00"),
            Ok(Bind::Text("2026-03-01T12:00:00Z".into()))
        );
        assert_eq!(ok(T::Timestamp, "now"), Err(Unfit::Type));
        assert_eq!(ok(T::Integer, " 42 "), Ok(Bind::Int(42)));
        assert_eq!(ok(T::Integer, "+7"), Ok(Bind::Int(7)));
        assert_eq!(ok(T::Integer, "4.2"), Err(Unfit::Type));
        assert_eq!(ok(T::Boolean, "TRUE"), Ok(Bind::Bool(true)));
        assert_eq!(ok(T::Boolean, "0"), Ok(Bind::Bool(false)));
        assert_eq!(ok(T::Boolean, "maybe"), Err(Unfit::Type));
        for n in ["12.50", "-3", ".5", "1e3", "2.5E-2"] {
            assert_eq!(ok(T::Numeric, n), Ok(Bind::Text(n.into())), "{n}");
        }
        for n in ["1,5", "abc", "1e", ".", "NaN"] {
            assert_eq!(ok(T::Numeric, n), Err(Unfit::Type), "{n}");
        }
        assert_eq!(
            ok(T::Text, ""),
            Ok(Bind::Text(String::new())),
            "text keeps it"
        );
        let mut short = col(T::Text);
        short.max_chars = Some(3);
        assert_eq!(convert(&short, Some("abcd")), Err(Unfit::TooLong(3)));
        assert_eq!(convert(&short, Some("äöü")), Ok(Bind::Text("äöü".into())));
        let mut required = col(T::Date);
        required.nullable = false;
        assert_eq!(convert(&required, None), Err(Unfit::NotNull));
    }

    #[test]
    fn declared_types_are_classified_per_engine() {
        assert_eq!(sqlite_type("DATETIME"), ColumnType::Timestamp);
        assert_eq!(sqlite_type("date"), ColumnType::Date);
        assert_eq!(sqlite_type("BOOLEAN"), ColumnType::Boolean);
        assert_eq!(sqlite_type("VARCHAR(10)"), ColumnType::Text);
        assert_eq!(sqlite_type("BIGINT"), ColumnType::Integer);
        assert_eq!(sqlite_type("DECIMAL(10,2)"), ColumnType::Numeric);
        assert_eq!(sqlite_type(""), ColumnType::Other);
        assert_eq!(mysql_type("tinyint", "tinyint(1)"), ColumnType::Boolean);
        assert_eq!(mysql_type("tinyint", "tinyint(4)"), ColumnType::Integer);
        assert_eq!(mysql_type("datetime", "datetime(6)"), ColumnType::Timestamp);
        assert_eq!(mysql_type("enum", "enum('a','b')"), ColumnType::Other);
        assert_eq!(postgres_type("timestamptz"), ColumnType::TimestampTz);
        assert_eq!(
            postgres_cast(ColumnType::Other, "public", "mood").as_deref(),
            Some("\"public\".\"mood\"")
        );
        assert_eq!(postgres_cast(ColumnType::Other, "x y", "mood"), None);
    }
}
