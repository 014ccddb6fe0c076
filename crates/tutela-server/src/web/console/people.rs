//! A person's page: the facts the person sees, plus the history and disclosures.

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Operator, chrome};
use crate::AppState;
use crate::routes::now;
use crate::web::center::message;
use crate::web::{Chrome, PageLang, WebForm, date_time, page};
use tutela_core::request::{RequestType, Status};
use tutela_core::state::{ERASED, RESTRICTED};
use tutela_runtime::requests::{RequestDetails, request_type};
use tutela_store::{DisclosureStore, RequestStore};

use crate::web::center::{PersonFacts, person_facts};

pub(super) struct DisclosureRow {
    at: String,
    recipient: String,
    purpose: String,
    allowed: bool,
    reference: String,
    barred: bool,
}

#[derive(Template)]
#[template(path = "console/subject.html")]
pub(super) struct SubjectPage {
    c: Chrome,
    subject: String,
    facts: Option<PersonFacts>,
    relationship: String,
    restricted: bool,
    erased: bool,
    /// The person's own Art. 49 grounds, e.g. `IN: necessary for the contract` (N31).
    art49: String,
    disclosures: Vec<DisclosureRow>,
    /// The person has a finished access request whose report can be downloaded.
    has_report: bool,
    report_download: &'static str,
}

fn report_download(lang: tutela_core::render::Lang) -> &'static str {
    match lang {
        tutela_core::render::Lang::De => "Bericht herunterladen (Auskunft nach Art. 15 DSGVO)",
        tutela_core::render::Lang::En => "Download report (access under Art. 15 GDPR)",
    }
}

pub(super) async fn subject_search(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
) -> Response {
    let t = crate::web::i18n::texts(lang);
    page(&SubjectPage {
        c: chrome(&state, lang, t.person, &op),
        subject: String::new(),
        facts: None,
        relationship: String::new(),
        restricted: false,
        erased: false,
        art49: String::new(),
        disclosures: vec![],
        has_report: false,
        report_download: report_download(lang),
    })
}

#[derive(Deserialize)]
pub(super) struct SubjectForm {
    subject: String,
    /// The page of the history: events before this ledger position.
    before: Option<i64>,
}

/// A person's page, reached by a form so the customer number stays out of URLs and logs.
pub(super) async fn subject_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    WebForm(f): WebForm<SubjectForm>,
) -> Response {
    let t = crate::web::i18n::texts(lang);
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
        return crate::web::center::unavailable_at(&state, lang, "/console");
    };
    let has_report = latest_report(&state, &subject).await.is_some();
    let st = state.engine.subject_state(&subject);
    let tz = &state.requests.settings.deadlines.time_zone;
    let at = now();
    page(&SubjectPage {
        c: chrome(&state, lang, t.person, &op),
        facts: Some(facts),
        relationship: tutela_core::report::relationship_words(st.relationship, lang).to_owned(),
        restricted: st.has(RESTRICTED),
        erased: st.has(ERASED),
        art49: art49_grounds(&state.engine.policy(), &st, t),
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
        has_report,
        report_download: report_download(lang),
        subject,
    })
}

/// The id of the person's newest finished access request, whose report the person received,
/// and the language the report was written in (the one the person asked in, as the worker
/// reads it).
async fn latest_report(
    state: &AppState,
    subject: &str,
) -> Option<(String, tutela_core::render::Lang)> {
    let requests = state.engine.store.requests_of(subject, 100).await.ok()?;
    requests
        .into_iter()
        .find(|r| {
            request_type(r) == Some(RequestType::Access)
                && matches!(r.status, Status::Completed | Status::PartiallyRefused)
        })
        .map(|r| {
            let lang = RequestDetails::from_stored(r.details.as_deref()).lang_or_default();
            (r.id, lang)
        })
}

/// The person's Art. 15 report as they received it (the newest finished access request's
/// HTML), for an agent who answers a letter or a call. Reached by a form, so the customer
/// number stays out of URLs; each download is recorded in the audit trail with the operator,
/// the request, the person and the language.
pub(super) async fn subject_report(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(op): Extension<Operator>,
    WebForm(f): WebForm<SubjectForm>,
) -> Response {
    let t = crate::web::i18n::texts(lang);
    let subject = f.subject.trim();
    if crate::routes::subject_id(subject).is_err() {
        return message(
            &state,
            lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            t.bad_input,
            "/console/subject",
        );
    }
    let none = match lang {
        tutela_core::render::Lang::De => {
            "Für diese Person liegt keine abgeschlossene Auskunft vor. Legen Sie einen Auskunftsantrag an; sobald er erledigt ist, können Sie den Bericht hier herunterladen."
        }
        tutela_core::render::Lang::En => {
            "There is no finished access request for this person. File an access request; once it is done, you can download the report here."
        }
    };
    let Some((id, report_lang)) = latest_report(&state, subject).await else {
        return message(
            &state,
            lang,
            StatusCode::NOT_FOUND,
            none,
            "/console/subject",
        );
    };
    let Ok(bytes) = state.requests.result(&id, "html").await else {
        return message(
            &state,
            lang,
            StatusCode::NOT_FOUND,
            none,
            "/console/subject",
        );
    };
    // A disclosure of the person's data to an operator (Art. 5(2), 30 GDPR): recorded in the
    // audit trail before the file leaves, with the report's language (the file's, not the
    // console's); without the record, no file.
    if tutela_runtime::records::report_download(
        &state.engine,
        &op.actor(),
        &id,
        subject,
        report_lang.as_str(),
        now(),
    )
    .await
    .is_err()
    {
        return crate::web::center::unavailable_at(&state, lang, "/console/subject");
    }
    tracing::info!(operator = %op.id, request = %id, "access report downloaded in the console");
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{id}.html\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

fn art49_grounds(
    policy: &tutela_core::compiled::CompiledPolicy,
    st: &tutela_core::state::SubjectState,
    t: &crate::web::i18n::Texts,
) -> String {
    let mut out = Vec::new();
    for c in policy.third_countries() {
        let Some(bit) = policy.third_country_bit(*c) else {
            continue;
        };
        let grounds: Vec<&str> = [
            (st.transfer_consents, t.art49_consent),
            (st.transfer_necessities, t.art49_contract),
        ]
        .into_iter()
        .filter(|(mask, _)| mask & bit != 0)
        .map(|(_, label)| label)
        .collect();
        if !grounds.is_empty() {
            out.push(format!("{c}: {}", grounds.join(", ")));
        }
    }
    if out.is_empty() {
        "–".to_owned()
    } else {
        out.join("; ")
    }
}
