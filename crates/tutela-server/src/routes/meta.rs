//! The policy, the notice, health, readiness, metrics, fallbacks. The OpenAPI document is
//! served by `crate::openapi`, which documents these handlers.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tutela_core::render::{Format, Lang, render_notice};
use tutela_store::Store;

use crate::AppState;
use crate::problem::{Code, Problem};

#[utoipa::path(get, path = "/v1/policy",
    responses((status = 200, description = "The policy in force: ids, version, purposes with their legal bases, categories, channels, recipients")),
    security(("bearer" = [])))]
pub async fn policy(State(state): State<AppState>) -> Json<serde_json::Value> {
    let c = &state.engine.policy();
    let p = &c.policy;
    let cat = |i: &usize| {
        p.categories
            .get(*i)
            .map(|c| c.id.as_str())
            .unwrap_or_default()
    };
    Json(json!({
        "id": p.id,
        "notice_version": p.version,
        "policy_version": c.policy_version(),
        "sources": p.sources,
        "controller": { "name": p.controller.name, "address": p.controller.address, "rights_email": p.controller.rights_email },
        "categories": p.categories.iter().map(|c| json!({"id": c.id, "label": {"de": c.label.de, "en": c.label.en}, "notice_refs": c.notice_refs})).collect::<Vec<_>>(),
        "channels": p.channels.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        "purposes": p.purposes.iter().map(|pu| json!({
            "id": pu.id,
            "label": {"de": pu.label.de, "en": pu.label.en},
            "legal_bases": pu.bases.iter().map(|b| b.legal_basis.dpv_id()).collect::<Vec<_>>(),
            "categories": pu.categories.iter().map(cat).collect::<Vec<_>>(),
            "channels": pu.channels.iter().filter_map(|i| p.channels.get(*i)).map(|c| c.id.as_str()).collect::<Vec<_>>(),
            "direct_marketing": pu.direct_marketing,
            "notice_refs": pu.notice_refs,
        })).collect::<Vec<_>>(),
        "recipients": p.recipients.iter().map(|r| json!({
            "id": r.id, "kind": r.kind.as_str(), "area": r.area,
            "countries": r.countries.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            "dpf_certified": r.dpf_certified, "notice_refs": r.notice_refs,
        })).collect::<Vec<_>>(),
    }))
}

#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    lang: Option<String>,
    format: Option<String>,
    version: Option<String>,
}

#[utoipa::path(get, path = "/v1/notice",
    params(("lang" = Option<String>, Query, description = "`de` (default) or `en`"),
           ("format" = Option<String>, Query, description = "`html` (default) or `md`"),
           ("version" = Option<String>, Query, description = "a policy hash or notice version from the archive; the one in force when not given")),
    responses((status = 200, description = "The privacy notice rendered from the policy"), (status = 422, body = crate::problem::ProblemBody)))]
pub async fn notice(
    State(state): State<AppState>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, Problem> {
    let lang = match q.lang.as_deref() {
        None => Lang::De,
        Some(l) => Lang::parse(l).ok_or_else(|| {
            Problem::new(Code::InvalidField, format!("unknown language `{l}`"))
                .field("lang")
                .fix("use `de` or `en`")
        })?,
    };
    let format = match q.format.as_deref() {
        None => Format::Html,
        Some(f) => Format::parse(f).ok_or_else(|| {
            Problem::new(Code::InvalidField, format!("unknown format `{f}`"))
                .field("format")
                .fix("use `html` or `md`")
        })?,
    };
    let body = match q.version.as_deref() {
        None => render_notice(&state.engine.policy().policy, lang, format),
        Some(v) => {
            use tutela_store::PolicyArchive;
            let kept = state.engine.store.policy_version(v).await.map_err(|_| {
                Problem::new(Code::StorageUnavailable, "the archive could not be read").fix("retry")
            })?;
            let kept = kept.ok_or_else(|| {
                Problem::new(
                    Code::NotFound,
                    format!("no notice version `{v}` in the archive"),
                )
                .field("version")
                .fix("use a hash or notice version from GET /v1/policy/versions")
            })?;
            match (lang, format) {
                (Lang::De, Format::Html) => kept.notice_de_html,
                (Lang::En, Format::Html) => kept.notice_en_html,
                (Lang::De, Format::Markdown) => kept.notice_de_md,
                (Lang::En, Format::Markdown) => kept.notice_en_md,
            }
        }
    };
    let ct = match format {
        Format::Html => "text/html; charset=utf-8",
        Format::Markdown => "text/markdown; charset=utf-8",
    };
    let mut res = body.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    res.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.as_str()),
    );
    Ok(res)
}

pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness. The operator's datasets are reported (`datasets`, with a broken map's reason
/// naming the table or column) but do not make the server unready: a broken map stops only
/// the work on that database (no sweep, no write), while decisions, consents and the other
/// datasets go on; a 503 would take every instance out of the load balancer for it.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let db = state.engine.store.ping().await.is_ok();
    let caught_up = !state.engine.is_lagging();
    let ready = db && state.engine.is_ready() && caught_up;
    let datasets: Vec<serde_json::Value> = state
        .requests
        .connectors
        .iter()
        .map(|c| {
            let (status, why) = match c.status() {
                tutela_connectors::MapStatus::Unchecked => ("unchecked", None),
                tutela_connectors::MapStatus::Matches => ("ok", None),
                tutela_connectors::MapStatus::Broken(why) => ("broken", Some(why)),
            };
            json!({
                "id": c.map.id,
                "status": status,
                "why": why,
                "sweeps": state.requests.settings.retention.sweeps(&c.map.id),
            })
        })
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "ready": ready,
            "database": db,
            "state_loaded": state.engine.is_ready(),
            "caught_up": caught_up,
            "applied_seq": state.engine.applied_seq(),
            "datasets": datasets,
        })),
    )
        .into_response()
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let subjects = state.engine.states().len();
    let mut res =
        tutela_runtime::metrics::render(subjects, state.engine.is_ready()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}

pub async fn not_found() -> Problem {
    Problem::new(Code::NotFound, "there is no such resource").fix("see /openapi.json for the API")
}

