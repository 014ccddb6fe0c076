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
mod decide_cmd;
mod events_cmd;
mod gate_cmd;
mod keys_cmd;
mod log_cmd;
mod operators_cmd;
mod plan_text;
mod policy_cmd;
mod pseudonymise_cmd;
mod redact_cmd;
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
    Redact(redact_cmd::RedactArgs),
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
    Decide(decide_cmd::DecideArgs),
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

/// Runs the command; each command's work is in its own function or `*_cmd` module.
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = config::Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Policy { command } => policy_cmd::run(command, &config),
        Command::Risk { command } => risk_cmd::run(command),
        Command::Keys { command } => keys_cmd::run(command, &config),
        Command::Pseudonymise(args) => pseudonymise(&args, &config),
        Command::Stats(args) => stats(&args, &config),
        Command::Log { command } => log(command, &config),
        Command::Redact(args) => redact_cmd::run(args, &config),
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
        Command::Transfers { command } => transfers(command, &config),
        Command::Demo { command } => demo(command, &config),
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
        Command::Operators { command } => runtime()?.block_on(operators_cmd::run(command, &config)),
        Command::Ai { command } => ai(command, &config),
        Command::Datasets { command } => runtime()?.block_on(datasets_cmd::run(command, &config)),
        Command::Retention { command } => runtime()?.block_on(retention_cmd::run(command, &config)),
        Command::Gate { command } => runtime()?.block_on(gate_cmd::run(command, &config)),
        Command::Events { command } => runtime()?.block_on(events_cmd::run(command, &config)),
        Command::Migrate { sources } => runtime()?.block_on(migrate(&sources, &config)),
        Command::Decide(args) => runtime()?.block_on(decide_cmd::run(args, &config)),
    }
}

/// `tutela pseudonymise`: pseudonymises the file, then says on standard error what it did
/// (the first 20 rejected rows, the counts, and whether the file is registered for deletion).
fn pseudonymise(
    args: &pseudonymise_cmd::PseudonymiseArgs,
    config: &config::Config,
) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let summary = pseudonymise_cmd::run(args, config)?;
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

