//! The request worker: takes verified requests up, runs their steps one at a time, records each
//! step that writes before the next (reads and results, which may run again unchanged, with the
//! next record or the completion), and completes the request when every step is done.
//!
//! [`Worker::tick`] is the single step tests drive; [`run`] loops it, and is woken in between
//! when a request becomes verified (here or, on PostgreSQL, on another instance). Every step is
//! idempotent (ledger writes carry an idempotency key made of the request id and the step, an
//! erasure of an erased person changes nothing), so a crash between a step and its record
//! repeats the step without doing it twice. A failed step is recorded with its error kind and retried with
//! backoff; the request shows which step waits and why, and the other requests go on.

use std::sync::Arc;

use jiff::Timestamp;
use serde_json::{Value, json};
use tutela_connectors::{ConnectorError, Identities};
use tutela_core::ledger::{EventKind, ObjectionScope};
use tutela_core::report::{self, CollectedTable, HistoryEntry, ReportInput};
use tutela_core::request::{REVIEW_STEP, RequestType, Status, StepStatus, Transition, plan};
use tutela_core::state::ERASED;
use tutela_store::{NewEvent, RequestHead, RequestRecord, RequestStore, StepRecord, Store};

use super::{Change, RequestDetails, RequestError, Requests, export, request_type, review};
use crate::engine::EngineError;
use crate::metrics;

/// What one tick did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TickReport {
    pub started: usize,
    pub steps_done: usize,
    pub steps_failed: usize,
    pub completed: usize,
}

/// The time within a worker pass: the pass's start, as given (tests choose it), plus the time
/// elapsed since on the monotonic clock, so that each transition and step carries the time it
/// happened rather than the pass's start.
#[derive(Debug, Clone, Copy)]
pub struct PassClock {
    start: Timestamp,
    since: std::time::Instant,
}

impl PassClock {
    pub fn starting(start: Timestamp) -> PassClock {
        PassClock {
            start,
            since: std::time::Instant::now(),
        }
    }

    pub fn now(&self) -> Timestamp {
        self.start
            .checked_add(self.since.elapsed())
            .unwrap_or(Timestamp::MAX)
    }
}

/// A request being worked on in this process, released when dropped.
struct Claim<'a> {
    requests: &'a Requests,
    id: String,
}

impl<'a> Claim<'a> {
    fn take(requests: &'a Requests, id: &str) -> Option<Claim<'a>> {
        let mut busy = requests.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        busy.insert(id.to_owned()).then(|| Claim {
            requests,
            id: id.to_owned(),
        })
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut busy = self
            .requests
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        busy.remove(&self.id);
    }
}

async fn collect(
    running: &mut tokio::task::JoinSet<Result<TickReport, RequestError>>,
    report: &mut TickReport,
) {
    match running.join_next().await {
        Some(Ok(Ok(r))) => {
            report.started += r.started;
            report.steps_done += r.steps_done;
            report.steps_failed += r.steps_failed;
            report.completed += r.completed;
        }
        // A request changed by someone else meanwhile is taken up again at the next tick.
        Some(Ok(Err(e))) => {
            tracing::warn!(error = %e, "a request could not advance; it is retried")
        }
        Some(Err(e)) => tracing::error!(error = %e, "a request task failed"),
        None => {}
    }
}

/// Why a step did not succeed.
enum StepError {
    /// Worth retrying: the database or a connector is away.
    Transient(String),
    /// Will not succeed: part of the request cannot be carried out.
    Refused(String),
    /// The plans wait for an agent's approval (the reason says why they need it).
    AwaitApproval(String),
    /// The rows changed since the plan was approved: planned and reviewed again.
    Stale(String),
}

/// How a step that ran ended.
enum Outcome {
    Done(Option<String>),
    Refused(String),
    Failed(String),
}

pub struct Worker {
    pub requests: Arc<Requests>,
}

fn details(r: &RequestRecord) -> RequestDetails {
    RequestDetails::from_stored(r.details.as_deref())
}

impl Worker {
    /// Takes up the workable requests at `now` once: the request job's step at its interval.
    pub async fn tick(&self, now: Timestamp) -> Result<TickReport, RequestError> {
        let mut report = TickReport::default();
        self.take_up(now, &mut report).await?;
        Ok(report)
    }

    /// Takes up the workable requests once, without a tick's housekeeping: what the worker
    /// runs when it is woken.
    pub async fn pass(&self, now: Timestamp) -> Result<TickReport, RequestError> {
        let mut report = TickReport::default();
        self.take_up(now, &mut report).await?;
        Ok(report)
    }

    async fn take_up(&self, now: Timestamp, report: &mut TickReport) -> Result<(), RequestError> {
        let store = self.requests.engine.store.clone();
        let clock = PassClock::starting(now);
        let open = store
            .list_requests(
                &[
                    Status::Received,
                    Status::AwaitingVerification,
                    Status::Verified,
                    Status::InProgress,
                    Status::AwaitingApproval,
                ],
                100_000,
            )
            .await?;
        let overdue = open.iter().filter(|r| now > r.due_at).count();
        metrics::requests(open.len() as u64, overdue as u64);
        let open: Vec<RequestHead> = open
            .into_iter()
            .filter(|r| matches!(r.status, Status::Verified | Status::InProgress))
            .map(|r| RequestHead {
                id: r.id,
                request_type: r.request_type,
                version: r.version,
            })
            .collect();
        // Requests run side by side, each one's steps in order; one failing never stops another.
        let mut running = tokio::task::JoinSet::new();
        for r in open {
            if RequestType::parse(&r.request_type) == Some(RequestType::Unclassified) {
                // Unclassified requests wait for an agent to classify them.
                continue;
            }
            while running.len() >= self.requests.settings.worker_concurrency.max(1) {
                collect(&mut running, report).await;
            }
            let worker = Worker {
                requests: self.requests.clone(),
            };
            running.spawn(async move { worker.process(r, clock).await });
        }
        while !running.is_empty() {
            collect(&mut running, report).await;
        }
        Ok(())
    }