pub async fn method_not_allowed() -> Problem {
    Problem::new(
        Code::MethodNotAllowed,
        "this resource does not accept that method",
    )
    .fix("see /openapi.json for the API")
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordQuery {
    format: Option<String>,
    lang: Option<String>,
    version: Option<String>,
}

#[utoipa::path(get, path = "/v1/record",
    params(("format" = Option<String>, Query, description = "json (default), csv or jsonld (W3C DPV)"),
           ("lang" = Option<String>, Query, description = "de (default) or en"),
           ("version" = Option<String>, Query, description = "a policy hash or notice version: the version in force, or one activated with `tutela policy activate`; the one in force when not given")),
    responses((status = 200, description = "The record of processing activities (Art. 30) written from the policy"), (status = 404, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn record(
    State(state): State<AppState>,
    q: Result<axum::extract::Query<RecordQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::response::Response, Problem> {
    use axum::response::IntoResponse;
    let axum::extract::Query(q) = q.map_err(|e| {
        Problem::new(Code::InvalidField, e.body_text())
            .field("query")
            .fix("use ?format=json|csv|jsonld&lang=de|en")
    })?;
    let lang =
        tutela_core::render::Lang::parse(q.lang.as_deref().unwrap_or("de")).ok_or_else(|| {
            Problem::new(Code::InvalidField, "unknown language")
                .field("lang")
                .fix("use de or en")
        })?;
    let policy = match q.version.as_deref() {
        None => state.engine.policy(),
        Some(v) => version_policy(&state, v).await?,
    };
    let record = tutela_core::record::build(
        &policy.policy,
        lang,
        jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date(),
    );
    let (ct, body) = match q.format.as_deref().unwrap_or("json") {
        "json" => (
            "application/json",
            serde_json::to_string_pretty(&record).unwrap_or_default(),
        ),
        "csv" => ("text/csv; charset=utf-8", tutela_core::record::csv(&record)),
        "jsonld" => (
            "application/ld+json",
            tutela_core::record::dpv_jsonld(&record),
        ),
        other => {
            return Err(
                Problem::new(Code::InvalidField, format!("unknown format `{other}`"))
                    .field("format")
                    .fix("use json, csv or jsonld"),
            );
        }
    };
    let mut res = body.into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(ct) {
        res.headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, v);
    }
    Ok(res)
}

#[derive(Debug, Deserialize)]
pub struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
}

#[utoipa::path(get, path = "/v1/policy/diff",
    params(("from" = String, Query, description = "the older version: hash or notice version (in force, or activated with kept files)"),
           ("to" = String, Query, description = "the newer version")),
    responses((status = 200, description = "What changed, in German and English; `widens_consent` marks consent purposes whose consents need renewal"), (status = 404, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn diff(
    State(state): State<AppState>,
    Query(q): Query<DiffQuery>,
) -> Result<Json<serde_json::Value>, Problem> {
    let need = |v: Option<String>, field: &'static str| {
        v.filter(|v| !v.is_empty()).ok_or_else(|| {
            Problem::new(Code::InvalidField, format!("`{field}` is missing"))
                .field(field)
                .fix("name two versions by hash or notice version, e.g. ?from=2026-01&to=2026-07")
        })
    };
    let (from, to) = (need(q.from, "from")?, need(q.to, "to")?);
    let old = version_policy(&state, &from)
        .await
        .map_err(|p| p.field("from"))?;
    let new = version_policy(&state, &to)
        .await
        .map_err(|p| p.field("to"))?;
    let changes = tutela_core::diff::diff(&old.policy, &new.policy);
    Ok(Json(json!({
        "from": old.policy.hash, "to": new.policy.hash,
        "changes": changes.iter().map(|c| json!({"subject": c.subject, "de": c.de, "en": c.en, "widens_consent": c.widens_consent})).collect::<Vec<_>>(),
        "renewal_gaps": tutela_core::diff::renewal_gaps(&old.policy, &new.policy),
    })))
}

/// The policy of version `v` (hash or notice version): the one in force, or one whose files
/// were kept by an activation.
pub(crate) async fn version_policy(
    state: &AppState,
    v: &str,
) -> Result<std::sync::Arc<tutela_core::compiled::CompiledPolicy>, Problem> {
    use tutela_store::ActivationStore;
    let current = state.engine.policy();
    if current.policy.hash == v || current.policy.version == v {
        return Ok(current);
    }
    let activations = state.engine.store.activations().await.map_err(|_| {
        Problem::new(
            Code::StorageUnavailable,
            "the activations could not be read",
        )
        .fix("retry")
    })?;
    let found = activations
        .iter()
        .rev()
        .find(|a| a.hash == v || a.notice_version == v);
    let Some(a) = found else {
        return Err(Problem::new(
            Code::NotFound,
            format!("no policy version `{v}` whose files are kept"),
        )
        .field("version")
        .fix("use the version in force, or one listed by `tutela policy activations`"));
    };
    let sources: Vec<tutela_core::policy::RecordedSource> =
        serde_json::from_str(&a.sources).unwrap_or_default();
    tutela_runtime::activation::compile(&sources, &a.root)
        .map(std::sync::Arc::new)
        .map_err(|e| {
            Problem::new(Code::PolicyViolation, e.to_string())
                .field("version")
                .fix("this version's files do not validate; it never took effect")
        })
}

#[utoipa::path(get, path = "/v1/policy/versions",
    responses((status = 200, description = "Every policy version this database has seen in force, oldest first: hash, notice version, first loaded, by whom")),
    security(("bearer" = [])))]
pub async fn versions(State(state): State<AppState>) -> Result<Json<serde_json::Value>, Problem> {
    use tutela_store::PolicyArchive;
    let all = state.engine.store.policy_versions().await.map_err(|_| {
        Problem::new(Code::StorageUnavailable, "the archive could not be read").fix("retry")
    })?;
    let policy = state.engine.policy();
    let current = policy.policy_version();
    Ok(Json(json!({
        "versions": all.iter().map(|v| json!({
            "hash": v.hash,
            "policy_id": v.policy_id,
            "notice_version": v.notice_version,
            "first_loaded_at": v.first_loaded_at.to_string(),
            "activated_by": v.activated_by,
            "in_force": v.hash == current,
        })).collect::<Vec<_>>(),
    })))
}
