//! IAB TCF v2.2/v2.3 consent strings from banners.
//! The body lives in `fuzz/checks/tcf.rs`, shared with the corpus replay that every test
//! run does (`crates/tutela-cli/tests/fuzz_replay.rs`).
#![no_main]

#[path = "../checks/tcf.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