    /// What the worker runs when woken: takes up the workable requests, and lists them again
    /// whenever `wake` fires meanwhile, so that a request verified while others run starts as
    /// soon as a slot is free rather than after all of them. Returns when nothing runs and
    /// nothing new came.
    pub async fn follow(&self, wake: &tokio::sync::Notify) -> Result<TickReport, RequestError> {
        let store = self.requests.engine.store.clone();
        let limit = self.requests.settings.worker_concurrency.max(1);
        let mut report = TickReport::default();
        let mut running = tokio::task::JoinSet::new();
        let mut queued = std::collections::VecDeque::new();
        let mut relist = true;
        loop {
            // Listed again only when a slot is free to take a new request up: under load, a
            // list per finished request rather than one per wake-up.
            if relist && running.len() < limit {
                relist = false;
                let open = store
                    .request_heads(&[Status::Verified, Status::InProgress], 100_000)
                    .await?;
                let busy = self
                    .requests
                    .in_flight
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                queued = open
                    .into_iter()
                    .filter(|r| {
                        RequestType::parse(&r.request_type) != Some(RequestType::Unclassified)
                            && !busy.contains(&r.id)
                    })
                    .collect();
            }
            while running.len() < limit {
                let Some(r) = queued.pop_front() else {
                    break;
                };
                let worker = Worker {
                    requests: self.requests.clone(),
                };
                let clock = PassClock::starting(Timestamp::now());
                running.spawn(async move { worker.process(r, clock).await });
            }
            if running.is_empty() && queued.is_empty() && !relist {
                return Ok(report);
            }
            tokio::select! {
                () = wake.notified(), if !relist => relist = true,
                () = collect(&mut running, &mut report), if !running.is_empty() => {}
            }
        }
    }

    /// Starts a verified request and runs what is due of it. A request another tick of this
    /// process is working on is left alone.
    async fn process(
        &self,
        head: RequestHead,
        clock: PassClock,
    ) -> Result<TickReport, RequestError> {
        let mut report = TickReport::default();
        let Some(_claim) = Claim::take(&self.requests, &head.id) else {
            return Ok(report);
        };
        // Listed before another task of this process ran it (a woken worker lists again while
        // others run): a listing no longer current is left alone (the next one has the
        // request as it stands) instead of being started twice and refused as changed. The
        // request is opened (its sealed parts) only here, once per run, not per listing.
        let Some(r) = self.requests.engine.store.request(&head.id).await? else {
            return Ok(report);
        };
        if r.version != head.version {
            return Ok(report);
        }
        let r = if r.status == Status::Verified {
            report.started += 1;
            self.start(r, clock.now()).await?
        } else {
            r
        };
        self.advance(r, clock, &mut report).await?;
        Ok(report)
    }

    async fn start(&self, r: RequestRecord, now: Timestamp) -> Result<RequestRecord, RequestError> {
        let r = match self.who(r, now).await? {
            Ok(r) => r,
            // Answered without steps: nothing is held, or nobody was named.
            Err(done) => return Ok(done),
        };
        let t = RequestType::parse(&r.request_type).unwrap_or(RequestType::Unclassified);
        let store = &self.requests.engine.store;
        let datasets: Vec<&str> = self
            .requests
            .connectors
            .iter()
            .map(|c| c.map.id.as_str())
            .collect();
        // Art. 19 is owed to the recipients that received the person's data: those in the
        // disclosure log (and the event stream, which carries it to every downstream system).
        let reached: Vec<String> = match &r.subject {
            Some(subject) => tutela_store::DisclosureStore::disclosures_of(store, subject)
                .await?
                .into_iter()
                .filter(|d| d.allowed)
                .map(|d| d.recipient)
                .collect(),
            None => Vec::new(),
        };
        let targets: Vec<String> = self
            .requests
            .notifier
            .targets()
            .into_iter()
            .filter(|t| t == "nats" || reached.contains(t))
            .collect();
        let notify: Vec<&str> = targets.iter().map(String::as_str).collect();
        let steps = plan(t, &datasets, &notify);
        let records: Vec<StepRecord> = steps
            .iter()
            .map(|step| StepRecord {
                step: step.clone(),
                status: StepStatus::Pending,
                attempts: 0,
                last_error: None,
                next_at: None,
                output: None,
            })
            .collect();
        // One transaction for all: a request's steps are planned whole, with its start, or not
        // at all.
        let change = Change {
            actor: "worker",
            note: None,
            body: json!({"steps": steps}),
            now,
        };
        self.requests
            .transition_with_steps(r, Transition::Start, change, &records, |_| {})
            .await
    }

