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

/// No mail goes out at all: codes cannot be sent, so requests wait for an agent. `tutela serve`
/// without `[smtp]` writes mails to a [`DirMailer`]'s outbox instead.
pub struct NoMailer;

impl Mailer for NoMailer {
    fn send<'a>(&'a self, _: &'a str, _: &'a str, _: &'a str) -> MailFuture<'a> {
        Box::pin(async { Err(MailError("no SMTP server is configured".into())) })
    }
}

/// No mail server configured: each mail is written to a file of its own in a local directory
/// (the outbox), readable by the owner only, for the operator to deliver or a person on the
/// same machine to read. The quick start signs people in this way.
pub struct DirMailer {
    dir: std::path::PathBuf,
}

impl DirMailer {
    /// The outbox at `dir`, created (mode 0700) when missing.
    pub fn new(dir: impl Into<std::path::PathBuf>) -> Result<DirMailer, MailError> {
        let dir = dir.into();
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(&dir)
            .map_err(|e| MailError(format!("the outbox directory cannot be created: {e}")))?;
        Ok(DirMailer { dir })
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl Mailer for DirMailer {
    fn send<'a>(&'a self, to: &'a str, subject: &'a str, body: &'a str) -> MailFuture<'a> {
        Box::pin(async move {
            // Header injection: an address or subject with a line break is refused.
            if to.contains(['\r', '\n']) || subject.contains(['\r', '\n']) {
                return Err(MailError("the recipient address is not valid".into()));
            }
            let id = crate::random_hex(8)
                .map_err(|_| MailError("the operating system gave no randomness".into()))?;
            let now = jiff::Timestamp::now();
            let name = format!("{}-{id}.eml", now.as_microsecond());
            let text = format!(
                "Date: {}\r\nTo: {to}\r\nSubject: {subject}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}",
                now.strftime("%a, %d %b %Y %H:%M:%S +0000"),
                body.replace('\n', "\r\n"),
            );
            let dir = self.dir.clone();
            // Written under a temporary name and renamed: a reader never sees half a mail.
            tokio::task::spawn_blocking(move || {
                let tmp = dir.join(format!(".{name}.tmp"));
                write_private(&tmp, text.as_bytes())?;
                std::fs::rename(&tmp, dir.join(&name))
            })
            .await
            .map_err(|_| MailError("the outbox could not be written".into()))?
            .map_err(|e| MailError(format!("the outbox could not be written: {}", e.kind())))
        })
    }
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
