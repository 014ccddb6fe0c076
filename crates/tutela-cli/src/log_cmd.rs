//! `tutela log`: verify the whole log from the store, check one proof against its head without
//! the store, and show the log key's public half.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use tutela_core::merkle::{self, Hash};
use tutela_runtime::verifiable_log::{self, LogKey, hex, hex_decode};
use tutela_store::SignedHead;

#[derive(Subcommand)]
pub enum LogCommand {
    /// Recompute every leaf from the stored rows and every signed head; name the first entry
    /// that does not match (exit 1).
    Verify {
        /// Database URL: `sqlite://PATH` (default `sqlite://tutela.db`) or `postgres://…`.
        #[arg(long, env = "TUTELA_DATABASE_URL")]
        database: Option<String>,
        /// The log key's public half (hex) to check head signatures with; an auditor takes it
        /// from a copy kept apart from the server. Without it, the public half of the log key
        /// file (`--key`); without either, nothing is reported verified.
        #[arg(long)]
        public_key: Option<String>,
        /// The log key file whose public half checks the signatures when no --public-key is
        /// given (never created here).
        #[arg(long, env = "TUTELA_LOG_KEY", default_value = "tutela-log.key")]
        key: String,
        /// A signed head kept apart from the server (the JSON of GET /v1/log/head, or a proof
        /// document holding one); the log must still hold it. Repeatable. Without a kept head, a
        /// log cut back as a whole shows only as rows not in the log.
        #[arg(long = "head")]
        heads: Vec<String>,
        /// Rows written after the log's last leaf do not fail verification (a running server
        /// seals every second); they are counted. Use with --head.
        #[arg(long)]
        live: bool,
    },
    /// Check an inclusion proof (the JSON of GET /v1/log/proof/{event}) against its signed
    /// head, with nothing but the public key: no store, no server.
    CheckProof {
        /// The proof file.
        #[arg(long)]
        proof: String,
        /// The log key's public half (hex).
        #[arg(long)]
        public_key: String,
    },
    /// Print the public half of the log key in FILE (created when missing).
    PublicKey {
        #[arg(long, env = "TUTELA_LOG_KEY", default_value = "tutela-log.key")]
        key: String,
    },
}

pub fn run(cmd: LogCommand, database: String) -> anyhow::Result<ExitCode> {
    match cmd {
        LogCommand::Verify {
            public_key,
            key,
            heads,
            live,
            ..
        } => {
            let mut kept = Vec::new();
            for file in &heads {
                let text =
                    std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
                let v: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("{file} is not a signed head: {e}"))?;
                let h = if v.get("head").is_some() {
                    &v["head"]
                } else {
                    &v
                };
                kept.push(
                    head_of(h).map_err(|e| anyhow::anyhow!("{file} is not a signed head: {e}"))?,
                );
            }
            let (public, whose) = match public_key.as_deref() {
                Some(hex) => (public_key_of(hex)?, "the given public key".to_owned()),
                None => match LogKey::read(std::path::Path::new(&key)) {
                    Ok(k) => (k.public_key(), format!("the public half of {key}")),
                    Err(e) => {
                        say!(
                            "log not verified: no --public-key, and {e}; signatures must be checked for the log to count as verified"
                        );
                        return Ok(ExitCode::from(2));
                    }
                },
            };
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let outcome = rt.block_on(async {
                let store = tutela_store::AnyStore::open(&database).await?;
                Ok::<_, tutela_store::StoreError>(
                    verifiable_log::verify(&store, &public, &kept).await,
                )
            })?;
            match outcome {
                Ok(v) if v.unsealed > 0 && !live => {
                    say!(
                        "log verification failed: {} rows are not in the log, the first {}; the log ends before them (cut back, or written since the server's last seal: a running server seals every second, run again or pass --live with a kept --head)",
                        v.unsealed,
                        v.first_unsealed.unwrap_or_default()
                    );
                    Ok(ExitCode::from(1))
                }
                Ok(v) => {
                    if v.unsealed > 0 {
                        say!(
                            "{} rows written since the last seal are not in the log yet",
                            v.unsealed
                        );
                    }
                    say!(
                        "log verified: {} leaves, {} signed heads{}, every signature valid with {whose}",
                        v.leaves,
                        v.heads,
                        if kept.is_empty() {
                            String::new()
                        } else {
                            format!(", holding the {} kept heads", kept.len())
                        },
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(first) => {
                    say!("log verification failed: {first}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        LogCommand::CheckProof { proof, public_key } => {
            let public = public_key_of(&public_key)?;
            let text =
                std::fs::read_to_string(&proof).with_context(|| format!("reading {proof}"))?;
            match check_proof(&text, &public) {
                Ok(msg) => {
                    say!("{msg}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(why) => {
                    say!("proof rejected: {why}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        LogCommand::PublicKey { key } => {
            let key = LogKey::load_or_create(std::path::Path::new(&key))?;
            say_raw!("{}\n", hex(&key.public_key()));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn public_key_of(s: &str) -> anyhow::Result<[u8; 32]> {
    hex_decode(s.trim())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow::anyhow!("--public-key must be 64 hexadecimal characters"))
}

fn hash_of(v: &serde_json::Value, what: &str) -> Result<Hash, String> {
    v.as_str()
        .and_then(hex_decode)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("`{what}` is not a 32-byte hex hash"))
}

/// Checks the proof document: the head's signature, then the audit path to its root.
fn check_proof(text: &str, public: &[u8; 32]) -> Result<String, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not a proof document: {e}"))?;
    let head = head_of(&v["head"])?;
    let size = head.size;
    if !verifiable_log::verify_head(public, &head) {
        return Err(format!(
            "the head of size {size} is not signed by key {}",
            verifiable_log::key_id(public)
        ));
    }
    let leaf = hash_of(&v["leaf_hash"], "leaf_hash")?;
    let index = v["leaf_index"].as_u64().ok_or("`leaf_index` is missing")?;
    let path: Vec<Hash> = v["proof"]
        .as_array()
        .ok_or("`proof` is missing")?
        .iter()
        .map(|p| hash_of(p, "proof"))
        .collect::<Result<_, _>>()?;
    if !merkle::verify_inclusion(&leaf, index, size, &path, &head.root) {
        return Err(format!(
            "leaf {index} is not in the tree of size {size} with this root"
        ));
    }
    Ok(format!(
        "ok: {} is leaf {index} of the signed tree of size {size} (key {})",
        v["event"].as_str().unwrap_or("the entry"),
        head.key_id
    ))
}

/// A signed head as the API answers it (`size`, `root`, `at_us`, `key_id`, `signature`).
fn head_of(h: &serde_json::Value) -> Result<SignedHead, String> {
    Ok(SignedHead {
        size: h["size"].as_u64().ok_or("`head.size` is missing")?,
        root: hash_of(&h["root"], "head.root")?,
        at: h["at_us"]
            .as_i64()
            .and_then(|us| jiff::Timestamp::from_microsecond(us).ok())
            .ok_or("`head.at_us` is missing")?,
        key_id: h["key_id"].as_str().unwrap_or_default().to_owned(),
        signature: h["signature"]
            .as_str()
            .and_then(hex_decode)
            .ok_or("`head.signature` is not hex")?,
    })
}
