//! Dataset maps of the operator's databases, validated against the reference policy.

use std::sync::OnceLock;

use tutela_core::policy::{MemoryLoader, Policy, load_policy};

static POLICY: OnceLock<Policy> = OnceLock::new();

/// The target's body, run on one input: a panic is a finding.
pub fn check(data: &[u8]) {
    let policy = POLICY.get_or_init(|| {
        let text = include_str!("../../policies/reference.toml");
        load_policy(
            &MemoryLoader::new().with("reference.toml", text),
            "reference.toml",
        )
        .expect("the reference policy loads")
    });
    let text = String::from_utf8_lossy(data);
    if let Ok(map) = tutela_core::datamap::load("d.toml", &text, policy) {
        let _ = tutela_core::datamap::children(&map);
    }
}
