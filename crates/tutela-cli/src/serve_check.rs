//! `tutela serve`'s configuration, checked whole before a file is created or the socket bound
//! (issue 31): every mistake is reported at once, each with the setting's name (and, from the
//! configuration file, its line and column), and nothing is left behind.

use std::net::SocketAddr;

use anyhow::Context;
use tutela_core::compiled::CompiledPolicy;

use crate::{Sources, config, connector_key, load_policy, redact, risk_cmd};

/// What `tutela serve` runs with.
pub(crate) struct ServeSetup {
    pub addr: SocketAddr,
    pub url: String,
    pub keystore: String,
    pub file_policy: CompiledPolicy,
    /// None: the token is read from or written to `tutela.token`.
    pub token: Option<String>,
    pub settings: tutela_runtime::requests::RequestSettings,
    pub smtp: Option<tutela_runtime::requests::mailer::SmtpMailer>,
    /// Each `[[dataset]]` with its map's file name and text, validated against the policy.
    pub maps: Vec<(config::Dataset, String)>,
    pub web: tutela_server::web::WebSettings,
    pub summary_hours: Option<i64>,
    pub risk: Option<(tutela_core::risk::Scorecard, String)>,
    pub connector_key: Vec<u8>,
}

/// The mistakes found so far; each check goes on after one, so that all are told at once.
#[derive(Default)]
struct Mistakes(Vec<String>);

impl Mistakes {
    /// The value, or `None` with the error kept.
    fn take<T>(&mut self, r: anyhow::Result<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(format!("{e:#}"));
                None
            }
        }
    }

    fn add(&mut self, message: String) {
        self.0.push(message);
    }

    /// Ok when nothing was found; else one error listing every mistake.
    fn finish(self) -> anyhow::Result<()> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(anyhow::anyhow!("{}", self.0[0])),
            n => Err(anyhow::anyhow!(
                "{n} mistakes in the configuration:\n- {}",
                self.0.join("\n- ")
            )),
        }
    }
}

