//! Data subject requests: intake, identity verification, the lifecycle, and (in [`worker`])
//! their fulfilment. The rules of the lifecycle and the deadlines are the core's
//! ([`tutela_core::request`]); this module keeps them durable and talks to the person.
//!
//! Nothing is released or changed for a requester whose identity was not verified: a one-time
//! code sent to the e-mail address on file (stored only as a hash keyed by a server secret,
//! valid for a limited time, locked after a number of wrong attempts), or an agent's check with
//! a recorded note.

pub mod details;
pub mod export;
pub mod kept;
pub mod linked;
pub mod mailer;
pub mod notify;
pub mod review;
pub mod words;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use tutela_core::request::{
    DeadlineRules, RequestState, RequestType, Status, StepStatus, Transition, TransitionError,
    Verification,
};
use tutela_store::{
    CodeRecord, RequestEventNew, RequestRecord, RequestStore, StepRecord, Store, StoreError,
};

pub use details::RequestDetails;

use crate::engine::Engine;
use crate::one_time_code;
use mailer::Mailer;

/// Settings of the request workflow; the defaults are the law's and the issue's.
#[derive(Clone, Debug)]
pub struct RequestSettings {
    pub deadlines: DeadlineRules,
    /// How long a one-time code is valid.
    pub code_validity: SignedDuration,
    /// Wrong codes before the code is locked.
    pub code_attempts: i64,
    /// How long a report or export is kept after it was produced.
    pub result_retention: SignedDuration,
    /// How long the personal parts of a finished request are kept.
    pub request_retention: SignedDuration,
    /// How often the worker looks for work when nothing wakes it, and runs its housekeeping
    /// (purges, expiries, retention sweeps).
    pub worker_interval: Duration,
    /// Whether the worker is woken at once when a request becomes workable (verified,
    /// classified, failed steps retried), here or, on PostgreSQL, on another instance; off,
    /// it only looks every `worker_interval` (tests that drive the worker tick by tick).
    pub worker_wake: bool,
    /// How many requests the worker runs side by side.
    pub worker_concurrency: usize,
    /// Where people reach tutela's privacy center (links in mails and objection notices).
    pub public_url: String,
    /// The first wait before a failed step is tried again; it doubles up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// The directories pseudonymised datasets may be registered in: the worker deletes
    /// registered files when their retention ends, so it must never reach anything else.
    pub pseudonymised_dirs: crate::dataset_files::DatasetDirs,
    /// When retention sweeps of the operator's databases run, and how they hold locks.
    pub retention: crate::retention::SweepSettings,
    /// Keys the hashes of one-time codes (and the pages' sign-in codes and rate limits): a
    /// secret outside the database. The default is random for this process only.
    pub hmac_key: crate::hmac_key::HmacKey,
    /// Four-eyes: the agent who verified a request's identity cannot approve its plan.
    pub four_eyes: bool,
}

impl Default for RequestSettings {
    fn default() -> Self {
        RequestSettings {
            deadlines: DeadlineRules {
                time_zone: jiff::tz::TimeZone::get("Europe/Berlin")
                    .unwrap_or(jiff::tz::TimeZone::UTC),
                ..DeadlineRules::default()
            },
            code_validity: SignedDuration::from_mins(15),
            code_attempts: 5,
            // Exact durations: a timestamp has no calendar, so "30 days" is 720 hours.
            result_retention: SignedDuration::from_hours(30 * 24),
            request_retention: SignedDuration::from_hours(30 * 24),
            worker_interval: Duration::from_secs(1),
            worker_wake: true,
            worker_concurrency: 16,
            public_url: "http://127.0.0.1:8080".into(),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(600),
            pseudonymised_dirs: crate::dataset_files::DatasetDirs::none(),
            retention: crate::retention::SweepSettings::default(),
            hmac_key: crate::hmac_key::HmacKey::default(),
            four_eyes: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("no request with this id")]
    NotFound,
    #[error("{0}")]
    Transition(#[from] TransitionError),
    #[error("the code is wrong; {left} attempts left")]
    CodeInvalid { left: i64 },
    #[error("the code has expired")]
    CodeExpired,
    #[error("too many wrong codes; the code is locked and an agent must verify the identity")]
    CodeLocked,
    #[error("no code was sent for this request")]
    NoCode,
    #[error("the request was changed at the same time; read it again and retry")]
    Conflict,
    #[error("the requester's identity is not verified")]
    NotVerified,
    #[error("the result is not ready")]
    NotReady,
    #[error(
        "the result was deleted at the end of its retention period, or there is none in this format"
    )]
    Gone,
    #[error("the result was destroyed when the person was erased")]
    Erased,
    #[error("storage failed: {0}")]
    Storage(String),
    /// The request found a person (or several) but does not name one: an agent must name the
    /// person the identity check was about.
    #[error("the request names no person; name the person found (the subject id)")]
    SubjectRequired { candidates: usize },
    /// The named person is neither one the request's identifiers found nor anyone tutela or
    /// the operator's databases know.
    #[error("the named person is not one the request found, nor anyone known")]
    SubjectUnknown,
    /// The request's identifiers found persons, and the one named is not among them: a typo
    /// would erase someone who never asked.
    #[error("the named person is not one of the persons the request's identifiers found")]
    NotACandidate { candidates: usize },
    /// Four-eyes is on and the approving agent is the one who verified the identity.
    #[error("the agent who verified the request cannot also approve its plan (four-eyes)")]
    FourEyes,
    /// An agent named with one of tutela's own actor names (`policy`, `worker`, …).
    #[error(
        "`policy`, `worker`, `system`, `api`, `cli` and `tutela` are tutela's own names, not an agent's"
    )]
    AgentReserved,
    /// Four-eyes is on and the approver is not an operator tutela knows.
    #[error("with four-eyes on, the approver must be an operator of tutela")]
    AgentUnknown,
    /// The plans differ from those the agent was shown (planned again meanwhile).
    #[error("the plan changed since it was shown; review it again")]
    PlanChanged,
    /// A dataset could not be asked who the request is about: nothing is decided on a partial
    /// answer.
    #[error("the person could not be looked up in every dataset: {0}")]
    Unresolved(String),
}

