//! Dataset maps of the operator's databases, validated against the reference policy.
//! The body lives in `fuzz/checks/datamap.rs`, shared with the corpus replay that every test
//! run does (`crates/tutela-cli/tests/fuzz_replay.rs`).
#![no_main]

#[path = "../checks/datamap.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
