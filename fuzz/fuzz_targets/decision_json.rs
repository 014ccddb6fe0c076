//! Decision request bodies (single and batch), parsed and decided as the API does.
//! The body lives in `fuzz/checks/decision_json.rs`, shared with the corpus replay that every test
//! run does (`crates/tutela-cli/tests/fuzz_replay.rs`).
#![no_main]

#[path = "../checks/decision_json.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
