//! The console of the privacy office: operators sign in with password and TOTP; what each
//! route needs is in one table, [`ROUTES`], that a middleware enforces before any handler runs
//! and the tests walk for every role.

use askama::Template;
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;
use tutela_core::render::Lang;
use tutela_core::request::RequestType;
use tutela_core::state::{ERASED, RESTRICTED};
use tutela_store::{DisclosureStore, RequestStore, SessionRecord, WebStore};

use super::center::{PersonFacts, message, person_facts, request_label, status_label};
use super::operators::{self, Permission, Role};
use super::session::{self, CONSOLE_FORM_COOKIE as FORM_COOKIE, OPERATOR_COOKIE};
use super::{Chrome, PageLang, WebForm, date, date_time, page};
use crate::AppState;
use crate::requests::state_of;
use crate::routes::now;

/// Every console route with what it requires; a route missing here is refused to everyone.
pub const ROUTES: &[(&str, &str, Permission)] = &[
    ("GET", "/console", Permission::Read),
    ("GET", "/console/requests/{id}", Permission::Read),
    (
        "POST",
        "/console/requests/{id}/verify",
        Permission::HandleRequests,
    ),
    (
        "POST",
        "/console/requests/{id}/extend",
        Permission::HandleRequests,
    ),
    (
        "POST",
        "/console/requests/{id}/refuse",
        Permission::HandleRequests,
    ),
    (
        "POST",
        "/console/requests/{id}/classify",
        Permission::HandleRequests,
    ),
    (
        "POST",
        "/console/requests/{id}/retry",
        Permission::HandleRequests,
    ),
    ("GET", "/console/subject", Permission::Read),
    ("POST", "/console/subject", Permission::Read),
    ("GET", "/console/policy", Permission::Read),
    ("GET", "/console/record", Permission::Read),
    ("GET", "/console/operators", Permission::Administer),
    ("GET", "/console/summaries", Permission::HandleRequests),
    (
        "POST",
        "/console/summaries/{id}/review",
        Permission::HandleRequests,
    ),
    ("GET", "/console/versions", Permission::Read),
    ("POST", "/console/versions", Permission::Administer),
    (
        "POST",
        "/console/versions/{id}/cancel",
        Permission::Administer,
    ),
];

/// Routes open before sign-in.
const PUBLIC: &[(&str, &str)] = &[("POST", "/console/login"), ("POST", "/console/logout")];

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/console", get(queue))
        .route("/console/login", post(login))
        .route("/console/logout", post(logout))
        .route("/console/requests/{id}", get(request_page))
        .route("/console/requests/{id}/verify", post(verify))
        .route("/console/requests/{id}/extend", post(extend))
        .route("/console/requests/{id}/refuse", post(refuse))
        .route("/console/requests/{id}/classify", post(classify))
        .route("/console/requests/{id}/retry", post(retry))
        .route("/console/subject", get(subject_search).post(subject_page))
        .route("/console/policy", get(policy_page))
        .route("/console/record", get(crate::routes::meta::record))
        .route("/console/operators", get(operators_page))
        .route("/console/summaries", get(summaries_page))
        .route("/console/summaries/{id}/review", post(review_summary))
        .route(
            "/console/versions",
            get(versions_page).post(schedule_version),
        )
        .route("/console/versions/{id}/cancel", post(cancel_version))
        .route_layer(middleware::from_fn_with_state(state, guard))
}

/// The signed-in operator, put in the request by [`guard`].
#[derive(Clone)]
pub(crate) struct Operator {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub session: SessionRecord,
}

impl Operator {
    fn actor(&self) -> String {
        format!("operator:{}", self.id)
    }
}

