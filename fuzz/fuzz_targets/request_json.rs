//! Data subject request bodies, parsed as `POST /v1/requests` does.
//! The body lives in `fuzz/checks/request_json.rs`, shared with the corpus replay that every test
//! run does (`crates/tutela-cli/tests/fuzz_replay.rs`).
#![no_main]

#[path = "../checks/request_json.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
