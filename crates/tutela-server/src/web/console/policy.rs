//! The policy, its versions and activations, and the operator accounts.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tutela_core::render::Lang;

use super::{Operator, chrome};
use crate::AppState;
use crate::routes::now;
use crate::web::center::message;
use crate::web::operators::Permission;
use crate::web::{Chrome, PageLang, WebForm, date, date_time, page};
use tutela_store::WebStore;

pub(super) struct PurposeRow {
    id: String,
    label: String,
    bases: String,
    categories: String,
    retention: String,
    clauses: String,
}

#[derive(Template)]
#[template(path = "console/policy.html")]
pub(super) struct PolicyPage {
    c: Chrome,
    /// Consent purposes with how many active consents await renewal (N33).
    renewals: Vec<(String, usize)>,
    purposes: Vec<PurposeRow>,
    recipients: Vec<(String, String, String)>,
    covered: Vec<(String, usize)>,
    gaps: Vec<String>,
}

pub(super) async fn policy_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
) -> Response {
    let t = crate::web::i18n::texts(lang);
    let policy = &state.engine.policy().policy;
    let purposes = policy
        .purposes
        .iter()
        .map(|p| PurposeRow {
            id: p.id.clone(),
            label: p.label.get(lang).to_owned(),
            bases: p
                .bases
                .iter()
                .map(|b| b.legal_basis.dpv_id().to_owned())
                .collect::<Vec<_>>()
                .join(", "),
            categories: p
                .categories
                .iter()
                .map(|&c| policy.categories[c].label.get(lang).to_owned())
                .collect::<Vec<_>>()
                .join(", "),
            retention: p
                .retention
                .map(|r| policy.retention[r].id.clone())
                .unwrap_or_default(),
            clauses: p.notice_refs.join(", "),
        })
        .collect();
    let recipients = policy
        .recipients
        .iter()
        .map(|r| {
            (
                r.id.clone(),
                r.kind.as_str().to_owned(),
                r.notice_refs.join(", "),
            )
        })
        .collect();
    let cited = tutela_core::coverage::element_citations(policy);
    let covered: Vec<(String, usize)> = tutela_core::coverage::notice_clauses()
        .into_iter()
        .map(|c| {
            let n = cited.get(&c).map_or(0, Vec::len);
            (c, n)
        })
        .collect();
    let gaps = covered
        .iter()
        .filter(|(_, n)| *n == 0)
        .map(|(c, _)| c.clone())
        .collect();
    let renewals = {
        let live = state.engine.states();
        let compiled = &live.policy;
        policy
            .purposes
            .iter()
            .filter(|p| p.renewal.is_some())
            .map(|p| {
                let mask = compiled.consent_mask(&p.id, None);
                let n = live.iter().filter(|(_, s)| s.renewal() & mask != 0).count();
                (p.label.get(lang).to_owned(), n)
            })
            .collect()
    };
    page(&PolicyPage {
        renewals,
        c: chrome(&state, lang, t.policy, &op),
        purposes,
        recipients,
        covered,
        gaps,
    })
}

#[derive(Template)]
#[template(path = "console/operators.html")]
pub(super) struct OperatorsPage {
    c: Chrome,
    operators: Vec<(String, String, String)>,
}

pub(super) async fn operators_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
) -> Response {
    let t = crate::web::i18n::texts(lang);
    let Ok(list) = state.engine.store.operators().await else {
        return crate::web::center::unavailable_at(&state, lang, "/console");
    };
    let tz = &state.requests.settings.deadlines.time_zone;
    page(&OperatorsPage {
        c: chrome(&state, lang, t.operators, &op),
        operators: list
            .into_iter()
            .map(|o| (o.name, o.role, date(o.created_at, tz, lang)))
            .collect(),
    })
}

