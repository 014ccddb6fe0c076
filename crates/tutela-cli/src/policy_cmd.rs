//! `tutela policy check|coverage|render|test`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use tutela_core::compiled::CompiledPolicy;
use tutela_core::coverage::{coverage, notice_clauses, test_citations};
use tutela_core::policy::{Policy, PolicyErrors, Source, SourceLoader, load_policy};
use tutela_core::render::{Format, Lang, render_notice};
use tutela_core::scenario::{self, ScenarioFile};

/// The reference policy, built in so that `tutela serve` needs no file.
pub const REFERENCE: &str = include_str!("../../../policies/reference.toml");

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy; errors name file, line and column.
    Check { file: String },
    /// List each clause of the notice with the policy elements and tests citing it.
    Coverage {
        file: String,
        /// Files or folders with tests and scenario files to scan for `covers`.
        #[arg(long = "tests")]
        tests: Vec<String>,
        /// Exit non-zero when a clause lacks an element or a test.
        #[arg(long)]
        strict: bool,
    },
    /// Write the privacy notice from the policy.
    Render {
        file: String,
        #[arg(long, default_value = "de")]
        lang: String,
        #[arg(long, default_value = "md")]
        format: String,
    },
    /// What changed between two policies, in words; with a database, how many consents a
    /// widened consent purpose no longer covers.
    Diff {
        old: String,
        new: String,
        #[arg(long, default_value = "de")]
        lang: String,
        /// Count the active consents each widening concerns, from this database's ledger.
        #[arg(long)]
        database: Option<String>,
    },
    /// Make a policy version the one in force, now or at `--at`, on every server of the
    /// database: the files are checked as every server checks them when the version takes
    /// effect (validation, renewal rules of widened consent purposes), and stored only when
    /// they pass; the servers switch within a second of the effective time, without dropping
    /// requests.
    Activate {
        file: String,
        /// When it takes effect (RFC 3339, in the future); now when not given.
        #[arg(long)]
        at: Option<String>,
        /// The database (default: `database` of the configuration, else sqlite://tutela.db).
        #[arg(long, env = "TUTELA_DATABASE_URL")]
        database: Option<String>,
        /// The policy file the servers run with while no version has been activated (default:
        /// `policy` of the configuration, else the built-in reference policy).
        #[arg(long, env = "TUTELA_POLICY")]
        policy: Option<String>,
        /// Who asks (recorded with the activation).
        #[arg(long, env = "USER", default_value = "cli")]
        by: String,
    },
    /// The activations: versions scheduled, active, superseded, refused.
    Activations {
        #[arg(
            long,
            env = "TUTELA_DATABASE_URL",
            default_value = "sqlite://tutela.db"
        )]
        database: String,
    },
    /// The record of processing activities (Art. 30) written from the policy.
    Record {
        file: String,
        /// json, csv or jsonld (W3C DPV).
        #[arg(long, default_value = "json")]
        format: String,
        #[arg(long, default_value = "de")]
        lang: String,
    },
    /// Run decision scenarios against the policy.
    Test {
        file: String,
        #[arg(long)]
        scenarios: String,
    },
}

/// Reads policy files from disk; includes resolve relative to the including file.
struct FileLoader;

impl SourceLoader for FileLoader {
    fn load(&self, from: Option<&str>, path: &str) -> Result<Source, String> {
        let full = match from.and_then(|f| Path::new(f).parent()) {
            Some(dir) => dir.join(path),
            None => PathBuf::from(path),
        };
        let name = full.to_string_lossy().into_owned();
        let canonical =
            std::fs::canonicalize(&full).map_or(name.clone(), |p| p.to_string_lossy().into_owned());
        std::fs::read_to_string(&full)
            .map(|text| Source {
                name: if from.is_some() {
                    canonical.clone()
                } else {
                    name.clone()
                },
                text,
            })
            .map_err(|e| format!("cannot read `{name}`: {e}"))
    }
}

/// Loads the policy at `path`, or the built-in reference policy.
pub fn load(path: Option<&str>) -> Result<Policy, PolicyErrors> {
    match path {
        Some(p) => load_policy(&FileLoader, p),
        None => {
            let loader = tutela_core::policy::MemoryLoader::new().with("reference.toml", REFERENCE);
            load_policy(&loader, "reference.toml")
        }
    }
}

fn load_or_report(file: &str) -> Option<Policy> {
    match load(Some(file)) {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!("{e}");
            eprintln!("{} error(s) in the policy", e.0.len());
            None
        }
    }
}

