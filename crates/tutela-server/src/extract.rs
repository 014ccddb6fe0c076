//! A JSON body extractor whose errors are problems naming the field (by JSON path) and the fix.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use crate::problem::{Code, Problem};

/// Parses `bytes` into `T`; errors name the JSON path of the offending field.
pub fn parse<'de, T: serde::Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, Problem> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let code = if inner.is_syntax() || inner.is_eof() {
            Code::InvalidJson
        } else {
            Code::InvalidField
        };
        let message = inner.to_string();
        // serde's message ends in " at line L column C"; the path says more to a client.
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(m, _)| m)
            .to_owned();
        let field = if path == "." { None } else { Some(path) };
        let mut p = Problem::new(code, message);
        if let Some(f) = field {
            p = p.field(f);
        }
        p.fix("see the request schema at /openapi.json")
    })
}

/// The JSON body of a request, owned.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let bytes = body(req, state).await?;
        parse(&bytes).map(Json)
    }
}

/// The raw body of a JSON request, checked for its media type and size.
pub struct JsonBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        body(req, state).await.map(JsonBytes)
    }
}

async fn body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, Problem> {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let v = v.split(';').next().unwrap_or("").trim();
            v == "application/json" || v.ends_with("+json")
        });
    if !json {
        return Err(
            Problem::new(Code::UnsupportedMediaType, "the body must be sent as JSON")
                .field("Content-Type")
                .fix("send `Content-Type: application/json`"),
        );
    }
    Bytes::from_request(req, state).await.map_err(|_| {
        Problem::new(
            Code::PayloadTooLarge,
            format!("the body is larger than {} bytes", crate::BODY_LIMIT),
        )
        .fix("send a smaller body; a batch holds at most 10,000 queries")
    })
}