fn is_database_url(url: &str) -> bool {
    config::is_sqlite(url) || url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Checks everything of `tutela serve`'s configuration that needs no file created: the
/// address, the database URL and its key store, the token, the time zone, `[web]`,
/// `[smtp]`, `pseudonymised_dirs`, the risk model, and every `[[dataset]]` map and
/// `[[notify]]` recipient against the policy file.
pub(crate) fn check_serve(
    listen: &str,
    sources: &Sources,
    config: &config::Config,
) -> anyhow::Result<ServeSetup> {
    let mut m = Mistakes::default();
    let located = |key: &str, value: Option<&str>, effective: &str| {
        if value == Some(effective) {
            config.at(key)
        } else {
            key.to_owned()
        }
    };
    let addr = m.take(listen.parse::<SocketAddr>().with_context(|| {
        format!(
            "{}: `{listen}` is not an address such as 127.0.0.1:8080",
            located("listen", config.listen.as_deref(), listen)
        )
    }));
    let url = config.database(&sources.database);
    let at_database = located("database", config.database.as_deref(), &url);
    if !is_database_url(&url) {
        m.add(format!(
            "{at_database}: `{}` is not a database URL: use sqlite://PATH or postgres://…",
            redact(&url)
        ));
    }
    let keystore = m.take(config.keystore(&url));
    if let Some(k) = &keystore {
        if !is_database_url(k) {
            m.add(format!(
                "{}: `{}` is not a database URL: use sqlite://PATH or postgres://…",
                config.at("keystore"),
                redact(k)
            ));
        }
        if *k == url {
            m.add(format!(
                "{}: the key store must be a database apart from the data (`{at_database}`)",
                config.at("keystore")
            ));
        }
    }
    let file_policy = m.take(load_policy(&config.policy(&sources.policy)));
    let token = m.take(token(config));
    let settings = m.take(request_settings(config, &url));
    let smtp = m.take(smtp(config));
    let web = m.take(
        config
            .web
            .clone()
            .unwrap_or_default()
            .settings()
            .with_context(|| config.at("web.trusted_proxies")),
    );
    let summary_hours = match config.summary_draft_hours {
        Some(0) => {
            m.add(format!(
                "{}: must be at least 1",
                config.at("summary_draft_hours")
            ));
            None
        }
        Some(h) => Some(i64::from(h)),
        None => None,
    };
    let risk = m.take(risk(config));
    addresses(config, &mut m);
    let mut maps = Vec::new();
    for (i, d) in config.dataset.iter().enumerate() {
        let text = std::fs::read_to_string(&d.map).with_context(|| {
            format!(
                "{}: reading {}",
                config.at(&format!("dataset.{i}.map")),
                d.map
            )
        });
        if let Some(text) = m.take(text) {
            maps.push((d.clone(), text));
        }
    }
    let connector_key = m.take(connector_key());
    // The maps and recipients against the policy, when it loaded.
    if let Some(p) = &file_policy {
        against_policy(&maps, config, &p.policy, &mut m);
    }
    m.finish()?;
    let (
        Some(addr),
        Some(keystore),
        Some(file_policy),
        Some(token),
        Some(settings),
        Some(smtp),
        Some(web),
        Some(risk),
        Some(connector_key),
    ) = (
        addr,
        keystore,
        file_policy,
        token,
        settings,
        smtp,
        web,
        risk,
        connector_key,
    )
    else {
        anyhow::bail!("the configuration could not be checked");
    };
    Ok(ServeSetup {
        addr,
        url,
        keystore,
        file_policy,
        token,
        settings,
        smtp,
        maps,
        web,
        summary_hours,
        risk,
        connector_key,
    })
}

fn token(config: &config::Config) -> anyhow::Result<Option<String>> {
    Ok(match std::env::var("TUTELA_API_TOKEN").ok() {
        Some(t) if t.len() >= 16 => Some(t),
        Some(_) => anyhow::bail!("TUTELA_API_TOKEN must have at least 16 characters"),
        None => match &config.api_token {
            Some(t) if t.len() >= 16 => Some(t.clone()),
            Some(_) => anyhow::bail!(
                "{}: the API token must have at least 16 characters",
                config.at("api_token")
            ),
            None => None,
        },
    })
}

fn request_settings(
    config: &config::Config,
    url: &str,
) -> anyhow::Result<tutela_runtime::requests::RequestSettings> {
    let mut settings = tutela_runtime::requests::RequestSettings::default();
    if let Some(url) = &config.public_url {
        settings.public_url = url.clone();
    }
    if let Some(days) = config.result_retention_days {
        settings.result_retention = jiff::SignedDuration::from_hours(i64::from(days) * 24);
    }
    settings.four_eyes = config.four_eyes.unwrap_or(false);
    match config.worker_concurrency {
        Some(0) => anyhow::bail!("{}: must be at least 1", config.at("worker_concurrency")),
        Some(n) => settings.worker_concurrency = n as usize,
        None => {}
    }
    if let Some(tz) = &config.time_zone {
        settings.deadlines.time_zone = jiff::tz::TimeZone::get(tz).with_context(|| {
            format!(
                "{}: `{tz}` is not a time zone such as Europe/Berlin",
                config.at("time_zone")
            )
        })?;
    }
    // None by default; a directory holding the database, a key or the token is refused.
    settings.pseudonymised_dirs = config
        .dataset_dirs(url)
        .with_context(|| config.at("pseudonymised_dirs"))?;
    Ok(settings)
}

fn smtp(
    config: &config::Config,
) -> anyhow::Result<Option<tutela_runtime::requests::mailer::SmtpMailer>> {
    let Some(smtp) = &config.smtp else {
        return Ok(None);
    };
    let settings = smtp.settings();
    if !["none", "starttls", "tls"].contains(&settings.security.as_str()) {
        anyhow::bail!(
            "{}: `{}` is not a security of the mail server: use none, starttls or tls",
            config.at("smtp.security"),
            settings.security
        );
    }
    Ok(Some(
        tutela_runtime::requests::mailer::SmtpMailer::new(&settings)
            .map_err(|e| anyhow::anyhow!("{}: {e}", config.at("smtp")))?,
    ))
}

fn risk(config: &config::Config) -> anyhow::Result<Option<(tutela_core::risk::Scorecard, String)>> {
    let Some(path) = &config.risk_model else {
        return Ok(None);
    };
    let at = config.at("risk_model");
    let model = risk_cmd::load_model(path).with_context(|| at.clone())?;
    // Not refused: a model trained before labels existed still decides as it did.
    if let Some(w) = risk_cmd::unlabelled_warning(&model) {
        tracing::warn!("{at}: {w}");
    }
    let bytes = std::fs::read(path).with_context(|| format!("{at}: reading {path}"))?;
    use sha2::Digest;
    let hash = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Some((model, hash)))
}

