//! Operator accounts of the console: roles, passwords (argon2id) and the second factor (TOTP).

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use jiff::Timestamp;
use tutela_store::{AnyStore, OperatorRecord, StoreError, WebStore};

use super::totp;

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
    };
    store
        .insert_operator(&operator)
        .await
        .map_err(|e| match e {
            StoreError::Conflict => OperatorError::Taken,
            other => OperatorError::Storage(other),
        })?;
    let otpauth_uri = format!(
        "otpauth://totp/tutela:{name}?secret={totp_secret}&issuer=tutela&digits=6&period=30"
    );
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
    // A secret that does not decode (or is empty) accepts no code: an empty HMAC key would give
    // codes anyone can compute.
    let step = totp::base32_decode(&op.totp_secret)
        .filter(|key| !key.is_empty())
        .and_then(|key| totp::verify(&key, code, now.as_second()));
    match (password_ok, role, step, op.disabled_at) {
        (true, Some(role), Some(step), None) => {
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
    fn names_are_plain() {
        assert!(valid_name("erika.m"));
        assert!(!valid_name("a"));
        assert!(!valid_name("erika m"));
    }
}
