//! A small HTTP/1.1 client for the commands that act through a running server (requests,
//! intake): every change then passes the server's single writer and its checks.

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

pub struct ApiClient {
    host: String,
    authority: String,
    token: String,
}

/// The server's answer.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The body, or the problem's detail and fix as an error.
    pub fn ok(self) -> anyhow::Result<Answer> {
        if (200..300).contains(&self.status) {
            return Ok(self);
        }
        let p = self.json();
        anyhow::bail!(
            "{} {}{}{}",
            self.status,
            p["detail"]
                .as_str()
                .unwrap_or("the server refused the call"),
            p["field"]
                .as_str()
                .map(|f| format!(" (field `{f}`)"))
                .unwrap_or_default(),
            p["fix"]
                .as_str()
                .map(|f| format!("; fix: {f}"))
                .unwrap_or_default(),
        )
    }
}

impl ApiClient {
    /// `server` is `http://HOST:PORT`; the token comes from `TUTELA_API_TOKEN` or `token_file`.
    pub fn new(server: &str, token_file: &str) -> anyhow::Result<ApiClient> {
        let authority = server
            .strip_prefix("http://")
            .with_context(|| format!("`{server}` must start with http:// (put TLS in front of tutela, not between the CLI and it)"))?
            .trim_end_matches('/')
            .to_owned();
        let token = match std::env::var("TUTELA_API_TOKEN") {
            Ok(t) => t,
            Err(_) => std::fs::read_to_string(token_file)
                .with_context(|| {
                    format!("reading the API token from {token_file}; or set TUTELA_API_TOKEN")
                })?
                .trim()
                .to_owned(),
        };
        Ok(ApiClient {
            host: authority.clone(),
            authority,
            token,
        })
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<Answer> {
        let bytes = body.map(serde_json::to_vec).transpose()?;
        let mut headers = Vec::new();
        if let Some(key) = idempotency_key {
            headers.push(("idempotency-key", key.to_owned()));
        }
        self.send(
            method,
            path,
            bytes.map(|b| ("application/json", b)),
            &headers,
        )
        .await
    }

    /// A call with a body of any media type and extra headers.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        extra: &[(&str, String)],
    ) -> anyhow::Result<Answer> {
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .with_context(|| {
                format!(
                    "connecting to tutela at {}; is `tutela serve` running?",
                    self.authority
                )
            })?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host)
            .header("authorization", format!("Bearer {}", self.token));
        for (name, value) in extra {
            req = req.header(*name, value);
        }
        let bytes = match body {
            Some((ct, b)) => {
                req = req.header("content-type", ct);
                Bytes::from(b)
            }
            None => Bytes::new(),
        };
        let res = sender.send_request(req.body(Full::new(bytes))?).await?;
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = res.into_body().collect().await?.to_bytes().to_vec();
        Ok(Answer {
            status,
            content_type,
            body,
        })
    }
}
