//! The scheduler of tutela's background jobs.
//!
//! A job is a single step ([`Job::step`]) with a name, an interval, an optional lease (held in
//! the store while the step runs, so that one instance of several runs it) and an optional
//! wake-up (a request became workable: the step runs at once rather than at the next
//! interval). Tests drive the steps themselves; the scheduler only decides *when* a step runs.
//! Nothing starts a job but [`Scheduler::start`], which `tutela serve` calls: no constructor
//! spawns one.
//!
//! Each job holds weak references to what it works on, so a job ends when the engine or the
//! request service it serves is dropped (the step answers [`Next::Stop`]).
//!
//! The jobs, each in its own file: [`requests`] (take verified requests up and run their
//! steps), [`retention`] (open and run retention sweeps), [`datasets`] (delete pseudonymised
//! datasets whose purpose ended), [`purges`] (requests, risk checks, call-summary drafts and
//! web sessions past their time), [`signin_mails`], [`log_sealing`], [`activation`] (switch to
//! a scheduled policy version) and [`event_stream`] (publish the ledger to NATS).

pub mod activation;
pub mod datasets;
pub mod event_stream;
pub mod log_sealing;
pub mod purges;
pub mod requests;
pub mod retention;
pub mod signin_mails;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::Notify;
use tutela_store::AnyStore;

/// What a job's step returns: when the scheduler runs it next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// At the job's next interval (or wake-up).
    Interval,
    /// At once: the step stopped with work left (a publishing backlog).
    Again,
    /// After this pause: the step failed or a peer is away.
    After(Duration),
    /// Never: what the job works on is gone.
    Stop,
}

/// A boxed step, so that jobs of different types share one scheduler.
pub type StepFuture<'a> = Pin<Box<dyn Future<Output = Next> + Send + 'a>>;

/// A boxed loop that runs beside a job.
pub type Listener = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The lease a job holds while its step runs.
#[derive(Debug, Clone, Copy)]
pub struct Lease {
    pub name: &'static str,
    /// How long the lease lasts unless renewed (renewed every third of it while the step runs).
    pub ttl: Duration,
}

/// One background job: a named single step run at an interval.
pub trait Job: Send + Sync + 'static {
    /// The job's name in logs and in ARCHITECTURE.md.
    fn name(&self) -> &'static str;
    /// How long after a step the next one runs (also the wait before the first).
    fn every(&self) -> Duration;
    /// The lease the step runs under, and the store it is held in; `None` when every instance
    /// runs the step (it changes this instance's memory, or is idempotent and cheap).
    fn lease(&self) -> Option<(Lease, AnyStore, String)> {
        None
    }
    /// What wakes the job before its interval.
    fn wake(&self) -> Option<Arc<Notify>> {
        None
    }
    /// A loop started beside the job that wakes it from outside (another instance's notices).
    fn listener(&self) -> Option<Listener> {
        None
    }
    /// Runs the job once at `now`; `woken` when a wake-up rather than the interval started it.
    fn step(&self, now: Timestamp, woken: bool) -> StepFuture<'_>;
}

/// The jobs of one instance, not yet started.
#[derive(Default)]
pub struct Scheduler {
    jobs: Vec<Arc<dyn Job>>,
}

/// The running jobs; dropping it (or [`Running::stop`]) stops them.
pub struct Running {
    tasks: tokio::task::JoinSet<()>,
}

impl Running {
    /// Stops every job: a step in progress is cut off, which each step allows (its work is
    /// idempotent and resumes at the next start).
    pub async fn stop(mut self) {
        self.tasks.shutdown().await;
    }

