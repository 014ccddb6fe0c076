//! IAB TCF v2.2/v2.3 consent strings from banners.

/// The target's body, run on one input: a panic is a finding.
pub fn check(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = tutela_core::tcf::decode(text);
    }
}
