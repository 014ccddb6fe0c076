//! `tutela datasets check MAP --url URL`: a dataset map against its live database, on its own
//! and before a server is pointed at it. Reads the map and the database's catalog; writes
//! nothing and creates no file (SQLite is opened read-only, PostgreSQL in read-only
//! transactions).
//!
//! Exit 0: the database fits the map. Exit 1: the map is invalid (a table or field a person
//! sees without a `label` in German and English counts), or the database does not fit it; each
//! problem is named with file:line:column of the map and the table and column. Exit 2:
//! a usage error, or the check could not run (unreadable map, no URL, database unreachable).

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use tutela_core::datamap::ConnectorKind;

use crate::config::Config;

#[derive(Subcommand)]
pub enum DatasetsCommand {
    /// Checks a dataset map against a live database without writing: every table and column
    /// it names exists, their types fit how the map uses them (keys, references, identifiers,
    /// retention and timestamp columns, restriction flags, erasure values), and the indexes
    /// the retention sweeps walk exist. Exit 0 fits, 1 with each problem, 2 cannot check.
    Check {
        /// The dataset map (TOML).
        map: String,
        /// The database; the map's `url` or `url_env` when not given.
        #[arg(long)]
        url: Option<String>,
        /// The policy whose categories and retention rules the map names; the built-in
        /// reference policy when not given.
        #[arg(long, env = "TUTELA_POLICY")]
        policy: Option<String>,
        /// The day whose retention rules decide which sweeps (and indexes) are needed
        /// (YYYY-MM-DD); today when not given.
        #[arg(long)]
        at: Option<String>,
    },
}

pub async fn run(command: DatasetsCommand, config: &Config) -> anyhow::Result<ExitCode> {
    match command {
        DatasetsCommand::Check {
            map,
            url,
            policy,
            at,
        } => check(&map, url.as_deref(), &config.policy(&policy), at.as_deref()).await,
    }
}

async fn check(
    file: &str,
    url: Option<&str>,
    policy: &Option<String>,
    at: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let today = match at {
        Some(d) => d
            .parse::<jiff::civil::Date>()
            .with_context(|| format!("--at `{d}` is not a date such as 2026-12-01"))?,
        None => jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date(),
    };
    let policy = crate::load_policy(policy)?;
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read `{file}`"))?;
    let map = match tutela_core::datamap::load(file, &text, &policy.policy) {
        Ok(m) => m,
        Err(e) => {
            say!("{e}");
            say!("{} error(s) in the map", e.0.len());
            return Ok(ExitCode::from(1));
        }
    };
    // A table or field a person would see by its database name is a mistake of the map
    // (issue 32), found before the database is asked.
    let unlabelled = tutela_core::datamap::unlabelled_errors(file, &text, &map);
    if !unlabelled.is_empty() {
        for e in &unlabelled {
            say!("{e}");
        }
        say!("{} error(s) in the map", unlabelled.len());
        return Ok(ExitCode::from(1));
    }
    let kind = map.connector;
    let id = map.id.clone();
    let tables = map.tables.len();
    let url = match (url, &map.url, &map.url_env) {
        (Some(u), _, _) => u.to_owned(),
        (None, Some(u), _) => u.clone(),
        (None, None, Some(var)) => std::env::var(var).with_context(|| {
            format!("no database: pass --url, or set {var} (the map's url_env)")
        })?,
        (None, None, None) => anyhow::bail!("no database: pass --url"),
    };
    let shown = crate::redact(&url);
    // No key: nothing is hashed, nothing written.
    let connector =
        tutela_connectors::Connector::open(map, Some(&read_only(kind, &url)), Vec::new())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("connecting to {shown}"))?;
    let problems = connector
        .audit(&policy.policy, today)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("reading the catalog of {shown}"))?;
    if problems.is_empty() {
        say!("ok — dataset `{id}`: {tables} tables fit {shown}");
        return Ok(ExitCode::SUCCESS);
    }
    for p in &problems {
        let located = tutela_core::datamap::problem_at(
            file,
            &text,
            &p.table,
            p.column.as_deref(),
            p.message.clone(),
            &p.help,
        );
        say!("{located}");
    }
    say!(
        "{} problem(s): dataset `{id}` does not fit {shown}",
        problems.len()
    );
    Ok(ExitCode::from(1))
}

/// The URL opened so that the check cannot write: SQLite read-only (which also never creates
/// the file), PostgreSQL with read-only transactions. MariaDB has no such connection option;
/// the check only reads there too.
fn read_only(kind: ConnectorKind, url: &str) -> String {
    match kind {
        ConnectorKind::Sqlite if !url.contains("mode=") => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}mode=ro")
        }
        ConnectorKind::Postgres => {
            const FLAG: &str = "-c%20default_transaction_read_only%3Don";
            match url.find("options=") {
                // Added to the options already given (a search path, …).
                Some(at) => {
                    let start = at + "options=".len();
                    let end = url[start..].find('&').map_or(url.len(), |i| start + i);
                    format!("{}%20{FLAG}{}", &url[..end], &url[end..])
                }
                None => {
                    let sep = if url.contains('?') { '&' } else { '?' };
                    format!("{url}{sep}options={FLAG}")
                }
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_opened_read_only() {
        assert_eq!(
            read_only(ConnectorKind::Sqlite, "sqlite:///tmp/x.db"),
            "sqlite:///tmp/x.db?mode=ro"
        );
        assert_eq!(
            read_only(ConnectorKind::Postgres, "postgres://u@h/db"),
            "postgres://u@h/db?options=-c%20default_transaction_read_only%3Don"
        );
        assert_eq!(
            read_only(
                ConnectorKind::Postgres,
                "postgres://u@h/db?options=-c%20search_path%3Ds&sslmode=disable"
            ),
            "postgres://u@h/db?options=-c%20search_path%3Ds%20-c%20default_transaction_read_only%3Don&sslmode=disable"
        );
        assert_eq!(
            read_only(ConnectorKind::Mysql, "mysql://root@h/db"),
            "mysql://root@h/db"
        );
    }
}
