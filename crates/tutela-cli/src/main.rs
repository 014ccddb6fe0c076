//! The `tutela` command.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a CLI's output is its interface"
)]

/// `println!` for the command's output: when the reader has gone (`tutela … | head`), the
/// command ends quietly instead of panicking.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($t)*).is_err() {
            std::process::exit(0);
        }
    }};
}

/// `print!` for the command's output, with the same care as [`say!`].
macro_rules! say_raw {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if write!(std::io::stdout(), $($t)*).is_err() {
            std::process::exit(0);
        }
    }};
}

mod client;
mod config;
mod datasets_cmd;
mod events_cmd;
mod gate_cmd;
mod keys_cmd;
mod log_cmd;
mod operators_cmd;
mod plan_text;
mod policy_cmd;
mod pseudonymise_cmd;
mod requests_cmd;
mod retention_cmd;
mod risk_cmd;
mod serve_check;
mod stats_cmd;

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serve_check::{LoadedMap, ServeSetup, check_against_policy, check_serve};
use tutela_core::compiled::CompiledPolicy;
use tutela_runtime::Engine;
use tutela_server::AppState;
use tutela_store::{AnyStore, Store};

#[derive(Parser)]
#[command(
    name = "tutela",
    version,
    about = "tutela: the privacy notice as code — decisions, consents, objections, erasure"
)]
struct Cli {
    /// The configuration file (TOML; every key is in the README's configuration table); flags
    /// and environment variables take precedence over it.
    #[arg(long, global = true, env = "TUTELA_CONFIG")]
    config: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct Sources {
    /// Database URL: `sqlite://PATH` (default `sqlite://tutela.db`) or `postgres://…`.
    #[arg(long, env = "TUTELA_DATABASE_URL")]
    database: Option<String>,
    /// Policy file; the built-in reference policy when not given.
    #[arg(long, env = "TUTELA_POLICY")]
    policy: Option<String>,
}

#[derive(Subcommand)]
enum AiCommand {
    /// Reviewed call summaries as JSON lines for training (N25), never of persons who
    /// objected or were erased; no ids are written. `--basis consent`: as written, of persons
    /// who consented to `ai_training`; `--basis redacted`: of everyone else too, with their
    /// personal data replaced by its type (legitimate interest, Art. 6(1)(f)).
    TrainingSet {
        #[arg(long)]
        out: String,
        /// `consent` or `redacted`.
        #[arg(long, default_value = "consent")]
        basis: String,
        #[command(flatten)]
        sources: Sources,
    },
}

#[derive(Subcommand)]
enum TransfersCommand {
    /// Every flow of personal data to a third country, its legal ground, and the flows that
    /// lack one (exit 1 when any does).
    Report {
        /// Policy file; the built-in reference policy when not given.
        #[arg(long)]
        policy: Option<String>,
        /// md or csv.
        #[arg(long, default_value = "md")]
        format: String,
        /// The day to judge on (YYYY-MM-DD); today when not given.
        #[arg(long)]
        at: Option<String>,
        /// Count the Art. 49 grounds recorded per person (N31) from this database's ledger
        /// (Markdown only).
        #[arg(long)]
        database: Option<String>,
    },
}

#[derive(Subcommand)]
enum DemoCommand {
    /// Fill a PostgreSQL database with customers, contact persons, contracts, SIM cards
    /// (ICCID, IMSI, MSISDN), devices, usage records, invoices, payments and service tickets
    /// (about 23 rows per person), and write its dataset map.
    Seed {
        /// How many persons.
        #[arg(long, default_value_t = 10_000)]
        subjects: u64,
        /// The PostgreSQL database to fill (its tables must not exist yet).
        #[arg(long, env = "TUTELA_DEMO_DATABASE_URL")]
        database: String,
        /// Where to write the dataset map.
        #[arg(long, default_value = "demo-operator.toml")]
        map_out: String,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long, env = "TUTELA_LISTEN")]
        listen: Option<String>,
        #[command(flatten)]
        sources: Sources,
    },
    /// AI training data (N25).
    Ai {
        #[command(subcommand)]
        command: AiCommand,
    },
    /// Operator accounts of the console (roles dpo, agent, auditor; password and TOTP).
    Operators {
        #[command(subcommand)]
        command: operators_cmd::OperatorsCommand,
    },
    /// Dataset maps against their databases: `check` reads, never writes.
    Datasets {
        #[command(subcommand)]
        command: datasets_cmd::DatasetsCommand,
    },
    /// Retention sweeps of the operator's databases and legal holds (N5a, N6, N7b).
    Retention {
        #[command(subcommand)]
        command: retention_cmd::RetentionCommand,
    },
    /// The event stream for downstream systems: every ledger event and request transition
    /// on NATS JetStream.
    Events {
        #[command(subcommand)]
        command: events_cmd::EventsCommand,
    },
    /// Usage and traffic events from NATS JetStream through the gate: decided, pseudonymised,
    /// given an expiry (N7b, N19).
    Gate {
        #[command(subcommand)]
        command: gate_cmd::GateCommand,
    },
    /// Create or upgrade the database schema.
    Migrate {
        #[command(flatten)]
        sources: Sources,
    },
    /// Check, cover, render or test a policy.
    Policy {
        #[command(subcommand)]
        command: policy_cmd::PolicyCommand,
    },
    /// Data subject requests, through a running server.
    Requests {
        #[command(flatten)]
        server: requests_cmd::Server,
        #[command(subcommand)]
        command: requests_cmd::RequestsCommand,
    },
    /// File incoming messages as data subject requests (N10), through a running server.
    Intake {
        #[command(flatten)]
        server: requests_cmd::Server,
        #[command(subcommand)]
        command: requests_cmd::IntakeCommand,
    },
    /// Which persons of a CSV file (column `subject`) a marketing campaign may contact (N16–N19),
    /// through a running server: writes the contactable ids, and the others with their reason.
    Audience {
        #[command(flatten)]
        server: requests_cmd::Server,
        #[arg(long)]
        purpose: String,
        #[arg(long)]
        channel: Option<String>,
        /// A data category the campaign uses; repeat for several.
        #[arg(long = "category", required = true)]
        categories: Vec<String>,
        /// CSV with a header row and a `subject` column.
        #[arg(long = "in")]
        input: String,
        /// Where to write `subject,contact,reason` (standard output when not given).
        #[arg(long)]
        out: Option<String>,
        /// Language of the summary and the section 7(3) UWG objection notice: `de` or `en`.
        #[arg(long, default_value = "de")]
        lang: String,
    },
    /// Find personal data in a text file and write it redacted (N24, N25).
    Redact {
        /// The text to redact.
        #[arg(long = "in")]
        input: String,
        /// Where to write the redacted text (standard output when not given).
        #[arg(long)]
        out: Option<String>,
        /// replace (`<IBAN>`), mask (`****`) or pseudonym (`<EMAIL:3f9a…>`, keyed HMAC in
        /// --domain).
        #[arg(long, default_value = "replace")]
        operator: String,
        /// A regular expression for the operator's customer numbers (default: the policy's
        /// `[redaction] customer_number`).
        #[arg(long)]
        customer_number: Option<String>,
        /// A name known to be in the text (repeated): found without a context word too.
        #[arg(long = "name")]
        names: Vec<String>,
        /// The pseudonymisation domain of `--operator pseudonym`, e.g. ai_training.
        #[arg(long)]
        domain: Option<String>,
        /// The key file for `--operator pseudonym`.
        #[arg(long)]
        keys: Option<String>,
        /// The policy file (for its customer-number pattern).
        #[arg(long)]
        policy: Option<String>,
    },
    /// Pseudonymise columns of a CSV file (N7b, N7c, N16): HMAC pseudonyms per domain, or
    /// format-preserving FF1 pseudonyms of IMSI, ICCID, MSISDN, IMEI and IBAN.
    Pseudonymise(pseudonymise_cmd::PseudonymiseArgs),
    /// Anonymous statistics (N7c, N16): counts, sums, means and histograms per group, groups
    /// under k persons suppressed; with --dataset through the server, with noise from the
    /// dataset's privacy budget.
    Stats(stats_cmd::StatsArgs),
    /// Transfers to third countries (N29–N31).
    Transfers {
        #[command(subcommand)]
        command: TransfersCommand,
    },
    /// The verifiable log (RFC 6962): verify it from the store, check a proof, show the key.
    Log {
        #[command(subcommand)]
        command: log_cmd::LogCommand,
    },
    /// The master keys of encryption at rest: status, rotation, retiring an old key.
    Keys {
        #[command(subcommand)]
        command: keys_cmd::KeysCommand,
    },
    /// The risk check's scorecard (N14): train, score, explain.
    Risk {
        #[command(subcommand)]
        command: risk_cmd::RiskCommand,
    },
    /// A realistic operator database to try tutela on and to measure it with.
    Demo {
        #[command(subcommand)]
        command: DemoCommand,
    },
    /// Decide one query against a database, as the API would.
    Decide {
        #[arg(long)]
        subject: String,
        #[arg(long)]
        purpose: String,
        /// A data category; repeat for several.
        #[arg(long = "category", required = true)]
        categories: Vec<String>,
        #[arg(long)]
        channel: Option<String>,
        #[arg(long)]
        recipient: Option<String>,
        #[arg(long)]
        country: Option<String>,
        /// The call, for a purpose with consent per call (call recording, N23).
        #[arg(long)]
        call: Option<String>,
        #[command(flatten)]
        sources: Sources,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TUTELA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = config::Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Policy { command } => policy_cmd::run(command, &config),
        Command::Risk { command } => risk_cmd::run(command),
        Command::Keys { command } => keys_cmd::run(command, &config),
        Command::Pseudonymise(args) => {
            let started = std::time::Instant::now();
            let summary = pseudonymise_cmd::run(&args, &config)?;
            let secs = started.elapsed().as_secs_f64();
            for e in summary.rejected.iter().take(20) {
                eprintln!("rejected: {e}");
            }
            eprintln!(
                "{} rows read, {} pseudonyms under key {}, {} rejected, in {secs:.2} s",
                summary.rows,
                summary.pseudonyms,
                summary.key_id,
                summary.rejected.len()
            );
            match summary.registered {
                Some(r) => eprintln!("{r}"),
                None => eprintln!(
                    "not registered: no retention rule will delete this file; use --register-for PURPOSE (N7b)"
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Stats(args) => {
            let outcome = stats_cmd::run(&args, &config)?;
            say_raw!("{}", outcome.csv);
            for n in outcome.notes {
                eprintln!("{n}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Log { command } => {
            let database = match &command {
                log_cmd::LogCommand::Verify { database, .. } => config.database(database),
                _ => String::new(),
            };
            if matches!(command, log_cmd::LogCommand::Verify { .. }) {
                config::existing_database(&database)?;
            }
            log_cmd::run(command, database)
        }
        Command::Redact {
            input,
            out,
            operator,
            customer_number,
            names,
            domain,
            keys,
            policy,
        } => {
            use tutela_core::redact::{Operator, Recognisers, redact};
            // The key comes first: a missing key stops the run before any output.
            let domain = match (operator.as_str(), &domain) {
                ("pseudonym", Some(d)) => {
                    let keys: tutela_core::pseudonym::PseudonymKeys =
                        tutela_store::vault::read_pseudonym_keys(&config.pseudonym_key_source(keys.as_deref()))?;
                    Some(keys.domain(d, None)?)
                }
                ("pseudonym", None) => anyhow::bail!("--operator pseudonym needs --domain, e.g. ai_training"),
                _ => None,
            };
            let op = match (operator.as_str(), &domain) {
                ("replace", _) => Operator::Replace,
                ("mask", _) => Operator::Mask,
                ("pseudonym", Some(d)) => Operator::Pseudonym(d),
                (other, _) => anyhow::bail!("unknown operator `{other}`; use replace, mask or pseudonym"),
            };
            let customer_number = match customer_number {
                Some(p) => Some(p),
                None => load_policy(&config.policy(&policy))?
                    .policy
                    .redaction
                    .and_then(|r| r.customer_number),
            };
            let text = std::fs::read_to_string(&input).with_context(|| format!("reading {input} (UTF-8 text)"))?;
            let r = Recognisers::new(customer_number.as_deref())
                .and_then(|r| r.with_names(&names))
                .map_err(|e| anyhow::anyhow!("--customer-number or --name is not usable: {e}"))?;
            let findings = r.find(&text);
            let redacted = redact(&text, &findings, op);
            match out {
                Some(path) => {
                    let tmp = format!("{path}.tmp");
                    std::fs::write(&tmp, &redacted).with_context(|| format!("writing {tmp}"))?;
                    std::fs::rename(&tmp, &path).with_context(|| format!("writing {path}"))?;
                }
                None => say_raw!("{redacted}"),
            }
            let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
            for f in &findings {
                *counts.entry(f.entity.label()).or_insert(0) += 1;
            }
            eprintln!(
                "{} findings: {}",
                findings.len(),
                counts.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Audience {
            server,
            purpose,
            channel,
            categories,
            input,
            out,
            lang,
        } => runtime()?.block_on(requests_cmd::audience(
            server, purpose, channel, categories, input, out, &lang,
        )),
        Command::Transfers {
            command:
                TransfersCommand::Report {
                    policy,
                    format,
                    at,
                    database,
                },
        } => {
            let policy = load_policy(&config.policy(&policy))?;
            let today = match at {
                Some(d) => d
                    .parse::<jiff::civil::Date>()
                    .with_context(|| format!("`{d}` is not a date such as 2026-11-30"))?,
                None => jiff::Zoned::now().date(),
            };
            let flows = tutela_core::transfers::flows(&policy.policy, today);
            let persons = match &database {
                Some(url) => Some(runtime()?.block_on(async {
                    let store = tutela_store::AnyStore::open(url).await?;
                    // Decision states only: no personal attribute is read, so no keys needed.
                    let (states, _) = tutela_runtime::engine::load_states(&store, &policy).await?;
                    Ok::<_, tutela_store::StoreError>(tutela_core::transfers::person_grounds(
                        &policy,
                        states.iter().map(|(_, s)| s),
                    ))
                })?),
                None => None,
            };
            match format.as_str() {
                "md" => say_raw!(
                    "{}",
                    tutela_core::transfers::markdown(
                        &flows,
                        today,
                        &policy.policy.transfers.derogations,
                        persons.as_deref()
                    )
                ),
                "csv" => say_raw!("{}", tutela_core::transfers::csv(&flows)),
                other => anyhow::bail!("unknown format `{other}`; use md or csv"),
            }
            Ok(if flows.iter().all(|f| f.ground.is_some()) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Demo {
            command:
                DemoCommand::Seed {
                    subjects,
                    database,
                    map_out,
                },
        } => runtime()?.block_on(async {
            let policy = load_policy(&config.policy(&None))?;
            let map = tutela_core::datamap::load("demo-operator.toml", tutela_connectors::demo::MAP, &policy.policy)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let c = tutela_connectors::Connector::open(map, Some(&database), Vec::new())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let started = std::time::Instant::now();
            c.run_statements(&tutela_connectors::demo::seed_postgres(subjects))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let rows: f64 = tutela_connectors::demo::ROWS_PER_PERSON.iter().map(|(_, per)| per).sum();
            std::fs::write(&map_out, tutela_connectors::demo::MAP)
                .with_context(|| format!("writing {map_out}"))?;
            say!(
                "seeded {subjects} persons, about {:.0} rows, in {:.1} s; dataset map in {map_out} (set TUTELA_DEMO_DATABASE_URL or `url` in [[dataset]])",
                rows * subjects as f64,
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }),
        Command::Requests { server, command } => {
            runtime()?.block_on(requests_cmd::requests(server, command))
        }
        Command::Intake { server, command } => {
            runtime()?.block_on(requests_cmd::intake(server, command))
        }
        Command::Serve { listen, sources } => {
            let listen = listen
                .or(config.listen.clone())
                .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
            runtime()?.block_on(serve(listen, sources, config))
        }
        Command::Operators { command } => {
            runtime()?.block_on(operators_cmd::run(command, &config))
        }
        Command::Ai {
            command: AiCommand::TrainingSet { out, basis, sources },
        } => runtime()?.block_on(training_set(sources, &config, &out, &basis)),
        Command::Datasets { command } => runtime()?.block_on(datasets_cmd::run(command, &config)),
        Command::Retention { command } => {
            runtime()?.block_on(retention_cmd::run(command, &config))
        }
        Command::Gate { command } => runtime()?.block_on(gate_cmd::run(command, &config)),
        Command::Events { command } => runtime()?.block_on(events_cmd::run(command, &config)),
        Command::Migrate { sources } => runtime()?.block_on(async {
            let url = config.database(&sources.database);
            // The schema only: no personal attribute is read or written, so no keys are needed.
            let store = AnyStore::open(&url)
                .await
                .with_context(|| format!("opening {}", redact(&url)))?;
            store.migrate().await?;
            say!("migrated {} database", store.backend());
            Ok(ExitCode::SUCCESS)
        }),
        Command::Decide {
            subject,
            purpose,
            categories,
            channel,
            recipient,
            country,
            call,
            sources,
        } => runtime()?.block_on(async {
            let policy = load_policy(&config.policy(&sources.policy))?;
            let url = config.database(&sources.database);
            // Decisions read event kinds, never personal attributes: no keys needed.
            let store = AnyStore::open(&url)
                .await
                .with_context(|| format!("opening {}", redact(&url)))?;
            store.migrate().await?;
            let events = store.history(&subject).await?;
            let now = jiff::Timestamp::now();
            let state = tutela_core::state::SubjectState::fold(
                &policy,
                events.iter().map(|e| &e.event),
                now,
            );
            let mut calls = tutela_core::calls::CallConsents::default();
            for e in &events {
                calls.apply(&policy, &e.event.subject, &e.event.kind, e.event.at);
            }
            // The one entry point the API and the scenarios use: same answer, same fields.
            let question = tutela_core::query::Question {
                purpose: &purpose,
                categories: categories.iter().map(String::as_str),
                channel: channel.as_deref(),
                recipient: recipient.as_deref(),
                country: country.as_deref(),
                call: call.as_deref(),
            };
            let person = tutela_core::query::Person {
                subject: &subject,
                state: &state,
                calls: &calls,
            };
            let answer = policy
                .answer(question, person, now)
                .map_err(|e| anyhow::anyhow!("{e}: {}", decide_fix(&e)))?;
            say!("{}", serde_json::to_string_pretty(&answer)?);
            Ok(if answer.allowed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }),
    }
}

/// How to ask `tutela decide` a question it refused as malformed; the error exits 2.
fn decide_fix(e: &tutela_core::query::QuestionError<'_>) -> &'static str {
    match e {
        tutela_core::query::QuestionError::CallRequired { .. } => {
            "pass the telephony system's id of the call with `--call`"
        }
    }
}

/// Opens a connector per configured dataset map and checks the database against its map.
async fn open_datasets(
    config: &config::Config,
    policy: &tutela_core::policy::Policy,
) -> anyhow::Result<Vec<std::sync::Arc<tutela_connectors::Connector>>> {
    let key = connector_key()?;
    let mut maps = Vec::new();
    for d in &config.dataset {
        let text = std::fs::read_to_string(&d.map).with_context(|| format!("reading {}", d.map))?;
        let map = tutela_core::datamap::load(&d.map, &text, policy)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        maps.push((d.clone(), map));
    }
    open_maps(maps, key).await
}

/// The keyed hash that erasure writes in place of identifiers; kept outside the database.
fn connector_key() -> anyhow::Result<Vec<u8>> {
    Ok(match std::env::var("TUTELA_PSEUDONYM_KEY") {
        Ok(k) if k.len() >= 16 => k.into_bytes(),
        Ok(_) => anyhow::bail!("TUTELA_PSEUDONYM_KEY must have at least 16 characters"),
        Err(_) => tutela_runtime::generate_token()
            .map_err(|e| anyhow::anyhow!("no randomness: {e}"))?
            .into_bytes(),
    })
}

/// Opens a connector per loaded dataset map and checks the database against its map.
async fn open_maps(
    maps: Vec<LoadedMap>,
    key: Vec<u8>,
) -> anyhow::Result<Vec<std::sync::Arc<tutela_connectors::Connector>>> {
    let mut out = Vec::new();
    for (d, map) in maps {
        let id = map.id.clone();
        let c = tutela_connectors::Connector::open(map, d.url.as_deref(), key.clone())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if let Err(e) = c.check().await {
            // A mismatch marks the dataset broken: never swept nor written until the map or
            // database is fixed and tutela restarted; /readyz and the console say why. The
            // server still serves (decisions do not need the operator's databases).
            tracing::error!(dataset = %id, error = %e, "the dataset does not match its map: it is not swept or written");
        }
        out.push(std::sync::Arc::new(c));
    }
    Ok(out)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// The policy in force: a version activated with `tutela policy activate` outlives restarts
/// and wins over the policy file, whatever the file says.
async fn in_force_or(
    store: &AnyStore,
    file_policy: CompiledPolicy,
) -> anyhow::Result<CompiledPolicy> {
    match tutela_runtime::activation::in_force(store)
        .await
        .map_err(|e| anyhow::anyhow!("the activated policy version cannot be loaded: {e}"))?
    {
        Some((activated, a)) => {
            if activated.policy.hash != file_policy.policy.hash {
                tracing::warn!(
                    activated = %a.hash,
                    file = %file_policy.policy.hash,
                    "the activated policy version is in force, not the policy file"
                );
            }
            Ok(activated)
        }
        None => Ok(file_policy),
    }
}

/// `tutela ai training-set`: reviewed call summaries for model training (N25), only for
/// persons who consented to `ai_training` and never for persons who objected; no ids leave.
async fn training_set(
    sources: Sources,
    config: &config::Config,
    out: &str,
    basis: &str,
) -> anyhow::Result<ExitCode> {
    use tutela_core::state::{ERASED, OBJECTED_LEGITIMATE_INTEREST};
    use tutela_store::SummaryStore;
    let redacting = match basis {
        "consent" => false,
        "redacted" => true,
        other => anyhow::bail!("--basis {other}: use consent or redacted"),
    };
    let file_policy = load_policy(&config.policy(&sources.policy))?;
    let url = config.database(&sources.database);
    let store = config.open_store(&url).await?;
    store.migrate().await?;
    tracing::info!(
        key_store = %redact(&config.keystore_url(&url)),
        "personal attributes are sealed with per-person keys (AES-256-GCM)"
    );
    let policy = in_force_or(&store, file_policy).await?;
    let Some(purpose) = policy.purpose_index("ai_training") else {
        anyhow::bail!("the policy has no purpose `ai_training` (N25); nothing can be exported");
    };
    let consent = policy.consent_mask("ai_training", None);
    let recognisers = tutela_core::redact::Recognisers::new(
        policy
            .policy
            .redaction
            .as_ref()
            .and_then(|r| r.customer_number.as_deref()),
    )
    .map_err(|e| anyhow::anyhow!("the policy's customer-number pattern: {e}"))?;
    if consent == 0 && !redacting {
        anyhow::bail!(
            "`ai_training` has no consent basis in the policy; nothing can be exported on consent"
        );
    }
    let (states, _) = tutela_runtime::engine::load_states(&store, &policy).await?;
    let mut lines = String::new();
    let (mut included, mut objected, mut no_consent, mut erased) = (0usize, 0usize, 0usize, 0usize);
    for s in store.all_reviewed_summaries().await? {
        let st = states.state(&s.subject);
        if st.has(ERASED) {
            erased += 1;
        } else if st.has(OBJECTED_LEGITIMATE_INTEREST)
            || st.objected & (1u64 << (purpose & 63)) != 0
        {
            objected += 1;
        } else if !redacting && (st.consents & consent == 0 || st.renewal() & consent != 0) {
            no_consent += 1;
        } else {
            included += 1;
            let text = s.text.unwrap_or_default();
            let (text, basis) = if redacting {
                let found = recognisers.find(&text);
                let clean = tutela_core::redact::redact(
                    &text,
                    &found,
                    tutela_core::redact::Operator::Replace,
                );
                (clean, "legitimate_interest_redacted")
            } else {
                (text, "consent")
            };
            let line = serde_json::json!({
                "text": text,
                "basis": basis,
                "policy_version": policy.policy_version(),
            });
            lines.push_str(&line.to_string());
            lines.push('\n');
        }
    }
    let tmp = format!("{out}.tmp");
    std::fs::write(&tmp, lines).with_context(|| format!("writing {tmp}"))?;
    std::fs::rename(&tmp, out).with_context(|| format!("writing {out}"))?;
    say!(
        "{included} summaries written to {out}; left out: {objected} objected, {no_consent} without consent, {erased} erased"
    );
    Ok(ExitCode::SUCCESS)
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}://{user}:***@{}", &url[..s], &url[at + 1..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

pub(crate) fn load_policy(path: &Option<String>) -> anyhow::Result<CompiledPolicy> {
    let policy = policy_cmd::load(path.as_deref()).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(CompiledPolicy::new(policy))
}

async fn serve(
    listen: String,
    sources: Sources,
    config: config::Config,
) -> anyhow::Result<ExitCode> {
    // 1. The whole configuration, before anything is created.
    let setup = check_serve(&listen, &sources, &config)?;
    let url = setup.url.clone();
    // 2. The policy in force: an activated version outlives restarts and wins over the file.
    // A store that exists is read for it (its maps and recipients are checked against it
    // before a key file is made); a new SQLite file has none, and is created only now.
    let store = AnyStore::open(&url)
        .await
        .with_context(|| format!("opening {}", redact(&url)))?;
    store.migrate().await?;
    let policy = in_force_or(&store, setup.file_policy.clone()).await?;
    let (maps, webhooks) = check_against_policy(&setup, &config, &policy.policy)?;
    // 3. The files: key store and master keys, token, pseudonymisation, HMAC and log keys,
    // the outbox. Key files before the socket: once it accepts, everything is there.
    let vault = config.vault(&url).await?;
    tracing::debug!(key_store = %redact(&setup.keystore), "the key store is open");
    let store = store.with_vault(vault);
    let token = match setup.token.clone() {
        Some(t) => t,
        None => config::write_token_file(&url)?,
    };
    let source = config.pseudonym_key_source(None);
    let pseudonym_keys = match &source {
        // The server's first start makes the key file, as it makes the other key files.
        tutela_store::vault::PseudonymKeySource::File(path) if !path.exists() => {
            let keys = tutela_store::vault::create_pseudonym_keys(path)?;
            tracing::info!(key_id = keys.active_id(), path = %path.display(), "pseudonymisation key file created");
            keys
        }
        _ => tutela_store::vault::read_pseudonym_keys(&source)?,
    };
    let ServeSetup {
        addr,
        mut settings,
        smtp,
        web,
        summary_hours,
        risk,
        connector_key,
        ..
    } = setup;
    let mailer: std::sync::Arc<dyn tutela_runtime::requests::mailer::Mailer> = match smtp {
        Some(smtp) => std::sync::Arc::new(smtp),
        // Never "no mail": sign-in and request codes still reach a person on this machine.
        None => {
            let dir = config.outbox_dir(&url);
            let outbox = tutela_runtime::requests::mailer::DirMailer::new(&dir)
                .map_err(|e| anyhow::anyhow!("outbox {}: {e}", dir.display()))?;
            tracing::warn!(
                outbox = %dir.display(),
                "no [smtp] configured: mails are written to the outbox directory"
            );
            std::sync::Arc::new(outbox)
        }
    };
    let hmac_path = config.hmac_key_path(&url);
    settings.hmac_key = tutela_runtime::hmac_key::HmacKey::load_or_create(&hmac_path)?;
    let key = tutela_runtime::verifiable_log::LogKey::load_or_create(&config.log_key_path())?;
    tracing::info!(
        key_id = key.key_id(),
        "tree heads of the verifiable log are signed with this key"
    );
    // 4. The operator's databases: each checked against its map (a mismatch marks the
    // dataset broken, it does not stop the server).
    let connectors = open_maps(maps, connector_key).await?;
    settings.retention = retention_cmd::sweep_settings(&config, &connectors);
    // 5. The engine, then the socket.
    let started = std::time::Instant::now();
    let mut options = tutela_runtime::engine::EngineOptions::default();
    if let Some(ms) = config.follow_poll_ms {
        options.follow.poll = std::time::Duration::from_millis(u64::from(ms.max(1)));
    }
    if let Some(listen) = config.follow_listen {
        options.follow.listen = listen;
    }
    let engine = Engine::start_with(store, policy, options)
        .await
        .context("starting the engine")?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tracing::info!(
        %addr,
        backend = engine.store.backend(),
        subjects = engine.states().len(),
        from_snapshot = engine.loaded.from_snapshot,
        events_folded = engine.loaded.events_folded,
        load_ms = started.elapsed().as_millis() as u64,
        policy_version = engine.policy().policy_version(),
        "tutela is serving"
    );
    let nats_url = std::env::var("TUTELA_NATS_URL")
        .ok()
        .or(config.nats_url.clone());
    // Every ledger event and request transition to downstream systems (docs/events.md).
    let event_stream = nats_url.as_ref().map(|url| {
        let mut settings = tutela_runtime::events::EventSettings::new(url);
        if let Some(days) = config.events_retention_days {
            settings.max_age = std::time::Duration::from_secs(u64::from(days.max(1)) * 86_400);
        }
        tutela_runtime::jobs::event_stream::EventStreamJob::new(engine.store.clone(), settings)
    });
    let nats = nats_url
        .clone()
        .map(|url| tutela_runtime::requests::notify::NatsSettings {
            url,
            ..Default::default()
        });
    let fulfilment = tutela_runtime::requests::Fulfilment {
        connectors,
        notifier: tutela_runtime::requests::notify::Notifier::new(webhooks, nats),
    };
    let mut state =
        AppState::new(engine.clone(), settings, mailer, fulfilment, &token).with_web(web);
    if let Some(h) = summary_hours {
        state.summary_hours = h;
    }
    if let Some((model, model_hash)) = risk {
        let agency = config.risk_agency_url.as_deref().map(|url| {
            tutela_runtime::risk::agency::AgencyClient::new(
                tutela_runtime::risk::agency::AgencySettings::new(url),
            )
        });
        state = state.with_risk(tutela_runtime::risk::RiskService::new(
            engine.clone(),
            model,
            model_hash,
            agency,
        ));
    }
    let head_every =
        std::time::Duration::from_secs(u64::from(config.log_head_seconds.unwrap_or(60).max(1)));
    state = state.with_log_key(key, Some(head_every));
    state = state.with_pseudonyms(pseudonym_keys);
    // The background jobs start here and nowhere else; they stop when the server does.
    let mut jobs = state.jobs();
    if let Some(job) = event_stream {
        jobs = jobs.with(job);
    }
    tracing::info!(jobs = ?jobs.names(), "background jobs start");
    let jobs = jobs.start();
    let served = tutela_server::serve(listener, state).await;
    jobs.stop().await;
    served?;
    // The next start reads this snapshot instead of folding the ledger.
    if engine.events_since_snapshot() > 0 {
        match engine.snapshot().await {
            Ok(persons) => tracing::info!(persons, "snapshot written at shutdown"),
            Err(e) => {
                tracing::warn!(error = %e, "no snapshot at shutdown; the next start folds the ledger")
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
