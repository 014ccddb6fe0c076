//! The privacy center's sign-in codes, and their mails.
//!
//! A pending sign-in is a row found by the SHA-256 of its cookie, like a session. Its 8-digit
//! code is derived from the row's random salt with the server's HMAC key and checked against an
//! HMAC of it under the same key; the key is a file outside the database, so the row alone
//! gives neither the cookie nor the code. Each code tried uses up one attempt before it is
//! checked, so parallel guesses gain nothing.
//!
//! The row is also the mail's durable outbox: the request only writes it, the same way for an
//! address on file and one that is not (then no code opens the row and no mail goes), and the
//! mail leaves from a task started after the answer, or from the sweep in [`run`] when that
//! failed or the mail was delayed. The mail's text is rendered when it is sent, from the salt
//! and the person's address on file: nothing of it is stored.

use std::sync::Weak;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};
use tutela_store::{SigninRecord, Store, StoreError, WebStore};

use crate::requests::Requests;

/// How long an instance holds a mail it is sending before another may try again.
const MAIL_LEASE: SignedDuration = SignedDuration::from_secs(60);
/// How often the sweep looks for mails left behind.
const SWEEP_EVERY: Duration = Duration::from_secs(2);
/// How often expired sessions, sign-ins and rate-limit windows are removed.
const PURGE_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum SigninError {
    #[error("storage failed: {0}")]
    Storage(#[from] StoreError),
    #[error("{0}")]
    NoKey(#[from] crate::hmac_key::NoKey),
    #[error("the operating system gave no randomness")]
    NoRandomness,
}

/// The stored form of a pending sign-in's cookie.
pub(crate) fn pending_hash(pending: &str) -> String {
    crate::hex(&Sha256::digest(pending.as_bytes()))
}

impl Requests {
    /// The code of a pending sign-in, derived from its salt with the server's key.
    fn signin_code(&self, salt: &str) -> Result<String, SigninError> {
        let mac = self
            .settings
            .hmac_key
            .mac(&[b"signin-code", salt.as_bytes()])?;
        let mut draw = [0u8; 8];
        draw.copy_from_slice(&mac[..8]);
        Ok(format!("{:08}", u64::from_be_bytes(draw) % 100_000_000))
    }

    fn signin_check(&self, id_hash: &str, salt: &str, code: &str) -> Result<String, SigninError> {
        Ok(self.settings.hmac_key.mac_hex(&[
            b"signin-check",
            id_hash.as_bytes(),
            salt.as_bytes(),
            code.as_bytes(),
        ])?)
    }

    /// Stores the pending sign-in `pending` (the cookie's value) for `subject`, its mail due at
    /// `mail_due`; `None` when the address is not on file: the same row and work, no mail, and
    /// no code opens it. Returns the row's hash, to send its mail with.
    pub async fn start_signin(
        &self,
        pending: &str,
        subject: Option<String>,
        mail_due: Timestamp,
        now: Timestamp,
    ) -> Result<String, SigninError> {
        let id_hash = pending_hash(pending);
        let salt = crate::random_hex(16).map_err(|_| SigninError::NoRandomness)?;
        let code = self.signin_code(&salt)?;
        let record = SigninRecord {
            code_hash: self.signin_check(&id_hash, &salt, &code)?,
            id_hash: id_hash.clone(),
            mail_due: subject.is_some().then_some(mail_due),
            subject,
            salt,
            expires_at: now
                .checked_add(self.settings.code_validity)
                .unwrap_or(Timestamp::MAX),
            attempts: 0,
        };
        self.engine.store.put_signin(&record).await?;
        Ok(id_hash)
    }

    /// The subject a right code signs in; `None` for a wrong, expired or used-up code, or a
    /// pending sign-in of an address not on file. A code works once.
    pub async fn check_signin_code(
        &self,
        pending: &str,
        code: &str,
        now: Timestamp,
    ) -> Result<Option<String>, SigninError> {
        let store = &self.engine.store;
        let id_hash = pending_hash(pending);
        let Some(stored) = store
            .count_signin_attempt(&id_hash, self.settings.code_attempts, now)
            .await?
        else {
            return Ok(None);
        };
        let presented = self.signin_check(&id_hash, &stored.salt, &code.replace(' ', ""))?;
        if !crate::same_secret(stored.code_hash.as_bytes(), presented.as_bytes()) {
            return Ok(None);
        }
        let Some(subject) = stored.subject else {
            return Ok(None);
        };
        store.delete_signin(&id_hash).await?;
        Ok(Some(subject))
    }

    /// Sends the sign-in mails due at `now` (only `id_hash`'s, when given) that no other
    /// instance is sending; returns how many left. A mail that fails stays due and is tried
    /// again when its claim lapses, until its code expires.
    pub async fn deliver_signin_mails(
        &self,
        id_hash: Option<&str>,
        now: Timestamp,
    ) -> Result<usize, SigninError> {
        let store = &self.engine.store;
        let lease = now.checked_add(MAIL_LEASE).unwrap_or(Timestamp::MAX);
        let mut sent = 0;
        for mail in store.claim_signin_mails(id_hash, now, lease, 100).await? {
            // The address on file now: an erased person's is gone, and nothing is sent.
            let address = store.subject(&mail.subject).await?.and_then(|s| s.email);
            let Some(address) = address else {
                store.signin_mail_sent(&mail.id_hash).await?;
                continue;
            };
            let code = self.signin_code(&mail.salt)?;
            let minutes = (mail.expires_at.duration_since(now).as_secs() / 60).max(1);
            let body = format!(
                "Ihr Anmeldecode für das Datenschutz-Center ist {minutes} Minuten gültig.\n\
                 Your sign-in code for the privacy center is valid for {minutes} minutes.\n\n\
                 Code: {code}\n"
            );
            match self
                .mailer
                .send(&address, "Ihr Anmeldecode / Your sign-in code", &body)
                .await
            {
                Ok(()) => {
                    store.signin_mail_sent(&mail.id_hash).await?;
                    sent += 1;
                }
                // The error names no address; the mail is tried again.
                Err(e) => tracing::warn!(error = %e, "a sign-in mail was not sent; retrying"),
            }
        }
        Ok(sent)
    }
}

/// Sends sign-in mails left behind and removes expired sessions, sign-ins and rate-limit
/// windows, until the server stops.
pub(crate) async fn run(requests: Weak<Requests>) {
    let mut last_purge: Option<std::time::Instant> = None;
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        let Some(r) = requests.upgrade() else {
            return;
        };
        let now = Timestamp::now();
        if let Err(e) = r.deliver_signin_mails(None, now).await {
            tracing::warn!(error = %e, "sign-in mails could not be swept");
        }
        if last_purge.is_none_or(|t| t.elapsed() >= PURGE_EVERY) {
            last_purge = Some(std::time::Instant::now());
            if let Err(e) = r.engine.store.purge_web(now).await {
                tracing::warn!(error = %e, "expired sign-ins could not be removed");
            }
        }
    }
}
