//! `tutela decide`: decides one query against a database, as the API would.

use std::process::ExitCode;

use anyhow::Context;
use tutela_store::{AnyStore, Store};

use crate::config::Config;
use crate::{Sources, load_policy, redact};

#[derive(clap::Args)]
pub struct DecideArgs {
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
}

/// Prints the answer as JSON; exits 1 when it is not allowed.
pub async fn run(args: DecideArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let policy = load_policy(&config.policy(&args.sources.policy))?;
    let url = config.database(&args.sources.database);
    // Decisions read event kinds, never personal attributes: no keys needed.
    let store = AnyStore::open(&url)
        .await
        .with_context(|| format!("opening {}", redact(&url)))?;
    store.migrate().await?;
    let events = store.history(&args.subject).await?;
    let now = jiff::Timestamp::now();
    let state =
        tutela_core::state::SubjectState::fold(&policy, events.iter().map(|e| &e.event), now);
    let mut calls = tutela_core::calls::CallConsents::default();
    for e in &events {
        calls.apply(&policy, &e.event.subject, &e.event.kind, e.event.at);
    }
    // The one entry point the API and the scenarios use: same answer, same fields.
    let question = tutela_core::query::Question {
        purpose: &args.purpose,
        categories: args.categories.iter().map(String::as_str),
        channel: args.channel.as_deref(),
        recipient: args.recipient.as_deref(),
        country: args.country.as_deref(),
        call: args.call.as_deref(),
    };
    let person = tutela_core::query::Person {
        subject: &args.subject,
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
}

/// How to ask `tutela decide` a question it refused as malformed; the error exits 2.
fn decide_fix(e: &tutela_core::query::QuestionError<'_>) -> &'static str {
    match e {
        tutela_core::query::QuestionError::CallRequired { .. } => {
            "pass the telephony system's id of the call with `--call`"
        }
    }
}
