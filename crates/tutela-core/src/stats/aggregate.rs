//! The exact tally of a query over a CSV table, read as a stream: the caller feeds bytes as they
//! come, so a file of any size passes through in memory that grows with its groups and persons,
//! not its rows. A person's rows beyond the query's limit are left out (the bound the noise is
//! calibrated to). The tally never leaves tutela: [`super::release`] turns it into what may.

use rustc_hash::{FxHashMap, FxHashSet};

use super::query::{Aggregate, Milli, Query};
use crate::pseudonym::table::{OnBadRow, RowError, TableError, split_record, unquote, unreadable};

/// One group's exact figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTally {
    pub key: Vec<String>,
    /// Distinct persons with a counted row in the group: what k is compared with.
    pub persons: u64,
    pub rows: u64,
    /// In thousandths, of clamped values.
    pub sum: i128,
    pub bins: Vec<u64>,
}

/// Every group, in key order, with the totals of the run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tally {
    pub groups: Vec<GroupTally>,
    /// Records read, bad ones included.
    pub rows_read: u64,
    /// Rows left out because their person had reached the limit.
    pub rows_over_limit: u64,
    /// Bad rows set aside (with [`OnBadRow::Reject`]).
    pub rows_rejected: u64,
    pub persons: u64,
}

/// What [`Aggregator::process`] did with a chunk.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes of the input consumed: every complete record.
    pub consumed: usize,
    pub rows: u64,
}

#[derive(Debug)]
pub struct Aggregator {
    query: Query,
    width: usize,
    person_at: usize,
    group_at: Vec<usize>,
    value_at: Option<usize>,
    /// The line the next record starts on (the header is line 1).
    line: usize,
    fields: Vec<(usize, usize, bool)>,
    value: Vec<u8>,
    key: String,
    groups: FxHashMap<Box<str>, u32>,
    tallies: Vec<GroupTally>,
    /// Each person's number and counted rows.
    persons: FxHashMap<Box<[u8]>, (u32, u32)>,
    /// (group, person) pairs seen, for the distinct persons per group.
    members: FxHashSet<(u32, u32)>,
    tally: Tally,
}

/// Field `i` of `record`, unquoted into `buffer` when it was quoted.
fn field<'a>(
    fields: &[(usize, usize, bool)],
    buffer: &'a mut Vec<u8>,
    record: &'a [u8],
    i: usize,
) -> &'a [u8] {
    let (s, e, quoted) = fields[i];
    if quoted {
        unquote(&record[s..e], true, buffer);
        buffer
    } else {
        &record[s..e]
    }
}

/// Separates group-by values in a key; it cannot occur in a CSV field read as UTF-8 text that a
/// person would write, and a field that holds it is refused.
const KEY_SEPARATOR: char = '\u{1f}';

impl Aggregator {
    /// Reads the header at the start of `input` and finds the query's columns; returns the
    /// aggregator and the bytes of the header.
    pub fn new(query: Query, input: &[u8]) -> Result<(Aggregator, usize), TableError> {
        let mut fields = Vec::new();
        let (end, breaks) = match split_record(input, true, &mut fields) {
            Ok(Some(r)) if !input.is_empty() => r,
            Ok(_) => return Err(TableError::NoHeader),
            Err((what, _)) => return Err(TableError::Header(what)),
        };
        let mut names = Vec::with_capacity(fields.len());
        let mut value = Vec::new();
        for &(s, e, q) in &fields {
            unquote(&input[s..e], q, &mut value);
            let name = std::str::from_utf8(&value).map_err(|_| TableError::Header("not UTF-8"))?;
            names.push(name.trim_start_matches('\u{feff}').to_owned());
        }
        let find = |c: &str| {
            names
                .iter()
                .position(|n| n == c)
                .ok_or_else(|| TableError::UnknownColumn(c.to_owned(), names.join(", ")))
        };
        let person_at = find(query.person())?;
        let group_at = query
            .group_by()
            .iter()
            .map(|g| find(g))
            .collect::<Result<Vec<_>, _>>()?;
        let value_at = query.aggregate().column().map(find).transpose()?;
        Ok((
            Aggregator {
                width: names.len(),
                person_at,
                group_at,
                value_at,
                line: 1 + breaks,
                fields,
                value,
                key: String::new(),
                groups: FxHashMap::default(),
                tallies: Vec::new(),
                persons: FxHashMap::default(),
                members: FxHashSet::default(),
                tally: Tally::default(),
                query,
            },
            end,
        ))
    }

