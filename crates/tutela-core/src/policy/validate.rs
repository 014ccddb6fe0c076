//! Validation: raw structures in, a [`Policy`] out, or every error found with its location.

use std::collections::HashMap;
use std::ops::Range;

use sha2::{Digest, Sha256};
use toml::Spanned;

use super::error::{PolicyError, PolicyErrors};
use super::limits::{MAX_CATEGORIES, MAX_CHANNELS, MAX_PURPOSES, MAX_THIRD_COUNTRIES};
use super::model::*;
use super::raw::{self, Id, RawNote, RawText};
use super::source::ParsedFile;
use crate::basis::{ContractKind, CountryCode, LegalBasis, Relationship};
use crate::duration::Period;

const AREAS: [&str; 9] = [
    "it",
    "sales",
    "marketing",
    "finance",
    "consulting",
    "customer_service",
    "hr",
    "logistics",
    "print",
];

const MECHANISMS: [&str; 9] = [
    "eu-gdpr:A46-2-a",
    "eu-gdpr:A46-2-b",
    "eu-gdpr:A46-2-c",
    "eu-gdpr:A46-2-d",
    "eu-gdpr:A46-2-e",
    "eu-gdpr:A46-2-f",
    "eu-gdpr:A46-3-a",
    "eu-gdpr:A46-3-b",
    "eu-gdpr:A47",
];

struct Ctx<'a> {
    files: &'a [ParsedFile],
    errors: Vec<PolicyError>,
    cited: std::collections::HashSet<String>,
}

impl Ctx<'_> {
    fn err(&mut self, file: usize, span: Range<usize>, message: String, help: &str) {
        if let Some(f) = self.files.get(file) {
            let e = f.error(span, message, help);
            self.errors.push(e);
        }
    }

    fn text(&mut self, file: usize, span: Range<usize>, t: &RawText, what: &str) -> Text {
        if t.de.trim().is_empty() || t.en.trim().is_empty() {
            self.err(
                file,
                span,
                format!("{what} needs both a German and an English text"),
                "write `{ de = \"…\", en = \"…\" }` with neither empty",
            );
        }
        Text {
            de: t.de.clone(),
            en: t.en.clone(),
        }
    }

    fn clauses(&mut self, file: usize, refs: &[Id]) -> Vec<ClauseId> {
        let mut out = Vec::with_capacity(refs.len());
        for r in refs {
            if is_clause_id(r.get_ref()) {
                self.cited.insert(r.get_ref().clone());
                out.push(r.get_ref().clone());
            } else {
                self.err(
                    file,
                    r.span(),
                    format!("`{}` is not a clause id", r.get_ref()),
                    "clause ids look like `N5` or `N5a` (see the notice's clauses.md)",
                );
            }
        }
        out
    }

    fn country(&mut self, file: usize, id: &Id) -> Option<CountryCode> {
        let c = CountryCode::parse(id.get_ref());
        if c.is_none() {
            self.err(
                file,
                id.span(),
                format!("`{}` is not a country code", id.get_ref()),
                "use an ISO 3166-1 alpha-2 code such as `DE` or `US`",
            );
        }
        c
    }

    fn date(&mut self, file: usize, s: &Spanned<String>) -> Option<jiff::civil::Date> {
        match s.get_ref().parse::<jiff::civil::Date>() {
            Ok(d) => Some(d),
            Err(_) => {
                self.err(
                    file,
                    s.span(),
                    format!("`{}` is not a date", s.get_ref()),
                    "write dates as YYYY-MM-DD",
                );
                None
            }
        }
    }
}

fn is_clause_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('N') else {
        return false;
    };
    let digits = rest.trim_end_matches(|c: char| c.is_ascii_lowercase());
    let letters = rest.len() - digits.len();
    !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) && letters <= 1
}

/// Ids of one kind of element, with where each was first defined.
struct IdTable {
    kind: &'static str,
    ids: HashMap<String, usize>,
}

