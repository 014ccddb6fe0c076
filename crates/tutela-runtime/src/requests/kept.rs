//! What an erasure kept, told to the person in their language (Art. 12(1), 17(3)): how many
//! records stay, on which ground (the retention rule's own words from the policy, the running
//! contract, a legal hold) and until when. Read from the erasure steps' outputs; no table or
//! column name, no internal id.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use tutela_core::policy::Policy;
use tutela_core::render::Lang;
use tutela_store::StepRecord;

/// Why records were kept.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ground {
    /// A retention rule of the policy (its id).
    Rule(String),
    /// A running contract (Art. 6(1)(b)).
    Contract,
    /// A legal hold (Art. 17(3)(e)).
    Hold,
}

/// The records kept on one ground until one date, summed over datasets and tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    ground: Ground,
    until: Option<String>,
    rows: u64,
    /// The data categories of the fields that stay (from the plans), by id.
    categories: BTreeSet<String>,
}

/// The reports of the erasure steps of an operator's databases, in step order (`Null` for a
/// step without one).
pub fn erase_reports(steps: &[StepRecord]) -> Vec<Value> {
    steps
        .iter()
        .filter(|s| s.step.starts_with("40-erase:"))
        .map(|s| {
            s.output
                .as_deref()
                .and_then(|o| serde_json::from_str(o).ok())
                .unwrap_or(Value::Null)
        })
        .collect()
}

/// What the erasure steps of `steps` kept, grouped by ground and date.
pub fn kept(steps: &[StepRecord]) -> Vec<Kept> {
    let mut groups: BTreeMap<(Ground, Option<String>), u64> = BTreeMap::new();
    for out in erase_reports(steps) {
        for r in out["restricted"].as_array().into_iter().flatten() {
            let rule = r["rule"].as_str().unwrap_or_default();
            let (ground, until) = if rule == "legal_hold" {
                (Ground::Hold, None)
            } else {
                (Ground::Rule(rule.to_owned()), text(&r["until"]))
            };
            *groups.entry((ground, until)).or_default() += r["rows"].as_u64().unwrap_or(0);
        }
        for k in out["kept_for_contract"].as_array().into_iter().flatten() {
            *groups
                .entry((Ground::Contract, text(&k["until"])))
                .or_default() += k["rows"].as_u64().unwrap_or(0);
        }
    }
    let categories = kept_categories(steps);
    groups
        .into_iter()
        .map(|((ground, until), rows)| Kept {
            categories: categories
                .get(&(ground.clone(), until.clone()))
                .cloned()
                .unwrap_or_default(),
            ground,
            until,
            rows,
        })
        .collect()
}

