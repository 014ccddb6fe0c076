//! The verifiable log over HTTP (issue 10): the signed tree head, signing one now, inclusion
//! proofs for a ledger event or request transition, and consistency proofs between heads. A
//! proof carries its head, so `tutela log check-proof` needs nothing else but the public key.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tutela_core::merkle_nodes;
use tutela_store::{LogSource, LogStore, SignedHead};
use utoipa::ToSchema;

use crate::AppState;
use crate::problem::{Code, Problem};
use tutela_runtime::verifiable_log::{self, hex};

/// A signed tree head (RFC 6962 tree, Ed25519 signature over `head_message`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HeadOut {
    pub size: u64,
    /// The tree hash, hex.
    pub root: String,
    /// Microseconds since the Unix epoch, as signed.
    pub at_us: i64,
    pub key_id: String,
    /// Ed25519 signature, hex.
    pub signature: String,
}

impl From<&SignedHead> for HeadOut {
    fn from(h: &SignedHead) -> HeadOut {
        HeadOut {
            size: h.size,
            root: hex(&h.root),
            at_us: h.at.as_microsecond(),
            key_id: h.key_id.clone(),
            signature: hex(&h.signature),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InclusionOut {
    /// `ledger:<seq>`, `request:<seq>` or `audit:<seq>`.
    pub event: String,
    pub leaf_index: u64,
    pub leaf_hash: String,
    /// The audit path, leaf to root, hex.
    pub proof: Vec<String>,
    pub head: HeadOut,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyOut {
    pub from: HeadOut,
    pub to: HeadOut,
    pub proof: Vec<String>,
}

/// A stored node a proof needs is missing: the store lost part of the log.
fn shorter_than_head() -> Problem {
    Problem::new(Code::StorageUnavailable, "the log is shorter than its head")
        .fix("run `tutela log verify`")
}

fn unavailable(_: tutela_store::StoreError) -> Problem {
    Problem::new(Code::StorageUnavailable, "the log could not be read").fix("retry")
}

#[utoipa::path(get, path = "/v1/log/head",
    responses((status = 200, body = HeadOut), (status = 404, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn head(State(state): State<AppState>) -> Result<Json<HeadOut>, Problem> {
    let heads = state.engine.store.heads().await.map_err(unavailable)?;
    let last = heads.last().ok_or_else(|| {
        Problem::new(Code::NotFound, "no tree head has been signed yet")
            .fix("POST /v1/log/head signs one now")
    })?;
    Ok(Json(last.into()))
}

#[utoipa::path(post, path = "/v1/log/head",
    responses((status = 201, body = HeadOut), (status = 501, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn sign(State(state): State<AppState>) -> Result<(StatusCode, Json<HeadOut>), Problem> {
    let key = state.log_key.as_ref().ok_or_else(|| {
        Problem::new(Code::NotConfigured, "no log key is configured")
            .fix("start the server with --log-key FILE")
    })?;
    let h = verifiable_log::sign_head(&state.engine.store, key, super::now())
        .await
        .map_err(unavailable)?;
    Ok((StatusCode::CREATED, Json((&h).into())))
}

#[utoipa::path(get, path = "/v1/log/proof/{event}",
    params(("event" = String, Path, description = "`ledger:<seq>`, `request:<seq>` or `audit:<seq>`")),
    responses((status = 200, body = InclusionOut), (status = 404, body = crate::problem::ProblemBody), (status = 409, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn inclusion(
    State(state): State<AppState>,
    Path(event): Path<String>,
) -> Result<Json<InclusionOut>, Problem> {
    let parsed = event
        .split_once(':')
        .and_then(|(s, n)| Some((LogSource::parse(s)?, n.parse::<i64>().ok()?)));
    let Some((source, seq)) = parsed else {
        return Err(
            Problem::new(Code::InvalidField, format!("`{event}` names no log entry"))
                .field("event")
                .fix("write `ledger:<seq>`, `request:<seq>` or `audit:<seq>`"),
        );
    };
    let store = &state.engine.store;
    let Some(leaf) = store.log_leaf(source, seq).await.map_err(unavailable)? else {
        return Err(
            Problem::new(Code::NotFound, format!("`{event}` is not sealed in the log"))
                .fix("an entry is sealed within a second of its write; POST /v1/log/head seals and signs now"),
        );
    };
    let heads = store.heads().await.map_err(unavailable)?;
    let Some(h) = heads.last().filter(|h| leaf.index < h.size) else {
        return Err(Problem::new(
            Code::ResultNotReady,
            format!("`{event}` is sealed but in no signed head yet"),
        )
        .fix("POST /v1/log/head signs a head that includes it"));
    };
    // O(log n) stored subtree hashes, not every leaf.
    let nodes = store
        .log_nodes(&merkle_nodes::inclusion_needs(leaf.index, h.size))
        .await
        .map_err(unavailable)?;
    let proof =
        merkle_nodes::inclusion_from(leaf.index, h.size, &nodes).ok_or_else(shorter_than_head)?;
    Ok(Json(InclusionOut {
        event,
        leaf_index: leaf.index,
        leaf_hash: hex(&leaf.leaf_hash),
        proof: proof.iter().map(|p| hex(p)).collect(),
        head: h.into(),
    }))
}

#[derive(Debug, Deserialize)]
pub struct ConsistencyQuery {
    from: u64,
    to: u64,
}

#[utoipa::path(get, path = "/v1/log/consistency",
    params(("from" = u64, Query, description = "Size of the older signed head"),
           ("to" = u64, Query, description = "Size of the newer signed head")),
    responses((status = 200, body = ConsistencyOut), (status = 404, body = crate::problem::ProblemBody)),
    security(("bearer" = [])))]
pub async fn consistency(
    State(state): State<AppState>,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Json<ConsistencyOut>, Problem> {
    let store = &state.engine.store;
    let heads = store.heads().await.map_err(unavailable)?;
    let find = |size: u64, field: &'static str| {
        heads.iter().find(|h| h.size == size).ok_or_else(|| {
            Problem::new(Code::NotFound, format!("no signed head has size {size}"))
                .field(field)
                .fix("use the sizes of heads from GET /v1/log/head over time")
        })
    };
    let (from, to) = (find(q.from, "from")?, find(q.to, "to")?);
    if from.size == 0 {
        // RFC 9162 2.1.4 defines proofs from a tree of at least one leaf: every log extends
        // the empty tree, there is nothing to prove.
        return Err(Problem::new(
            Code::InvalidField,
            "a consistency proof starts from a head with at least one leaf",
        )
        .field("from")
        .fix("use the size of a non-empty head; every log is consistent with the empty tree"));
    }
    if from.size > to.size {
        return Err(
            Problem::new(Code::InvalidField, "`from` must not be larger than `to`")
                .field("from")
                .fix("swap the sizes"),
        );
    }
    let nodes = store
        .log_nodes(&merkle_nodes::consistency_needs(from.size, to.size))
        .await
        .map_err(unavailable)?;
    let proof =
        merkle_nodes::consistency_from(from.size, to.size, &nodes).ok_or_else(shorter_than_head)?;
    Ok(Json(ConsistencyOut {
        from: from.into(),
        to: to.into(),
        proof: proof.iter().map(|p| hex(p)).collect(),
    }))
}
