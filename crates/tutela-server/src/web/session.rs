//! Sessions in cookies, CSRF tokens, and the settings of the pages (their rate limits are
//! counted in the store, see `limits`).
//!
//! A session cookie holds 32 random bytes; the store keeps only their SHA-256, so a copy of the
//! database signs no one in. Cookies are `Secure`, `HttpOnly` and `SameSite=Strict`. Every form
//! carries a token: the session's, or before sign-in a random one that must match its cookie
//! (double submit). A request with an `Origin` of another site is refused as well.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, header};
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};
use tutela_store::{SessionRecord, WebStore};

use crate::AppState;
use tutela_runtime::signin::MailCeiling;

/// Settings of the pages; the defaults suit a privacy center reached over HTTPS.
#[derive(Clone, Debug)]
pub struct WebSettings {
    /// How long a person stays signed in.
    pub person_session: SignedDuration,
    /// How long an operator stays signed in.
    pub operator_session: SignedDuration,
    /// Code e-mails per address asked for from one client in one window (then 429 for that
    /// client only).
    pub codes_per_address: u32,
    /// Code e-mails sent to one address (asked for from any client) in one `ceiling_window`;
    /// more wait for later windows, this many per window, and one whose code expires first is
    /// never sent. Nobody is refused.
    pub codes_per_address_ceiling: u32,
    /// Sign-in attempts (codes asked for and entered, passwords tried) per client address in
    /// one window.
    pub attempts_per_client: u32,
    /// Password attempts per operator name from one client in one window.
    pub attempts_per_operator: u32,
    /// Password attempts per operator name from all clients in one `ceiling_window`; more are
    /// answered after `ceiling_delay`, never refused.
    pub attempts_per_operator_ceiling: u32,
    /// Requests a signed-in person may file in one window.
    pub requests_per_person: u32,
    pub rate_window: Duration,
    /// The window of the per-account ceilings; shorter than a code's validity.
    pub ceiling_window: Duration,
    pub ceiling_delay: Duration,
    /// The proxies whose `X-Forwarded-For` names the client (none by default).
    pub trusted_proxies: super::client::TrustedProxies,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings {
            person_session: SignedDuration::from_mins(30),
            operator_session: SignedDuration::from_hours(8),
            codes_per_address: 5,
            codes_per_address_ceiling: 10,
            attempts_per_client: 30,
            attempts_per_operator: 10,
            attempts_per_operator_ceiling: 30,
            requests_per_person: 10,
            rate_window: Duration::from_secs(15 * 60),
            ceiling_window: Duration::from_secs(5 * 60),
            ceiling_delay: Duration::from_secs(2),
            trusted_proxies: super::client::TrustedProxies::default(),
        }
    }
}

impl WebSettings {
    /// The ceiling on code mails to one address.
    pub fn mail_ceiling(&self) -> MailCeiling {
        MailCeiling {
            per_window: self.codes_per_address_ceiling,
            window: self.ceiling_window,
        }
    }
}

/// The pages' settings, shared by all requests.
pub struct WebContext {
    pub settings: WebSettings,
    /// The mail ceiling of `settings`, also read by the sign-in mails' sweep, which starts
    /// before the settings are given.
    pub(crate) mail_ceiling: std::sync::Arc<std::sync::RwLock<MailCeiling>>,
}

impl Default for WebContext {
    fn default() -> Self {
        let settings = WebSettings::default();
        let ceiling = settings.mail_ceiling();
        WebContext {
            settings,
            mail_ceiling: std::sync::Arc::new(std::sync::RwLock::new(ceiling)),
        }
    }
}

pub const PERSON_COOKIE: &str = "tutela_session";
pub const OPERATOR_COOKIE: &str = "tutela_console";
pub const FORM_COOKIE: &str = "tutela_form";
/// The console's pre-sign-in form cookie; its own name, as its path differs.
pub const CONSOLE_FORM_COOKIE: &str = "tutela_console_form";
pub const PENDING_COOKIE: &str = "tutela_signin";
pub const LANG_COOKIE: &str = "tutela_lang";

/// The value of cookie `name`.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value; `max_age` 0 removes the cookie.
pub fn set_cookie(name: &str, value: &str, path: &str, max_age: i64) -> HeaderValue {
    let v = format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; Secure; HttpOnly; SameSite=Strict"
    );
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

pub fn hash_token(token: &str) -> String {
    tutela_runtime::hex(&Sha256::digest(token.as_bytes()))
}

/// The session of `kind` the request's cookie names, if it is valid now.
pub async fn current(
    state: &AppState,
    headers: &HeaderMap,
    kind: &str,
    now: Timestamp,
) -> Option<SessionRecord> {
    let name = if kind == "person" {
        PERSON_COOKIE
    } else {
        OPERATOR_COOKIE
    };
    let token = cookie(headers, name)?;
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match state.engine.store.session(&hash_token(token), now).await {
        Ok(Some(s)) if s.kind == kind => Some(s),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "sessions could not be read");
            None
        }
    }
}

/// Starts a session; returns the cookie value to set.
pub async fn start(
    state: &AppState,
    kind: &str,
    principal: &str,
    validity: SignedDuration,
    now: Timestamp,
) -> Result<(String, SessionRecord), String> {
    let token = tutela_runtime::random_hex(32).map_err(|e| e.to_string())?;
    let record = SessionRecord {
        id_hash: hash_token(&token),
        kind: kind.to_owned(),
        principal: principal.to_owned(),
        csrf: tutela_runtime::random_hex(16).map_err(|e| e.to_string())?,
        created_at: now,
        expires_at: now.checked_add(validity).unwrap_or(Timestamp::MAX),
    };
    tutela_runtime::records::session(&state.engine, &record)
        .await
        .map_err(|e| e.to_string())?;
    Ok((token, record))
}

/// Whether a form's token is the expected one and the request comes from this site.
pub fn form_ok(headers: &HeaderMap, expected: &str, presented: &str) -> bool {
    if let Some(origin) = headers.get(header::ORIGIN) {
        // A browser names the page a form came from; it must be this site.
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let origin = origin.to_str().unwrap_or("");
        let origin_host = origin.split_once("://").map(|(_, h)| h);
        if host.is_none() || origin_host != host {
            return false;
        }
    }
    !expected.is_empty() && tutela_runtime::same_secret(expected.as_bytes(), presented.as_bytes())
}

/// The peer's address, when the server was started with connection info.
pub fn client(headers_ext: &axum::http::Extensions) -> Option<IpAddr> {
    headers_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}
