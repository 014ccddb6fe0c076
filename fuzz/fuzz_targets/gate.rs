//! Events through the gate's transform (issue 11): arbitrary bytes as an event of the
//! The body lives in `fuzz/checks/gate.rs`, shared with the corpus replay that every test
//! run does (`crates/tutela-cli/tests/fuzz_replay.rs`).
#![no_main]

#[path = "../checks/gate.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
