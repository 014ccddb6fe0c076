//! Configuration: flags, then environment variables, then an optional TOML file, then defaults.

use std::io::Write;

use anyhow::Context;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub listen: Option<String>,
    pub database: Option<String>,
    pub policy: Option<String>,
    pub api_token: Option<String>,
    /// The mail server that sends one-time codes to requesters.
    pub smtp: Option<Smtp>,
    /// Without `[smtp]`, where mails are written instead, one file each (mode 0600; default
    /// `tutela-outbox` beside the SQLite database, or in the working directory).
    pub outbox_dir: Option<String>,
    /// The file holding the HMAC key of one-time codes and rate limits, outside the database;
    /// created when missing (default `tutela-hmac.key` beside the master key file's default).
    pub hmac_key: Option<String>,
    /// The controller's time zone, in which request deadlines end (default Europe/Berlin).
    pub time_zone: Option<String>,
    /// The operator's databases that requests are fulfilled in.
    #[serde(default)]
    pub dataset: Vec<Dataset>,
    /// A retention sweep that would delete more rows than this waits for a DPO's approval
    /// of its plan (the first sweep of each rule always does; default 1000).
    pub sweep_approval_rows: Option<u64>,
    /// Recipients' webhooks for Art. 19 notifications.
    #[serde(default)]
    pub notify: Vec<Notify>,
    /// NATS JetStream for events (`nats://127.0.0.1:4222`); none: no events.
    pub nats_url: Option<String>,
    /// Days the event stream keeps an event, when tutela creates the stream (default 30).
    pub events_retention_days: Option<u32>,
    /// Milliseconds between reads of the ledger for other instances' writes when no notice
    /// came (default 1000); set it low (e.g. 50) with `follow_listen = false`.
    pub follow_poll_ms: Option<u32>,
    /// Listen for PostgreSQL's notices of other instances' writes (default true); false for
    /// a PostgreSQL-compatible database without `LISTEN`.
    pub follow_listen: Option<bool>,
    /// Days a report or export is kept after it was produced (default 30).
    pub result_retention_days: Option<u32>,
    /// Four-eyes: the agent who verified a request's identity cannot approve the plan of what
    /// it changes in the operator's databases (default false).
    pub four_eyes: Option<bool>,
    /// How many requests the worker runs side by side (default 16).
    pub worker_concurrency: Option<u32>,
    /// The privacy center's public address, for links in mails and objection notices.
    pub public_url: Option<String>,
    /// The scorecard of the risk check (`tutela risk train`); none: no risk checks.
    pub risk_model: Option<String>,
    /// The credit agency's endpoint (`http://host:port/path`), asked when the group's data is
    /// not enough (N13).
    pub risk_agency_url: Option<String>,
    /// The privacy center's and console's sessions and rate limits.
    pub web: Option<Web>,
    /// Hours an AI call-summary draft waits for its agent's review before it expires (N24;
    /// default 24).
    pub summary_draft_hours: Option<u32>,
    /// The file holding the verifiable log's signing key (Ed25519 secret, hex), outside the
    /// database; created when missing (default `tutela-log.key`).
    pub log_key: Option<String>,
    /// Seconds between signed tree heads while the log grows (default 60).
    pub log_head_seconds: Option<u32>,
    /// The file with the master keys that wrap every person's data key (created when missing;
    /// default `tutela-master.key` beside the SQLite database, or in the working directory).
    /// `TUTELA_MASTER_KEYS` holds the file's text instead, for containers.
    pub master_key: Option<String>,
    /// The key store of the wrapped data keys, a database apart from the data (default
    /// `sqlite://tutela-keys.db` beside the SQLite database, or in the working directory).
    pub keystore: Option<String>,
    /// The pseudonymisation key file (default `tutela-pseudonym.key` in the working
    /// directory); `TUTELA_PSEUDONYMISATION_KEYS` holds the file's text instead.
    pub pseudonym_keys: Option<String>,
    /// The directories pseudonymised datasets may be registered in, and so deleted from when
    /// their retention ends (default: the working directory).
    pub pseudonymised_dirs: Option<Vec<String>>,
    /// Where each setting stands in the file it was read from, for messages.
    #[serde(skip)]
    origin: Option<Origin>,
}

