//! A statistics query, validated: which column says who a row is about, how rows are grouped,
//! what is aggregated within bounds, how much one person may contribute, and which noise is
//! added. A [`Query`] that exists has bounds in order, edges rising and a contribution limit in
//! range; the aggregator and the release rely on it.

use super::privacy::{Delta, Epsilon};

/// A decimal with three places, as an integer of thousandths: sums stay exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Milli(pub i64);

impl Milli {
    /// Reads `-12.345`, `7`, `+0.5`, rounding past the third place half away from zero;
    /// `None` for anything else (exponents, thousands separators, empty text).
    pub fn parse(text: &str) -> Option<Milli> {
        let t = text.trim();
        let (negative, t) = match t.as_bytes().first()? {
            b'-' => (true, &t[1..]),
            b'+' => (false, &t[1..]),
            _ => (false, t),
        };
        let (whole, fraction) = t.split_once('.').unwrap_or((t, ""));
        if whole.is_empty() && fraction.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let mut value: i64 = 0;
        for b in whole.bytes() {
            value = value.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
        }
        let mut places = fraction.bytes();
        for _ in 0..3 {
            let digit = places.next().map_or(0, |b| i64::from(b - b'0'));
            value = value.checked_mul(10)?.checked_add(digit)?;
        }
        if places.next().is_some_and(|b| b >= b'5') {
            value = value.checked_add(1)?;
        }
        Some(Milli(if negative { -value } else { value }))
    }

    pub fn from_f64(value: f64) -> Option<Milli> {
        let m = (value * 1000.0).round();
        (m.is_finite() && m.abs() < 9e15).then_some(Milli(m as i64))
    }

    /// The absolute value in thousandths.
    pub fn magnitude(self) -> u64 {
        self.0.unsigned_abs()
    }
}

impl std::fmt::Display for Milli {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let m = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:03}", m / 1000, m % 1000)
    }
}

/// Values of a column are clamped into `[lower, upper]` before they are summed, which bounds
/// what one row can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    lower: Milli,
    upper: Milli,
}

impl Bounds {
    pub fn new(lower: Milli, upper: Milli) -> Option<Bounds> {
        (lower < upper).then_some(Bounds { lower, upper })
    }

    pub fn clamp(self, v: Milli) -> Milli {
        v.clamp(self.lower, self.upper)
    }

    pub fn lower(self) -> Milli {
        self.lower
    }

    pub fn upper(self) -> Milli {
        self.upper
    }

    /// The most one row can add to a sum, in thousandths.
    pub fn reach(self) -> u64 {
        self.lower.magnitude().max(self.upper.magnitude())
    }
}

/// What is computed per group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Aggregate {
    /// Rows.
    Count,
    /// The sum of a column's values, each clamped to the bounds.
    Sum { column: String, bounds: Bounds },
    /// The sum divided by the count, each released on its own half of the budget.
    Mean { column: String, bounds: Bounds },
    /// Rows per bin `[edges[i], edges[i+1])`; values below the first edge count in the first
    /// bin, values from the last edge on in the last.
    Histogram { column: String, edges: Vec<Milli> },
}

impl Aggregate {
    pub fn name(&self) -> &'static str {
        match self {
            Aggregate::Count => "count",
            Aggregate::Sum { .. } => "sum",
            Aggregate::Mean { .. } => "mean",
            Aggregate::Histogram { .. } => "histogram",
        }
    }

    pub fn column(&self) -> Option<&str> {
        match self {
            Aggregate::Count => None,
            Aggregate::Sum { column, .. }
            | Aggregate::Mean { column, .. }
            | Aggregate::Histogram { column, .. } => Some(column),
        }
    }
}

/// Which distribution the noise comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// Discrete Laplace: pure ε-differential privacy.
    Laplace,
    /// Discrete Gaussian: (ε, δ)-differential privacy, less noise over many groups.
    Gaussian,
}

impl Mechanism {
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Laplace => "laplace",
            Mechanism::Gaussian => "gaussian",
        }
    }
}

/// Noise for a release, and what it costs the dataset's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noise {
    Laplace { epsilon: Epsilon },
    Gaussian { epsilon: Epsilon, delta: Delta },
}

impl Noise {
    pub fn mechanism(self) -> Mechanism {
        match self {
            Noise::Laplace { .. } => Mechanism::Laplace,
            Noise::Gaussian { .. } => Mechanism::Gaussian,
        }
    }

