//! tutela's HTTP API. This is the only crate that knows HTTP and the JSON wire format.
//!
//! [`app`] builds the router from an [`Engine`]; [`serve`] binds it. Decisions read the
//! in-memory state of the engine and never touch the database; writes go through the engine's
//! single writer, which checks them against the policy, commits them durably, updates the
//! in-memory state and only then acknowledges.

mod auth;
mod dto;
mod extract;
pub mod fuzzing;
mod headers;
mod openapi;
pub mod problem;
mod routes;
pub mod web;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};

pub use problem::Problem;
use tutela_runtime::{Engine, jobs, requests, risk, verifiable_log};

/// The largest request body accepted: a full batch of 10,000 decision queries fits.
pub const BODY_LIMIT: usize = 8 * 1024 * 1024;
/// The most queries one batch may hold.
pub const MAX_BATCH: usize = 10_000;

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub requests: Arc<requests::Requests>,
    /// The risk check, when a scorecard is configured.
    pub risk: Option<Arc<risk::RiskService>>,
    pub token: Arc<str>,
    /// The privacy center's and console's settings and rate limits.
    pub web: Arc<web::WebContext>,
    /// Hours a call-summary draft waits for its agent's review (N24).
    pub summary_hours: i64,
    /// The key that signs the verifiable log's tree heads; kept outside the store.
    pub log_key: Option<Arc<verifiable_log::LogKey>>,
    /// How often the log sealing job signs a head, when it runs.
    pub head_every: Option<std::time::Duration>,
    /// The pseudonymisation keys (from a key file outside the store), when configured.
    pub pseudonyms: Option<Arc<tutela_core::pseudonym::PseudonymKeys>>,
}

impl AppState {
    /// The state for `engine` with the request workflow on `settings`, `mailer` and the
    /// operator's databases. It starts nothing: [`AppState::jobs`] names the background jobs,
    /// which `tutela serve` starts.
    pub fn new(
        engine: Arc<Engine>,
        settings: requests::RequestSettings,
        mailer: Arc<dyn requests::mailer::Mailer>,
        fulfilment: requests::Fulfilment,
        token: &str,
    ) -> AppState {
        // Kept copies of mails (the outbox) are named with the server's key, and an erasure
        // removes the person's at once.
        mailer.use_key(&settings.hmac_key);
        engine.keep_mail_copies_in(mailer.clone());
        let requests = Arc::new(requests::Requests::new(
            engine.clone(),
            settings,
            mailer,
            fulfilment,
        ));
        AppState {
            engine,
            requests,
            risk: None,
            token: token.into(),
            web: Arc::new(web::WebContext::default()),
            summary_hours: routes::summaries::DRAFT_VALIDITY_HOURS,
            log_key: None,
            head_every: None,
            pseudonyms: None,
        }
    }

    /// The background jobs of this state, not yet started: requests, retention,
    /// pseudonymised-dataset deletion, purges, sign-in mails, policy activation and, with a log
    /// key and an interval for heads, log sealing. `tutela serve` adds the event stream when NATS
    /// is configured and starts them.
    pub fn jobs(&self) -> jobs::Scheduler {
        let r = &self.requests;
        let mut scheduler = jobs::Scheduler::new()
            .with(jobs::requests::RequestsJob::new(r))
            .with(jobs::retention::RetentionJob::new(r))
            .with(jobs::datasets::DatasetsJob::new(r))
            .with(jobs::purges::PurgesJob::new(r))
            .with(jobs::signin_mails::SigninMailsJob::new(
                r,
                self.web.mail_ceiling.clone(),
            ))
            .with(jobs::activation::ActivationJob::new(
                &self.engine,
                std::time::Duration::from_secs(1),
            ));
        if let (Some(key), Some(every)) = (&self.log_key, self.head_every) {
            scheduler = scheduler.with(jobs::log_sealing::LogSealingJob::new(
                &self.engine,
                key.clone(),
                every,
            ));
        }
        scheduler
    }

    /// The same state with pseudonyms for small batches and their reversal (N7b); requests
    /// then also find persons through the network identifiers the ledger links to them.
    pub fn with_pseudonyms(mut self, keys: tutela_core::pseudonym::PseudonymKeys) -> AppState {
        let keys = Arc::new(keys);
        self.requests.use_pseudonyms(keys.clone());
        self.pseudonyms = Some(keys);
        self
    }

    /// The same state with these settings for the pages.
    pub fn with_web(mut self, settings: web::WebSettings) -> AppState {
        // The sweep started with the state reads the ceiling from here.
        let mail_ceiling = self.web.mail_ceiling.clone();
        match mail_ceiling.write() {
            Ok(mut c) => *c = settings.mail_ceiling(),
            Err(poisoned) => *poisoned.into_inner() = settings.mail_ceiling(),
        }
        self.web = Arc::new(web::WebContext {
            settings,
            mail_ceiling,
        });
        self
    }

    /// The same state signing tree heads with `key`; with `head_every`, [`AppState::jobs`]
    /// includes the log sealing job (new rows every second, a head every `head_every` when the
    /// log grew).
    pub fn with_log_key(
        mut self,
        key: verifiable_log::LogKey,
        head_every: Option<std::time::Duration>,
    ) -> AppState {
        self.log_key = Some(Arc::new(key));
        self.head_every = head_every;
        self
    }

    /// The same state with risk checks on `model` (and an agency, when configured).
    pub fn with_risk(mut self, risk: risk::RiskService) -> AppState {
        self.risk = Some(Arc::new(risk));
        self
    }
}

