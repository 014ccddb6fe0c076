//! `tutela keys`: the master keys that wrap every person's data key. Status, rotation without
//! downtime (a new active key, every data key wrapped again while servers keep running), and
//! retiring an old key once nothing is wrapped under it.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use tutela_store::vault::{KeySource, MasterKeys, write_key_file};

use crate::config::Config;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// The master keys (ids only), how many data keys each wraps, and how many were destroyed.
    Status {
        /// Database URL of the data (it locates the default key file and key store).
        #[arg(long, env = "TUTELA_DATABASE_URL")]
        database: Option<String>,
    },
    /// Add a master key, make it active, and wrap every data key with it. Running servers read
    /// the new key when they meet it; the old key stays until `retire`.
    Rotate {
        #[arg(long, env = "TUTELA_DATABASE_URL")]
        database: Option<String>,
    },
    /// Remove master key ID from the key file; refused while a data key is wrapped under it.
    Retire {
        id: String,
        #[arg(long, env = "TUTELA_DATABASE_URL")]
        database: Option<String>,
    },
    /// After restoring the key store from a backup: destroy again every data key that the data
    /// database says was destroyed since (erased persons, purged requests), then scrub the key
    /// store. Run it before any server starts on the restored key store.
    ReplayErasures {
        #[arg(long, env = "TUTELA_DATABASE_URL")]
        database: Option<String>,
    },
    /// Rewrite the key store so that no destroyed key is left in its files. On PostgreSQL this
    /// is `VACUUM FULL data_keys`: the key table is locked while it is copied.
    Compact {
        #[arg(long, env = "TUTELA_DATABASE_URL")]
        database: Option<String>,
    },
    /// The pseudonymisation keys (N7b): a file apart from the data, never the master keys.
    Pseudonyms {
        #[command(subcommand)]
        command: PseudonymKeysCommand,
    },
}

#[derive(Subcommand)]
pub enum PseudonymKeysCommand {
    /// Create the key file with one key (mode 0600); refused when it exists.
    New {
        #[arg(long)]
        keys: Option<String>,
    },
    /// Add a key and make it active: new pseudonyms differ from the old, which stay
    /// reversible while their key is in the file.
    Rotate {
        #[arg(long)]
        keys: Option<String>,
    },
    /// The key ids and which is active.
    List {
        #[arg(long)]
        keys: Option<String>,
    },
}

