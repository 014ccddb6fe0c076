//! A request's parts as the privacy office reads them: who did something, what happened, the
//! steps, what the requester gave and what they asked for, in German or English, never as
//! tutela's codes.

use tutela_core::render::Lang;
use tutela_core::request::StepStatus;
use tutela_runtime::requests::details::{Given, RequestDetails};

use crate::AppState;
use crate::web::i18n::Texts;

fn pick(lang: Lang, de: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::De => de,
        Lang::En => en,
    }
}

/// Who did it: an operator by their name, tutela's own work and the requester in words; a
/// name an API client gave (an agent's) as given.
pub(super) async fn actor(state: &AppState, actor: &str, t: &Texts, lang: Lang) -> String {
    if let Some(id) = actor.strip_prefix("operator:") {
        return match tutela_store::WebStore::operator(&state.engine.store, id).await {
            Ok(Some(o)) => o.name,
            _ => pick(lang, "ein Mitarbeiter", "a member of staff").to_owned(),
        };
    }
    match actor {
        "policy" => t.plan_by_policy.to_owned(),
        "system" | "worker" => pick(lang, "tutela (automatisch)", "tutela (automatic)").into(),
        "requester" => pick(lang, "die anfragende Person", "the requester").into(),
        "api" => pick(
            lang,
            "über die Schnittstelle",
            "through the interface (API)",
        )
        .into(),
        other => other.to_owned(),
    }
}

/// A recorded transition in words.
pub(super) fn event(kind: &str, lang: Lang) -> &'static str {
    let (de, en) = match kind {
        "received" => ("eingegangen", "received"),
        "awaiting_verification" => ("Identitätsprüfung begonnen", "identity check started"),
        "verified" => ("Identität bestätigt", "identity verified"),
        "started" => ("Bearbeitung begonnen", "processing started"),
        "awaiting_approval" => ("Plan wartet auf Freigabe", "plan awaiting approval"),
        "approved" => ("Plan freigegeben", "plan approved"),
        "completed" => ("erledigt", "completed"),
        "partially_refused" => ("teilweise abgelehnt", "partly refused"),
        "refused" => ("abgelehnt", "refused"),
        "no_data_held" => ("keine Daten gespeichert", "no data held"),
        "extended" => ("Frist verlängert", "deadline extended"),
        "classified" => ("eingeordnet", "classified"),
        "retry_requested" => ("erneuter Versuch angestoßen", "retry requested"),
        "person_told" => ("Person benachrichtigt", "person told"),
        "person_not_told" => ("Person nicht benachrichtigt", "person not told"),
        "person_erased" => ("Person gelöscht", "person erased"),
        _ => ("sonstiges Ereignis", "other event"),
    };
    pick(lang, de, en)
}

/// A step (`40-erase:crm`) as what it does and where.
pub(super) fn step(step: &str, lang: Lang) -> String {
    let rest = step.split_once('-').map_or(step, |(_, rest)| rest);
    let (action, target) = rest.split_once(':').unwrap_or((rest, ""));
    let (de, en) = match action {
        "collect" => ("Daten zusammentragen", "collect data"),
        "plan" => ("Plan erstellen", "make the plan"),
        "review" => ("Plan prüfen", "review the plan"),
        "erase" => ("löschen", "erase"),
        "rectify" => ("berichtigen", "rectify"),
        "restrict" => ("einschränken", "restrict"),
        "object" => ("Widerspruch eintragen", "record the objection"),
        "withdraw" => ("Einwilligungen widerrufen", "withdraw consents"),
        "notify" => ("Empfänger benachrichtigen", "notify recipients"),
        "export" => ("Export erstellen", "make the export"),
        "report" => ("Auskunft erstellen", "make the access report"),
        "summary" => ("Zusammenfassung erstellen", "make the summary"),
        _ => ("weiterer Schritt", "further step"),
    };
    let what = pick(lang, de, en);
    match (target, lang) {
        ("", _) => what.to_owned(),
        ("tutela", Lang::De) => format!("{what} (in tutela)"),
        ("tutela", Lang::En) => format!("{what} (in tutela)"),
        (d, Lang::De) => format!("{what} (Datenbestand {d})"),
        (d, Lang::En) => format!("{what} (dataset {d})"),
    }
}

/// A step's status in words.
pub(super) fn step_status(status: StepStatus, lang: Lang) -> &'static str {
    let (de, en) = match status {
        StepStatus::Pending => ("offen", "pending"),
        StepStatus::Done => ("erledigt", "done"),
        StepStatus::Refused => ("abgelehnt", "refused"),
        StepStatus::Failed => ("fehlgeschlagen", "failed"),
    };
    pick(lang, de, en)
}

