//! The privacy center's sign-in codes, and their mails.
//!
//! A pending sign-in is a row found by the SHA-256 of its cookie, like a session. Its 8-digit
//! code is derived from the row's random salt with the server's HMAC key and checked against an
//! HMAC of it under the same key (both in [`crate::one_time_code`], with a request's codes);
//! the key is a file outside the database, so the row alone gives neither the cookie nor the
//! code. Each code tried uses up one attempt before it is checked, so parallel guesses gain
//! nothing.
//!
//! The row is also the mail's durable outbox: the request only writes it, the same way for an
//! address on file and one that is not (then no code opens the row and no mail goes), and the
//! mail leaves from a task started after the answer, or from the sweep in [`run`] when that
//! failed or the mail was delayed. The mail's text is rendered when it is sent, from the salt
//! and the person's address on file: nothing of it is stored.
//!
//! At most [`MailCeiling`] mails go to one address per window, counted when they are sent, so
//! the ceiling holds however many are asked for from however many clients: the others wait
//! for later windows (the newest first), and one whose code expires before its turn is never
//! sent. Each mail names its sign-in's reference, which the code page shows, so that a person
//! flooded with codes by strangers finds theirs.

use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};
use tutela_store::{SigninRecord, Store, StoreError, WebStore};

use crate::one_time_code::{self, Purpose};
use crate::requests::Requests;

/// How long an instance holds a mail it is sending before another may try again.
const MAIL_LEASE: SignedDuration = SignedDuration::from_secs(60);

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

/// The code mail's lines, German then English.
const CODE_FOR: [&str; 2] = [
    "Code für die Anmeldung mit der Referenz {reference}, angefordert um {time}. Verwenden Sie ihn nur, wenn Ihre Anmeldeseite diese Referenz zeigt.",
    "Code for the sign-in with reference {reference}, requested at {time}. Use it only if your sign-in page shows this reference.",
];
const CODE_VALID: [&str; 2] = [
    "Ihr Anmeldecode für das Datenschutz-Center ist {minutes} Minuten gültig.",
    "Your sign-in code for the privacy center is valid for {minutes} minutes.",
];

/// At most `per_window` sign-in code mails to one address in each `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MailCeiling {
    pub per_window: u32,
    pub window: std::time::Duration,
}

/// The letters of a reference: no digit (it is never mistaken for part of a code) and none
/// easily confused with another.
const REFERENCE_LETTERS: &[u8; 20] = b"ACDEFHJKLMNPRTUVWXYZ";

/// How long a mail copy stays in the outbox: as long as the code in it can be used.
fn outbox_keep(settings: &crate::requests::RequestSettings) -> SignedDuration {
    settings.code_validity
}

impl Requests {
    /// The reference of the pending sign-in stored as `id_hash`: four letters the code page
    /// shows and its mail names. Not a secret: derived from the row's hash with the server's
    /// key under a label of its own, it tells nothing of the cookie or the code.
    pub fn signin_reference(&self, id_hash: &str) -> Result<String, SigninError> {
        let mac = self
            .settings
            .hmac_key
            .mac(&[b"signin-reference", id_hash.as_bytes()])?;
        Ok(mac[..4]
            .iter()
            .map(|b| char::from(REFERENCE_LETTERS[usize::from(*b) % REFERENCE_LETTERS.len()]))
            .collect())
    }

