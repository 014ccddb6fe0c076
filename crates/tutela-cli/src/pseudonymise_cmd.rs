//! `tutela pseudonymise`: a CSV file streamed through the core's table pseudonymiser, in
//! constant memory. The output appears only when the whole run succeeded (a file beside it,
//! renamed at the end); a bad row stops the run, or goes to the reject file when one is named.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use tutela_core::pseudonym::table::{ColumnSpec, OnBadRow, RowError, TablePseudonymiser};
use tutela_core::pseudonym::{Method, PseudonymKeys};

use crate::config::Config;

#[derive(clap::Args)]
pub struct PseudonymiseArgs {
    /// The CSV file (RFC 4180, a header line first).
    #[arg(long = "in")]
    input: PathBuf,
    /// Where to write the pseudonymised file; written only when the run succeeds.
    #[arg(long)]
    out: PathBuf,
    /// COLUMN=METHOD, repeated: `hmac`, `ff1` (the column's name says the identifier), or
    /// `ff1:imsi|iccid|msisdn|imei|iban`.
    #[arg(long = "column", required = true)]
    columns: Vec<String>,
    /// The pseudonymisation domain, each with its own keys: a purpose, or a dataset's name.
    #[arg(long)]
    domain: String,
    /// The key to use (default: the key file's active key).
    #[arg(long)]
    key_id: Option<String>,
    /// The key file (default: `TUTELA_PSEUDONYMISATION_KEYS`, the config file, then
    /// `tutela-pseudonym.key`).
    #[arg(long)]
    keys: Option<String>,
    /// Bad rows go here, as they were, and the run goes on; without it a bad row stops the run.
    #[arg(long)]
    rejects: Option<PathBuf>,
    /// Register the output with the running server for this purpose, before it appears: the
    /// server deletes it when the purpose's retention ends (N7b: three months).
    #[arg(long)]
    register_for: Option<String>,
    /// The running tutela server, for --register-for.
    #[arg(long, env = "TUTELA_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Where the API token is, unless `TUTELA_API_TOKEN` is set.
    #[arg(long, default_value = "tutela.token")]
    token_file: String,
}

/// Registers the output (still under its temporary name) with the server, so no dataset
/// exists that the retention sweep does not know of.
fn register(
    args: &PseudonymiseArgs,
    purpose: &str,
    specs: &[ColumnSpec],
    key_id: &str,
    rows: u64,
) -> anyhow::Result<String> {
    let location = std::path::absolute(&args.out)
        .with_context(|| format!("the absolute path of {}", args.out.display()))?;
    let body = serde_json::json!({
        "purpose": purpose,
        "domain": args.domain,
        "location": location.to_string_lossy(),
        "columns": specs.iter().map(|c| format!("{}={}", c.column, c.method.name())).collect::<Vec<_>>(),
        "key_id": key_id,
        "rows": rows,
    });
    let client = crate::client::ApiClient::new(&args.server, &args.token_file)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let answer = rt
        .block_on(client.call("POST", "/v1/pseudonymised-datasets", Some(&body), None))?
        .ok()
        .context("registering the dataset; nothing was written")?;
    Ok(format!(
        "registered as {}, deleted on {}",
        answer.json()["id"].as_str().unwrap_or("?"),
        answer.json()["expires_at"].as_str().unwrap_or("?")
    ))
}

/// Parses `COLUMN=METHOD`.
pub fn column_spec(text: &str) -> anyhow::Result<ColumnSpec> {
    let (column, method) = text
        .split_once('=')
        .with_context(|| format!("--column {text}: expected COLUMN=METHOD, e.g. imsi=ff1"))?;
    let method = Method::parse(method, column).with_context(|| {
        format!(
            "--column {text}: the method is hmac, ff1:imsi|iccid|msisdn|imei|iban, or ff1 on a column named like the identifier"
        )
    })?;
    Ok(ColumnSpec {
        column: column.to_owned(),
        method,
    })
}

/// A file written beside its destination and renamed onto it only by [`Staged::commit`];
/// dropped uncommitted, it is removed.
struct Staged {
    tmp: PathBuf,
    dest: PathBuf,
    file: Option<std::fs::File>,
}

impl Staged {
    fn create(dest: &Path) -> anyhow::Result<Staged> {
        let mut name = dest.file_name().unwrap_or_default().to_os_string();
        name.push(".partial");
        let tmp = dest.with_file_name(name);
        let file =
            std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        Ok(Staged {
            tmp,
            dest: dest.to_owned(),
            file: Some(file),
        })
    }

    fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        if let Some(f) = &mut self.file {
            f.write_all(bytes)
                .with_context(|| format!("writing {}", self.tmp.display()))?;
        }
        Ok(())
    }

    fn commit(mut self) -> anyhow::Result<()> {
        if let Some(f) = self.file.take() {
            f.sync_all()
                .with_context(|| format!("writing {}", self.tmp.display()))?;
        }
        std::fs::rename(&self.tmp, &self.dest)
            .with_context(|| format!("writing {}", self.dest.display()))
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

const CHUNK: usize = 8 << 20;

/// What a run did.
pub struct Summary {
    pub rows: u64,
    pub pseudonyms: u64,
    pub rejected: Vec<RowError>,
    pub key_id: String,
    /// The server's id and deletion date, when registered.
    pub registered: Option<String>,
}

pub fn run(args: &PseudonymiseArgs, config: &Config) -> anyhow::Result<Summary> {
    let specs = args
        .columns
        .iter()
        .map(|c| column_spec(c))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // The key comes first: a missing key stops the run before any output exists.
    let keys: PseudonymKeys = tutela_store::vault::read_pseudonym_keys(
        &config.pseudonym_key_source(args.keys.as_deref()),
    )?;
    let domain = keys.domain(&args.domain, args.key_id.as_deref())?;
    let key_id = domain.key_id().to_owned();

    let mut input = std::fs::File::open(&args.input)
        .with_context(|| format!("reading {}", args.input.display()))?;
    let total = input.metadata().map(|m| m.len()).unwrap_or(0);
    let mut buf = vec![0u8; CHUNK];
    let mut filled = 0;
    let mut eof = false;
    // Reads on after `filled`, growing the buffer when a record fills it; true at the end.
    let mut fill = |buf: &mut Vec<u8>, filled: &mut usize| -> anyhow::Result<bool> {
        if *filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = input
            .read(&mut buf[*filled..])
            .with_context(|| format!("reading {}", args.input.display()))?;
        *filled += n;
        Ok(n == 0)
    };
    // The header must be whole before it is read.
    while !eof && !buf[..filled].contains(&b'\n') {
        eof = fill(&mut buf, &mut filled)?;
    }
    let (mut table, header) = TablePseudonymiser::new(domain, &specs, &buf[..filled])
        .with_context(|| format!("{}", args.input.display()))?;

    let mut out = Staged::create(&args.out)?;
    let mut rejects = args.rejects.as_deref().map(Staged::create).transpose()?;
    out.write(&buf[..header])?;
    if let Some(r) = &mut rejects {
        r.write(&buf[..header])?;
    }
    let on_bad = if rejects.is_some() {
        OnBadRow::Reject
    } else {
        OnBadRow::Stop
    };
    let mut start = header;
    let mut out_buf = Vec::with_capacity(CHUNK + CHUNK / 2);
    let mut reject_buf = Vec::new();
    let mut errors = Vec::new();
    let (mut rows, mut pseudonyms, mut read) = (0u64, 0u64, filled as u64);
    let progress = Progress::new(total);
    loop {
        out_buf.clear();
        reject_buf.clear();
        let done = table
            .process(
                &buf[start..filled],
                eof,
                on_bad,
                &mut out_buf,
                &mut reject_buf,
                &mut errors,
            )
            .map_err(|e| anyhow::anyhow!("{}: {e}; nothing was written", args.input.display()))?;
        rows += done.rows;
        pseudonyms += done.pseudonyms;
        out.write(&out_buf)?;
        if let Some(r) = &mut rejects {
            r.write(&reject_buf)?;
        }
        start += done.consumed;
        if eof {
            break;
        }
        // Keep the incomplete record, then fill the rest of the buffer.
        buf.copy_within(start..filled, 0);
        filled -= start;
        start = 0;
        let before = filled;
        eof = fill(&mut buf, &mut filled)?;
        read += (filled - before) as u64;
        progress.show(read);
    }
    progress.finish();
    let registered = match &args.register_for {
        Some(purpose) => Some(register(
            args,
            purpose,
            &specs,
            &key_id,
            rows - errors.len() as u64,
        )?),
        None => None,
    };
    out.commit()?;
    if let Some(r) = rejects {
        r.commit()?;
    }
    Ok(Summary {
        rows,
        pseudonyms,
        rejected: errors,
        key_id,
        registered,
    })
}

/// A progress line on standard error, when it is a terminal.
pub(crate) struct Progress {
    total: u64,
    started: Instant,
    tty: bool,
}

impl Progress {
    pub(crate) fn new(total: u64) -> Progress {
        Progress {
            total,
            started: Instant::now(),
            tty: std::io::stderr().is_terminal(),
        }
    }

    pub(crate) fn show(&self, read: u64) {
        if !self.tty || self.total == 0 {
            return;
        }
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let mut err = std::io::stderr();
        let _ = write!(
            err,
            "\r{:>3}%  {} of {} MB  {:.0} MB/s ",
            read * 100 / self.total,
            read >> 20,
            self.total >> 20,
            read as f64 / secs / 1e6
        );
    }

    pub(crate) fn finish(&self) {
        if self.tty {
            let _ = writeln!(std::io::stderr());
        }
    }
}
