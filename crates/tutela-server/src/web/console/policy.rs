//! The policy, its versions and activations. A new version comes as an uploaded file (or its
//! text pasted); its errors are shown with file, line and column in the reader's language.

use askama::Template;
use axum::Extension;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tutela_core::policy::{PolicyErrors, ReplayLoader, load_policy};
use tutela_core::render::Lang;

use super::{Operator, chrome};
use crate::AppState;
use crate::routes::now;
use crate::web::center::message;
use crate::web::{Chrome, PageLang, date_time, page};
use tutela_runtime::activation::ActivationError;
use tutela_runtime::operators::ActorNames;
use tutela_runtime::operators::Permission;

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
    recipients: Vec<RecipientRow>,
    covered: Vec<(String, usize)>,
    gaps: Vec<String>,
}

/// A recipient as the DPO reads it: its name, the id the policy file gives it, its kind.
struct RecipientRow {
    label: String,
    id: String,
    kind: String,
    clauses: String,
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
                .map(|b| b.legal_basis.article(lang))
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
                .map(|r| policy.retention[r].label.get(lang).to_owned())
                .unwrap_or_default(),
            clauses: p.notice_refs.join(", "),
        })
        .collect();
    let recipients = policy
        .recipients
        .iter()
        .map(|r| RecipientRow {
            label: r.label.get(lang).to_owned(),
            id: r.id.clone(),
            kind: tutela_core::report::recipient_kind(r.kind, lang).to_owned(),
            clauses: r.notice_refs.join(", "),
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

pub(super) struct ActivationRow {
    id: String,
    notice_version: String,
    hash: String,
    effective: String,
    by: String,
    /// The state as recorded (`scheduled`, …), what the template decides on.
    status: String,
    /// The state in the reader's words.
    state: String,
    /// Why a version was refused, as recorded: the policy's own (English) message.
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
    /// The policy's errors: where (file, line, column, in words), what, and how to fix it.
    errors: Vec<(String, String, String)>,
}

/// Why a version was not taken: a sentence, and the policy's errors when it did not validate.
#[derive(Default)]
struct Refusal {
    error: Option<String>,
    errors: Vec<(String, String, String)>,
}

impl Refusal {
    fn say(text: String) -> Refusal {
        Refusal {
            error: Some(text),
            errors: vec![],
        }
    }
}

async fn versions_view(
    state: &AppState,
    lang: Lang,
    op: &Operator,
    refusal: Refusal,
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
    let Ok(names) = ActorNames::load(store).await else {
        return crate::web::center::unavailable_at(state, lang, "/console");
    };
    let tz = &state.requests.settings.deadlines.time_zone;
    let policy = state.engine.policy();
    let mut c = chrome(state, lang, t.versions, op);
    c.error = refusal.error;
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
                    by: names.name(&a.requested_by, lang),
                    state: activation_state(&a.status, lang).to_owned(),
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
                        names.name(&v.activated_by, lang),
                    )
                })
                .collect(),
            may_activate: op.role.may(Permission::Administer),
            draft,
            effective_at,
            errors: refusal.errors,
        },
    )
}

pub(super) async fn versions_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
) -> Response {
    versions_view(
        &state,
        lang,
        &op,
        Refusal::default(),
        String::new(),
        String::new(),
    )
    .await
}

/// The activation form: the policy as an uploaded file or as pasted text, and when it takes
/// effect.
#[derive(Default)]
struct ScheduleForm {
    /// The uploaded file's name (its last path segment), when one was uploaded.
    file_name: Option<String>,
    file: Vec<u8>,
    policy: String,
    effective_at: String,
}

#[derive(Deserialize)]
struct PastedForm {
    #[serde(default)]
    policy: String,
    #[serde(default)]
    effective_at: String,
}