    /// Runs the due steps of one request in order; completes it when all are done.
    async fn advance(
        &self,
        r: RequestRecord,
        clock: PassClock,
        report: &mut TickReport,
    ) -> Result<(), RequestError> {
        if r.status.is_final() {
            // Answered when it was started (no data held, nobody named): no steps to run.
            return Ok(());
        }
        let store = self.requests.engine.store.clone();
        let mut steps = store.steps(&r.id).await?;
        let mut refused: Vec<String> = Vec::new();
        // Records of steps that may run again after a crash unchanged (reads, results that are
        // overwritten), written with the next record that must be durable at once, or with
        // the completion: a commit per request, not per step, where nothing is lost by it.
        let mut unsaved: Vec<StepRecord> = Vec::new();
        for i in 0..steps.len() {
            // Each step is due, runs and is recorded at its own time.
            let now = clock.now();
            if steps[i].status == StepStatus::Done {
                continue;
            }
            if steps[i].status == StepStatus::Refused {
                let why = steps[i].last_error.clone().unwrap_or_default();
                if !refused.contains(&why) {
                    refused.push(why);
                }
                continue;
            }
            if steps[i].next_at.is_some_and(|t| t > now) {
                if !unsaved.is_empty() {
                    store.put_steps(&r.id, &unsaved).await?;
                }
                return Ok(());
            }
            // A result is made from the records as stored (an erasure since may have cleared
            // them): those waiting are written first.
            if steps[i].step.starts_with("90-") && !unsaved.is_empty() {
                store.put_steps(&r.id, &unsaved).await?;
                unsaved.clear();
            }
            let outcome = self.run_step(&r, &steps[i].step, &steps, now).await;
            let outcome = match outcome {
                Err(StepError::AwaitApproval(why)) => {
                    let mut step = steps[i].clone();
                    return self.await_approval(r, &mut step, unsaved, why, now).await;
                }
                Err(StepError::Stale(why)) => {
                    // The write step says why it did not run; it runs once approved again.
                    steps[i].last_error = Some(why.clone());
                    let mut again = review::replan(&mut steps, &why);
                    again.push(steps[i].clone());
                    // Later records of a step overwrite earlier ones in the one transaction.
                    unsaved.extend(again);
                    store.put_steps(&r.id, &unsaved).await?;
                    // Planned again at the next pass, then reviewed again.
                    self.requests.wake_worker().await;
                    return Ok(());
                }
                Ok(output) => Outcome::Done(output),
                Err(StepError::Refused(why)) => Outcome::Refused(why),
                Err(StepError::Transient(why)) => Outcome::Failed(why),
            };
            let s = &mut steps[i];
            s.attempts += 1;
            match outcome {
                Outcome::Done(output) => {
                    s.status = StepStatus::Done;
                    s.last_error = None;
                    s.next_at = None;
                    s.output = output;
                    report.steps_done += 1;
                }
                Outcome::Refused(why) => {
                    s.status = StepStatus::Refused;
                    s.last_error = Some(why.clone());
                    // A write step refused for its plan's reason says it once.
                    if !refused.contains(&why) {
                        refused.push(why);
                    }
                }
                Outcome::Failed(why) => {
                    s.status = StepStatus::Failed;
                    s.last_error = Some(why);
                    let base = self.requests.settings.retry_base;
                    let wait = base
                        .saturating_mul(1 << (s.attempts.clamp(1, 16) - 1))
                        .min(self.requests.settings.retry_max);
                    s.next_at = now.checked_add(wait).ok();
                    unsaved.push(s.clone());
                    store.put_steps(&r.id, &unsaved).await?;
                    report.steps_failed += 1;
                    metrics::request_step_failed();
                    // Later steps may depend on this one: the request waits, visibly.
                    return Ok(());
                }
            }
            let may_wait = s.status == StepStatus::Done && repeatable(&s.step);
            unsaved.push(s.clone());
            if !may_wait {
                store.put_steps(&r.id, &unsaved).await?;
                unsaved.clear();
            }
        }
        // Data kept under a legal retention duty was restricted instead of erased: the erasure
        // is refused for that part (Art. 17(3)(b)), and the person is told what and until when.
        for k in kept_records(&steps) {
            let fields = if k.fields.is_empty() {
                String::new()
            } else {
                format!(", fields kept: {}", k.fields.join(", "))
            };
            refused.push(format!(
                "{} rows of {}.{} kept until {} ({}: {}){fields}",
                k.rows, k.dataset, k.table, k.until, k.why, k.rule,
            ));
        }
        // Data a running contract needs is kept whole (Art. 6(1)(b)); the person is told which,
        // and until when.
        refused.extend(kept_for_contract(&steps));
        let nothing_corrected = nothing_done(request_type(&r), &steps);
        let told = !refused.is_empty() || nothing_corrected.is_some();
        if let Some(why) = nothing_corrected.clone() {
            refused.push(why);
        }
        let t = if refused.is_empty() {
            Transition::Complete
        } else {
            Transition::PartiallyRefuse {
                reason: refused.join("; "),
            }
        };
        let note = match &t {
            Transition::PartiallyRefuse { reason } => Some(reason.clone()),
            _ => None,
        };
        let change = Change {
            actor: "worker",
            note,
            body: json!({}),
            now: clock.now(),
        };
        let r = self
            .requests
            .transition_with_steps(r, t, change, &unsaved, |_| {})
            .await?;
        report.completed += 1;
        if told {
            // Art. 12(4): the person learns what was not done, why, and where to complain.
            self.requests
                .tell_partly_done(r, &steps, nothing_corrected.is_some(), clock.now())
                .await?;
        }
        Ok(())
    }

    /// The plans need an agent: the review step records why, and the request waits.
    /// The plans (in `unsaved`, not yet written) are recorded with the review step and the
    /// transition in one transaction: an agent never sees a request waiting without its plans.
    async fn await_approval(
        &self,
        r: RequestRecord,
        step: &mut StepRecord,
        mut unsaved: Vec<StepRecord>,
        why: String,
        now: Timestamp,
    ) -> Result<(), RequestError> {
        step.status = StepStatus::Pending;
        step.last_error = Some(why.clone());
        unsaved.push(step.clone());
        let change = Change {
            actor: "worker",
            note: Some(why),
            body: json!({}),
            now,
        };
        self.requests
            .transition_with_steps(r, Transition::AwaitApproval, change, &unsaved, |_| {})
            .await?;
        Ok(())
    }

