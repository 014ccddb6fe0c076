//! The one HTTP error type: RFC 9457 problem+json, with a catalog of codes. Every error names
//! the field it is about and how to fix it; internals never reach the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

macro_rules! catalog {
    ($($variant:ident => $code:literal, $status:expr, $title:literal;)*) => {
        /// The problem codes of the API. `code` and the `type` URI are part of the contract.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Code { $($variant),* }

        impl Code {
            pub fn as_str(self) -> &'static str { match self { $(Code::$variant => $code),* } }
            pub fn status(self) -> StatusCode { match self { $(Code::$variant => $status),* } }
            pub fn title(self) -> &'static str { match self { $(Code::$variant => $title),* } }
        }

        /// Every code, for the documentation.
        pub const CATALOG: &[Code] = &[$(Code::$variant),*];
    };
}

catalog! {
    InvalidJson => "invalid_json", StatusCode::BAD_REQUEST, "The request body is not valid JSON";
    InvalidField => "invalid_field", StatusCode::UNPROCESSABLE_ENTITY, "A field has a wrong value";
    UnknownId => "unknown_id", StatusCode::UNPROCESSABLE_ENTITY, "A field names something the policy does not know";
    PolicyViolation => "policy_violation", StatusCode::UNPROCESSABLE_ENTITY, "The policy does not allow this write";
    BatchTooLarge => "batch_too_large", StatusCode::UNPROCESSABLE_ENTITY, "The batch holds too many queries";
    PayloadTooLarge => "payload_too_large", StatusCode::PAYLOAD_TOO_LARGE, "The request body is too large";
    UnsupportedMediaType => "unsupported_media_type", StatusCode::UNSUPPORTED_MEDIA_TYPE, "The request body must be JSON";
    Unauthorized => "unauthorized", StatusCode::UNAUTHORIZED, "A valid bearer token is required";
    NotFound => "not_found", StatusCode::NOT_FOUND, "No such resource";
    MethodNotAllowed => "method_not_allowed", StatusCode::METHOD_NOT_ALLOWED, "The method is not allowed here";
    SubjectErased => "subject_erased", StatusCode::CONFLICT, "The person was erased";
    IdempotencyConflict => "idempotency_conflict", StatusCode::CONFLICT, "The idempotency key was used for a different write";
    InvalidTransition => "invalid_transition", StatusCode::CONFLICT, "The request cannot make this step in its current status";
    Conflict => "conflict", StatusCode::CONFLICT, "The resource was changed at the same time";
    FourEyes => "four_eyes", StatusCode::CONFLICT, "Another agent than the one who verified the request must approve its plan";
    PlanChanged => "plan_changed", StatusCode::CONFLICT, "The plan changed since it was shown";
    CodeInvalid => "code_invalid", StatusCode::UNPROCESSABLE_ENTITY, "The one-time code is wrong";
    CodeExpired => "code_expired", StatusCode::GONE, "The one-time code has expired";
    CodeLocked => "code_locked", StatusCode::LOCKED, "Too many wrong codes; the code is locked";
    NotVerified => "not_verified", StatusCode::FORBIDDEN, "The requester's identity is not verified";
    ResultNotReady => "result_not_ready", StatusCode::CONFLICT, "The result of the request is not ready";
    ResultGone => "result_gone", StatusCode::GONE, "The result was deleted or does not exist in that format";
    ResultErased => "result_erased", StatusCode::GONE, "The result was destroyed when the person was erased";
    NotConfigured => "not_configured", StatusCode::NOT_IMPLEMENTED, "The server is not configured for this";
    BudgetExhausted => "budget_exhausted", StatusCode::CONFLICT, "The release would pass the dataset's privacy budget";
    StorageUnavailable => "storage_unavailable", StatusCode::SERVICE_UNAVAILABLE, "The database did not accept the write; nothing was recorded";
}

/// An RFC 9457 problem. Boxed, so that `Result<_, Problem>` stays small on the happy path.
#[derive(Debug, Clone)]
pub struct Problem(Box<ProblemBody>);

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Problem)]
pub struct ProblemBody {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// The problem code from the catalog.
    pub code: &'static str,
    /// The request field the problem is about, as a JSON path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// How to fix the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Problem {
    pub fn new(code: Code, detail: impl Into<String>) -> Problem {
        Problem(Box::new(ProblemBody {
            type_uri: format!("https://tutela.dev/problems/{}", code.as_str()),
            title: code.title(),
            status: code.status().as_u16(),
            detail: detail.into(),
            code: code.as_str(),
            field: None,
            fix: None,
        }))
    }

    pub fn field(mut self, field: impl Into<String>) -> Problem {
        self.0.field = Some(field.into());
        self
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Problem {
        self.0.fix = Some(fix.into());
        self
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.0.status
    }

    /// The problem as it is sent.
    pub fn body(&self) -> &ProblemBody {
        &self.0
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&*self.0).unwrap_or_default();
        let mut res = (status, body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}
