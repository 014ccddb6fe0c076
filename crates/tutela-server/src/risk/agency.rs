//! The credit-agency adapter (N13): an HTTP JSON call with a timeout, retries with backoff and
//! a circuit breaker. What it can send is fixed by its type: name, address, date of birth and
//! IBAN, nothing else.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};

/// Everything an agency may receive (N13). There is no field for anything else.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgencyRequest {
    pub name: String,
    pub address: String,
    pub date_of_birth: String,
    pub iban: String,
}

/// What the agency answers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AgencyAnswer {
    /// Negative payment entries (titled claims, insolvency…) known to the agency.
    pub negative_entries: u32,
    #[serde(default)]
    pub rating: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgencyError {
    #[error("the credit agency did not answer in time")]
    Timeout,
    #[error("the credit agency failed: {0}")]
    Failed(String),
    #[error("the credit agency is not asked for a while after repeated failures")]
    CircuitOpen,
}

#[derive(Debug, Clone)]
pub struct AgencySettings {
    /// `http://host:port/path`.
    pub url: String,
    pub timeout: Duration,
    pub retries: u32,
    pub backoff: Duration,
    /// Consecutive failures that open the circuit, and for how long.
    pub breaker_failures: u32,
    pub breaker_open_for: Duration,
}

impl AgencySettings {
    pub fn new(url: &str) -> AgencySettings {
        AgencySettings {
            url: url.to_owned(),
            timeout: Duration::from_millis(2000),
            retries: 2,
            backoff: Duration::from_millis(100),
            breaker_failures: 5,
            breaker_open_for: Duration::from_secs(30),
        }
    }
}

struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

pub struct AgencyClient {
    settings: AgencySettings,
    breaker: Mutex<Breaker>,
}

impl AgencyClient {
    pub fn new(settings: AgencySettings) -> AgencyClient {
        AgencyClient {
            settings,
            breaker: Mutex::new(Breaker {
                failures: 0,
                open_until: None,
            }),
        }
    }

    pub async fn query(&self, req: &AgencyRequest) -> Result<AgencyAnswer, AgencyError> {
        {
            let b = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
            if b.open_until.is_some_and(|t| Instant::now() < t) {
                return Err(AgencyError::CircuitOpen);
            }
        }
        let mut last = AgencyError::Failed("not tried".into());
        for attempt in 0..=self.settings.retries {
            if attempt > 0 {
                tokio::time::sleep(self.settings.backoff * 2u32.pow(attempt - 1)).await;
            }
            match tokio::time::timeout(self.settings.timeout, self.once(req)).await {
                Ok(Ok(answer)) => {
                    let mut b = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
                    b.failures = 0;
                    b.open_until = None;
                    return Ok(answer);
                }
                Ok(Err(e)) => last = e,
                Err(_) => last = AgencyError::Timeout,
            }
        }
        let mut b = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
        b.failures += 1;
        if b.failures >= self.settings.breaker_failures {
            b.open_until = Some(Instant::now() + self.settings.breaker_open_for);
        }
        Err(last)
    }

    async fn once(&self, req: &AgencyRequest) -> Result<AgencyAnswer, AgencyError> {
        let rest =
            self.settings.url.strip_prefix("http://").ok_or_else(|| {
                AgencyError::Failed("the agency URL must start with http://".into())
            })?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .map_err(|_| AgencyError::Failed("cannot be reached".into()))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| AgencyError::Failed(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let body = serde_json::to_vec(req).map_err(|e| AgencyError::Failed(e.to_string()))?;
        let request = hyper::Request::post(path)
            .header("host", authority)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| AgencyError::Failed(e.to_string()))?;
        let res = sender
            .send_request(request)
            .await
            .map_err(|e| AgencyError::Failed(e.to_string()))?;
        let status = res.status();
        let bytes = res
            .into_body()
            .collect()
            .await
            .map_err(|e| AgencyError::Failed(e.to_string()))?
            .to_bytes();
        if !status.is_success() {
            return Err(AgencyError::Failed(format!("answered {}", status.as_u16())));
        }
        serde_json::from_slice(&bytes).map_err(|_| {
            AgencyError::Failed("answered something that is not an agency answer".into())
        })
    }
}
