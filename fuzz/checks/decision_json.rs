//! Decision request bodies (single and batch), parsed and decided as the API does.

use std::sync::OnceLock;

use tutela_core::compiled::CompiledPolicy;
use tutela_core::policy::{MemoryLoader, load_policy};

static POLICY: OnceLock<CompiledPolicy> = OnceLock::new();

/// The target's body, run on one input: a panic is a finding.
pub fn check(data: &[u8]) {
    let policy = POLICY.get_or_init(|| {
        let text = include_str!("../../policies/reference.toml");
        CompiledPolicy::new(
            load_policy(
                &MemoryLoader::new().with("reference.toml", text),
                "reference.toml",
            )
            .expect("the reference policy loads"),
        )
    });
    let _ = tutela_server::fuzzing::decision_body(policy, data);
}