impl IdTable {
    fn build<'r, T: 'r>(
        ctx: &mut Ctx<'_>,
        kind: &'static str,
        items: impl Iterator<Item = (usize, &'r T)>,
        id: impl Fn(&T) -> &Id,
    ) -> IdTable {
        let mut ids = HashMap::new();
        let mut first: HashMap<String, (usize, Range<usize>)> = HashMap::new();
        for (file, item) in items {
            let id = id(item);
            let name = id.get_ref();
            if !is_identifier(name) {
                ctx.err(
                    file,
                    id.span(),
                    format!("`{name}` is not a valid {kind} id"),
                    "ids are lower case letters, digits and `_`, starting with a letter",
                );
            }
            if let Some((f, span)) = first.get(name) {
                let (line, col) = ctx.files.get(*f).map_or((0, 0), |pf| {
                    super::error::line_column(&pf.source.text, span.start)
                });
                let at = ctx.files.get(*f).map_or("?", |pf| pf.source.name.as_str());
                ctx.err(
                    file,
                    id.span(),
                    format!("duplicate {kind} id `{name}`; first defined at {at}:{line}:{col}"),
                    "give each element its own id; a module extends the base policy, it cannot redefine it",
                );
            } else {
                first.insert(name.clone(), (file, id.span()));
                let n = ids.len();
                ids.insert(name.clone(), n);
            }
        }
        IdTable { kind, ids }
    }

    fn get(&self, ctx: &mut Ctx<'_>, file: usize, id: &Id) -> Option<usize> {
        let found = self.ids.get(id.get_ref()).copied();
        if found.is_none() {
            let mut known: Vec<&str> = self.ids.keys().map(String::as_str).collect();
            known.sort_unstable();
            ctx.err(
                file,
                id.span(),
                format!("unknown {} `{}`", self.kind, id.get_ref()),
                &format!(
                    "declare it as a [[{}]] or use one of: {}",
                    self.kind,
                    known.join(", ")
                ),
            );
        }
        found
    }

    fn all(&self, ctx: &mut Ctx<'_>, file: usize, ids: &[Id]) -> Vec<usize> {
        let mut out: Vec<usize> = ids.iter().filter_map(|i| self.get(ctx, file, i)).collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn items<'a, T: 'a>(
    files: &'a [ParsedFile],
    pick: fn(&raw::RawPolicy) -> &Vec<T>,
) -> impl Iterator<Item = (usize, &'a T)> + Clone {
    files
        .iter()
        .enumerate()
        .flat_map(move |(i, f)| pick(&f.raw).iter().map(move |x| (i, x)))
}

/// The one element of a kind that only the root file (or exactly one file) may declare.
fn single<'a, T>(
    ctx: &mut Ctx<'_>,
    what: &str,
    pick: impl Fn(&'a raw::RawPolicy) -> Option<&'a T>,
    files: &'a [ParsedFile],
) -> Option<(usize, &'a T)> {
    let found: Vec<(usize, &T)> = files
        .iter()
        .enumerate()
        .filter_map(|(i, f)| pick(&f.raw).map(|x| (i, x)))
        .collect();
    if found.len() > 1
        && let Some((i, _)) = found.get(1)
    {
        {
            ctx.err(
                *i,
                0..0,
                format!("{what} is declared in more than one file"),
                "declare it once, in the base policy",
            );
        }
    }
    if found.is_empty() {
        ctx.err(
            0,
            0..0,
            format!("the policy declares no {what}"),
            &format!("add a {what} table to the base policy"),
        );
    }
    found.into_iter().next()
}

/// The id tables cross-references are resolved against; building them reports duplicates.
struct Tables {
    sections: IdTable,
    channels: IdTable,
    categories: IdTable,
    purposes: IdTable,
    retention: IdTable,
}

/// Every part of the policy, validated, before the checks across parts decide whether it
/// becomes a [`Policy`]. The singletons stay optional: a missing one is already an error.
struct Draft {
    id: String,
    version: String,
    title: Text,
    notice_refs: Vec<ClauseId>,
    controller: Option<Controller>,
    sections: Vec<Section>,
    authorities: Vec<Authority>,
    rights: Vec<Right>,
    channels: Vec<Channel>,
    categories: Vec<Category>,
    purposes: Vec<Purpose>,
    recipients: Vec<Recipient>,
    transfers: Option<Transfers>,
    retention: Vec<RetentionRule>,
    rule_refs: Option<RuleRefs>,
    risk: Option<RiskRules>,
    statistics: Option<StatisticsRules>,
    redaction: Option<RedactionRules>,
    review: ReviewRules,
}

pub(crate) fn validate(files: Vec<ParsedFile>) -> Result<Policy, PolicyErrors> {
    let mut ctx = Ctx {
        files: &files,
        errors: Vec::new(),
        cited: std::collections::HashSet::new(),
    };
    let tables = id_tables(&mut ctx, &files);
    check_sizes(&mut ctx, &tables);
    let draft = draft(&mut ctx, &files, &tables);
    check_authorities(&mut ctx, &draft.authorities);
    check_consent_slots(&mut ctx, &draft.purposes);
    if let Some(t) = &draft.transfers {
        check_third_countries(&mut ctx, t, &draft.recipients);
    }
    check_clause_count(&mut ctx);
    let errors = std::mem::take(&mut ctx.errors);
    if !errors.is_empty() {
        return Err(PolicyErrors(errors));
    }
    draft.into_policy(&files).ok_or(PolicyErrors(vec![]))
}

/// Validates every part in a fixed order, so the errors come out in the same order each run.
fn draft(ctx: &mut Ctx<'_>, fs: &[ParsedFile], tables: &Tables) -> Draft {
    let header = header(ctx, fs);
    let controller = single(ctx, "[controller]", |r| r.controller.as_ref(), fs);
    let transfers = single(ctx, "[transfers]", |r| r.transfers.as_ref(), fs);
    let rule_refs = single(ctx, "[rule_refs]", |r| r.rule_refs.as_ref(), fs);
    let risk = first(fs, |r| r.risk.as_ref()).map(|(f, r)| risk(ctx, f, r));
    let statistics =
        first(fs, |r| r.statistics.as_ref()).map(|(f, r)| statistics(ctx, f, r, &tables.purposes));
    let redaction = first(fs, |r| r.redaction.as_ref()).map(|(f, r)| redaction(ctx, f, r));
    let review = first(fs, |r| r.review.as_ref())
        .map(|(f, r)| review(ctx, f, r.get_ref()))
        .unwrap_or_default();
    let (id, version, title, notice_refs) = match header {
        Some((f, h)) => header_fields(ctx, f, h),
        None => Default::default(),
    };
    Draft {
        id,
        version,
        title,
        notice_refs,
        controller: controller.map(|(f, c)| self::controller(ctx, f, c)),
        sections: sections(ctx, fs),
        authorities: authorities(ctx, fs),
        rights: rights(ctx, fs),
        channels: channels(ctx, fs),
        categories: categories(ctx, fs),
        retention: retention(ctx, fs, &tables.categories),
        purposes: items(fs, |r| &r.purpose)
            .map(|(f, p)| {
                let t = tables;
                purpose(
                    ctx,
                    f,
                    p,
                    &t.sections,
                    &t.categories,
                    &t.channels,
                    &t.retention,
                )
            })
            .collect(),
        recipients: items(fs, |r| &r.recipient)
            .map(|(f, r)| recipient(ctx, f, r, &tables.purposes, &tables.categories))
            .collect(),
        transfers: transfers.map(|(f, t)| self::transfers(ctx, f, t)),
        rule_refs: rule_refs.map(|(f, r)| self::rule_refs(ctx, f, r.get_ref())),
        risk,
        statistics,
        redaction,
        review,
    }
}

impl Draft {
    /// The policy, once no error was found; `None` if a required singleton is missing.
    fn into_policy(self, files: &[ParsedFile]) -> Option<Policy> {
        Some(Policy {
            id: self.id,
            version: self.version,
            hash: source_hash(files),
            title: self.title,
            notice_refs: self.notice_refs,
            sources: files.iter().map(|f| f.source.name.clone()).collect(),
            controller: self.controller?,
            sections: self.sections,
            authorities: self.authorities,
            rights: self.rights,
            channels: self.channels,
            categories: self.categories,
            purposes: self.purposes,
            recipients: self.recipients,
            transfers: self.transfers?,
            retention: self.retention,
            rule_refs: self.rule_refs?,
            risk: self.risk,
            statistics: self.statistics,
            redaction: self.redaction,
            review: self.review,
        })
    }
}

/// The hash of every source, length-prefixed so that moving text between files changes it.
fn source_hash(files: &[ParsedFile]) -> String {
    let mut hasher = Sha256::new();
    for f in files {
        hasher.update((f.source.text.len() as u64).to_le_bytes());
        hasher.update(f.source.text.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
}

/// The first file that declares an element of a kind any file may carry.
fn first<'a, T>(
    fs: &'a [ParsedFile],
    pick: impl Fn(&'a raw::RawPolicy) -> Option<&'a T>,
) -> Option<(usize, &'a T)> {
    fs.iter()
        .enumerate()
        .find_map(|(i, f)| pick(&f.raw).map(|r| (i, r)))
}

fn id_tables(ctx: &mut Ctx<'_>, fs: &[ParsedFile]) -> Tables {
    let sections = IdTable::build(ctx, "section", items(fs, |r| &r.section), |x| &x.id);
    // Authorities, rights and recipients are never referenced, but duplicates are still errors.
    IdTable::build(ctx, "authority", items(fs, |r| &r.authority), |x| &x.id);
    IdTable::build(ctx, "right", items(fs, |r| &r.right), |x| &x.id);
    let channels = IdTable::build(ctx, "channel", items(fs, |r| &r.channel), |x| &x.id);
    let categories = IdTable::build(ctx, "category", items(fs, |r| &r.category), |x| &x.id);
    let purposes = IdTable::build(ctx, "purpose", items(fs, |r| &r.purpose), |x| &x.id);
    IdTable::build(ctx, "recipient", items(fs, |r| &r.recipient), |x| &x.id);
    let retention = IdTable::build(ctx, "retention", items(fs, |r| &r.retention), |x| &x.id);
    Tables {
        sections,
        channels,
        categories,
        purposes,
        retention,
    }
}

fn check_sizes(ctx: &mut Ctx<'_>, tables: &Tables) {
    for (table, max) in [
        (&tables.purposes, MAX_PURPOSES),
        (&tables.categories, MAX_CATEGORIES),
        (&tables.channels, MAX_CHANNELS),
    ] {
        if table.ids.len() > max {
            ctx.err(
                0,
                0..0,
                format!(
                    "the policy declares {} {}s; at most {max} are supported",
                    table.ids.len(),
                    table.kind
                ),
                "split the policy or merge elements",
            );
        }
    }
}

/// The root file's header names the policy; included modules carry headers of their own.
fn header<'a>(ctx: &mut Ctx<'_>, fs: &'a [ParsedFile]) -> Option<(usize, &'a raw::RawHeader)> {
    let header = fs
        .first()
        .and_then(|f| f.raw.policy.as_ref())
        .map(|h| (0, h));
    if header.is_none() {
        ctx.err(
            0,
            0..0,
            "the policy declares no [policy]".into(),
            "add a [policy] table with id, version and title",
        );
    }
    header
}

fn header_fields(
    ctx: &mut Ctx<'_>,
    f: usize,
    h: &raw::RawHeader,
) -> (String, String, Text, Vec<ClauseId>) {
    let title = ctx.text(f, h.id.span(), &h.title, "the policy title");
    let refs = ctx.clauses(f, &h.notice_ref);
    (
        h.id.get_ref().clone(),
        h.version.get_ref().clone(),
        title,
        refs,
    )
}

fn risk(ctx: &mut Ctx<'_>, f: usize, r: &Spanned<raw::RawRisk>) -> RiskRules {
    let span = r.span();
    let r = r.get_ref();
    let ok = 0.0 < r.decline_below && r.decline_below <= r.accept_from && r.accept_from < 1.0;
    if !ok {
        ctx.err(
            f,
            span,
            format!(
                "the risk thresholds must satisfy 0 < decline_below <= accept_from < 1, not {} and {}",
                r.decline_below, r.accept_from
            ),
            "they are probabilities of meeting payment obligations, e.g. decline_below = 0.55, accept_from = 0.8",
        );
    }
    RiskRules {
        accept_from: r.accept_from,
        decline_below: r.decline_below,
        agency_below_months: r.agency_below_months,
        excluded_features: r.excluded_features.clone(),
        address_features: r.address_features.clone(),
        notice_refs: ctx.clauses(f, &r.notice_ref),
    }
}

fn redaction(ctx: &mut Ctx<'_>, f: usize, r: &Spanned<raw::RawRedaction>) -> RedactionRules {
    let r = r.get_ref();
    if let Some(p) = &r.customer_number
        && let Err(e) = regex::Regex::new(p.get_ref())
    {
        ctx.err(
            f,
            p.span(),
            format!("customer_number is not a regular expression: {e}"),
            "write the pattern in Rust regex syntax, e.g. \\bKD-[0-9]{7}\\b",
        );
    }
    RedactionRules {
        customer_number: r.customer_number.as_ref().map(|p| p.get_ref().clone()),
        notice_refs: ctx.clauses(f, &r.notice_ref),
    }
}

fn controller(ctx: &mut Ctx<'_>, f: usize, c: &raw::RawController) -> Controller {
    Controller {
        name: c.name.clone(),
        address: c.address.clone(),
        contact_url: c.contact_url.clone(),
        rights_email: c.rights_email.clone(),
        dpo_address: c.dpo_address.clone(),
        dpo_email: c.dpo_email.clone(),
        notice_refs: ctx.clauses(f, &c.notice_ref),
    }
}

fn sections(ctx: &mut Ctx<'_>, fs: &[ParsedFile]) -> Vec<Section> {
    items(fs, |r| &r.section)
        .map(|(f, s)| Section {
            id: s.id.get_ref().clone(),
            heading: ctx.text(f, s.id.span(), &s.heading, "a section heading"),
            text: s
                .text
                .as_ref()
                .map(|t| ctx.text(f, s.id.span(), t, "a section text")),
            after: s
                .after
                .as_ref()
                .map(|t| ctx.text(f, s.id.span(), t, "a section text")),
            notice_refs: ctx.clauses(f, &s.notice_ref),
        })
        .collect()
}

fn authorities(ctx: &mut Ctx<'_>, fs: &[ParsedFile]) -> Vec<Authority> {
    items(fs, |r| &r.authority)
        .map(|(f, a)| {
            let competent_for = match a.competent_for.get_ref().parse::<ContractKind>() {
                Ok(k) => k,
                Err(()) => {
                    ctx.err(
                        f,
                        a.competent_for.span(),
                        format!("unknown contract kind `{}`", a.competent_for.get_ref()),
                        "use `telecommunications` or `other`",
                    );
                    ContractKind::Other
                }
            };
            Authority {
                id: a.id.get_ref().clone(),
                name: ctx.text(f, a.id.span(), &a.name, "an authority name"),
                address: a.address.clone(),
                email: a.email.clone(),
                web: a.web.clone(),
                competent_for,
                notice_refs: ctx.clauses(f, &a.notice_ref),
            }
        })
        .collect()
}

fn rights(ctx: &mut Ctx<'_>, fs: &[ParsedFile]) -> Vec<Right> {
    items(fs, |r| &r.right)
        .map(|(f, r)| Right {
            id: r.id.get_ref().clone(),
            article: ctx.text(f, r.id.span(), &r.article, "a right's article"),
            text: ctx.text(f, r.id.span(), &r.text, "a right's text"),
            notice_refs: ctx.clauses(f, &r.notice_ref),
        })
        .collect()
}

fn channels(ctx: &mut Ctx<'_>, fs: &[ParsedFile]) -> Vec<Channel> {
    items(fs, |r| &r.channel)
        .map(|(f, c)| Channel {
            id: c.id.get_ref().clone(),
            label: ctx.text(f, c.id.span(), &c.label, "a channel label"),
            notice_refs: ctx.clauses(f, &c.notice_ref),
        })
        .collect()
}

fn categories(ctx: &mut Ctx<'_>, fs: &[ParsedFile]) -> Vec<Category> {
    items(fs, |r| &r.category)
        .map(|(f, c)| Category {
            id: c.id.get_ref().clone(),
            label: ctx.text(f, c.id.span(), &c.label, "a category label"),
            source: c
                .source
                .as_ref()
                .map(|t| ctx.text(f, c.id.span(), t, "a category source")),
            notice_refs: ctx.clauses(f, &c.notice_ref),
        })
        .collect()
}

fn retention(ctx: &mut Ctx<'_>, fs: &[ParsedFile], categories: &IdTable) -> Vec<RetentionRule> {
    items(fs, |r| &r.retention)
        .map(|(f, r)| {
            let period = match Period::parse(r.period.get_ref()) {
                Ok(p) => p,
                Err(e) => {
                    ctx.err(f, r.period.span(), e.to_string(), "");
                    Period::default()
                }
            };
            let from = retention_start(ctx, f, &r.from);
            RetentionRule {
                id: r.id.get_ref().clone(),
                period,
                from,
                label: ctx.text(f, r.id.span(), &r.label, "a retention label"),
                categories: categories.all(ctx, f, &r.categories),
                obligation: r.obligation,
                notice_refs: ctx.clauses(f, &r.notice_ref),
            }
        })
        .collect()
}

fn retention_start(ctx: &mut Ctx<'_>, f: usize, from: &Spanned<String>) -> RetentionStart {
    match from.get_ref().as_str() {
        "collection" => RetentionStart::Collection,
        "contract_end" => RetentionStart::ContractEnd,
        "end_of_calendar_year" => RetentionStart::EndOfCalendarYear,
        "event" => RetentionStart::Event,
        other => {
            ctx.err(
                f,
                from.span(),
                format!("unknown retention start `{other}`"),
                "use `collection`, `contract_end`, `end_of_calendar_year` or `event`",
            );
            RetentionStart::Collection
        }
    }
}

fn transfers(ctx: &mut Ctx<'_>, f: usize, t: &raw::RawTransfers) -> Transfers {
    let eea: Vec<CountryCode> = t.eea.iter().filter_map(|c| ctx.country(f, c)).collect();
    let adequacy = t
        .adequacy
        .iter()
        .filter_map(|a| adequacy(ctx, f, a, &eea))
        .collect();
    let derogations = derogations(ctx, f, &t.derogations);
    Transfers {
        eea,
        adequacy,
        derogations,
        notice_refs: ctx.clauses(f, &t.notice_ref),
    }
}

fn adequacy(
    ctx: &mut Ctx<'_>,
    f: usize,
    a: &raw::RawAdequacy,
    eea: &[CountryCode],
) -> Option<Adequacy> {
    let country = ctx.country(f, &a.country)?;
    if eea.contains(&country) {
        ctx.err(
            f,
            a.country.span(),
            format!("`{country}` is in the EU/EEA list and needs no adequacy decision"),
            "remove the adequacy entry or the EEA entry",
        );
    }
    let decided = ctx.date(f, &a.decided)?;
    let until = a.until.as_ref().and_then(|u| ctx.date(f, u));
    Some(Adequacy {
        country,
        decided,
        until,
        requires_dpf: a.requires_dpf,
        note: a.note.as_ref().map(|n| match n.get_ref() {
            RawNote::Operator(s) => Note::Operator(s.clone()),
            RawNote::Reader(t) => Note::Reader(ctx.text(f, n.span(), t, "an adequacy note")),
        }),
    })
}

fn derogations(ctx: &mut Ctx<'_>, f: usize, raw: &[Spanned<String>]) -> Vec<Derogation> {
    let mut derogations = Vec::new();
    for d in raw {
        match Derogation::parse(d.get_ref()) {
            Some(x) if !derogations.contains(&x) => derogations.push(x),
            Some(_) => ctx.err(
                f,
                d.span(),
                format!("the derogation `{}` is listed twice", d.get_ref()),
                "list each derogation once",
            ),
            None => ctx.err(
                f,
                d.span(),
                format!(
                    "`{}` is not an Art. 49 derogation tutela records",
                    d.get_ref()
                ),
                "use `explicit_consent` (Art. 49(1)(a)) or `contract_necessity` (Art. 49(1)(b))",
            ),
        }
    }
    derogations
}

fn rule_refs(ctx: &mut Ctx<'_>, f: usize, r: &raw::RawRuleRefs) -> RuleRefs {
    RuleRefs {
        consent: ctx.clauses(f, &r.consent),
        withdrawal: ctx.clauses(f, &r.withdrawal),
        objection: ctx.clauses(f, &r.objection),
        direct_marketing_objection: ctx.clauses(f, &r.direct_marketing_objection),
        restriction: ctx.clauses(f, &r.restriction),
        erasure: ctx.clauses(f, &r.erasure),
        category: ctx.clauses(f, &r.category),
        transfer: ctx.clauses(f, &r.transfer),
        relationship: ctx.clauses(f, &r.relationship),
    }
}

/// Exactly one supervisory authority per contract kind (N9h).
fn check_authorities(ctx: &mut Ctx<'_>, authorities: &[Authority]) {
    for kind in [ContractKind::Telecommunications, ContractKind::Other] {
        let n = authorities
            .iter()
            .filter(|a| a.competent_for == kind)
            .count();
        if n != 1 {
            ctx.err(
                0,
                0..0,
                format!(
                    "{n} supervisory authorities are competent for `{}` contracts; exactly one must be",
                    kind.as_str()
                ),
                "set `competent_for` on the [[authority]] tables (N9h)",
            );
        }
    }
}

fn check_consent_slots(ctx: &mut Ctx<'_>, purposes: &[Purpose]) {
    let consent_slots: usize = purposes
        .iter()
        .filter(|p| p.consent_basis().is_some())
        .map(|p| {
            if p.consent_per_channel {
                p.channels.len()
            } else {
                1
            }
        })
        .sum();
    if consent_slots > 64 {
        ctx.err(
            0,
            0..0,
            format!("the policy has {consent_slots} consent slots (purpose and channel pairs); at most 64 are supported"),
            "fewer consent purposes or channels",
        );
    }
}

fn check_third_countries(ctx: &mut Ctx<'_>, t: &Transfers, recipients: &[Recipient]) {
    let mut third: Vec<CountryCode> = t
        .adequacy
        .iter()
        .map(|a| a.country)
        .chain(recipients.iter().flat_map(|r| {
            r.countries.iter().copied().chain(
                r.safeguards
                    .iter()
                    .flat_map(|s| s.countries.iter().copied()),
            )
        }))
        .filter(|c| !t.eea.contains(c))
        .collect();
    third.sort_unstable();
    third.dedup();
    if third.len() > MAX_THIRD_COUNTRIES {
        ctx.err(
            0,
            0..0,
            format!(
                "the policy names {} third countries; at most {MAX_THIRD_COUNTRIES} are supported",
                third.len()
            ),
            "drop adequacy entries for countries no recipient processes in",
        );
    }
}

fn check_clause_count(ctx: &mut Ctx<'_>) {
    if ctx.cited.len() > crate::compiled::MAX_CLAUSES {
        ctx.err(
            0,
            0..0,
            format!(
                "the policy cites {} distinct clause ids; at most {} are supported",
                ctx.cited.len(),
                crate::compiled::MAX_CLAUSES
            ),
            "cite fewer, coarser clauses",
        );
    }
}

fn review(ctx: &mut Ctx<'_>, f: usize, r: &raw::RawReview) -> ReviewRules {
    let mut bases = Vec::new();
    for b in &r.erasure_without_review {
        match b.get_ref().parse::<LegalBasis>() {
            Ok(lb) if lb == LegalBasis::Contract || lb == LegalBasis::LegalObligation => ctx.err(
                f,
                b.span(),
                format!("erasure_without_review lists `{lb}`: data needed for a contract or kept under a legal duty is never erased without review"),
                "list only eu-gdpr:A6-1-a (consent) and eu-gdpr:A6-1-f (legitimate interests)",
            ),
            Ok(lb) if !bases.contains(&lb) => bases.push(lb),
            Ok(_) => {}
            Err(e) => ctx.err(
                f,
                b.span(),
                e.to_string(),
                "write a DPV legal basis, e.g. eu-gdpr:A6-1-a",
            ),
        }
    }
    ReviewRules {
        erasure_without_review: bases,
        notice_refs: ctx.clauses(f, &r.notice_ref),
    }
}

fn statistics(
    ctx: &mut Ctx<'_>,
    f: usize,
    r: &Spanned<raw::RawStatistics>,
    purposes: &IdTable,
) -> StatisticsRules {
    let span = r.span();
    let r = r.get_ref();
    check_statistics_bounds(ctx, f, &span, r);
    let budget_epsilon = crate::stats::Epsilon::from_f64(r.budget_epsilon);
    if budget_epsilon.is_none() {
        ctx.err(
            f,
            span.clone(),
            format!("budget_epsilon {} is not a privacy budget", r.budget_epsilon),
            "give epsilon as a number above 0 and at most 20, in millionths at the finest, e.g. 3.0",
        );
    }
    let budget_delta = r.budget_delta.map(|d| {
        let delta = crate::stats::Delta::from_f64(d);
        if delta.is_none() {
            ctx.err(
                f,
                span.clone(),
                format!("budget_delta {d} is out of range"),
                "give delta above 0 and at most 0.001, far below one over the number of persons, e.g. 1e-6",
            );
        }
        delta
    });
    if r.purposes.is_empty() {
        ctx.err(
            f,
            span.clone(),
            "[statistics] names no purpose".into(),
            "list the purposes whose pseudonymised datasets may be queried, e.g. purposes = [\"statistics\"]",
        );
    }
    purposes.all(ctx, f, &r.purposes);
    StatisticsRules {
        min_group_size: r.min_group_size,
        rows_per_person: r.rows_per_person,
        budget_epsilon: budget_epsilon.unwrap_or(crate::stats::Epsilon::MIN),
        budget_delta: budget_delta.flatten(),
        purposes: r.purposes.iter().map(|p| p.get_ref().clone()).collect(),
        notice_refs: ctx.clauses(f, &r.notice_ref),
    }
}

fn purpose(
    ctx: &mut Ctx<'_>,
    f: usize,
    p: &raw::RawPurpose,
    sections: &IdTable,
    categories: &IdTable,
    channels: &IdTable,
    retention: &IdTable,
) -> Purpose {
    let name = p.id.get_ref();
    let bases = bases(ctx, f, p);
    let has_consent = bases.iter().any(|b| b.legal_basis == LegalBasis::Consent);
    check_withdrawable(ctx, f, p, &bases, has_consent);
    let channel_ids = channels.all(ctx, f, &p.channels);
    check_per_channel(ctx, f, p, has_consent, &channel_ids);
    let consent_per_call = consent_per_call(ctx, f, p, has_consent);
    check_direct_marketing(ctx, f, p, &bases);
    let cats = categories.all(ctx, f, &p.categories);
    if p.categories.is_empty() {
        ctx.err(
            f,
            p.id.span(),
            format!("purpose `{name}` lists no categories"),
            "list the data categories the purpose may process",
        );
    }
    let renewal = p
        .renewal
        .as_ref()
        .and_then(|r| renewal(ctx, f, name, r, has_consent, categories, &cats));
    Purpose {
        id: name.clone(),
        section: sections.get(ctx, f, &p.section).unwrap_or(0),
        label: ctx.text(f, p.id.span(), &p.label, "a purpose label"),
        description: ctx.text(f, p.id.span(), &p.description, "a purpose description"),
        categories: cats,
        bases,
        channels: channel_ids,
        consent_per_channel: p.consent_per_channel,
        consent_per_call,
        direct_marketing: p.direct_marketing,
        survives_objection: p.survives_objection,
        permitted_under_restriction: p.permitted_under_restriction,
        permitted_after_erasure: p.permitted_after_erasure,
        consent_evidence_kept: consent_evidence_kept(ctx, f, p),
        tcf_purposes: tcf_purposes(ctx, f, p),
        retention: p.retention.as_ref().and_then(|r| retention.get(ctx, f, r)),
        renewal,
        notice_refs: ctx.clauses(f, &p.notice_ref),
    }
}

/// A purpose's legal bases (N2: no processing without one).
fn bases(ctx: &mut Ctx<'_>, f: usize, p: &raw::RawPurpose) -> Vec<Basis> {
    let mut bases: Vec<Basis> = Vec::new();
    for b in &p.basis {
        if let Some(basis) = basis(ctx, f, p.id.get_ref(), b, &bases) {
            bases.push(basis);
        }
    }
    if p.basis.is_empty() {
        ctx.err(
            f,
            p.id.span(),
            format!("purpose `{}` has no legal basis", p.id.get_ref()),
            "add a [[purpose.basis]] with `legal_basis = \"eu-gdpr:A6-1-…\"` (N2: no processing without one)",
        );
    }
    bases
}

/// One legal basis; `None` only if its id is unknown (a duplicate is reported, but kept).
fn basis(
    ctx: &mut Ctx<'_>,
    f: usize,
    name: &str,
    b: &raw::RawBasis,
    earlier: &[Basis],
) -> Option<Basis> {
    let legal_basis = match b.legal_basis.get_ref().parse::<LegalBasis>() {
        Ok(lb) => lb,
        Err(e) => {
            ctx.err(
                f,
                b.legal_basis.span(),
                e.to_string(),
                "use a W3C DPV GDPR id: `eu-gdpr:A6-1-a` … `eu-gdpr:A6-1-f` or `eu-gdpr:A6-4`",
            );
            return None;
        }
    };
    if earlier.iter().any(|x| x.legal_basis == legal_basis) {
        ctx.err(
            f,
            b.legal_basis.span(),
            format!("purpose `{name}` lists the legal basis `{legal_basis}` twice"),
            "list each legal basis once",
        );
    }
    if b.explicit && legal_basis != LegalBasis::Consent {
        ctx.err(
            f,
            b.legal_basis.span(),
            "`explicit` applies only to consent (`eu-gdpr:A6-1-a`)".into(),
            "remove `explicit` or change the legal basis",
        );
    }
    let requires_relationship = relationship_mask(ctx, f, &b.requires_relationship);
    Some(Basis {
        legal_basis,
        explicit: b.explicit,
        requires_relationship,
        note: b
            .note
            .as_ref()
            .map(|t| ctx.text(f, b.legal_basis.span(), t, "a basis note")),
        notice_refs: ctx.clauses(f, &b.notice_ref),
    })
}

fn relationship_mask(ctx: &mut Ctx<'_>, f: usize, rels: &[Spanned<String>]) -> u8 {
    let mut mask = 0u8;
    for r in rels {
        match r.get_ref().parse::<Relationship>() {
            Ok(rel) => mask |= rel.bit(),
            Err(()) => ctx.err(
                f,
                r.span(),
                format!("unknown relationship `{}`", r.get_ref()),
                "use `prospect`, `customer` or `former_customer`",
            ),
        }
    }
    mask
}

/// A consent beside a basis that always holds could never be withdrawn to any effect.
fn check_withdrawable(
    ctx: &mut Ctx<'_>,
    f: usize,
    p: &raw::RawPurpose,
    bases: &[Basis],
    has_consent: bool,
) {
    if has_consent
        && let Some(always) = bases.iter().find(|b| {
            b.requires_relationship == 0
                && matches!(
                    b.legal_basis,
                    LegalBasis::Contract | LegalBasis::LegalObligation | LegalBasis::VitalInterest
                )
        })
    {
        ctx.err(
                f,
                p.id.span(),
                format!(
                    "consent purpose `{}` has nothing to withdraw: it also rests on `{}`, which always holds, so a withdrawal would change nothing",
                    p.id.get_ref(),
                    always.legal_basis
                ),
                "drop the consent basis, or limit the other basis with `requires_relationship`",
            );
    }
}

fn check_per_channel(
    ctx: &mut Ctx<'_>,
    f: usize,
    p: &raw::RawPurpose,
    has_consent: bool,
    channel_ids: &[usize],
) {
    let name = p.id.get_ref();
    if p.consent_per_channel && !has_consent {
        ctx.err(
            f,
            p.id.span(),
            format!("purpose `{name}` records consent per channel but has no consent basis"),
            "add `legal_basis = \"eu-gdpr:A6-1-a\"` or remove `consent_per_channel`",
        );
    }
    if p.consent_per_channel && channel_ids.is_empty() {
        ctx.err(
            f,
            p.id.span(),
            format!("consent purpose `{name}` has nothing to withdraw: consent is per channel, but no channels are listed"),
            "list the channels in `channels`",
        );
    }
}

fn consent_per_call(
    ctx: &mut Ctx<'_>,
    f: usize,
    p: &raw::RawPurpose,
    has_consent: bool,
) -> Option<Period> {
    let k = p.consent_per_call.as_ref()?;
    if !has_consent || p.consent_per_channel {
        ctx.err(
            f,
            k.span(),
            format!("purpose `{}` takes consent per call, so it needs a consent basis and no consent per channel", p.id.get_ref()),
            "add `legal_basis = \"eu-gdpr:A6-1-a\"` with `explicit = true`, or remove `consent_per_call`",
        );
    }
    match Period::parse(k.get_ref()) {
        Ok(period) => Some(period),
        Err(e) => {
            ctx.err(
                f,
                k.span(),
                e.to_string(),
                "e.g. consent_per_call = \"P1D\"",
            );
            None
        }
    }
}

/// Direct marketing must stay stoppable by an objection or a withdrawal (Art. 21(2)).
fn check_direct_marketing(ctx: &mut Ctx<'_>, f: usize, p: &raw::RawPurpose, bases: &[Basis]) {
    if p.direct_marketing
        && !bases
            .iter()
            .any(|b| b.legal_basis == LegalBasis::Consent || b.legal_basis.objectable())
    {
        ctx.err(
            f,
            p.id.span(),
            format!("direct-marketing purpose `{}` rests on no basis an objection or withdrawal can stop", p.id.get_ref()),
            "direct marketing must rest on consent or legitimate interest (Art. 21(2))",
        );
    }
}

fn renewal(
    ctx: &mut Ctx<'_>,
    f: usize,
    name: &str,
    r: &raw::RawRenewal,
    has_consent: bool,
    categories: &IdTable,
    cats: &[usize],
) -> Option<Renewal> {
    if !has_consent {
        ctx.err(
            f,
            r.since.span(),
            format!("purpose `{name}` declares a renewal but has no consent basis"),
            "only consents need renewal; remove [purpose.renewal]",
        );
        return None;
    }
    let since = r.since.get_ref();
    if !is_notice_version(since) {
        ctx.err(
            f,
            r.since.span(),
            format!("`{since}` is not a notice version"),
            "use the version that widened the purpose, as `YYYY-MM`, e.g. since = \"2026-07\"",
        );
    }
    let old_categories = match r.until_renewed.get_ref().as_str() {
        "suspend" => {
            if !r.old_categories.is_empty() {
                ctx.err(
                    f,
                    r.until_renewed.span(),
                    "a suspended consent covers nothing, so `old_categories` means nothing".into(),
                    "remove `old_categories`, or use until_renewed = \"old_scope\"",
                );
            }
            None
        }
        "old_scope" => Some(old_scope(ctx, f, name, r, categories, cats)),
        other => {
            ctx.err(
                f,
                r.until_renewed.span(),
                format!("unknown `until_renewed = \"{other}\"`"),
                "use `old_scope` (old consents cover the old categories) or `suspend` (they cover nothing until renewed)",
            );
            None
        }
    };
    Some(Renewal {
        since: since.clone(),
        old_categories,
    })
}

/// The categories old consents keep covering until renewed; they must be the purpose's own.
fn old_scope(
    ctx: &mut Ctx<'_>,
    f: usize,
    name: &str,
    r: &raw::RawRenewal,
    categories: &IdTable,
    cats: &[usize],
) -> Vec<usize> {
    let old = categories.all(ctx, f, &r.old_categories);
    if old.is_empty() {
        ctx.err(
            f,
            r.until_renewed.span(),
            format!("purpose `{name}` keeps old consents for their old scope, but names none"),
            "list the categories the purpose had before it was widened in `old_categories`",
        );
    }
    for (c, raw) in old.iter().zip(&r.old_categories) {
        if !cats.contains(c) {
            ctx.err(
                f,
                raw.span(),
                format!("`{}` is not a category of `{name}` now", raw.get_ref()),
                "the old scope must lie within the purpose's categories",
            );
        }
    }
    old
}

fn consent_evidence_kept(ctx: &mut Ctx<'_>, f: usize, p: &raw::RawPurpose) -> Option<Period> {
    let k = p.consent_evidence_kept.as_ref()?;
    match Period::parse(k.get_ref()) {
        Ok(period) => Some(period),
        Err(e) => {
            ctx.err(
                f,
                k.span(),
                e.to_string(),
                "e.g. consent_evidence_kept = \"P5Y\"",
            );
            None
        }
    }
}

/// TCF purposes 1 to 11, and only on a purpose whose consent a banner can give.
fn tcf_purposes(ctx: &mut Ctx<'_>, f: usize, p: &raw::RawPurpose) -> Vec<u8> {
    p.tcf_purposes
        .iter()
        .filter_map(|t| {
            let v = *t.get_ref();
            if (1..=11).contains(&v) && p.basis.iter().any(|b| b.legal_basis.get_ref() == "eu-gdpr:A6-1-a") {
                Some(v)
            } else {
                ctx.err(
                    f,
                    t.span(),
                    format!("TCF purpose {v} cannot map to `{}`", p.id.get_ref()),
                    "TCF purposes are 1 to 11, and only a purpose on consent can take a banner's consent",
                );
                None
            }
        })
        .collect()
}

/// `YYYY-MM`.
fn is_notice_version(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || c.is_ascii_digit())
}

fn recipient(
    ctx: &mut Ctx<'_>,
    f: usize,
    r: &raw::RawRecipient,
    purposes: &IdTable,
    categories: &IdTable,
) -> Recipient {
    let kind = recipient_kind(ctx, f, &r.kind);
    let area = r.area.as_ref().map(|a| {
        if !AREAS.contains(&a.get_ref().as_str()) {
            ctx.err(
                f,
                a.span(),
                format!("unknown processor area `{}`", a.get_ref()),
                &format!("use one of: {}", AREAS.join(", ")),
            );
        }
        a.get_ref().clone()
    });
    if kind == RecipientKind::Processor && area.is_none() {
        ctx.err(
            f,
            r.id.span(),
            format!("processor `{}` names no area", r.id.get_ref()),
            &format!("set `area` to one of: {}", AREAS.join(", ")),
        );
    }
    let safeguards = r.safeguards.iter().map(|s| safeguard(ctx, f, s)).collect();
    Recipient {
        id: r.id.get_ref().clone(),
        kind,
        area,
        label: ctx.text(f, r.id.span(), &r.label, "a recipient label"),
        purposes: purposes.all(ctx, f, &r.purposes),
        categories: categories.all(ctx, f, &r.categories),
        countries: r
            .countries
            .iter()
            .filter_map(|c| ctx.country(f, c))
            .collect(),
        dpf_certified: r.dpf_certified,
        safeguards,
        contract_ref: r.contract_ref.clone(),
        notice_refs: ctx.clauses(f, &r.notice_ref),
    }
}

fn recipient_kind(ctx: &mut Ctx<'_>, f: usize, kind: &Spanned<String>) -> RecipientKind {
    match kind.get_ref().as_str() {
        "processor" => RecipientKind::Processor,
        "partner" => RecipientKind::Partner,
        "controller" => RecipientKind::Controller,
        "authority" => RecipientKind::Authority,
        other => {
            ctx.err(
                f,
                kind.span(),
                format!("unknown recipient kind `{other}`"),
                "use `processor`, `partner`, `controller` or `authority`",
            );
            RecipientKind::Processor
        }
    }
}

fn safeguard(ctx: &mut Ctx<'_>, f: usize, s: &raw::RawSafeguard) -> Safeguard {
    if !MECHANISMS.contains(&s.mechanism.get_ref().as_str()) {
        ctx.err(
            f,
            s.mechanism.span(),
            format!("unknown transfer mechanism `{}`", s.mechanism.get_ref()),
            &format!("use one of: {}", MECHANISMS.join(", ")),
        );
    }
    Safeguard {
        mechanism: s.mechanism.get_ref().clone(),
        countries: s
            .countries
            .iter()
            .filter_map(|c| ctx.country(f, c))
            .collect(),
        reference: s.reference.clone(),
    }
}

/// k-anonymity needs groups of two or more, and contribution bounds need at least one row.
fn check_statistics_bounds(
    ctx: &mut Ctx<'_>,
    f: usize,
    span: &Range<usize>,
    r: &raw::RawStatistics,
) {
    if r.min_group_size < 2 {
        ctx.err(
            f,
            span.clone(),
            format!(
                "min_group_size {} releases single persons",
                r.min_group_size
            ),
            "k must be at least 2; 10 or more is usual for released statistics",
        );
    }
    if !(1..=crate::stats::query::MAX_ROWS_PER_PERSON).contains(&r.rows_per_person) {
        ctx.err(
            f,
            span.clone(),
            format!("rows_per_person {} is out of range", r.rows_per_person),
            &format!(
                "bound one person's rows to 1 to {}",
                crate::stats::query::MAX_ROWS_PER_PERSON
            ),
        );
    }
}
