//! tutela-core's integration tests, one binary: policy validation, the decision scenarios,
//! notice rendering and clause coverage.

#![allow(
    clippy::panic,
    clippy::print_stderr,
    reason = "test helpers fail by panicking and say why they skip"
)]

mod support {
    use tutela_core::compiled::CompiledPolicy;
    use tutela_core::policy::{MemoryLoader, Policy, load_policy};

    pub const REFERENCE: &str = include_str!("../../../policies/reference.toml");
    pub const SCENARIOS: &str = include_str!("../../../tests/scenarios/decisions.toml");

    pub fn reference() -> Policy {
        let loader = MemoryLoader::new().with("reference.toml", REFERENCE);
        match load_policy(&loader, "reference.toml") {
            Ok(p) => p,
            Err(e) => unreachable!("the reference policy must load:\n{e}"),
        }
    }

    pub fn compiled() -> CompiledPolicy {
        CompiledPolicy::new(reference())
    }

    /// Loads `text` as `bad.toml` and returns the rendered errors.
    pub fn errors_of(text: &str) -> String {
        let loader = MemoryLoader::new().with("bad.toml", text);
        match load_policy(&loader, "bad.toml") {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }
}

mod coverage;
mod datamap;
mod decisions;
mod diff;
mod gate;
mod policy_check;
mod pseudonym;
mod record;
mod render;
mod requests;
mod retention;
mod review;
mod risk;
mod stats;
mod tcf;
mod transfers;
mod write_rules;