    async fn run_step(
        &self,
        r: &RequestRecord,
        step: &str,
        steps: &[StepRecord],
        now: Timestamp,
    ) -> Result<Option<String>, StepError> {
        let engine = &self.requests.engine;
        let d = details(r);
        let Some(subject) = r.subject.clone() else {
            // No step reports work it did not do: a request about nobody named is answered
            // when it starts (no data held) and never runs its steps.
            return Err(StepError::Refused(format!(
                "request {} names no person; nothing was done",
                r.id
            )));
        };
        let key = format!("request:{}:{step}", r.id);
        let write = |kind: EventKind, reason: Option<String>| NewEvent {
            subject: subject.clone(),
            at: now,
            kind,
            evidence: Some(format!("data subject request {}", r.id)),
            reason,
            email: None,
            idempotency_key: Some(key.clone()),
            policy_version: engine.policy().policy_version().to_owned(),
        };
        let state = engine.subject_state(&subject);
        if let Some(target) = step.strip_prefix("70-notify:") {
            return self.notify(r, &subject, target, &d, steps, now).await;
        }
        if step == REVIEW_STEP {
            return review::run(&engine.policy().policy, request_type(r), steps, now)
                .map(Some)
                .map_err(StepError::AwaitApproval);
        }
        if let Some((action, dataset)) = step.split_once(':')
            && dataset != "tutela"
        {
            return self
                .dataset_step(r, &subject, action, dataset, steps, now)
                .await;
        }
        match step {
            "10-collect:tutela" => {
                let history = engine.store.history(&subject).await.map_err(transient)?;
                let email = engine
                    .store
                    .subject(&subject)
                    .await
                    .map_err(transient)?
                    .and_then(|s| s.email);
                let entries: Vec<HistoryEntry> = history
                    .into_iter()
                    .map(|e| {
                        let mut h = HistoryEntry {
                            at: e.event.at.to_string(),
                            event: e.event.kind.name().to_owned(),
                            purpose: None,
                            channel: None,
                            scope: None,
                            source: None,
                            notice_version: None,
                            evidence: e.evidence,
                            reason: e.reason,
                            policy_version: Some(e.policy_version.clone()),
                        };
                        match e.event.kind {
                            EventKind::Consent {
                                purpose,
                                channel,
                                source,
                                notice_version,
                                ..
                            } => {
                                h.purpose = Some(purpose);
                                h.channel = channel;
                                h.source = Some(source);
                                h.notice_version = Some(notice_version);
                            }
                            EventKind::Objection { scope } => {
                                h.scope = Some(scope.as_str().to_owned())
                            }
                            EventKind::CallConsent { purpose, call, .. } => {
                                h.purpose = Some(purpose);
                                h.scope = Some(call);
                            }
                            EventKind::TransferConsent { country, .. }
                            | EventKind::TransferNecessity { country, .. } => {
                                h.scope = Some(country.as_str().to_owned());
                            }
                            _ => {}
                        }
                        h
                    })
                    .collect();
                Ok(Some(
                    json!({"events": entries.len(), "email": email, "history": entries})
                        .to_string(),
                ))
            }
            "90-report" | "90-export" | "90-summary" => {
                self.produce(r, step, now).await.map(|()| None)
            }
            "50-erase:tutela" => {
                // Under a legal hold (N5a) the person is restricted, not erased (Art. 17(3)(e)):
                // the datasets kept the rows too, and the refusal says why.
                if let Some(hold) = self.hold_on(&subject).await? {
                    return append(
                        engine,
                        write(
                            EventKind::Restriction { active: true },
                            Some(format!(
                                "erasure request {} held: legal hold {}",
                                r.id, hold.reference
                            )),
                        ),
                    )
                    .await;
                }
                // Nothing reports an erasure it did not do: while a dataset still holds the
                // person (its erasure was refused), tutela keeps its records of them too.
                if let Some(s) = steps
                    .iter()
                    .find(|s| s.step.starts_with("40-erase:") && s.status == StepStatus::Refused)
                {
                    return Err(StepError::Refused(format!(
                        "tutela's own records are kept while `{}` was not erased ({}); file the erasure again once that is fixed",
                        s.step.trim_start_matches("40-erase:"),
                        s.last_error.as_deref().unwrap_or("refused")
                    )));
                }
                // A running contract keeps the person a customer (Art. 6(1)(b)): tutela keeps
                // its record of them, so that the contract's processing stays allowed, and
                // ends every consent, which was the erasable part of it. The refusal says so.
                if !kept_for_contract(steps).is_empty() {
                    self.withdraw(&subject, &RequestDetails::default(), &key, now)
                        .await?;
                    // Nor is it kept for advertising on legitimate interests: the request
                    // objects to direct marketing (Art. 17(1)(c), 21(2)).
                    let mut objection = write(
                        EventKind::Objection {
                            scope: ObjectionScope::DirectMarketing,
                        },
                        Some(format!(
                            "erasure request {}: data kept only for the running contract",
                            r.id
                        )),
                    );
                    objection.idempotency_key = Some(format!("{key}:objection"));
                    append(engine, objection).await?;
                    return Ok(Some(
                        json!({"tutela": "kept_for_contract", "consents": "withdrawn", "direct_marketing": "objected"})
                            .to_string(),
                    ));
                }
                let erased = if state.has(ERASED) {
                    "already_erased"
                } else {
                    // What the operator's databases kept under a retention duty is restricted
                    // there (flag) and here: the ledger names the records, the ground, the
                    // date and the fields kept, never a value. Recorded before the tombstone
                    // (nothing is recorded after it), which keeps it (writer.rs).
                    if let Some(reason) = retained_records(steps) {
                        append(
                            engine,
                            write(EventKind::Restriction { active: true }, Some(reason)),
                        )
                        .await?;
                    }
                    engine
                        .erase(subject.clone(), now)
                        .await
                        .map_err(engine_error)?;
                    "erased"
                };
                Ok(Some(json!({"tutela": erased}).to_string()))
            }
            "50-restrict:tutela" => {
                // The request itself is the ground when the person gave none (Art. 18(1)): a
                // restriction is never recorded without a reason (write_rules.rs).
                let reason = d
                    .reason
                    .clone()
                    .filter(|r| !r.trim().is_empty())
                    .unwrap_or_else(|| format!("Art. 18 request {}", r.id));
                append(
                    engine,
                    write(EventKind::Restriction { active: true }, Some(reason)),
                )
                .await
            }
            "50-object:tutela" => {
                let scope = ObjectionScope::parse(d.scope.as_deref().unwrap_or("direct_marketing"));
                let reason = d.reason.clone();
                append(engine, write(EventKind::Objection { scope }, reason)).await
            }
            "50-withdraw:tutela" => self.withdraw(&subject, &d, &key, now).await,
            "50-rectify:tutela" => {
                // tutela itself keeps only the e-mail address; the datasets took the rest.
                let Some(email) = d.change("email") else {
                    // Nothing tutela keeps was to change: the output says so.
                    return Ok(Some(json!({"fields": [], "changed": 0}).to_string()));
                };
                let mut e = write(
                    EventKind::Relationship {
                        relationship: state.relationship,
                        contract_kind: state.contract_kind,
                    },
                    None,
                );
                e.email = Some(email.to_owned());
                append(engine, e).await
            }
            other => Err(StepError::Refused(format!("unknown step `{other}`"))),
        }
    }

    /// Tells one recipient (or the event stream) what was done (Art. 19).
    async fn notify(
        &self,
        r: &RequestRecord,
        subject: &str,
        target: &str,
        d: &RequestDetails,
        steps: &[StepRecord],
        now: Timestamp,
    ) -> Result<Option<String>, StepError> {
        let results: Vec<Value> = steps
            .iter()
            .filter(|s| s.step.starts_with("40-"))
            .filter_map(|s| s.output.as_deref())
            .filter_map(|o| serde_json::from_str(o).ok())
            .collect();
        let mut body = json!({
            "id": format!("{}:art19", r.id),
            "article": "Art. 19 GDPR",
            "type": r.request_type,
            "subject": subject,
            "request": r.id,
            "at": now.to_string(),
            "results": results,
        });
        if request_type(r) == Some(RequestType::Rectification) {
            // The recipient needs the corrected values to correct its copy.
            body["changes"] = json!(d.changes);
        }
        let notifier = &self.requests.notifier;
        let outcome = if target == "nats" {
            notifier
                .publish(&r.request_type, &format!("{}:art19", r.id), &body)
                .await
        } else {
            notifier
                .webhook(target, &format!("{}:{target}", r.id), &body)
                .await
        };
        outcome
            .map(|()| Some(json!({"notified": target}).to_string()))
            .map_err(StepError::Transient)
    }

