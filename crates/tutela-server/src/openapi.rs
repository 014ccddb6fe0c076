//! The OpenAPI 3.1 document, generated from the handlers' and bodies' annotations, and its
//! handler (`/openapi.json`): it is here rather than with the other meta handlers because this
//! file names every handler, so none of them may depend on it.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{
    audiences, consents, decisions, disclosures, log, meta, pseudonyms, redactions, requests,
    retention, risk, statistics, subjects, summaries,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "tutela", description = "A privacy engine: the privacy notice as code. Decisions, consents, objections, restriction and erasure."),
    paths(
        subjects::put, subjects::get, subjects::object, subjects::restrict, subjects::lift_restriction, subjects::erase,
        consents::record_consent, consents::history, consents::transfer, consents::necessity, consents::identifier, consents::call_consent, consents::record_use, consents::tcf,
        decisions::single, decisions::batch,
        meta::policy, meta::notice, meta::record, meta::versions, meta::diff,
        requests::create, requests::list, requests::get, requests::verify, requests::verify_by_agent, requests::plan, requests::approve,
        requests::extend, requests::refuse, requests::classify, requests::result,
        risk::create, risk::get, risk::reviews, risk::review,
        summaries::create, summaries::get, summaries::of_subject,
        disclosures::create, disclosures::list, disclosures::lift_bar,
        audiences::create,
        pseudonyms::create, pseudonyms::reverse, pseudonyms::register, pseudonyms::list,
        statistics::create, statistics::budget, redactions::create,
        retention::plan, retention::open, retention::sweeps, retention::place, retention::holds, retention::lift,
        log::head, log::sign, log::inclusion, log::consistency,
    ),
    components(schemas(crate::problem::ProblemBody)),
    modifiers(&Bearer),
)]
struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn document() -> String {
    ApiDoc::openapi()
        .to_json()
        .unwrap_or_else(|_| "{}".to_owned())
}

/// `GET /openapi.json`.
pub async fn serve() -> Response {
    let mut res = document().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}
