//! Marketing audiences (N16–N19): a campaign and a list of persons (JSON, or CSV with a
//! `subject` column) → who may be contacted, and why not the others.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use serde::Deserialize;
use tutela_core::audience::{self, Verdict};
use tutela_core::render::Lang;

use crate::AppState;
use crate::dto::{AudiencePost, AudienceResponse, Campaign, Excluded, ObjectionNotice};
use crate::extract::parse;
use crate::problem::{Code, Problem};

/// The most persons one call may hold.
pub const MAX_AUDIENCE: usize = 1_000_000;

/// Reads `?campaign=purpose:channel:cat1+cat2` style CSV uploads as JSON posts: the CSV body
/// has a header row with a `subject` column; the campaign comes in headers.
fn from_csv(headers: &HeaderMap, body: &[u8]) -> Result<AudiencePost, Problem> {
    let text = std::str::from_utf8(body).map_err(|_| {
        Problem::new(Code::InvalidField, "the CSV is not UTF-8")
            .field("body")
            .fix("send UTF-8 text")
    })?;
    let rows = tutela_core::csv::parse(text).map_err(|e| {
        Problem::new(
            Code::InvalidField,
            format!("the CSV is malformed at line {}: {}", e.line, e.what),
        )
        .field(format!("line {}", e.line))
        .fix("send RFC 4180 CSV with a header row")
    })?;
    let mut rows = rows.into_iter();
    let header = rows.next().unwrap_or_default();
    let col = header
        .iter()
        .position(|h| h.trim() == "subject")
        .ok_or_else(|| {
            Problem::new(Code::InvalidField, "the CSV has no `subject` column")
                .field("line 1")
                .fix("name the column of person ids `subject`")
        })?;
    let mut subjects = Vec::new();
    for (i, r) in rows.enumerate() {
        let id = r.get(col).map(|s| s.trim()).unwrap_or("");
        if id.is_empty() || id.chars().count() > 128 || id.chars().any(char::is_control) {
            return Err(Problem::new(
                Code::InvalidField,
                format!("line {}: not a person id", i + 2),
            )
            .field(format!("line {}", i + 2))
            .fix("each row names a person id of 1 to 128 characters"));
        }
        subjects.push(id.to_owned());
    }
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let purpose = h("tutela-campaign-purpose").ok_or_else(|| {
        Problem::new(Code::InvalidField, "a CSV upload names the campaign in headers")
            .field("Tutela-Campaign-Purpose")
            .fix("send Tutela-Campaign-Purpose, Tutela-Campaign-Channel and Tutela-Campaign-Categories (comma-separated)")
    })?;
    Ok(AudiencePost {
        campaign: Campaign {
            purpose,
            channel: h("tutela-campaign-channel"),
            categories: h("tutela-campaign-categories")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        },
        subjects,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudienceQuery {
    lang: Option<String>,
}

/// The language of the objection notice: German unless `?lang=en`, as the notice is German.
fn notice_lang(q: Result<Query<AudienceQuery>, QueryRejection>) -> Result<Lang, Problem> {
    let Query(q) = q.map_err(|e| {
        Problem::new(Code::InvalidField, e.body_text())
            .field("lang")
            .fix("use ?lang=de or ?lang=en")
    })?;
    match q.lang.as_deref() {
        None => Ok(Lang::De),
        Some(l) => Lang::parse(l).ok_or_else(|| {
            Problem::new(Code::InvalidField, format!("unknown language `{l}`"))
                .field("lang")
                .fix("use `de` or `en`")
        }),
    }
}

#[utoipa::path(post, path = "/v1/audiences", request_body = AudiencePost,
    params(("lang" = Option<String>, Query, description = "language of the objection notice: `de` (default) or `en`")),
    responses((status = 200, body = AudienceResponse), (status = 422, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    q: Result<Query<AudienceQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<AudienceResponse>, Problem> {
    let lang = notice_lang(q)?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    let post: AudiencePost = match ct.as_str() {
        "text/csv" => from_csv(&headers, &body)?,
        "application/json" => parse(&body)?,
        _ => {
            return Err(Problem::new(Code::UnsupportedMediaType, "send JSON or CSV")
                .field("Content-Type")
                .fix("use application/json or text/csv"));
        }
    };
    if post.subjects.len() > MAX_AUDIENCE {
        return Err(Problem::new(
            Code::BatchTooLarge,
            format!("at most {MAX_AUDIENCE} persons per call"),
        )
        .field("subjects")
        .fix("split the list"));
    }
    // The policy the states were folded under; resolved ids and states must match.
    let policy = &state.engine.policy();
    let c = &post.campaign;
    let q = policy
        .resolve(
            &c.purpose,
            c.categories.iter().map(String::as_str),
            c.channel.as_deref(),
            None,
            None,
        )
        .map_err(|gap| {
            Problem::new(
                Code::UnknownId,
                format!("the policy does not know `{}`", gap.value),
            )
            .field(format!("campaign.{}", gap.field))
            .fix("use ids from GET /v1/policy")
        })?;
    if !policy
        .purpose_index(&c.purpose)
        .is_some_and(|i| policy.is_direct_marketing(i))
    {
        return Err(Problem::new(Code::InvalidField, format!("`{}` is not a marketing purpose", c.purpose))
            .field("campaign.purpose")
            .fix("audiences are for the policy's direct-marketing purposes; use POST /v1/decisions/batch for others"));
    }
    let mut verdicts = Vec::with_capacity(post.subjects.len());
    {
        let states = state.engine.states();
        if !std::sync::Arc::ptr_eq(&states.policy, policy) {
            return Err(Problem::new(
                Code::StorageUnavailable,
                "the policy changed while the audience was computed",
            )
            .fix("send the request again"));
        }
        audience::select(
            policy,
            &states,
            &q,
            post.subjects.iter().map(String::as_str),
            super::now(),
            &mut verdicts,
        );
    }
    let mut contactable = Vec::new();
    let mut excluded = Vec::new();
    let mut counts = std::collections::BTreeMap::new();
    for (id, v) in post.subjects.into_iter().zip(&verdicts) {
        match v {
            Verdict::Contact(_) => contactable.push(id),
            Verdict::Exclude(e) => {
                *counts.entry(e.code()).or_insert(0) += 1;
                excluded.push(Excluded {
                    subject: id,
                    reason: e.code(),
                });
            }
        }
    }
    let link = format!(
        "{}/",
        state.requests.settings.public_url.trim_end_matches('/')
    );
    Ok(Json(AudienceResponse {
        total: verdicts.len(),
        contactable,
        excluded,
        counts,
        objection_notice: ObjectionNotice {
            required: audience::needs_objection_notice(&verdicts),
            lang: lang.as_str(),
            text: audience::objection_notice(lang, &link),
            de: audience::objection_notice(Lang::De, &link),
            en: audience::objection_notice(Lang::En, &link),
            link,
        },
        policy_version: policy.policy_version().to_owned(),
    }))
}