    /// The person's identifiers: the id, the address on file, and any the request names.
    async fn identities(&self, subject: &str, d: &RequestDetails) -> Result<Identities, StepError> {
        let mut ids = Identities::new();
        ids.insert("customer_number".into(), vec![subject.to_owned()]);
        let on_file = self
            .requests
            .engine
            .store
            .subject(subject)
            .await
            .map_err(transient)?
            .and_then(|s| s.email);
        if let Some(email) = on_file {
            ids.insert("email".into(), vec![email]);
        }
        for (kind, values) in d.identities() {
            ids.entry(kind.to_owned())
                .or_default()
                .extend_from_slice(values);
        }
        Ok(ids)
    }

    async fn dataset_step(
        &self,
        r: &RequestRecord,
        subject: &str,
        action: &str,
        dataset: &str,
        steps: &[StepRecord],
        now: Timestamp,
    ) -> Result<Option<String>, StepError> {
        let d = &details(r);
        let Some(c) = self
            .requests
            .connectors
            .iter()
            .find(|c| c.map.id == dataset)
        else {
            return Err(StepError::Transient(format!(
                "dataset `{dataset}` is not configured on this server"
            )));
        };
        // A dataset whose plan was refused is not written: the write step ends with the plan's
        // reason, without asking the database again.
        if action.starts_with("40-")
            && let Some(p) = steps.iter().find(|s| {
                s.status == StepStatus::Refused
                    && s.step == format!("{}{dataset}", review::PLAN_PREFIX)
            })
        {
            return Err(StepError::Refused(
                p.last_error.clone().unwrap_or_else(|| "not planned".into()),
            ));
        }
        let ids = self.identities(subject, d).await?;
        let policy = &self.requests.engine.policy().policy;
        let out = match action {
            "30-plan" => match self.hold_on(subject).await? {
                Some(hold) => Ok(review::held(dataset, &hold.reference).to_string()),
                None if request_type(r) == Some(RequestType::Rectification) => {
                    let plan = c
                        .plan_rectification(&ids, &changes_for(c, d))
                        .await
                        .map_err(connector_error)?;
                    serde_json::to_string(&plan)
                }
                None => {
                    let plan = c
                        .plan_erasure(&ids, policy, now)
                        .await
                        .map_err(connector_error)?;
                    serde_json::to_string(&plan)
                }
            },
            "10-collect" => {
                let rows = c.collect(&ids).await.map_err(connector_error)?;
                // What was found says so, also when it is nothing: tables 0, rows 0.
                let tables = c.tables(&rows, false);
                let found: usize = tables.iter().map(|t| t.rows.len()).sum();
                serde_json::to_string(&json!({
                    "dataset": dataset,
                    "tables": tables.len(),
                    "rows": found,
                    "data": tables,
                }))
            }
            "40-erase" => match self.hold_on(subject).await? {
                // Nothing of a held person is erased (Art. 17(3)(e): legal claims, N5a); the
                // rows are restricted and the erasure refused for them until the hold ends.
                Some(hold) => {
                    let n = c.restrict(&ids).await.map_err(connector_error)?;
                    serde_json::to_string(&json!({
                        "dataset": dataset,
                        "deleted": {},
                        "anonymised": {},
                        "restricted": [{
                            "table": "all tables",
                            "rows": n,
                            "until": "the legal hold is lifted",
                            "why": format!("legal hold {} (Art. 17(3)(e) GDPR)", hold.reference),
                            "rule": "legal_hold",
                        }],
                    }))
                }
                None => {
                    let approved = review::approved_digest(steps, dataset);
                    let report = c
                        .erase(&ids, policy, now, approved.as_deref())
                        .await
                        .map_err(connector_error)?;
                    serde_json::to_string(&report)
                }
            },
            "40-restrict" => {
                let n = c.restrict(&ids).await.map_err(connector_error)?;
                serde_json::to_string(&json!({"dataset": dataset, "rows_flagged": n}))
            }
            "40-rectify" => {
                let changes = changes_for(c, d);
                let approved = review::approved_digest(steps, dataset);
                let n = if changes.is_empty() {
                    0
                } else {
                    c.rectify(&ids, &changes, approved.as_deref())
                        .await
                        .map_err(connector_error)?
                };
                let fields: Vec<&String> = changes.keys().collect();
                serde_json::to_string(
                    &json!({"dataset": dataset, "rows_corrected": n, "fields": fields}),
                )
            }
            other => {
                return Err(StepError::Refused(format!(
                    "unknown step `{other}:{dataset}` for request {}",
                    r.id
                )));
            }
        };
        out.map(Some).map_err(transient)
    }

    /// The active legal hold on `subject`, if any.
    async fn hold_on(&self, subject: &str) -> Result<Option<tutela_store::HoldRecord>, StepError> {
        use tutela_store::RetentionStore;
        let holds = self
            .requests
            .engine
            .store
            .holds(true)
            .await
            .map_err(|e| StepError::Transient(format!("storage: {e}")))?;
        Ok(holds
            .into_iter()
            .find(|h| h.subject.as_deref() == Some(subject)))
    }