/// What kinds of data stay, per ground and date: the categories of the fields the plans keep.
fn kept_categories(steps: &[StepRecord]) -> BTreeMap<(Ground, Option<String>), BTreeSet<String>> {
    let mut out: BTreeMap<(Ground, Option<String>), BTreeSet<String>> = BTreeMap::new();
    for s in steps
        .iter()
        .filter(|s| s.step.starts_with(super::review::PLAN_PREFIX))
    {
        let plan: Value = s
            .output
            .as_deref()
            .and_then(|o| serde_json::from_str(o).ok())
            .unwrap_or(Value::Null);
        for t in plan["tables"].as_array().into_iter().flatten() {
            let ground = match t["action"].as_str() {
                Some("restrict") => Ground::Rule(t["rule"].as_str().unwrap_or_default().to_owned()),
                Some("keep_for_contract") => Ground::Contract,
                _ => continue,
            };
            let kept = t["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|f| f["effect"] == "kept")
                .filter_map(|f| f["category"].as_str().map(str::to_owned));
            out.entry((ground, text(&t["until"])))
                .or_default()
                .extend(kept);
        }
    }
    out
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

/// One sentence per group, for the person.
pub fn sentences(kept: &[Kept], policy: &Policy, lang: Lang) -> Vec<String> {
    kept.iter().map(|k| sentence(k, policy, lang)).collect()
}

fn sentence(k: &Kept, policy: &Policy, lang: Lang) -> String {
    let what = what_stays(k, policy, lang);
    format!("{}{what}", ground_sentence(k, policy, lang))
}

/// " Sie enthalten: …" with the kept categories' labels from the policy; empty when unknown.
fn what_stays(k: &Kept, policy: &Policy, lang: Lang) -> String {
    let labels: Vec<&str> = k
        .categories
        .iter()
        .filter_map(|c| policy.categories.iter().find(|p| p.id == *c))
        .map(|c| c.label.get(lang))
        .collect();
    if labels.is_empty() {
        return String::new();
    }
    match lang {
        Lang::De => format!(" Sie enthalten: {}.", labels.join("; ")),
        Lang::En => format!(" They hold: {}.", labels.join("; ")),
    }
}

fn ground_sentence(k: &Kept, policy: &Policy, lang: Lang) -> String {
    let n = k.rows;
    let until = k
        .until
        .as_deref()
        .map(|u| tutela_core::words::civil_date(u, lang));
    match (&k.ground, lang) {
        (Ground::Rule(rule), _) => {
            let why = policy
                .retention
                .iter()
                .find(|r| r.id == *rule)
                .map(|r| r.label.get(lang).to_owned())
                .unwrap_or_default();
            let until = until.unwrap_or_default();
            match lang {
                Lang::De => format!(
                    "{n} Einträge bleiben bis zum {until} gespeichert und sind für jede andere Verwendung gesperrt. Grund: {why}"
                ),
                Lang::En => format!(
                    "{n} records stay stored until {until} and are restricted from any other use. Why: {why}"
                ),
            }
        }
        (Ground::Contract, Lang::De) => format!(
            "{n} Einträge bleiben gespeichert, solange Ihr Vertrag läuft{}: Wir brauchen sie, um den Vertrag zu erfüllen (Art. 6 Abs. 1 lit. b DSGVO).",
            until.map(|u| format!(" (bis zum {u})")).unwrap_or_default()
        ),
        (Ground::Contract, Lang::En) => format!(
            "{n} records stay stored as long as your contract runs{}: we need them to perform the contract (Art. 6(1)(b) GDPR).",
            until.map(|u| format!(" (until {u})")).unwrap_or_default()
        ),
        (Ground::Hold, Lang::De) => format!(
            "{n} Einträge bleiben gesperrt gespeichert, solange eine rechtliche Aufbewahrungsanordnung besteht (Art. 17 Abs. 3 lit. e DSGVO); danach werden sie gelöscht."
        ),
        (Ground::Hold, Lang::En) => format!(
            "{n} records stay stored, restricted, as long as a legal hold applies (Art. 17(3)(e) GDPR); then they are erased."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(output: serde_json::Value) -> StepRecord {
        StepRecord {
            step: "40-erase:operator".into(),
            status: tutela_core::request::StepStatus::Done,
            attempts: 1,
            last_error: None,
            next_at: None,
            output: Some(output.to_string()),
        }
    }

    #[test]
    fn kept_records_are_grouped_by_ground_and_date_across_tables() {
        let steps = [step(serde_json::json!({
            "dataset": "operator",
            "restricted": [
                {"table": "invoices", "rows": 2, "rule": "booking_vouchers", "until": "2033-12-31", "why": "legal_retention"},
                {"table": "customers", "rows": 1, "rule": "booking_vouchers", "until": "2033-12-31", "why": "referenced_by_retained_record"}
            ],
            "kept_for_contract": [
                {"table": "contracts", "rows": 1, "until": null},
                {"table": "sims", "rows": 2, "until": null}
            ]
        }))];
        let k = kept(&steps);
        assert_eq!(
            k,
            [
                Kept {
                    ground: Ground::Rule("booking_vouchers".into()),
                    until: Some("2033-12-31".into()),
                    rows: 3,
                    categories: BTreeSet::new(),
                },
                Kept {
                    ground: Ground::Contract,
                    until: None,
                    rows: 3,
                    categories: BTreeSet::new(),
                }
            ]
        );
    }
}
