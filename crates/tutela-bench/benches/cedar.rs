//! The reference policy's rules encoded in Cedar, generated from the same policy so that both
//! engines enforce the same rules. Two forms: one Cedar policy per rule (permits per legal
//! basis, forbids per restriction), and every rule folded into a single permit.
//!
//! Cedar skips a policy whose evaluation errors, so a missing person (no entity) could turn a
//! skipped `forbid` into an allow. Every attribute access is therefore guarded with `has`:
//! a person without an entity is treated exactly as tutela treats an unknown person.

use std::fmt::Write;

use cedar_policy::{Context, Entities, EntityUid, PolicySet, Request};
use serde_json::{Value, json};
use tutela_bench::{BenchQuery, Population};
use tutela_core::basis::LegalBasis;
use tutela_core::compiled::CompiledPolicy;
use tutela_core::policy::{Basis, Purpose};
use tutela_core::state::{
    ERASED, OBJECTED_DIRECT_MARKETING, OBJECTED_LEGITIMATE_INTEREST, RESTRICTED, SubjectState,
};

fn list(items: impl IntoIterator<Item = String>) -> String {
    let v: Vec<String> = items.into_iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", v.join(", "))
}

fn flag(name: &str) -> String {
    format!("(principal has {name} && principal.{name})")
}

fn has_in(set: &str, value: &str) -> String {
    format!("(principal has {set} && principal.{set}.contains({value}))")
}

struct Rules {
    erasure: Option<String>,
    categories: String,
    channel: Option<String>,
    bases: Vec<String>,
    restriction: Option<String>,
    recipient: String,
    transfer: String,
}

fn holds(c: &CompiledPolicy, p: &Purpose, b: &Basis) -> String {
    let pol = &c.policy;
    let mut parts = Vec::new();
    if b.requires_relationship != 0 {
        let rels: Vec<String> = tutela_core::basis::Relationship::KNOWN
            .iter()
            .filter(|r| b.requires_relationship & r.bit() != 0)
            .map(|r| r.as_str().to_owned())
            .collect();
        parts.push(format!(
            "(principal has relationship && {}.contains(principal.relationship))",
            list(rels)
        ));
    }
    match b.legal_basis {
        LegalBasis::Consent => {
            if p.consent_per_channel {
                let alts: Vec<String> = p
                    .channels
                    .iter()
                    .map(|&ch| {
                        let ch = &pol.channels[ch].id;
                        format!(
                            "(context.channel == \"{ch}\" && {})",
                            has_in("consents", &format!("\"{}/{ch}\"", p.id))
                        )
                    })
                    .collect();
                parts.push(format!("({})", alts.join(" || ")));
            } else {
                parts.push(has_in("consents", &format!("\"{}\"", p.id)));
            }
        }
        LegalBasis::Contract | LegalBasis::LegalObligation | LegalBasis::VitalInterest => {}
        _ if p.survives_objection => {}
        _ => {
            if p.direct_marketing {
                parts.push(format!("!{}", flag("obj_dm")));
            }
            parts.push(format!("!{}", flag("obj_li")));
            parts.push(format!("!{}", has_in("objected", &format!("\"{}\"", p.id))));
        }
    }
    if parts.is_empty() {
        "true".to_owned()
    } else {
        parts.join(" && ")
    }
}

fn country_ok(c: &CompiledPolicy, var: &str) -> String {
    let pol = &c.policy;
    let mut alts = vec![format!(
        "{}.contains({var})",
        list(pol.transfers.eea.iter().map(|c| c.as_str().to_owned()))
    )];
    for a in &pol.transfers.adequacy {
        let secs = |d: jiff::civil::Date| {
            d.to_zoned(jiff::tz::TimeZone::UTC)
                .map(|z| z.timestamp().as_second())
                .unwrap_or(i64::MAX)
        };
        let mut cond = format!(
            "({var} == \"{}\" && context.now >= {}",
            a.country,
            secs(a.decided)
        );
        if let Some(u) = a.until {
            let _ = write!(cond, " && context.now < {}", secs(u));
        }
        if a.requires_dpf {
            cond.push_str(" && resource.dpf");
        }
        cond.push(')');
        alts.push(cond);
    }
    alts.push(format!("resource.safeguarded.contains({var})"));
    alts.push(has_in("transfer_consents", var));
    format!("({})", alts.join(" || "))
}

