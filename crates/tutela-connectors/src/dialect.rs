//! The SQL that differs between PostgreSQL, MariaDB/MySQL and SQLite: identifier quoting,
//! placeholders, casting a column to text and a bound value to its column's type.

use tutela_core::datamap::ConnectorKind;

#[derive(Clone, Copy, Debug)]
pub struct Dialect(ConnectorKind);

impl Dialect {
    pub fn of(kind: ConnectorKind) -> Dialect {
        Dialect(kind)
    }

    /// A quoted identifier. Names come from a validated map (letters, digits, underscores),
    /// so quoting never has to escape anything.
    pub fn quote(&self, name: &str) -> String {
        match self.0 {
            ConnectorKind::Mysql => format!("`{name}`"),
            ConnectorKind::Postgres | ConnectorKind::Sqlite => format!("\"{name}\""),
        }
    }

    /// The placeholder for the `n`-th bound value (from 1).
    pub fn mark(&self, n: usize) -> String {
        match self.0 {
            ConnectorKind::Postgres => format!("${n}"),
            ConnectorKind::Mysql | ConnectorKind::Sqlite => "?".to_owned(),
        }
    }

    /// `count` placeholders from the `first`-th, comma-separated.
    pub fn marks(&self, first: usize, count: usize) -> String {
        (first..first + count)
            .map(|n| self.mark(n))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The column read as text, whatever its type.
    pub fn text(&self, column: &str) -> String {
        let q = self.quote(column);
        match self.0 {
            ConnectorKind::Mysql => format!("CAST({q} AS CHAR)"),
            ConnectorKind::Postgres | ConnectorKind::Sqlite => format!("CAST({q} AS TEXT)"),
        }
    }

    /// The placeholder for the `n`-th bound value, written to `column`: on PostgreSQL cast to
    /// the column's type (a bound text or NULL is `text` there, which a `date` column
    /// refuses); MariaDB and SQLite convert a bound value on assignment.
    pub fn typed_mark(&self, n: usize, column: &crate::types::Column) -> String {
        match (self.0, &column.cast) {
            (ConnectorKind::Postgres, Some(ty)) => format!("CAST(${n} AS {ty})"),
            _ => self.mark(n),
        }
    }
}
