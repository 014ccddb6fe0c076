//! CSV input: training files and audience lists (RFC 4180 reader).

/// The target's body, run on one input: a panic is a finding.
pub fn check(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = tutela_core::csv::parse(text);
    }
}
