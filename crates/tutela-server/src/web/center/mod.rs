//! The privacy center: the person signs in with a one-time code to the address on file and
//! sees and exercises every right of the notice (N9a–N9h) on their own data, and nothing else.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tutela_core::basis::LegalBasis;
use tutela_core::ledger::{EventKind, ObjectionScope};
use tutela_core::render::{Format, Lang, render_notice};
use tutela_core::request::{RequestType, Status};
use tutela_core::state::OBJECTED_DIRECT_MARKETING;
use tutela_store::{NewEvent, PolicyArchive, RequestStore, SessionRecord, Store};

use super::i18n::Texts;
use super::session::{self, FORM_COOKIE, PENDING_COOKIE, PERSON_COOKIE};
use super::{Chrome, body_of, date, page, page_with};
use crate::AppState;
use crate::routes::now;
use form::{CenterForm, Limit, Person, PersonForm, SignInForm};
use tutela_runtime::engine::EngineError;
use tutela_runtime::requests::{NewRequest, RequestDetails, request_type};

mod ended;
mod form;
mod history;
mod labels;
mod progress;
mod rectify;
mod request;

pub(crate) use history::{HistoryRow, purpose_name};
pub(crate) use labels::{channel_label, request_label, status_label};
pub(crate) use progress::Progress;
pub(crate) use rectify::rectifiable_fields;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/signin", post(send_code))
        .route("/signin/code", post(enter_code))
        .route("/signout", post(sign_out))
        .route("/consents", post(consent))
        .route("/objections/direct-marketing", post(object_to_marketing))
        .route("/objections", post(object))
        .route("/requests", post(file_request))
        .route("/requests/{id}", get(request::request_page))
        .route("/requests/{id}/download/{format}", get(request::download))
        .route("/notice", get(notice))
}

#[derive(Template)]
#[template(path = "center/signin.html")]
struct SignIn {
    c: Chrome,
    form_token: String,
    code_step: bool,
    /// The pending sign-in's reference, which its mail names (empty before a code is asked).
    reference: String,
}

pub(crate) struct ConsentRow {
    pub purpose: String,
    pub channel: String,
    pub label: String,
    pub description: String,
    pub channel_label: String,
    pub given: bool,
    /// Given under an earlier notice version, before the purpose was widened (N33).
    pub renew: bool,
    /// Asked on each call, for that call only (N23): nothing to give or withdraw here.
    pub per_call: bool,
    /// Why a consent the person gave no longer holds although they never withdrew it (an
    /// objection ended it), in a sentence to them; empty otherwise.
    pub ended: String,
}

pub(crate) struct RequestRow {
    pub id: String,
    pub kind: String,
    /// Where it stands, as the privacy office reads it (the console's words).
    pub status: String,
    /// Where it stands, as the person reads it ([`Progress`]): the privacy center's words.
    pub progress: String,
    pub received: String,
    pub due: String,
}

pub(crate) struct Contacts {
    controller: String,
    dpo: String,
    /// Per authority: what it is competent for, and who it is.
    authorities: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "center/home.html")]
struct Home {
    c: Chrome,
    gpc: bool,
    f: PersonFacts,
    li_purposes: Vec<(String, String)>,
    /// The fields the person may ask to correct: (name in the request, label).
    rectifiable: Vec<(String, String)>,
    contacts: Contacts,
}

/// What the person sees of their own data; the console shows the same to the privacy office.
pub(crate) struct PersonFacts {
    pub consents: Vec<ConsentRow>,
    /// Some consent awaits renewal.
    pub renewals_due: bool,
    pub objected_marketing: bool,
    pub requests: Vec<RequestRow>,
    /// The latest ledger events, newest first, one page of [`HISTORY_PAGE`].
    pub history: Vec<HistoryRow>,
    /// Where the next page starts, when there are older events.
    pub older: Option<i64>,
    /// The person asked for erasure and it was carried out (what is left is kept for their
    /// contract or a legal duty): no new consents are offered.
    pub erased_on_request: bool,
}

/// Ledger events per page: a long history is paged, so a page costs the same for a person
/// with ten events or ten thousand.
pub(crate) const HISTORY_PAGE: i64 = 50;

#[derive(Template)]
#[template(path = "center/notice.html")]
struct NoticePage {
    c: Chrome,
    notice: String,
    contacts: Contacts,
}