/// The agency's and the webhooks' addresses.
fn addresses(config: &config::Config, m: &mut Mistakes) {
    let web = |u: &str| u.starts_with("http://") || u.starts_with("https://");
    if let Some(u) = &config.risk_agency_url
        && !web(u)
    {
        m.add(format!(
            "{}: `{u}` is not an address such as http://host:port/path",
            config.at("risk_agency_url")
        ));
    }
    for (i, n) in config.notify.iter().enumerate() {
        if !web(&n.url) {
            m.add(format!(
                "{}: `{}` is not an address such as http://host:port/path",
                config.at(&format!("notify.{i}.url")),
                n.url
            ));
        }
    }
}

/// A `[[dataset]]` with its map, validated against the policy.
pub(crate) type LoadedMap = (config::Dataset, tutela_core::datamap::DatasetMap);

/// The dataset maps and the `[[notify]]` recipients of `setup` against `policy`: the maps
/// loaded (without their databases), the webhooks named by their recipient; every mistake
/// at once.
pub(crate) fn check_against_policy(
    setup: &ServeSetup,
    config: &config::Config,
    policy: &tutela_core::policy::Policy,
) -> anyhow::Result<(
    Vec<LoadedMap>,
    Vec<tutela_runtime::requests::notify::Webhook>,
)> {
    let mut m = Mistakes::default();
    let out = against_policy(&setup.maps, config, policy, &mut m);
    m.finish()?;
    Ok(out)
}

fn against_policy(
    maps: &[(config::Dataset, String)],
    config: &config::Config,
    policy: &tutela_core::policy::Policy,
    m: &mut Mistakes,
) -> (
    Vec<LoadedMap>,
    Vec<tutela_runtime::requests::notify::Webhook>,
) {
    let mut loaded = Vec::new();
    for (i, (d, text)) in maps.iter().enumerate() {
        let at = config.at(&format!("dataset.{i}.map"));
        let map = match tutela_core::datamap::load(&d.map, text, policy) {
            Ok(map) => map,
            Err(e) => {
                m.add(format!("{at}: the map does not validate:\n{e}"));
                continue;
            }
        };
        // A person would read these by their database names (issue 32).
        let unlabelled = tutela_core::datamap::unlabelled_errors(&d.map, text, &map);
        if !unlabelled.is_empty() {
            m.add(format!(
                "{at}: the map names tables or fields a person sees without a label:\n{}",
                tutela_core::policy::PolicyErrors(unlabelled)
            ));
            continue;
        }
        // The database's address, when the map's `url_env` should give it.
        if d.url.is_none()
            && map.url.is_none()
            && let Some(var) = &map.url_env
            && std::env::var_os(var).is_none()
        {
            m.add(format!(
                "{at}: the map takes its database's address from `{var}`, which is not set"
            ));
            continue;
        }
        loaded.push((d.clone(), map));
    }
    let mut webhooks = Vec::new();
    for (i, n) in config.notify.iter().enumerate() {
        if policy.recipient(&n.recipient).is_none() {
            m.add(format!(
                "{}: `{}` is not a recipient of the policy",
                config.at(&format!("notify.{i}.recipient")),
                n.recipient
            ));
            continue;
        }
        webhooks.push(tutela_runtime::requests::notify::Webhook {
            recipient: n.recipient.clone(),
            url: n.url.clone(),
        });
    }
    (loaded, webhooks)
}