    pub fn epsilon(self) -> Epsilon {
        match self {
            Noise::Laplace { epsilon } | Noise::Gaussian { epsilon, .. } => epsilon,
        }
    }

    pub fn delta(self) -> Option<Delta> {
        match self {
            Noise::Laplace { .. } => None,
            Noise::Gaussian { delta, .. } => Some(delta),
        }
    }
}

/// The most rows of one person a query may count: beyond it, noise must grow past use.
pub const MAX_ROWS_PER_PERSON: u32 = 10_000;
/// Group-by columns in one query.
pub const MAX_GROUP_COLUMNS: usize = 8;
/// Histogram edges in one query.
pub const MAX_EDGES: usize = 1_001;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    person: String,
    group_by: Vec<String>,
    aggregate: Aggregate,
    rows_per_person: u32,
    noise: Option<Noise>,
}

/// A query that cannot be run, naming the field to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {what}")]
pub struct QueryError {
    pub field: &'static str,
    pub what: String,
}

fn invalid(field: &'static str, what: impl Into<String>) -> QueryError {
    QueryError {
        field,
        what: what.into(),
    }
}

impl Query {
    pub fn new(
        person: String,
        group_by: Vec<String>,
        aggregate: Aggregate,
        rows_per_person: u32,
        noise: Option<Noise>,
    ) -> Result<Query, QueryError> {
        if person.is_empty() {
            return Err(invalid(
                "person",
                "name the column that holds the person's pseudonym",
            ));
        }
        if group_by.len() > MAX_GROUP_COLUMNS {
            return Err(invalid(
                "group_by",
                format!("at most {MAX_GROUP_COLUMNS} columns"),
            ));
        }
        for (i, g) in group_by.iter().enumerate() {
            if *g == person {
                return Err(invalid(
                    "group_by",
                    "grouping by the person column would release one group per person",
                ));
            }
            if group_by[..i].contains(g) {
                return Err(invalid("group_by", format!("`{g}` is named twice")));
            }
        }
        if aggregate.column() == Some(person.as_str()) {
            return Err(invalid(
                "aggregate.column",
                "the person column holds pseudonyms, not numbers",
            ));
        }
        if let Aggregate::Histogram { edges, .. } = &aggregate {
            if edges.len() < 2 || edges.len() > MAX_EDGES {
                return Err(invalid(
                    "aggregate.edges",
                    format!("2 to {MAX_EDGES} edges, one more than the bins"),
                ));
            }
            if edges.windows(2).any(|w| w[0] >= w[1]) {
                return Err(invalid("aggregate.edges", "the edges must rise"));
            }
        }
        if !(1..=MAX_ROWS_PER_PERSON).contains(&rows_per_person) {
            return Err(invalid(
                "rows_per_person",
                format!("1 to {MAX_ROWS_PER_PERSON} rows"),
            ));
        }
        Ok(Query {
            person,
            group_by,
            aggregate,
            rows_per_person,
            noise,
        })
    }

    pub fn person(&self) -> &str {
        &self.person
    }

    pub fn group_by(&self) -> &[String] {
        &self.group_by
    }

    pub fn aggregate(&self) -> &Aggregate {
        &self.aggregate
    }

    /// The most rows of one person that count; later rows of that person are left out.
    pub fn rows_per_person(&self) -> u32 {
        self.rows_per_person
    }

    pub fn noise(&self) -> Option<Noise> {
        self.noise
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_read_to_the_thousandth() {
        let m = |s| Milli::parse(s).map(|m| m.0);
        assert_eq!(m("12.345"), Some(12_345));
        assert_eq!(m("-0.5"), Some(-500));
        assert_eq!(m("+7"), Some(7_000));
        assert_eq!(m("1.0005"), Some(1_001));
        assert_eq!(m("1.0004"), Some(1_000));
        assert_eq!(m(".25"), Some(250));
        assert_eq!(m(" 3 "), Some(3_000));
        for bad in [
            "",
            "-",
            ".",
            "1e3",
            "1,5",
            "1.2.3",
            "abc",
            "99999999999999999999",
        ] {
            assert_eq!(m(bad), None, "{bad}");
        }
        assert_eq!(Milli(-1_250).to_string(), "-1.250");
        assert_eq!(Milli(42).to_string(), "0.042");
    }
}
