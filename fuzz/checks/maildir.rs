//! Messages from a Maildir, as `tutela intake maildir` reads them: parsed, then classified.

/// The target's body, run on one input: a panic is a finding.
pub fn check(data: &[u8]) {
    let parsed = mail_parser::MessageParser::default().parse(data);
    let (subject, text) = match &parsed {
        Some(m) => (
            m.subject().unwrap_or("").to_owned(),
            m.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
        ),
        None => (String::new(), String::from_utf8_lossy(data).into_owned()),
    };
    let _ = tutela_core::intake::classify(&subject, &text);
}
