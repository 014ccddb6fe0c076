//! Persons: relationship, current state, objections, restriction, erasure.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use tutela_core::basis::{ContractKind, Relationship};
use tutela_core::ledger::{EventKind, ObjectionScope};
use tutela_core::state::{
    ERASED, KNOWN, OBJECTED_DIRECT_MARKETING, OBJECTED_LEGITIMATE_INTEREST, RESTRICTED,
};

use super::{engine_problem, now, record, subject_id};
use crate::AppState;
use crate::dto::{
    Authority, ConsentRef, ObjectionPost, Objections, Recorded, RestrictionPost, SubjectPut,
    SubjectView,
};
use crate::extract::Json as Body;
use crate::problem::{Code, Problem};

type Written = Result<(StatusCode, Json<Recorded>), Problem>;

#[utoipa::path(put, path = "/v1/subjects/{id}", request_body = SubjectPut,
    params(("id" = String, Path, description = "The operator's id of the person")),
    responses((status = 201, body = Recorded), (status = 422, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(body): Body<SubjectPut>,
) -> Written {
    let relationship = body.relationship.parse::<Relationship>().map_err(|()| {
        Problem::new(
            Code::InvalidField,
            format!("unknown relationship `{}`", body.relationship),
        )
        .field("relationship")
        .fix("use `prospect`, `customer` or `former_customer`")
    })?;
    let contract_kind = match body.contract_kind.as_deref() {
        None => ContractKind::Other,
        Some(k) => k.parse::<ContractKind>().map_err(|()| {
            Problem::new(Code::InvalidField, format!("unknown contract kind `{k}`"))
                .field("contract_kind")
                .fix("use `telecommunications` or `other`")
        })?,
    };
    let kind = EventKind::Relationship {
        relationship,
        contract_kind,
    };
    record(&state, &id, kind, &headers, (None, None, body.email)).await
}

#[utoipa::path(get, path = "/v1/subjects/{id}",
    params(("id" = String, Path, description = "The operator's id of the person")),
    responses((status = 200, body = SubjectView)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SubjectView>, Problem> {
    subject_id(&id)?;
    let s = state.engine.subject_state(&id);
    let policy = &state.engine.policy();
    let mut consents = Vec::new();
    let mut objected = Vec::new();
    for (i, p) in policy.policy.purposes.iter().enumerate() {
        if p.consent_per_channel {
            for &ch in &p.channels {
                let channel = &policy.policy.channels[ch].id;
                if s.consents & policy.consent_mask(&p.id, Some(channel)) != 0 {
                    consents.push(ConsentRef {
                        purpose: p.id.clone(),
                        channel: Some(channel.clone()),
                    });
                }
            }
        } else if p.consent_basis().is_some() && s.consents & policy.consent_mask(&p.id, None) != 0
        {
            consents.push(ConsentRef {
                purpose: p.id.clone(),
                channel: None,
            });
        }
        if s.objected & (1u64 << (i & 63)) != 0 {
            objected.push(p.id.clone());
        }
    }
    let countries_in = |mask: u32| {
        policy
            .third_countries()
            .iter()
            .filter(|c| policy.third_country_bit(**c).is_some_and(|b| mask & b != 0))
            .map(|c| c.as_str().to_owned())
            .collect()
    };
    let transfer_consents = countries_in(s.transfer_consents);
    let transfer_necessities = countries_in(s.transfer_necessities);
    let competent_authority =
        policy
            .policy
            .competent_authority(s.contract_kind)
            .map(|a| Authority {
                id: a.id.clone(),
                name: a.name.de.clone(),
                address: a.address.clone(),
                email: a.email.clone(),
                web: a.web.clone(),
            });
    Ok(Json(SubjectView {
        id,
        known: s.has(KNOWN),
        relationship: s.relationship.as_str().to_owned(),
        contract_kind: s.contract_kind.as_str().to_owned(),
        consents,
        objections: Objections {
            direct_marketing: s.has(OBJECTED_DIRECT_MARKETING),
            legitimate_interest: s.has(OBJECTED_LEGITIMATE_INTEREST),
            purposes: objected,
        },
        restricted: s.has(RESTRICTED),
        erased: s.has(ERASED),
        transfer_consents,
        transfer_necessities,
        competent_authority,
    }))
}

#[utoipa::path(post, path = "/v1/subjects/{id}/objections", request_body = ObjectionPost,
    params(("id" = String, Path, description = "The operator's id of the person")),
    responses((status = 201, body = Recorded), (status = 422, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn object(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(body): Body<ObjectionPost>,
) -> Written {
    let kind = EventKind::Objection {
        scope: ObjectionScope::parse(&body.scope),
    };
    record(&state, &id, kind, &headers, (None, body.reason, None)).await
}

#[utoipa::path(post, path = "/v1/subjects/{id}/restriction", request_body = RestrictionPost,
    params(("id" = String, Path, description = "The operator's id of the person")),
    responses((status = 201, body = Recorded), (status = 422, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn restrict(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(body): Body<RestrictionPost>,
) -> Written {
    record(
        &state,
        &id,
        EventKind::Restriction { active: true },
        &headers,
        (None, Some(body.reason), None),
    )
    .await
}

#[utoipa::path(delete, path = "/v1/subjects/{id}/restriction",
    params(("id" = String, Path, description = "The operator's id of the person")),
    responses((status = 201, body = Recorded)),
    security(("bearer" = [])))]
pub async fn lift_restriction(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Written {
    record(
        &state,
        &id,
        EventKind::Restriction { active: false },
        &headers,
        (None, None, None),
    )
    .await
}

#[utoipa::path(post, path = "/v1/subjects/{id}/erasure",
    params(("id" = String, Path, description = "The operator's id of the person")),
    responses((status = 201, body = Recorded), (status = 503, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
/// Erases the person: their attributes, call summaries and the key that sealed them, and at
/// once the reports and exports of their requests (`result` answers `410 result_erased`),
/// their privacy-center sessions and pending sign-in codes. The ledger keeps a tombstone; their
/// requests stay, with their events and without personal data.
pub async fn erase(State(state): State<AppState>, Path(id): Path<String>) -> Written {
    subject_id(&id)?;
    let done = state
        .engine
        .erase(id, now())
        .await
        .map_err(engine_problem)?;
    Ok((
        StatusCode::CREATED,
        Json(Recorded {
            seq: done.seq,
            at: done.at.to_string(),
            event: "erased",
            duplicate: false,
        }),
    ))
}