async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_owned();
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    if PUBLIC.iter().any(|(m, p)| *m == method && *p == path) {
        return next.run(req).await;
    }
    let lang = super::lang_of_headers(req.uri().query(), req.headers());
    let t = super::i18n::texts(lang);
    let needed = ROUTES
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .map(|(_, _, need)| *need);
    let Some(needed) = needed else {
        return message(&state, lang, StatusCode::FORBIDDEN, t.forbidden, "/console");
    };
    let session = session::current(&state, req.headers(), "operator", now()).await;
    let operator = match session {
        Some(s) => {
            match tutela_store::WebStore::operator(&state.engine.store, &s.principal).await {
                Ok(Some(o)) if o.disabled_at.is_none() => {
                    Role::parse(&o.role).map(|role| Operator {
                        id: o.id,
                        name: o.name,
                        role,
                        session: s,
                    })
                }
                _ => None,
            }
        }
        None => None,
    };
    let Some(operator) = operator else {
        if method == "GET" && path == "/console" {
            return login_page(&state, lang, None);
        }
        return if method == "GET" {
            Redirect::to("/console").into_response()
        } else {
            message(
                &state,
                lang,
                StatusCode::UNAUTHORIZED,
                t.form_expired,
                "/console",
            )
        };
    };
    if !operator.role.may(needed) {
        return message(&state, lang, StatusCode::FORBIDDEN, t.forbidden, "/console");
    }
    if req.method() == Method::POST {
        // Every console form carries the session's token as its first field: check it from
        // the body before the handler sees the request.
        let (parts, body) = req.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
            return message(
                &state,
                lang,
                StatusCode::PAYLOAD_TOO_LARGE,
                t.bad_input,
                "/console",
            );
        };
        let presented = form_field(&bytes, "csrf").unwrap_or_default();
        if !session::form_ok(&parts.headers, &operator.session.csrf, &presented) {
            return message(
                &state,
                lang,
                StatusCode::FORBIDDEN,
                t.form_expired,
                "/console",
            );
        }
        req = Request::from_parts(parts, axum::body::Body::from(bytes));
    }
    req.extensions_mut().insert(operator);
    next.run(req).await
}

/// One field of a URL-encoded form body (`+` is a space, `%XX` a byte).
fn form_field(body: &[u8], name: &str) -> Option<String> {
    body.split(|b| *b == b'&').find_map(|pair| {
        let mut kv = pair.splitn(2, |b| *b == b'=');
        let key = decode_component(kv.next()?)?;
        (key == name).then(|| decode_component(kv.next().unwrap_or_default()))?
    })
}

