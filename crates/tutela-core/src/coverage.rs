//! Which policy elements and which tests cite each clause of the notice.

use std::collections::BTreeMap;

use crate::policy::Policy;

/// One clause and what cites it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClauseCoverage {
    pub elements: Vec<String>,
    pub tests: Vec<String>,
}

/// Every clause id cited by an element of the policy, with the element names (`purpose
/// email_marketing`, `basis email_marketing/eu-gdpr:A6-1-f`, …).
pub fn element_citations(policy: &Policy) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut cite = |refs: &[String], element: String| {
        for r in refs {
            map.entry(r.clone()).or_default().push(element.clone());
        }
    };
    cite(&policy.notice_refs, format!("policy {}", policy.id));
    cite(&policy.controller.notice_refs, "controller".into());
    for s in &policy.sections {
        cite(&s.notice_refs, format!("section {}", s.id));
    }
    for a in &policy.authorities {
        cite(&a.notice_refs, format!("authority {}", a.id));
    }
    for r in &policy.rights {
        cite(&r.notice_refs, format!("right {}", r.id));
    }
    for c in &policy.channels {
        cite(&c.notice_refs, format!("channel {}", c.id));
    }
    for c in &policy.categories {
        cite(&c.notice_refs, format!("category {}", c.id));
    }
    for p in &policy.purposes {
        cite(&p.notice_refs, format!("purpose {}", p.id));
        for b in &p.bases {
            cite(&b.notice_refs, format!("basis {}/{}", p.id, b.legal_basis));
        }
    }
    for r in &policy.recipients {
        cite(&r.notice_refs, format!("recipient {}", r.id));
    }
    cite(&policy.transfers.notice_refs, "transfers".into());
    for r in &policy.retention {
        cite(&r.notice_refs, format!("retention {}", r.id));
    }
    let rr = &policy.rule_refs;
    for (name, refs) in [
        ("consent", &rr.consent),
        ("withdrawal", &rr.withdrawal),
        ("objection", &rr.objection),
        ("direct_marketing_objection", &rr.direct_marketing_objection),
        ("restriction", &rr.restriction),
        ("erasure", &rr.erasure),
        ("category", &rr.category),
        ("transfer", &rr.transfer),
        ("relationship", &rr.relationship),
    ] {
        cite(refs, format!("rule_refs {name}"));
    }
    map
}

/// Test names per clause, found in source text by a `// covers: N4, N9c` comment above a
/// `fn` (the comment applies to the next function), and in scenario files by the `covers`
/// list of a case.
pub fn test_citations<'a>(
    sources: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (file, text) in sources {
        let mut pending: Vec<String> = Vec::new();
        let mut case_name = String::new();
        for line in text.lines() {
            let line = line.trim();
            if let Some(name) = line.strip_prefix("name = ") {
                case_name = name.trim_matches('"').to_owned();
            } else if let Some(list) = line.strip_prefix("covers = [") {
                // A scenario case (TOML): the clauses belong to the case named above.
                for clause in list.trim_end_matches(']').split(',') {
                    let clause = clause.trim().trim_matches('"');
                    if !clause.is_empty() {
                        map.entry(clause.to_owned())
                            .or_default()
                            .push(format!("{file}::{case_name}"));
                    }
                }
            } else if let Some(list) = line.strip_prefix("// covers:") {
                pending.extend(
                    list.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty()),
                );
            } else if let Some(rest) = line
                .strip_prefix("fn ")
                .or_else(|| line.strip_prefix("async fn "))
            {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                for clause in pending.drain(..) {
                    map.entry(clause)
                        .or_default()
                        .push(format!("{file}::{name}"));
                }
            }
        }
    }
    map
}

/// Joins element and test citations for `clauses`.
pub fn coverage(
    policy: &Policy,
    clauses: &[String],
    tests: &BTreeMap<String, Vec<String>>,
) -> Vec<(String, ClauseCoverage)> {
    let elements = element_citations(policy);
    clauses
        .iter()
        .map(|c| {
            (
                c.clone(),
                ClauseCoverage {
                    elements: elements.get(c).cloned().unwrap_or_default(),
                    tests: tests.get(c).cloned().unwrap_or_default(),
                },
            )
        })
        .collect()
}

/// The clause ids N1–N33 of the notice, as `clauses.md` lists them.
pub fn notice_clauses() -> Vec<String> {
    let mut out = Vec::new();
    for n in 1..=33 {
        match n {
            5 => out.extend(('a'..='h').map(|c| format!("N5{c}"))),
            7 => out.extend(('a'..='c').map(|c| format!("N7{c}"))),
            9 => out.extend(('a'..='h').map(|c| format!("N9{c}"))),
            _ => {}
        }
        // N9 has only lettered clauses; N5 and N7 are clauses of their own as well.
        if n != 9 {
            out.push(format!("N{n}"));
        }
    }
    out
}