fn rules(c: &CompiledPolicy, p: &Purpose) -> Rules {
    let pol = &c.policy;
    let cats = list(p.categories.iter().map(|&i| pol.categories[i].id.clone()));
    let chans = list(p.channels.iter().map(|&i| pol.channels[i].id.clone()));
    let bases: Vec<String> = p.bases.iter().map(|b| holds(c, p, b)).collect();
    let restriction = (!p.permitted_under_restriction).then(|| {
        // Permitted while restricted only when the basis that holds first is consent.
        let consent_first: Vec<String> = p
            .bases
            .iter()
            .enumerate()
            .filter(|(_, b)| b.legal_basis == LegalBasis::Consent)
            .map(|(k, _)| {
                let earlier: Vec<String> = bases[..k].iter().map(|h| format!("!({h})")).collect();
                let mut all = earlier;
                all.push(format!("({})", bases[k]));
                all.join(" && ")
            })
            .collect();
        if consent_first.is_empty() {
            format!("!{}", flag("restricted"))
        } else {
            format!(
                "(!{} || ({}))",
                flag("restricted"),
                consent_first.join(" || ")
            )
        }
    });
    Rules {
        erasure: (!p.permitted_after_erasure).then(|| format!("!{}", flag("erased"))),
        categories: format!("{cats}.containsAll(context.categories)"),
        channel: if p.consent_per_channel {
            Some(format!(
                "(context.channel != \"\" && {chans}.contains(context.channel))"
            ))
        } else if !p.channels.is_empty() {
            Some(format!(
                "(context.channel == \"\" || {chans}.contains(context.channel))"
            ))
        } else {
            None
        },
        bases,
        restriction,
        recipient: format!(
            "(resource == Recipient::\"none\" || (resource.purposes.contains(\"{}\") && resource.categories.containsAll(context.categories)))",
            p.id
        ),
        transfer: format!(
            "((context.n < 1 || {}) && (context.n < 2 || {}))",
            country_ok(c, "context.c1"),
            country_ok(c, "context.c2")
        ),
    }
}

/// All rules folded into one permit policy: Cedar's fastest form.
pub fn folded(c: &CompiledPolicy) -> String {
    let arms: Vec<String> = c
        .policy
        .purposes
        .iter()
        .map(|p| {
            let r = rules(c, p);
            let mut all = vec![r.categories, r.recipient, r.transfer];
            all.extend(r.erasure);
            all.extend(r.channel);
            all.push(format!(
                "({})",
                r.bases
                    .iter()
                    .map(|b| format!("({b})"))
                    .collect::<Vec<_>>()
                    .join(" || ")
            ));
            all.extend(r.restriction);
            format!("(action == Action::\"{}\" && {})", p.id, all.join(" && "))
        })
        .collect();
    format!(
        "permit(principal, action, resource) when {{\n  {}\n}};\n",
        arms.join("\n  || ")
    )
}

/// One policy per rule: a permit per legal basis, a forbid per restriction.
pub fn per_rule(c: &CompiledPolicy) -> String {
    let mut out = String::new();
    for p in &c.policy.purposes {
        let r = rules(c, p);
        let a = format!("action == Action::\"{}\"", p.id);
        for b in &r.bases {
            let _ = writeln!(out, "permit(principal, {a}, resource) when {{ {b} }};");
        }
        let mut forbid = |cond: &str| {
            let _ = writeln!(out, "forbid(principal, {a}, resource) unless {{ {cond} }};");
        };
        if let Some(e) = &r.erasure {
            forbid(e);
        }
        forbid(&r.categories);
        if let Some(ch) = &r.channel {
            forbid(ch);
        }
        if let Some(rs) = &r.restriction {
            forbid(rs);
        }
        forbid(&r.recipient);
        forbid(&r.transfer);
    }
    out
}

pub fn parse(text: &str) -> PolicySet {
    text.parse()
        .unwrap_or_else(|e| unreachable!("generated Cedar does not parse: {e:?}"))
}