impl From<StoreError> for RequestError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => RequestError::Conflict,
            other => RequestError::Storage(other.to_string()),
        }
    }
}

/// A new request as it comes in.
#[derive(Clone, Debug)]
pub struct NewRequest {
    pub request_type: RequestType,
    pub subject: Option<String>,
    pub email: Option<String>,
    /// The request in the person's words and its parameters, parsed where it came in.
    pub details: Option<RequestDetails>,
    /// `api`, `email`, `privacy_center`, `letter`, `phone`.
    pub channel: String,
    /// When it reached the operator, if earlier than its filing; the deadline runs from then.
    pub received_at: Option<Timestamp>,
}

pub struct Requests {
    pub engine: Arc<Engine>,
    pub settings: RequestSettings,
    pub(crate) mailer: Arc<dyn Mailer>,
    /// The operator's databases, one connector per dataset map.
    pub connectors: Vec<Arc<tutela_connectors::Connector>>,
    /// Who is told of rectification, erasure and restriction (Art. 19).
    pub notifier: notify::Notifier,
    /// Requests a worker tick of this process is running now.
    pub(crate) in_flight: std::sync::Mutex<std::collections::HashSet<String>>,
    /// This process's name in leases (retention sweeps).
    pub(crate) owner: String,
    /// Wakes this process's worker when a request becomes workable, so that it does not wait
    /// for its next look.
    pub(crate) wake: Arc<tokio::sync::Notify>,
    /// The identifiers linked to persons in tutela's own ledger, for resolution.
    pub(crate) linked: linked::LinkedIdentifiers,
}

impl Drop for Requests {
    /// Wakes the worker so that it sees the service gone and ends, rather than at its next look.
    fn drop(&mut self) {
        self.wake.notify_one();
    }
}

/// Where requests are fulfilled beyond tutela's own records.
#[derive(Default)]
pub struct Fulfilment {
    pub connectors: Vec<Arc<tutela_connectors::Connector>>,
    pub notifier: notify::Notifier,
}

/// The server's key is missing: no code can be made or checked.
fn no_key(e: crate::hmac_key::NoKey) -> RequestError {
    RequestError::Storage(e.to_string())
}

fn no_randomness(_: getrandom::Error) -> RequestError {
    RequestError::Storage("the operating system gave no randomness".into())
}

/// The request's type; `None` for a stored name this version does not know.
pub fn request_type(r: &RequestRecord) -> Option<RequestType> {
    RequestType::parse(&r.request_type)
}

pub fn state_of(r: &RequestRecord) -> Option<RequestState> {
    Some(RequestState {
        request_type: RequestType::parse(&r.request_type)?,
        status: r.status,
        received_at: r.received_at,
        due_at: r.due_at,
        extended_months: u8::try_from(r.extended_months).ok()?,
        verification: match r.verification.as_deref() {
            Some("code") => Some(Verification::Code),
            Some("agent") => Some(Verification::Agent),
            _ => None,
        },
    })
}

/// Who changes a request, why and when: what a transition records beside its state.
pub(crate) struct Change<'a> {
    pub actor: &'a str,
    pub note: Option<String>,
    pub body: serde_json::Value,
    pub now: Timestamp,
}

impl Requests {
    pub fn new(
        engine: Arc<Engine>,
        settings: RequestSettings,
        mailer: Arc<dyn Mailer>,
        fulfilment: Fulfilment,
    ) -> Self {
        Requests {
            settings,
            mailer,
            connectors: fulfilment.connectors,
            notifier: fulfilment.notifier,
            in_flight: std::sync::Mutex::default(),
            wake: Arc::default(),
            linked: linked::LinkedIdentifiers::default(),
            owner: engine.instance.clone(),
            engine,
        }
    }

