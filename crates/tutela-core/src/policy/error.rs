//! Policy errors that name file, line and column, what is wrong and how to fix it.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file, self.line, self.column, self.message
        )?;
        if !self.help.is_empty() {
            write!(f, "\n  help: {}", self.help)?;
        }
        Ok(())
    }
}

/// Every error found in one validation run, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Errors of a TOML file parsed with spans (dataset maps, gate routes), collected in file
/// order with line and column.
pub(crate) struct SpannedErrors<'a> {
    pub file: &'a str,
    pub text: &'a str,
    pub list: Vec<PolicyError>,
}

impl<'a> SpannedErrors<'a> {
    pub fn new(file: &'a str, text: &'a str) -> SpannedErrors<'a> {
        SpannedErrors {
            file,
            text,
            list: Vec::new(),
        }
    }

    pub fn at(&mut self, span: std::ops::Range<usize>, message: String, help: &str) {
        let (line, column) = line_column(self.text, span.start);
        self.list.push(PolicyError {
            file: self.file.to_owned(),
            line,
            column,
            message,
            help: help.to_owned(),
        });
    }
}

/// Line and column (both from 1, column in characters) of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before
        .get(line_start..)
        .map_or(1, |s| s.chars().count() + 1);
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::line_column;

    #[test]
    fn line_column_counts_from_one_in_characters() {
        let text = "a = 1\nbä = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 9), (2, 3));
        assert_eq!(line_column(text, 999), (3, 1));
    }
}
