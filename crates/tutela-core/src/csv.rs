//! CSV text (RFC 4180): reading (quoted fields, doubled quotes, CRLF or LF) and writing (fields
//! quoted where they must be, CRLF line ends). Small on purpose: training files, audience
//! lists, exports and reports fit in memory.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct CsvError {
    pub line: usize,
    pub what: &'static str,
}

/// One field as RFC 4180 writes it: quoted, with quotes doubled, when it holds a comma, a quote
/// or a line break. A field a spreadsheet would run as a formula (starting with `=`, `+`, `-`,
/// `@`, a tab or a carriage return, and not a plain number) gets a leading `'`, so an export
/// opened in a spreadsheet shows what a person or a system typed instead of running it.
pub fn field(v: &str) -> std::borrow::Cow<'_, str> {
    let v: std::borrow::Cow<'_, str> = if is_formula(v) {
        std::borrow::Cow::Owned(format!("'{v}"))
    } else {
        std::borrow::Cow::Borrowed(v)
    };
    if v.contains([',', '"', '\r', '\n']) {
        std::borrow::Cow::Owned(format!("\"{}\"", v.replace('"', "\"\"")))
    } else {
        v
    }
}

/// Whether a spreadsheet would take `v` as a formula: it starts with a formula character and
/// is not simply a signed decimal number (`-12.5`, `+4915112345678` stay as they are).
fn is_formula(v: &str) -> bool {
    let Some(first) = v.chars().next() else {
        return false;
    };
    if !matches!(first, '=' | '+' | '-' | '@' | '\t' | '\r') {
        return false;
    }
    let rest = &v[1..];
    let number = matches!(first, '+' | '-')
        && !rest.is_empty()
        && rest.chars().all(|c| c.is_ascii_digit() || c == '.')
        && rest.chars().filter(|&c| c == '.').count() <= 1
        && rest.chars().next().is_some_and(|c| c.is_ascii_digit());
    !number
}

/// Appends one record to `out`, ended by CRLF.
pub fn write_row<'a>(out: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&field(f));
    }
    out.push_str("\r\n");
}

/// The records of `text`, the header first; blank lines are skipped.
pub fn parse(text: &str) -> Result<Vec<Vec<String>>, CsvError> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut line = 1;
    let mut start_line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            '"' => {
                return Err(CsvError {
                    line,
                    what: "a quote inside an unquoted field",
                });
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                was_quoted = false;
                if !(record.len() == 1 && record[0].is_empty()) {
                    records.push(std::mem::take(&mut record));
                } else {
                    record.clear();
                }
                line += 1;
                start_line = line;
            }
            c => {
                if was_quoted {
                    return Err(CsvError {
                        line,
                        what: "text after a closing quote",
                    });
                }
                field.push(c);
            }
        }
    }
    if quoted {
        return Err(CsvError {
            line: start_line,
            what: "a quoted field is not closed",
        });
    }
    if !field.is_empty() || !record.is_empty() || was_quoted {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::{CsvError, field, parse};

    #[test]
    fn formulas_are_neutralised_and_numbers_kept() {
        for (cell, written) in [
            (
                "=HYPERLINK(\"http://x\")",
                "\"'=HYPERLINK(\"\"http://x\"\")\"",
            ),
            ("+SUM(A1)", "'+SUM(A1)"),
            ("-2+3", "'-2+3"),
            ("@cmd", "'@cmd"),
            ("\tx", "'\tx"),
            ("-12.5", "-12.5"),
            ("+4915112345678", "+4915112345678"),
            ("-", "'-"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(field(cell), written, "{cell}");
        }
    }

    #[test]
    fn quoted_fields_and_line_ends() {
        let rows = parse("a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\n\n1,\"two\nlines\"").expect("parses");
        assert_eq!(
            rows,
            vec![
                vec!["a", "b"],
                vec!["x, y", "say \"hi\""],
                vec!["1", "two\nlines"]
            ]
        );
    }

    #[test]
    fn written_rows_read_back() {
        let mut out = String::new();
        super::write_row(&mut out, ["plain", "a, b", "say \"hi\"", "two\nlines", ""]);
        assert_eq!(out, "plain,\"a, b\",\"say \"\"hi\"\"\",\"two\nlines\",\r\n");
        assert_eq!(
            parse(&out).expect("parses"),
            vec![vec!["plain", "a, b", "say \"hi\"", "two\nlines", ""]]
        );
    }

    #[test]
    fn broken_quotes_name_the_line() {
        assert_eq!(
            parse("a\n\"open"),
            Err(CsvError {
                line: 2,
                what: "a quoted field is not closed"
            })
        );
        assert_eq!(
            parse("a\nb\"c"),
            Err(CsvError {
                line: 2,
                what: "a quote inside an unquoted field"
            })
        );
    }
}
