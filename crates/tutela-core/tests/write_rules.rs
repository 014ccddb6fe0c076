//! What a ledger write may contain (write_rules.rs): each rule refuses, names the field and
//! says how to fix it; and what an erasure keeps.

use tutela_core::basis::{ContractKind, CountryCode, Relationship};
use tutela_core::compiled::{EventError, EventErrorKind};
use tutela_core::ledger::{EventKind, LedgerEvent};
use tutela_core::state::SubjectState;
use tutela_core::write_rules::{
    MAX_EVIDENCE, RETAINED_RECORDS, TCF_SOURCE, WriteTexts, check_texts, evidence_to_keep,
};

use crate::support::compiled;

fn consent(source: &str) -> EventKind {
    EventKind::Consent {
        purpose: "email_marketing".into(),
        channel: Some("email".into()),
        granted: true,
        source: source.into(),
        notice_version: "2026-01".into(),
    }
}

fn india() -> CountryCode {
    CountryCode::parse("IN").unwrap_or_else(|| unreachable!())
}

fn evidence(text: &str) -> WriteTexts<'_> {
    WriteTexts {
        evidence: Some(text),
        ..WriteTexts::default()
    }
}

fn reason(text: &str) -> WriteTexts<'_> {
    WriteTexts {
        reason: Some(text),
        ..WriteTexts::default()
    }
}

/// The field an invalid-field refusal names; it must carry a fix.
fn refused_field(result: Result<(), EventError>) -> Option<&'static str> {
    let e = result.err()?;
    assert_eq!(e.kind, EventErrorKind::InvalidField, "{e:?}");
    assert!(e.fix.is_some_and(|f| !f.is_empty()), "{e:?}");
    Some(e.field)
}

#[test]
fn a_consent_names_its_source_in_1_to_64_characters() {
    let none = WriteTexts::default();
    for bad in ["", "  ", &"x".repeat(65)] {
        assert_eq!(
            refused_field(check_texts(&consent(bad), none)),
            Some("source"),
            "{bad:?}"
        );
    }
    let e = check_texts(&consent(""), none).err();
    assert_eq!(
        e.map(|e| e.message),
        Some("`source` must name where the consent was given, in 1 to 64 characters".into())
    );
    assert_eq!(check_texts(&consent(&"x".repeat(64)), none), Ok(()));
    assert_eq!(check_texts(&consent("web"), none), Ok(()));
}

#[test]
fn evidence_has_at_most_4000_characters() {
    let long = "ä".repeat(MAX_EVIDENCE + 1);
    let full = "ä".repeat(MAX_EVIDENCE);
    assert_eq!(
        refused_field(check_texts(&consent("web"), evidence(&long))),
        Some("evidence")
    );
    let e = check_texts(&consent("web"), evidence(&long)).err();
    assert_eq!(
        e.map(|e| e.message),
        Some("`evidence` is longer than 4000 characters".into())
    );
    // Characters are counted, not bytes.
    assert_eq!(check_texts(&consent("web"), evidence(&full)), Ok(()));
    let call = EventKind::CallConsent {
        purpose: "call_recording".into(),
        call: "call-4711".into(),
        granted: true,
    };
    assert_eq!(
        refused_field(check_texts(&call, evidence(&long))),
        Some("evidence")
    );
    let transfer = EventKind::TransferConsent {
        country: india(),
        granted: true,
    };
    assert_eq!(
        refused_field(check_texts(&transfer, evidence(&long))),
        Some("evidence")
    );
    // A banner's TC string is recorded whole, as the banner sent it.
    assert_eq!(check_texts(&consent(TCF_SOURCE), evidence(&long)), Ok(()));
}

#[test]
fn a_granted_transfer_consent_needs_its_evidence() {
    let granted = EventKind::TransferConsent {
        country: india(),
        granted: true,
    };
    for texts in [WriteTexts::default(), evidence(" ")] {
        assert_eq!(
            refused_field(check_texts(&granted, texts)),
            Some("evidence"),
            "{texts:?}"
        );
    }
    assert_eq!(check_texts(&granted, evidence("signed form")), Ok(()));
    let withdrawn = EventKind::TransferConsent {
        country: india(),
        granted: false,
    };
    assert_eq!(check_texts(&withdrawn, WriteTexts::default()), Ok(()));
}

#[test]
fn an_active_transfer_necessity_needs_its_contract() {
    let active = EventKind::TransferNecessity {
        country: india(),
        active: true,
    };
    for texts in [WriteTexts::default(), evidence("  ")] {
        assert_eq!(
            refused_field(check_texts(&active, texts)),
            Some("contract"),
            "{texts:?}"
        );
    }
    let long = "x".repeat(MAX_EVIDENCE + 1);
    assert_eq!(
        refused_field(check_texts(&active, evidence(&long))),
        Some("contract")
    );
    assert_eq!(check_texts(&active, evidence("order 1")), Ok(()));
    let ended = EventKind::TransferNecessity {
        country: india(),
        active: false,
    };
    assert_eq!(check_texts(&ended, WriteTexts::default()), Ok(()));
}

