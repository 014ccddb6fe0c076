//! IAB TCF v2.2/v2.3 consent strings from banners.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = tutela_core::tcf::decode(text);
    }
});
