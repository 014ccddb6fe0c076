//! Gate routes: which stream goes through the gate for which purpose, which fields are which
//! categories, and how identifiers are pseudonymised. TOML, parsed with spans and validated
//! against the policy into [`Route`]s that cannot be invalid; errors name file, line and
//! column.
//!
//! ```toml
//! [[route]]
//! id = "quality"
//! source = "usage.raw"                 # the JetStream subject events arrive on
//! target = "usage.quality"             # where lawful, pseudonymised events go
//! dead_letter = "usage.quality.dead"   # default: the target with `.dead`
//! purpose = "service_quality_analysis"
//! person = "imsi"                      # the field that names the person
//! timestamp = "ts"                     # epoch milliseconds or RFC 3339
//! notice_ref = ["N7b"]
//! [[route.field]]
//! name = "imsi"
//! category = "traffic"
//! pseudonym = "ff1"                    # hmac | ff1 | ff1:<identifier>
//! [[route.field]]
//! name = "bytes_up"
//! category = "usage"
//! ```

use serde::Deserialize;
use toml::Spanned;

use crate::compiled::{CompiledPolicy, Query};
use crate::duration::Period;
use crate::policy::{PolicyErrors, RetentionStart};
use crate::pseudonym::{Identifier, Method};

/// The largest event a route may accept.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoutes {
    #[serde(default)]
    route: Vec<RawRoute>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    id: Spanned<String>,
    source: Spanned<String>,
    target: Spanned<String>,
    dead_letter: Option<Spanned<String>>,
    purpose: Spanned<String>,
    retention: Option<Spanned<String>>,
    person: Spanned<String>,
    identifier: Option<Spanned<String>>,
    timestamp: Spanned<String>,
    max_event_bytes: Option<Spanned<i64>>,
    #[serde(default)]
    notice_ref: Vec<String>,
    #[serde(default)]
    field: Vec<RawField>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    name: Spanned<String>,
    category: Spanned<String>,
    pseudonym: Option<Spanned<String>>,
}

/// What the gate does with a declared field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldAction {
    /// Passed on as it is.
    Keep,
    /// Replaced by its pseudonym in the route's domain.
    Pseudonym(Method),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub category: String,
    pub action: FieldAction,
}

/// A validated route.
#[derive(Debug, Clone)]
pub struct Route {
    pub id: String,
    pub source: String,
    pub target: String,
    pub dead_letter: String,
    pub purpose: String,
    /// The index of the person field in `fields`.
    pub person: usize,
    pub person_kind: Identifier,
    pub timestamp: String,
    pub max_event_bytes: usize,
    pub fields: Vec<Field>,
    /// The policy's retention rule the events' `expires_at` comes from.
    pub retention: String,
    pub period: Period,
    pub notice_refs: Vec<String>,
    /// The decision every event of the route asks: the purpose and the fields' categories.
    pub query: Query,
}

impl Route {
    /// The pseudonymisation domain: the purpose's, so the route's pseudonyms join with every
    /// other dataset of that purpose and with nothing else.
    pub fn domain(&self) -> &str {
        &self.purpose
    }
}

type Errors<'a> = crate::policy::SpannedErrors<'a>;

fn ident_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A NATS subject: dot-separated tokens of printable ASCII without white space; wildcards
/// (`*`, a final `>`) only where `wildcards`.
fn subject_ok(s: &str, wildcards: bool) -> bool {
    let tokens: Vec<&str> = s.split('.').collect();
    !s.is_empty()
        && s.len() <= 255
        && tokens.iter().enumerate().all(|(i, t)| {
            !t.is_empty()
                && t.bytes().all(|c| c.is_ascii_graphic())
                && match *t {
                    "*" => wildcards,
                    ">" => wildcards && i + 1 == tokens.len(),
                    t => !t.contains(['*', '>']),
                }
        })
}

/// A field name the gate compares with an event's raw key bytes: printable, no quote and no
/// backslash, so a key written with escapes is never taken for it.
fn field_name_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| !c.is_control() && c != '"' && c != '\\')
}

