//! CSV files through the table pseudonymiser (issue 6), fed in pieces whose size the input
//! The body lives in `fuzz/checks/pseudonymise.rs`, shared with the corpus replay that every test
//! run does (`crates/tutela-cli/tests/fuzz_replay.rs`).
#![no_main]

#[path = "../checks/pseudonymise.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
