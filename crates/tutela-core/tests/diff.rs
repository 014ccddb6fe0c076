//! Policy diffs in words: widening `phone_marketing` is a change its consents do not cover.

use tutela_core::diff;
use tutela_core::policy::{MemoryLoader, load_policy};

use crate::support::{REFERENCE, reference};

// covers: N33
#[test]
fn widening_a_consent_purpose_asks_for_renewal() {
    let old = reference();
    assert!(diff::diff(&old, &old).is_empty(), "no change, no words");
    let text = REFERENCE
        .replace(
            "categories = [\"identity\", \"contact\"]\nchannels = [\"phone\"]",
            "categories = [\"identity\", \"contact\", \"contract\"]\nchannels = [\"phone\"]",
        )
        .replace("period = \"P1Y\"", "period = \"P2Y\"")
        .replace(
            "country = \"BR\"\ndecided = \"2026-01-27\"",
            "country = \"KE\"\ndecided = \"2026-10-01\"",
        );
    let new = load_policy(&MemoryLoader::new().with("p.toml", &text), "p.toml")
        .unwrap_or_else(|e| unreachable!("{e}"));
    let changes = diff::diff(&old, &new);
    let phone = changes
        .iter()
        .find(|c| c.subject == "phone_marketing")
        .unwrap_or_else(|| unreachable!("{changes:?}"));
    assert!(phone.widens_consent);
    assert_eq!(
        phone.en,
        "Consent-based purpose `phone_marketing` now also uses `contract`."
    );
    assert_eq!(
        phone.de,
        "Einwilligungsbasierter Zweck `phone_marketing` verwendet jetzt auch `contract`."
    );
    assert!(
        changes
            .iter()
            .any(|c| c.en == "Retention rule `risk_check_result`: P2Y instead of P1Y.")
    );
    assert!(
        changes
            .iter()
            .any(|c| c.en == "The adequacy decision for BR is withdrawn.")
    );
    assert!(
        changes
            .iter()
            .any(|c| c.en == "New adequacy decision for KE of 2026-10-01.")
    );
    assert_eq!(changes.iter().filter(|c| c.widens_consent).count(), 1);
}
