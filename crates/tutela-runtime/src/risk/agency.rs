//! The credit-agency adapter (N13): an HTTP JSON call with a timeout, retries with backoff and
//! a circuit breaker. What it can send is fixed by its type: name, address, date of birth and
//! IBAN, nothing else.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::http_post::{PostError, post_json};

/// Everything an agency may receive (N13). There is no field for anything else.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
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
        let body = serde_json::to_vec(req).map_err(|e| AgencyError::Failed(e.to_string()))?;
        let (status, bytes) = post_json(&self.settings.url, body, &[])
            .await
            .map_err(|e| {
                AgencyError::Failed(match e {
                    PostError::NotHttp => "the agency URL must start with http://".into(),
                    PostError::Unreachable => "cannot be reached".into(),
                    PostError::Transport(e) => e,
                })
            })?;
        if !(200..300).contains(&status) {
            return Err(AgencyError::Failed(format!("answered {status}")));
        }
        serde_json::from_slice(&bytes).map_err(|_| {
            AgencyError::Failed("answered something that is not an agency answer".into())
        })
    }
}