/// The Cedar entity of one person, from the same state tutela decides on.
pub fn subject_entity(c: &CompiledPolicy, id: &str, s: &SubjectState) -> Value {
    let pol = &c.policy;
    let mut consents = Vec::new();
    for p in pol.purposes.iter().filter(|p| p.consent_basis().is_some()) {
        if p.consent_per_channel {
            for &ch in &p.channels {
                let ch = &pol.channels[ch].id;
                if s.consents & c.consent_mask(&p.id, Some(ch)) != 0 {
                    consents.push(format!("{}/{ch}", p.id));
                }
            }
        } else if s.consents & c.consent_mask(&p.id, None) != 0 {
            consents.push(p.id.clone());
        }
    }
    let objected: Vec<&str> = pol
        .purposes
        .iter()
        .enumerate()
        .filter(|(i, _)| s.objected & (1u64 << i) != 0)
        .map(|(_, p)| p.id.as_str())
        .collect();
    let transfer: Vec<&str> = c
        .third_countries()
        .iter()
        .filter(|k| {
            c.third_country_bit(**k)
                .is_some_and(|b| s.transfer_consents & b != 0)
        })
        .map(|k| k.as_str())
        .collect();
    json!({
        "uid": {"type": "Subject", "id": id},
        "attrs": {
            "relationship": s.relationship.as_str(),
            "consents": consents,
            "objected": objected,
            "obj_dm": s.has(OBJECTED_DIRECT_MARKETING),
            "obj_li": s.has(OBJECTED_LEGITIMATE_INTEREST),
            "restricted": s.has(RESTRICTED),
            "erased": s.has(ERASED),
            "transfer_consents": transfer,
        },
        "parents": []
    })
}

fn recipient_entities(c: &CompiledPolicy) -> Vec<Value> {
    let pol = &c.policy;
    let mut out = vec![
        json!({"uid": {"type": "Recipient", "id": "none"}, "attrs": {
        "purposes": [], "categories": [], "dpf": false, "safeguarded": []}, "parents": []}),
    ];
    for r in &pol.recipients {
        out.push(json!({"uid": {"type": "Recipient", "id": r.id}, "attrs": {
            "purposes": r.purposes.iter().map(|&i| pol.purposes[i].id.as_str()).collect::<Vec<_>>(),
            "categories": r.categories.iter().map(|&i| pol.categories[i].id.as_str()).collect::<Vec<_>>(),
            "dpf": r.dpf_certified,
            "safeguarded": r.safeguards.iter().flat_map(|s| s.countries.iter().map(|c| c.as_str())).collect::<Vec<_>>(),
        }, "parents": []}));
    }
    out
}

pub fn entities(c: &CompiledPolicy, pop: &Population) -> Entities {
    let mut all: Vec<Value> = pop
        .ids
        .iter()
        .zip(&pop.states)
        .map(|(id, s)| subject_entity(c, id, s))
        .collect();
    all.extend(recipient_entities(c));
    Entities::from_json_value(Value::Array(all), None)
        .unwrap_or_else(|e| unreachable!("entities: {e}"))
}

pub fn request(c: &CompiledPolicy, q: &BenchQuery, now_secs: i64) -> Request {
    let pol = &c.policy;
    let uid = |t: &str, id: &str| -> EntityUid {
        format!("{t}::{}", Value::String(id.to_owned()))
            .parse()
            .unwrap_or_else(|e| unreachable!("uid: {e:?}"))
    };
    let cats: Vec<&str> = (0..pol.categories.len())
        .filter(|i| q.query.categories & (1u64 << i) != 0)
        .map(|i| pol.categories[i].id.as_str())
        .collect();
    let channel = q
        .query
        .channel
        .map_or("", |ch| pol.channels[usize::from(ch)].id.as_str());
    let resource = q
        .query
        .recipient
        .map_or("none", |r| pol.recipients[usize::from(r)].id.as_str());
    assert!(
        q.countries.len() <= 2,
        "the Cedar encoding checks at most two countries"
    );
    let context = Context::from_json_value(
        json!({
            "categories": cats,
            "channel": channel,
            "n": q.countries.len(),
            "c1": q.countries.first().map_or("", |c| c.as_str()),
            "c2": q.countries.get(1).map_or("", |c| c.as_str()),
            "now": now_secs,
        }),
        None,
    )
    .unwrap_or_else(|e| unreachable!("context: {e}"));
    Request::new(
        uid("Subject", &q.subject),
        uid("Action", &pol.purposes[usize::from(q.query.purpose)].id),
        uid("Recipient", resource),
        context,
        None,
    )
    .unwrap_or_else(|e| unreachable!("request: {e}"))
}