    /// Waits until every job has ended (each ends when what it works on is dropped).
    pub async fn ended(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

impl Scheduler {
    pub fn new() -> Scheduler {
        Scheduler::default()
    }

    /// Adds `job`; it starts with the others.
    pub fn with(mut self, job: impl Job) -> Scheduler {
        self.jobs.push(Arc::new(job));
        self
    }

    /// The names of the jobs, in the order they were added.
    pub fn names(&self) -> Vec<&'static str> {
        self.jobs.iter().map(|j| j.name()).collect()
    }

    /// Starts every job on the current tokio runtime.
    pub fn start(self) -> Running {
        let mut tasks = tokio::task::JoinSet::new();
        for job in self.jobs {
            if let Some(listener) = job.listener() {
                tasks.spawn(listener);
            }
            tasks.spawn(run(job));
        }
        Running { tasks }
    }
}

/// Runs `job` until its step answers [`Next::Stop`].
async fn run(job: Arc<dyn Job>) {
    let wake = job.wake();
    let mut next_interval = tokio::time::Instant::now() + job.every();
    let mut pause: Option<Duration> = None;
    let mut again = false;
    loop {
        let woken = if again {
            again = false;
            false
        } else {
            let until = match pause.take() {
                Some(p) => tokio::time::Instant::now() + p,
                None => next_interval,
            };
            match &wake {
                Some(w) => tokio::select! {
                    () = w.notified() => true,
                    () = tokio::time::sleep_until(until) => false,
                },
                None => {
                    tokio::time::sleep_until(until).await;
                    false
                }
            }
        };
        if !woken {
            next_interval = tokio::time::Instant::now() + job.every();
        }
        let next = match job.lease() {
            None => job.step(Timestamp::now(), woken).await,
            Some((lease, store, owner)) => {
                let step = job.step(Timestamp::now(), woken);
                match crate::lease::holding(&store, lease.name, &owner, lease.ttl, step).await {
                    Ok(Some(next)) => next,
                    // Another instance holds the lease: it runs the job.
                    Ok(None) => Next::Interval,
                    Err(e) => {
                        tracing::warn!(job = job.name(), error = %e, "taking the job's lease failed");
                        Next::Interval
                    }
                }
            }
        };
        match next {
            Next::Interval => {}
            Next::Again => again = true,
            Next::After(p) => pause = Some(p),
            Next::Stop => return,
        }
    }
}

/// The lease `name` of a job over the request service, held by the service's owner for three
/// of the job's intervals (at least 30 s) and renewed while a step runs; `None` once the service
/// is gone.
pub(crate) fn service_lease(
    requests: &std::sync::Weak<crate::requests::Requests>,
    name: &'static str,
    every: Duration,
) -> Option<(Lease, AnyStore, String)> {
    let r = requests.upgrade()?;
    let ttl = (every * 3).max(Duration::from_secs(30));
    Some((Lease { name, ttl }, r.engine.store.clone(), r.owner.clone()))
}

/// Logs a failed step of `job` and answers when to run it again: at the next interval.
pub(crate) fn failed(job: &str, error: &dyn std::fmt::Display) -> Next {
    tracing::warn!(job, error = %error, "a job's step failed; it runs again at its next interval");
    Next::Interval
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Counts its steps, and whether a wake-up started them; answers `answers` in turn, then
    /// `Next::Interval`.
    struct Counting {
        every: Duration,
        wake: Arc<Notify>,
        steps: Arc<AtomicUsize>,
        woken: Arc<AtomicUsize>,
        answers: std::sync::Mutex<Vec<Next>>,
    }

    impl Job for Counting {
        fn name(&self) -> &'static str {
            "counting"
        }
        fn every(&self) -> Duration {
            self.every
        }
        fn wake(&self) -> Option<Arc<Notify>> {
            Some(self.wake.clone())
        }
        fn step(&self, _now: Timestamp, woken: bool) -> StepFuture<'_> {
            self.steps.fetch_add(1, Ordering::SeqCst);
            if woken {
                self.woken.fetch_add(1, Ordering::SeqCst);
            }
            let next = self
                .answers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop()
                .unwrap_or(Next::Interval);
            Box::pin(async move { next })
        }
    }

    fn counting(
        every: Duration,
        mut answers: Vec<Next>,
    ) -> (Counting, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        answers.reverse();
        let steps = Arc::new(AtomicUsize::new(0));
        let woken = Arc::new(AtomicUsize::new(0));
        let job = Counting {
            every,
            wake: Arc::new(Notify::new()),
            steps: steps.clone(),
            woken: woken.clone(),
            answers: std::sync::Mutex::new(answers),
        };
        (job, steps, woken)
    }

    #[tokio::test(start_paused = true)]
    async fn a_step_runs_at_each_interval_and_at_once_when_woken() {
        let (job, steps, woken) = counting(Duration::from_secs(60), vec![]);
        let wake = job.wake.clone();
        let running = Scheduler::new().with(job).start();
        tokio::time::sleep(Duration::from_secs(59)).await;
        assert_eq!(
            steps.load(Ordering::SeqCst),
            0,
            "nothing runs before the first interval"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(steps.load(Ordering::SeqCst), 1);
        wake.notify_one();
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(
            (steps.load(Ordering::SeqCst), woken.load(Ordering::SeqCst)),
            (2, 1)
        );
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(
            steps.load(Ordering::SeqCst),
            3,
            "a wake-up does not move the interval"
        );
        running.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn again_runs_at_once_after_pauses_and_stop_ends_the_job() {
        let answers = vec![
            Next::Again,
            Next::Again,
            Next::After(Duration::from_secs(5)),
            Next::Stop,
        ];
        let (job, steps, _) = counting(Duration::from_secs(60), answers);
        let running = Scheduler::new().with(job).start();
        tokio::time::sleep(Duration::from_secs(61)).await;
        assert_eq!(
            steps.load(Ordering::SeqCst),
            3,
            "the first step and two at once"
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(
            steps.load(Ordering::SeqCst),
            4,
            "after the pause, not the interval"
        );
        // The fourth step answered Stop: the job ended, so the scheduler has nothing left.
        tokio::time::timeout(Duration::from_secs(1), running.ended())
            .await
            .expect("the job ended");
        assert_eq!(steps.load(Ordering::SeqCst), 4);
    }
}
