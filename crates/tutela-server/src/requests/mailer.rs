//! Sending one-time codes by e-mail. The code and the address never reach a log.

use std::future::Future;
use std::pin::Pin;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// A mail that failed to go out, without the address or the text.
#[derive(Debug, thiserror::Error)]
#[error("the e-mail could not be sent: {0}")]
pub struct MailError(String);

pub type MailFuture<'a> = Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + 'a>>;

pub trait Mailer: Send + Sync {
    fn send<'a>(&'a self, to: &'a str, subject: &'a str, body: &'a str) -> MailFuture<'a>;
}

/// How to reach the SMTP server.
#[derive(Clone, Debug)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    /// `none` (plain, for a relay on loopback), `starttls` or `tls`.
    pub security: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: String,
}

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    pub fn new(s: &SmtpSettings) -> Result<SmtpMailer, MailError> {
        let tls = match s.security.as_str() {
            "none" => Tls::None,
            "starttls" | "tls" => {
                let params = TlsParameters::new(s.host.clone())
                    .map_err(|e| MailError(format!("TLS setup: {e}")))?;
                if s.security == "tls" {
                    Tls::Wrapper(params)
                } else {
                    Tls::Required(params)
                }
            }
            other => {
                return Err(MailError(format!(
                    "unknown SMTP security `{other}`; use none, starttls or tls"
                )));
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
            .port(s.port)
            .tls(tls)
            .timeout(Some(std::time::Duration::from_secs(15)));
        if let (Some(u), Some(p)) = (&s.username, &s.password) {
            builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
        }
        let from = s
            .from
            .parse::<Mailbox>()
            .map_err(|e| MailError(format!("sender address: {e}")))?;
        Ok(SmtpMailer {
            transport: builder.build(),
            from,
        })
    }
}

impl Mailer for SmtpMailer {
    fn send<'a>(&'a self, to: &'a str, subject: &'a str, body: &'a str) -> MailFuture<'a> {
        Box::pin(async move {
            let to = to
                .parse::<Mailbox>()
                .map_err(|_| MailError("the recipient address is not valid".into()))?;
            // Quoted-printable keeps ASCII lines such as the code line readable as they are.
            let body =
                Body::new_with_encoding(body.to_owned(), ContentTransferEncoding::QuotedPrintable)
                    .map_err(|_| MailError("the mail body could not be encoded".into()))?;
            let message = Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(subject)
                .header(ContentType::TEXT_PLAIN)
                .body(body)
                .map_err(|e| MailError(e.to_string()))?;
            // The server's answer may quote the address: only its kind goes into the error.
            self.transport.send(message).await.map(|_| ()).map_err(|e| {
                MailError(
                    if e.is_permanent() {
                        "the mail server refused the message"
                    } else if e.is_transient() {
                        "the mail server deferred the message"
                    } else if e.is_timeout() {
                        "the mail server did not answer in time"
                    } else {
                        "the mail server cannot be reached"
                    }
                    .to_owned(),
                )
            })
        })
    }
}

/// No mail server configured: codes cannot be sent, so requests wait for an agent.
pub struct NoMailer;

impl Mailer for NoMailer {
    fn send<'a>(&'a self, _: &'a str, _: &'a str, _: &'a str) -> MailFuture<'a> {
        Box::pin(async { Err(MailError("no SMTP server is configured".into())) })
    }
}
