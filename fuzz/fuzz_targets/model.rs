//! Scorecard model files: read, compiled, and used to score an applicant.
//! The body lives in `fuzz/checks/model.rs`, shared with the corpus replay that every test
//! run does (`crates/tutela-cli/tests/fuzz_replay.rs`).
#![no_main]

#[path = "../checks/model.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