/// The configuration file's name and the place of each setting in it: an error about a
/// setting names file, line and column, as the policy's and the dataset maps' errors do.
/// Only places are kept, never the text: the file may hold the API token or a password.
#[derive(Debug, Default)]
struct Origin {
    path: String,
    /// `time_zone`, `dataset.0.map`, `web.trusted_proxies`: line and column of the value.
    places: std::collections::BTreeMap<String, (usize, usize)>,
}

type Spanned = std::collections::BTreeMap<String, toml::Spanned<toml::Value>>;

/// The tables of the file, read a second time for the places of their settings.
#[derive(Default, Deserialize)]
struct Tables {
    #[serde(default)]
    dataset: Vec<Spanned>,
    #[serde(default)]
    notify: Vec<Spanned>,
    web: Option<Spanned>,
    smtp: Option<Spanned>,
}

impl Origin {
    fn read(path: &str, text: &str) -> Origin {
        let mut places = std::collections::BTreeMap::new();
        let top: Spanned = toml::from_str(text).unwrap_or_default();
        for (k, v) in top {
            places.insert(k, line_column(text, v.span().start));
        }
        let tables: Tables = toml::from_str(text).unwrap_or_default();
        for (name, list) in [("dataset", &tables.dataset), ("notify", &tables.notify)] {
            for (i, t) in list.iter().enumerate() {
                for (k, v) in t {
                    places.insert(format!("{name}.{i}.{k}"), line_column(text, v.span().start));
                }
            }
        }
        for (name, t) in [("web", &tables.web), ("smtp", &tables.smtp)] {
            for (k, v) in t.iter().flatten() {
                places.insert(format!("{name}.{k}"), line_column(text, v.span().start));
            }
        }
        Origin {
            path: path.to_owned(),
            places,
        }
    }
}

/// Line and column of a byte offset in `text`, both counted from 1.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// `[web]`: every value optional, defaults in `tutela_server::web::WebSettings`.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Web {
    /// Minutes a person stays signed in (default 30).
    pub person_session_minutes: Option<u32>,
    /// Hours an operator stays signed in (default 8).
    pub operator_session_hours: Option<u32>,
    /// Sign-in codes mailed per address in 15 minutes (default 5).
    pub codes_per_address: Option<u32>,
    /// Sign-in attempts per client address in 15 minutes (default 30).
    pub attempts_per_client: Option<u32>,
    /// Requests a signed-in person may file in 15 minutes (default 10).
    pub requests_per_person: Option<u32>,
    /// Code mails per address from all clients in 5 minutes before more wait (default 10).
    pub codes_per_address_ceiling: Option<u32>,
    /// Password attempts per operator from one client in 15 minutes (default 10).
    pub attempts_per_operator: Option<u32>,
    /// Password attempts per operator from all clients in 5 minutes before each waits
    /// 2 seconds (default 30).
    pub attempts_per_operator_ceiling: Option<u32>,
    /// Proxies (addresses or blocks such as `10.0.0.0/8`) whose `X-Forwarded-For` names the
    /// client (default none: the peer is the client).
    pub trusted_proxies: Option<Vec<String>>,
}

