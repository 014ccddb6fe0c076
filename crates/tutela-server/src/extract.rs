//! A JSON body extractor whose errors are problems naming the field (by JSON path) and the fix.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use crate::problem::{Code, Problem};

/// Parses `bytes` into `T`; errors name the JSON path of the offending field and say what to
/// send, in words a client's developer reads (no Rust type names).
pub fn parse<'de, T: serde::Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, Problem> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return Problem::new(Code::InvalidJson, "the body is not valid JSON").fix(format!(
                "send one JSON object (RFC 8259); the parser stopped at line {}, column {}: {}",
                inner.line(),
                inner.column(),
                serde_message(&inner.to_string())
            ));
        }
        // serde reads a struct from an array too (by position): an array where an object is
        // taken fails at `[0]`, and is said as what it is.
        let array = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
        if array && path.starts_with('[') {
            return Problem::new(
                Code::InvalidField,
                "the body is an array; this endpoint takes a JSON object",
            )
            .field("body")
            .fix("send one JSON object with the fields the schema at /openapi.json names");
        }
        let (message, field, fix) = explain(&serde_message(&inner.to_string()), &path);
        Problem::new(Code::InvalidField, message)
            .field(field)
            .fix(fix)
    })
}

/// serde's message without its position (" at line L column C"): the field says more.
fn serde_message(message: &str) -> String {
    message
        .rsplit_once(" at line ")
        .map_or(message, |(m, _)| m)
        .to_owned()
}

/// The message, the field (JSON path; `body` for the whole body) and the fix for a body that
/// is JSON but not what the endpoint takes.
fn explain(message: &str, path: &str) -> (String, String, String) {
    let at = |name: &str| match path {
        "." | "?" | "" => name.to_owned(),
        p => format!("{p}.{name}"),
    };
    let here = match path {
        "." | "?" | "" => "body".to_owned(),
        p => p.to_owned(),
    };
    if let Some(name) = quoted(message, "missing field `") {
        return (
            format!("`{name}` is missing"),
            at(name),
            format!("send `{name}` (the schema at /openapi.json says what it takes)"),
        );
    }
    if let Some(name) = quoted(message, "unknown field `") {
        let known = expected_names(message)
            .map(|k| format!("; this object takes {k}"))
            .unwrap_or_default();
        // The path already ends with the unknown key.
        let field = if here == name || here.ends_with(&format!(".{name}")) {
            here.clone()
        } else {
            at(name)
        };
        return (
            format!("`{name}` is not a field here"),
            field,
            format!("leave `{name}` out{known}"),
        );
    }
    if let Some(value) = quoted(message, "unknown variant `") {
        let known = expected_names(message).unwrap_or_default();
        return (
            format!("`{value}` is not a value `{here}` takes"),
            here.clone(),
            format!("use one of {known}"),
        );
    }
    let plain = plain_types(message);
    let expected = plain
        .split_once(", expected ")
        .map(|(_, e)| e.to_owned())
        .unwrap_or_else(|| "what the schema at /openapi.json says".to_owned());
    (plain, here.clone(), format!("send {expected} as `{here}`"))
}

/// The names serde lists after "expected" (`a`; `a` or `b`; one of `a`, `b`, `c`), as
/// `a, b, c`; `None` when it lists none ("there are no fields").
fn expected_names(message: &str) -> Option<String> {
    let (_, list) = message.split_once(", expected ")?;
    let list = list.strip_prefix("one of ").unwrap_or(list);
    list.contains('`')
        .then(|| list.replace(" or ", ", ").replace('`', ""))
}

/// The text between `prefix` and the next backtick.
fn quoted<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split_once('`').map(|(name, _)| name)
}

/// serde's type words in JSON's: "sequence" is an array, "map" and "struct Xyz" an object.
fn plain_types(message: &str) -> String {
    let mut out = message
        .replace("a sequence", "an array")
        .replace("sequence", "an array")
        .replace("a map", "a JSON object")
        .replace("unit value", "null");
    while let Some(at) = out.find("struct ") {
        let end = out[at + 7..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(out.len(), |i| at + 7 + i);
        out.replace_range(at..end, "a JSON object");
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "only parsed")]
    struct SubjectPut {
        relationship: String,
        kind: Option<Kind>,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Customer,
        Prospect,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code, reason = "only parsed")]
    struct Inner {
        source: String,
    }

    fn problem(body: &str) -> serde_json::Value {
        let e = parse::<SubjectPut>(body.as_bytes()).expect_err("refused");
        serde_json::to_value(e.body()).expect("json")
    }

    #[test]
    fn every_body_error_names_its_field_and_what_to_send() {
        let p = problem(r#"{"kind": "customer"}"#);
        assert_eq!(p["field"], "relationship", "{p}");
        assert_eq!(
            p["fix"],
            "send `relationship` (the schema at /openapi.json says what it takes)"
        );
        let p = problem(r#"{"relationship": "c", "inner": {}}"#);
        assert_eq!(p["field"], "inner.source", "{p}");
        let p = problem(r#"{"relationship": "c", "colour": 1}"#);
        assert_eq!(p["field"], "colour", "{p}");
        assert!(
            p["fix"]
                .as_str()
                .is_some_and(|f| f.contains("relationship, kind, inner")),
            "{p}"
        );
        let p = problem(r#"{"relationship": "c", "kind": "friend"}"#);
        assert_eq!(p["field"], "kind", "{p}");
        assert_eq!(p["fix"], "use one of customer, prospect", "{p}");
        let p = problem(r#"{"relationship": 7}"#);
        assert_eq!(p["field"], "relationship", "{p}");
        assert_eq!(p["fix"], "send a string as `relationship`", "{p}");
        // An array for the whole body: no Rust type name, and the body named.
        let p = problem(r#"[1, 2]"#);
        assert_eq!(p["field"], "body", "{p}");
        let text = p.to_string();
        assert!(
            !text.contains("SubjectPut") && !text.contains("sequence"),
            "{p}"
        );
        assert!(
            text.contains("a JSON object") && text.contains("an array"),
            "{p}"
        );
        // Not JSON: where the parser stopped.
        let p = problem(r#"{"relationship": "#);
        assert_eq!(p["code"], "invalid_json", "{p}");
        assert!(p.get("field").is_none() || p["field"].is_null(), "{p}");
        assert!(
            p["fix"]
                .as_str()
                .is_some_and(|f| f.contains("line 1, column")),
            "{p}"
        );
    }
}