    /// Withdraws the named consent, or every active one.
    async fn withdraw(
        &self,
        subject: &str,
        d: &RequestDetails,
        key: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StepError> {
        let engine = &self.requests.engine;
        let policy = &engine.policy();
        let state = engine.subject_state(subject);
        let mut targets: Vec<(String, Option<String>)> = Vec::new();
        match &d.purpose {
            Some(p) => targets.push((p.clone(), d.channel.clone())),
            None => {
                for p in &policy.policy.purposes {
                    if p.consent_basis().is_none() {
                        continue;
                    }
                    if p.consent_per_channel {
                        for &c in &p.channels {
                            let ch = policy.policy.channels[c].id.clone();
                            if state.consents & policy.consent_mask(&p.id, Some(&ch)) != 0 {
                                targets.push((p.id.clone(), Some(ch)));
                            }
                        }
                    } else if state.consents & policy.consent_mask(&p.id, None) != 0 {
                        targets.push((p.id.clone(), None));
                    }
                }
            }
        }
        for (i, (purpose, channel)) in targets.into_iter().enumerate() {
            let e = NewEvent {
                subject: subject.to_owned(),
                at: now,
                kind: EventKind::Consent {
                    purpose,
                    channel,
                    granted: false,
                    source: "data_subject_request".into(),
                    notice_version: policy.policy.version.clone(),
                },
                evidence: Some(format!("data subject request {key}")),
                reason: None,
                email: None,
                idempotency_key: Some(format!("{key}:{i}")),
                policy_version: policy.policy_version().to_owned(),
            };
            append(engine, e).await?;
        }
        Ok(None)
    }

    /// Builds the report (access), the summary (erasure, rectification, restriction) or the
    /// export (portability) from the collected steps, and stores it as the request's result.
    async fn produce(
        &self,
        r: &RequestRecord,
        step: &str,
        now: Timestamp,
    ) -> Result<(), StepError> {
        let engine = &self.requests.engine;
        // The steps as stored now, not as this pass read them: an erasure of the person since
        // then cleared what was collected of them, and the report must not bring it back.
        let steps = &engine.store.steps(&r.id).await.map_err(transient)?;
        let collected = Collected::from_steps(steps);
        let subject = r.subject.clone().unwrap_or_default();
        let state = engine.subject_state(&subject);
        let expires = now
            .checked_add(self.requests.settings.result_retention)
            .unwrap_or(Timestamp::MAX);
        let made = Made {
            subject: &subject,
            state: &state,
            collected: &collected,
            now,
            expires,
        };
        if step == "90-report" {
            self.produce_report(r, &made).await
        } else if step == "90-summary" {
            produce_summary(&engine.store, r, steps, &made).await
        } else {
            self.produce_export(r, &made).await
        }
    }

    /// The access report (Art. 15): the collected data with the person's risk checks and
    /// disclosures, stored as JSON and as HTML.
    async fn produce_report(&self, r: &RequestRecord, made: &Made<'_>) -> Result<(), StepError> {
        let engine = &self.requests.engine;
        let store = &engine.store;
        let lang = details(r).lang_or_default();
        let checks = risk_check_entries(store, made.subject).await?;
        let disclosures = disclosure_entries(store, made.subject, made.now).await?;
        let doc = report::build(&ReportInput {
            policy: &engine.policy(),
            subject: made.subject,
            state: made.state,
            email: made.collected.email.as_deref(),
            history: &made.collected.history,
            tables: &made.collected.tables,
            risk_checks: &checks,
            disclosures: &disclosures,
            now: made.now,
            lang,
            time_zone: &self.requests.settings.deadlines.time_zone,
        });
        let json =
            serde_json::to_vec_pretty(&doc).map_err(|e| StepError::Transient(e.to_string()))?;
        let html = report::render_html(&doc);
        let both: [(&str, &[u8]); 2] = [("json", &json), ("html", html.as_bytes())];
        store
            .put_results(&r.id, &both, made.now, made.expires)
            .await
            .map_err(transient)
    }

    /// The portability export (Art. 20): what the person provided or generated by using the
    /// service, from the tables the maps mark portable, and in tutela the address and the
    /// consents; stored as one ZIP file.
    async fn produce_export(&self, r: &RequestRecord, made: &Made<'_>) -> Result<(), StepError> {
        let email = made.collected.email.as_deref();
        let mut files = vec![(
            "tutela/person.csv".to_owned(),
            person_csv(made.subject, email, made.state).into_bytes(),
        )];
        let consents: Vec<&HistoryEntry> = made
            .collected
            .history
            .iter()
            .filter(|h| h.event.starts_with("consent_"))
            .collect();
        files.push((
            "tutela/consents.csv".to_owned(),
            consents_csv(&consents).into_bytes(),
        ));
        let portable = portable_tables(&self.requests.connectors, &made.collected.tables);
        for t in &portable {
            files.push((
                format!("{}/{}.csv", t.dataset, t.table),
                export::csv(&t.columns, &t.rows).into_bytes(),
            ));
        }
        let json = json!({
            "tutela": {
                "person": {"id": made.subject, "email": email, "relationship": made.state.relationship.as_str()},
                "consents": consents,
            },
            "datasets": portable,
        });
        files.push((
            "data.json".to_owned(),
            serde_json::to_vec_pretty(&json).map_err(|e| StepError::Transient(e.to_string()))?,
        ));
        let zip = export::zip(&files);
        self.requests
            .engine
            .store
            .put_result(&r.id, "zip", &zip, made.now, made.expires)
            .await
            .map_err(transient)
    }
}

/// What a result is made of, shared by the report, the summary and the export.
struct Made<'a> {
    subject: &'a str,
    state: &'a tutela_core::state::SubjectState,
    collected: &'a Collected,
    now: Timestamp,
    /// When the stored result is deleted (the settings' result retention after `now`).
    expires: Timestamp,
}

/// What the collect steps found of the person: tutela's history and address, and the rows
/// of the operator's datasets.
struct Collected {
    history: Vec<HistoryEntry>,
    email: Option<String>,
    tables: Vec<CollectedTable>,
}

impl Collected {
    /// Reads the outputs of the `10-collect:*` steps; an output that cannot be read counts
    /// as nothing collected.
    fn from_steps(steps: &[StepRecord]) -> Collected {
        let own: Value = steps
            .iter()
            .find(|s| s.step == "10-collect:tutela")
            .and_then(|s| s.output.as_deref())
            .and_then(|o| serde_json::from_str(o).ok())
            .unwrap_or(Value::Null);
        let history = own["history"]
            .as_array()
            .map(|a| a.iter().filter_map(history_entry).collect())
            .unwrap_or_default();
        let tables = steps
            .iter()
            .filter(|s| s.step.starts_with("10-collect:") && s.step != "10-collect:tutela")
            .filter_map(|s| s.output.as_deref())
            .filter_map(|o| serde_json::from_str::<Value>(o).ok())
            // `{dataset, tables, rows, data}`; a bare list from before the counts.
            .map(|v| if v.is_array() { v } else { v["data"].clone() })
            .filter_map(|v| serde_json::from_value::<Vec<CollectedTable>>(v).ok())
            .flatten()
            .collect();
        Collected {
            history,
            email: own["email"].as_str().map(str::to_owned),
            tables,
        }
    }
}

/// The person's risk checks (N14) as the report shows them, probability to four places.
async fn risk_check_entries(
    store: &tutela_store::AnyStore,
    subject: &str,
) -> Result<Vec<report::RiskCheckEntry>, StepError> {
    Ok(tutela_store::RiskStore::risk_checks_of(store, subject)
        .await
        .map_err(transient)?
        .into_iter()
        .map(|c| report::RiskCheckEntry {
            at: c.created_at.to_string(),
            outcome: c.outcome,
            review: c.review,
            probability: (c.probability * 10_000.0).round() / 10_000.0,
            points: c.points,
            reasons: serde_json::from_str::<Value>(&c.reasons)
                .ok()
                .and_then(|v| serde_json::from_value(v["reasons"].clone()).ok())
                .unwrap_or_default(),
            agency_queried: c.agency_queried,
            kept_until: c.expires_at.to_string(),
        })
        .collect())
}

/// The disclosures of the person's data that were allowed and are not barred at `now`.
async fn disclosure_entries(
    store: &tutela_store::AnyStore,
    subject: &str,
    now: Timestamp,
) -> Result<Vec<report::DisclosureEntry>, StepError> {
    Ok(
        tutela_store::DisclosureStore::disclosures_of(store, subject)
            .await
            .map_err(transient)?
            .into_iter()
            .filter(|d| d.allowed && !d.barred(now))
            .map(|d| report::DisclosureEntry {
                at: d.at.to_string(),
                recipient: d.recipient,
                purpose: d.purpose,
                categories: serde_json::from_str(&d.categories).unwrap_or_default(),
                legal_basis: d.legal_basis,
                reference: d.reference,
            })
            .collect(),
    )
}

/// What an erasure, rectification or restriction did (counts, tables, rules, dates), stored
/// as JSON.
async fn produce_summary(
    store: &tutela_store::AnyStore,
    r: &RequestRecord,
    steps: &[StepRecord],
    made: &Made<'_>,
) -> Result<(), StepError> {
    let done: Vec<Value> = steps
        .iter()
        .filter(|s| s.step.starts_with("40-"))
        .map(|s| {
            json!({
                "step": s.step,
                "result": s.output.as_deref().and_then(|o| serde_json::from_str::<Value>(o).ok()),
            })
        })
        .collect();
    let summary = json!({
        "request": r.id,
        "type": r.request_type,
        "subject": made.subject,
        "datasets": done,
        "tutela": steps.iter().find(|s| s.step.starts_with("50-")).map(|s| s.status.as_str()),
        "generated_at": made.now.to_string(),
    });
    let json =
        serde_json::to_vec_pretty(&summary).map_err(|e| StepError::Transient(e.to_string()))?;
    store
        .put_result(&r.id, "json", &json, made.now, made.expires)
        .await
        .map_err(transient)
}

/// The export's `tutela/person.csv`: the person's id, address and relationship.
fn person_csv(
    subject: &str,
    email: Option<&str>,
    state: &tutela_core::state::SubjectState,
) -> String {
    export::csv(
        &[
            "id".to_owned(),
            "email".to_owned(),
            "relationship".to_owned(),
        ],
        &[vec![
            Some(subject.to_owned()),
            email.map(str::to_owned),
            Some(state.relationship.as_str().to_owned()),
        ]],
    )
}

/// The export's `tutela/consents.csv`: one row per consent given or withdrawn.
fn consents_csv(consents: &[&HistoryEntry]) -> String {
    let rows: Vec<Vec<Option<String>>> = consents
        .iter()
        .map(|h| {
            vec![
                Some(h.at.clone()),
                Some(h.event.clone()),
                h.purpose.clone(),
                h.channel.clone(),
                h.source.clone(),
                h.notice_version.clone(),
            ]
        })
        .collect();
    let header: Vec<String> = [
        "at",
        "event",
        "purpose",
        "channel",
        "source",
        "notice_version",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    export::csv(&header, &rows)
}

/// The collected tables that their dataset's map marks portable (Art. 20).
fn portable_tables<'a>(
    connectors: &[Arc<tutela_connectors::Connector>],
    tables: &'a [CollectedTable],
) -> Vec<&'a CollectedTable> {
    tables
        .iter()
        .filter(|t| {
            connectors.iter().any(|c| {
                c.map.id == t.dataset
                    && c.map
                        .table(&t.table)
                        .is_some_and(|i| c.map.tables[i].portable)
            })
        })
        .collect()
}

