//! Free text through the PII recognisers and every redaction operator (N24, N25): nothing
//! The body lives in `fuzz/checks/redact.rs`, shared with the corpus replay that every test
//! run does (`crates/tutela-cli/tests/fuzz_replay.rs`).
#![no_main]

#[path = "../checks/redact.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
