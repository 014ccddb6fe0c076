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

    /// The key that names a kept copy's recipient (the server's HMAC key). Only a mailer that
    /// keeps copies, the [`DirMailer`], needs it.
    fn use_key(&self, _key: &crate::hmac_key::HmacKey) {}

    /// Removes every kept copy of a mail to `to` (the person was erased). A mail server keeps
    /// nothing of tutela's: nothing to do.
    fn forget<'a>(&'a self, _to: &'a str) -> MailFuture<'a> {
        Box::pin(async { Ok(()) })
    }

    /// Removes every kept copy written before `before`: its code can no longer be used.
    fn remove_before(&self, _before: jiff::Timestamp) -> MailFuture<'_> {
        Box::pin(async { Ok(()) })
    }
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
///
/// A file is named `<microseconds>-<recipient tag>-<random>.eml`: the time it was written, so
/// that the sweep removes it once its code is of no use without reading it, and a keyed hash
/// of the recipient (under the server's HMAC key, see [`Mailer::use_key`]), so that an erasure
/// finds the person's mails without reading any file and a listing names no address.
pub struct DirMailer {
    dir: std::path::PathBuf,
    /// Random for this mailer until the server's key is given: tags then do not outlive it.
    key: std::sync::RwLock<crate::hmac_key::HmacKey>,
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
        Ok(DirMailer {
            dir,
            key: std::sync::RwLock::new(crate::hmac_key::HmacKey::default()),
        })
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The recipient's tag in file names: 16 hex digits of an HMAC of the address.
    pub fn recipient_tag(&self, to: &str) -> Result<String, MailError> {
        let key = match self.key.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let mac = key
            .mac_hex(&[b"outbox-recipient", to.trim().to_lowercase().as_bytes()])
            .map_err(|e| MailError(e.to_string()))?;
        Ok(mac.chars().take(16).collect())
    }

    /// Removes the outbox's mail files (and half-written ones) that `doomed` picks by the
    /// time in their name and their recipient tag; other files are left alone.
    async fn remove_where(
        &self,
        doomed: impl Fn(i64, Option<&str>) -> bool + Send + 'static,
    ) -> Result<(), MailError> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let name = entry.file_name();
                let Some(name) = name.to_str() else {
                    continue;
                };
                let Some((written, tag)) = outbox_name(name) else {
                    continue;
                };
                if doomed(written, tag) {
                    match std::fs::remove_file(entry.path()) {
                        // Another instance sharing the directory removed it first.
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        other => other?,
                    }
                }
            }
            Ok(())
        })
        .await
        .map_err(|_| MailError("the outbox could not be cleaned".into()))?
        .map_err(|e| MailError(format!("the outbox could not be cleaned: {}", e.kind())))
    }
}

/// The time (microseconds) and recipient tag in an outbox file's name: `<us>-<tag>-<id>.eml`,
/// or `<us>-<id>.eml` as written before tags (no tag), either possibly as `.<name>.tmp` while
/// being written. `None` for any other file.
fn outbox_name(name: &str) -> Option<(i64, Option<&str>)> {
    let stem = name
        .strip_suffix(".eml")
        .or_else(|| name.strip_prefix('.')?.strip_suffix(".eml.tmp"))?;
    let mut parts = stem.split('-');
    let written = parts.next()?.parse::<i64>().ok()?;
    let (first, second) = (parts.next()?, parts.next());
    if parts.next().is_some() {
        return None;
    }
    Some((written, second.map(|_| first)))
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
            let tag = self.recipient_tag(to)?;
            let now = jiff::Timestamp::now();
            let name = format!("{}-{tag}-{id}.eml", now.as_microsecond());
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

    fn use_key(&self, key: &crate::hmac_key::HmacKey) {
        match self.key.write() {
            Ok(mut k) => *k = key.clone(),
            Err(poisoned) => *poisoned.into_inner() = key.clone(),
        }
    }

    fn forget<'a>(&'a self, to: &'a str) -> MailFuture<'a> {
        Box::pin(async move {
            let tag = self.recipient_tag(to)?;
            self.remove_where(move |_, t| t == Some(tag.as_str())).await
        })
    }

    fn remove_before(&self, before: jiff::Timestamp) -> MailFuture<'_> {
        Box::pin(async move {
            let before = before.as_microsecond();
            self.remove_where(move |written, _| written < before).await
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