fn chrome(state: &AppState, lang: Lang, title: &str, session: Option<&SessionRecord>) -> Chrome {
    Chrome::new(state, lang, title, false).signed_in(session.map(|s| s.csrf.clone()))
}

/// The person's session, or the sign-in page.
async fn signed_in(state: &AppState, headers: &HeaderMap) -> Option<SessionRecord> {
    let s = session::current(state, headers, "person", now()).await?;
    // An erasure deletes the person's sessions with it; this also stops one a sign-in started
    // while the erasure committed from opening anything.
    if state
        .engine
        .subject_state(&s.principal)
        .has(tutela_core::state::ERASED)
    {
        return None;
    }
    Some(s)
}

fn sign_in_page(state: &AppState, lang: Lang, code_step: bool, error: Option<&str>) -> Response {
    code_page(state, lang, code_step, String::new(), error)
}

/// The sign-in page after the person's erasure ran at once: their session went with their data.
fn erased_sign_in_page(state: &AppState, lang: Lang) -> Response {
    let note = super::i18n::texts(lang).erased_signed_out;
    sign_in_with(state, lang, false, String::new(), None, Some(note))
}

/// The sign-in page; at the code step with the pending sign-in's `reference`.
fn code_page(
    state: &AppState,
    lang: Lang,
    code_step: bool,
    reference: String,
    error: Option<&str>,
) -> Response {
    sign_in_with(state, lang, code_step, reference, error, None)
}

fn sign_in_with(
    state: &AppState,
    lang: Lang,
    code_step: bool,
    reference: String,
    error: Option<&str>,
    note: Option<&str>,
) -> Response {
    let token = tutela_runtime::random_hex(16).unwrap_or_default();
    let mut c = chrome(state, lang, super::i18n::texts(lang).sign_in, None);
    c.error = error.map(str::to_owned);
    c.flash = note.map(str::to_owned);
    let mut res = page(&SignIn {
        c,
        form_token: token.clone(),
        code_step,
        reference,
    });
    res.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(FORM_COOKIE, &token, "/", 3600),
    );
    res
}

/// A short page with a message and a way back; `status` says what happened.
pub(crate) fn message(
    state: &AppState,
    lang: Lang,
    status: StatusCode,
    text: &str,
    back: &str,
) -> Response {
    page_with(
        status,
        &super::Message {
            c: Chrome::new(state, lang, text, back.starts_with("/console")),
            back: back.to_owned(),
        },
    )
}

/// The database did not answer: nothing was changed, try again (`back` leads there).
pub(crate) fn unavailable_at(state: &AppState, lang: Lang, back: &str) -> Response {
    let t = super::i18n::texts(lang);
    message(
        state,
        lang,
        StatusCode::SERVICE_UNAVAILABLE,
        t.unavailable,
        back,
    )
}

fn unavailable(state: &AppState, lang: Lang) -> Response {
    unavailable_at(state, lang, "/")
}

#[derive(Deserialize)]
pub(crate) struct FlashQuery {
    done: Option<String>,
    /// The page of the history: events before this ledger position.
    pub before: Option<i64>,
}

/// The message after a form: `?done=` names what happened, never any data.
pub(crate) fn flash_text(t: &Texts, q: &FlashQuery) -> Option<String> {
    match q.done.as_deref() {
        Some("saved") => Some(t.saved.to_owned()),
        Some("filed" | "erasure_filed") => Some(t.filed.to_owned()),
        _ => None,
    }
}

async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
    super::PageLang(lang): super::PageLang,
    Query(q): Query<FlashQuery>,
    person: Option<Person>,
) -> Response {
    let Some(Person { t, session: s, .. }) = person else {
        if q.done.as_deref() == Some("erasure_filed") {
            // The erasure was carried out at once and ended the session it was filed in.
            return erased_sign_in_page(&state, lang);
        }
        return sign_in_page(&state, lang, false, None);
    };
    let subject = s.principal.as_str();
    // Global Privacy Control: the browser's signal is the person's objection to marketing.
    let gpc = headers.get("sec-gpc").is_some_and(|v| v.as_bytes() == b"1");
    if gpc
        && !state
            .engine
            .subject_state(subject)
            .has(OBJECTED_DIRECT_MARKETING)
    {
        let written = append(
            &state,
            subject,
            EventKind::Objection {
                scope: ObjectionScope::DirectMarketing,
            },
            (
                None,
                Some("Global Privacy Control (Sec-GPC: 1) in the privacy center".into()),
            ),
        )
        .await;
        if written.is_err() {
            return unavailable(&state, lang);
        }
    }
    match home_page(&state, lang, &s, gpc, flash_text(t, &q), q.before).await {
        Ok(h) => page(&h),
        Err(()) => unavailable(&state, lang),
    }
}

