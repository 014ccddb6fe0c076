//! Pseudonymising CSV tables (RFC 4180) as a stream: the caller feeds bytes as they come and
//! writes what comes out, so a file of any size passes through in constant memory. Fields that
//! are not pseudonymised are copied byte for byte, quotes and line ends included.
//!
//! A row that cannot be read (bad UTF-8, a stray quote, the wrong number of fields) or whose
//! identifier is malformed is an error naming its line and column, never its content; the
//! caller chooses whether it stops the run or goes to a reject file.

use super::{DomainPseudonyms, Method, identifiers};

/// One column to pseudonymise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    pub column: String,
    pub method: Method,
}

/// What is wrong before any row is read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("the header names no column `{0}`; the columns are: {1}")]
    UnknownColumn(String, String),
    #[error("column `{0}` is named twice")]
    DuplicateColumn(String),
    #[error("the file has no header line")]
    NoHeader,
    #[error("the header line: {0}")]
    Header(&'static str),
}

/// A row that was not pseudonymised: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}{}: {what}", column.as_ref().map(|c| format!(", column `{c}`")).unwrap_or_default())]
pub struct RowError {
    pub line: usize,
    pub column: Option<String>,
    pub what: String,
}

/// What [`TablePseudonymiser::process`] did with a chunk.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes of the input consumed: every complete record.
    pub consumed: usize,
    pub rows: u64,
    pub pseudonyms: u64,
}

/// Whether a bad row stops the run or is set aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnBadRow {
    Stop,
    Reject,
}

#[derive(Debug)]
pub struct TablePseudonymiser {
    domain: DomainPseudonyms,
    names: Vec<String>,
    methods: Vec<Option<Method>>,
    /// The line the next record starts on (the header is line 1).
    line: usize,
    fields: Vec<(usize, usize, bool)>,
    value: Vec<u8>,
    text: String,
}

/// The fields of one record: (start, end, quoted) within `record`, the record's end (after
/// its line break) and the number of line breaks in it; `Ok(None)` when `input` holds no
/// complete record and more may come.
type Split = Option<(usize, usize)>;

pub(crate) fn split_record(
    input: &[u8],
    last: bool,
    fields: &mut Vec<(usize, usize, bool)>,
) -> Result<Split, (&'static str, usize)> {
    fields.clear();
    // Most records are one line without quotes: find the line end and the commas, with SIMD.
    let newline = memchr::memchr(b'\n', input);
    let line_end = match newline {
        Some(e) => e,
        None if last => input.len(),
        None => return Ok(None),
    };
    let line = &input[..line_end];
    if memchr::memchr(b'"', line).is_none() {
        let content = line.strip_suffix(b"\r").unwrap_or(line);
        let mut start = 0;
        for comma in memchr::memchr_iter(b',', content) {
            fields.push((start, comma, false));
            start = comma + 1;
        }
        fields.push((start, content.len(), false));
        return Ok(Some(match newline {
            Some(e) => (e + 1, 1),
            None => (input.len(), 0),
        }));
    }
    let mut i = 0;
    let mut breaks = 0;
    loop {
        let start = i;
        if input.get(i) == Some(&b'"') {
            i += 1;
            loop {
                match memchr::memchr(b'"', &input[i..]) {
                    None if last => return Err(("a quoted field is not closed", breaks)),
                    None => return Ok(None),
                    Some(q) => {
                        breaks += memchr::memchr_iter(b'\n', &input[i..i + q]).count();
                        i += q + 1;
                        if input.get(i) == Some(&b'"') {
                            i += 1;
                        } else if i == input.len() && !last {
                            return Ok(None);
                        } else {
                            break;
                        }
                    }
                }
            }
            fields.push((start, i, true));
        } else {
            let end =
                memchr::memchr3(b',', b'\n', b'"', &input[i..]).map_or(input.len(), |e| i + e);
            if input.get(end) == Some(&b'"') {
                return Err(("a quote inside an unquoted field", breaks));
            }
            i = end;
            let field_end = if input.get(i) == Some(&b'\n') && i > start && input[i - 1] == b'\r' {
                i - 1
            } else {
                i
            };
            fields.push((start, field_end, false));
        }
        match input.get(i) {
            Some(b',') => i += 1,
            Some(b'\n') => return Ok(Some((i + 1, breaks + 1))),
            Some(b'\r') if input.get(i + 1) == Some(&b'\n') => {
                return Ok(Some((i + 2, breaks + 1)));
            }
            Some(b'\r') if i + 1 == input.len() && !last => return Ok(None),
            None if last => return Ok(Some((i, breaks))),
            None => return Ok(None),
            Some(_) => return Err(("a quoted field is followed by more than a comma", breaks)),
        }
    }
}

/// A record `split_record` could not read, skipped to the end of its line so the rest of the
/// file is read anew: its length, its line breaks and its error; `None` when the line's end
/// has not arrived yet.
pub(crate) fn unreadable(
    rest: &[u8],
    last: bool,
    breaks: usize,
    line: usize,
    what: &str,
) -> Option<(usize, usize, RowError)> {
    let len = match memchr::memchr(b'\n', rest) {
        Some(e) => e + 1,
        None if last => rest.len(),
        None => return None,
    };
    let err = RowError {
        line,
        column: None,
        what: what.to_owned(),
    };
    Some((len, breaks.max(1), err))
}

