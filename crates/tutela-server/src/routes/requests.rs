//! Data subject requests: intake, verification, lifecycle, results.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tutela_core::request::{RequestType, Status, StepStatus, TransitionError};
use tutela_store::{RequestRecord, RequestStore};

use super::{idempotency_key, now, subject_id};
use crate::AppState;
use crate::dto::{
    AgentVerifyPost, ApprovePost, Authority, CandidateView, ClassifyPost, ExtendPost, PlanView,
    RefusePost, RequestEventView, RequestList, RequestPost, RequestView, StepView, VerifyPost,
};
use crate::extract::Json as Body;
use crate::problem::{Code, Problem};
use tutela_runtime::requests::{NewRequest, RequestDetails, RequestError, state_of};

fn problem(e: RequestError) -> Problem {
    match e {
        RequestError::NotFound => Problem::new(Code::NotFound, "no request with this id")
            .field("id")
            .fix("use the id returned by POST /v1/requests"),
        RequestError::Transition(TransitionError::ReasonMissing) => {
            Problem::new(Code::InvalidField, "a reason is required")
                .field("reason")
                .fix("say why, in words the person can read")
        }
        RequestError::Transition(t @ TransitionError::ExtensionTooLong { .. }) => {
            Problem::new(Code::InvalidField, t.to_string())
                .field("months")
                .fix("extend by 1 or 2 months, at most 2 in all")
        }
        RequestError::Transition(t) => Problem::new(Code::InvalidTransition, t.to_string())
            .fix("GET the request to see its status and what can happen next"),
        RequestError::CodeInvalid { left } => Problem::new(
            Code::CodeInvalid,
            format!("the code is wrong; {left} attempts left"),
        )
        .field("code")
        .fix("enter the 8-digit code from the e-mail"),
        RequestError::CodeExpired => Problem::new(Code::CodeExpired, "the code has expired")
            .field("code")
            .fix("file the request again to get a new code, or ask an agent to verify"),
        RequestError::CodeLocked => {
            Problem::new(Code::CodeLocked, "too many wrong codes; the code is locked")
                .field("code")
                .fix("an agent must verify the identity: POST /v1/requests/{id}/verify-by-agent")
        }
        RequestError::NoCode => Problem::new(
            Code::InvalidTransition,
            "no code was sent for this request (no e-mail address on file, or no mail server)",
        )
        .fix("an agent verifies it: POST /v1/requests/{id}/verify-by-agent"),
        RequestError::Conflict => {
            Problem::new(Code::Conflict, "the request was changed at the same time")
                .fix("read the request again and retry")
        }
        RequestError::NotVerified => Problem::new(
            Code::NotVerified,
            "the requester's identity is not verified; nothing is released",
        )
        .fix("verify with the code or by an agent first"),
        RequestError::NotReady => Problem::new(Code::ResultNotReady, "the result is not ready")
            .fix("wait until the request is completed; GET it to see its steps"),
        RequestError::Gone => Problem::new(
            Code::ResultGone,
            "the result was deleted at the end of its retention period, or this request has none in that format",
        )
        .field("format")
        .fix("an access request has json and html, a portability request zip, the others json; file a new request for a new copy"),
        RequestError::Erased => Problem::new(
            Code::ResultErased,
            "the result was destroyed when the person was erased; the request stays as a record without personal data",
        )
        .fix("nothing to fetch: an erasure ends the person's reports, exports and sessions"),
        RequestError::Storage(_) => Problem::new(
            Code::StorageUnavailable,
            "the database did not answer; nothing was changed",
        )
        .fix("retry"),
        RequestError::SubjectRequired { candidates } => Problem::new(
            Code::InvalidField,
            format!(
                "the request names no person, and its identifiers found {candidates} candidate(s) (and possibly rows without a customer number): name the person whose identity was checked"
            ),
        )
        .field("subject")
        .fix("send `subject`: the id of the person found (GET the request to see its candidates)"),
        RequestError::NotACandidate { candidates } => Problem::new(
            Code::InvalidField,
            format!(
                "the request's identifiers found {candidates} person(s), and the one named is not among them"
            ),
        )
        .field("subject")
        .fix("name one of the request's candidates (GET the request); to act for another person, file a request for them"),
        RequestError::SubjectUnknown => Problem::new(
            Code::InvalidField,
            "the named person is neither one the request's identifiers found nor anyone tutela or the operator's databases know",
        )
        .field("subject")
        .fix("name one of the request's candidates, or an existing person's id"),
        RequestError::FourEyes => Problem::new(
            Code::FourEyes,
            "the agent who verified the request's identity cannot also approve its plan (four-eyes is on)",
        )
        .field("agent")
        .fix("another agent approves: POST /v1/requests/{id}/approve with their name as `agent`"),
        RequestError::AgentReserved => Problem::new(
            Code::InvalidField,
            "`policy`, `worker`, `system`, `api`, `cli` and `tutela` are tutela's own names, not an agent's",
        )
        .field("agent")
        .fix("name the agent: their operator name or id"),
        RequestError::AgentUnknown => Problem::new(
            Code::InvalidField,
            "with four-eyes on, the approver must be an operator of tutela, so that they can be told apart from the agent who verified",
        )
        .field("agent")
        .fix("send the approving operator's name or id (tutela operators list)"),
        RequestError::PlanChanged => Problem::new(
            Code::PlanChanged,
            "the plans differ from those you were shown: the request was planned again meanwhile",
        )
        .field("plans")
        .fix("GET /v1/requests/{id}/plan, review the new plans, and approve with their digests"),
        RequestError::Unresolved(why) => Problem::new(
            Code::StorageUnavailable,
            format!("the person could not be looked up in every dataset ({why}); nothing was changed"),
        )
        .fix("retry when the dataset is back"),
    }
}