fn pseudonym_keys(config: &Config, cmd: PseudonymKeysCommand) -> anyhow::Result<ExitCode> {
    use tutela_store::vault::{
        PseudonymKeySource, create_pseudonym_keys, read_pseudonym_keys, rotate_pseudonym_keys,
    };
    let (PseudonymKeysCommand::New { keys }
    | PseudonymKeysCommand::Rotate { keys }
    | PseudonymKeysCommand::List { keys }) = &cmd;
    let source = config.pseudonym_key_source(keys.as_deref());
    let file = match &source {
        PseudonymKeySource::File(path) => Some(path.clone()),
        PseudonymKeySource::Env(_) => None,
    };
    match (cmd, file) {
        (PseudonymKeysCommand::List { .. }, _) => {
            let keys = read_pseudonym_keys(&source)?;
            for id in keys.ids() {
                let active = if id == keys.active_id() {
                    " (active)"
                } else {
                    ""
                };
                say!("pseudonymisation key {id}{active}");
            }
        }
        (PseudonymKeysCommand::New { .. }, Some(path)) => {
            let keys = create_pseudonym_keys(&path)?;
            say!(
                "pseudonymisation key {} in {} (mode 0600)",
                keys.active_id(),
                path.display()
            );
        }
        (PseudonymKeysCommand::Rotate { .. }, Some(path)) => {
            let id = rotate_pseudonym_keys(&path)?;
            say!("pseudonymisation key {id} is active in {}", path.display());
        }
        (_, None) => anyhow::bail!(
            "the pseudonymisation keys come from TUTELA_PSEUDONYMISATION_KEYS; name a file with --keys"
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn key_file(config: &Config, url: &str) -> anyhow::Result<std::path::PathBuf> {
    match config.master_key_source(url) {
        KeySource::File(path) => Ok(path),
        KeySource::Env(var) => anyhow::bail!(
            "the master keys come from {var}; rotate them where that variable is set, then run `tutela keys rotate` with a key file"
        ),
    }
}

fn read_keys(path: &std::path::Path) -> anyhow::Result<MasterKeys> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {shown}"))?;
    Ok(MasterKeys::parse(&shown, &text)?)
}

pub fn run(cmd: KeysCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match cmd {
        KeysCommand::Status { database } => rt.block_on(async {
            let url = config.database(&database);
            crate::config::existing_database(&url)?;
            let vault = config.vault(&url).await?;
            let (live, destroyed) = vault.key_store().counts().await?;
            if let KeySource::File(path) = config.master_key_source(&url) {
                let keys = read_keys(&path)?;
                say!("key file: {}", path.display());
                for id in keys.keys.keys() {
                    let active = if *id == keys.active { " (active)" } else { "" };
                    say!("master key {id}{active}");
                }
            }
            say!("key store: {}", crate::redact(&config.keystore_url(&url)));
            for (id, n) in live {
                say!("{n} data keys wrapped under {id}");
            }
            say!("{destroyed} data keys destroyed (erased persons, expired requests)");
            Ok(ExitCode::SUCCESS)
        }),
        KeysCommand::Rotate { database } => rt.block_on(async {
            let url = config.database(&database);
            let path = key_file(config, &url)?;
            // Read (or create) the keys through the vault first, then add the new one.
            let _ = config.vault(&url).await?;
            let mut keys = read_keys(&path)?;
            let new = keys.rotate()?;
            write_key_file(&path, &keys)?;
            let vault = config.vault(&url).await?;
            let n = vault.rewrap(1000).await?;
            say!("master key {new} is active; {n} data keys wrapped with it");
            say!("retire the old keys with `tutela keys retire ID` once every server runs with the new file");
            Ok(ExitCode::SUCCESS)
        }),
        KeysCommand::Retire { id, database } => rt.block_on(async {
            let url = config.database(&database);
            let path = key_file(config, &url)?;
            let mut keys = read_keys(&path)?;
            if id == keys.active {
                anyhow::bail!("{id} is the active master key; rotate first");
            }
            if !keys.keys.contains_key(&id) {
                anyhow::bail!("the key file has no master key {id}");
            }
            let vault = config.vault(&url).await?;
            // Keys a server wrapped under the old key since the rotation move first.
            vault.rewrap(1000).await?;
            let (live, _) = vault.key_store().counts().await?;
            if let Some((_, n)) = live.iter().find(|(k, _)| *k == id) {
                anyhow::bail!("{n} data keys are still wrapped under {id}; run `tutela keys rotate` again");
            }
            keys.keys.remove(&id);
            write_key_file(&path, &keys)?;
            say!("master key {id} retired");
            Ok(ExitCode::SUCCESS)
        }),
        KeysCommand::ReplayErasures { database } => rt.block_on(async {
            use tutela_store::Store;
            let url = config.database(&database);
            let store = config.open_store(&url).await?;
            store.migrate().await?;
            let done = store.replay_key_destructions().await?;
            say!(
                "{} keys of erased persons and {} keys of purged requests destroyed again",
                done.subjects,
                done.requests
            );
            Ok(ExitCode::SUCCESS)
        }),
        KeysCommand::Compact { database } => rt.block_on(async {
            let url = config.database(&database);
            let vault = config.vault(&url).await?;
            vault.key_store().compact().await?;
            say!("key store rewritten without destroyed keys");
            Ok(ExitCode::SUCCESS)
        }),
        KeysCommand::Pseudonyms { command } => pseudonym_keys(config, command),
    }
}