#[test]
fn a_restriction_needs_its_reason() {
    let restrict = EventKind::Restriction { active: true };
    for texts in [WriteTexts::default(), reason(" ")] {
        assert_eq!(
            refused_field(check_texts(&restrict, texts)),
            Some("reason"),
            "{texts:?}"
        );
    }
    assert_eq!(check_texts(&restrict, reason("accuracy contested")), Ok(()));
    let lift = EventKind::Restriction { active: false };
    assert_eq!(check_texts(&lift, WriteTexts::default()), Ok(()));
}

#[test]
fn an_email_address_has_an_at_sign_no_blanks_and_at_most_254_bytes() {
    let relationship = EventKind::Relationship {
        relationship: Relationship::Customer,
        contract_kind: ContractKind::Other,
    };
    let long = format!("{}@example.org", "a".repeat(250));
    for bad in ["nope", "a b@example.org", "", long.as_str()] {
        let texts = WriteTexts {
            email: Some(bad),
            ..WriteTexts::default()
        };
        assert_eq!(
            refused_field(check_texts(&relationship, texts)),
            Some("email"),
            "{bad:?}"
        );
    }
    let good = WriteTexts {
        email: Some("name@example.org"),
        ..WriteTexts::default()
    };
    assert_eq!(check_texts(&relationship, good), Ok(()));
    assert_eq!(check_texts(&relationship, WriteTexts::default()), Ok(()));
}

#[test]
fn check_write_runs_the_text_rules_first_then_the_policy() {
    let policy = compiled();
    // A malformed write is answered as such even for an erased person, as before.
    let mut erased = SubjectState::UNKNOWN;
    erased.apply(&policy, &EventKind::Erasure);
    let e = policy.check_write(&erased, &consent(""), WriteTexts::default());
    assert_eq!(refused_field(e), Some("source"));
    let e = policy.check_write(&erased, &consent("web"), WriteTexts::default());
    assert_eq!(
        e.map_err(|e| (e.field, e.kind)),
        Err(("subject", EventErrorKind::PolicyViolation))
    );
    // The policy's own refusals stay policy violations without a fix of their own.
    let explicit = EventKind::Consent {
        purpose: "ai_training".into(),
        channel: None,
        granted: true,
        source: "call_center".into(),
        notice_version: "2026-01".into(),
    };
    let e = policy
        .check_write(&SubjectState::UNKNOWN, &explicit, evidence("   "))
        .err();
    assert_eq!(
        e.map(|e| (e.field, e.kind, e.fix)),
        Some(("evidence", EventErrorKind::PolicyViolation, None)),
        "blank evidence counts as none"
    );
    assert_eq!(
        policy.check_write(&SubjectState::UNKNOWN, &explicit, evidence("web form")),
        Ok(())
    );
}

#[test]
fn an_erasure_keeps_retained_restrictions_and_recent_phone_consents() {
    let policy = compiled();
    let at = |s: &str| -> jiff::Timestamp { s.parse().unwrap_or_else(|_| unreachable!()) };
    let event = |seq: i64, when: &str, kind: EventKind| LedgerEvent {
        seq,
        subject: "x".into(),
        at: at(when),
        kind,
    };
    let phone = EventKind::Consent {
        purpose: "phone_marketing".into(),
        channel: Some("phone".into()),
        granted: true,
        source: "call".into(),
        notice_version: "2026-01".into(),
    };
    let retained = format!("{RETAINED_RECORDS}, restricted: invoices");
    let history = [
        (event(1, "2020-01-10T00:00:00Z", phone), None),
        (
            event(
                2,
                "2022-06-01T00:00:00Z",
                EventKind::ConsentUse {
                    purpose: "phone_marketing".into(),
                    channel: Some("phone".into()),
                },
            ),
            None,
        ),
        (
            event(3, "2023-01-01T00:00:00Z", consent("web")),
            Some("not kept"),
        ),
        (
            event(
                4,
                "2024-01-01T00:00:00Z",
                EventKind::Restriction { active: true },
            ),
            Some("accuracy contested"),
        ),
        (
            event(
                5,
                "2024-01-02T00:00:00Z",
                EventKind::Restriction { active: true },
            ),
            Some(retained.as_str()),
        ),
    ];
    let keep = |now: &str| {
        evidence_to_keep(
            &policy.policy,
            history.iter().map(|(e, r)| (e, *r)),
            at(now),
        )
    };
    assert_eq!(keep("2027-05-31T00:00:00Z"), vec![5, 1, 2]);
    assert_eq!(keep("2027-06-02T00:00:00Z"), vec![5]);
}