impl Web {
    pub fn settings(&self) -> anyhow::Result<tutela_server::web::WebSettings> {
        let mut s = tutela_server::web::WebSettings::default();
        if let Some(m) = self.person_session_minutes {
            s.person_session = jiff::SignedDuration::from_mins(i64::from(m));
        }
        if let Some(h) = self.operator_session_hours {
            s.operator_session = jiff::SignedDuration::from_hours(i64::from(h));
        }
        if let Some(n) = self.codes_per_address {
            s.codes_per_address = n;
        }
        if let Some(n) = self.attempts_per_client {
            s.attempts_per_client = n;
        }
        if let Some(n) = self.requests_per_person {
            s.requests_per_person = n;
        }
        if let Some(n) = self.codes_per_address_ceiling {
            s.codes_per_address_ceiling = n;
        }
        if let Some(n) = self.attempts_per_operator {
            s.attempts_per_operator = n;
        }
        if let Some(n) = self.attempts_per_operator_ceiling {
            s.attempts_per_operator_ceiling = n;
        }
        if let Some(list) = &self.trusted_proxies {
            s.trusted_proxies = tutela_server::web::client::TrustedProxies::parse(list)
                .context("[web] trusted_proxies")?;
        }
        Ok(s)
    }
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// The recipient's id in the policy.
    pub recipient: String,
    /// `http://host:port/path`.
    pub url: String,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// The dataset map (TOML), relative to the working directory.
    pub map: String,
    /// The database URL, when the map's own `url`/`url_env` should not be used.
    pub url: Option<String>,
    /// Retention sweeps delete rows from this database once their rule's period is over
    /// (docs/retention.md). Off unless set to `true`: tutela never deletes from an
    /// operator's database on its own without being told to.
    pub retention_sweeps: Option<bool>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub host: String,
    pub port: Option<u16>,
    /// `none`, `starttls` (default) or `tls`.
    pub security: Option<String>,
    pub username: Option<String>,
    /// Better set in `TUTELA_SMTP_PASSWORD` than in the file.
    pub password: Option<String>,
    pub from: String,
}

impl Smtp {
    pub fn settings(&self) -> tutela_runtime::requests::mailer::SmtpSettings {
        let security = self
            .security
            .clone()
            .unwrap_or_else(|| "starttls".to_owned());
        tutela_runtime::requests::mailer::SmtpSettings {
            host: self.host.clone(),
            port: self
                .port
                .unwrap_or(if security == "tls" { 465 } else { 587 }),
            security,
            username: self.username.clone(),
            password: std::env::var("TUTELA_SMTP_PASSWORD")
                .ok()
                .or_else(|| self.password.clone()),
            from: self.from.clone(),
        }
    }
}

