//! The privacy center's sign-in codes: eight digits mailed to the address on file, kept only as
//! a salted hash under the pending sign-in's id, valid for a while, locked after wrong tries.

use jiff::Timestamp;
use sha2::{Digest, Sha256};
use tutela_store::{CodeRecord, WebStore};

impl crate::requests::Requests {
    /// Sends a sign-in code to the person's address on file and keeps its salted hash under
    /// the pending sign-in's id.
    pub async fn send_signin_code(
        &self,
        pending: &str,
        subject: &str,
        email: &str,
        now: Timestamp,
    ) -> Result<(), String> {
        let mut draw = [0u8; 8];
        getrandom::fill(&mut draw).map_err(|e| e.to_string())?;
        let code = format!("{:08}", u64::from_le_bytes(draw) % 100_000_000);
        let salt = crate::random_hex(16).map_err(|e| e.to_string())?;
        let record = CodeRecord {
            code_hash: signin_hash(&salt, &code),
            salt,
            expires_at: now
                .checked_add(self.settings.code_validity)
                .unwrap_or(Timestamp::MAX),
            attempts: 0,
            locked: false,
        };
        self.engine
            .store
            .put_signin(pending, subject, &record)
            .await
            .map_err(|e| e.to_string())?;
        let minutes = self.settings.code_validity.as_secs() / 60;
        let body = format!(
            "Ihr Anmeldecode für das Datenschutz-Center ist {minutes} Minuten gültig.\n\
             Your sign-in code for the privacy center is valid for {minutes} minutes.\n\n\
             Code: {code}\n"
        );
        self.mailer
            .send(email, "Ihr Anmeldecode / Your sign-in code", &body)
            .await
            .map_err(|e| e.to_string())
    }

    /// The subject a right code signs in; `None` for a wrong, expired or locked code. A code
    /// works once; wrong codes count and lock it.
    pub async fn check_signin_code(
        &self,
        pending: &str,
        code: &str,
        now: Timestamp,
    ) -> Result<Option<String>, String> {
        let store = &self.engine.store;
        let Some((subject, mut stored)) = store.signin(pending).await.map_err(|e| e.to_string())?
        else {
            return Ok(None);
        };
        if stored.locked || now > stored.expires_at {
            return Ok(None);
        }
        let presented = signin_hash(&stored.salt, &code.replace(' ', ""));
        if !crate::same_secret(stored.code_hash.as_bytes(), presented.as_bytes()) {
            stored.attempts += 1;
            stored.locked = stored.attempts >= self.settings.code_attempts;
            store
                .put_signin(pending, &subject, &stored)
                .await
                .map_err(|e| e.to_string())?;
            return Ok(None);
        }
        store
            .delete_signin(pending)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Some(subject))
    }
}

fn signin_hash(salt: &str, code: &str) -> String {
    crate::hex(&Sha256::digest(format!("signin:{salt}:{code}").as_bytes()))
}
