//! A person's page: the facts the person sees, plus the history and disclosures.

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{Operator, chrome};
use crate::AppState;
use crate::routes::now;
use crate::web::center::message;
use crate::web::{Chrome, PageLang, WebForm, date_time, page};
use tutela_core::state::{ERASED, RESTRICTED};
use tutela_store::DisclosureStore;

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
    let st = state.engine.subject_state(&subject);
    let tz = &state.requests.settings.deadlines.time_zone;
    let at = now();
    page(&SubjectPage {
        c: chrome(&state, lang, t.person, &op),
        facts: Some(facts),
        relationship: st.relationship.as_str().to_owned(),
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
        subject,
    })
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
