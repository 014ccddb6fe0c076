//! The policy parser and validator, then the compiler, on any file.

use tutela_core::compiled::CompiledPolicy;
use tutela_core::policy::{MemoryLoader, load_policy};

/// The target's body, run on one input: a panic is a finding.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let loader = MemoryLoader::new().with("p.toml", &text);
    if let Ok(p) = load_policy(&loader, "p.toml") {
        let _ = CompiledPolicy::new(p);
    }
}