pub(crate) fn unquote(raw: &[u8], quoted: bool, out: &mut Vec<u8>) {
    out.clear();
    if !quoted {
        out.extend_from_slice(raw);
        return;
    }
    let inner = &raw[1..raw.len() - 1];
    let mut prev_quote = false;
    for &c in inner {
        if c == b'"' && prev_quote {
            prev_quote = false;
            continue;
        }
        prev_quote = c == b'"';
        out.push(c);
    }
}

impl TablePseudonymiser {
    /// Reads the header at the start of `input` and checks the columns; returns the
    /// pseudonymiser and the bytes of the header, which the caller copies to its output.
    pub fn new(
        domain: DomainPseudonyms,
        specs: &[ColumnSpec],
        input: &[u8],
    ) -> Result<(TablePseudonymiser, usize), TableError> {
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
        let mut methods = vec![None; names.len()];
        for spec in specs {
            let Some(i) = names.iter().position(|n| *n == spec.column) else {
                return Err(TableError::UnknownColumn(
                    spec.column.clone(),
                    names.join(", "),
                ));
            };
            if methods[i].replace(spec.method).is_some() {
                return Err(TableError::DuplicateColumn(spec.column.clone()));
            }
        }
        Ok((
            TablePseudonymiser {
                domain,
                names,
                methods,
                line: 1 + breaks,
                fields,
                value,
                text: String::new(),
            },
            end,
        ))
    }

    /// Pseudonymises the complete records at the start of `input` into `out`; with `last`, the
    /// input is the end of the file. Bad rows go to `rejects` (raw, as they were) with their
    /// error in `errors`, or, with [`OnBadRow::Stop`], end the call with the error.
    pub fn process(
        &mut self,
        input: &[u8],
        last: bool,
        on_bad: OnBadRow,
        out: &mut Vec<u8>,
        rejects: &mut Vec<u8>,
        errors: &mut Vec<RowError>,
    ) -> Result<Progress, RowError> {
        let mut progress = Progress::default();
        // UTF-8 is checked once for the chunk; only records past a bad (or cut) byte again.
        let valid_to = match std::str::from_utf8(input) {
            Ok(_) => input.len(),
            Err(e) => e.valid_up_to(),
        };
        while progress.consumed < input.len() {
            let rest = &input[progress.consumed..];
            let line = self.line;
            let (len, breaks, outcome) = match split_record(rest, last, &mut self.fields) {
                Ok(None) => break,
                Ok(Some((len, breaks))) => {
                    let record = &rest[..len];
                    let mark = out.len();
                    let checked = progress.consumed + len <= valid_to;
                    let outcome = self.row(record, checked, line, out);
                    match outcome {
                        Ok(n) => progress.pseudonyms += n,
                        Err(_) => out.truncate(mark),
                    }
                    (len, breaks, outcome.map(|_| ()))
                }
                Err((what, breaks)) => match unreadable(rest, last, breaks, line, what) {
                    Some((len, breaks, err)) => (len, breaks, Err(err)),
                    None => break,
                },
            };
            self.line += breaks;
            if let Err(e) = outcome {
                if on_bad == OnBadRow::Stop {
                    return Err(e);
                }
                rejects.extend_from_slice(&rest[..len]);
                errors.push(e);
            }
            progress.consumed += len;
            progress.rows += 1;
        }
        Ok(progress)
    }

    /// Writes the record with its pseudonyms; the number of pseudonyms made.
    fn row(
        &mut self,
        record: &[u8],
        utf8_checked: bool,
        line: usize,
        out: &mut Vec<u8>,
    ) -> Result<u64, RowError> {
        let err = |column: Option<&String>, what: String| RowError {
            line,
            column: column.cloned(),
            what,
        };
        if !utf8_checked && std::str::from_utf8(record).is_err() {
            return Err(err(None, "not UTF-8".to_owned()));
        }
        if self.fields.len() != self.methods.len() {
            return Err(err(
                None,
                format!(
                    "{} fields where the header has {}",
                    self.fields.len(),
                    self.methods.len()
                ),
            ));
        }
        let mut copied = 0;
        let mut made = 0;
        for (i, &(s, e, quoted)) in self.fields.iter().enumerate() {
            let Some(method) = self.methods[i] else {
                continue;
            };
            if e == s {
                continue;
            }
            made += 1;
            out.extend_from_slice(&record[copied..s]);
            copied = e;
            let value = if quoted {
                unquote(&record[s..e], quoted, &mut self.value);
                &self.value[..]
            } else {
                &record[s..e]
            };
            match method {
                Method::Hmac => self.domain.hmac_into(value, out),
                Method::Ff1(id) => {
                    // UTF-8 was checked for the whole record.
                    let value = std::str::from_utf8(value).unwrap_or_default();
                    self.text.clear();
                    identifiers::transform(self.domain.ff1(), id, value, true, &mut self.text)
                        .map_err(|e| err(Some(&self.names[i]), e.to_string()))?;
                    out.extend_from_slice(self.text.as_bytes());
                }
            }
        }
        out.extend_from_slice(&record[copied..]);
        Ok(made)
    }
}