async fn home_page(
    state: &AppState,
    lang: Lang,
    s: &SessionRecord,
    gpc: bool,
    flash: Option<String>,
    before: Option<i64>,
) -> Result<Home, ()> {
    let t = super::i18n::texts(lang);
    let policy = &state.engine.policy().policy;
    let mut li_purposes = vec![(
        "legitimate_interest".to_owned(),
        match lang {
            Lang::De => "Jede Verarbeitung auf Grund berechtigter Interessen".to_owned(),
            Lang::En => "All processing based on legitimate interests".to_owned(),
        },
    )];
    for p in &policy.purposes {
        if !p.direct_marketing
            && p.bases
                .iter()
                .any(|b| b.legal_basis == LegalBasis::LegitimateInterest)
        {
            li_purposes.push((p.id.clone(), p.label.get(lang).to_owned()));
        }
    }
    let rectifiable = rectifiable_fields(state, lang);
    let mut c = chrome(state, lang, t.welcome, Some(s));
    c.flash = flash;
    Ok(Home {
        c,
        gpc,
        f: person_facts(state, lang, &s.principal, before).await?,
        li_purposes,
        rectifiable,
        contacts: contacts(state, lang),
    })
}

/// The person's consents, objection, requests and ledger history, newest first.
pub(crate) async fn person_facts(
    state: &AppState,
    lang: Lang,
    subject: &str,
    before: Option<i64>,
) -> Result<PersonFacts, ()> {
    let compiled = &state.engine.policy();
    let policy = &compiled.policy;
    let st = state.engine.subject_state(subject);
    let tz = &state.requests.settings.deadlines.time_zone;
    let mut consents = consent_rows(compiled, &st, lang);
    ended::explain(state, subject, &st, &mut consents, lang).await?;
    let store = &state.engine.store;
    let records = store.requests_of(subject, 100).await.map_err(|_| ())?;
    let erased_on_request = records.iter().any(erasure_done);
    let requests = records
        .into_iter()
        .map(|r| RequestRow {
            kind: request_label(&r.request_type, lang),
            status: status_label(r.status.as_str(), lang),
            progress: Progress::of(r.status).word(lang).to_owned(),
            received: date(r.received_at, tz, lang),
            due: date(r.due_at, tz, lang),
            id: r.id,
        })
        .collect();
    let versions = store.policy_versions().await.unwrap_or_default();
    let events = store
        .recent_history(subject, before, HISTORY_PAGE)
        .await
        .map_err(|_| ())?;
    let older = (events.len() as i64 == HISTORY_PAGE)
        .then(|| events.last().map(|e| e.event.seq))
        .flatten();
    let history = events
        .into_iter()
        .map(|e| history::history_row(policy, e, &versions, tz, lang))
        .collect();
    Ok(PersonFacts {
        renewals_due: consents.iter().any(|r| r.renew),
        consents,
        objected_marketing: st.has(OBJECTED_DIRECT_MARKETING),
        requests,
        history,
        older,
        erased_on_request,
    })
}

/// An erasure the person asked for that was carried out, in whole or in the part no
/// contract or legal duty keeps.
fn erasure_done(r: &tutela_store::RequestRecord) -> bool {
    request_type(r) == Some(RequestType::Erasure)
        && matches!(r.status, Status::Completed | Status::PartiallyRefused)
}

