//! `tutela gate`: usage and traffic events through the gate (N7b, N19), on NATS JetStream.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::Subcommand;
use tutela_core::gate::{GateCounts, Route, parse_routes};
use tutela_runtime::gate::{GateSettings, SharedCounts};

use crate::config::Config;

#[derive(Subcommand)]
pub enum GateCommand {
    /// Runs every route of the routes file until SIGINT or SIGTERM, then prints the counts.
    Run {
        /// The routes file (see policies/gate.toml).
        #[arg(long, default_value = "policies/gate.toml")]
        routes: String,
        /// NATS: one URL or a cluster's URLs separated by commas (default: `nats_url` of the
        /// config file, else nats://127.0.0.1:4222).
        #[arg(long, env = "TUTELA_NATS_URL")]
        nats: Option<String>,
        /// Replicas of the streams the gate creates (3 on a three-node cluster).
        #[arg(long, default_value_t = 1)]
        replicas: usize,
        /// The pseudonymisation key file.
        #[arg(long)]
        keys: Option<String>,
        /// Messages per fetch.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Seconds between purges of expired days from the target streams.
        #[arg(long, default_value_t = 60)]
        purge_seconds: u64,
        /// Seconds a fetched event waits for its ack before it is delivered again (to another
        /// gate process, when this one died).
        #[arg(long, default_value_t = 30)]
        ack_wait_seconds: u64,
        #[command(flatten)]
        sources: crate::Sources,
    },
    /// Checks a routes file against the policy.
    Check {
        #[arg(long, default_value = "policies/gate.toml")]
        routes: String,
        #[arg(long, env = "TUTELA_POLICY")]
        policy: Option<String>,
    },
    /// Purges every expired day from the routes' target streams now (the retention companion,
    /// for when no gate runs).
    Purge {
        #[arg(long, default_value = "policies/gate.toml")]
        routes: String,
        #[arg(long, env = "TUTELA_NATS_URL")]
        nats: Option<String>,
        #[arg(long, env = "TUTELA_POLICY")]
        policy: Option<String>,
    },
}

fn routes(
    path: &str,
    policy: &tutela_core::compiled::CompiledPolicy,
) -> anyhow::Result<Vec<Route>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    parse_routes(path, &text, policy).map_err(|e| anyhow::anyhow!("{e}"))
}

pub(crate) fn nats_url(config: &Config, flag: &Option<String>) -> String {
    flag.clone()
        .or_else(|| config.nats_url.clone())
        .unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned())
}

/// The counts as JSON: per route, events passed, expired, dropped and dead-lettered by reason.
pub fn summary(counts: &[(String, GateCounts)]) -> serde_json::Value {
    let routes: Vec<serde_json::Value> = counts
        .iter()
        .map(|(id, c)| {
            serde_json::json!({
                "route": id,
                "events": c.total(),
                "passed": c.passed,
                "expired": c.expired,
                "dropped": c.dropped,
                "dead_letters": c.dead,
                "fields_dropped": c.fields_dropped,
                "redelivered": c.redelivered,
            })
        })
        .collect();
    serde_json::json!({ "routes": routes })
}

pub async fn run(command: GateCommand, config: &Config) -> anyhow::Result<ExitCode> {
    match command {
        GateCommand::Check {
            routes: path,
            policy,
        } => {
            let policy = crate::load_policy(&config.policy(&policy))?;
            let routes = routes(&path, &policy)?;
            for r in &routes {
                say!(
                    "route {}: {} -> {} (dead letters {}), purpose {}, {} fields, expiry by `{}` ({})",
                    r.id,
                    r.source,
                    r.target,
                    r.dead_letter,
                    r.purpose,
                    r.fields.len(),
                    r.retention,
                    r.period
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        GateCommand::Purge {
            routes: path,
            nats,
            policy,
        } => {
            let policy = crate::load_policy(&config.policy(&policy))?;
            let routes = routes(&path, &policy)?;
            let client = async_nats_connect(&nats_url(config, &nats)).await?;
            let js = async_nats::jetstream::new(client);
            let today = jiff::Timestamp::now()
                .to_zoned(jiff::tz::TimeZone::UTC)
                .date();
            for r in &routes {
                let n = tutela_runtime::gate::purge_expired(&js, r, today).await?;
                say!("route {}: {n} expired events purged", r.id);
            }
            Ok(ExitCode::SUCCESS)
        }
        GateCommand::Run {
            routes: path,
            nats,
            replicas,
            keys,
            batch,
            purge_seconds,
            ack_wait_seconds,
            sources,
        } => {
            let file_policy = crate::load_policy(&config.policy(&sources.policy))?;
            let url = config.database(&sources.database);
            let store = config.open_store(&url).await?;
            tutela_store::Store::migrate(&store).await?;
            let policy = crate::in_force_or(&store, file_policy).await?;
            let routes = routes(&path, &policy)?;
            let keys = tutela_store::vault::read_pseudonym_keys(
                &config.pseudonym_key_source(keys.as_deref()),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut settings = GateSettings::new(&nats_url(config, &nats));
            settings.batch = batch.clamp(1, 10_000);
            settings.replicas = replicas.clamp(1, 5);
            settings.purge_every = std::time::Duration::from_secs(purge_seconds.max(1));
            settings.ack_wait = std::time::Duration::from_secs(ack_wait_seconds.max(1));
            let counts: SharedCounts = Arc::new(Mutex::new(Vec::new()));
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                tutela_server::shutdown().await;
                let _ = stop_tx.send(true);
            });
            tutela_runtime::gate::run(
                store,
                Arc::new(policy),
                routes,
                keys,
                settings,
                counts.clone(),
                stop_rx,
            )
            .await?;
            let counts = counts.lock().unwrap_or_else(|p| p.into_inner()).clone();
            say!("{}", summary(&counts));
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub(crate) async fn async_nats_connect(url: &str) -> anyhow::Result<async_nats::Client> {
    async_nats::ConnectOptions::new()
        .connection_timeout(std::time::Duration::from_secs(5))
        .connect(tutela_runtime::gate::server_urls(url).as_slice())
        .await
        .with_context(|| format!("connecting to NATS at {}", crate::redact(url)))
}
