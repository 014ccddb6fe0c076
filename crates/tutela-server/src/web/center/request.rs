//! A request's page in the privacy center: where it stands ([`Progress`]), its result to read
//! or download, what an erasure kept; and the download itself.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tutela_core::render::Lang;
use tutela_core::request::RequestType;
use tutela_runtime::requests::request_type;
use tutela_store::RequestStore;

use super::form::Person;
use super::{Progress, chrome, message, request_label, unavailable};
use crate::AppState;
use crate::web::{Chrome, body_of, date, page};

#[derive(Template)]
#[template(path = "center/request.html")]
struct RequestPage {
    c: Chrome,
    id: String,
    kind: String,
    status: String,
    received: String,
    due: String,
    /// The sentence under the status: what it means, what comes next ([`Progress::line`]).
    progress: String,
    /// Why a result once made cannot be downloaded any more; empty otherwise.
    gone: String,
    /// The result's formats: (format in the link, what it is in words).
    downloads: Vec<(&'static str, &'static str)>,
    report: Option<String>,
    /// What an erasure kept, on which ground, until when (Art. 17(3)).
    kept: Vec<String>,
    /// Why the request was refused, as the agent wrote it; empty otherwise.
    reason: String,
    /// Where the person may complain when not all was done (Art. 12(4)); empty otherwise.
    complain: String,
}

pub(super) async fn request_page(
    State(state): State<AppState>,
    Person {
        lang,
        t,
        session: s,
    }: Person,
    Path(id): Path<String>,
) -> Response {
    // Another person's request is as unknown as one that does not exist.
    let r = match state.engine.store.request(&id).await {
        Ok(Some(r)) if r.subject.as_deref() == Some(s.principal.as_str()) => r,
        Ok(_) => return message(&state, lang, StatusCode::NOT_FOUND, t.not_found, "/"),
        Err(_) => return unavailable(&state, lang),
    };
    let tz = &state.requests.settings.deadlines.time_zone;
    let progress = Progress::of(r.status);
    let done = progress.has_result();
    let kind = request_type(&r);
    let mut downloads: Vec<&'static str> = match (done, kind) {
        (true, Some(RequestType::Access)) => vec!["html", "json"],
        (true, Some(RequestType::Portability)) => vec!["zip"],
        _ => vec![],
    };
    // A result made once may be gone since (its retention ended, or the person's erasure
    // destroyed it): then the page says so instead of offering a download that fails. The
    // access report read here is the one the page shows.
    let mut gone = String::new();
    let mut report = None;
    if let Some(first) = downloads.first().copied() {
        match state.requests.result(&r.id, first).await {
            Ok(bytes) if first == "html" => {
                report = Some(body_of(&String::from_utf8_lossy(&bytes)).to_owned());
            }
            Ok(_) => {}
            Err(tutela_runtime::requests::RequestError::Storage(_)) => {
                return unavailable(&state, lang);
            }
            Err(e) => {
                gone = result_missing(&e, progress, lang).to_owned();
                downloads.clear();
            }
        }
    }
    let kept = if done && kind == Some(RequestType::Erasure) {
        match state.engine.store.steps(&r.id).await {
            Ok(steps) => tutela_runtime::requests::kept::sentences(
                &tutela_runtime::requests::kept::kept(&steps),
                &state.engine.policy().policy,
                lang,
            ),
            Err(_) => return unavailable(&state, lang),
        }
    } else {
        Vec::new()
    };
    let refused = matches!(progress, Progress::Refused | Progress::PartlyRefused);
    let reason = if progress == Progress::Refused {
        match state.engine.store.request_events(&r.id).await {
            Ok(events) => events
                .into_iter()
                .rev()
                .find(|e| e.kind == "refused")
                .and_then(|e| e.note)
                .unwrap_or_default(),
            Err(_) => return unavailable(&state, lang),
        }
    } else {
        String::new()
    };
    let complain = if refused {
        complain_line(&state.requests.authority_for(&r), lang)
    } else {
        String::new()
    };
    page(&RequestPage {
        c: chrome(
            &state,
            lang,
            &request_label(&r.request_type, lang),
            Some(&s),
        ),
        kind: request_label(&r.request_type, lang),
        status: progress.word(lang).to_owned(),
        progress: progress.line(lang).to_owned(),
        gone,
        received: date(r.received_at, tz, lang),
        due: date(r.due_at, tz, lang),
        id: r.id,
        downloads: downloads
            .iter()
            .map(|f| (*f, format_words(f, lang)))
            .collect(),
        report,
        kept,
        reason,
        complain,
    })
}

