//! `tutela redact`: finds personal data in a text file and writes it redacted (N24, N25).

use std::process::ExitCode;

use anyhow::Context;
use tutela_core::redact::{Finding, Operator, Recognisers, redact};

use crate::config::Config;
use crate::load_policy;

#[derive(clap::Args)]
pub struct RedactArgs {
    /// The text to redact.
    #[arg(long = "in")]
    input: String,
    /// Where to write the redacted text (standard output when not given).
    #[arg(long)]
    out: Option<String>,
    /// replace (`<IBAN>`), mask (`****`) or pseudonym (`<EMAIL:3f9a…>`, keyed HMAC in
    /// --domain).
    #[arg(long, default_value = "replace")]
    operator: String,
    /// A regular expression for the operator's customer numbers (default: the policy's
    /// `[redaction] customer_number`).
    #[arg(long)]
    customer_number: Option<String>,
    /// A name known to be in the text (repeated): found without a context word too.
    #[arg(long = "name")]
    names: Vec<String>,
    /// The pseudonymisation domain of `--operator pseudonym`, e.g. ai_training.
    #[arg(long)]
    domain: Option<String>,
    /// The key file for `--operator pseudonym`.
    #[arg(long)]
    keys: Option<String>,
    /// The policy file (for its customer-number pattern).
    #[arg(long)]
    policy: Option<String>,
}

/// Redacts `--in` to `--out` (or standard output) and counts the findings per kind on
/// standard error.
pub fn run(args: RedactArgs, config: &Config) -> anyhow::Result<ExitCode> {
    // The key comes first: a missing key stops the run before any output.
    let domain = pseudonym_domain(&args, config)?;
    let op = match (args.operator.as_str(), &domain) {
        ("replace", _) => Operator::Replace,
        ("mask", _) => Operator::Mask,
        ("pseudonym", Some(d)) => Operator::Pseudonym(d),
        (other, _) => anyhow::bail!("unknown operator `{other}`; use replace, mask or pseudonym"),
    };
    let customer_number = match args.customer_number {
        Some(p) => Some(p),
        None => load_policy(&config.policy(&args.policy))?
            .policy
            .redaction
            .and_then(|r| r.customer_number),
    };
    let input = &args.input;
    let text =
        std::fs::read_to_string(input).with_context(|| format!("reading {input} (UTF-8 text)"))?;
    let r = Recognisers::new(customer_number.as_deref())
        .and_then(|r| r.with_names(&args.names))
        .map_err(|e| anyhow::anyhow!("--customer-number or --name is not usable: {e}"))?;
    let findings = r.find(&text);
    let redacted = redact(&text, &findings, op);
    match args.out {
        Some(path) => {
            let tmp = format!("{path}.tmp");
            std::fs::write(&tmp, &redacted).with_context(|| format!("writing {tmp}"))?;
            std::fs::rename(&tmp, &path).with_context(|| format!("writing {path}"))?;
        }
        None => say_raw!("{redacted}"),
    }
    eprintln!("{} findings: {}", findings.len(), counts(&findings));
    Ok(ExitCode::SUCCESS)
}

/// The keyed domain of `--operator pseudonym`; none for the other operators.
fn pseudonym_domain(
    args: &RedactArgs,
    config: &Config,
) -> anyhow::Result<Option<tutela_core::pseudonym::DomainPseudonyms>> {
    Ok(match (args.operator.as_str(), &args.domain) {
        ("pseudonym", Some(d)) => {
            let keys: tutela_core::pseudonym::PseudonymKeys =
                tutela_store::vault::read_pseudonym_keys(
                    &config.pseudonym_key_source(args.keys.as_deref()),
                )?;
            Some(keys.domain(d, None)?)
        }
        ("pseudonym", None) => {
            anyhow::bail!("--operator pseudonym needs --domain, e.g. ai_training")
        }
        _ => None,
    })
}

/// The findings counted per kind, e.g. `EMAIL 2, IBAN 1`.
fn counts(findings: &[Finding]) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for f in findings {
        *counts.entry(f.entity.label()).or_insert(0) += 1;
    }
    counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