fn collect_sources(paths: &[String], out: &mut Vec<(String, String)>) {
    for p in paths {
        let path = Path::new(p);
        if path.is_dir() {
            if let Ok(entries) = std::fs::read_dir(path) {
                let mut children: Vec<String> = entries
                    .filter_map(Result::ok)
                    .map(|e| e.path().to_string_lossy().into_owned())
                    .filter(|c| !c.contains("/target"))
                    .collect();
                children.sort();
                collect_sources(&children, out);
            }
        } else if (p.ends_with(".rs") || p.ends_with(".toml"))
            && let Ok(text) = std::fs::read_to_string(path)
        {
            out.push((p.clone(), text));
        }
    }
}

pub fn run(cmd: PolicyCommand, config: &crate::config::Config) -> anyhow::Result<ExitCode> {
    match cmd {
        PolicyCommand::Check { file } => Ok(match load_or_report(&file) {
            Some(p) => {
                say!(
                    "{file}: ok — {} purposes, {} categories, {} recipients; policy version {}",
                    p.purposes.len(),
                    p.categories.len(),
                    p.recipients.len(),
                    p.hash
                );
                ExitCode::SUCCESS
            }
            None => ExitCode::from(1),
        }),
        PolicyCommand::Coverage {
            file,
            tests,
            strict,
        } => {
            let Some(policy) = load_or_report(&file) else {
                return Ok(ExitCode::from(1));
            };
            let mut sources = Vec::new();
            collect_sources(&tests, &mut sources);
            let cites = test_citations(sources.iter().map(|(n, t)| (n.as_str(), t.as_str())));
            let report = coverage(&policy, &notice_clauses(), &cites);
            let mut gaps = 0;
            for (clause, c) in &report {
                let gap = c.elements.is_empty() || c.tests.is_empty();
                gaps += usize::from(gap);
                say!(
                    "{clause:5} {} elements: {}\n      tests: {}",
                    if gap { "GAP" } else { "ok " },
                    if c.elements.is_empty() {
                        "—".to_owned()
                    } else {
                        c.elements.join(", ")
                    },
                    if c.tests.is_empty() {
                        "—".to_owned()
                    } else {
                        c.tests.join(", ")
                    }
                );
            }
            say!("{} clauses, {gaps} without element or test", report.len());
            Ok(if strict && gaps > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        PolicyCommand::Render { file, lang, format } => {
            let lang =
                Lang::parse(&lang).ok_or_else(|| anyhow::anyhow!("--lang must be `de` or `en`"))?;
            let format = Format::parse(&format)
                .ok_or_else(|| anyhow::anyhow!("--format must be `md` or `html`"))?;
            let Some(policy) = load_or_report(&file) else {
                return Ok(ExitCode::from(1));
            };
            say_raw!("{}", render_notice(&policy, lang, format));
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Diff {
            old,
            new,
            lang,
            database,
        } => {
            let de = match lang.as_str() {
                "de" => true,
                "en" => false,
                _ => anyhow::bail!("--lang must be `de` or `en`"),
            };
            let (Some(a), Some(b)) = (load_or_report(&old), load_or_report(&new)) else {
                return Ok(ExitCode::from(1));
            };
            let changes = tutela_core::diff::diff(&a, &b);
            let counts = match &database {
                Some(url) if changes.iter().any(|c| c.widens_consent) => {
                    let compiled = CompiledPolicy::new(a.clone());
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    Some(rt.block_on(async {
                        let store = tutela_store::AnyStore::open(url).await?;
                        let (states, _) =
                            tutela_runtime::engine::load_states(&store, &compiled).await?;
                        let count = |purpose: &str| {
                            let mask = compiled.consent_mask(purpose, None);
                            states
                                .iter()
                                .filter(|(_, s)| s.consents & mask != 0)
                                .count()
                        };
                        Ok::<_, tutela_store::StoreError>(
                            changes
                                .iter()
                                .map(|c| {
                                    if c.widens_consent {
                                        count(&c.subject)
                                    } else {
                                        0
                                    }
                                })
                                .collect::<Vec<_>>(),
                        )
                    })?)
                }
                _ => None,
            };
            if changes.is_empty() {
                say!(
                    "{}",
                    if de {
                        "Keine Änderungen."
                    } else {
                        "No changes."
                    }
                );
            }
            for (i, c) in changes.iter().enumerate() {
                let mut line = if de { c.de.clone() } else { c.en.clone() };
                if c.widens_consent {
                    match counts.as_ref().map(|n| n[i]) {
                        Some(n) if de => line.push_str(&format!(" {n} Einwilligungen wurden für den engeren Zweck erteilt und müssen erneuert werden.")),
                        Some(n) => line.push_str(&format!(" {n} consents were given for the narrower purpose and need renewal.")),
                        None if de => line.push_str(" Die dafür erteilten Einwilligungen decken das nicht ab und müssen erneuert werden."),
                        None => line.push_str(" The consents given for it do not cover this and need renewal."),
                    }
                }
                say!("- {line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Activate {
            file,
            at,
            database,
            policy,
            by,
        } => {
            let database = config.database(&database);
            crate::config::servers_database(&database)?;
            let running = crate::load_policy(&config.policy(&policy))?;
            let at = match at.as_deref() {
                None => None,
                Some(t) => Some(t.parse::<jiff::Timestamp>().map_err(|_| {
                    anyhow::anyhow!(
                        "--at `{t}` is not an RFC 3339 time such as 2026-07-01T00:00:00+02:00"
                    )
                })?),
            };
            let recording = tutela_core::policy::RecordingLoader::new(&FileLoader);
            if let Err(e) = load_policy(&recording, &file) {
                eprintln!("{e}");
                eprintln!(
                    "{} error(s) in the policy; nothing was activated",
                    e.0.len()
                );
                return Ok(ExitCode::from(1));
            }
            let sources = recording.into_recorded();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                use tutela_store::Store;
                let store = tutela_store::AnyStore::open(&database).await?;
                store.migrate().await?;
                let now = jiff::Timestamp::now();
                // Refused here, at once, for what every server would refuse it for later.
                if let Err(e) = tutela_runtime::activation::preflight(
                    &store, &sources, &file, at, &running, now,
                )
                .await
                {
                    if let tutela_runtime::activation::ActivationError::Storage(_) = e {
                        return Err(anyhow::anyhow!("{e}"));
                    }
                    eprintln!("{e}");
                    eprintln!("the servers would refuse this version; nothing was activated");
                    return Ok(ExitCode::from(1));
                }
                let a = tutela_runtime::activation::schedule(
                    &store,
                    sources,
                    &file,
                    at,
                    &format!("cli:{by}"),
                    now,
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
                say!(
                    "policy version {} (notice {}) scheduled for {} as {}",
                    a.hash,
                    a.notice_version,
                    a.effective_at,
                    a.id
                );
                Ok(ExitCode::SUCCESS)
            })
        }
        PolicyCommand::Activations { database } => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            crate::config::existing_database(&database)?;
            rt.block_on(async {
                use tutela_store::{ActivationStore, Store};
                let store = tutela_store::AnyStore::open(&database).await?;
                store.migrate().await?;
                for a in store.activations().await? {
                    say!(
                        "{}\t{}\t{}\t{}\t{}\t{}{}",
                        a.id,
                        a.status,
                        a.effective_at,
                        a.notice_version,
                        a.hash,
                        a.requested_by,
                        a.error
                            .map(|e| format!("\t{}", e.replace('\n', " ")))
                            .unwrap_or_default()
                    );
                }
                Ok(ExitCode::SUCCESS)
            })
        }
        PolicyCommand::Record { file, format, lang } => {
            let lang =
                Lang::parse(&lang).ok_or_else(|| anyhow::anyhow!("--lang must be `de` or `en`"))?;
            let Some(policy) = load_or_report(&file) else {
                return Ok(ExitCode::from(1));
            };
            let record = tutela_core::record::build(&policy, lang, jiff::Zoned::now().date());
            match format.as_str() {
                "json" => say!("{}", serde_json::to_string_pretty(&record)?),
                "csv" => say_raw!("{}", tutela_core::record::csv(&record)),
                "jsonld" => say_raw!("{}", tutela_core::record::dpv_jsonld(&record)),
                other => anyhow::bail!("unknown format `{other}`; use json, csv or jsonld"),
            }
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Test { file, scenarios } => {
            let Some(policy) = load_or_report(&file) else {
                return Ok(ExitCode::from(1));
            };
            let compiled = CompiledPolicy::new(policy);
            let text = std::fs::read_to_string(&scenarios)?;
            let parsed: ScenarioFile =
                toml::from_str(&text).map_err(|e| anyhow::anyhow!("{scenarios}: {e}"))?;
            let (mut passed, mut failed) = (0, 0);
            for case in &parsed.cases {
                match scenario::run(&compiled, case) {
                    Ok(actual) => match case.expect.check(&actual) {
                        None => passed += 1,
                        Some(diff) => {
                            failed += 1;
                            say!("FAIL {}: {diff}", case.name);
                        }
                    },
                    Err(e) => {
                        failed += 1;
                        say!("FAIL {e}");
                    }
                }
            }
            say!("scenarios: {passed} passed, {failed} failed");
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