impl Config {
    pub fn load(path: Option<&str>) -> anyhow::Result<Config> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
        let origin = Origin::read(path, &text);
        match toml::from_str::<Config>(&text) {
            Ok(mut config) => {
                config.origin = Some(origin);
                Ok(config)
            }
            Err(e) => {
                let (line, column) = line_column(&text, e.span().map_or(0, |s| s.start));
                Err(anyhow::anyhow!(
                    "{path}:{line}:{column}: {}",
                    e.message().trim_end()
                ))
            }
        }
    }

    /// `FILE:LINE:COLUMN: setting` for a message about `setting` (`time_zone`,
    /// `dataset.0.map`, `web.trusted_proxies`), or the setting's name alone when it did not
    /// come from the file.
    pub fn at(&self, setting: &str) -> String {
        match &self.origin {
            Some(o) => match o.places.get(setting) {
                Some((line, column)) => format!("{}:{line}:{column}: {setting}", o.path),
                None => setting.to_owned(),
            },
            None => setting.to_owned(),
        }
    }

    pub fn database(&self, flag: &Option<String>) -> String {
        flag.clone()
            .or_else(|| self.database.clone())
            .unwrap_or_else(|| "sqlite://tutela.db".to_owned())
    }

    /// The data store at `url`, sealing personal attributes with the configured keys.
    pub async fn open_store(&self, url: &str) -> anyhow::Result<tutela_store::AnyStore> {
        let store = tutela_store::AnyStore::open(url)
            .await
            .with_context(|| format!("opening {}", crate::redact(url)))?;
        Ok(store.with_vault(self.vault(url).await?))
    }

    /// Where the master keys come from for the data at `url`.
    pub fn master_key_source(&self, url: &str) -> tutela_store::vault::KeySource {
        use tutela_store::vault::KeySource;
        if std::env::var_os("TUTELA_MASTER_KEYS").is_some() {
            return KeySource::Env("TUTELA_MASTER_KEYS".to_owned());
        }
        KeySource::File(
            self.master_key
                .clone()
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| key_dir(url).join("tutela-master.key")),
        )
    }

    /// Where the pseudonymisation keys come from: `--keys`, then the environment, then the
    /// config file, then `tutela-pseudonym.key`.
    pub fn pseudonym_key_source(
        &self,
        flag: Option<&str>,
    ) -> tutela_store::vault::PseudonymKeySource {
        use tutela_store::vault::PseudonymKeySource;
        if let Some(path) = flag {
            return PseudonymKeySource::File(path.into());
        }
        if std::env::var_os("TUTELA_PSEUDONYMISATION_KEYS").is_some() {
            return PseudonymKeySource::Env("TUTELA_PSEUDONYMISATION_KEYS".to_owned());
        }
        PseudonymKeySource::File(
            self.pseudonym_keys
                .as_deref()
                .unwrap_or("tutela-pseudonym.key")
                .into(),
        )
    }

    /// The key store's URL for the data at `url`. A PostgreSQL store must name its key store:
    /// the default, an SQLite file beside the instance, would give every instance of a
    /// cluster keys of its own, and put none of them where the operator backs up and guards
    /// the keys.
    pub fn keystore(&self, url: &str) -> anyhow::Result<String> {
        if self.keystore.is_none() && !is_sqlite(url) {
            anyhow::bail!(
                "{}: a database other than SQLite needs an explicit key store: set `keystore = \"postgres://…\"` (a database or schema apart from the data, shared by every instance) in the configuration file",
                self.at("keystore")
            );
        }
        Ok(self.keystore_url(url))
    }

    /// The key store's URL for the data at `url`, the default one included.
    pub fn keystore_url(&self, url: &str) -> String {
        self.keystore.clone().unwrap_or_else(|| {
            format!("sqlite://{}", key_dir(url).join("tutela-keys.db").display())
        })
    }

    pub async fn vault(
        &self,
        url: &str,
    ) -> anyhow::Result<std::sync::Arc<tutela_store::vault::Vault>> {
        use tutela_store::vault::{KeyStore, LocalMasterKeys, Vault};
        let keystore = self.keystore(url)?;
        let master = LocalMasterKeys::open(self.master_key_source(url))
            .context("reading the master keys")?;
        let keys = KeyStore::open(&keystore)
            .await
            .with_context(|| format!("opening the key store {}", crate::redact(&keystore)))?;
        Ok(Vault::new(Box::new(master), keys))
    }

    pub fn policy(&self, flag: &Option<String>) -> Option<String> {
        flag.clone().or_else(|| self.policy.clone())
    }
}

/// Generates a token and writes it to `tutela.token` beside the SQLite database (or in the
/// working directory), readable by the owner only. Prints where it is, never the token.
pub fn write_token_file(database_url: &str) -> anyhow::Result<String> {
    let dir = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .and_then(|p| std::path::Path::new(p).parent().map(|d| d.to_path_buf()))
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| std::path::PathBuf::from("."));
    let path = dir.join("tutela.token");
    let token = match std::fs::read_to_string(&path) {
        Ok(existing) if existing.trim().len() >= 16 => existing.trim().to_owned(),
        _ => {
            let token = tutela_runtime::generate_token()
                .map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut f = options
                .open(&path)
                .with_context(|| format!("writing {}", path.display()))?;
            writeln!(f, "{token}")?;
            token
        }
    };
    eprintln!(
        "API token: {} (send it as `Authorization: Bearer <token>`)",
        path.display()
    );
    Ok(token)
}

/// Whether `url` names an SQLite database.
pub fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// Keys sit beside an SQLite file by default (one directory for the quick start); production
/// puts them elsewhere, and never into the data's backups.
fn key_dir(url: &str) -> std::path::PathBuf {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .and_then(|p| std::path::Path::new(p).parent())
        .filter(|p| !p.as_os_str().is_empty())
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default()
}

