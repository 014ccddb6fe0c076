//! Which request plans wait for an agent's approval (issue 31): the policy's `[review]`.

use tutela_core::datamap::Rectify;
use tutela_core::render::Lang;
use tutela_core::review::{self, Review, Why};

use crate::support::{errors_of, reference};

// covers: N9e
#[test]
fn erasure_of_contract_data_is_reviewed_and_of_consent_or_interest_data_is_not() {
    let p = reference();
    // Names, addresses and risk results are processed for a contract or a legal duty
    // somewhere: an agent reviews.
    for c in ["identity", "risk_result"] {
        assert!(review::erasure(&p, [c]).is_needed(), "{c}");
    }
    // Call recordings are processed only on consent and legitimate interests (N24): their
    // erasure runs unreviewed, and together with a name it is the name that needs review.
    let r = review::erasure(&p, ["identity", "call_audio"]);
    assert!(r.is_needed(), "{r:?}");
    assert!(r.reason().contains("identity"), "{r:?}");
    assert!(!r.reason().contains("call_audio"), "{r:?}");
    let r = review::erasure(&p, ["call_audio"]);
    assert!(!r.is_needed(), "{r:?}");
    // Nothing erased, nothing to review; an unknown category is always reviewed.
    assert!(!review::erasure(&p, []).is_needed());
    assert!(review::erasure(&p, ["not_a_category"]).is_needed());
}

// covers: N9e
#[test]
fn without_a_review_section_every_erasure_is_reviewed() {
    let mut p = reference();
    let audio = p
        .categories
        .iter()
        .position(|c| c.id == "call_audio")
        .expect("call_audio");
    for purpose in &mut p.purposes {
        if purpose.id != "call_recording" {
            purpose.categories.retain(|&c| c != audio);
        }
    }
    assert!(!review::erasure(&p, ["call_audio"]).is_needed());
    p.review.erasure_without_review.clear();
    assert!(review::erasure(&p, ["call_audio"]).is_needed());
}

// covers: N9b
#[test]
fn rectification_is_reviewed_unless_only_the_persons_contact_data_changes() {
    let r = review::rectification([Rectify::Person, Rectify::Person]);
    assert_eq!(r, Review::NotNeeded(Why::OnlyPersonFields));
    assert_eq!(
        r.reason(),
        "the plan changes only fields the person may change (contact data)"
    );
    assert!(review::rectification([Rectify::Person, Rectify::Agent]).is_needed());
    assert!(!review::rectification([]).is_needed());
}

#[test]
fn a_contract_basis_can_never_skip_review() {
    let text = crate::support::REFERENCE.replace(
        "erasure_without_review = [\"eu-gdpr:A6-1-a\", \"eu-gdpr:A6-1-f\"]",
        "erasure_without_review = [\"eu-gdpr:A6-1-b\", \"eu-gdpr:A6-1-z\"]",
    );
    let errors = errors_of(&text);
    assert!(errors.contains("never erased without review"), "{errors}");
    assert!(errors.contains("bad.toml:"), "{errors}");
    assert!(errors.contains("A6-1-z"), "{errors}");
}

#[test]
fn the_reason_is_told_in_german_and_english_with_the_policys_labels() {
    let p = reference();
    let r = review::erasure(&p, ["identity"]);
    let de = r.words(&p, Lang::De);
    assert!(de.contains("Identitätsdaten (Name, Geburtsdatum)"), "{de}");
    assert!(!de.contains("identity"), "{de}");
    let en = r.words(&p, Lang::En);
    assert!(en.contains("Identity data (name, date of birth)"), "{en}");
    let ok = review::erasure(&p, ["call_audio"]).words(&p, Lang::De);
    assert!(
        ok.contains("Einwilligung (Art. 6 Abs. 1 lit. a DSGVO)"),
        "{ok}"
    );
}
