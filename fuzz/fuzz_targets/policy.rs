//! The policy parser and validator, then the compiler, on any file.
//! The body lives in `fuzz/checks/policy.rs`, shared with the corpus replay that every test
//! run does (`crates/tutela-cli/tests/fuzz_replay.rs`).
#![no_main]

#[path = "../checks/policy.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