/// Reads the form, sent as `multipart/form-data` (with a file) or URL-encoded (text only).
async fn read_form(req: Request) -> Option<ScheduleForm> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        let axum::Form(f) = axum::Form::<PastedForm>::from_request(req, &())
            .await
            .ok()?;
        return Some(ScheduleForm {
            policy: f.policy,
            effective_at: f.effective_at,
            ..ScheduleForm::default()
        });
    }
    let mut parts = Multipart::from_request(req, &()).await.ok()?;
    let mut form = ScheduleForm::default();
    while let Some(field) = parts.next_field().await.ok()? {
        match field.name().unwrap_or_default() {
            "policy_file" => {
                let name = field.file_name().map(plain_file_name);
                let bytes = field.bytes().await.ok()?;
                // A browser sends an empty part when no file was chosen.
                if !bytes.is_empty() {
                    form.file_name = name;
                    form.file = bytes.to_vec();
                }
            }
            "policy" => form.policy = field.text().await.ok()?,
            "effective_at" => form.effective_at = field.text().await.ok()?,
            _ => {}
        }
    }
    Some(form)
}

/// The last segment of an uploaded file's name, in letters, digits, dots, dashes and
/// underscores: it names the file in error messages and in the stored version.
fn plain_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let name: String = last
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
        .take(100)
        .collect();
    if name.trim_matches('.').is_empty() {
        "policy.toml".to_owned()
    } else {
        name
    }
}

/// The policy's text and its file name: the uploaded file wins over pasted text.
fn policy_text(f: &ScheduleForm, lang: Lang) -> Result<(String, String), Refusal> {
    let t = crate::web::i18n::texts(lang);
    if let Some(name) = &f.file_name {
        return match String::from_utf8(f.file.clone()) {
            Ok(text) => Ok((name.clone(), text)),
            Err(_) => Err(Refusal::say(t.policy_not_text.replace("{file}", name))),
        };
    }
    if f.policy.trim().is_empty() {
        return Err(Refusal::say(t.policy_none_given.to_owned()));
    }
    Ok(("policy.toml".to_owned(), f.policy.clone()))
}

/// The policy's errors for a reader: a sentence in their language around each error's place;
/// the messages themselves stay as `tutela policy check` prints them (English), see
/// `policy_messages_english`.
fn invalid(errors: &PolicyErrors, file: &str, lang: Lang) -> Refusal {
    let t = crate::web::i18n::texts(lang);
    Refusal {
        error: Some(
            t.policy_invalid
                .replace("{file}", file)
                .replace("{count}", &errors.0.len().to_string()),
        ),
        errors: errors
            .0
            .iter()
            .map(|e| {
                let at = t
                    .policy_error_at
                    .replace("{line}", &e.line.to_string())
                    .replace("{column}", &e.column.to_string());
                let at = if e.file == file {
                    at
                } else {
                    format!("{} {at}", e.file)
                };
                (at, e.message.clone(), e.help.clone())
            })
            .collect(),
    }
}

/// An activation refused for another reason than the file's errors, in the reader's language.
/// Times and purposes in it are in words: the time in the controller's time zone, the
/// purposes by their labels in the new version (or the one in force).
fn refused(
    state: &AppState,
    e: ActivationError,
    (sources, root): (&[tutela_core::policy::RecordedSource], &str),
    lang: Lang,
) -> Refusal {
    let t = crate::web::i18n::texts(lang);
    Refusal::say(match e {
        ActivationError::InThePast(at) => {
            let tz = &state.requests.settings.deadlines.time_zone;
            t.policy_in_the_past
                .replace("{value}", &crate::web::date_time(at, tz, lang))
        }
        ActivationError::RenewalUndeclared(purposes) => {
            let current = state.engine.policy();
            let next = tutela_runtime::activation::compile(sources, root).ok();
            let mut policies = vec![&current.policy];
            if let Some(n) = &next {
                policies.insert(0, &n.policy);
            }
            let named: Vec<String> = purposes
                .iter()
                .map(|p| super::changes::in_words(&format!("`{p}`"), &policies, lang))
                .collect();
            t.policy_renewal_missing
                .replace("{value}", &named.join(", "))
        }
        other => t.policy_not_taken.replace("{value}", &other.to_string()),
    })
}

