//! Messages from a Maildir, as `tutela intake maildir` reads them: parsed, then classified.
//! The body lives in `fuzz/checks/maildir.rs`, shared with the corpus replay that every test
//! run does (`crates/tutela-cli/tests/fuzz_replay.rs`).
#![no_main]

#[path = "../checks/maildir.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
