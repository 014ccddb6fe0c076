//! `tutela operators`: the console's accounts. Add and list them, and offboard a leaver:
//! disable (sessions end at once), enable, reset the second factor (enrolled again at the next
//! sign-in), remove (a tombstone that keeps the name for the audit trail). Each change is
//! recorded in the audit trail as done by `cli`; the last active DPO stays.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use tutela_core::render::Lang;
use tutela_runtime::operators::{self, Role, change_outcome};
use tutela_store::{AnyStore, OperatorChange, OperatorChanged, Store, WebStore};

use crate::config::Config;
use crate::{Sources, redact};

#[derive(Subcommand)]
pub enum OperatorsCommand {
    /// Add an operator. The password is read from TUTELA_OPERATOR_PASSWORD or the first line
    /// of standard input (never from the command line); prints the TOTP secret once.
    Add {
        name: String,
        /// dpo (everything), agent (requests, identity checks) or auditor (read only).
        #[arg(long)]
        role: String,
        #[command(flatten)]
        sources: Sources,
    },
    /// List operators with their roles and states (active, disabled, removed).
    List {
        #[command(flatten)]
        sources: Sources,
    },
    /// Disable operator NAME: no sign-in, and their sessions end at once.
    Disable {
        name: String,
        #[command(flatten)]
        sources: Sources,
    },
    /// Enable a disabled operator again.
    Enable {
        name: String,
        #[command(flatten)]
        sources: Sources,
    },
    /// Remove operator NAME for good: password and second factor are deleted; the name stays
    /// (and cannot be taken again) so that the audit trail still names them.
    Remove {
        name: String,
        #[command(flatten)]
        sources: Sources,
    },
    /// Reset operator NAME's second factor: their sessions end, and they set up a new one
    /// with their password at the next sign-in.
    ResetTotp {
        name: String,
        #[command(flatten)]
        sources: Sources,
    },
}

impl OperatorsCommand {
    fn sources(&self) -> &Sources {
        match self {
            OperatorsCommand::Add { sources, .. }
            | OperatorsCommand::List { sources }
            | OperatorsCommand::Disable { sources, .. }
            | OperatorsCommand::Enable { sources, .. }
            | OperatorsCommand::Remove { sources, .. }
            | OperatorsCommand::ResetTotp { sources, .. } => sources,
        }
    }
}

pub async fn run(command: OperatorsCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let url = config.database(&command.sources().database);
    // Only `add` may start a new database; the others work on accounts that exist.
    if !matches!(command, OperatorsCommand::Add { .. }) {
        crate::config::existing_database(&url)?;
    }
    // With the keys: the TOTP secret is sealed under the operator's own data key.
    let store = config
        .open_store(&url)
        .await
        .with_context(|| format!("opening {}", redact(&url)))?;
    store.migrate().await?;
    match command {
        OperatorsCommand::Add { name, role, .. } => add(&store, &name, &role).await?,
        OperatorsCommand::List { .. } => list(&store).await?,
        OperatorsCommand::Disable { name, .. } => {
            return change(&store, &name, OperatorChange::Disable).await;
        }
        OperatorsCommand::Enable { name, .. } => {
            return change(&store, &name, OperatorChange::Enable).await;
        }
        OperatorsCommand::Remove { name, .. } => {
            return change(&store, &name, OperatorChange::Remove).await;
        }
        OperatorsCommand::ResetTotp { name, .. } => {
            return change(&store, &name, OperatorChange::ResetTotp).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn add(store: &AnyStore, name: &str, role: &str) -> anyhow::Result<()> {
    let role = Role::parse(role)
        .with_context(|| format!("`{role}` is not a role: use dpo, agent or auditor"))?;
    let password = match std::env::var("TUTELA_OPERATOR_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let created = operators::create(store, name, role, &password, jiff::Timestamp::now())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    say!(
        "operator {} ({}) added as {}",
        name,
        created.operator.id,
        role.as_str()
    );
    say!("totp secret: {}", created.totp_secret);
    say!("otpauth uri: {}", created.otpauth_uri);
    say!("enter the secret in an authenticator app now; it is not shown again");
    Ok(())
}

async fn list(store: &AnyStore) -> anyhow::Result<()> {
    for o in store.operators().await? {
        let state = match (o.removed_at, o.disabled_at) {
            (Some(_), _) => "removed",
            (None, Some(_)) => "disabled",
            (None, None) if o.totp_secret.is_empty() => "active (second factor reset)",
            (None, None) => "active",
        };
        say!("{}\t{}\t{}\t{}", o.name, o.role, state, o.created_at);
    }
    Ok(())
}

/// One offboarding step on the operator named `name`, said in German and English (the
/// privacy office reads it); exit 1 when it was refused.
async fn change(store: &AnyStore, name: &str, change: OperatorChange) -> anyhow::Result<ExitCode> {
    let outcome = match store.operator_by_name(name).await? {
        Some(o) => {
            store
                .change_operator(&o.id, change, "cli", jiff::Timestamp::now())
                .await?
        }
        None => OperatorChanged::NotFound,
    };
    let words = |lang| change_outcome(outcome, change, name, lang);
    let (de, en) = (words(Lang::De), words(Lang::En));
    match outcome {
        OperatorChanged::Done | OperatorChanged::Unchanged => {
            say!("{en}\n{de}");
            Ok(ExitCode::SUCCESS)
        }
        OperatorChanged::NotFound | OperatorChanged::Removed | OperatorChanged::LastDpo => {
            anyhow::bail!("{en}\n{de}")
        }
    }
}