    /// The pseudonymisation keys: with them, a request's IMSI, ICCID, MSISDN or IMEI also
    /// finds the person the ledger links it to (`POST /v1/subjects/{id}/identifiers`).
    pub fn use_pseudonyms(&self, keys: Arc<tutela_core::pseudonym::PseudonymKeys>) {
        self.linked.use_keys(keys);
    }

    fn store(&self) -> &tutela_store::AnyStore {
        &self.engine.store
    }

    /// Files a request and starts the identity check: a code to the address on file when
    /// there is one, otherwise the request waits for an agent.
    pub async fn create(
        &self,
        new: NewRequest,
        actor: &str,
        idempotency_key: Option<&str>,
        now: Timestamp,
    ) -> Result<(RequestRecord, bool), RequestError> {
        let (record, duplicate) = self.insert_new(&new, actor, idempotency_key, now).await?;
        if duplicate {
            return Ok((record, true));
        }
        let record = self.start_verification(record, now).await?;
        Ok((record, false))
    }

    /// Stores a new request in its first status with its `received` event; `true` when the
    /// idempotency key named one stored before.
    async fn insert_new(
        &self,
        new: &NewRequest,
        actor: &str,
        idempotency_key: Option<&str>,
        now: Timestamp,
    ) -> Result<(RequestRecord, bool), RequestError> {
        let id = format!("req_{}", crate::random_hex(12).map_err(no_randomness)?);
        let received_at = new.received_at.unwrap_or(now).min(now);
        let state = RequestState::new(new.request_type, received_at, &self.settings.deadlines);
        let record = RequestRecord {
            id,
            request_type: new.request_type.as_str().to_owned(),
            status: state.status,
            subject: new.subject.clone(),
            email: new.email.clone(),
            channel: new.channel.clone(),
            received_at,
            due_at: state.due_at,
            extended_months: 0,
            verification: None,
            details: new
                .details
                .as_ref()
                .map(RequestDetails::to_stored)
                .transpose()
                .map_err(|e| RequestError::Storage(e.to_string()))?,
            version: 1,
            updated_at: now,
            purge_at: None,
        };
        let event = RequestEventNew {
            at: now,
            actor: actor.to_owned(),
            kind: "received".into(),
            body: json!({"type": record.request_type, "channel": record.channel}).to_string(),
            note: None,
        };
        Ok(self
            .store()
            .insert_request(&record, &event, idempotency_key)
            .await?)
    }

    /// Files a request for a person signed in to the privacy center: the sign-in already
    /// proved control of the address on file with a one-time code, so the request is verified
    /// as it is filed.
    pub async fn create_signed_in(
        &self,
        mut new: NewRequest,
        subject: &str,
        now: Timestamp,
    ) -> Result<RequestRecord, RequestError> {
        new.subject = Some(subject.to_owned());
        new.email = None;
        new.channel = "privacy_center".into();
        new.received_at = None;
        let (record, _) = self.insert_new(&new, "requester", None, now).await?;
        let record = self
            .transition(
                record,
                Transition::AwaitVerification,
                "system",
                None,
                json!({"method": "session"}),
                now,
                |_| {},
            )
            .await?;
        self.transition(
            record,
            Transition::Verify(Verification::Code),
            "requester",
            None,
            json!({"method": "privacy_center_session"}),
            now,
            |_| {},
        )
        .await
    }

    /// The address a code may go to: the one on file for the person, never one the requester
    /// merely typed in.
    async fn address_on_file(
        &self,
        r: &RequestRecord,
    ) -> Result<Option<(String, String)>, RequestError> {
        if let Some(subject) = &r.subject {
            let record = self.store().subject(subject).await?;
            return Ok(record
                .and_then(|s| s.email)
                .map(|email| (subject.clone(), email)));
        }
        if let Some(email) = &r.email
            && let Some(subject) = self.store().subject_by_email(email).await?
        {
            return Ok(Some((subject, email.clone())));
        }
        Ok(None)
    }

