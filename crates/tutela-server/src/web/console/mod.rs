//! The console of the privacy office: operators sign in with password and TOTP; what each
//! route needs is in one table, [`ROUTES`], that a middleware enforces before any handler runs
//! and the tests walk for every role.

use askama::Template;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tutela_core::render::Lang;
use tutela_store::SessionRecord;

use super::center::message;
use super::session::{self, CONSOLE_FORM_COOKIE as FORM_COOKIE, OPERATOR_COOKIE};
use super::{Chrome, PageLang, WebForm};
use crate::AppState;
use crate::routes::now;
use tutela_runtime::operators::{self, Permission, Role};

mod accounts;
mod changes;
mod people;
mod plan;
mod policy;
mod requests;
mod retention;
mod reviews;
mod summaries;

use accounts::operators_page;
use people::{subject_page, subject_search};
use policy::{cancel_version, policy_page, schedule_version, versions_page};
use requests::{approve, classify, extend, queue, refuse, request_page, retry, verify};
use summaries::{review_summary, summaries_page};

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
    (
        "POST",
        "/console/requests/{id}/approve",
        Permission::HandleRequests,
    ),
    ("GET", "/console/subject", Permission::Read),
    ("POST", "/console/subject", Permission::Read),
    (
        "POST",
        "/console/subject/report",
        Permission::HandleRequests,
    ),
    ("GET", "/console/policy", Permission::Read),
    ("GET", "/console/record", Permission::Read),
    ("GET", "/console/operators", Permission::Administer),
    (
        "POST",
        "/console/operators/{id}/disable",
        Permission::Administer,
    ),
    (
        "POST",
        "/console/operators/{id}/enable",
        Permission::Administer,
    ),
    (
        "POST",
        "/console/operators/{id}/reset-totp",
        Permission::Administer,
    ),
    (
        "POST",
        "/console/operators/{id}/remove",
        Permission::Administer,
    ),
    ("GET", "/console/summaries", Permission::HandleRequests),
    (
        "POST",
        "/console/summaries/{id}/review",
        Permission::HandleRequests,
    ),
    ("GET", "/console/reviews", Permission::HandleRequests),
    ("GET", "/console/retention", Permission::Read),
    (
        "POST",
        "/console/retention/sweeps/{id}/approve",
        Permission::Administer,
    ),
    ("POST", "/console/reviews/{id}", Permission::HandleRequests),
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
        .route("/console/requests/{id}/approve", post(approve))
        .route("/console/subject", get(subject_search).post(subject_page))
        .route("/console/subject/report", post(people::subject_report))
        .route("/console/policy", get(policy_page))
        .route("/console/record", get(crate::routes::meta::record))
        .route("/console/operators", get(operators_page))
        .route("/console/operators/{id}/disable", post(accounts::disable))
        .route("/console/operators/{id}/enable", post(accounts::enable))
        .route(
            "/console/operators/{id}/reset-totp",
            post(accounts::reset_totp),
        )
        .route("/console/operators/{id}/remove", post(accounts::remove))
        .route("/console/summaries", get(summaries_page))
        .route("/console/reviews", get(reviews::reviews_page))
        .route("/console/retention", get(retention::retention_page))
        .route(
            "/console/retention/sweeps/{id}/approve",
            post(retention::approve_sweep),
        )
        .route("/console/reviews/{id}", post(reviews::review))
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
    pub(super) fn actor(&self) -> String {
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
        let presented = if is_multipart(&parts.headers) {
            multipart_field(&parts.headers, &bytes, "csrf").await
        } else {
            form_field(&bytes, "csrf")
        }
        .unwrap_or_default();
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

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"))
}