fn view(state: &AppState, r: RequestRecord, detail: Option<Detail>) -> RequestView {
    let t = now();
    let rules = &state.requests.settings.deadlines;
    let s = state_of(&r);
    let complaint_authority = matches!(r.status, Status::Refused | Status::PartiallyRefused)
        .then(|| {
            let kind = r
                .subject
                .as_deref()
                .map(|id| state.engine.subject_state(id).contract_kind)
                .unwrap_or_default();
            state
                .engine
                .policy()
                .policy
                .competent_authority(kind)
                .map(|a| Authority {
                    id: a.id.clone(),
                    name: a.name.de.clone(),
                    address: a.address.clone(),
                    email: a.email.clone(),
                    web: a.web.clone(),
                })
        })
        .flatten();
    let (steps, events, candidates) = detail
        .map(|d| (d.steps, d.events, d.candidates))
        .unwrap_or_default();
    RequestView {
        overdue: s.as_ref().is_some_and(|s| s.is_overdue(t)),
        due_soon: s.as_ref().is_some_and(|s| s.is_due_soon(t, rules)),
        id: r.id,
        request_type: r.request_type,
        status: r.status.as_str().to_owned(),
        subject: r.subject,
        channel: r.channel,
        received_at: r.received_at.to_string(),
        due_at: r.due_at.to_string(),
        extended_months: r.extended_months,
        verification: r.verification,
        complaint_authority,
        steps,
        events,
        candidates,
        duplicate: false,
    }
}

struct Detail {
    steps: Vec<StepView>,
    events: Vec<RequestEventView>,
    candidates: Vec<CandidateView>,
}

async fn detail(state: &AppState, id: &str) -> Result<Detail, Problem> {
    let store = &state.engine.store;
    let steps = store
        .steps(id)
        .await
        .map_err(|e| problem(e.into()))?
        .into_iter()
        .map(|s| StepView {
            found: (s.status == StepStatus::Done)
                .then(|| tutela_runtime::requests::step_found(&s.step, s.output.as_deref()))
                .flatten(),
            step: s.step,
            status: s.status.as_str().to_owned(),
            attempts: s.attempts,
            last_error: s.last_error,
            next_attempt_at: s.next_at.map(|t| t.to_string()),
        })
        .collect();
    let events = store
        .request_events(id)
        .await
        .map_err(|e| problem(e.into()))?
        .into_iter()
        .map(|e| RequestEventView {
            at: e.at.to_string(),
            actor: e.actor,
            event: e.kind,
        })
        .collect();
    let candidates = state
        .requests
        .candidates(id)
        .await
        .map_err(problem)?
        .into_iter()
        .map(|c| CandidateView {
            subject: c.subject,
            found_in: c.found_in,
        })
        .collect();
    Ok(Detail {
        steps,
        events,
        candidates,
    })
}

