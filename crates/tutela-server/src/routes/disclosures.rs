//! The disclosure log (N26–N28): every disclosure decided by the policy and logged, allowed or
//! refused; legal bars on telling the person.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use tutela_core::basis::LegalBasis;
use tutela_store::{DisclosureRecord, DisclosureStore};

use super::{now, random_id, storage, subject_id};
use crate::AppState;
use crate::dto::{DisclosureList, DisclosurePost, DisclosureView};
use crate::extract::Json as Body;
use crate::problem::{Code, Problem};

fn view(d: DisclosureRecord, at: jiff::Timestamp) -> DisclosureView {
    DisclosureView {
        barred_because: d.barred(at).then(|| d.bar_reason.clone()).flatten(),
        id: d.id,
        subject: d.subject,
        at: d.at.to_string(),
        recipient: d.recipient,
        purpose: d.purpose,
        categories: serde_json::from_str(&d.categories).unwrap_or_default(),
        country: d.country,
        allowed: d.allowed,
        legal_basis: d.legal_basis,
        reason: d.reason,
        reference: d.reference,
    }
}

#[utoipa::path(post, path = "/v1/disclosures", request_body = DisclosurePost,
    responses((status = 201, body = DisclosureView), (status = 422, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Body(body): Body<DisclosurePost>,
) -> Result<(StatusCode, Json<DisclosureView>), Problem> {
    subject_id(&body.subject).map_err(|p| p.field("subject"))?;
    let policy = &state.engine.policy();
    let q = policy
        .resolve(
            &body.purpose,
            body.categories.iter().map(String::as_str),
            body.channel.as_deref(),
            Some(&body.recipient),
            body.country.as_deref(),
        )
        .map_err(|gap| {
            Problem::new(
                Code::UnknownId,
                format!("the policy does not know `{}`", gap.value),
            )
            .field(gap.field)
            .fix("use ids from GET /v1/policy")
        })?;
    let bar_until = match body.bar.as_ref().and_then(|b| b.until.as_deref()) {
        None => None,
        Some(u) => Some(u.parse::<jiff::Timestamp>().map_err(|_| {
            Problem::new(Code::InvalidField, "not an RFC 3339 time")
                .field("bar.until")
                .fix("send e.g. 2027-01-31T00:00:00Z, or leave it out for a bar until lifted")
        })?),
    };
    if body
        .bar
        .as_ref()
        .is_some_and(|b| b.reason.trim().is_empty())
    {
        return Err(
            Problem::new(Code::InvalidField, "a legal bar names its ground")
                .field("bar.reason")
                .fix("e.g. the court order forbids informing the person"),
        );
    }
    let at = now();
    let decision = policy.decide(&state.engine.subject_state(&body.subject), &q, at);
    let needs_reference = decision.legal_basis == Some(LegalBasis::LegalObligation);
    if decision.allowed()
        && needs_reference
        && body
            .reference
            .as_deref()
            .is_none_or(|r| r.trim().is_empty())
    {
        return Err(Problem::new(
            Code::InvalidField,
            "a disclosure on a legal obligation names its legal reference",
        )
        .field("reference")
        .fix("e.g. the court order under section 101 UrhG with its file number"));
    }
    let record = DisclosureRecord {
        id: random_id("dis")?,
        subject: body.subject,
        at,
        recipient: body.recipient,
        purpose: body.purpose,
        categories: serde_json::to_string(&body.categories).unwrap_or_default(),
        country: body.country,
        allowed: decision.allowed(),
        legal_basis: decision.legal_basis.map(|b| b.dpv_id().to_owned()),
        reason: decision.reason.code().to_owned(),
        reference: body.reference,
        bar_reason: body.bar.map(|b| b.reason),
        bar_until,
        bar_lifted_at: None,
    };
    // Refusals are logged too: the office can see what was attempted.
    tutela_runtime::records::disclosure(&state.engine, &record)
        .await
        .map_err(storage)?;
    if !record.allowed {
        return Err(Problem::new(
            Code::PolicyViolation,
            format!(
                "the policy does not allow this disclosure ({}); the refusal was logged as {}",
                record.reason, record.id
            ),
        )
        .field("recipient")
        .fix("see the decision for this purpose, recipient and country at POST /v1/decisions"));
    }
    Ok((StatusCode::CREATED, Json(view(record, at))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    include_barred: Option<bool>,
}

#[utoipa::path(get, path = "/v1/subjects/{id}/disclosures",
    params(("id" = String, Path, description = "The operator's id of the person"),
           ("include_barred" = Option<bool>, Query, description = "Also disclosures a legal bar keeps from the person (office view)")),
    responses((status = 200, body = DisclosureList)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<DisclosureList>, Problem> {
    subject_id(&id)?;
    let Query(q) = q.map_err(|e| {
        Problem::new(Code::InvalidField, e.body_text())
            .field("include_barred")
            .fix("use true or false")
    })?;
    let at = now();
    let all = state
        .engine
        .store
        .disclosures_of(&id)
        .await
        .map_err(storage)?;
    let withheld = all.iter().filter(|d| d.barred(at)).count();
    let disclosures = all
        .into_iter()
        .filter(|d| q.include_barred.unwrap_or(false) || !d.barred(at))
        .map(|d| view(d, at))
        .collect();
    Ok(Json(DisclosureList {
        disclosures,
        withheld: if q.include_barred.unwrap_or(false) {
            0
        } else {
            withheld
        },
    }))
}

#[utoipa::path(post, path = "/v1/disclosures/{id}/lift-bar",
    params(("id" = String, Path, description = "The disclosure id")),
    responses((status = 200, body = DisclosureView), (status = 409, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn lift_bar(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DisclosureView>, Problem> {
    let at = now();
    let store = &state.engine.store;
    tutela_runtime::records::lift_disclosure_bar(&state.engine, &id, at)
        .await
        .map_err(|e| match e {
            tutela_store::StoreError::Conflict => Problem::new(
                Code::InvalidTransition,
                "there is no legal bar to lift on this disclosure",
            )
            .field("id")
            .fix("GET the person's disclosures with include_barred=true"),
            other => storage(other),
        })?;
    let d = store
        .disclosure(&id)
        .await
        .map_err(storage)?
        .ok_or_else(|| Problem::new(Code::NotFound, "no such disclosure").field("id"))?;
    Ok(Json(view(d, at)))
}