/// Parses and validates the routes in `text` (named `file` in errors) against `policy`.
pub fn parse_routes(
    file: &str,
    text: &str,
    policy: &CompiledPolicy,
) -> Result<Vec<Route>, PolicyErrors> {
    let mut e = Errors::new(file, text);
    let raw: RawRoutes = match toml::from_str(text) {
        Ok(r) => r,
        Err(err) => {
            e.at(
                err.span().unwrap_or(0..0),
                err.message().to_owned(),
                "see the route format in docs/gate.md",
            );
            return Err(PolicyErrors(e.list));
        }
    };
    if raw.route.is_empty() {
        e.at(0..0, "no `[[route]]`".into(), "declare at least one route");
    }
    let mut routes = Vec::with_capacity(raw.route.len());
    for (ri, r) in raw.route.iter().enumerate() {
        if let Some(route) = route(&mut e, r, policy) {
            routes.push(route);
        }
        for earlier in &raw.route[..ri] {
            if earlier.id.get_ref() == r.id.get_ref() {
                e.at(
                    r.id.span(),
                    format!("route `{}` is declared twice", r.id.get_ref()),
                    "give every route its own id",
                );
            }
            if earlier.source.get_ref() == r.source.get_ref() {
                e.at(
                    r.source.span(),
                    format!("two routes read `{}`", r.source.get_ref()),
                    "a source subject feeds one route; split the stream by subject",
                );
            }
        }
    }
    if e.list.is_empty() {
        Ok(routes)
    } else {
        Err(PolicyErrors(e.list))
    }
}