/// One text field of a `multipart/form-data` body (an uploaded file's form), read from a copy
/// of the buffered body; the handler reads the body again.
async fn multipart_field(
    headers: &HeaderMap,
    body: &axum::body::Bytes,
    name: &str,
) -> Option<String> {
    use axum::extract::FromRequest;
    let content_type = headers.get(header::CONTENT_TYPE)?.clone();
    let req = Request::builder()
        .header(header::CONTENT_TYPE, content_type)
        .body(axum::body::Body::from(body.clone()))
        .ok()?;
    let mut fields = axum::extract::Multipart::from_request(req, &())
        .await
        .ok()?;
    while let Some(field) = fields.next_field().await.ok()? {
        if field.name() == Some(name) {
            return field.text().await.ok();
        }
    }
    None
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

pub(super) fn chrome(state: &AppState, lang: Lang, title: &str, op: &Operator) -> Chrome {
    let mut c = Chrome::new(state, lang, title, true).signed_in(Some(op.session.csrf.clone()));
    c.admin = op.role.may(Permission::Administer);
    c.who = format!("{} ({})", op.name, op.role.label(lang));
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
    /// The operator's name, filled in again after enrolment.
    name: String,
    /// A second factor just set up: its secret and `otpauth://` link, shown once.
    enrol: Option<(String, String)>,
}

fn login_page(state: &AppState, lang: Lang, error: Option<&str>) -> Response {
    login_view(state, lang, error, String::new(), None)
}

fn login_view(
    state: &AppState,
    lang: Lang,
    error: Option<&str>,
    name: String,
    enrol: Option<(String, String)>,
) -> Response {
    let token = tutela_runtime::random_hex(16).unwrap_or_default();
    let t = super::i18n::texts(lang);
    let title = if enrol.is_some() {
        t.enrol_title
    } else {
        t.sign_in
    };
    let mut c = Chrome::new(state, lang, title, true);
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
            name,
            enrol,
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
    /// Empty when the second factor was reset and is set up at this sign-in.
    #[serde(default)]
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
    let at = now();
    // Refused per client (and per operator from this client); over the operator's ceiling
    // from all clients only slowed down, so a stranger cannot lock an operator out.
    match crate::web::limits::operator_attempt(&state, &f.name, &client, at).await {
        Ok(Some(pause)) => {
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
        Ok(None) => {
            return message(
                &state,
                lang,
                StatusCode::TOO_MANY_REQUESTS,
                t.too_many,
                "/console",
            );
        }
        Err(_) => return crate::web::center::unavailable_at(&state, lang, "/console"),
    }
    match operators::authenticate(&state.engine.store, &f.name, &f.password, &f.totp, at).await {
        Ok((op, _)) => {
            let validity = w.settings.operator_session;
            let Ok((token, _)) = session::start(&state, "operator", &op.id, validity, at).await
            else {
                return crate::web::center::unavailable_at(&state, lang, "/console");
            };
            tracing::info!(operator = %op.id, "operator signed in");
            let mut res = Redirect::to("/console").into_response();
            res.headers_mut().append(
                header::SET_COOKIE,
                session::set_cookie(OPERATOR_COOKIE, &token, "/console", validity.as_secs()),
            );
            res
        }
        // The second factor was reset: a new one is set up now, and the operator signs in with
        // its first code.
        Err(operators::OperatorError::MustEnrol { id, name }) => {
            match operators::enrol(&state.engine.store, &id, &name, at).await {
                Ok(secret) => {
                    tracing::info!(operator = %id, "operator enrolled a new second factor");
                    login_view(&state, lang, None, name, Some(secret))
                }
                Err(operators::OperatorError::Storage(_)) => {
                    crate::web::center::unavailable_at(&state, lang, "/console")
                }
                Err(_) => login_page(&state, lang, Some(t.login_failed)),
            }
        }
        Err(operators::OperatorError::Storage(_)) => {
            crate::web::center::unavailable_at(&state, lang, "/console")
        }
        Err(_) => login_page(&state, lang, Some(t.login_failed)),
    }
}

/// Ends the session in the store before the cookie; a wrong form token ends nothing.
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageLang(lang): PageLang,
    body: axum::body::Bytes,
) -> Response {
    if let Some(s) = session::current(&state, &headers, "operator", now()).await {
        let token = form_field(&body, "csrf").unwrap_or_default();
        if !session::form_ok(&headers, &s.csrf, &token) {
            let t = crate::web::i18n::texts(lang);
            return crate::web::center::message(
                &state,
                lang,
                StatusCode::FORBIDDEN,
                t.form_expired,
                "/console",
            );
        }
        if tutela_runtime::records::session_end(&state.engine, &s.id_hash)
            .await
            .is_err()
        {
            return crate::web::center::unavailable_at(&state, lang, "/console");
        }
    }
    let mut res = Redirect::to("/console").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(OPERATOR_COOKIE, "", "/console", 0),
    );
    res
}