/// What the requester gave about themselves, as given: (label, value) pairs.
pub(super) fn requester(
    email: Option<&str>,
    details: &RequestDetails,
    t: &Texts,
    lang: Lang,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let who = details.who();
    if let Some(n) = who.name.and_then(Given::words) {
        out.push((t.requester_name.to_owned(), n));
    }
    if let Some(e) = email
        .map(str::to_owned)
        .or_else(|| who.email.and_then(Given::words))
    {
        out.push((t.requester_email.to_owned(), e));
    }
    for a in [who.address, who.postal_address] {
        if let Some(a) = a.and_then(Given::words) {
            out.push((t.requester_address.to_owned(), a));
        }
    }
    for (kind, values) in details.identities() {
        if !values.is_empty() {
            out.push((identifier(kind, lang).to_owned(), values.join(", ")));
        }
    }
    if let Some(w) = details
        .text
        .as_deref()
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        out.push((t.requester_words.to_owned(), w.to_owned()));
    }
    out
}

/// An identifier kind as people call it.
fn identifier(kind: &str, lang: Lang) -> &'static str {
    let (de, en) = match kind {
        "customer_number" => ("Kundennummer", "Customer number"),
        "email" => ("E-Mail-Adresse", "E-mail address"),
        "msisdn" => ("Rufnummer", "Phone number"),
        "iccid" => ("SIM-Kartennummer (ICCID)", "SIM card number (ICCID)"),
        "imsi" => ("Teilnehmerkennung (IMSI)", "Subscriber identity (IMSI)"),
        "imei" => ("Gerätenummer (IMEI)", "Device number (IMEI)"),
        _ => ("Weitere Kennung", "Other identifier"),
    };
    pick(lang, de, en)
}