    async fn start_verification(
        &self,
        mut r: RequestRecord,
        now: Timestamp,
    ) -> Result<RequestRecord, RequestError> {
        // Who the request is about, through every identifier it carries, before anyone
        // verifies it: the agent sees the candidates (never the requester).
        let resolution = self.resolve(&r).await?;
        let target = self.address_on_file(&r).await?;
        let mut method = "agent";
        if let Some((subject, email)) = &target {
            // The person the address on file belongs to; still unverified.
            r.subject = Some(subject.clone());
            let code = one_time_code::random().map_err(no_randomness)?;
            let salt = crate::random_hex(16).map_err(no_randomness)?;
            let purpose = one_time_code::Purpose::Request { salt: &salt };
            let code_hash =
                one_time_code::hash(&self.settings.hmac_key, purpose, &code).map_err(no_key)?;
            self.store()
                .put_code(
                    &r.id,
                    &CodeRecord {
                        salt: salt.clone(),
                        code_hash,
                        expires_at: one_time_code::expires_at(now, self.settings.code_validity),
                        attempts: 0,
                        locked: false,
                    },
                )
                .await?;
            let minutes = self.settings.code_validity.as_secs() / 60;
            let body = format!(
                "Ihr Bestätigungscode für Ihre Datenschutzanfrage ({t}) ist {minutes} Minuten gültig.\n\
                 Your confirmation code for your privacy request ({t}) is valid for {minutes} minutes.\n\n\
                 Code: {code}\n",
                t = r.request_type,
            );
            match self
                .mailer
                .send(
                    email,
                    "Ihr Bestätigungscode / Your confirmation code",
                    &body,
                )
                .await
            {
                Ok(()) => method = "code",
                Err(e) => {
                    tracing::warn!(request = %r.id, error = %e, "code not sent; the request waits for an agent");
                    self.store().delete_code(&r.id).await?;
                }
            }
        }
        // The candidates' ids are personal data: kept in the transition's note (sealed, purged
        // with the request), the body only counts them.
        let note = (!resolution.candidates.is_empty())
            .then(|| serde_json::to_string(&resolution.candidates).ok())
            .flatten();
        self.transition(
            r,
            Transition::AwaitVerification,
            "system",
            note,
            json!({
                "method": method,
                "candidates": resolution.candidates.len(),
                "unnamed": resolution.unnamed,
                "unavailable": resolution.unavailable,
            }),
            now,
            |_| {},
        )
        .await
    }