pub(super) struct ActivationRow {
    id: String,
    notice_version: String,
    hash: String,
    effective: String,
    by: String,
    status: String,
    error: String,
    /// For a scheduled version: what changes against the one in force, in words.
    changes: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/versions.html")]
pub(super) struct VersionsPage {
    c: Chrome,
    in_force: String,
    activations: Vec<ActivationRow>,
    archive: Vec<(String, String, String, String)>,
    may_activate: bool,
    draft: String,
    effective_at: String,
}

async fn versions_view(
    state: &AppState,
    lang: Lang,
    op: &Operator,
    error: Option<String>,
    draft: String,
    effective_at: String,
) -> Response {
    use tutela_store::{ActivationStore, PolicyArchive};
    let t = crate::web::i18n::texts(lang);
    let store = &state.engine.store;
    let (Ok(activations), Ok(archive)) = (store.activations().await, store.policy_versions().await)
    else {
        return crate::web::center::unavailable_at(state, lang, "/console");
    };
    let tz = &state.requests.settings.deadlines.time_zone;
    let policy = state.engine.policy();
    let mut c = chrome(state, lang, t.versions, op);
    c.error = error;
    let status = if c.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    crate::web::page_with(
        status,
        &VersionsPage {
            c,
            in_force: format!("{} ({})", policy.policy.version, policy.policy.hash),
            activations: activations
                .into_iter()
                .rev()
                .map(|a| ActivationRow {
                    changes: if a.status == "scheduled" {
                        changes_against(&policy, &a, lang)
                    } else {
                        vec![]
                    },
                    id: a.id,
                    notice_version: a.notice_version,
                    hash: a.hash.chars().take(12).collect(),
                    effective: date_time(a.effective_at, tz, lang),
                    by: a.requested_by,
                    status: a.status,
                    error: a.error.unwrap_or_default(),
                })
                .collect(),
            archive: archive
                .into_iter()
                .rev()
                .map(|v| {
                    (
                        v.notice_version,
                        v.hash,
                        date_time(v.first_loaded_at, tz, lang),
                        v.activated_by,
                    )
                })
                .collect(),
            may_activate: op.role.may(Permission::Administer),
            draft,
            effective_at,
        },
    )
}

pub(super) async fn versions_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
) -> Response {
    versions_view(&state, lang, &op, None, String::new(), String::new()).await
}

#[derive(Deserialize)]
pub(super) struct ScheduleForm {
    policy: String,
    #[serde(default)]
    effective_at: String,
}

/// A dpo activates a policy file (one file, no includes) now or at a time; the same checks
/// as `tutela policy activate`, and the errors shown with their line and column.
pub(super) async fn schedule_version(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    WebForm(f): WebForm<ScheduleForm>,
) -> Response {
    let at = match f.effective_at.trim() {
        "" => None,
        t => match t.parse::<jiff::Timestamp>() {
            Ok(at) => Some(at),
            Err(_) => {
                let e = format!(
                    "`{t}`: effective_at must be an RFC 3339 time such as 2026-07-01T00:00:00+02:00"
                );
                return versions_view(&state, lang, &op, Some(e), f.policy, f.effective_at).await;
            }
        },
    };
    let sources = vec![tutela_core::policy::RecordedSource {
        from: None,
        path: "policy.toml".into(),
        name: "policy.toml".into(),
        text: f.policy.clone(),
    }];
    let at_now = now();
    // What this and every other server would refuse when the version takes effect is
    // refused here, before anything is stored.
    let checked = match crate::activation::preflight(
        &state.engine.store,
        &sources,
        "policy.toml",
        at,
        &state.engine.policy(),
        at_now,
    )
    .await
    {
        Ok(_) => {
            crate::activation::schedule(
                &state.engine.store,
                sources,
                "policy.toml",
                at,
                &op.actor(),
                at_now,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match checked {
        Ok(_) => Redirect::to("/console/versions").into_response(),
        Err(e) => {
            versions_view(
                &state,
                lang,
                &op,
                Some(e.to_string()),
                f.policy,
                f.effective_at,
            )
            .await
        }
    }
}

pub(super) async fn cancel_version(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
) -> Response {
    use tutela_store::ActivationStore;
    let t = crate::web::i18n::texts(lang);
    match state
        .engine
        .store
        .decide_activation(&id, "scheduled", "cancelled", now(), None, &op.actor())
        .await
    {
        Ok(()) => Redirect::to("/console/versions").into_response(),
        Err(tutela_store::StoreError::Conflict) => message(
            &state,
            lang,
            StatusCode::CONFLICT,
            t.not_found,
            "/console/versions",
        ),
        Err(_) => crate::web::center::unavailable_at(&state, lang, "/console/versions"),
    }
}

/// What a scheduled version changes against the one in force, in the page's language; the
/// renewal gaps that would make it refused come first.
fn changes_against(
    current: &tutela_core::compiled::CompiledPolicy,
    a: &tutela_store::ActivationRecord,
    lang: Lang,
) -> Vec<String> {
    let sources: Vec<tutela_core::policy::RecordedSource> =
        serde_json::from_str(&a.sources).unwrap_or_default();
    let Ok(next) = crate::activation::compile(&sources, &a.root) else {
        return vec![];
    };
    let gaps = tutela_core::diff::renewal_gaps(&current.policy, &next.policy)
        .into_iter()
        .map(|p| match lang {
            Lang::De => format!("Wird abgelehnt: `{p}` wird erweitert, ohne [purpose.renewal]."),
            Lang::En => format!("Will be refused: `{p}` is widened without [purpose.renewal]."),
        });
    let changes = tutela_core::diff::diff(&current.policy, &next.policy)
        .into_iter()
        .map(|c| match lang {
            Lang::De => c.de,
            Lang::En => c.en,
        });
    gaps.chain(changes).collect()
}
