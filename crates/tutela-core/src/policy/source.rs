//! A policy file's text, and the file parsed: what loading hands to validation. Its own file so
//! that loading (which calls validation) and validation (which reads the parsed files) do not
//! depend on each other.

use super::error::{PolicyError, line_column};
use super::raw::RawPolicy;

/// One policy file's text and the name errors should show for it.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
}

/// A parsed file, root first.
pub(crate) struct ParsedFile {
    pub source: Source,
    pub raw: RawPolicy,
}

impl ParsedFile {
    pub fn error(&self, span: std::ops::Range<usize>, message: String, help: &str) -> PolicyError {
        let (line, column) = line_column(&self.source.text, span.start);
        PolicyError {
            file: self.source.name.clone(),
            line,
            column,
            message,
            help: help.to_owned(),
        }
    }
}