/// What the request asks for beyond its type: the changes (by the fields' labels), the
/// objection's scope, the consent to withdraw, the reason, the language of the answer.
pub(super) fn asks(
    state: &AppState,
    details: &RequestDetails,
    lang: Lang,
) -> Vec<(String, String)> {
    let policy = &state.engine.policy().policy;
    let t = crate::web::i18n::texts(lang);
    let mut out = Vec::new();
    if let Some(changes) = &details.changes {
        let labels = crate::web::center::rectifiable_fields(state, lang);
        for (field, value) in changes {
            let label = labels.iter().find(|(n, _)| n == field).map_or_else(
                || pick(lang, "Weitere Angabe", "Other detail").to_owned(),
                |(_, l)| l.clone(),
            );
            out.push((label, value.clone()));
        }
    }
    if let Some(scope) = details.scope.as_deref() {
        let what = match scope {
            "direct_marketing" => pick(lang, "Direktwerbung", "direct marketing").to_owned(),
            "legitimate_interest" => pick(
                lang,
                "Verarbeitung auf Grund berechtigter Interessen",
                "processing based on legitimate interests",
            )
            .to_owned(),
            p => crate::web::center::purpose_name(policy, p, None, lang),
        };
        out.push((
            pick(lang, "Widerspruch gegen", "Objection to").to_owned(),
            what,
        ));
    }
    if let Some(p) = details.purpose.as_deref() {
        let name = crate::web::center::purpose_name(policy, p, details.channel.as_deref(), lang);
        out.push((pick(lang, "Einwilligung", "Consent").to_owned(), name));
    }
    if let Some(r) = details.reason.as_deref().filter(|r| !r.trim().is_empty()) {
        out.push((t.reason.to_owned(), r.to_owned()));
    }
    if let Some(l) = details.lang {
        let name = match l {
            Lang::De => pick(lang, "Deutsch", "German"),
            Lang::En => pick(lang, "Englisch", "English"),
        };
        out.push((
            pick(lang, "Sprache der Antwort", "Language of the answer").to_owned(),
            name.to_owned(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_read_as_what_they_do_and_where() {
        assert_eq!(step("40-erase:crm", Lang::De), "löschen (Datenbestand crm)");
        assert_eq!(
            step("90-report:tutela", Lang::En),
            "make the access report (in tutela)"
        );
        assert_eq!(step("10-collect", Lang::De), "Daten zusammentragen");
    }

    #[test]
    fn a_letter_requester_is_shown_as_given() {
        let t = crate::web::i18n::texts(Lang::De);
        let d: RequestDetails = serde_json::from_value(serde_json::json!({
            "name": "Rosa Rot",
            "address": "Am Markt 3, 53111 Bonn",
            "identities": {"customer_number": ["R-1"]},
            "text": "Bitte löschen Sie meine Daten."
        }))
        .expect("details");
        let r = requester(None, &d, t, Lang::De);
        assert!(r.contains(&("Name".into(), "Rosa Rot".into())), "{r:?}");
        assert!(
            r.contains(&("Anschrift".into(), "Am Markt 3, 53111 Bonn".into())),
            "{r:?}"
        );
        assert!(r.contains(&("Kundennummer".into(), "R-1".into())), "{r:?}");
    }
}

/// An event's note as the agent reads it: the review's reason in the reader's language (the
/// recorded one is English), the persons a request was resolved to as a sentence (recorded as
/// JSON), any other note as it was written.
pub(super) fn event_note(
    kind: &str,
    note: Option<String>,
    review_reason: &str,
    lang: Lang,
    policy: Option<&tutela_core::policy::Policy>,
) -> String {
    let note = note.unwrap_or_default();
    if kind == "awaiting_approval" && !review_reason.is_empty() {
        return review_reason.to_owned();
    }
    if let Some(kept) = kept_in_words(&note, policy, lang) {
        return kept;
    }
    match serde_json::from_str::<Vec<Found>>(&note) {
        Ok(found) if !found.is_empty() => {
            let each: Vec<String> = found
                .iter()
                .map(|f| format!("{} ({})", f.subject, f.found_in.join(", ")))
                .collect();
            let lead = match lang {
                Lang::De => "Gefunden",
                Lang::En => "Found",
            };
            format!("{lead}: {}", each.join("; "))
        }
        _ => note,
    }
}

/// What an erasure kept, as the worker records it (`1 rows of operator.invoices kept until
/// 2033-12-31 (legal_retention: booking_vouchers), fields kept: issued_at, amount_cents`; one
/// such part per table, joined by `; `), in the reader's language: the rule by its label, the
/// reason and the date in words. The fields kept are in the plan above, by their labels.
/// `None` when the note is not such a record.
fn kept_in_words(
    note: &str,
    policy: Option<&tutela_core::policy::Policy>,
    lang: Lang,
) -> Option<String> {
    let mut out = Vec::new();
    for part in note.split("; ") {
        let (rows, rest) = part.split_once(" rows of ")?;
        let (table, rest) = rest.split_once(" kept until ")?;
        let (until, rest) = rest.split_once(" (")?;
        let (why, rest) = rest.split_once(": ")?;
        let rule = rest.split_once(')')?.0;
        let why = match why {
            "legal_retention" => crate::web::i18n::texts(lang).plan_why_legal,
            "referenced_by_retained_record" => crate::web::i18n::texts(lang).plan_why_referenced,
            _ => return None,
        };
        let rule = super::super::plan::rule_name(policy, rule, lang);
        let until = crate::web::civil_date(until, lang);
        out.push(match lang {
            Lang::De => format!(
                "{table}: {rows} Zeile(n) bis {until} aufbewahrt und gesperrt ({rule}; {why})"
            ),
            Lang::En => {
                format!("{table}: {rows} row(s) kept and restricted until {until} ({rule}; {why})")
            }
        });
    }
    (!out.is_empty()).then(|| out.join("; "))
}

/// A step's last error, the review step's in the reader's language.
pub(super) fn step_note(step: &str, error: Option<String>, review_reason: &str) -> String {
    match error {
        Some(_) if step == tutela_core::request::REVIEW_STEP && !review_reason.is_empty() => {
            review_reason.to_owned()
        }
        e => e.unwrap_or_default(),
    }
}

/// A person a request was resolved to, as the resolution records it.
#[derive(serde::Deserialize)]
struct Found {
    subject: String,
    #[serde(default)]
    found_in: Vec<String>,
}

#[cfg(test)]
mod note_tests {
    use super::*;

    #[test]
    fn notes_recorded_as_codes_read_as_words() {
        let json = r#"[{"subject":"P-1","found_in":["tutela","operator"]}]"#.to_owned();
        assert_eq!(
            event_note("awaiting_verification", Some(json), "", Lang::De, None),
            "Gefunden: P-1 (tutela, operator)"
        );
        assert_eq!(
            event_note(
                "awaiting_approval",
                Some("the plan erases".into()),
                "Der Plan löscht",
                Lang::De,
                None
            ),
            "Der Plan löscht"
        );
        let kept = "1 rows of operator.invoices kept until 2033-12-31 (legal_retention: booking_vouchers), fields kept: issued_at; 1 rows of operator.customers kept until 2033-12-31 (referenced_by_retained_record: booking_vouchers)";
        assert_eq!(
            event_note("partially_refused", Some(kept.into()), "", Lang::De, None),
            "operator.invoices: 1 Zeile(n) bis 31.12.2033 aufbewahrt und gesperrt (booking_vouchers; gesetzliche Aufbewahrungspflicht); \
             operator.customers: 1 Zeile(n) bis 31.12.2033 aufbewahrt und gesperrt (booking_vouchers; von einem aufbewahrten Datensatz benötigt)"
        );
        assert_eq!(
            event_note("verified", Some("card checked".into()), "x", Lang::En, None),
            "card checked"
        );
        assert_eq!(
            step_note("35-review", Some("English".into()), "Deutsch"),
            "Deutsch"
        );
        assert_eq!(
            step_note("40-erase:x", Some("timeout".into()), "Deutsch"),
            "timeout"
        );
    }
}

/// Why an agent's action on a request was not taken, in words: the engine's errors name
/// states by their codes (`completed`) and are in English.
pub(super) fn refusal(e: &tutela_runtime::requests::RequestError, lang: Lang) -> String {
    use tutela_core::request::TransitionError as T;
    use tutela_runtime::requests::RequestError as E;
    let status = |s: &str| crate::web::center::status_label(s, lang);
    match e {
        E::Transition(T::NotAllowed { from, to }) => match lang {
            Lang::De => format!(
                "Eine Anfrage mit dem Stand „{}“ kann nicht „{}“ werden.",
                status(from),
                status(to)
            ),
            Lang::En => format!(
                "A request that is “{}” cannot become “{}”.",
                status(from),
                status(to)
            ),
        },
        E::Transition(T::Final(s)) => match lang {
            Lang::De => format!(
                "Die Anfrage ist bereits abgeschlossen ({}); daran ändert sich nichts mehr.",
                status(s)
            ),
            Lang::En => format!(
                "The request is already closed ({}); it changes no more.",
                status(s)
            ),
        },
        E::Transition(T::ExtensionTooLate { .. }) => pick(
            lang,
            "Eine Verlängerung muss im ersten Monat entschieden und der Person mitgeteilt werden; dieser ist vorbei.",
            "An extension must be decided and told to the person within the first month, which has passed.",
        )
        .to_owned(),
        E::Transition(T::ExtensionTooLong { .. }) => pick(
            lang,
            "Eine Frist verlängert sich um höchstens zwei Monate insgesamt.",
            "A deadline is extended by two months at most in all.",
        )
        .to_owned(),
        E::Transition(T::ReasonMissing) => {
            pick(lang, "Bitte geben Sie eine Begründung an.", "Please give a reason.").to_owned()
        }
        E::Transition(T::NotClassifiable) => pick(
            lang,
            "Nur eine noch nicht eingeordnete Anfrage kann eingeordnet werden.",
            "Only a request not yet classified can be classified.",
        )
        .to_owned(),
        E::Transition(T::Unclassified) => pick(
            lang,
            "Ordnen Sie die Anfrage zuerst einer Art zu.",
            "Classify the request first.",
        )
        .to_owned(),
        E::NotVerified => pick(
            lang,
            "Die Identität der anfragenden Person ist noch nicht bestätigt.",
            "The requester's identity is not verified yet.",
        )
        .to_owned(),
        E::SubjectRequired { .. } => pick(
            lang,
            "Die Anfrage nennt keine Person: Bitte geben Sie die Kundennummer der gefundenen Person an.",
            "The request names no person: please give the customer number of the person found.",
        )
        .to_owned(),
        E::SubjectUnknown | E::NotACandidate { .. } => pick(
            lang,
            "Diese Kundennummer gehört zu keiner Person, die die Anfrage gefunden hat.",
            "This customer number belongs to no person the request found.",
        )
        .to_owned(),
        E::Unresolved(_) => pick(
            lang,
            "Die Person konnte nicht in jedem Datenbestand gesucht werden. Bitte versuchen Sie es später erneut.",
            "The person could not be looked up in every dataset. Please try again later.",
        )
        .to_owned(),
        _ => pick(
            lang,
            "Die Eingabe ist unvollständig oder ungültig.",
            "The input is incomplete or invalid.",
        )
        .to_owned(),
    }
}
