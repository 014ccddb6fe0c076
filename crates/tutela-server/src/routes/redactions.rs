//! Redaction of free text over the API (N24, N25): personal data found in a call summary or
//! transcript and replaced by its type, masked, or replaced by a keyed pseudonym, before the
//! text goes anywhere a person's data must not (a training set). The text is never stored or
//! logged; the answer names what was found by type and place.

use std::sync::{Mutex, PoisonError};

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use tutela_core::redact::{Operator, Recognisers, redact};
use utoipa::ToSchema;

use crate::AppState;
use crate::extract::Json as Body;
use crate::problem::{Code, Problem};

/// The most text one call redacts; files go through `tutela redact`.
pub const MAX_TEXT: usize = 1 << 20;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedactionPost {
    /// UTF-8 text, up to 1 MiB.
    pub text: String,
    /// `replace` (`<IBAN>`, the default), `mask` (`****`) or `pseudonym` (`<EMAIL:3f9a…>`, keyed
    /// HMAC in `domain`).
    pub operator: Option<String>,
    /// The pseudonymisation domain of `pseudonym`: a purpose of the policy, e.g. `ai_training`.
    pub domain: Option<String>,
    /// Names the caller knows of the persons in the text (from its own records); found even
    /// without a context word, the family name alone too.
    #[serde(default)]
    pub names: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FindingView {
    /// `EMAIL`, `IBAN`, `PAYMENT_CARD`, `ICCID`, `IMEI`, `IMSI`, `MSISDN`, `PHONE`,
    /// `DATE_OF_BIRTH`, `CUSTOMER_NUMBER`, `PERSON` or `ADDRESS`.
    pub entity: &'static str,
    /// Byte offsets into the text sent.
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Redacted {
    pub text: String,
    pub operator: &'static str,
    pub findings: Vec<FindingView>,
}

/// The recognisers of the policy's customer-number pattern, compiled once per pattern.
static COMPILED: Mutex<Option<(Option<String>, Recognisers)>> = Mutex::new(None);

fn recognisers(pattern: Option<&str>) -> Result<Recognisers, Problem> {
    let mut cache = COMPILED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((p, r)) = cache.as_ref()
        && p.as_deref() == pattern
    {
        return Ok(r.clone());
    }
    let r = Recognisers::new(pattern).map_err(|_| {
        Problem::new(
            Code::NotConfigured,
            "the policy's customer-number pattern does not compile",
        )
        .fix("fix [redaction] customer_number in the policy")
    })?;
    *cache = Some((pattern.map(str::to_owned), r.clone()));
    Ok(r)
}

#[utoipa::path(post, path = "/v1/redactions", request_body = RedactionPost,
    responses((status = 200, body = Redacted), (status = 422, body = crate::problem::ProblemBody), (status = 501, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Body(body): Body<RedactionPost>,
) -> Result<Json<Redacted>, Problem> {
    if body.text.len() > MAX_TEXT {
        return Err(
            Problem::new(Code::InvalidField, "the text is longer than 1 MiB")
                .field("text")
                .fix("split it, or redact the file with tutela redact"),
        );
    }
    if body.names.len() > 100
        || body
            .names
            .iter()
            .any(|n| n.trim().is_empty() || n.chars().count() > 200)
    {
        return Err(Problem::new(
            Code::InvalidField,
            "names holds up to 100 names of 1 to 200 characters",
        )
        .field("names")
        .fix("send the names of the persons the text is about"));
    }
    let pattern = state
        .engine
        .policy()
        .policy
        .redaction
        .as_ref()
        .and_then(|r| r.customer_number.clone());
    let mut r = recognisers(pattern.as_deref())?;
    if !body.names.is_empty() {
        r = r.with_names(&body.names).map_err(|_| {
            Problem::new(Code::InvalidField, "the names could not be compiled")
                .field("names")
                .fix("send fewer or shorter names")
        })?;
    }
    let domain = match (body.operator.as_deref(), &body.domain) {
        (Some("pseudonym"), Some(d)) => {
            if state.engine.policy().policy.purpose(d).is_none() {
                return Err(Problem::new(
                    Code::UnknownId,
                    format!("no purpose `{d}` in the policy"),
                )
                .field("domain")
                .fix("name the purpose the text is redacted for, e.g. ai_training"));
            }
            let keys = state.pseudonyms.as_deref().ok_or_else(|| {
                Problem::new(
                    Code::NotConfigured,
                    "no pseudonymisation keys are configured",
                )
                .fix("set pseudonym_keys in the config file (tutela keys pseudonyms new)")
            })?;
            Some(keys.domain(d, None).map_err(|e| {
                Problem::new(Code::NotConfigured, e.to_string()).fix("check the key file")
            })?)
        }
        (Some("pseudonym"), None) => {
            return Err(
                Problem::new(Code::InvalidField, "a pseudonym needs its domain")
                    .field("domain")
                    .fix("send the purpose the text is redacted for, e.g. ai_training"),
            );
        }
        _ => None,
    };
    let op = match (body.operator.as_deref(), &domain) {
        (None | Some("replace"), _) => Operator::Replace,
        (Some("mask"), _) => Operator::Mask,
        (Some("pseudonym"), Some(d)) => Operator::Pseudonym(d),
        _ => {
            return Err(Problem::new(Code::InvalidField, "unknown operator")
                .field("operator")
                .fix("use replace, mask or pseudonym"));
        }
    };
    let findings = r.find(&body.text);
    let text = redact(&body.text, &findings, op);
    Ok(Json(Redacted {
        text,
        operator: op.name(),
        findings: findings
            .iter()
            .map(|f| FindingView {
                entity: f.entity.label(),
                start: f.start,
                end: f.end,
            })
            .collect(),
    }))
}
