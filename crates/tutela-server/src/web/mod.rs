//! The web pages: the privacy center for the person at `/` and the console for the privacy
//! office at `/console`. Server-rendered (askama templates, checked at compile time), usable
//! without JavaScript, German by default and English one click away.
//!
//! The pages drive the same request workflow and ledger writer as the API; no rule lives here.
//! Every form carries a CSRF token, every response a strict Content-Security-Policy, and no
//! URL holds personal data: a person is looked up through a form, never a path.

mod center;
pub mod client;
mod console;
mod i18n;
mod limits;
pub(crate) mod missing;
mod session;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use tutela_core::render::Lang;

use crate::AppState;
pub use i18n::Texts;
pub use session::{WebContext, WebSettings};
use tutela_runtime::operators;

/// The privacy center and the console, with their assets and security headers.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(center::router())
        .merge(console::router(state))
        .route("/assets/tutela.css", get(stylesheet))
        .layer(middleware::from_fn(remember_lang))
        .layer(middleware::from_fn(security_headers))
}

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // `same-origin`, not `no-referrer`: with no referrer at all, browsers send `Origin: null`
    // on form posts, and the origin check needs the real one. Other sites still see nothing.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        // Pages show personal data: no browser or proxy keeps them.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../assets/tutela.css"),
    )
        .into_response()
}

/// What every page shows around its content: language, navigation, sign-out form, messages.
pub(crate) struct Chrome {
    pub lang: &'static str,
    pub other_lang: &'static str,
    pub t: &'static Texts,
    pub title: String,
    pub console: bool,
    pub signed_in: bool,
    /// The console's operator may administer (shows the operators link).
    pub admin: bool,
    pub csrf: String,
    pub flash: Option<String>,
    pub error: Option<String>,
    pub policy_id: String,
    pub notice_version: String,
    /// The signed-in operator and role, in the console.
    pub who: String,
}

impl Chrome {
    pub fn new(state: &AppState, lang: Lang, title: &str, console: bool) -> Chrome {
        let policy = &state.engine.policy().policy;
        Chrome {
            lang: lang.as_str(),
            other_lang: match lang {
                Lang::De => "en",
                Lang::En => "de",
            },
            t: i18n::texts(lang),
            title: title.to_owned(),
            console,
            signed_in: false,
            admin: false,
            csrf: String::new(),
            flash: None,
            error: None,
            policy_id: policy.id.clone(),
            notice_version: tutela_core::words::version(&policy.version, lang),
            who: String::new(),
        }
    }

    /// Marks the page as seen by a signed-in user whose forms carry `csrf`.
    pub fn signed_in(mut self, csrf: Option<String>) -> Chrome {
        self.signed_in = csrf.is_some();
        self.csrf = csrf.unwrap_or_default();
        self
    }
}

#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct Message {
    pub c: Chrome,
    pub back: String,
}

/// The page language: `?lang=` first (the switch link), then the cookie it leaves, else German.
pub(crate) struct PageLang(pub Lang);

impl<S: Send + Sync> FromRequestParts<S> for PageLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PageLang(lang_of(parts)))
    }
}

fn query_lang(query: Option<&str>) -> Option<Lang> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "lang")
        .and_then(|(_, v)| Lang::parse(v))
}

fn lang_of(parts: &Parts) -> Lang {
    lang_of_headers(parts.uri.query(), &parts.headers)
}

pub(crate) fn lang_of_headers(query: Option<&str>, headers: &axum::http::HeaderMap) -> Lang {
    query_lang(query)
        .or_else(|| session::cookie(headers, session::LANG_COOKIE).and_then(Lang::parse))
        .unwrap_or(Lang::De)
}

/// Keeps the language chosen with `?lang=` in a cookie for the next pages.
async fn remember_lang(req: Request, next: Next) -> Response {
    let chosen = query_lang(req.uri().query());
    let mut res = next.run(req).await;
    if let Some(l) = chosen {
        res.headers_mut().append(
            header::SET_COOKIE,
            session::set_cookie(session::LANG_COOKIE, l.as_str(), "/", 365 * 24 * 3600),
        );
    }
    res
}