    /// Applies `t` through the core's state machine and records it with who and when.
    #[allow(
        clippy::too_many_arguments,
        reason = "one place that records every transition"
    )]
    pub(crate) async fn transition(
        &self,
        r: RequestRecord,
        t: Transition,
        actor: &str,
        note: Option<String>,
        body: serde_json::Value,
        now: Timestamp,
        also: impl FnOnce(&mut RequestRecord),
    ) -> Result<RequestRecord, RequestError> {
        let change = Change {
            actor,
            note,
            body,
            now,
        };
        self.transition_with_steps(r, t, change, &[], also).await
    }

    /// [`Self::transition`] with step records written in the same transaction: the worker's
    /// planned steps with the start, its last step with the completion (one commit each).
    pub(crate) async fn transition_with_steps(
        &self,
        mut r: RequestRecord,
        t: Transition,
        change: Change<'_>,
        steps: &[StepRecord],
        also: impl FnOnce(&mut RequestRecord),
    ) -> Result<RequestRecord, RequestError> {
        let Change {
            actor,
            note,
            mut body,
            now,
        } = change;
        let state =
            state_of(&r).ok_or_else(|| RequestError::Storage("unreadable request row".into()))?;
        let next = state.apply(&t, now, &self.settings.deadlines)?;
        r.request_type = next.request_type.as_str().to_owned();
        r.status = next.status;
        r.due_at = next.due_at;
        r.extended_months = i64::from(next.extended_months);
        r.verification = next.verification.map(|v| v.as_str().to_owned());
        r.version += 1;
        r.updated_at = now;
        if next.status.is_final() {
            r.purge_at = now.checked_add(self.settings.request_retention).ok();
        }
        also(&mut r);
        if let Some(map) = body.as_object_mut() {
            map.insert("status".into(), json!(r.status.as_str()));
            map.insert("due_at".into(), json!(r.due_at.to_string()));
        }
        let event = RequestEventNew {
            at: now,
            actor: actor.to_owned(),
            kind: t.name().to_owned(),
            body: body.to_string(),
            note,
        };
        self.store()
            .update_request_with_steps(&r, &event, steps)
            .await?;
        if r.status == Status::Verified {
            self.wake_worker().await;
        }
        Ok(r)
    }

    /// Tells the worker, this process's and (through the store's notices) every other
    /// instance's, that a request has work due now. A lost notice costs only time: the worker
    /// still looks every `worker_interval`.
    pub(crate) async fn wake_worker(&self) {
        self.wake.notify_one();
        if let Err(e) = self.store().notify_requests().await {
            tracing::warn!(error = %e, "the notice to other instances' workers failed; they find the request at their next look");
        }
    }

    /// Makes the failed steps of a request due now (an agent's retry after fixing a connector);
    /// recorded with who asked. Returns how many steps were reset.
    pub async fn retry_failed(
        &self,
        id: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<usize, RequestError> {
        let mut r = self.get(id).await?;
        let mut reset = 0;
        for mut step in self.store().steps(id).await? {
            if step.status == StepStatus::Failed {
                step.next_at = None;
                self.store().put_step(id, &step).await?;
                reset += 1;
            }
        }
        r.version += 1;
        r.updated_at = now;
        let event = RequestEventNew {
            at: now,
            actor: actor.to_owned(),
            kind: "retry_requested".into(),
            body: json!({"steps": reset, "status": r.status.as_str()}).to_string(),
            note: None,
        };
        self.store().update_request(&r, &event).await?;
        if reset > 0 {
            self.wake_worker().await;
        }
        Ok(reset)
    }

    pub async fn get(&self, id: &str) -> Result<RequestRecord, RequestError> {
        self.store()
            .request(id)
            .await?
            .ok_or(RequestError::NotFound)
    }

    /// Checks a one-time code; the right one verifies the request.
    pub async fn verify_code(
        &self,
        id: &str,
        code: &str,
        now: Timestamp,
    ) -> Result<RequestRecord, RequestError> {
        let r = self.get(id).await?;
        let max = self.settings.code_attempts;
        // The attempt is counted before the code is checked, in one statement: guesses sent
        // at once cannot each read the same count and all get a try.
        let Some(counted) = self.store().count_code_attempt(id, max, now).await? else {
            // No try left: say why.
            let stored = self.store().code(id).await?.ok_or(RequestError::NoCode)?;
            let used_up = stored.locked || stored.attempts >= max;
            if !used_up && one_time_code::expired(stored.expires_at, now) {
                return Err(RequestError::CodeExpired);
            }
            return Err(RequestError::CodeLocked);
        };
        let purpose = one_time_code::Purpose::Request {
            salt: &counted.salt,
        };
        let right =
            one_time_code::matches(&self.settings.hmac_key, purpose, code, &counted.code_hash)
                .map_err(no_key)?;
        if !right {
            if counted.locked {
                return Err(RequestError::CodeLocked);
            }
            return Err(RequestError::CodeInvalid {
                left: max - counted.attempts,
            });
        }
        let r = self
            .transition(
                r,
                Transition::Verify(Verification::Code),
                "requester",
                None,
                json!({"method": "code"}),
                now,
                |_| {},
            )
            .await?;
        self.store().delete_code(id).await?;
        Ok(r)
    }

    /// An agent confirms the identity (letter, phone) and records how; the agent may name the
    /// person when the request did not.
    pub async fn verify_by_agent(
        &self,
        id: &str,
        note: String,
        subject: Option<String>,
        agent: &str,
        now: Timestamp,
    ) -> Result<RequestRecord, RequestError> {
        if note.trim().is_empty() {
            return Err(TransitionError::ReasonMissing.into());
        }
        if review::is_reserved(agent) {
            return Err(RequestError::AgentReserved);
        }
        let r = self.get(id).await?;
        self.check_named_subject(&r, subject.as_deref()).await?;
        let r = self
            .transition(
                r,
                Transition::Verify(Verification::Agent),
                agent,
                Some(note),
                json!({"method": "agent"}),
                now,
                |r| {
                    if subject.is_some() {
                        r.subject = subject;
                    }
                },
            )
            .await?;
        self.store().delete_code(id).await?;
        Ok(r)
    }

    /// Extends the deadline (Art. 12(3)) and tells the person why, by e-mail to the address on
    /// file; whether that worked is recorded.
    pub async fn extend(
        &self,
        id: &str,
        months: u8,
        reason: String,
        actor: &str,
        now: Timestamp,
    ) -> Result<RequestRecord, RequestError> {
        let r = self.get(id).await?;
        let r = self
            .transition(
                r,
                Transition::Extend {
                    months,
                    reason: reason.clone(),
                },
                actor,
                Some(reason.clone()),
                json!({"months": months}),
                now,
                |_| {},
            )
            .await?;
        let text = format!(
            "Wir benötigen für Ihre Datenschutzanfrage ({t}) mehr Zeit und beantworten sie bis {due}.\n\
             Grund: {reason}\n\n\
             We need more time for your privacy request ({t}) and will answer it by {due}.\n\
             Reason: {reason}\n",
            t = r.request_type,
            due = r.due_at.strftime("%Y-%m-%d"),
        );
        self.tell_person(
            r,
            "Ihre Datenschutzanfrage / Your privacy request",
            &text,
            now,
        )
        .await
    }

    /// Refuses the request (Art. 12(5)) and tells the person why and where to complain
    /// (Art. 12(4), N9h).
    pub async fn refuse(
        &self,
        id: &str,
        reason: String,
        actor: &str,
        now: Timestamp,
    ) -> Result<RequestRecord, RequestError> {
        let r = self.get(id).await?;
        let r = self
            .transition(
                r,
                Transition::Refuse {
                    reason: reason.clone(),
                },
                actor,
                Some(reason.clone()),
                json!({}),
                now,
                |_| {},
            )
            .await?;
        let authority = self.authority_for(&r);
        let text = format!(
            "Wir können Ihre Datenschutzanfrage ({de}) nicht bearbeiten.\nGrund: {reason}\n\
             Sie können sich bei der zuständigen Aufsichtsbehörde beschweren oder gerichtlichen \
             Rechtsschutz suchen: {authority}\n\n\
             We cannot act on your privacy request ({en}).\nReason: {reason}\n\
             You may complain to the competent supervisory authority or seek a judicial remedy: {authority}\n",
            de = words::request_kind(request_type(&r), tutela_core::render::Lang::De),
            en = words::request_kind(request_type(&r), tutela_core::render::Lang::En),
        );
        self.tell_person(
            r,
            "Ihre Datenschutzanfrage / Your privacy request",
            &text,
            now,
        )
        .await
    }

    /// The supervisory authority competent for the person of `r` (by their contract's kind),
    /// in words: name in German and English, address, web site.
    pub fn authority_for(&self, r: &RequestRecord) -> String {
        let kind = r
            .subject
            .as_deref()
            .map(|s| self.engine.subject_state(s).contract_kind)
            .unwrap_or_default();
        self.engine
            .policy()
            .policy
            .competent_authority(kind)
            .map(|a| format!("{} / {}, {}, {}", a.name.de, a.name.en, a.address, a.web))
            .unwrap_or_default()
    }

    /// Tells the person that their request was carried out in part (Art. 12(4)): what stays,
    /// on which ground and until when, or what was not done, and where they may complain.
    pub(crate) async fn tell_partly_done(
        &self,
        r: RequestRecord,
        steps: &[StepRecord],
        nothing_corrected: bool,
        now: Timestamp,
    ) -> Result<RequestRecord, RequestError> {
        let authority = self.authority_for(&r);
        let (subject_line, text) = words::partly_done_mail(
            request_type(&r),
            steps,
            nothing_corrected,
            &self.engine.policy().policy,
            &authority,
        );
        self.tell_person(r, &subject_line, &text, now).await
    }

    /// Mails the person at the address on file and records whether it reached the mail server.
    async fn tell_person(
        &self,
        mut r: RequestRecord,
        subject_line: &str,
        text: &str,
        now: Timestamp,
    ) -> Result<RequestRecord, RequestError> {
        let address = match self.address_on_file(&r).await? {
            Some((_, email)) => Some(email),
            None => r.email.clone(),
        };
        let sent = match &address {
            Some(a) => match self.mailer.send(a, subject_line, text).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(request = %r.id, error = %e, "the person could not be told by e-mail");
                    false
                }
            },
            None => false,
        };
        r.version += 1;
        r.updated_at = now;
        let event = RequestEventNew {
            at: now,
            actor: "system".into(),
            kind: if sent {
                "person_told"
            } else {
                "person_not_told"
            }
            .into(),
            body: json!({"channel": "email"}).to_string(),
            note: None,
        };
        self.store().update_request(&r, &event).await?;
        Ok(r)
    }

    pub async fn classify(
        &self,
        id: &str,
        t: RequestType,
        actor: &str,
        now: Timestamp,
    ) -> Result<RequestRecord, RequestError> {
        let r = self.get(id).await?;
        self.transition(
            r,
            Transition::Classify(t),
            actor,
            None,
            json!({"type": t.as_str()}),
            now,
            |_| {},
        )
        .await
    }

    /// A result, only for a verified request that has produced it.
    pub async fn result(&self, id: &str, format: &str) -> Result<Vec<u8>, RequestError> {
        let r = self.get(id).await?;
        if r.verification.is_none() {
            return Err(RequestError::NotVerified);
        }
        if !matches!(
            r.status,
            Status::Completed | Status::PartiallyRefused | Status::NoDataHeld
        ) {
            return Err(RequestError::NotReady);
        }
        if let Some(bytes) = self.store().result(id, format).await? {
            return Ok(bytes);
        }
        // Why it is missing: the person's erasure destroyed it (and recorded which formats),
        // or its retention ended, or the request never had this format.
        let erased = self
            .store()
            .request_events(id)
            .await?
            .iter()
            .filter(|e| e.kind == tutela_store::PERSON_ERASED)
            .filter_map(|e| serde_json::from_str::<serde_json::Value>(&e.body).ok())
            .any(|b| {
                b["results_destroyed"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|f| f.as_str() == Some(format)))
            });
        Err(if erased {
            RequestError::Erased
        } else {
            RequestError::Gone
        })
    }
}