    /// Counts the complete records at the start of `input`; with `last`, the input is the end
    /// of the file. A bad row ends the call with its error, or, with [`OnBadRow::Reject`], is
    /// left out and its error added to `errors`.
    pub fn process(
        &mut self,
        input: &[u8],
        last: bool,
        on_bad: OnBadRow,
        errors: &mut Vec<RowError>,
    ) -> Result<Progress, RowError> {
        let mut progress = Progress::default();
        while progress.consumed < input.len() {
            let rest = &input[progress.consumed..];
            let line = self.line;
            let (len, breaks, outcome) = match split_record(rest, last, &mut self.fields) {
                Ok(None) => break,
                Ok(Some((len, breaks))) => (len, breaks, self.row(&rest[..len], line)),
                Err((what, breaks)) => match unreadable(rest, last, breaks, line, what) {
                    Some((len, breaks, err)) => (len, breaks, Err(err)),
                    None => break,
                },
            };
            self.line += breaks;
            self.tally.rows_read += 1;
            if let Err(e) = outcome {
                if on_bad == OnBadRow::Stop {
                    return Err(e);
                }
                self.tally.rows_rejected += 1;
                errors.push(e);
            }
            progress.consumed += len;
            progress.rows += 1;
        }
        Ok(progress)
    }

    fn row(&mut self, record: &[u8], line: usize) -> Result<(), RowError> {
        let err = |column: Option<&str>, what: String| RowError {
            line,
            column: column.map(str::to_owned),
            what,
        };
        if self.fields.len() != self.width {
            return Err(err(
                None,
                format!(
                    "{} fields where the header has {}",
                    self.fields.len(),
                    self.width
                ),
            ));
        }
        // Everything the row adds is worked out before anything is counted, so a bad row
        // changes nothing.
        let value = match self.value_at {
            None => None,
            Some(i) => {
                let text = std::str::from_utf8(field(&self.fields, &mut self.value, record, i))
                    .map_err(|_| err(self.query.aggregate().column(), "not UTF-8".to_owned()))?;
                let v = Milli::parse(text).ok_or_else(|| {
                    err(
                        self.query.aggregate().column(),
                        "not a decimal number with at most 15 digits before the point".to_owned(),
                    )
                })?;
                Some(v)
            }
        };
        let mut key = std::mem::take(&mut self.key);
        key.clear();
        for n in 0..self.group_at.len() {
            let at = self.group_at[n];
            let text = match std::str::from_utf8(field(&self.fields, &mut self.value, record, at)) {
                Ok(t) if !t.contains(KEY_SEPARATOR) => t,
                _ => {
                    self.key = key;
                    let column = self.query.group_by()[n].clone();
                    return Err(err(Some(&column), "not UTF-8 text".to_owned()));
                }
            };
            if n > 0 {
                key.push(KEY_SEPARATOR);
            }
            key.push_str(text);
        }
        let person = field(&self.fields, &mut self.value, record, self.person_at);
        if person.is_empty() {
            self.key = key;
            return Err(err(
                Some(self.query.person()),
                "no person: the row cannot be bounded".to_owned(),
            ));
        }
        let next = u32::try_from(self.persons.len()).unwrap_or(u32::MAX);
        let limit = self.query.rows_per_person();
        let entry = match self.persons.get_mut(person) {
            Some(e) => e,
            None => {
                let person: Box<[u8]> = person.into();
                self.persons.entry(person).or_insert((next, 0))
            }
        };
        if entry.1 >= limit {
            self.tally.rows_over_limit += 1;
            self.key = key;
            return Ok(());
        }
        entry.1 += 1;
        let person = entry.0;
        let group = match self.groups.get(key.as_str()) {
            Some(&g) => g,
            None => {
                let g = u32::try_from(self.tallies.len()).unwrap_or(u32::MAX);
                let bins = match self.query.aggregate() {
                    Aggregate::Histogram { edges, .. } => vec![0; edges.len() - 1],
                    _ => Vec::new(),
                };
                self.tallies.push(GroupTally {
                    key: key.split(KEY_SEPARATOR).map(str::to_owned).collect(),
                    persons: 0,
                    rows: 0,
                    sum: 0,
                    bins,
                });
                if self.group_at.is_empty() {
                    self.tallies[g as usize].key.clear();
                }
                self.groups.insert(key.as_str().into(), g);
                g
            }
        };
        self.key = key;
        let t = &mut self.tallies[group as usize];
        if self.members.insert((group, person)) {
            t.persons += 1;
        }
        t.rows += 1;
        match (self.query.aggregate(), value) {
            (Aggregate::Sum { bounds, .. } | Aggregate::Mean { bounds, .. }, Some(v)) => {
                t.sum += i128::from(bounds.clamp(v).0);
            }
            (Aggregate::Histogram { edges, .. }, Some(v)) => {
                let bin = edges.partition_point(|e| *e <= v).saturating_sub(1);
                let last = t.bins.len() - 1;
                t.bins[bin.min(last)] += 1;
            }
            _ => {}
        }
        Ok(())
    }

    pub fn query(&self) -> &Query {
        &self.query
    }

    /// The exact tally, groups in key order.
    pub fn finish(self) -> Tally {
        let mut tally = self.tally;
        tally.persons = self.persons.len() as u64;
        tally.groups = self.tallies;
        tally.groups.sort_by(|a, b| a.key.cmp(&b.key));
        tally
    }
}