/// Art. 12(4): where the person may turn when their request was not carried out in full.
fn complain_line(authority: &str, lang: Lang) -> String {
    let lead = match lang {
        Lang::De => {
            "Sie können sich bei der zuständigen Aufsichtsbehörde beschweren oder gerichtlichen Rechtsschutz suchen"
        }
        Lang::En => {
            "You may complain to the competent supervisory authority or seek a judicial remedy"
        }
    };
    if authority.is_empty() {
        format!("{lead}.")
    } else {
        format!("{lead}: {authority}")
    }
}

/// A result's format as the link names it.
fn format_words(format: &str, lang: Lang) -> &'static str {
    let (de, en) = match format {
        "html" => (
            "Bericht zum Lesen und Drucken (HTML)",
            "report to read and print (HTML)",
        ),
        "json" => ("maschinenlesbar (JSON)", "machine-readable (JSON)"),
        _ => ("ZIP-Archiv mit CSV-Tabellen", "ZIP archive of CSV tables"),
    };
    match lang {
        Lang::De => de,
        Lang::En => en,
    }
}

/// Why a request's result cannot be downloaded, in a sentence: the same words as its page.
fn result_missing(
    e: &tutela_runtime::requests::RequestError,
    progress: Progress,
    lang: Lang,
) -> &'static str {
    use tutela_runtime::requests::RequestError;
    let (de, en) = match e {
        RequestError::Gone => (
            "Das Ergebnis ist nicht mehr abrufbar: Wir haben es nach Ablauf seiner Aufbewahrungsfrist gelöscht. Sie können eine neue Anfrage stellen.",
            "The result is no longer available: we deleted it when its retention period ended. You can file a new request.",
        ),
        RequestError::Erased => (
            "Das Ergebnis ist nicht mehr abrufbar: Wir haben es mit Ihren Daten gelöscht.",
            "The result is no longer available: we deleted it together with your data.",
        ),
        _ => return progress.line(lang),
    };
    match lang {
        Lang::De => de,
        Lang::En => en,
    }
}

pub(super) async fn download(
    State(state): State<AppState>,
    Person {
        lang,
        t,
        session: s,
    }: Person,
    Path((id, format)): Path<(String, String)>,
) -> Response {
    let progress = match state.engine.store.request(&id).await {
        Ok(Some(r)) if r.subject.as_deref() == Some(s.principal.as_str()) => Progress::of(r.status),
        Ok(_) => return message(&state, lang, StatusCode::NOT_FOUND, t.not_found, "/"),
        Err(_) => return unavailable(&state, lang),
    };
    let (ct, ext) = match format.as_str() {
        "html" => ("text/html; charset=utf-8", "html"),
        "json" => ("application/json", "json"),
        "zip" => ("application/zip", "zip"),
        _ => return message(&state, lang, StatusCode::NOT_FOUND, t.not_found, "/"),
    };
    match state.requests.result(&id, &format).await {
        Ok(bytes) => {
            let mut res = bytes.into_response();
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{id}.{ext}\"")) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            res
        }
        Err(tutela_runtime::requests::RequestError::Storage(_)) => unavailable(&state, lang),
        Err(e) => {
            let back = format!("/requests/{id}");
            message(
                &state,
                lang,
                StatusCode::NOT_FOUND,
                result_missing(&e, progress, lang),
                &back,
            )
        }
    }
}