/// A person a request may be about, found before its verification from the identifiers it
/// carries.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Candidate {
    /// The person's id (the customer number).
    pub subject: String,
    /// Where they were found: `tutela` (the ledger and tutela's own records) or a dataset id.
    pub found_in: Vec<String>,
}

/// Who a request is about, as far as tutela and the operator's databases can tell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resolution {
    pub candidates: Vec<Candidate>,
    /// Datasets that hold rows for the identifiers in a person table without a customer number
    /// (a person tutela cannot name by id).
    pub unnamed: Vec<String>,
    /// Datasets that could not be asked (away); the resolution is incomplete.
    pub unavailable: Vec<String>,
}

impl Resolution {
    /// Whether anything at all is held for the identifiers.
    pub fn holds_data(&self) -> bool {
        !self.candidates.is_empty() || !self.unnamed.is_empty()
    }

    fn add(&mut self, subject: &str, source: &str) {
        match self.candidates.iter_mut().find(|c| c.subject == subject) {
            Some(c) => {
                if !c.found_in.iter().any(|f| f == source) {
                    c.found_in.push(source.to_owned());
                }
            }
            None => self.candidates.push(Candidate {
                subject: subject.to_owned(),
                found_in: vec![source.to_owned()],
            }),
        }
    }
}

/// The identifiers a request carries: the id it names (a customer number), the address it
/// came from, and those its details name (`details.identities`, e.g. `{"msisdn": "4915…"}`).
/// Network identifiers (`imsi`, `iccid`, `msisdn`, `imei`) among them are also looked up in
/// the links of tutela's own ledger (see [`linked`]).
pub fn request_identities(r: &RequestRecord) -> tutela_connectors::Identities {
    let mut ids = tutela_connectors::Identities::new();
    if let Some(s) = &r.subject {
        ids.insert("customer_number".into(), vec![s.clone()]);
    }
    if let Some(e) = &r.email {
        ids.insert("email".into(), vec![e.clone()]);
    }
    let details = RequestDetails::from_stored(r.details.as_deref());
    for (kind, values) in details.identities() {
        ids.entry(kind.to_owned())
            .or_default()
            .extend_from_slice(values);
    }
    ids
}

