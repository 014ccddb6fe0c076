//! Art. 19: recipients are told of every rectification, erasure and restriction, through a
//! webhook per recipient (with retries: each recipient is its own request step) and an event
//! on NATS JetStream (`<prefix>.request.<type>`, deduplicated by `Nats-Msg-Id`).

use std::time::Duration;

use hyper::body::Bytes;
use tokio::sync::Mutex;

use crate::http_post::{PostError, post_json};

/// A recipient's endpoint for Art. 19 notifications.
#[derive(Clone, Debug)]
pub struct Webhook {
    /// The recipient's id in the policy.
    pub recipient: String,
    /// `http://host:port/path`.
    pub url: String,
}

/// Where events go on NATS JetStream.
#[derive(Clone, Debug)]
pub struct NatsSettings {
    pub url: String,
    pub stream: String,
    /// Subjects are `<prefix>.request.<type>`; the stream holds `<prefix>.>`.
    pub prefix: String,
}

impl Default for NatsSettings {
    fn default() -> Self {
        NatsSettings {
            url: "nats://127.0.0.1:4222".into(),
            stream: "TUTELA_EVENTS".into(),
            prefix: "tutela.events".into(),
        }
    }
}

#[derive(Default)]
pub struct Notifier {
    pub webhooks: Vec<Webhook>,
    pub nats: Option<NatsSettings>,
    jetstream: Mutex<Option<async_nats::jetstream::Context>>,
}

impl Notifier {
    pub fn new(webhooks: Vec<Webhook>, nats: Option<NatsSettings>) -> Notifier {
        Notifier {
            webhooks,
            nats,
            jetstream: Mutex::new(None),
        }
    }

    /// The notification steps a request of a type that Art. 19 covers gets.
    pub fn targets(&self) -> Vec<String> {
        let mut t: Vec<String> = self.webhooks.iter().map(|w| w.recipient.clone()).collect();
        if self.nats.is_some() {
            t.push("nats".into());
        }
        t
    }

    /// Posts `body` to the recipient's webhook; a 2xx answer is success.
    pub async fn webhook(
        &self,
        recipient: &str,
        key: &str,
        body: &serde_json::Value,
    ) -> Result<(), String> {
        let hook = self
            .webhooks
            .iter()
            .find(|w| w.recipient == recipient)
            .ok_or_else(|| format!("no webhook is configured for `{recipient}`"))?;
        let headers = [("idempotency-key", key)];
        let send = post_json(&hook.url, body.to_string().into_bytes(), &headers);
        let answer = tokio::time::timeout(Duration::from_secs(10), send)
            .await
            .map_err(|_| format!("the webhook of `{recipient}` did not answer in 10 s"))?;
        match answer {
            Ok((status, _)) if (200..300).contains(&status) => Ok(()),
            Ok((status, _)) => Err(format!("the webhook of `{recipient}` answered {status}")),
            Err(PostError::NotHttp) => Err(format!(
                "the webhook of `{recipient}` is not an http:// URL"
            )),
            Err(PostError::Unreachable) => {
                Err(format!("the webhook of `{recipient}` cannot be reached"))
            }
            Err(PostError::Transport(e)) => Err(e),
        }
    }

    /// Publishes the event and waits for JetStream's acknowledgement. The same `id` published
    /// twice is stored once.
    pub async fn publish(
        &self,
        request_type: &str,
        id: &str,
        body: &serde_json::Value,
    ) -> Result<(), String> {
        let Some(settings) = &self.nats else {
            return Err("NATS is not configured".into());
        };
        let mut guard = self.jetstream.lock().await;
        if guard.is_none() {
            let client = async_nats::ConnectOptions::new()
                .connection_timeout(Duration::from_secs(3))
                .connect(settings.url.as_str())
                .await
                .map_err(|e| format!("NATS cannot be reached: {e}"))?;
            let js = async_nats::jetstream::new(client);
            js.get_or_create_stream(async_nats::jetstream::stream::Config {
                name: settings.stream.clone(),
                subjects: vec![format!("{}.>", settings.prefix)],
                duplicate_window: Duration::from_secs(24 * 3600),
                ..Default::default()
            })
            .await
            .map_err(|e| format!("the JetStream stream is not available: {e}"))?;
            *guard = Some(js);
        }
        let Some(js) = guard.as_ref() else {
            return Err("NATS cannot be reached".into());
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, id);
        let subject = format!("{}.request.{request_type}", settings.prefix);
        let result = async {
            js.publish_with_headers(subject, headers, Bytes::from(body.to_string()))
                .await
                .map_err(|e| e.to_string())?
                .await
                .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(Duration::from_secs(10), result).await {
            Ok(Ok(_ack)) => Ok(()),
            Ok(Err(e)) => {
                *guard = None;
                Err(format!("NATS did not store the event: {e}"))
            }
            Err(_) => {
                *guard = None;
                Err("NATS did not acknowledge in 10 s".into())
            }
        }
    }
}
