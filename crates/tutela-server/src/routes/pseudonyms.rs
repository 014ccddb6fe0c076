//! Pseudonyms for small batches (N7b, N7c, N16), reversals that are recorded before they are
//! answered, and the register of pseudonymised datasets that the retention of their purpose
//! deletes (N7b: after three months). Large files go through `tutela pseudonymise`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tutela_core::pseudonym::{DomainPseudonyms, Identifier, Method, PseudonymKeys};
use tutela_store::{DatasetRecord, PseudonymisedStore, Reversal};
use utoipa::ToSchema;

use super::{each, now, random_id, storage};
use crate::AppState;
use crate::extract::Json as Body;
use crate::problem::{Code, Problem};

/// Values in one call; more belong in a file for `tutela pseudonymise`.
pub const MAX_VALUES: usize = 10_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PseudonymsPost {
    /// The pseudonymisation domain: a purpose of the policy, or `dataset:<name>`. Each domain
    /// has its own keys, so pseudonyms of two domains cannot be joined.
    pub domain: String,
    /// `hmac` (one-way, 32 hex digits) or `ff1:imsi|iccid|msisdn|imei|iban` (same format,
    /// reversible with the key).
    pub method: String,
    /// Up to 10,000 values.
    pub values: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PseudonymsMade {
    pub domain: String,
    pub method: String,
    /// The key the pseudonyms were made with; needed to reverse FF1 pseudonyms.
    pub key_id: String,
    /// In the order of `values`.
    pub pseudonyms: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReversePost {
    pub domain: String,
    /// `imsi`, `iccid`, `msisdn`, `imei` or `iban`: only FF1 pseudonyms can be reversed.
    pub identifier: String,
    pub key_id: String,
    /// Up to 10,000 pseudonyms.
    pub pseudonyms: Vec<String>,
    /// Why: the case, ticket or order the reversal serves (1 to 100 characters), recorded in
    /// the audit log with the count.
    pub reference: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Reversed {
    /// In the order of `pseudonyms`.
    pub values: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetPost {
    /// The purpose the dataset serves; its retention rule says when it is deleted.
    pub purpose: String,
    /// The domain its pseudonyms were made in (default: the purpose).
    pub domain: Option<String>,
    /// The absolute path of the file.
    pub location: String,
    /// `column=method` for each pseudonymised column.
    pub columns: Vec<String>,
    pub key_id: String,
    pub rows: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetView {
    pub id: String,
    pub purpose: String,
    pub domain: String,
    pub location: String,
    pub columns: Vec<String>,
    pub key_id: String,
    pub rows: i64,
    pub created_at: String,
    /// When the purpose's retention rule says it must be gone.
    pub expires_at: String,
    pub deleted_at: Option<String>,
    /// Why the last deletion failed; retried at the next sweep.
    pub error: Option<String>,
}

fn view(d: DatasetRecord) -> DatasetView {
    DatasetView {
        columns: d.columns.split(',').map(str::to_owned).collect(),
        id: d.id,
        purpose: d.purpose,
        domain: d.domain,
        location: d.location,
        key_id: d.key_id,
        rows: d.rows,
        created_at: d.created_at.to_string(),
        expires_at: d.expires_at.to_string(),
        deleted_at: d.deleted_at.map(|t| t.to_string()),
        error: d.error,
    }
}

pub(crate) fn keys(state: &AppState) -> Result<&PseudonymKeys, Problem> {
    state.pseudonyms.as_deref().ok_or_else(|| {
        Problem::new(
            Code::NotConfigured,
            "no pseudonymisation keys are configured",
        )
        .fix("set pseudonym_keys in the config file (tutela keys pseudonyms new)")
    })
}

/// A purpose of the policy, or `dataset:<name>`.
fn domain_of(state: &AppState, domain: &str, field: &str) -> Result<(), Problem> {
    let dataset = domain
        .strip_prefix("dataset:")
        .is_some_and(|n| !n.is_empty() && n.len() <= 100 && !n.chars().any(char::is_control));
    if dataset
        || state
            .engine
            .states()
            .policy
            .policy
            .purpose(domain)
            .is_some()
    {
        return Ok(());
    }
    Err(Problem::new(
        Code::UnknownId,
        format!("`{domain}` is neither a purpose of the policy nor dataset:<name>"),
    )
    .field(field)
    .fix("name a purpose (GET /v1/policy) or a dataset as dataset:<name>"))
}

fn in_domain(
    keys: &PseudonymKeys,
    domain: &str,
    key_id: Option<&str>,
) -> Result<DomainPseudonyms, Problem> {
    keys.domain(domain, key_id).map_err(|e| {
        Problem::new(Code::UnknownId, e.to_string())
            .field("key_id")
            .fix("use a key id the server's key file holds")
    })
}

fn batch(n: usize, field: &str) -> Result<(), Problem> {
    if n == 0 || n > MAX_VALUES {
        return Err(Problem::new(
            Code::BatchTooLarge,
            format!("{n} values; 1 to 10,000 are taken"),
        )
        .field(field)
        .fix("split the batch, or pseudonymise a file with tutela pseudonymise"));
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/pseudonyms", request_body = PseudonymsPost,
    responses((status = 200, body = PseudonymsMade), (status = 422, body = crate::problem::ProblemBody), (status = 501, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Body(body): Body<PseudonymsPost>,
) -> Result<Json<PseudonymsMade>, Problem> {
    let keys = keys(&state)?;
    domain_of(&state, &body.domain, "domain")?;
    let method = Method::parse(&body.method, "").ok_or_else(|| {
        Problem::new(Code::InvalidField, "unknown method")
            .field("method")
            .fix("use hmac or ff1:imsi|iccid|msisdn|imei|iban")
    })?;
    batch(body.values.len(), "values")?;
    let d = in_domain(keys, &body.domain, None)?;
    // The value is personal data: a problem names its place, never the value.
    let pseudonyms = each(
        &body.values,
        "values",
        "send the identifier in the format the method names",
        |v| d.pseudonym(method, v).map_err(|e| e.to_string()),
    )?;
    Ok(Json(PseudonymsMade {
        domain: body.domain,
        method: method.name(),
        key_id: d.key_id().to_owned(),
        pseudonyms,
    }))
}

#[utoipa::path(post, path = "/v1/pseudonyms/reverse", request_body = ReversePost,
    responses((status = 200, body = Reversed), (status = 422, body = crate::problem::ProblemBody), (status = 501, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn reverse(
    State(state): State<AppState>,
    Body(body): Body<ReversePost>,
) -> Result<Json<Reversed>, Problem> {
    let keys = keys(&state)?;
    domain_of(&state, &body.domain, "domain")?;
    let id = Identifier::parse(&body.identifier).ok_or_else(|| {
        Problem::new(Code::InvalidField, "only FF1 pseudonyms can be reversed")
            .field("identifier")
            .fix("use imsi, iccid, msisdn, imei or iban; HMAC pseudonyms are one-way")
    })?;
    let reference = body.reference.trim();
    if reference.is_empty()
        || reference.chars().count() > 100
        || reference.chars().any(char::is_control)
    {
        return Err(Problem::new(
            Code::InvalidField,
            "a reversal needs a reference of 1 to 100 characters",
        )
        .field("reference")
        .fix("name the case, ticket or order the reversal serves"));
    }
    batch(body.pseudonyms.len(), "pseudonyms")?;
    let d = in_domain(keys, &body.domain, Some(&body.key_id))?;
    let values = each(
        &body.pseudonyms,
        "pseudonyms",
        "send pseudonyms made by this domain and key",
        |p| d.reverse(id, p).map_err(|e| e.to_string()),
    )?;
    // Recorded before anything is handed out: no record, no value.
    let reversal = Reversal {
        at: now(),
        domain: body.domain,
        identifier: id.name().to_owned(),
        key_id: body.key_id,
        count: values.len(),
        reference: reference.to_owned(),
    };
    tutela_runtime::records::reversal(&state.engine, &reversal)
        .await
        .map_err(storage)?;
    Ok(Json(Reversed { values }))
}

#[utoipa::path(post, path = "/v1/pseudonymised-datasets", request_body = DatasetPost,
    responses((status = 201, body = DatasetView), (status = 422, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn register(
    State(state): State<AppState>,
    Body(body): Body<DatasetPost>,
) -> Result<(StatusCode, Json<DatasetView>), Problem> {
    let at = now();
    let expires_at = {
        let live = state.engine.states();
        let policy = &live.policy.policy;
        let Some(p) = policy.purpose(&body.purpose) else {
            return Err(Problem::new(
                Code::UnknownId,
                format!("no purpose `{}` in the policy", body.purpose),
            )
            .field("purpose")
            .fix("name a purpose of the policy (GET /v1/policy)"));
        };
        let rule = policy.purposes[p].retention.map(|r| &policy.retention[r]);
        rule.and_then(|r| r.end_from_collection(at)).ok_or_else(|| {
            Problem::new(
                Code::PolicyViolation,
                format!("the purpose `{}` has no retention rule that runs from collection", body.purpose),
            )
            .field("purpose")
            .fix("give the purpose a [[retention]] rule with from = \"collection\" (N7b: three months)")
        })?
    };
    let domain = body.domain.unwrap_or_else(|| body.purpose.clone());
    domain_of(&state, &domain, "domain")?;
    let location = state
        .requests
        .settings
        .pseudonymised_dirs
        .registrable(std::path::Path::new(&body.location))
        .map_err(location_refused)?;
    each(
        &body.columns,
        "columns",
        "e.g. imsi=ff1:imsi or msisdn=hmac",
        |c| {
            let ok = c
                .split_once('=')
                .is_some_and(|(col, m)| !col.is_empty() && Method::parse(m, col).is_some());
            if ok && !c.contains(',') {
                Ok(())
            } else {
                Err("expected column=method".to_owned())
            }
        },
    )?;
    if let Some(keys) = state.pseudonyms.as_deref() {
        in_domain(keys, &domain, Some(&body.key_id))?;
    }
    let id = random_id("pds")?;
    let record = DatasetRecord {
        id,
        purpose: body.purpose,
        domain,
        location: location.to_string_lossy().into_owned(),
        columns: body.columns.join(","),
        key_id: body.key_id,
        rows: i64::try_from(body.rows).unwrap_or(i64::MAX),
        created_at: at,
        expires_at,
        deleted_at: None,
        error: None,
    };
    tutela_runtime::records::dataset(&state.engine, &record)
        .await
        .map_err(storage)?;
    Ok((StatusCode::CREATED, Json(view(record))))
}

#[utoipa::path(get, path = "/v1/pseudonymised-datasets",
    responses((status = 200, body = Vec<DatasetView>)),
    security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<DatasetView>>, Problem> {
    let all = state.engine.store.datasets().await.map_err(storage)?;
    Ok(Json(all.into_iter().map(view).collect()))
}

/// A refused location as a problem; it never says anything about the file's content.
fn location_refused(why: tutela_runtime::dataset_files::LocationRefused) -> Problem {
    use tutela_runtime::dataset_files::LocationRefused;
    let (code, fix) = match why {
        LocationRefused::NotConfigured => (
            Code::NotConfigured,
            "the operator sets pseudonymised_dirs in the server's configuration (a directory for datasets only)",
        ),
        _ => (
            Code::InvalidField,
            "write the file into one of the server's pseudonymised_dirs and send its absolute path",
        ),
    };
    Problem::new(code, why.to_string())
        .field("location")
        .fix(fix)
}
