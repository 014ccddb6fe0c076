//! Consents: record, withdraw, and the full history (Art. 7(1): prove the consent).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tutela_core::basis::CountryCode;
use tutela_core::ledger::EventKind;
use tutela_store::Store;

use super::{record, subject_id};
use crate::AppState;
use crate::dto::{
    CallConsentPost, ConsentEntry, ConsentHistory, ConsentPost, Recorded, TransferConsentPost,
    TransferNecessityPost,
};
use crate::extract::Json as Body;
use crate::problem::{Code, Problem};

#[utoipa::path(post, path = "/v1/subjects/{id}/consents", request_body = ConsentPost,
    params(("id" = String, Path, description = "The operator's id of the person")),
    responses((status = 201, body = Recorded), (status = 200, description = "idempotent repeat", body = Recorded), (status = 422, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn record_consent(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(body): Body<ConsentPost>,
) -> Result<(StatusCode, Json<Recorded>), Problem> {
    let kind = EventKind::Consent {
        purpose: body.purpose,
        channel: body.channel,
        granted: body.granted,
        source: body.source,
        notice_version: body
            .notice_version
            .unwrap_or_else(|| state.engine.policy().policy.version.clone()),
    };
    record(&state, &id, kind, &headers, (body.evidence, None, None)).await
}

/// The `country` field of a transfer ground, as an ISO 3166-1 alpha-2 code.
fn country_field(code: &str) -> Result<CountryCode, Problem> {
    CountryCode::parse(code).ok_or_else(|| {
        Problem::new(
            Code::InvalidField,
            format!("`{code}` is not a country code"),
        )
        .field("country")
        .fix("use an ISO 3166-1 alpha-2 code such as `IN`")
    })
}

#[utoipa::path(post, path = "/v1/subjects/{id}/transfer-consents", request_body = TransferConsentPost,
    params(("id" = String, Path, description = "The operator's id of the person")),
    responses((status = 201, body = Recorded), (status = 422, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn transfer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(body): Body<TransferConsentPost>,
) -> Result<(StatusCode, Json<Recorded>), Problem> {
    let country = country_field(&body.country)?;
    let kind = EventKind::TransferConsent {
        country,
        granted: body.granted,
    };
    record(&state, &id, kind, &headers, (body.evidence, None, None)).await
}

#[utoipa::path(post, path = "/v1/subjects/{id}/call-consents", request_body = CallConsentPost,
    params(("id" = String, Path, description = "The operator's id of the person")),
    responses((status = 201, body = Recorded), (status = 422, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn call_consent(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(body): Body<CallConsentPost>,
) -> Result<(StatusCode, Json<Recorded>), Problem> {
    let kind = EventKind::CallConsent {
        purpose: body.purpose,
        call: body.call,
        granted: body.granted,
    };
    record(&state, &id, kind, &headers, (body.evidence, None, None)).await
}

#[utoipa::path(post, path = "/v1/subjects/{id}/transfer-necessities", request_body = TransferNecessityPost,
    params(("id" = String, Path, description = "The operator's id of the person")),
    responses((status = 201, body = Recorded), (status = 422, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn necessity(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(body): Body<TransferNecessityPost>,
) -> Result<(StatusCode, Json<Recorded>), Problem> {
    let country = country_field(&body.country)?;
    let kind = EventKind::TransferNecessity {
        country,
        active: body.active,
    };
    record(&state, &id, kind, &headers, (body.contract, None, None)).await
}

#[utoipa::path(post, path = "/v1/subjects/{id}/identifiers", request_body = crate::dto::IdentifierPost,
    params(("id" = String, Path, description = "The operator's id of the person")),
    responses((status = 201, body = Recorded), (status = 422, body = crate::problem::ProblemBody),
               (status = 501, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn identifier(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(body): Body<crate::dto::IdentifierPost>,
) -> Result<(StatusCode, Json<Recorded>), Problem> {
    use tutela_core::pseudonym::Identifier;
    let kind = match Identifier::parse(&body.kind) {
        Some(Identifier::Iban) | None => {
            return Err(Problem::new(Code::InvalidField, "unknown identifier kind")
                .field("kind")
                .fix("use imsi, iccid, msisdn or imei"));
        }
        Some(k) => k,
    };
    let keys = super::pseudonyms::keys(&state)?;
    let tokens = keys
        .domain(tutela_core::gate::TOKEN_DOMAIN, None)
        .map_err(|e| Problem::new(Code::NotConfigured, e.to_string()))?;
    // The error names the kind and what is wrong, never the value.
    let token = tutela_core::gate::identifier_token(&tokens, kind, &body.value).map_err(|e| {
        Problem::new(Code::InvalidField, e.to_string())
            .field("value")
            .fix("send the digits of the identifier (an MSISDN may start with +)")
    })?;
    let event = EventKind::Identifier {
        kind,
        key_id: tokens.key_id().to_owned(),
        token,
        active: body.active,
    };
    let recorded = record(&state, &id, event, &headers, (None, None, None)).await?;
    if !body.active {
        // A link made before a key rotation carries the old key's token: the unlink is
        // recorded under every other key id of the key file too, so that no older link of
        // this identifier to this person survives (an unlink removes a token only from the
        // person it names, so this never cuts another owner off).
        for key_id in keys.ids().filter(|k| *k != tokens.key_id()) {
            let Ok(older) = keys.domain(tutela_core::gate::TOKEN_DOMAIN, Some(key_id)) else {
                continue;
            };
            let Ok(token) = tutela_core::gate::identifier_token(&older, kind, &body.value) else {
                continue;
            };
            let unlink = tutela_store::NewEvent {
                subject: id.clone(),
                at: super::now(),
                kind: EventKind::Identifier {
                    kind,
                    key_id: key_id.to_owned(),
                    token,
                    active: false,
                },
                evidence: None,
                reason: None,
                email: None,
                idempotency_key: None,
                policy_version: state.engine.policy().policy_version().to_owned(),
            };
            state
                .engine
                .append(unlink)
                .await
                .map_err(super::engine_problem)?;
        }
    }
    Ok(recorded)
}

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    format: Option<String>,
}

#[utoipa::path(get, path = "/v1/subjects/{id}/consents",
    params(("id" = String, Path, description = "The operator's id of the person"),
           ("format" = Option<String>, Query, description = "`tutela` (default) or `iso27560` for ISO/IEC TS 27560 consent records")),
    responses((status = 200, body = ConsentHistory)),
    security(("bearer" = [])))]
pub async fn history(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<Response, Problem> {
    subject_id(&id)?;
    let events = state.engine.store.history(&id).await.map_err(|_| {
        Problem::new(Code::StorageUnavailable, "the history could not be read").fix("retry")
    })?;
    let uses = events
        .iter()
        .filter_map(|e| match &e.event.kind {
            EventKind::ConsentUse { purpose, channel } => Some(crate::dto::ConsentUseEntry {
                seq: e.event.seq,
                at: e.event.at.to_string(),
                purpose: purpose.clone(),
                channel: channel.clone(),
            }),
            _ => None,
        })
        .collect();
    let consents: Vec<ConsentEntry> = events
        .into_iter()
        .filter_map(|e| match e.event.kind {
            EventKind::Consent {
                purpose,
                channel,
                granted,
                source,
                notice_version,
            } => Some(ConsentEntry {
                seq: e.event.seq,
                at: e.event.at.to_string(),
                purpose,
                channel,
                granted,
                source,
                evidence: e.evidence,
                notice_version,
                policy_version: e.policy_version,
            }),
            _ => None,
        })
        .collect();
    match q.format.as_deref() {
        None | Some("tutela") => Ok(Json(ConsentHistory {
            subject: id,
            consents,
            uses,
        })
        .into_response()),
        Some("iso27560") => Ok(Json(iso27560(&state, &id, &consents)).into_response()),
        Some(other) => Err(
            Problem::new(Code::InvalidField, format!("unknown format `{other}`"))
                .field("format")
                .fix("use `tutela` or `iso27560`"),
        ),
    }
}

/// Consent records with the fields of ISO/IEC TS 27560 (as the W3C DPVCG guide maps them).
fn iso27560(state: &AppState, subject: &str, consents: &[ConsentEntry]) -> serde_json::Value {
    let policy = &state.engine.policy().policy;
    let records: Vec<serde_json::Value> = consents
        .iter()
        .map(|c| {
            let purpose = policy.purpose(&c.purpose).and_then(|i| policy.purposes.get(i));
            let categories: Vec<&str> = purpose
                .map(|p| p.categories.iter().filter_map(|i| policy.categories.get(*i)).map(|c| c.id.as_str()).collect())
                .unwrap_or_default();
            let recipients: Vec<&str> = policy
                .recipients
                .iter()
                .filter(|r| purpose.is_some_and(|_| policy.purpose(&c.purpose).is_some_and(|i| r.purposes.contains(&i))))
                .map(|r| r.id.as_str())
                .collect();
            let retention = purpose
                .and_then(|p| p.retention)
                .and_then(|r| policy.retention.get(r))
                .map(|r| r.period.to_string());
            json!({
                "schema_version": "ISO/IEC TS 27560:2023",
                "record_id": format!("{}-{}", policy.id, c.seq),
                "pii_principal_id": subject,
                "processing": {
                    "privacy_notice": { "id": policy.id, "version": c.notice_version, "policy_version": c.policy_version },
                    "language": ["de", "en"],
                    "purpose": c.purpose,
                    "purpose_label": purpose.map(|p| p.label.en.clone()),
                    "lawful_basis": "eu-gdpr:A6-1-a",
                    "pii_types": categories,
                    "pii_controllers": [{ "name": policy.controller.name, "address": policy.controller.address, "contact": policy.controller.contact_url }],
                    "storage_locations": ["EU/EEA"],
                    "retention_period": retention,
                    "jurisdiction": "DE",
                    "recipient_third_parties": recipients,
                    "withdrawal_method": format!("POST /v1/subjects/{{id}}/consents with granted=false, or e-mail to {}", policy.controller.rights_email),
                    "channel": c.channel,
                    "collection_method": c.source,
                },
                "event": {
                    "event_time": c.at,
                    "event_type": if c.granted { "ConsentGiven" } else { "ConsentWithdrawn" },
                    "event_state": if c.granted { "dpv:ConsentGiven" } else { "dpv:ConsentWithdrawn" },
                    "evidence": c.evidence,
                }
            })
        })
        .collect();
    json!({ "subject": subject, "records": records })
}

#[utoipa::path(post, path = "/v1/subjects/{id}/consent-uses", request_body = crate::dto::ConsentUsePost,
    params(("id" = String, Path, description = "The operator's id of the person")),
    responses((status = 201, body = Recorded), (status = 422, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn record_use(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(body): Body<crate::dto::ConsentUsePost>,
) -> Result<(StatusCode, Json<Recorded>), Problem> {
    let kind = EventKind::ConsentUse {
        purpose: body.purpose,
        channel: body.channel,
    };
    record(&state, &id, kind, &headers, (body.campaign, None, None)).await
}

#[utoipa::path(post, path = "/v1/subjects/{id}/tcf", request_body = crate::dto::TcfPost,
    params(("id" = String, Path, description = "The operator's id of the signed-in person")),
    responses((status = 201, body = crate::dto::TcfRecorded), (status = 422, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn tcf(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(body): Body<crate::dto::TcfPost>,
) -> Result<(StatusCode, Json<crate::dto::TcfRecorded>), Problem> {
    subject_id(&id)?;
    let tc = tutela_core::tcf::decode(&body.tc_string).map_err(|e| {
        Problem::new(Code::InvalidField, format!("not a TC string: {e}"))
            .field("tc_string")
            .fix("send the banner's IAB TCF v2.2 or v2.3 consent string as it is")
    })?;
    let policy = &state.engine.policy();
    let mut granted = Vec::new();
    let mut refused = Vec::new();
    for p in policy
        .policy
        .purposes
        .iter()
        .filter(|p| !p.tcf_purposes.is_empty())
    {
        let yes = p
            .tcf_purposes
            .iter()
            .all(|t| tc.purpose_consents.contains(&u16::from(*t)));
        let kind = EventKind::Consent {
            purpose: p.id.clone(),
            channel: None,
            granted: yes,
            source: tutela_core::write_rules::TCF_SOURCE.into(),
            notice_version: policy.policy.version.clone(),
        };
        // One idempotency key per purpose, derived from the call's: a retry records nothing twice.
        let mut per_purpose = HeaderMap::new();
        if let Some(key) = super::idempotency_key(&headers)?
            && let Ok(v) = axum::http::HeaderValue::from_str(&format!("{key}:{}", p.id))
        {
            per_purpose.insert("idempotency-key", v);
        }
        // The string itself is the evidence: it names every purpose and vendor decided.
        let _recorded = record(
            &state,
            &id,
            kind,
            &per_purpose,
            (Some(body.tc_string.clone()), None, None),
        )
        .await?;
        if yes {
            granted.push(p.id.clone());
        } else {
            refused.push(p.id.clone());
        }
    }
    Ok((
        StatusCode::CREATED,
        Json(crate::dto::TcfRecorded {
            granted,
            refused,
            tcf_purposes: tc.purpose_consents,
            vendors: tc.vendor_consents,
            policy_version: tc.policy_version,
        }),
    ))
}
