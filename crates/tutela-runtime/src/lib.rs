//! Everything of tutela that runs without HTTP.
//!
//! The [`Engine`] holds the policy and every person's decision state in memory and commits
//! writes through its single writer (`engine/writer.rs`); [`requests`] runs data subject requests from
//! filing to the sealed result; the jobs (requests, retention, pseudonymised datasets, purges,
//! log sealing, activation, the event stream) run in a scheduler that `tutela serve` starts.
//! The HTTP API and the pages (`tutela-server`) and the CLI call into this crate; it knows no
//! HTTP server, no templates and no OpenAPI (a test checks that from `cargo metadata`).

pub mod activation;
pub mod dataset_files;
pub mod engine;
pub mod events;
pub use engine::follow;
pub mod gate;
pub mod hmac_key;
mod http_post;
pub mod jobs;
pub mod lease;
pub mod metrics;
pub mod one_time_code;
pub mod operators;
pub mod pseudonymised;
pub mod records;
pub mod requests;
pub mod retention;
pub mod risk;
pub mod signin;
pub mod statistics;
pub mod verifiable_log;

#[cfg(test)]
mod architecture;
#[cfg(test)]
mod file_cycles;

pub use engine::{Engine, EngineError};

/// A new random API token (32 bytes, hex).
pub fn generate_token() -> Result<String, getrandom::Error> {
    random_hex(32)
}

/// `bytes` random bytes from the operating system, as hex: ids, codes, salts, tokens. There is
/// no fallback: without randomness nothing that needs it is made.
pub fn random_hex(bytes: usize) -> Result<String, getrandom::Error> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b)?;
    Ok(hex(&b))
}

/// Whether two secrets are equal, in time independent of where they first differ: tokens,
/// code hashes, form tokens, one-time codes.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates the key file `path` readable by the owner only, the text and a line end, synced; an
/// existing file is never overwritten (the log key, the HMAC key).
pub(crate) fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}