impl Config {
    /// The verifiable log's signing key: `TUTELA_LOG_KEY`, then the config file, then
    /// `tutela-log.key` in the working directory.
    pub fn log_key_path(&self) -> std::path::PathBuf {
        std::env::var("TUTELA_LOG_KEY")
            .ok()
            .or(self.log_key.clone())
            .unwrap_or_else(|| "tutela-log.key".to_owned())
            .into()
    }

    /// Every file the API must never reach for the data at `url`: the databases, the key
    /// files and the token. A directory the API may name must hold none of them.
    pub fn secret_files(&self, url: &str) -> Vec<std::path::PathBuf> {
        use tutela_store::vault::{KeySource, PseudonymKeySource};
        let sqlite = |u: &str| {
            u.strip_prefix("sqlite://")
                .or_else(|| u.strip_prefix("sqlite:"))
                .map(|p| std::path::PathBuf::from(p.split('?').next().unwrap_or(p)))
        };
        let mut files: Vec<std::path::PathBuf> = [url.to_owned(), self.keystore_url(url)]
            .iter()
            .filter_map(|u| sqlite(u))
            .collect();
        if let KeySource::File(p) = self.master_key_source(url) {
            files.push(p);
        }
        if let PseudonymKeySource::File(p) = self.pseudonym_key_source(None) {
            files.push(p);
        }
        files.push(self.log_key_path());
        files.push(self.hmac_key_path(url));
        // Mails with live one-time codes, when there is no mail server.
        files.push(self.outbox_dir(url));
        files.push(key_dir(url).join("tutela.token"));
        files.push("tutela.token".into());
        files
    }

    /// The directories pseudonymised datasets may be registered in: none unless configured,
    /// and never one holding a secret of [`Config::secret_files`].
    pub fn dataset_dirs(
        &self,
        url: &str,
    ) -> anyhow::Result<tutela_runtime::dataset_files::DatasetDirs> {
        let dirs: Vec<std::path::PathBuf> = self
            .pseudonymised_dirs
            .iter()
            .flatten()
            .map(std::path::PathBuf::from)
            .collect();
        Ok(tutela_runtime::dataset_files::DatasetDirs::new(
            &dirs,
            &self.secret_files(url),
        )?)
    }
}

impl Config {
    /// The HMAC key of one-time codes and rate limits: `TUTELA_HMAC_KEY`, then the config
    /// file, then `tutela-hmac.key` beside the SQLite database (or in the working directory),
    /// where the master key file is by default.
    pub fn hmac_key_path(&self, url: &str) -> std::path::PathBuf {
        std::env::var("TUTELA_HMAC_KEY")
            .ok()
            .or(self.hmac_key.clone())
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| key_dir(url).join("tutela-hmac.key"))
    }

    /// Where mails go without `[smtp]`: `outbox_dir`, else `tutela-outbox` beside the SQLite
    /// database (or in the working directory).
    pub fn outbox_dir(&self, url: &str) -> std::path::PathBuf {
        self.outbox_dir
            .clone()
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| key_dir(url).join("tutela-outbox"))
    }
}

/// A command that only reads refuses a SQLite database that is not there, instead of creating
/// an empty one (and key files beside it) and reporting on nothing.
pub fn existing_database(url: &str) -> anyhow::Result<()> {
    missing_sqlite(url).map_or(Ok(()), |p| {
        anyhow::bail!(
            "no database at {p}: this command only reads; name the server's database with --database (or `database` in --config)"
        )
    })
}

/// A command that writes into the servers' database (a policy activation) refuses a SQLite
/// database that is not there: a mistyped path would otherwise schedule into a new, empty
/// database that no server reads.
pub fn servers_database(url: &str) -> anyhow::Result<()> {
    missing_sqlite(url).map_or(Ok(()), |p| {
        anyhow::bail!(
            "no database at {p}: a policy is activated in the database the servers use; name it with --database (or `database` in --config), or create it with `tutela migrate --database URL`"
        )
    })
}

/// The path of a SQLite database `url` names that does not exist.
fn missing_sqlite(url: &str) -> Option<String> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .map(|p| p.split('?').next().unwrap_or(p));
    path.filter(|p| !std::path::Path::new(p).exists())
        .map(str::to_owned)
}
