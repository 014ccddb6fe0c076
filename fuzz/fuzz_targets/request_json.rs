//! Data subject request bodies, parsed as `POST /v1/requests` does.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tutela_server::fuzzing::request_body(data);
});