fn request_type(s: &str, field: &str) -> Result<RequestType, Problem> {
    RequestType::parse(s).ok_or_else(|| {
        Problem::new(Code::InvalidField, format!("unknown request type `{s}`"))
            .field(field)
            .fix("use access, portability, rectification, erasure, restriction, objection, withdraw_consent or unclassified")
    })
}

fn valid_email(email: &str) -> Result<(), Problem> {
    if email.len() > 254 || !email.contains('@') || email.chars().any(char::is_whitespace) {
        return Err(Problem::new(Code::InvalidField, "not an e-mail address")
            .field("email")
            .fix("send an address like name@example.org, or leave the field out"));
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/requests", request_body = RequestPost,
    responses((status = 201, body = RequestView), (status = 200, body = RequestView), (status = 422, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Body(body): Body<RequestPost>,
) -> Result<(StatusCode, Json<RequestView>), Problem> {
    let t = request_type(&body.request_type, "type")?;
    if let Some(s) = &body.subject {
        subject_id(s).map_err(|p| p.field("subject"))?;
    }
    if let Some(e) = &body.email {
        valid_email(e)?;
    }
    if body.subject.is_none() && body.email.is_none() {
        return Err(Problem::new(
            Code::InvalidField,
            "a request needs the person's id or e-mail address",
        )
        .field("subject")
        .fix("send `subject` (the operator's id of the person) or `email`"));
    }
    let channel = body.channel.unwrap_or_else(|| "api".to_owned());
    if !["api", "email", "privacy_center", "letter", "phone"].contains(&channel.as_str()) {
        return Err(
            Problem::new(Code::InvalidField, format!("unknown channel `{channel}`"))
                .field("channel")
                .fix("use api, email, privacy_center, letter or phone"),
        );
    }
    if let Some(d) = &body.details {
        check_details(&state, t, d)?;
    }
    let received_at = received_at(body.received_at.as_deref(), &channel)?;
    let key = idempotency_key(&headers)?;
    let (record, duplicate) = state
        .requests
        .create(
            NewRequest {
                request_type: t,
                subject: body.subject,
                email: body.email,
                details: body.details,
                channel,
                received_at,
            },
            "api",
            key.as_deref(),
            now(),
        )
        .await
        .map_err(problem)?;
    let mut v = view(&state, record, None);
    v.duplicate = duplicate;
    let status = if duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(v)))
}

/// When a request that came in by letter, phone or e-mail reached the operator.
fn received_at(value: Option<&str>, channel: &str) -> Result<Option<jiff::Timestamp>, Problem> {
    let Some(value) = value else { return Ok(None) };
    if !["letter", "phone", "email"].contains(&channel) {
        return Err(Problem::new(
            Code::InvalidField,
            "only a request received by letter, phone or e-mail can have an earlier receipt",
        )
        .field("received_at")
        .fix("leave received_at out, or set channel to letter, phone or email"));
    }
    let at = value.parse::<jiff::Timestamp>().map_err(|_| {
        Problem::new(Code::InvalidField, "not an RFC 3339 timestamp")
            .field("received_at")
            .fix("send a time such as 2026-05-04T09:30:00Z")
    })?;
    if at > now() {
        return Err(
            Problem::new(Code::InvalidField, "the receipt lies in the future")
                .field("received_at")
                .fix("send when the letter, call or e-mail arrived"),
        );
    }
    Ok(Some(at))
}

/// Details that the worker would refuse later are refused now, naming the field. Their types
/// were checked as the body was read; what is checked here needs the policy or the datasets.
pub(crate) fn check_details(
    state: &AppState,
    t: RequestType,
    d: &RequestDetails,
) -> Result<(), Problem> {
    let policy = &state.engine.policy();
    match t {
        RequestType::Objection => {
            let scope = d.scope.as_deref().unwrap_or("direct_marketing");
            let known = matches!(scope, "direct_marketing" | "legitimate_interest")
                || policy.purpose_index(scope).is_some();
            if !known {
                return Err(Problem::new(
                    Code::UnknownId,
                    format!("unknown objection scope `{scope}`"),
                )
                .field("details.scope")
                .fix("use direct_marketing, legitimate_interest or a purpose id of the policy"));
            }
            let reason = d.reason.as_deref().unwrap_or("");
            if scope != "direct_marketing" && reason.trim().is_empty() {
                return Err(Problem::new(
                    Code::InvalidField,
                    "an objection on grounds of the person's particular situation needs its reasons (Art. 21(1), N9d)",
                )
                .field("details.reason")
                .fix("give the person's reasons; an objection to direct marketing needs none"));
            }
        }
        RequestType::WithdrawConsent => {
            if let Some(p) = d.purpose.as_deref()
                && policy.purpose_index(p).is_none()
            {
                return Err(Problem::new(Code::UnknownId, format!("unknown purpose `{p}`"))
                    .field("details.purpose")
                    .fix("use a consent purpose of the policy, or leave it out to withdraw every consent"));
            }
        }
        RequestType::Rectification => {
            let Some(changes) = &d.changes else {
                return Err(Problem::new(
                    Code::InvalidField,
                    "a rectification names the fields to correct",
                )
                .field("details.changes")
                .fix("send {\"changes\": {\"email\": \"new@example.org\"}}"));
            };
            if let Some(e) = changes.get("email") {
                valid_email(e).map_err(|p| p.field("details.changes.email"))?;
            }
            for name in changes.keys() {
                check_change(state, name)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A field a rectification may change: one a dataset corrects, or the e-mail address tutela
/// keeps; never an identifier, a key or a system field.
fn check_change(state: &AppState, name: &str) -> Result<(), Problem> {
    let connectors = &state.requests.connectors;
    // Identifiers, keys and system fields never change through a request (the map says
    // `rectify = "nobody"`; identifiers other than the e-mail always).
    let fixed = (name != "email" && tutela_core::datamap::IDENTIFIERS.contains(&name))
        || (!connectors.iter().any(|c| c.rectifiable().contains(name))
            && connectors.iter().any(|c| c.never_rectified(name)));
    if fixed {
        return Err(Problem::new(
            Code::InvalidField,
            format!(
                "`{name}` is an identifier or system field and never changes through a request"
            ),
        )
        .field(format!("details.changes.{name}"))
        .fix("leave it out; the operator corrects identifiers in its own systems"));
    }
    let known = name == "email" || connectors.iter().any(|c| c.rectifiable().contains(name));
    if !known {
        let names: std::collections::BTreeSet<&str> = connectors
            .iter()
            .flat_map(|c| c.rectifiable())
            .chain(["email"])
            .collect();
        let names: Vec<&str> = names.into_iter().collect();
        return Err(Problem::new(
            Code::InvalidField,
            format!("`{name}` is not a field tutela can correct"),
        )
        .field(format!("details.changes.{name}"))
        .fix(format!("use one of: {}", names.join(", "))));
    }
    Ok(())
}

#[utoipa::path(get, path = "/v1/requests/{id}",
    params(("id" = String, Path, description = "The request id")),
    responses((status = 200, body = RequestView), (status = 404, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RequestView>, Problem> {
    let r = state.requests.get(&id).await.map_err(problem)?;
    let d = detail(&state, &id).await?;
    Ok(Json(view(&state, r, Some(d))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    overdue: Option<bool>,
    due_soon: Option<bool>,
}

#[utoipa::path(get, path = "/v1/requests",
    params(("status" = Option<String>, Query, description = "Comma-separated statuses"),
           ("overdue" = Option<bool>, Query, description = "Only requests past their due date"),
           ("due_soon" = Option<bool>, Query, description = "Only requests due within a week")),
    responses((status = 200, body = RequestList), (status = 422, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RequestList>, Problem> {
    let Query(q) = q.map_err(|e| {
        Problem::new(Code::InvalidField, e.body_text())
            .field("query")
            .fix("use ?status=verified,in_progress&overdue=true")
    })?;
    let mut statuses = Vec::new();
    for s in q.status.iter().flat_map(|s| s.split(',').map(str::trim)) {
        let Some(status) = Status::parse(s) else {
            return Err(Problem::new(Code::InvalidField, format!("unknown status `{s}`"))
                .field("status")
                .fix("use received, awaiting_verification, verified, in_progress, awaiting_approval, completed, refused, partially_refused or no_data_held"));
        };
        statuses.push(status);
    }
    let records = state
        .engine
        .store
        .list_requests(&statuses, 10_000)
        .await
        .map_err(|e| problem(e.into()))?;
    let requests = records
        .into_iter()
        .map(|r| view(&state, r, None))
        .filter(|v| !q.overdue.unwrap_or(false) || v.overdue)
        .filter(|v| !q.due_soon.unwrap_or(false) || v.due_soon)
        .collect();
    Ok(Json(RequestList { requests }))
}

#[utoipa::path(post, path = "/v1/requests/{id}/verify", request_body = VerifyPost,
    params(("id" = String, Path, description = "The request id")),
    responses((status = 200, body = RequestView), (status = 422, body = crate::problem::ProblemBody), (status = 423, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn verify(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<VerifyPost>,
) -> Result<Json<RequestView>, Problem> {
    let r = state
        .requests
        .verify_code(&id, &body.code, now())
        .await
        .map_err(problem)?;
    Ok(Json(view(&state, r, None)))
}

#[utoipa::path(post, path = "/v1/requests/{id}/verify-by-agent", request_body = AgentVerifyPost,
    params(("id" = String, Path, description = "The request id")),
    responses((status = 200, body = RequestView), (status = 409, body = crate::problem::ProblemBody),
              (status = 422, body = crate::problem::ProblemBody, description = "`agent` or `note` missing, or `subject` not an id")),
    security(("bearer" = [])))]
pub async fn verify_by_agent(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<AgentVerifyPost>,
) -> Result<Json<RequestView>, Problem> {
    if let Some(s) = &body.subject {
        subject_id(s).map_err(|p| p.field("subject"))?;
    }
    if body.note.trim().is_empty() {
        return Err(Problem::new(
            Code::InvalidField,
            "the note says how the identity was checked",
        )
        .field("note")
        .fix("for example: letter with signature compared to the contract"));
    }
    // Every verification names the person who made it; "api" named nobody (issue 31).
    let Some(agent) = body.agent.filter(|a| !a.trim().is_empty()) else {
        return Err(Problem::new(
            Code::InvalidField,
            "the agent who checked the identity must be named",
        )
        .field("agent")
        .fix("send `agent` with the operator's name or id, e.g. {\"agent\": \"a.schmidt\", \"note\": \"…\"}"));
    };
    let agent = agent.trim().to_owned();
    let r = state
        .requests
        .verify_by_agent(&id, body.note, body.subject, &agent, now())
        .await
        .map_err(problem)?;
    Ok(Json(view(&state, r, None)))
}

#[utoipa::path(get, path = "/v1/requests/{id}/plan",
    params(("id" = String, Path, description = "The request id")),
    responses((status = 200, body = PlanView, description = "What the request will change in the operator's databases, table by table, and whether it waits for approval"),
              (status = 404, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn plan(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PlanView>, Problem> {
    let review = state.requests.plan_review(&id).await.map_err(problem)?;
    Ok(Json(PlanView(serde_json::json!(review))))
}

#[utoipa::path(post, path = "/v1/requests/{id}/approve", request_body = ApprovePost,
    params(("id" = String, Path, description = "The request id")),
    responses((status = 200, body = RequestView),
              (status = 409, body = crate::problem::ProblemBody, description = "`invalid_transition` (not awaiting approval), `four_eyes`, `plan_changed`"),
              (status = 422, body = crate::problem::ProblemBody, description = "`agent` missing")),
    security(("bearer" = [])))]
pub async fn approve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<ApprovePost>,
) -> Result<Json<RequestView>, Problem> {
    // Every approval names the person who made it.
    let Some(agent) = body.agent.filter(|a| !a.trim().is_empty()) else {
        return Err(Problem::new(
            Code::InvalidField,
            "the agent who approves the plan must be named",
        )
        .field("agent")
        .fix("send `agent` with the operator's name or id, e.g. {\"agent\": \"b.weber\"}"));
    };
    let r = state
        .requests
        .approve(&id, agent.trim(), body.note, body.plans.as_ref(), now())
        .await
        .map_err(problem)?;
    Ok(Json(view(&state, r, None)))
}

#[utoipa::path(post, path = "/v1/requests/{id}/extend", request_body = ExtendPost,
    params(("id" = String, Path, description = "The request id")),
    responses((status = 200, body = RequestView), (status = 409, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn extend(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<ExtendPost>,
) -> Result<Json<RequestView>, Problem> {
    let r = state
        .requests
        .extend(&id, body.months, body.reason, "api", now())
        .await
        .map_err(problem)?;
    Ok(Json(view(&state, r, None)))
}

#[utoipa::path(post, path = "/v1/requests/{id}/refuse", request_body = RefusePost,
    params(("id" = String, Path, description = "The request id")),
    responses((status = 200, body = RequestView), (status = 409, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn refuse(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<RefusePost>,
) -> Result<Json<RequestView>, Problem> {
    let r = state
        .requests
        .refuse(&id, body.reason, "api", now())
        .await
        .map_err(problem)?;
    Ok(Json(view(&state, r, None)))
}

#[utoipa::path(post, path = "/v1/requests/{id}/classify", request_body = ClassifyPost,
    params(("id" = String, Path, description = "The request id")),
    responses((status = 200, body = RequestView), (status = 409, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn classify(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<ClassifyPost>,
) -> Result<Json<RequestView>, Problem> {
    let t = request_type(&body.request_type, "type")?;
    let r = state
        .requests
        .classify(&id, t, "api", now())
        .await
        .map_err(problem)?;
    Ok(Json(view(&state, r, None)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultQuery {
    format: Option<String>,
}

#[utoipa::path(get, path = "/v1/requests/{id}/result",
    params(("id" = String, Path, description = "The request id"),
           ("format" = Option<String>, Query, description = "json (default), html or zip")),
    responses((status = 200, description = "The report (access) or export (portability)"),
              (status = 403, body = crate::problem::ProblemBody), (status = 409, body = crate::problem::ProblemBody),
              (status = 410, body = crate::problem::ProblemBody, description = "result_gone, or result_erased when the person's erasure destroyed it")),
    security(("bearer" = [])))]
pub async fn result(
    State(state): State<AppState>,
    Path(id): Path<String>,
    q: Result<Query<ResultQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) = q.map_err(|e| {
        Problem::new(Code::InvalidField, e.body_text())
            .field("format")
            .fix("use ?format=json, html or zip")
    })?;
    let format = q.format.unwrap_or_else(|| "json".to_owned());
    let content_type = match format.as_str() {
        "json" => "application/json",
        "html" => "text/html; charset=utf-8",
        "zip" => "application/zip",
        other => {
            return Err(
                Problem::new(Code::InvalidField, format!("unknown format `{other}`"))
                    .field("format")
                    .fix("use json, html or zip"),
            );
        }
    };
    let bytes = state.requests.result(&id, &format).await.map_err(problem)?;
    let mut res = bytes.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if format == "zip"
        && let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{id}.zip\""))
    {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

#[cfg(test)]
mod details_tests {
    use crate::dto::RequestPost;

    /// The problem a body's details get, as (code, field, detail).
    fn refused(body: serde_json::Value) -> (&'static str, Option<String>, String) {
        let bytes = serde_json::to_vec(&body).expect("json");
        let p = crate::extract::parse::<RequestPost>(&bytes).expect_err("refused");
        let b = p.body();
        (b.code, b.field.clone(), b.detail.clone())
    }

    #[test]
    fn a_known_detail_of_another_type_is_refused_naming_it() {
        let (code, field, detail) = refused(
            serde_json::json!({"type": "access", "subject": "x", "details": {"lang": "fr"}}),
        );
        assert_eq!(code, "invalid_field");
        assert_eq!(field.as_deref(), Some("details.lang"));
        assert!(detail.contains("`fr`"), "{detail}");
        let (_, field, detail) = refused(
            serde_json::json!({"type": "rectification", "subject": "x", "details": {"changes": {"city": 5}}}),
        );
        assert_eq!(field.as_deref(), Some("details.changes.city"));
        assert!(detail.contains("expected a string"), "{detail}");
    }

    #[test]
    fn unknown_details_are_kept_as_sent() {
        let body = serde_json::json!({"type": "access", "subject": "x",
            "details": {"lang": "en", "letter_ref": {"box": 7}, "notes": ["a"]}});
        let bytes = serde_json::to_vec(&body).expect("json");
        let post = crate::extract::parse::<RequestPost>(&bytes).expect("parsed");
        let d = post.details.expect("details");
        assert_eq!(d.lang, Some(tutela_core::render::Lang::En));
        let stored: serde_json::Value =
            serde_json::from_str(&d.to_stored().expect("stored")).expect("json");
        assert_eq!(stored, body["details"]);
    }
}
