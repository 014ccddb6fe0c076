//! Operator accounts of the console: roles, passwords (argon2id) and the second factor (TOTP).

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use jiff::Timestamp;
use tutela_core::render::Lang;
use tutela_store::{
    AnyStore, OperatorChange, OperatorChanged, OperatorRecord, StoreError, WebStore,
};

pub mod totp;
mod words;

/// What an operator may do; each console route requires one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// See requests, persons, the policy, reports and the record of processing.
    Read,
    /// Verify identities, extend, refuse, classify and retry requests.
    HandleRequests,
    /// See and manage operator accounts.
    Administer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The data-protection officer: everything.
    Dpo,
    /// Requests, identity checks, reviews.
    Agent,
    /// Read only: reports and verification.
    Auditor,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "dpo" => Some(Role::Dpo),
            "agent" => Some(Role::Agent),
            "auditor" => Some(Role::Auditor),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Dpo => "dpo",
            Role::Agent => "agent",
            Role::Auditor => "auditor",
        }
    }

    /// The role in the reader's words.
    pub fn label(self, lang: Lang) -> &'static str {
        let t = words::texts(lang);
        match self {
            Role::Dpo => t.role_dpo,
            Role::Agent => t.role_agent,
            Role::Auditor => t.role_auditor,
        }
    }

    pub fn may(self, p: Permission) -> bool {
        match self {
            Role::Dpo => true,
            Role::Agent => matches!(p, Permission::Read | Permission::HandleRequests),
            Role::Auditor => p == Permission::Read,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("the name must have 2 to 64 letters, digits, dots, dashes or underscores")]
    BadName,
    #[error("the password must have at least 12 characters")]
    WeakPassword,
    #[error("an operator with this name exists")]
    Taken,
    #[error("name, password or code is wrong")]
    Denied,
    #[error("the operating system gave no randomness")]
    NoRandomness,
    #[error("password hashing failed")]
    Hashing,
    /// Name and password are right, and the second factor was reset: the operator enrols a
    /// new one ([`enrol`]) before anything else.
    #[error("the second factor must be set up again")]
    MustEnrol { id: String, name: String },
    #[error("storage failed: {0}")]
    Storage(StoreError),
}

/// A new operator and what their authenticator app needs.
pub struct Created {
    pub operator: OperatorRecord,
    /// The TOTP secret in base32; shown once.
    pub totp_secret: String,
    /// `otpauth://totp/...`, for a QR code.
    pub otpauth_uri: String,
}

