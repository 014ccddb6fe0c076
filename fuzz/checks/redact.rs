//! Free text through the PII recognisers and every redaction operator (N24, N25): nothing
//! panics, every finding lies on character boundaries inside the text, in order, without
//! overlap, and a redacted text keeps what lies between findings.

use std::sync::OnceLock;

use tutela_core::pseudonym::{DomainPseudonyms, PseudonymKeys};
use tutela_core::redact::{Operator, Recognisers, redact};

fn recognisers() -> &'static (Recognisers, DomainPseudonyms) {
    static R: OnceLock<(Recognisers, DomainPseudonyms)> = OnceLock::new();
    R.get_or_init(|| {
        let r = Recognisers::new(Some(r"\bKD-[0-9]{7}\b"))
            .and_then(|r| r.with_names(&["Anna Müller".to_owned(), "Øyvind Ærø".to_owned()]))
            .expect("recognisers");
        let d = PseudonymKeys::new("pk-fuzz", [9; 32])
            .domain("ai_training", None)
            .expect("domain");
        (r, d)
    })
}

/// The target's body, run on one input: a panic is a finding.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (r, d) = recognisers();
    let findings = r.find(&text);
    let mut at = 0;
    for f in &findings {
        assert!(at <= f.start && f.start < f.end && f.end <= text.len());
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        at = f.end;
    }
    for op in [Operator::Replace, Operator::Mask, Operator::Pseudonym(d)] {
        let out = redact(&text, &findings, op);
        if findings.is_empty() {
            assert_eq!(out, text);
        }
    }
}