impl Requests {
    /// Whether tutela itself holds anything about `subject`: ledger entries, an address on
    /// file, disclosures, risk checks.
    pub(crate) async fn tutela_holds(&self, subject: &str) -> Result<bool, RequestError> {
        let store = self.store();
        if store.subject(subject).await?.is_some() || !store.history(subject).await?.is_empty() {
            return Ok(true);
        }
        if !tutela_store::DisclosureStore::disclosures_of(store, subject)
            .await?
            .is_empty()
        {
            return Ok(true);
        }
        Ok(!tutela_store::RiskStore::risk_checks_of(store, subject)
            .await?
            .is_empty())
    }

    /// Looks the identifiers up in tutela (the ledger, the address on file, the network
    /// identifiers the ledger links to persons) and in every dataset (through the connectors'
    /// find).
    pub(crate) async fn resolve_ids(
        &self,
        ids: &tutela_connectors::Identities,
    ) -> Result<Resolution, RequestError> {
        let mut res = Resolution::default();
        for s in ids.get("customer_number").into_iter().flatten() {
            if self.tutela_holds(s).await? {
                res.add(s, "tutela");
            }
        }
        for e in ids.get("email").into_iter().flatten() {
            if let Some(s) = self.store().subject_by_email(e).await? {
                res.add(&s, "tutela");
            }
        }
        for s in self.linked.persons(&self.engine, ids).await? {
            res.add(&s, "tutela");
        }
        for c in &self.connectors {
            match c.find(ids).await {
                Ok(found) => {
                    for p in found {
                        match p.customer_number {
                            Some(n) => res.add(&n, &c.map.id),
                            None => {
                                if !res.unnamed.contains(&c.map.id) {
                                    res.unnamed.push(c.map.id.clone());
                                }
                            }
                        }
                    }
                }
                Err(e) => {
                    // Names the dataset and why, never a value.
                    tracing::warn!(dataset = %c.map.id, error = %e, "a dataset could not be asked who a request is about");
                    res.unavailable.push(c.map.id.clone());
                }
            }
        }
        Ok(res)
    }

    /// Who the request is about, from every identifier it carries.
    pub async fn resolve(&self, r: &RequestRecord) -> Result<Resolution, RequestError> {
        self.resolve_ids(&request_identities(r)).await
    }

    /// The candidates recorded when the request's identity check started (for agents).
    pub async fn candidates(&self, id: &str) -> Result<Vec<Candidate>, RequestError> {
        Ok(self
            .store()
            .request_events(id)
            .await?
            .into_iter()
            .rev()
            .find(|e| e.kind == "awaiting_verification")
            .and_then(|e| e.note)
            .and_then(|n| serde_json::from_str(&n).ok())
            .unwrap_or_default())
    }