/// A dpo activates a policy file (one file, no includes) now or at a time; the same checks
/// as `tutela policy activate`, and the errors shown with their line and column.
pub(super) async fn schedule_version(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    req: Request,
) -> Response {
    let t = crate::web::i18n::texts(lang);
    let Some(f) = read_form(req).await else {
        return message(
            &state,
            lang,
            StatusCode::BAD_REQUEST,
            t.bad_input,
            "/console/versions",
        );
    };
    let draft = f.policy.clone();
    let effective_at = f.effective_at.clone();
    match schedule_checked(&state, lang, &op, &f).await {
        Ok(()) => Redirect::to("/console/versions").into_response(),
        Err(None) => crate::web::center::unavailable_at(&state, lang, "/console/versions"),
        Err(Some(refusal)) => versions_view(&state, lang, &op, refusal, draft, effective_at).await,
    }
}

/// Checks and schedules the form's version; `Err(None)` when the store failed.
async fn schedule_checked(
    state: &AppState,
    lang: Lang,
    op: &Operator,
    f: &ScheduleForm,
) -> Result<(), Option<Refusal>> {
    let t = crate::web::i18n::texts(lang);
    let at = match f.effective_at.trim() {
        "" => None,
        v => match v.parse::<jiff::Timestamp>() {
            Ok(at) => Some(at),
            Err(_) => return Err(Some(Refusal::say(t.policy_bad_time.replace("{value}", v)))),
        },
    };
    let (file, text) = policy_text(f, lang).map_err(Some)?;
    let sources = vec![tutela_core::policy::RecordedSource {
        from: None,
        path: file.clone(),
        name: file.clone(),
        text,
    }];
    // Loaded here first for the errors one by one, with their places.
    if let Err(errors) = load_policy(&ReplayLoader(sources.clone()), &file) {
        return Err(Some(invalid(&errors, &file, lang)));
    }
    let at_now = now();
    // What this and every other server would refuse when the version takes effect is
    // refused here, before anything is stored.
    let store = &state.engine.store;
    let checked = match tutela_runtime::activation::preflight(
        store,
        &sources,
        &file,
        at,
        &state.engine.policy(),
        at_now,
    )
    .await
    {
        Ok(_) => {
            // Kept for the refusal's words: purposes by their labels in this version.
            tutela_runtime::activation::schedule(
                store,
                sources.clone(),
                &file,
                at,
                &op.actor(),
                at_now,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match checked {
        Ok(_) => Ok(()),
        Err(ActivationError::Storage(_)) => Err(None),
        Err(e) => Err(Some(refused(state, e, (&sources, &file), lang))),
    }
}

pub(super) async fn cancel_version(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
) -> Response {
    let t = crate::web::i18n::texts(lang);
    match tutela_runtime::records::cancel_version(&state.engine, &id, &op.actor(), now()).await {
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
    let Ok(next) = tutela_runtime::activation::compile(&sources, &a.root) else {
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
    // The core names purposes and categories by id; the page by their labels.
    let policies = [&next.policy, &current.policy];
    gaps.chain(changes)
        .map(|s| super::changes::in_words(&s, &policies, lang))
        .collect()
}

/// A version's activation state in words.
fn activation_state(status: &str, lang: Lang) -> &str {
    let (de, en) = match status {
        "scheduled" => ("geplant", "scheduled"),
        "active" => ("in Kraft", "in force"),
        "superseded" => ("abgelöst", "superseded"),
        "refused" => ("abgelehnt", "refused"),
        "cancelled" => ("zurückgezogen", "cancelled"),
        other => (other, other),
    };
    match lang {
        Lang::De => de,
        Lang::En => en,
    }
}
