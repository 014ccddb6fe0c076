//! The checks every privacy-center form passes before its handler runs, in one place (the
//! console's are in its `guard`): the form is read (a malformed one gets the 400 page), its
//! token checked (the person's session's, or before sign-in the form cookie's: double
//! submit; and the origin), then the rate limit the form names is counted. A handler takes a
//! [`PersonForm`] or a [`SignInForm`] and sees only forms that passed; it cannot forget a check
//! or run them in another order. A page of the signed-in person takes a [`Person`].

use axum::extract::{
    FromRequest, FromRequestParts, OptionalFromRequest, OptionalFromRequestParts, Request,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;
use tutela_core::render::Lang;
use tutela_store::SessionRecord;

use super::{message, sign_in_page, signed_in, unavailable};
use crate::AppState;
use crate::routes::now;
use crate::web::i18n::{Texts, texts};
use crate::web::limits::{self, LimitError};
use crate::web::session::{self, FORM_COOKIE};
use crate::web::{Client, WebForm, lang_of_headers};

/// A privacy-center form: its token, and what it counts against the pages' rate limits.
pub(super) trait CenterForm: DeserializeOwned + Send {
    /// The token the page put in the form.
    fn csrf(&self) -> &str;

    /// The limit counted once the token is checked, before the handler runs.
    fn limit(&self) -> Limit {
        Limit::Uncounted
    }
}

/// The rate limit a form counts (see `web/limits.rs`).
pub(super) enum Limit {
    /// Nothing is counted: the form changes only the signed-in person's own record.
    Uncounted,
    /// A sign-in code entered: counted per client.
    SignInAttempt,
    /// A sign-in code asked for this address (as typed, trimmed, lower case): counted per
    /// client and per address from that client.
    CodeMail(String),
    /// A request filed by the signed-in person: counted per person, as every request starts a
    /// deadline and work.
    PersonRequest,
}

/// A form of the signed-in person, its token checked against their session.
///
/// Without a session the answer is the way back to the start page (as `Option<PersonForm>`,
/// `None`); with a wrong token a 403 page that says the form expired.
pub(super) struct PersonForm<T> {
    pub lang: Lang,
    pub t: &'static Texts,
    pub session: SessionRecord,
    pub form: T,
}

/// The signed-in person on one of their pages, and the page's language. Without a session,
/// `None` (as `Option<Person>`), or the way back to the start page.
pub(super) struct Person {
    pub lang: Lang,
    pub t: &'static Texts,
    pub session: SessionRecord,
}

impl OptionalFromRequestParts<AppState> for Person {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        let lang = lang_of_headers(parts.uri.query(), &parts.headers);
        Ok(signed_in(state, &parts.headers)
            .await
            .map(|session| Person {
                lang,
                t: texts(lang),
                session,
            }))
    }
}

impl FromRequestParts<AppState> for Person {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Ok(person) =
            <Self as OptionalFromRequestParts<AppState>>::from_request_parts(parts, state).await;
        person.ok_or_else(|| Redirect::to("/").into_response())
    }
}

/// A form before sign-in, its token checked against the form cookie; a wrong one leads back to
/// the sign-in page, which sets a new cookie.
pub(super) struct SignInForm<T> {
    pub lang: Lang,
    pub t: &'static Texts,
    pub form: T,
}

/// The page's language, the client and the headers, then the form, read the way a handler's
/// own `WebForm` reads it.
async fn read<T: CenterForm>(
    req: Request,
    state: &AppState,
) -> Result<(Lang, Client, HeaderMap, T), Response> {
    let (mut parts, body) = req.into_parts();
    let lang = lang_of_headers(parts.uri.query(), &parts.headers);
    let Ok(client) = Client::from_request_parts(&mut parts, state).await;
    let headers = parts.headers.clone();
    let WebForm(form) = WebForm::<T>::from_request(Request::from_parts(parts, body), state).await?;
    Ok((lang, client, headers, form))
}

/// Counts the form's limit: refused (429) or not counted (the store failed: 503) is the
/// answer; the same for everyone.
async fn count(
    state: &AppState,
    lang: Lang,
    limit: Limit,
    client: &Client,
    subject: Option<&str>,
) -> Result<(), Response> {
    let at = now();
    let within: Result<bool, LimitError> = match (limit, subject) {
        (Limit::Uncounted, _) => Ok(true),
        (Limit::SignInAttempt, _) => limits::attempt(state, client, at).await,
        (Limit::CodeMail(address), _) => limits::code_mail(state, &address, client, at).await,
        (Limit::PersonRequest, Some(subject)) => limits::person_request(state, subject, at).await,
        // A person's limit on a form before sign-in counts no one: refused rather than
        // let through uncounted.
        (Limit::PersonRequest, None) => Ok(false),
    };
    match within {
        Ok(true) => Ok(()),
        Ok(false) => {
            let t = texts(lang);
            Err(message(
                state,
                lang,
                StatusCode::TOO_MANY_REQUESTS,
                t.too_many,
                "/",
            ))
        }
        Err(_) => Err(unavailable(state, lang)),
    }
}

impl<T: CenterForm> OptionalFromRequest<AppState> for PersonForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Option<Self>, Response> {
        let (lang, client, headers, form) = read::<T>(req, state).await?;
        let t = texts(lang);
        let Some(s) = signed_in(state, &headers).await else {
            return Ok(None);
        };
        if !session::form_ok(&headers, &s.csrf, form.csrf()) {
            return Err(message(
                state,
                lang,
                StatusCode::FORBIDDEN,
                t.form_expired,
                "/",
            ));
        }
        count(state, lang, form.limit(), &client, Some(&s.principal)).await?;
        Ok(Some(PersonForm {
            lang,
            t,
            session: s,
            form,
        }))
    }
}

impl<T: CenterForm> FromRequest<AppState> for PersonForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        <Self as OptionalFromRequest<AppState>>::from_request(req, state)
            .await?
            .ok_or_else(|| Redirect::to("/").into_response())
    }
}

impl<T: CenterForm> FromRequest<AppState> for SignInForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (lang, client, headers, form) = read::<T>(req, state).await?;
        let t = texts(lang);
        let expected = session::cookie(&headers, FORM_COOKIE).unwrap_or("");
        if !session::form_ok(&headers, expected, form.csrf()) {
            return Err(sign_in_page(state, lang, false, Some(t.form_expired)));
        }
        count(state, lang, form.limit(), &client, None).await?;
        Ok(SignInForm { lang, t, form })
    }
}