fn decode_component(raw: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(raw.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn chrome(state: &AppState, lang: Lang, title: &str, op: &Operator) -> Chrome {
    let mut c = Chrome::new(state, lang, title, true).signed_in(Some(op.session.csrf.clone()));
    c.admin = op.role.may(Permission::Administer);
    c.who = format!("{} ({})", op.name, op.role.as_str());
    c
}

#[cfg(test)]
mod tests {
    #[test]
    fn form_fields_are_decoded() {
        let body = b"a=1&csrf=ab%2Fc+d&policy=%5Bx%5D";
        assert_eq!(super::form_field(body, "csrf").as_deref(), Some("ab/c d"));
        assert_eq!(super::form_field(body, "policy").as_deref(), Some("[x]"));
        assert_eq!(super::form_field(body, "none"), None);
        assert_eq!(super::form_field(b"csrf=%G1", "csrf"), None);
    }
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct Login {
    c: Chrome,
    form_token: String,
}

fn login_page(state: &AppState, lang: Lang, error: Option<&str>) -> Response {
    let token = crate::random_hex(16).unwrap_or_default();
    let t = super::i18n::texts(lang);
    let mut c = Chrome::new(state, lang, t.sign_in, true);
    c.error = error.map(str::to_owned);
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let mut res = super::page_with(
        status,
        &Login {
            c,
            form_token: token.clone(),
        },
    );
    res.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(FORM_COOKIE, &token, "/console", 3600),
    );
    res
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: String,
    name: String,
    password: String,
    totp: String,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageLang(lang): PageLang,
    client: super::Client,
    WebForm(f): WebForm<LoginForm>,
) -> Response {
    let t = super::i18n::texts(lang);
    if !session::form_ok(
        &headers,
        session::cookie(&headers, FORM_COOKIE).unwrap_or(""),
        &f.csrf,
    ) {
        return login_page(&state, lang, Some(t.form_expired));
    }
    let w = &state.web;
    if !w.limits.allow(
        &format!("client:{}", client.key()),
        w.settings.attempts_per_client,
        w.settings.rate_window,
    ) || !w.limits.allow(
        &format!("operator:{}", f.name),
        w.settings.attempts_per_operator,
        w.settings.rate_window,
    ) {
        return message(
            &state,
            lang,
            StatusCode::TOO_MANY_REQUESTS,
            t.too_many,
            "/console",
        );
    }
    let at = now();
    match operators::authenticate(&state.engine.store, &f.name, &f.password, &f.totp, at).await {
        Ok((op, _)) => {
            let validity = w.settings.operator_session;
            let Ok((token, _)) = session::start(&state, "operator", &op.id, validity, at).await
            else {
                return message(
                    &state,
                    lang,
                    StatusCode::SERVICE_UNAVAILABLE,
                    t.unavailable,
                    "/console",
                );
            };
            tracing::info!(operator = %op.id, "operator signed in");
            let mut res = Redirect::to("/console").into_response();
            res.headers_mut().append(
                header::SET_COOKIE,
                session::set_cookie(OPERATOR_COOKIE, &token, "/console", validity.as_secs()),
            );
            res
        }
        Err(operators::OperatorError::Storage(_)) => message(
            &state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            t.unavailable,
            "/console",
        ),
        Err(_) => login_page(&state, lang, Some(t.login_failed)),
    }
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(s) = session::current(&state, &headers, "operator", now()).await
        && session::form_ok(
            &headers,
            &s.csrf,
            &form_field(&body, "csrf").unwrap_or_default(),
        )
    {
        let _ = state.engine.store.delete_session(&s.id_hash).await;
    }
    let mut res = Redirect::to("/console").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(OPERATOR_COOKIE, "", "/console", 0),
    );
    res
}

struct QueueRow {
    id: String,
    kind: String,
    status: String,
    channel: String,
    received: String,
    due: String,
    overdue: bool,
    due_soon: bool,
}

#[derive(Template)]
#[template(path = "console/queue.html")]
struct Queue {
    c: Chrome,
    rows: Vec<QueueRow>,
}

const OPEN: [&str; 5] = [
    "received",
    "awaiting_verification",
    "verified",
    "in_progress",
    "unclassified",
];

async fn queue(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
) -> Response {
    let t = super::i18n::texts(lang);
    let Ok(list) = state.engine.store.list_requests(&OPEN, 500).await else {
        return message(
            &state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            t.unavailable,
            "/console",
        );
    };
    let at = now();
    let settings = &state.requests.settings;
    let tz = &settings.deadlines.time_zone;
    // The store sorts by due date, so overdue requests come first by themselves.
    let rows = list
        .into_iter()
        .map(|r| {
            let s = state_of(&r);
            QueueRow {
                overdue: s.as_ref().is_some_and(|s| s.is_overdue(at)),
                due_soon: s
                    .as_ref()
                    .is_some_and(|s| s.is_due_soon(at, &settings.deadlines)),
                kind: request_label(&r.request_type, lang),
                status: status_label(&r.status, lang),
                channel: r.channel,
                received: date(r.received_at, tz, lang),
                due: date(r.due_at, tz, lang),
                id: r.id,
            }
        })
        .collect();
    page(&Queue {
        c: chrome(&state, lang, t.queue, &op),
        rows,
    })
}

struct EventRow {
    at: String,
    actor: String,
    kind: String,
    note: String,
}

struct StepRow {
    step: String,
    status: String,
    attempts: i64,
    error: String,
}

#[derive(Template)]
#[template(path = "console/request.html")]
struct RequestDetail {
    c: Chrome,
    id: String,
    kind: String,
    status: String,
    channel: String,
    received: String,
    due: String,
    overdue: bool,
    has_subject: bool,
    details: String,
    events: Vec<EventRow>,
    steps: Vec<StepRow>,
    may_act: bool,
    open: bool,
    awaiting: bool,
    unclassified: bool,
    failed: bool,
    types: Vec<(&'static str, String)>,
}

async fn request_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
    Query(q): Query<super::center::FlashQuery>,
) -> Response {
    let t = super::i18n::texts(lang);
    let store = &state.engine.store;
    let r = match store.request(&id).await {
        Ok(Some(r)) => r,
        Ok(None) => return message(&state, lang, StatusCode::NOT_FOUND, t.not_found, "/console"),
        Err(_) => {
            return message(
                &state,
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                t.unavailable,
                "/console",
            );
        }
    };
    let (Ok(events), Ok(steps)) = (store.request_events(&id).await, store.steps(&id).await) else {
        return message(
            &state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            t.unavailable,
            "/console",
        );
    };
    let tz = &state.requests.settings.deadlines.time_zone;
    let open = OPEN.contains(&r.status.as_str());
    let failed = steps.iter().any(|s| s.status == "failed");
    let mut c = chrome(&state, lang, &request_label(&r.request_type, lang), &op);
    c.flash = super::center::flash_text(t, &q);
    page(&RequestDetail {
        c,
        kind: request_label(&r.request_type, lang),
        status: status_label(&r.status, lang),
        channel: r.channel.clone(),
        received: date_time(r.received_at, tz, lang),
        due: date(r.due_at, tz, lang),
        overdue: state_of(&r).is_some_and(|s| s.is_overdue(now())),
        has_subject: r.subject.is_some(),
        details: r.details.clone().unwrap_or_default(),
        events: events
            .into_iter()
            .map(|e| EventRow {
                at: date_time(e.at, tz, lang),
                actor: e.actor,
                kind: e.kind,
                note: e.note.unwrap_or_default(),
            })
            .collect(),
        steps: steps
            .into_iter()
            .map(|s| StepRow {
                step: s.step,
                status: s.status,
                attempts: s.attempts,
                error: s.last_error.unwrap_or_default(),
            })
            .collect(),
        may_act: op.role.may(Permission::HandleRequests),
        open,
        awaiting: r.status == "awaiting_verification",
        unclassified: r.request_type == "unclassified",
        failed,
        types: RequestType::ALL
            .iter()
            .filter(|t| **t != RequestType::Unclassified)
            .map(|t| (t.as_str(), request_label(t.as_str(), lang)))
            .collect(),
        id: r.id,
    })
}

/// After an action: back to the request, with its outcome.
fn acted(
    state: &AppState,
    lang: Lang,
    id: &str,
    result: Result<(), crate::requests::RequestError>,
) -> Response {
    let t = super::i18n::texts(lang);
    let back = format!("/console/requests/{id}");
    match result {
        Ok(()) => Redirect::to(&format!("{back}?done=saved")).into_response(),
        Err(crate::requests::RequestError::NotFound) => {
            message(state, lang, StatusCode::NOT_FOUND, t.not_found, "/console")
        }
        Err(crate::requests::RequestError::Storage(_)) => message(
            state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            t.unavailable,
            &back,
        ),
        Err(e) => {
            let text = format!("{} ({e})", t.bad_input);
            message(state, lang, StatusCode::UNPROCESSABLE_ENTITY, &text, &back)
        }
    }
}

#[derive(Deserialize)]
struct VerifyForm {
    note: String,
    #[serde(default)]
    subject: String,
}

async fn verify(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
    WebForm(f): WebForm<VerifyForm>,
) -> Response {
    let subject = (!f.subject.trim().is_empty()).then(|| f.subject.trim().to_owned());
    let r = state
        .requests
        .verify_by_agent(&id, f.note, subject, &op.actor(), now())
        .await;
    acted(&state, lang, &id, r.map(|_| ()))
}

#[derive(Deserialize)]
struct ExtendForm {
    months: u8,
    reason: String,
}

async fn extend(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
    WebForm(f): WebForm<ExtendForm>,
) -> Response {
    let r = state
        .requests
        .extend(&id, f.months, f.reason, &op.actor(), now())
        .await;
    acted(&state, lang, &id, r.map(|_| ()))
}

#[derive(Deserialize)]
struct ReasonForm {
    reason: String,
}

async fn refuse(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
    WebForm(f): WebForm<ReasonForm>,
) -> Response {
    let r = state
        .requests
        .refuse(&id, f.reason, &op.actor(), now())
        .await;
    acted(&state, lang, &id, r.map(|_| ()))
}

#[derive(Deserialize)]
struct ClassifyForm {
    #[serde(rename = "type")]
    request_type: String,
}

async fn classify(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
    WebForm(f): WebForm<ClassifyForm>,
) -> Response {
    let Some(t) = RequestType::parse(&f.request_type) else {
        let text = super::i18n::texts(lang).bad_input;
        return message(
            &state,
            lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            text,
            "/console",
        );
    };
    let r = state.requests.classify(&id, t, &op.actor(), now()).await;
    acted(&state, lang, &id, r.map(|_| ()))
}

async fn retry(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
) -> Response {
    let r = state.requests.retry_failed(&id, &op.actor(), now()).await;
    acted(&state, lang, &id, r.map(|_| ()))
}

struct DisclosureRow {
    at: String,
    recipient: String,
    purpose: String,
    allowed: bool,
    reference: String,
    barred: bool,
}

#[derive(Template)]
#[template(path = "console/subject.html")]
struct SubjectPage {
    c: Chrome,
    subject: String,
    facts: Option<PersonFacts>,
    relationship: String,
    restricted: bool,
    erased: bool,
    disclosures: Vec<DisclosureRow>,
}

async fn subject_search(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
) -> Response {
    let t = super::i18n::texts(lang);
    page(&SubjectPage {
        c: chrome(&state, lang, t.person, &op),
        subject: String::new(),
        facts: None,
        relationship: String::new(),
        restricted: false,
        erased: false,
        disclosures: vec![],
    })
}

#[derive(Deserialize)]
struct SubjectForm {
    subject: String,
    /// The page of the history: events before this ledger position.
    before: Option<i64>,
}

/// A person's page, reached by a form so the customer number stays out of URLs and logs.
async fn subject_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    WebForm(f): WebForm<SubjectForm>,
) -> Response {
    let t = super::i18n::texts(lang);
    let subject = f.subject.trim().to_owned();
    if crate::routes::subject_id(&subject).is_err() {
        return message(
            &state,
            lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            t.bad_input,
            "/console/subject",
        );
    }
    let (Ok(facts), Ok(disclosures)) = (
        person_facts(&state, lang, &subject, f.before).await,
        state.engine.store.disclosures_of(&subject).await,
    ) else {
        return message(
            &state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            t.unavailable,
            "/console",
        );
    };
    let st = state.engine.subject_state(&subject);
    let tz = &state.requests.settings.deadlines.time_zone;
    let at = now();
    page(&SubjectPage {
        c: chrome(&state, lang, t.person, &op),
        facts: Some(facts),
        relationship: st.relationship.as_str().to_owned(),
        restricted: st.has(RESTRICTED),
        erased: st.has(ERASED),
        disclosures: disclosures
            .into_iter()
            .map(|d| DisclosureRow {
                at: date_time(d.at, tz, lang),
                barred: d.barred(at),
                recipient: d.recipient,
                purpose: d.purpose,
                allowed: d.allowed,
                reference: d.reference.unwrap_or_default(),
            })
            .collect(),
        subject,
    })
}