/// The whole HTTP API.
pub fn app(state: AppState) -> Router {
    let protected = Router::new()
        .route(
            "/v1/subjects/{id}",
            get(routes::subjects::get).put(routes::subjects::put),
        )
        .route(
            "/v1/subjects/{id}/consents",
            get(routes::consents::history).post(routes::consents::record_consent),
        )
        .route("/v1/subjects/{id}/tcf", post(routes::consents::tcf))
        .route(
            "/v1/subjects/{id}/consent-uses",
            post(routes::consents::record_use),
        )
        .route(
            "/v1/subjects/{id}/objections",
            post(routes::subjects::object),
        )
        .route(
            "/v1/subjects/{id}/restriction",
            post(routes::subjects::restrict).delete(routes::subjects::lift_restriction),
        )
        .route("/v1/subjects/{id}/erasure", post(routes::subjects::erase))
        .route(
            "/v1/subjects/{id}/transfer-consents",
            post(routes::consents::transfer),
        )
        .route(
            "/v1/subjects/{id}/call-consents",
            post(routes::consents::call_consent),
        )
        .route(
            "/v1/subjects/{id}/transfer-necessities",
            post(routes::consents::necessity),
        )
        .route(
            "/v1/subjects/{id}/identifiers",
            post(routes::consents::identifier),
        )
        .route(
            "/v1/log/head",
            get(routes::log::head).post(routes::log::sign),
        )
        .route("/v1/log/proof/{event}", get(routes::log::inclusion))
        .route("/v1/log/consistency", get(routes::log::consistency))
        .route("/v1/decisions", post(routes::decisions::single))
        .route("/v1/decisions/batch", post(routes::decisions::batch))
        .route("/v1/policy", get(routes::meta::policy))
        .route("/v1/record", get(routes::meta::record))
        .route("/v1/policy/versions", get(routes::meta::versions))
        .route("/v1/policy/diff", get(routes::meta::diff))
        .route(
            "/v1/requests",
            post(routes::requests::create).get(routes::requests::list),
        )
        .route("/v1/requests/{id}", get(routes::requests::get))
        .route("/v1/requests/{id}/verify", post(routes::requests::verify))
        .route(
            "/v1/requests/{id}/verify-by-agent",
            post(routes::requests::verify_by_agent),
        )
        .route("/v1/requests/{id}/plan", get(routes::requests::plan))
        .route("/v1/requests/{id}/approve", post(routes::requests::approve))
        .route("/v1/requests/{id}/extend", post(routes::requests::extend))
        .route("/v1/requests/{id}/refuse", post(routes::requests::refuse))
        .route(
            "/v1/requests/{id}/classify",
            post(routes::requests::classify),
        )
        .route("/v1/requests/{id}/result", get(routes::requests::result))
        .route(
            "/v1/audiences",
            // A million ids do not fit the default body limit.
            post(routes::audiences::create).layer(DefaultBodyLimit::max(64 << 20)),
        )
        .route("/v1/disclosures", post(routes::disclosures::create))
        .route(
            "/v1/disclosures/{id}/lift-bar",
            post(routes::disclosures::lift_bar),
        )
        .route(
            "/v1/subjects/{id}/disclosures",
            get(routes::disclosures::list),
        )
        .route("/v1/call-summaries", post(routes::summaries::create))
        .route("/v1/call-summaries/{id}", get(routes::summaries::get))
        .route(
            "/v1/subjects/{id}/call-summaries",
            get(routes::summaries::of_subject),
        )
        .route("/v1/pseudonyms", post(routes::pseudonyms::create))
        .route("/v1/pseudonyms/reverse", post(routes::pseudonyms::reverse))
        .route(
            "/v1/pseudonymised-datasets",
            get(routes::pseudonyms::list).post(routes::pseudonyms::register),
        )
        .route(
            "/v1/pseudonymised-datasets/{id}/budget",
            get(routes::statistics::budget),
        )
        .route("/v1/statistics", post(routes::statistics::create))
        .route("/v1/redactions", post(routes::redactions::create))
        .route("/v1/retention/plan", get(routes::retention::plan))
        .route(
            "/v1/retention/sweeps",
            get(routes::retention::sweeps).post(routes::retention::open),
        )
        .route(
            "/v1/legal-holds",
            get(routes::retention::holds).post(routes::retention::place),
        )
        .route("/v1/legal-holds/{id}/lift", post(routes::retention::lift))
        .route("/v1/risk-checks", post(routes::risk::create))
        .route("/v1/risk-checks/{id}", get(routes::risk::get))
        .route("/v1/risk-checks/{id}/review", post(routes::risk::review))
        .route("/v1/risk-reviews", get(routes::risk::reviews))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    Router::new()
        .merge(protected)
        .merge(web::router(state.clone()))
        .route("/v1/notice", get(routes::meta::notice))
        .route("/healthz", get(routes::meta::healthz))
        .route("/readyz", get(routes::meta::readyz))
        .route("/metrics", get(routes::meta::metrics))
        .route("/openapi.json", get(openapi::serve))
        .fallback(web::missing::not_found)
        .method_not_allowed_fallback(web::missing::method_not_allowed)
        .layer(middleware::from_fn(headers::security_headers))
        .layer(middleware::from_fn(headers::count_responses))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Serves `app` on `listener` until ctrl-c or SIGTERM.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    // The peer address is kept for the pages' rate limits.
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