fn valid_name(name: &str) -> bool {
    (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

pub async fn create(
    store: &AnyStore,
    name: &str,
    role: Role,
    password: &str,
    now: Timestamp,
) -> Result<Created, OperatorError> {
    if !valid_name(name) {
        return Err(OperatorError::BadName);
    }
    if password.chars().count() < 12 {
        return Err(OperatorError::WeakPassword);
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| OperatorError::NoRandomness)?;
    let password_hash = Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|_| OperatorError::Hashing)?
        .to_string();
    let mut secret = [0u8; 20];
    getrandom::fill(&mut secret).map_err(|_| OperatorError::NoRandomness)?;
    let totp_secret = totp::base32(&secret);
    let operator = OperatorRecord {
        id: format!(
            "op_{}",
            crate::random_hex(8).map_err(|_| OperatorError::NoRandomness)?
        ),
        name: name.to_owned(),
        role: role.as_str().to_owned(),
        password_hash,
        totp_secret: totp_secret.clone(),
        totp_last_step: 0,
        created_at: now,
        disabled_at: None,
        removed_at: None,
    };
    store
        .insert_operator(&operator)
        .await
        .map_err(|e| match e {
            StoreError::Conflict => OperatorError::Taken,
            other => OperatorError::Storage(other),
        })?;
    let otpauth_uri = otpauth_uri(name, &totp_secret);
    Ok(Created {
        operator,
        totp_secret,
        otpauth_uri,
    })
}

/// Checks name, password and TOTP code; a code is accepted once. Every failure is the same
/// `Denied`, so the answer does not tell which part was wrong.
pub async fn authenticate(
    store: &AnyStore,
    name: &str,
    password: &str,
    code: &str,
    now: Timestamp,
) -> Result<(OperatorRecord, Role), OperatorError> {
    let found = store
        .operator_by_name(name)
        .await
        .map_err(OperatorError::Storage)?;
    let Some(op) = found else {
        // The same work as for a real account, so timing does not reveal names.
        let _ = Argon2::default().verify_password(password.as_bytes(), DUMMY_HASH);
        return Err(OperatorError::Denied);
    };
    let password_ok = Argon2::default()
        .verify_password(password.as_bytes(), op.password_hash.as_str())
        .is_ok();
    let role = Role::parse(&op.role);
    let usable = op.disabled_at.is_none() && op.removed_at.is_none();
    if password_ok && role.is_some() && usable && op.totp_secret.is_empty() {
        return Err(OperatorError::MustEnrol {
            id: op.id,
            name: op.name,
        });
    }
    // A secret that does not decode (or is empty) accepts no code: an empty HMAC key would give
    // codes anyone can compute.
    let step = totp::base32_decode(&op.totp_secret)
        .filter(|key| !key.is_empty())
        .and_then(|key| totp::verify(&key, code, now.as_second()));
    match (password_ok, role, step, usable) {
        (true, Some(role), Some(step), true) => {
            store
                .advance_totp_step(&op.id, step)
                .await
                .map_err(|e| match e {
                    StoreError::Conflict => OperatorError::Denied,
                    other => OperatorError::Storage(other),
                })?;
            Ok((op, role))
        }
        _ => Err(OperatorError::Denied),
    }
}

/// A new second factor for an operator whose secret was reset: stored at once (the operator
/// proved their password), shown once, and used at the sign-in that follows.
pub async fn enrol(
    store: &AnyStore,
    id: &str,
    name: &str,
    now: Timestamp,
) -> Result<(String, String), OperatorError> {
    let mut secret = [0u8; 20];
    getrandom::fill(&mut secret).map_err(|_| OperatorError::NoRandomness)?;
    let totp_secret = totp::base32(&secret);
    store
        .enrol_totp(id, &totp_secret, now)
        .await
        .map_err(|e| match e {
            // Enrolled meanwhile (another tab): sign in with that app entry.
            StoreError::Conflict => OperatorError::Denied,
            other => OperatorError::Storage(other),
        })?;
    let uri = otpauth_uri(name, &totp_secret);
    Ok((totp_secret, uri))
}

fn otpauth_uri(name: &str, secret: &str) -> String {
    format!("otpauth://totp/tutela:{name}?secret={secret}&issuer=tutela&digits=6&period=30")
}

/// What an offboarding step came to, in words for the person who asked for it.
pub fn change_outcome(
    outcome: OperatorChanged,
    change: OperatorChange,
    name: &str,
    lang: Lang,
) -> String {
    let t = words::texts(lang);
    let text = match (outcome, change) {
        (OperatorChanged::Done, OperatorChange::Disable) => t.op_done_disable,
        (OperatorChanged::Done, OperatorChange::Enable) => t.op_done_enable,
        (OperatorChanged::Done, OperatorChange::Remove) => t.op_done_remove,
        (OperatorChanged::Done, OperatorChange::ResetTotp) => t.op_done_reset_totp,
        (OperatorChanged::Unchanged, _) => t.op_unchanged,
        (OperatorChanged::NotFound, _) => t.op_not_found,
        (OperatorChanged::Removed, _) => t.op_already_removed,
        (OperatorChanged::LastDpo, _) => t.op_last_dpo,
    };
    text.replace("{name}", name)
}

/// Names the actors of the audit trail and the request events for a person to read: an
/// operator by their name (a removed operator's name is kept, see [`OperatorRecord`]),
/// tutela's own steps as tutela, and an operator id no longer on file as a removed user.
pub struct ActorNames {
    names: std::collections::HashMap<String, String>,
}

impl ActorNames {
    pub async fn load(store: &AnyStore) -> Result<ActorNames, StoreError> {
        Ok(ActorNames {
            names: store.operator_names().await?.into_iter().collect(),
        })
    }

    /// `actor` as stored: `operator:op_…`, a bare operator id, `worker`, `policy`, `api`,
    /// `system`, `serve`, `cli` or `cli:` with what the command was told.
    pub fn name(&self, actor: &str, lang: Lang) -> String {
        let t = words::texts(lang);
        let id = actor.strip_prefix("operator:").unwrap_or(actor);
        if let Some(name) = self.names.get(id) {
            return name.clone();
        }
        match actor {
            "worker" | "policy" | "api" | "system" | "serve" => t.actor_automatic.to_owned(),
            _ if actor == "cli" || actor.starts_with("cli:") => t.actor_cli.to_owned(),
            _ if actor.starts_with("operator:") || actor.starts_with("op_") => {
                t.actor_removed.to_owned()
            }
            other => other.to_owned(),
        }
    }
}

/// An argon2id hash of a random password, for unknown names.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$dHV0ZWxhLWR1bW15LXNhbHQ$3kE2pIEOaG3Dq5+Bz0ZFv3yKZr7Tn2qXq0rW2l6h0Yk";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_what_the_issue_names() {
        assert!(Role::Dpo.may(Permission::Administer));
        assert!(Role::Agent.may(Permission::HandleRequests));
        assert!(!Role::Agent.may(Permission::Administer));
        assert!(Role::Auditor.may(Permission::Read));
        assert!(!Role::Auditor.may(Permission::HandleRequests));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn actors_are_named_in_words() {
        let names = ActorNames {
            names: [("op_fe5c".to_owned(), "erika".to_owned())].into(),
        };
        assert_eq!(names.name("operator:op_fe5c", Lang::De), "erika");
        assert_eq!(names.name("op_fe5c", Lang::En), "erika");
        assert_eq!(
            names.name("operator:op_gone", Lang::De),
            "ein gelöschter Benutzer"
        );
        assert_eq!(names.name("operator:op_gone", Lang::En), "a removed user");
        assert_eq!(names.name("worker", Lang::De), "tutela (automatisch)");
        assert_eq!(names.name("policy", Lang::En), "tutela (automatic)");
        assert_eq!(names.name("cli:dpo", Lang::En), "tutela (command line)");
    }

    #[test]
    fn names_are_plain() {
        assert!(valid_name("erika.m"));
        assert!(!valid_name("a"));
        assert!(!valid_name("erika m"));
    }
}