/// One row per consent the policy asks for (per channel where it asks per channel).
fn consent_rows(
    compiled: &tutela_core::compiled::CompiledPolicy,
    st: &tutela_core::state::SubjectState,
    lang: Lang,
) -> Vec<ConsentRow> {
    let policy = &compiled.policy;
    let mut consents = Vec::new();
    for p in policy
        .purposes
        .iter()
        .filter(|p| p.consent_basis().is_some())
    {
        let channels: Vec<Option<usize>> = if p.consent_per_channel {
            p.channels.iter().copied().map(Some).collect()
        } else {
            vec![None]
        };
        for ch in channels {
            let channel = ch.map(|i| &policy.channels[i]);
            let mask = compiled.consent_mask(&p.id, channel.map(|c| c.id.as_str()));
            consents.push(ConsentRow {
                purpose: p.id.clone(),
                channel: channel.map(|c| c.id.clone()).unwrap_or_default(),
                label: p.label.get(lang).to_owned(),
                description: p.description.get(lang).to_owned(),
                channel_label: channel
                    .map(|c| c.label.get(lang).to_owned())
                    .unwrap_or_default(),
                given: st.consents & mask != 0,
                renew: st.renewal() & mask != 0,
                per_call: p.consent_per_call.is_some(),
                ended: String::new(),
            });
        }
    }
    consents
}

pub(crate) fn contacts(state: &AppState, lang: Lang) -> Contacts {
    let policy = &state.engine.policy().policy;
    let c = &policy.controller;
    let t = super::i18n::texts(lang);
    Contacts {
        controller: format!("{}, {}", c.name, c.address),
        dpo: format!("{}, {}", c.dpo_address, c.dpo_email),
        // Each with what it is competent for, so that two read as two, not as one twice.
        authorities: policy
            .authorities
            .iter()
            .map(|a| {
                let label = match a.competent_for {
                    tutela_core::basis::ContractKind::Telecommunications => t.authority_telecom,
                    tutela_core::basis::ContractKind::Other => t.authority_other,
                };
                (
                    label.to_owned(),
                    format!("{}, {}, {}", a.name.get(lang), a.address, a.web),
                )
            })
            .collect(),
    }
}

#[derive(Deserialize)]
struct EmailForm {
    csrf: String,
    email: String,
}

impl EmailForm {
    /// The address as typed, trimmed and in lower case.
    fn address(&self) -> String {
        self.email.trim().to_lowercase()
    }
}

impl CenterForm for EmailForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Limits count the address typed, on file or not, so they tell nothing either.
    fn limit(&self) -> Limit {
        Limit::CodeMail(self.address())
    }
}

async fn send_code(
    State(state): State<AppState>,
    SignInForm { lang, form: f, .. }: SignInForm<EmailForm>,
) -> Response {
    let email = f.address();
    let at = now();
    let Ok(pending) = tutela_runtime::random_hex(32) else {
        return unavailable(&state, lang);
    };
    let subject = if email.len() <= 254 && email.contains('@') {
        match state.engine.store.subject_by_email(&email).await {
            Ok(found) => found,
            Err(_) => return unavailable(&state, lang),
        }
    } else {
        None
    };
    // An address not on file gets the same row, answer and work, and no code: the page never
    // tells whether an address is on file. The mail leaves after the answer, from a task of
    // its own (or the outbox sweep), so neither a mail server's pace nor its absence shows.
    let Ok(id_hash) = state.requests.start_signin(&pending, subject, at, at).await else {
        return unavailable(&state, lang);
    };
    let Ok(reference) = state.requests.signin_reference(&id_hash) else {
        return unavailable(&state, lang);
    };
    let requests = state.requests.clone();
    let ceiling = state.web.settings.mail_ceiling();
    tokio::spawn(async move {
        if let Err(e) = requests
            .deliver_signin_mails(Some(&id_hash), now(), ceiling)
            .await
        {
            tracing::warn!(error = %e, "a sign-in mail could not be sent; the sweep retries");
        }
    });
    let validity = state.requests.settings.code_validity.as_secs();
    let mut res = code_page(&state, lang, true, reference, None);
    res.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(PENDING_COOKIE, &pending, "/", validity),
    );
    res
}

#[derive(Deserialize)]
struct CodeForm {
    csrf: String,
    code: String,
}

impl CenterForm for CodeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn limit(&self) -> Limit {
        Limit::SignInAttempt
    }
}

