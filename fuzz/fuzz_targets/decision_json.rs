//! Decision request bodies (single and batch), parsed and decided as the API does.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tutela_core::compiled::CompiledPolicy;
use tutela_core::policy::{MemoryLoader, load_policy};

static POLICY: OnceLock<CompiledPolicy> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
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
});