fn history_entry(v: &Value) -> Option<HistoryEntry> {
    let s = |k: &str| v[k].as_str().map(str::to_owned);
    Some(HistoryEntry {
        at: s("at")?,
        event: s("event")?,
        purpose: s("purpose"),
        channel: s("channel"),
        scope: s("scope"),
        source: s("source"),
        notice_version: s("notice_version"),
        evidence: s("evidence"),
        reason: s("reason"),
        policy_version: s("policy_version"),
    })
}

/// The changes a rectification asks of dataset `c`: the fields it knows.
fn changes_for(
    c: &tutela_connectors::Connector,
    d: &RequestDetails,
) -> std::collections::BTreeMap<String, String> {
    let known = c.rectifiable();
    d.changes
        .iter()
        .flatten()
        .filter(|(k, _)| known.contains(k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn connector_error(e: ConnectorError) -> StepError {
    match e {
        ConnectorError::Refused(why) => StepError::Refused(why),
        e @ ConnectorError::Stale(_) => StepError::Stale(e.to_string()),
        // The map failed its check at start: the dataset is never touched. The step waits,
        // failed with the dataset and the missing table or column named, and is tried again
        // (with backoff) once the map or database is fixed and tutela restarted; nothing after
        // it runs meanwhile, so no later step reports the person erased while the dataset
        // still holds them.
        e @ ConnectorError::Broken { .. } => StepError::Transient(e.to_string()),
        // A value not of its column's type, or one the database refuses for good (NOT NULL,
        // too long, a constraint): trying again would fail the same way. The error names the
        // table and column, never the value.
        e if e.is_permanent() => StepError::Refused(e.to_string()),
        // A database away, or one that does not match its map: recorded, shown, retried.
        other => StepError::Transient(other.to_string()),
    }
}

fn transient(e: impl std::fmt::Display) -> StepError {
    StepError::Transient(e.to_string())
}

fn engine_error(e: EngineError) -> StepError {
    match e {
        EngineError::Rejected(err) => StepError::Refused(err.message),
        EngineError::IdempotencyConflict => {
            StepError::Refused("the step was recorded differently before".into())
        }
        EngineError::Storage(s) => StepError::Transient(s),
        EngineError::Closed => StepError::Transient("the writer has stopped".into()),
    }
}

async fn append(engine: &crate::engine::Engine, e: NewEvent) -> Result<Option<String>, StepError> {
    engine.append(e).await.map(|_| None).map_err(engine_error)
}

impl Worker {
    /// Who a verified request is about, before its steps are planned: `Ok` with the request
    /// when there is someone to act for; `Err` with the request answered when nothing about
    /// the person is held anywhere (`no_data_held`), or when its identifiers found someone but
    /// nobody was named (refused: the steps would act on nobody). A dataset that cannot be
    /// asked leaves the request verified, tried again at the next pass.
    async fn who(
        &self,
        r: RequestRecord,
        now: Timestamp,
    ) -> Result<Result<RequestRecord, RequestRecord>, RequestError> {
        let requests = &self.requests;
        let datasets: Vec<String> = requests
            .connectors
            .iter()
            .map(|c| c.map.id.clone())
            .collect();
        let resolution = match &r.subject {
            Some(subject) => {
                if requests.tutela_holds(subject).await? {
                    return Ok(Ok(r));
                }
                // The identifiers the steps will use: the id, the address on file, those the
                // request names.
                let ids = self
                    .identities(subject, &details(&r))
                    .await
                    .map_err(|e| match e {
                        StepError::Transient(why)
                        | StepError::Refused(why)
                        | StepError::AwaitApproval(why)
                        | StepError::Stale(why) => RequestError::Storage(why),
                    })?;
                let res = requests.resolve_ids(&ids).await?;
                if !res.unavailable.is_empty() {
                    // Not sure nothing is held: the steps run and retry the dataset.
                    return Ok(Ok(r));
                }
                res
            }
            None => {
                let res = requests.resolve(&r).await?;
                if !res.unavailable.is_empty() {
                    return Err(RequestError::Unresolved(format!(
                        "dataset(s) {} could not be reached",
                        res.unavailable.join(", ")
                    )));
                }
                if res.holds_data() {
                    let reason = "the request was verified without naming the person, and its identifiers find data held: an agent must file it again naming the person";
                    // Refused and told, with where to complain (Art. 12(4)).
                    let done = requests
                        .refuse(&r.id, reason.to_owned(), "worker", now)
                        .await?;
                    return Ok(Err(done));
                }
                res
            }
        };
        if resolution.holds_data() {
            return Ok(Ok(r));
        }
        let done = requests.answer_no_data(r, "worker", &datasets, now).await?;
        Ok(Err(done))
    }
}

/// Whether a step done may run again after a crash with the same effect, so that its record
/// can wait for the next one: reads of the person's data and plans (nothing written), and the
/// results (a report, an export, a summary) that overwrite themselves.
fn repeatable(step: &str) -> bool {
    ["10-collect:", "30-plan:", "90-"]
        .iter()
        .any(|p| step.starts_with(p))
}

/// Why a request whose steps all ran did nothing, if it did: a rectification that corrected no
/// row in any dataset and nothing in tutela. Such a request is not reported `completed`.
fn nothing_done(request_type: Option<RequestType>, steps: &[StepRecord]) -> Option<String> {
    let out = |s: &StepRecord| -> Value {
        s.output
            .as_deref()
            .and_then(|o| serde_json::from_str(o).ok())
            .unwrap_or(Value::Null)
    };
    match request_type {
        Some(RequestType::Rectification) => {
            let rows: u64 = steps
                .iter()
                .filter(|s| s.step.starts_with("40-rectify:") && s.status == StepStatus::Done)
                .map(|s| out(s)["rows_corrected"].as_u64().unwrap_or(0))
                .sum();
            // The ledger step writes the new address when one was asked for; otherwise its
            // output says `changed: 0`.
            let tutela_unchanged = steps
                .iter()
                .filter(|s| s.step == "50-rectify:tutela")
                .all(|s| out(s)["changed"] == json!(0));
            (rows == 0 && tutela_unchanged).then(|| {
                "nothing was corrected: none of the fields to correct is held for the person (0 rows)"
                    .to_owned()
            })
        }
        _ => None,
    }
}

/// What the erasure steps of the operator's databases kept under a retention duty, as the
/// reason of a restriction: per dataset and table the rows, the rule, the date until which
/// they are kept and the fields kept; `None` when nothing was kept.
fn retained_records(steps: &[StepRecord]) -> Option<String> {
    let parts: Vec<String> = kept_records(steps)
        .into_iter()
        .map(|k| {
            format!(
                "{}.{}: {} rows kept until {} ({}: {}), fields kept: {}",
                k.dataset,
                k.table,
                k.rows,
                k.until,
                k.rule,
                k.why,
                k.fields.join(", "),
            )
        })
        .collect();
    (!parts.is_empty()).then(|| {
        format!(
            "{}, restricted: {}",
            tutela_core::write_rules::RETAINED_RECORDS,
            parts.join("; ")
        )
    })
}

/// What the erasure steps kept because a running contract needs it, as refusal reasons.
fn kept_for_contract(steps: &[StepRecord]) -> Vec<String> {
    let mut out = Vec::new();
    for report in super::kept::erase_reports(steps) {
        for k in report["kept_for_contract"].as_array().into_iter().flatten() {
            out.push(format!(
                "{} rows of {}.{} kept for the running contract (Art. 6(1)(b) GDPR) until {}",
                k["rows"],
                report["dataset"].as_str().unwrap_or(""),
                k["table"].as_str().unwrap_or(""),
                k["until"].as_str().unwrap_or("the contract ends"),
            ));
        }
    }
    out
}

/// Rows an erasure step of an operator database kept under a retention duty.
struct KeptRecords {
    dataset: String,
    table: String,
    rows: Value,
    until: String,
    rule: String,
    why: String,
    /// The fields kept (the others were erased in those rows).
    fields: Vec<String>,
}

/// What the erasure steps' outputs say they kept, in step order.
fn kept_records(steps: &[StepRecord]) -> Vec<KeptRecords> {
    let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
    let mut out = Vec::new();
    for report in super::kept::erase_reports(steps) {
        for k in report["restricted"].as_array().into_iter().flatten() {
            out.push(KeptRecords {
                dataset: text(&report["dataset"]),
                table: text(&k["table"]),
                rows: k["rows"].clone(),
                until: text(&k["until"]),
                rule: text(&k["rule"]),
                why: text(&k["why"]),
                fields: k["kept"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
            });
        }
    }
    out
}
