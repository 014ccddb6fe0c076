//! The one outbound HTTP call tutela makes: a JSON POST over plain HTTP/1 (Art. 19 webhooks,
//! the credit agency). Timeouts and retries belong to the caller, which knows its budget.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// Why a POST did not get an answer.
#[derive(Debug)]
pub(crate) enum PostError {
    /// The URL is not `http://host:port/path`.
    NotHttp,
    /// No TCP connection to the host.
    Unreachable,
    /// The connection broke or the request could not be built.
    Transport(String),
}

/// Posts `body` as `application/json` with the extra `headers`; answers the status and body.
pub(crate) async fn post_json(
    url: &str,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> Result<(u16, Bytes), PostError> {
    let rest = url.strip_prefix("http://").ok_or(PostError::NotHttp)?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let transport = |e: &dyn std::fmt::Display| PostError::Transport(e.to_string());
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|_| PostError::Unreachable)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| transport(&e))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut request = hyper::Request::post(path)
        .header("host", authority)
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| transport(&e))?;
    let res = sender
        .send_request(request)
        .await
        .map_err(|e| transport(&e))?;
    let status = res.status().as_u16();
    let bytes = res
        .into_body()
        .collect()
        .await
        .map_err(|e| transport(&e))?
        .to_bytes();
    Ok((status, bytes))
}
