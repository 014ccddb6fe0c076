//! Scorecard model files: read, compiled, and used to score an applicant.

use std::collections::HashMap;

use tutela_core::risk::Scorecard;

/// The target's body, run on one input: a panic is a finding.
pub fn check(data: &[u8]) {
    // As `tutela risk` and the server read a model file: parsed, then validated.
    if let Ok(card) = serde_json::from_slice::<Scorecard>(data)
        && card.validate().is_ok()
    {
        let applicant: HashMap<String, String> = card
            .features
            .iter()
            .map(|f| (f.name.clone(), "1".to_owned()))
            .collect();
        let _ = card.score(&applicant);
        let _ = card.compile();
    }
}
