//! Data subject request bodies, parsed as `POST /v1/requests` does.

/// The target's body, run on one input: a panic is a finding.
pub fn check(data: &[u8]) {
    let _ = tutela_server::fuzzing::request_body(data);
}