async fn enter_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignInForm { lang, t, form: f }: SignInForm<CodeForm>,
) -> Response {
    let w = &state.web;
    let pending = session::cookie(&headers, PENDING_COOKIE).unwrap_or("");
    let subject = match state
        .requests
        .check_signin_code(pending, &f.code, now())
        .await
    {
        Ok(Some(subject)) => subject,
        Ok(None) => {
            // The same reference as before: the pending sign-in is the same.
            let reference = state
                .requests
                .pending_reference(pending)
                .unwrap_or_default();
            return code_page(&state, lang, true, reference, Some(t.code_wrong));
        }
        Err(_) => return unavailable(&state, lang),
    };
    let validity = w.settings.person_session;
    let Ok((token, _)) = session::start(&state, "person", &subject, validity, now()).await else {
        return unavailable(&state, lang);
    };
    let mut res = Redirect::to("/").into_response();
    let h = res.headers_mut();
    h.append(
        header::SET_COOKIE,
        session::set_cookie(PERSON_COOKIE, &token, "/", validity.as_secs()),
    );
    h.append(
        header::SET_COOKIE,
        session::set_cookie(PENDING_COOKIE, "", "/", 0),
    );
    res
}

#[derive(Deserialize)]
struct CsrfOnly {
    csrf: String,
}

impl CenterForm for CsrfOnly {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Ends the session in the store before the cookie: a form with a wrong token ends nothing
/// and says so (clearing only the cookie would leave the session alive, and a foreign site
/// could sign people out). Without a session only the cookie goes.
async fn sign_out(State(state): State<AppState>, form: Option<PersonForm<CsrfOnly>>) -> Response {
    if let Some(PersonForm { lang, session, .. }) = form
        && tutela_runtime::records::session_end(&state.engine, &session.id_hash)
            .await
            .is_err()
    {
        return unavailable_at(&state, lang, "/");
    }
    let mut res = Redirect::to("/").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(PERSON_COOKIE, "", "/", 0),
    );
    res
}

#[derive(Deserialize)]
struct ConsentForm {
    csrf: String,
    purpose: String,
    #[serde(default)]
    channel: String,
    granted: bool,
}

impl CenterForm for ConsentForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn consent(
    State(state): State<AppState>,
    PersonForm {
        lang,
        t,
        session: s,
        form: f,
    }: PersonForm<ConsentForm>,
) -> Response {
    // After the erasure the person asked for, a new consent would gather data again: it is
    // refused in words, not as invalid input (the page offers no such button).
    if f.granted {
        match state.engine.store.requests_of(&s.principal, 100).await {
            Ok(list) if list.iter().any(erasure_done) => {
                return message(
                    &state,
                    lang,
                    StatusCode::CONFLICT,
                    t.consent_after_erasure,
                    "/",
                );
            }
            Ok(_) => {}
            Err(_) => return unavailable(&state, lang),
        }
    }
    let kind = EventKind::Consent {
        purpose: f.purpose,
        channel: (!f.channel.is_empty()).then_some(f.channel),
        granted: f.granted,
        source: "privacy_center".into(),
        notice_version: state.engine.policy().policy.version.clone(),
    };
    let evidence = Some(format!(
        "privacy center form, signed in with a one-time code; notice {}",
        state.engine.policy().policy.version
    ));
    write(&state, lang, &s.principal, kind, (evidence, None)).await
}

/// Records an event for the signed-in person through the engine, which checks it as it checks
/// the API's writes. The id is the session's, a subject the store already holds, so it needs
/// no check of its own; a form is never repeated under an idempotency key.
async fn append(
    state: &AppState,
    subject: &str,
    kind: EventKind,
    (evidence, reason): (Option<String>, Option<String>),
) -> Result<(), EngineError> {
    let event = NewEvent {
        subject: subject.to_owned(),
        at: now(),
        kind,
        evidence,
        reason,
        email: None,
        idempotency_key: None,
        policy_version: state.engine.policy().policy_version().to_owned(),
    };
    state.engine.append(event).await.map(|_| ())
}

/// Records an event for the signed-in person and goes back to their page.
async fn write(
    state: &AppState,
    lang: Lang,
    subject: &str,
    kind: EventKind,
    personal: (Option<String>, Option<String>),
) -> Response {
    let t = super::i18n::texts(lang);
    match append(state, subject, kind, personal).await {
        Ok(()) => Redirect::to("/?done=saved").into_response(),
        // Nothing was committed: try again.
        Err(EngineError::Storage(_) | EngineError::Closed) => unavailable(state, lang),
        // The policy or the person's state refuses the write.
        Err(EngineError::Rejected(_) | EngineError::IdempotencyConflict) => message(
            state,
            lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            t.bad_input,
            "/",
        ),
    }
}