    /// The reference of the pending sign-in with the cookie `pending`.
    pub fn pending_reference(&self, pending: &str) -> Result<String, SigninError> {
        self.signin_reference(&pending_hash(pending))
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
        let key = &self.settings.hmac_key;
        let code = one_time_code::derived(key, &salt)?;
        let purpose = Purpose::SignIn {
            id_hash: &id_hash,
            salt: &salt,
        };
        let record = SigninRecord {
            code_hash: one_time_code::hash(key, purpose, &code)?,
            id_hash: id_hash.clone(),
            mail_due: subject.is_some().then_some(mail_due),
            subject,
            salt,
            expires_at: one_time_code::expires_at(now, self.settings.code_validity),
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
        // Expiry and attempts were checked by the store as it counted this one.
        let purpose = Purpose::SignIn {
            id_hash: &id_hash,
            salt: &stored.salt,
        };
        if !one_time_code::matches(&self.settings.hmac_key, purpose, code, &stored.code_hash)? {
            return Ok(None);
        }
        let Some(subject) = stored.subject else {
            return Ok(None);
        };
        store.delete_signin(&id_hash).await?;
        Ok(Some(subject))
    }

    /// Sends the sign-in mails due at `now` (only `id_hash`'s, when given) that no other
    /// instance is sending, at most `ceiling` per address and window; returns how many left.
    /// A mail over the ceiling waits for the window's end, or is dropped when its code expires
    /// by then. A mail that fails stays due and is tried again when its claim lapses, until
    /// its code expires.
    pub async fn deliver_signin_mails(
        &self,
        id_hash: Option<&str>,
        now: Timestamp,
        ceiling: MailCeiling,
    ) -> Result<usize, SigninError> {
        let store = &self.engine.store;
        let lease = now.checked_add(MAIL_LEASE).unwrap_or(Timestamp::MAX);
        let window =
            SignedDuration::try_from(ceiling.window).unwrap_or(SignedDuration::from_mins(5));
        let mut mails = store.claim_signin_mails(id_hash, now, lease, 100).await?;
        // The newest first: when a window opens, a code just asked for goes before codes held
        // back from a flood, which a person waiting at their screen no longer needs.
        mails.sort_by_key(|m| std::cmp::Reverse(m.expires_at));
        let mut sent = 0;
        for mail in mails {
            // The address on file now: an erased person's is gone, and nothing is sent.
            let address = store.subject(&mail.subject).await?.and_then(|s| s.email);
            let Some(address) = address else {
                store.signin_mail_sent(&mail.id_hash).await?;
                continue;
            };
            // Counted before it is sent, atomically across instances: a failed send uses up
            // its place, so no window ever sees more than the ceiling.
            let counter = self.settings.hmac_key.mac_hex(&[
                b"rate-limit",
                b"code-mail-sent",
                address.trim().to_lowercase().as_bytes(),
            ])?;
            let count = store.count_hit(&counter, now, window).await?;
            if count.hits > i64::from(ceiling.per_window) {
                if count.window_end >= mail.expires_at {
                    // Its turn comes after its code expired: it is never sent.
                    store.signin_mail_sent(&mail.id_hash).await?;
                } else {
                    store
                        .signin_mail_later(&mail.id_hash, count.window_end)
                        .await?;
                }
                continue;
            }
            let body = self.signin_mail_text(&mail, now)?;
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

    /// The mail of a pending sign-in: its code, and the reference and time of the sign-in it
    /// belongs to, in German and English.
    fn signin_mail_text(
        &self,
        mail: &tutela_store::SigninMail,
        now: Timestamp,
    ) -> Result<String, SigninError> {
        let code = one_time_code::derived(&self.settings.hmac_key, &mail.salt)?;
        let minutes = (mail.expires_at.duration_since(now).as_secs() / 60).max(1);
        let reference = self.signin_reference(&mail.id_hash)?;
        // Asked for when the code's validity began, told in the operator's time zone.
        let asked = mail
            .expires_at
            .checked_sub(self.settings.code_validity)
            .unwrap_or(mail.expires_at)
            .to_zoned(self.settings.deadlines.time_zone.clone())
            .strftime("%H:%M %Z")
            .to_string();
        let line = |template: &str| {
            template
                .replace("{reference}", &reference)
                .replace("{time}", &asked)
                .replace("{minutes}", &minutes.to_string())
        };
        Ok(format!(
            "{}\n{}\n\n{}\n{}\n\nCode: {code}\n",
            line(CODE_FOR[0]),
            line(CODE_VALID[0]),
            line(CODE_FOR[1]),
            line(CODE_VALID[1]),
        ))
    }

    /// Removes outbox files whose codes can no longer be used.
    pub async fn remove_old_outbox_mails(&self, now: Timestamp) {
        let before = now
            .checked_sub(outbox_keep(&self.settings))
            .unwrap_or(Timestamp::MIN);
        if let Err(e) = self.mailer.remove_before(before).await {
            tracing::warn!(error = %e, "old outbox mails could not be removed");
        }
    }
}