struct PurposeRow {
    id: String,
    label: String,
    bases: String,
    categories: String,
    retention: String,
    clauses: String,
}

#[derive(Template)]
#[template(path = "console/policy.html")]
struct PolicyPage {
    c: Chrome,
    /// Consent purposes with how many active consents await renewal (N33).
    renewals: Vec<(String, usize)>,
    purposes: Vec<PurposeRow>,
    recipients: Vec<(String, String, String)>,
    covered: Vec<(String, usize)>,
    gaps: Vec<String>,
}

async fn policy_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
) -> Response {
    let t = super::i18n::texts(lang);
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
struct OperatorsPage {
    c: Chrome,
    operators: Vec<(String, String, String)>,
}

async fn operators_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
) -> Response {
    let t = super::i18n::texts(lang);
    let Ok(list) = state.engine.store.operators().await else {
        return message(
            &state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            t.unavailable,
            "/console",
        );
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

struct ActivationRow {
    id: String,
    notice_version: String,
    hash: String,
    effective: String,
    by: String,
    status: String,
    error: String,
}

#[derive(Template)]
#[template(path = "console/versions.html")]
struct VersionsPage {
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
    let t = super::i18n::texts(lang);
    let store = &state.engine.store;
    let (Ok(activations), Ok(archive)) = (store.activations().await, store.policy_versions().await)
    else {
        return message(
            state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            t.unavailable,
            "/console",
        );
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
    super::page_with(
        status,
        &VersionsPage {
            c,
            in_force: format!("{} ({})", policy.policy.version, policy.policy.hash),
            activations: activations
                .into_iter()
                .rev()
                .map(|a| ActivationRow {
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

async fn versions_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
) -> Response {
    versions_view(&state, lang, &op, None, String::new(), String::new()).await
}

#[derive(Deserialize)]
struct ScheduleForm {
    policy: String,
    #[serde(default)]
    effective_at: String,
}

/// A dpo activates a policy file (one file, no includes) now or at a time; the same checks
/// as `tutela policy activate`, and the errors shown with their line and column.
async fn schedule_version(
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
    match crate::activation::schedule(
        &state.engine.store,
        sources,
        "policy.toml",
        at,
        &op.actor(),
        now(),
    )
    .await
    {
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

async fn cancel_version(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Path(id): Path<String>,
) -> Response {
    use tutela_store::ActivationStore;
    let t = super::i18n::texts(lang);
    match state
        .engine
        .store
        .decide_activation(&id, "scheduled", "cancelled", now(), None)
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
        Err(_) => message(
            &state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            t.unavailable,
            "/console/versions",
        ),
    }
}

struct DraftRow {
    id: String,
    subject: String,
    call_id: String,
    created: String,
    expires: String,
    draft: String,
}

#[derive(Template)]
#[template(path = "console/summaries.html")]
struct SummariesPage {
    c: Chrome,
    drafts: Vec<DraftRow>,
}

/// The drafts this agent has to review (a supervisor, the dpo, sees every agent's).
async fn summaries_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Query(q): Query<super::center::FlashQuery>,
) -> Response {
    use tutela_store::SummaryStore;
    let t = super::i18n::texts(lang);
    let mine = (op.role != Role::Dpo).then_some(op.id.as_str());
    let Ok(drafts) = state.engine.store.open_drafts(mine, now()).await else {
        return message(
            &state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            t.unavailable,
            "/console",
        );
    };
    let tz = &state.requests.settings.deadlines.time_zone;
    let mut c = chrome(&state, lang, t.summaries, &op);
    c.flash = super::center::flash_text(t, &q);
    page(&SummariesPage {
        c,
        drafts: drafts
            .into_iter()
            .map(|d| DraftRow {
                id: d.id,
                subject: d.subject,
                call_id: d.call_id,
                created: date_time(d.created_at, tz, lang),
                expires: date_time(d.expires_at, tz, lang),
                draft: d.draft.unwrap_or_default(),
            })
            .collect(),
    })
}

#[derive(Deserialize)]
struct ReviewForm {
    action: String,
    #[serde(default)]
    text: String,
}

/// The agent approves the draft as it is, saves an edited text, or rejects it; only then is
/// a summary part of the person's service history (N24).
async fn review_summary(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
    WebForm(f): WebForm<ReviewForm>,
) -> Response {
    use tutela_store::SummaryStore;
    let t = super::i18n::texts(lang);
    let back = "/console/summaries";
    let store = &state.engine.store;
    let found = match store.summary(&id).await {
        Ok(found) => found,
        Err(_) => {
            return message(
                &state,
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                t.unavailable,
                back,
            );
        }
    };
    // Another agent's draft is as unknown as none.
    let Some(s) = found.filter(|s| s.agent == op.id || op.role == Role::Dpo) else {
        return message(&state, lang, StatusCode::NOT_FOUND, t.not_found, back);
    };
    let (status, text) = match f.action.as_str() {
        "approve" => ("approved", s.draft.clone()),
        "edit" if !f.text.trim().is_empty() => ("edited", Some(f.text.trim().to_owned())),
        "reject" => ("rejected", None),
        _ => {
            return message(
                &state,
                lang,
                StatusCode::UNPROCESSABLE_ENTITY,
                t.bad_input,
                back,
            );
        }
    };
    match store
        .review_summary(&id, status, text.as_deref(), &op.actor(), now())
        .await
    {
        Ok(()) => Redirect::to("/console/summaries?done=saved").into_response(),
        Err(tutela_store::StoreError::Conflict) => {
            message(&state, lang, StatusCode::CONFLICT, t.draft_gone, back)
        }
        Err(_) => message(
            &state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            t.unavailable,
            back,
        ),
    }
}