/// `tutela stats`: the CSV on standard output, the notes on standard error.
fn stats(args: &stats_cmd::StatsArgs, config: &config::Config) -> anyhow::Result<ExitCode> {
    let outcome = stats_cmd::run(args, config)?;
    say_raw!("{}", outcome.csv);
    for n in outcome.notes {
        eprintln!("{n}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `tutela log`: `verify` reads the configured database, which must exist; the other
/// subcommands need none.
fn log(command: log_cmd::LogCommand, config: &config::Config) -> anyhow::Result<ExitCode> {
    let database = match &command {
        log_cmd::LogCommand::Verify { database, .. } => config.database(database),
        _ => String::new(),
    };
    if matches!(command, log_cmd::LogCommand::Verify { .. }) {
        config::existing_database(&database)?;
    }
    log_cmd::run(command, database)
}

/// `tutela transfers report`: the flows to third countries as Markdown or CSV; exits 1 when
/// a flow lacks a legal ground.
fn transfers(command: TransfersCommand, config: &config::Config) -> anyhow::Result<ExitCode> {
    let TransfersCommand::Report {
        policy,
        format,
        at,
        database,
    } = command;
    let policy = load_policy(&config.policy(&policy))?;
    let today = match at {
        Some(d) => d
            .parse::<jiff::civil::Date>()
            .with_context(|| format!("`{d}` is not a date such as 2026-11-30"))?,
        None => jiff::Zoned::now().date(),
    };
    let flows = tutela_core::transfers::flows(&policy.policy, today);
    let persons = match &database {
        Some(url) => Some(runtime()?.block_on(person_grounds(url, &policy))?),
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

/// The Art. 49 grounds recorded per person (N31), counted from the database's ledger.
async fn person_grounds(
    url: &str,
    policy: &CompiledPolicy,
) -> Result<Vec<tutela_core::transfers::PersonGrounds>, tutela_store::StoreError> {
    let store = tutela_store::AnyStore::open(url).await?;
    // Decision states only: no personal attribute is read, so no keys needed.
    let (states, _) = tutela_runtime::engine::load_states(&store, policy).await?;
    Ok(tutela_core::transfers::person_grounds(
        policy,
        states.iter().map(|(_, s)| s),
    ))
}

/// `tutela demo seed`.
fn demo(command: DemoCommand, config: &config::Config) -> anyhow::Result<ExitCode> {
    let DemoCommand::Seed {
        subjects,
        database,
        map_out,
    } = command;
    runtime()?.block_on(demo_seed(config, subjects, &database, &map_out))
}

/// `tutela demo seed`: fills a PostgreSQL database with the demo operator's data and writes
/// its dataset map.
async fn demo_seed(
    config: &config::Config,
    subjects: u64,
    database: &str,
    map_out: &str,
) -> anyhow::Result<ExitCode> {
    let policy = load_policy(&config.policy(&None))?;
    let map = tutela_core::datamap::load(
        "demo-operator.toml",
        tutela_connectors::demo::MAP,
        &policy.policy,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let c = tutela_connectors::Connector::open(map, Some(database), Vec::new())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = std::time::Instant::now();
    c.run_statements(&tutela_connectors::demo::seed_postgres(subjects))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let rows: f64 = tutela_connectors::demo::ROWS_PER_PERSON
        .iter()
        .map(|(_, per)| per)
        .sum();
    std::fs::write(map_out, tutela_connectors::demo::MAP)
        .with_context(|| format!("writing {map_out}"))?;
    say!(
        "seeded {subjects} persons, about {:.0} rows, in {:.1} s; dataset map in {map_out} (set TUTELA_DEMO_DATABASE_URL or `url` in [[dataset]])",
        rows * subjects as f64,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// `tutela migrate`: creates or upgrades the schema.
async fn migrate(sources: &Sources, config: &config::Config) -> anyhow::Result<ExitCode> {
    let url = config.database(&sources.database);
    // The schema only: no personal attribute is read or written, so no keys are needed.
    let store = AnyStore::open(&url)
        .await
        .with_context(|| format!("opening {}", redact(&url)))?;
    store.migrate().await?;
    say!("migrated {} database", store.backend());
    Ok(ExitCode::SUCCESS)
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

/// `tutela ai training-set`.
fn ai(command: AiCommand, config: &config::Config) -> anyhow::Result<ExitCode> {
    let AiCommand::TrainingSet {
        out,
        basis,
        sources,
    } = command;
    runtime()?.block_on(training_set(sources, config, &out, &basis))
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
    let store = open_sealed(config, &sources).await?;
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
            lines.push_str(&training_line(
                text,
                redacting.then_some(&recognisers),
                policy.policy_version(),
            ));
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

/// The database with its key store, migrated: personal attributes can be read.
async fn open_sealed(config: &config::Config, sources: &Sources) -> anyhow::Result<AnyStore> {
    let url = config.database(&sources.database);
    let store = config.open_store(&url).await?;
    store.migrate().await?;
    tracing::info!(
        key_store = %redact(&config.keystore_url(&url)),
        "personal attributes are sealed with per-person keys (AES-256-GCM)"
    );
    Ok(store)
}

/// One summary's line of the training set: the text as written (consent), or with its
/// personal data replaced by its type when `redacting` with these recognisers.
fn training_line(
    text: String,
    redacting: Option<&tutela_core::redact::Recognisers>,
    policy_version: &str,
) -> String {
    let (text, basis) = match redacting {
        Some(recognisers) => {
            let found = recognisers.find(&text);
            let clean =
                tutela_core::redact::redact(&text, &found, tutela_core::redact::Operator::Replace);
            (clean, "legitimate_interest_redacted")
        }
        None => (text, "consent"),
    };
    serde_json::json!({
        "text": text,
        "basis": basis,
        "policy_version": policy_version,
    })
    .to_string()
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
    // 2. The policy in force, against which the maps and recipients are checked before a
    // key file is made.
    let (store, policy) = open_in_force(&url, setup.file_policy.clone()).await?;
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
    let pseudonym_keys = pseudonym_keys(&config)?;
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
    let mailer = mailer(smtp, &config, &url)?;
    let hmac_path = config.hmac_key_path(&url);
    settings.hmac_key = tutela_runtime::hmac_key::HmacKey::load_or_create(&hmac_path)?;
    let key = log_key(&config)?;
    // 4. The operator's databases: each checked against its map (a mismatch marks the
    // dataset broken, it does not stop the server).
    let connectors = open_maps(maps, connector_key).await?;
    settings.retention = retention_cmd::sweep_settings(&config, &connectors);
    // 5. The engine, then the socket.
    let started = std::time::Instant::now();
    let engine = Engine::start_with(store, policy, engine_options(&config))
        .await
        .context("starting the engine")?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    log_serving(addr, &engine, started);
    let nats_url = std::env::var("TUTELA_NATS_URL")
        .ok()
        .or(config.nats_url.clone());
    let event_stream = nats_url
        .as_ref()
        .map(|url| event_stream(url, &config, &engine));
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
        state = state.with_risk(risk_service(&config, &engine, model, model_hash));
    }
    let head_every =
        std::time::Duration::from_secs(u64::from(config.log_head_seconds.unwrap_or(60).max(1)));
    state = state.with_log_key(key, Some(head_every));
    state = state.with_pseudonyms(pseudonym_keys);
    serve_with_jobs(listener, state, event_stream).await?;
    snapshot_at_shutdown(&engine).await;
    Ok(ExitCode::SUCCESS)
}

/// The store, migrated, and the policy in force: an activated version outlives restarts and
/// wins over the file. A store that exists is read for it; a new SQLite file has none, and is
/// created only now.
async fn open_in_force(
    url: &str,
    file_policy: CompiledPolicy,
) -> anyhow::Result<(AnyStore, CompiledPolicy)> {
    let store = AnyStore::open(url)
        .await
        .with_context(|| format!("opening {}", redact(url)))?;
    store.migrate().await?;
    let policy = in_force_or(&store, file_policy).await?;
    Ok((store, policy))
}

/// The key that signs the verifiable log's tree heads, made on the first start.
fn log_key(config: &config::Config) -> anyhow::Result<tutela_runtime::verifiable_log::LogKey> {
    let key = tutela_runtime::verifiable_log::LogKey::load_or_create(&config.log_key_path())?;
    tracing::info!(
        key_id = key.key_id(),
        "tree heads of the verifiable log are signed with this key"
    );
    Ok(key)
}

/// Says what is being served: address, backend, persons, how the states were loaded and
/// how long it took, and the policy version.
fn log_serving(addr: std::net::SocketAddr, engine: &Engine, started: std::time::Instant) {
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
}

/// Serves the API until it stops, with the background jobs (and the event stream, when
/// configured) alongside: they start here and nowhere else, and stop when the server does.
async fn serve_with_jobs(
    listener: tokio::net::TcpListener,
    state: AppState,
    event_stream: Option<tutela_runtime::jobs::event_stream::EventStreamJob>,
) -> anyhow::Result<()> {
    let mut jobs = state.jobs();
    if let Some(job) = event_stream {
        jobs = jobs.with(job);
    }
    tracing::info!(jobs = ?jobs.names(), "background jobs start");
    let jobs = jobs.start();
    let served = tutela_server::serve(listener, state).await;
    jobs.stop().await;
    served?;
    Ok(())
}

/// The pseudonymisation keys of the server; its first start makes the key file, as it makes
/// the other key files.
fn pseudonym_keys(
    config: &config::Config,
) -> anyhow::Result<tutela_core::pseudonym::PseudonymKeys> {
    let source = config.pseudonym_key_source(None);
    Ok(match &source {
        tutela_store::vault::PseudonymKeySource::File(path) if !path.exists() => {
            let keys = tutela_store::vault::create_pseudonym_keys(path)?;
            tracing::info!(key_id = keys.active_id(), path = %path.display(), "pseudonymisation key file created");
            keys
        }
        _ => tutela_store::vault::read_pseudonym_keys(&source)?,
    })
}

/// The configured SMTP server, or else the outbox directory next to the database.
fn mailer(
    smtp: Option<tutela_runtime::requests::mailer::SmtpMailer>,
    config: &config::Config,
    url: &str,
) -> anyhow::Result<std::sync::Arc<dyn tutela_runtime::requests::mailer::Mailer>> {
    Ok(match smtp {
        Some(smtp) => std::sync::Arc::new(smtp),
        // Never "no mail": sign-in and request codes still reach a person on this machine.
        None => {
            let dir = config.outbox_dir(url);
            let outbox = tutela_runtime::requests::mailer::DirMailer::new(&dir)
                .map_err(|e| anyhow::anyhow!("outbox {}: {e}", dir.display()))?;
            tracing::warn!(
                outbox = %dir.display(),
                "no [smtp] configured: mails are written to the outbox directory"
            );
            std::sync::Arc::new(outbox)
        }
    })
}

/// How the engine follows the ledger, as configured (poll interval, LISTEN on PostgreSQL).
fn engine_options(config: &config::Config) -> tutela_runtime::engine::EngineOptions {
    let mut options = tutela_runtime::engine::EngineOptions::default();
    if let Some(ms) = config.follow_poll_ms {
        options.follow.poll = std::time::Duration::from_millis(u64::from(ms.max(1)));
    }
    if let Some(listen) = config.follow_listen {
        options.follow.listen = listen;
    }
    options
}

/// The job that sends every ledger event and request transition to downstream systems
/// (docs/events.md) on the NATS server at `url`.
fn event_stream(
    url: &str,
    config: &config::Config,
    engine: &Engine,
) -> tutela_runtime::jobs::event_stream::EventStreamJob {
    let mut settings = tutela_runtime::events::EventSettings::new(url);
    if let Some(days) = config.events_retention_days {
        settings.max_age = std::time::Duration::from_secs(u64::from(days.max(1)) * 86_400);
    }
    tutela_runtime::jobs::event_stream::EventStreamJob::new(engine.store.clone(), settings)
}

/// The risk check (N14) with its scorecard, asking the credit agency when one is configured.
fn risk_service(
    config: &config::Config,
    engine: &std::sync::Arc<Engine>,
    model: tutela_core::risk::Scorecard,
    model_hash: String,
) -> tutela_runtime::risk::RiskService {
    let agency = config.risk_agency_url.as_deref().map(|url| {
        tutela_runtime::risk::agency::AgencyClient::new(
            tutela_runtime::risk::agency::AgencySettings::new(url),
        )
    });
    tutela_runtime::risk::RiskService::new(engine.clone(), model, model_hash, agency)
}

/// Writes a snapshot of the decision states when the ledger moved since the last one: the
/// next start reads it instead of folding the ledger. A failure only costs that start time.
async fn snapshot_at_shutdown(engine: &Engine) {
    if engine.events_since_snapshot() > 0 {
        match engine.snapshot().await {
            Ok(persons) => tracing::info!(persons, "snapshot written at shutdown"),
            Err(e) => {
                tracing::warn!(error = %e, "no snapshot at shutdown; the next start folds the ledger")
            }
        }
    }
}