async fn object_to_marketing(
    State(state): State<AppState>,
    PersonForm {
        lang, session: s, ..
    }: PersonForm<CsrfOnly>,
) -> Response {
    let kind = EventKind::Objection {
        scope: ObjectionScope::DirectMarketing,
    };
    write(&state, lang, &s.principal, kind, (None, None)).await
}

#[derive(Deserialize)]
struct ObjectionForm {
    csrf: String,
    purpose: String,
    reason: String,
}

impl CenterForm for ObjectionForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn object(
    State(state): State<AppState>,
    PersonForm {
        lang,
        t,
        session: s,
        form: f,
    }: PersonForm<ObjectionForm>,
) -> Response {
    let known = f.purpose == "legitimate_interest"
        || state.engine.policy().purpose_index(&f.purpose).is_some();
    if !known || f.reason.trim().is_empty() || f.reason.len() > 5000 {
        return message(
            &state,
            lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            t.bad_input,
            "/",
        );
    }
    let kind = EventKind::Objection {
        scope: ObjectionScope::parse(&f.purpose),
    };
    write(&state, lang, &s.principal, kind, (None, Some(f.reason))).await
}

#[derive(Deserialize)]
struct RequestForm {
    csrf: String,
    #[serde(rename = "type")]
    request_type: String,
    field: Option<String>,
    value: Option<String>,
    reason: Option<String>,
}

impl CenterForm for RequestForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Request intake is rate-limited per person: every request starts a deadline and work.
    fn limit(&self) -> Limit {
        Limit::PersonRequest
    }
}

async fn file_request(
    State(state): State<AppState>,
    PersonForm {
        lang,
        t,
        session: s,
        form: f,
    }: PersonForm<RequestForm>,
) -> Response {
    let Some(request_type) =
        RequestType::parse(&f.request_type).filter(|t| *t != RequestType::Unclassified)
    else {
        return message(
            &state,
            lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            t.bad_input,
            "/",
        );
    };
    let mut details = RequestDetails {
        lang: Some(lang),
        ..RequestDetails::default()
    };
    match request_type {
        RequestType::Rectification => {
            let (Some(field), Some(value)) = (f.field, f.value) else {
                return message(
                    &state,
                    lang,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    t.bad_input,
                    "/",
                );
            };
            details.changes = Some([(field, value.trim().to_owned())].into());
        }
        RequestType::Restriction | RequestType::Objection => {
            details.reason = Some(f.reason.unwrap_or_default());
        }
        _ => {}
    }
    if crate::routes::requests::check_details(&state, request_type, &details).is_err() {
        return message(
            &state,
            lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            t.bad_input,
            "/",
        );
    }
    let new = NewRequest {
        request_type,
        subject: None,
        email: None,
        details: Some(details),
        channel: "privacy_center".into(),
        received_at: None,
    };
    match state
        .requests
        .create_signed_in(new, &s.principal, now())
        .await
    {
        // An erasure of what only tutela holds may run, and end this session, before the
        // browser follows the redirect: the page it lands on then says why it is signed out.
        Ok(_) if request_type == RequestType::Erasure => {
            Redirect::to("/?done=erasure_filed#h-requests").into_response()
        }
        Ok(_) => Redirect::to("/?done=filed#h-requests").into_response(),
        Err(_) => unavailable(&state, lang),
    }
}

#[derive(Deserialize)]
struct NoticeQuery {
    version: Option<String>,
}

async fn notice(
    State(state): State<AppState>,
    headers: HeaderMap,
    lang: super::PageLang,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let lang = lang.0;
    let t = super::i18n::texts(lang);
    let html = match q.version.as_deref() {
        None => render_notice(&state.engine.policy().policy, lang, Format::Html),
        Some(v) => match state.engine.store.policy_version(v).await {
            Ok(Some(kept)) => match lang {
                Lang::De => kept.notice_de_html,
                Lang::En => kept.notice_en_html,
            },
            Ok(None) => {
                return message(&state, lang, StatusCode::NOT_FOUND, t.not_found, "/notice");
            }
            Err(_) => return unavailable(&state, lang),
        },
    };
    let s = signed_in(&state, &headers).await;
    page(&NoticePage {
        c: chrome(&state, lang, t.notice, s.as_ref()),
        notice: body_of(&html).to_owned(),
        contacts: contacts(&state, lang),
    })
}