fn route(e: &mut Errors<'_>, r: &RawRoute, policy: &CompiledPolicy) -> Option<Route> {
    let before = e.list.len();
    if !ident_ok(r.id.get_ref()) {
        e.at(
            r.id.span(),
            format!("`{}` is not a route id", r.id.get_ref()),
            "use letters, digits, `_` and `-`",
        );
    }
    let dead_letter = r.dead_letter.as_ref().map_or_else(
        || format!("{}.dead", r.target.get_ref()),
        |d| d.get_ref().clone(),
    );
    let dead_span = r
        .dead_letter
        .as_ref()
        .map_or(r.target.span(), Spanned::span);
    for (subject, span, wildcards) in [
        (r.source.get_ref().as_str(), r.source.span(), true),
        (r.target.get_ref().as_str(), r.target.span(), false),
        (dead_letter.as_str(), dead_span, false),
    ] {
        if !subject_ok(subject, wildcards) {
            e.at(
                span,
                format!("`{subject}` is not a NATS subject the gate can use"),
                if wildcards {
                    "dot-separated tokens without white space, e.g. `usage.raw`"
                } else {
                    "dot-separated tokens without white space or wildcards, e.g. `usage.quality`"
                },
            );
        }
    }
    if r.target.get_ref() == r.source.get_ref() || dead_letter == *r.source.get_ref() {
        e.at(
            r.target.span(),
            "the target and the dead letters need subjects of their own".into(),
            "an event read back from its own target would pass the gate twice",
        );
    }
    let purpose = r.purpose.get_ref();
    let Some(pi) = policy.purpose_index(purpose) else {
        e.at(
            r.purpose.span(),
            format!("unknown purpose `{purpose}`"),
            "name a purpose of the policy",
        );
        return None;
    };
    let p = &policy.policy.purposes[usize::from(pi)];
    let rule = match &r.retention {
        Some(name) => {
            let found = policy
                .policy
                .retention
                .iter()
                .find(|rule| rule.id == *name.get_ref());
            if found.is_none() {
                e.at(
                    name.span(),
                    format!("unknown retention rule `{}`", name.get_ref()),
                    "name a `[[retention]]` rule of the policy",
                );
            }
            found.map(|f| (f, name.span()))
        }
        None => match p.retention {
            Some(i) => policy
                .policy
                .retention
                .get(i)
                .map(|f| (f, r.purpose.span())),
            None => {
                e.at(
                    r.purpose.span(),
                    format!("purpose `{purpose}` has no retention rule, so its events would have no `expires_at`"),
                    "give the purpose a `retention` in the policy, or name one with the route's `retention`",
                );
                None
            }
        },
    };
    if let Some((rule, span)) = &rule
        && rule.from != RetentionStart::Collection
    {
        e.at(
            span.clone(),
            format!("retention rule `{}` does not run from collection", rule.id),
            "an event's expiry counts from its timestamp; use a rule with from = \"collection\"",
        );
    }
    if r.field.len() > 63 {
        e.at(
            r.id.span(),
            "a route declares at most 63 fields".into(),
            "split the events over several routes",
        );
    }
    let mut fields = Vec::with_capacity(r.field.len());
    for (fi, f) in r.field.iter().enumerate() {
        let name = f.name.get_ref();
        if !field_name_ok(name) || name == "expires_at" || name == r.timestamp.get_ref() {
            e.at(
                f.name.span(),
                format!("`{name}` cannot be a field of the route"),
                "a field is 1 to 64 printable characters without `\"` or `\\`, and neither `expires_at` (the gate adds it) nor the timestamp (always passed on)",
            );
        }
        if r.field[..fi].iter().any(|g| g.name.get_ref() == name) {
            e.at(
                f.name.span(),
                format!("field `{name}` is declared twice"),
                "declare each field once",
            );
        }
        let category = f.category.get_ref();
        match policy.resolve(purpose, [category.as_str()], None, None, None) {
            Err(_) => e.at(
                f.category.span(),
                format!("unknown category `{category}`"),
                "name a category of the policy",
            ),
            Ok(q) if !p.categories.iter().any(|&c| 1u64 << (c & 63) == q.categories) => e.at(
                f.category.span(),
                format!("purpose `{purpose}` does not process `{category}`"),
                "a route passes only the categories its purpose lists; drop the field or choose another purpose",
            ),
            Ok(_) => {}
        }
        let action = match &f.pseudonym {
            None => FieldAction::Keep,
            Some(m) => match Method::parse(m.get_ref(), name) {
                Some(Method::Ff1(Identifier::Iban)) => {
                    e.at(
                        m.span(),
                        "an IBAN is no field of a usage event".into(),
                        "use ff1 for imsi, iccid, msisdn or imei, or hmac",
                    );
                    FieldAction::Keep
                }
                Some(method) => FieldAction::Pseudonym(method),
                None => {
                    e.at(
                        m.span(),
                        format!("unknown pseudonym `{}`", m.get_ref()),
                        "use hmac, ff1 (for a field named after its identifier) or ff1:imsi|iccid|msisdn|imei",
                    );
                    FieldAction::Keep
                }
            },
        };
        fields.push(Field {
            name: name.clone(),
            category: category.clone(),
            action,
        });
    }
    let person = fields.iter().position(|f| f.name == *r.person.get_ref());
    match person.map(|i| fields[i].action) {
        None => e.at(
            r.person.span(),
            format!(
                "the person field `{}` is not a field of the route",
                r.person.get_ref()
            ),
            "declare it with [[route.field]] and a pseudonym",
        ),
        Some(FieldAction::Keep) => e.at(
            r.person.span(),
            format!(
                "the person field `{}` would leave the gate in clear",
                r.person.get_ref()
            ),
            "give its [[route.field]] a pseudonym (ff1 or hmac)",
        ),
        Some(FieldAction::Pseudonym(_)) => {}
    }
    let kind_name = r.identifier.as_ref().unwrap_or(&r.person);
    let person_kind = match Identifier::parse(kind_name.get_ref()) {
        Some(Identifier::Iban) | None => {
            e.at(
                kind_name.span(),
                format!("`{}` is not an identifier the index knows", kind_name.get_ref()),
                "name the person field after its identifier or set identifier = \"imsi\"|\"iccid\"|\"msisdn\"|\"imei\"",
            );
            None
        }
        Some(k) => Some(k),
    };
    let max_event_bytes = match &r.max_event_bytes {
        None => 8192,
        Some(n) => match usize::try_from(*n.get_ref()) {
            Ok(n) if (64..=MAX_EVENT_BYTES).contains(&n) => n,
            _ => {
                e.at(
                    n.span(),
                    "max_event_bytes must lie between 64 and 1048576".into(),
                    "leave it out for 8192",
                );
                0
            }
        },
    };
    for c in &r.notice_ref {
        let digits = c.strip_prefix('N').unwrap_or("");
        let number = digits.trim_end_matches(|ch: char| ch.is_ascii_lowercase());
        if number.is_empty()
            || !number.bytes().all(|b| b.is_ascii_digit())
            || digits.len() > number.len() + 1
        {
            e.at(
                r.id.span(),
                format!("`{c}` is no clause id"),
                "cite clauses as the notice numbers them, e.g. N7b",
            );
        }
    }
    if e.list.len() > before {
        return None;
    }
    let query = policy
        .resolve(
            purpose,
            fields.iter().map(|f| f.category.as_str()),
            None,
            None,
            None,
        )
        .ok()?;
    let (rule, _) = rule?;
    Some(Route {
        id: r.id.get_ref().clone(),
        source: r.source.get_ref().clone(),
        target: r.target.get_ref().clone(),
        dead_letter,
        purpose: purpose.clone(),
        person: person?,
        person_kind: person_kind?,
        timestamp: r.timestamp.get_ref().clone(),
        max_event_bytes,
        fields,
        retention: rule.id.clone(),
        period: rule.period,
        notice_refs: r.notice_ref.clone(),
        query,
    })
}
