//! CSV input: training files and audience lists (RFC 4180 reader).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = tutela_core::csv::parse(text);
    }
});