/// Who is asking, as a rate-limit key: the peer address, or behind a trusted proxy the client
/// it names (see [`client`]).
pub(crate) struct Client(Option<std::net::IpAddr>);

impl Client {
    /// The client's bucket: its IPv4 address or IPv6 /64.
    pub fn key(&self) -> String {
        client::bucket(self.0)
    }
}

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Client(client::client_address(
            session::client(&parts.extensions),
            &parts.headers,
            &state.web.settings.trusted_proxies,
        )))
    }
}

/// A form body; a malformed one gets a page in both languages naming the problem, never a panic.
pub(crate) struct WebForm<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for WebForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(v)) => Ok(WebForm(v)),
            Err(e) => Err((
                StatusCode::BAD_REQUEST,
                Html(format!(
                    "<!doctype html><html lang=\"de\"><head><meta charset=\"utf-8\"><title>400</title></head><body><main>\
                     <h1>Die Eingabe ist ungültig / The input is invalid</h1><p lang=\"en\">{}</p>\
                     <p><a href=\"/\">Zurück / Back</a></p></main></body></html>",
                    askama::filters::escape(e.body_text(), askama::filters::Html)
                        .map(|s| s.to_string())
                        .unwrap_or_default()
                )),
            )
                .into_response()),
        }
    }
}

/// Renders a template, or a plain error page when rendering fails (it does not with checked
/// templates, but a page must never panic).
pub(crate) fn page(t: &impl Template) -> Response {
    page_with(StatusCode::OK, t)
}

pub(crate) fn page_with(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

/// The stored form of a session cookie (its SHA-256), for tools that create sessions.
pub fn session_hash(cookie: &str) -> String {
    session::hash_token(cookie)
}

/// Every console route with the permission it requires, for tests and documentation.
pub fn console_routes() -> &'static [(&'static str, &'static str, operators::Permission)] {
    console::ROUTES
}

/// A date as the pages show it, in Europe/Berlin.
pub fn format_date(at: jiff::Timestamp, lang: Lang) -> String {
    let tz = jiff::tz::TimeZone::get("Europe/Berlin").unwrap_or(jiff::tz::TimeZone::UTC);
    date(at, &tz, lang)
}

/// The inside of `<main>` (or `<body>`) of a whole HTML document made by the core, to show it
/// within a page; its own `<head>` (styles, title) is left behind.
pub(crate) fn body_of(html: &str) -> &str {
    for (open, close) in [("<main>", "</main>"), ("<body>", "</body>")] {
        if let (Some(a), Some(b)) = (html.find(open), html.rfind(close))
            && a + open.len() <= b
        {
            return &html[a + open.len()..b];
        }
    }
    html
}

/// A date as the person reads it, in the operator's time zone (see
/// [`tutela_core::words::date`]).
pub(crate) fn date(at: jiff::Timestamp, tz: &jiff::tz::TimeZone, lang: Lang) -> String {
    tutela_core::words::date(at, tz, lang)
}

/// A calendar date (`YYYY-MM-DD`) as [`date`] writes dates; anything else as it is.
pub(crate) fn civil_date(day: &str, lang: Lang) -> String {
    tutela_core::words::civil_date(day, lang)
}

/// An instant to the minute, in the operator's time zone.
pub(crate) fn date_time(at: jiff::Timestamp, tz: &jiff::tz::TimeZone, lang: Lang) -> String {
    tutela_core::words::date_time(at, tz, lang)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_body_of_a_document_is_what_lies_inside_main() {
        assert_eq!(
            super::body_of(
                "<html><head><style>x</style></head><body><main><h1>A</h1></main></body></html>"
            ),
            "<h1>A</h1>"
        );
        assert_eq!(super::body_of("<body><p>B</p></body>"), "<p>B</p>");
        assert_eq!(super::body_of("</main><main>"), "</main><main>");
    }
}
