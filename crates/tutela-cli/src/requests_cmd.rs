//! `tutela requests …` and `tutela intake maildir DIR`: the request workflow from the command
//! line, through a running server.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tutela_core::intake;
use tutela_core::render::Lang;
use tutela_runtime::requests::RequestDetails;

use crate::client::ApiClient;

#[derive(Args, Clone)]
pub struct Server {
    /// The running tutela server.
    #[arg(
        long,
        env = "TUTELA_SERVER",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    server: String,
    /// Where the API token is, unless `TUTELA_API_TOKEN` is set.
    #[arg(long, default_value = "tutela.token", global = true)]
    token_file: String,
}

#[derive(Subcommand)]
pub enum RequestsCommand {
    /// The queue, soonest due first.
    List {
        /// Comma-separated statuses.
        #[arg(long)]
        status: Option<String>,
        /// Only requests past their due date.
        #[arg(long)]
        overdue: bool,
    },
    /// One request with its steps and transitions.
    Show { id: String },
    /// File a request (for letters and calls; e-mail comes in through `tutela intake`).
    Create {
        /// access, portability, rectification, erasure, restriction, objection,
        /// withdraw_consent or unclassified.
        #[arg(long = "type")]
        request_type: String,
        #[arg(long)]
        subject: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// JSON object, e.g. '{"lang":"en"}'.
        #[arg(long)]
        details: Option<String>,
        /// api, email, privacy_center, letter or phone.
        #[arg(long, default_value = "letter")]
        channel: String,
    },
    /// Enter the code the requester received.
    Verify {
        id: String,
        #[arg(long)]
        code: String,
    },
    /// Record that an agent checked the identity, and how.
    VerifyByAgent {
        id: String,
        #[arg(long)]
        note: String,
        /// The agent who checked the identity (recorded with the verification).
        #[arg(long)]
        agent: String,
        /// The person, when the request did not name them.
        #[arg(long)]
        subject: Option<String>,
    },
    /// What an erasure or rectification will change in the operator's databases: every
    /// table, row and field, and whether the plan waits for approval.
    Plan { id: String },
    /// Approve the plan a request waits with (shown by `plan`, which this prints first); it
    /// then runs exactly as planned.
    Approve {
        id: String,
        /// The agent who reviewed the plan (recorded with the approval).
        #[arg(long)]
        agent: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Extend the deadline by 1 or 2 months (Art. 12(3)).
    Extend {
        id: String,
        #[arg(long)]
        months: u8,
        #[arg(long)]
        reason: String,
    },
    /// Refuse a manifestly unfounded or excessive request (Art. 12(5)).
    Refuse {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Say what an unclassified request asks for.
    Classify {
        id: String,
        #[arg(long = "type")]
        request_type: String,
    },
    /// Write the report or export of a finished request.
    Result {
        id: String,
        /// json, html or zip.
        #[arg(long, default_value = "json")]
        format: String,
        /// File to write; standard output when not given.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum IntakeCommand {
    /// File every new message of a Maildir as a request awaiting verification, and move it to
    /// `cur/`. A message that cannot be classified is filed as `unclassified`; one that cannot
    /// be filed stays in `new/`.
    Maildir { dir: PathBuf },
}

/// Prints a request's plan for the agent and returns it.
async fn show_plan(c: &ApiClient, id: &str) -> anyhow::Result<Value> {
    let review = c
        .call("GET", &format!("/v1/requests/{id}/plan"), None, None)
        .await?
        .ok()?
        .json();
    say!("{}", crate::plan_text::render(&review));
    Ok(review)
}

pub async fn requests(server: Server, cmd: RequestsCommand) -> anyhow::Result<ExitCode> {
    let c = ApiClient::new(&server.server, &server.token_file)?;
    let print = |v: Value| -> anyhow::Result<ExitCode> {
        say!("{}", serde_json::to_string_pretty(&v)?);
        Ok(ExitCode::SUCCESS)
    };
    match cmd {
        RequestsCommand::List { status, overdue } => {
            let mut path = "/v1/requests?".to_owned();
            if let Some(s) = status {
                path.push_str(&format!("status={s}&"));
            }
            if overdue {
                path.push_str("overdue=true");
            }
            let list = c.call("GET", &path, None, None).await?.ok()?.json();
            for r in list["requests"].as_array().into_iter().flatten() {
                say!(
                    "{}  {:<18} {:<22} due {}{}",
                    r["id"].as_str().unwrap_or(""),
                    r["type"].as_str().unwrap_or(""),
                    r["status"].as_str().unwrap_or(""),
                    r["due_at"].as_str().unwrap_or(""),
                    if r["overdue"] == true {
                        "  OVERDUE"
                    } else if r["due_soon"] == true {
                        "  due soon"
                    } else {
                        ""
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        RequestsCommand::Show { id } => print(
            c.call("GET", &format!("/v1/requests/{id}"), None, None)
                .await?
                .ok()?
                .json(),
        ),
        RequestsCommand::Create {
            request_type,
            subject,
            email,
            details,
            channel,
        } => {
            let details: Option<Value> = details
                .map(|d| serde_json::from_str(&d).context("--details must be a JSON object"))
                .transpose()?;
            let body = json!({"type": request_type, "subject": subject, "email": email, "details": details, "channel": channel});
            print(
                c.call("POST", "/v1/requests", Some(&body), None)
                    .await?
                    .ok()?
                    .json(),
            )
        }
        RequestsCommand::Verify { id, code } => print(
            c.call(
                "POST",
                &format!("/v1/requests/{id}/verify"),
                Some(&json!({"code": code})),
                None,
            )
            .await?
            .ok()?
            .json(),
        ),
        RequestsCommand::VerifyByAgent {
            id,
            note,
            agent,
            subject,
        } => print(
            c.call(
                "POST",
                &format!("/v1/requests/{id}/verify-by-agent"),
                Some(&json!({"note": note, "agent": agent, "subject": subject})),
                None,
            )
            .await?
            .ok()?
            .json(),
        ),
        RequestsCommand::Plan { id } => {
            show_plan(&c, &id).await?;
            Ok(ExitCode::SUCCESS)
        }
        RequestsCommand::Approve { id, agent, note } => {
            let review = show_plan(&c, &id).await?;
            // The digests of the plans just printed: a plan changed meanwhile is refused.
            let plans: serde_json::Map<String, Value> = review["plans"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| Some((p["dataset"].as_str()?.to_owned(), p["digest"].clone())))
                .collect();
            print(
                c.call(
                    "POST",
                    &format!("/v1/requests/{id}/approve"),
                    Some(&json!({"agent": agent, "note": note, "plans": plans})),
                    None,
                )
                .await?
                .ok()?
                .json(),
            )
        }
        RequestsCommand::Extend { id, months, reason } => print(
            c.call(
                "POST",
                &format!("/v1/requests/{id}/extend"),
                Some(&json!({"months": months, "reason": reason})),
                None,
            )
            .await?
            .ok()?
            .json(),
        ),
        RequestsCommand::Refuse { id, reason } => print(
            c.call(
                "POST",
                &format!("/v1/requests/{id}/refuse"),
                Some(&json!({"reason": reason})),
                None,
            )
            .await?
            .ok()?
            .json(),
        ),
        RequestsCommand::Classify { id, request_type } => print(
            c.call(
                "POST",
                &format!("/v1/requests/{id}/classify"),
                Some(&json!({"type": request_type})),
                None,
            )
            .await?
            .ok()?
            .json(),
        ),
        RequestsCommand::Result { id, format, out } => {
            let a = c
                .call(
                    "GET",
                    &format!("/v1/requests/{id}/result?format={format}"),
                    None,
                    None,
                )
                .await?
                .ok()?;
            match out {
                Some(path) => {
                    std::fs::write(&path, &a.body)
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!(
                        "wrote {} ({} bytes, {})",
                        path.display(),
                        a.body.len(),
                        a.content_type
                    );
                }
                None => {
                    use std::io::Write;
                    std::io::stdout().write_all(&a.body)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What the intake did with one message; never the message's content.
#[derive(Debug, PartialEq, Eq)]
pub enum Filed {
    Request { id: String, request_type: String },
    Kept { why: String },
}

pub async fn intake(server: Server, cmd: IntakeCommand) -> anyhow::Result<ExitCode> {
    let IntakeCommand::Maildir { dir } = cmd;
    let c = ApiClient::new(&server.server, &server.token_file)?;
    let new = dir.join("new");
    let cur = dir.join("cur");
    std::fs::create_dir_all(&cur).with_context(|| format!("creating {}", cur.display()))?;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&new)
        .with_context(|| format!("{} is not a Maildir (no new/)", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    let (mut filed, mut kept) = (0, 0);
    for path in entries {
        match file_message(&c, &path).await {
            Ok(Filed::Request { id, request_type }) => {
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("message");
                let target = cur.join(format!("{}:2,S", name.split(':').next().unwrap_or(name)));
                std::fs::rename(&path, &target)
                    .with_context(|| format!("moving {} to cur/", path.display()))?;
                say!("{id}  {request_type:<18} from {}", name);
                filed += 1;
            }
            Ok(Filed::Kept { why }) | Err(FileError(why)) => {
                eprintln!("kept in new/: {}: {why}", path.display());
                kept += 1;
            }
        }
    }
    eprintln!("{filed} filed, {kept} kept in new/");
    Ok(if kept == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

struct FileError(String);

impl<E: std::fmt::Display> From<E> for FileError {
    fn from(e: E) -> Self {
        FileError(e.to_string())
    }
}

async fn file_message(c: &ApiClient, path: &Path) -> Result<Filed, FileError> {
    let raw = std::fs::read(path)?;
    let parsed = mail_parser::MessageParser::default().parse(&raw);
    let (from, subject, text, message_id) = match &parsed {
        Some(m) => (
            m.from()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .map(str::to_owned),
            m.subject().unwrap_or("").to_owned(),
            m.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
            m.message_id().map(str::to_owned),
        ),
        None => (
            None,
            String::new(),
            String::from_utf8_lossy(&raw).into_owned(),
            None,
        ),
    };
    let Some(from) = from else {
        return Ok(Filed::Kept {
            why: "no sender address to answer to".into(),
        });
    };
    let class = intake::classify(&subject, &text);
    // The same message filed twice is one request: the key is a hash of its id or content.
    let key_source = message_id.unwrap_or_else(|| String::from_utf8_lossy(&raw).into_owned());
    let digest = Sha256::digest(key_source.as_bytes());
    let key: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let text: String = text.chars().take(20_000).collect();
    let details = RequestDetails {
        lang: Some(if looks_english(&text) {
            Lang::En
        } else {
            Lang::De
        }),
        subject_line: Some(subject),
        text: Some(text),
        ..RequestDetails::default()
    };
    let body = json!({
        "type": class.request_type.as_str(),
        "email": from,
        "channel": "email",
        "details": details,
    });
    let answer = c
        .call(
            "POST",
            "/v1/requests",
            Some(&body),
            Some(&format!("maildir:{key}")),
        )
        .await?;
    if !(200..300).contains(&answer.status) {
        let p = answer.json();
        return Ok(Filed::Kept {
            why: format!(
                "{} {}",
                answer.status,
                p["detail"].as_str().unwrap_or("refused")
            ),
        });
    }
    let r = answer.json();
    Ok(Filed::Request {
        id: r["id"].as_str().unwrap_or("").to_owned(),
        request_type: r["type"].as_str().unwrap_or("").to_owned(),
    })
}

/// A rough guess at the language to answer in: English cue words outnumber German ones.
fn looks_english(text: &str) -> bool {
    let lower = text.to_lowercase();
    let count = |words: &[&str]| words.iter().filter(|w| lower.contains(*w)).count();
    count(&[" the ", " my ", " please ", " data ", " you "])
        > count(&[" die ", " meine ", " bitte ", " daten ", " sie "])
}

/// `tutela audience`: a CSV file of persons through `POST /v1/audiences`.
pub async fn audience(
    server: Server,
    purpose: String,
    channel: Option<String>,
    categories: Vec<String>,
    input: String,
    out: Option<String>,
    lang: &str,
) -> anyhow::Result<ExitCode> {
    let lang = tutela_core::render::Lang::parse(lang)
        .ok_or_else(|| anyhow::anyhow!("--lang must be `de` or `en`"))?;
    let c = ApiClient::new(&server.server, &server.token_file)?;
    let body = std::fs::read(&input).with_context(|| format!("reading {input}"))?;
    let mut headers = vec![
        ("tutela-campaign-purpose", purpose),
        ("tutela-campaign-categories", categories.join(",")),
    ];
    if let Some(ch) = channel {
        headers.push(("tutela-campaign-channel", ch));
    }
    let a = c
        .send(
            "POST",
            &format!("/v1/audiences?lang={}", lang.as_str()),
            Some(("text/csv", body)),
            &headers,
        )
        .await?
        .ok()
        .map_err(|e| anyhow::anyhow!("{input}: {e}"))?
        .json();
    let mut text = String::new();
    tutela_core::csv::write_row(&mut text, ["subject", "contact", "reason"]);
    for id in a["contactable"].as_array().into_iter().flatten() {
        tutela_core::csv::write_row(&mut text, [id.as_str().unwrap_or(""), "yes", ""]);
    }
    for e in a["excluded"].as_array().into_iter().flatten() {
        tutela_core::csv::write_row(
            &mut text,
            [
                e["subject"].as_str().unwrap_or(""),
                "no",
                e["reason"].as_str().unwrap_or(""),
            ],
        );
    }
    match out {
        Some(path) => std::fs::write(&path, text).with_context(|| format!("writing {path}"))?,
        None => say_raw!("{text}"),
    }
    let notice = a["objection_notice"]["text"].as_str();
    eprintln!(
        "{}",
        tutela_core::audience::summary(
            lang,
            a["contactable"].as_array().map_or(0, Vec::len),
            a["total"]
                .as_u64()
                .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX)),
            notice.filter(|_| a["objection_notice"]["required"] == true),
        )
    );
    Ok(ExitCode::SUCCESS)
}