    /// An agent's verification names the person: required when the request does not name one
    /// and its identifiers found someone; the named person must then be one found (another
    /// known person is refused: a typo would erase someone who never asked), or, when the
    /// identifiers found nobody, one tutela or a dataset knows. A request whose identifiers find nobody anywhere may be verified
    /// without a name: it ends "no data about you is held".
    async fn check_named_subject(
        &self,
        r: &RequestRecord,
        named: Option<&str>,
    ) -> Result<(), RequestError> {
        let resolution = if r.subject.is_none() || named.is_some() {
            self.resolve(r).await?
        } else {
            return Ok(());
        };
        if !resolution.unavailable.is_empty() {
            return Err(RequestError::Unresolved(format!(
                "dataset(s) {} could not be reached",
                resolution.unavailable.join(", ")
            )));
        }
        let Some(named) = named else {
            return if resolution.holds_data() {
                Err(RequestError::SubjectRequired {
                    candidates: resolution.candidates.len(),
                })
            } else {
                Ok(())
            };
        };
        if resolution.candidates.iter().any(|c| c.subject == named) {
            return Ok(());
        }
        if !resolution.candidates.is_empty() {
            return Err(RequestError::NotACandidate {
                candidates: resolution.candidates.len(),
            });
        }
        let mut by_id = tutela_connectors::Identities::new();
        by_id.insert("customer_number".into(), vec![named.to_owned()]);
        let known = self.resolve_ids(&by_id).await?;
        if !known.unavailable.is_empty() {
            return Err(RequestError::Unresolved(format!(
                "dataset(s) {} could not be reached",
                known.unavailable.join(", ")
            )));
        }
        if known.candidates.iter().any(|c| c.subject == named) {
            Ok(())
        } else {
            Err(RequestError::SubjectUnknown)
        }
    }

    /// Ends a verified request about a person of whom nothing is held anywhere with that
    /// answer (Art. 15(1): the confirmation that no data is processed), kept as its result and
    /// told to the person in German and English.
    pub(crate) async fn answer_no_data(
        &self,
        r: RequestRecord,
        actor: &str,
        datasets: &[String],
        now: Timestamp,
    ) -> Result<RequestRecord, RequestError> {
        let r = self
            .transition(
                r,
                Transition::NoDataHeld,
                actor,
                None,
                json!({"searched": {"tutela": true, "datasets": datasets}}),
                now,
                |_| {},
            )
            .await?;
        let (de, en) = no_data_texts(&r.request_type);
        let result = json!({
            "request": r.id,
            "type": r.request_type,
            "outcome": "no_data_held",
            "answer": {"de": de, "en": en},
            "searched": {"tutela": true, "datasets": datasets},
            "generated_at": now.to_string(),
        });
        let bytes =
            serde_json::to_vec_pretty(&result).map_err(|e| RequestError::Storage(e.to_string()))?;
        let expires = now
            .checked_add(self.settings.result_retention)
            .unwrap_or(Timestamp::MAX);
        self.store()
            .put_result(&r.id, "json", &bytes, now, expires)
            .await?;
        self.tell_person(
            r,
            "Ihre Datenschutzanfrage / Your privacy request",
            &format!("{de}\n\n{en}\n"),
            now,
        )
        .await
    }
}

/// The answer to a request about a person of whom nothing is held, in German and English.
pub fn no_data_texts(request_type: &str) -> (String, String) {
    (
        format!(
            "Wir haben Ihre Datenschutzanfrage ({request_type}) bearbeitet und in allen unseren \
             Systemen gesucht: Über Sie sind bei uns keine personenbezogenen Daten gespeichert. \
             Es gibt daher nichts, worüber wir Auskunft geben, und nichts, das wir löschen, \
             berichtigen oder einschränken könnten."
        ),
        format!(
            "We have handled your privacy request ({request_type}) and searched all our systems: \
             no data about you is held. So there is nothing to report, and nothing to erase, \
             correct or restrict."
        ),
    )
}

/// How many rows (or tutela events) a finished step found or acted on, from its output; `None`
/// for steps that do not act on data (notifications, reports).
pub fn step_found(step: &str, output: Option<&str>) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(output?).ok()?;
    let n = |k: &str| v[k].as_u64();
    let sum = |k: &str| {
        v[k].as_object()
            .map(|m| {
                m.values()
                    .filter_map(serde_json::Value::as_u64)
                    .sum::<u64>()
            })
            .unwrap_or(0)
    };
    match step.split_once(':')?.0 {
        "10-collect" if step == "10-collect:tutela" => n("events"),
        "10-collect" => n("rows"),
        "40-erase" => {
            let rows = |k: &str| {
                v[k].as_array()
                    .map(|a| a.iter().filter_map(|k| k["rows"].as_u64()).sum::<u64>())
                    .unwrap_or(0)
            };
            Some(
                sum("deleted") + sum("anonymised") + rows("restricted") + rows("kept_for_contract"),
            )
        }
        // The rows the plan lists, table by table.
        "30-plan" => Some(
            v["tables"]
                .as_array()
                .map(|t| {
                    t.iter()
                        .filter_map(|t| t["keys"].as_array().map(|k| k.len() as u64))
                        .sum::<u64>()
                })
                .unwrap_or(0),
        ),
        "40-restrict" => n("rows_flagged"),
        "40-rectify" => n("rows_corrected"),
        "50-rectify" => n("changed"),
        _ => None,
    }
}
