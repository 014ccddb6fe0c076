//! Event kinds to and from the ledger row's `kind` and `body` columns. The body is JSON with
//! no personal free text in it.

use serde_json::{Value, json};
use tutela_core::basis::{ContractKind, CountryCode, Relationship};
use tutela_core::ledger::{EventKind, ObjectionScope};
use tutela_core::pseudonym::Identifier;

pub fn encode(kind: &EventKind) -> (&'static str, String) {
    let body = match kind {
        EventKind::Relationship {
            relationship,
            contract_kind,
        } => {
            json!({"relationship": relationship.as_str(), "contract_kind": contract_kind.as_str()})
        }
        EventKind::Consent {
            purpose,
            channel,
            source,
            notice_version,
            ..
        } => {
            json!({"purpose": purpose, "channel": channel, "source": source, "notice_version": notice_version})
        }
        EventKind::CallConsent { purpose, call, .. } => {
            json!({"purpose": purpose, "call": call})
        }
        EventKind::ConsentUse { purpose, channel } => {
            json!({"purpose": purpose, "channel": channel})
        }
        EventKind::Objection { scope } => json!({"scope": scope.as_str()}),
        EventKind::TransferConsent { country, .. }
        | EventKind::TransferNecessity { country, .. } => {
            json!({"country": country.as_str()})
        }
        EventKind::Identifier {
            kind,
            key_id,
            token,
            ..
        } => json!({"kind": kind.name(), "key_id": key_id, "token": token}),
        EventKind::Restriction { .. } | EventKind::Erasure => json!({}),
    };
    (kind.name(), body.to_string())
}

pub fn decode(name: &str, body: &str) -> Result<EventKind, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let need = |k: &str| s(k).ok_or_else(|| format!("`{name}` without `{k}`"));
    Ok(match name {
        "relationship_set" => EventKind::Relationship {
            relationship: need("relationship")?
                .parse::<Relationship>()
                .map_err(|()| "bad relationship".to_owned())?,
            contract_kind: need("contract_kind")?
                .parse::<ContractKind>()
                .map_err(|()| "bad contract kind".to_owned())?,
        },
        "consent_given" | "consent_withdrawn" => EventKind::Consent {
            purpose: need("purpose")?,
            channel: s("channel"),
            granted: name == "consent_given",
            source: need("source")?,
            notice_version: s("notice_version").unwrap_or_default(),
        },
        "consent_used" => EventKind::ConsentUse {
            purpose: need("purpose")?,
            channel: s("channel"),
        },
        "objection_raised" => EventKind::Objection {
            scope: ObjectionScope::parse(&need("scope")?),
        },
        "restriction_set" => EventKind::Restriction { active: true },
        "restriction_lifted" => EventKind::Restriction { active: false },
        "transfer_consent_given" | "transfer_consent_withdrawn" => EventKind::TransferConsent {
            country: CountryCode::parse(&need("country")?).ok_or("bad country")?,
            granted: name == "transfer_consent_given",
        },
        "call_consent_given" | "call_consent_withdrawn" => EventKind::CallConsent {
            purpose: need("purpose")?,
            call: need("call")?,
            granted: name == "call_consent_given",
        },
        "transfer_necessity_recorded" | "transfer_necessity_ended" => {
            EventKind::TransferNecessity {
                country: CountryCode::parse(&need("country")?).ok_or("bad country")?,
                active: name == "transfer_necessity_recorded",
            }
        }
        "identifier_linked" | "identifier_unlinked" => EventKind::Identifier {
            kind: Identifier::parse(&need("kind")?).ok_or("bad identifier kind")?,
            key_id: need("key_id")?,
            token: need("token")?,
            active: name == "identifier_linked",
        },
        "erased" => EventKind::Erasure,
        other => return Err(format!("unknown event kind `{other}`")),
    })
}

/// The parts of a write that its fingerprint covers.
fn fingerprint_parts(e: &crate::NewEvent) -> [String; 6] {
    let (name, body) = encode(&e.kind);
    [
        e.subject.clone(),
        name.to_owned(),
        body,
        e.evidence.clone().unwrap_or_default(),
        e.reason.clone().unwrap_or_default(),
        e.email.clone().unwrap_or_default(),
    ]
}

/// A fingerprint of a write's content, to tell a retried write from a reused key.
pub fn request_hash(e: &crate::NewEvent) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in fingerprint_parts(e) {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// [`request_hash`] keyed with the person's data key, for a write with personal attributes:
/// without the key (destroyed at erasure) the fingerprint confirms no guessed evidence.
pub fn keyed_request_hash(e: &crate::NewEvent, key: &[u8; 32]) -> String {
    use hmac::{KeyInit, Mac};
    let Ok(mut mac) = <hmac::Hmac<sha2::Sha256>>::new_from_slice(key) else {
        return request_hash(e);
    };
    for part in fingerprint_parts(e) {
        mac.update(part.as_bytes());
        mac.update(&[0xff]);
    }
    let full = crate::vault::hex(&mac.finalize().into_bytes());
    format!("k{}", &full[..16])
}
