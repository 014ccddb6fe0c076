//! Plain words (issue 32, Art. 12(1) GDPR): every page a person, an agent or an auditor reads,
//! and every report, walked in German and in English, shows no internal identifier, no
//! snake_case token, no raw ISO timestamp and no sentence of the other language.
//!
//! What a reader sees is the text between the tags plus the attributes a browser shows or reads
//! aloud (`title`, `alt`, `placeholder`, `aria-label`, a button's `value`); scripts, styles
//! and hidden inputs are not seen. The few tokens allowed anyway are in [`ALLOWED`], each with
//! its reason.

use axum::http::StatusCode;
use serde_json::json;
use tutela_runtime::operators::{self, Role};
use tutela_runtime::requests::Fulfilment;
use tutela_runtime::requests::notify::Notifier;

use crate::pages::Browser;
use crate::smtp_sink::SmtpSink;
use crate::support::TestApp;

/// Tokens a reader may see although they look like codes, each with its reason. (Besides
/// these, the console shows the operator's own table and column names in `<code>` beside
/// their labels: the agent checks a plan against the database they know by those names;
/// `visible` leaves `<code>` out on console pages.)
const ALLOWED: &[(&str, &str)] = &[
    (
        "risk_model",
        "the setting a DPO adds to the configuration to turn the risk check on",
    ),
    (
        "retention_sweeps",
        "the setting a DPO adds to a dataset to turn its retention sweeps on",
    ),
    (
        "until_renewed",
        "the setting a DPO adds to a widened consent purpose: what the consents given cover",
    ),
    (
        "old_scope",
        "a value of `until_renewed`, named where a version is refused for lacking it",
    ),
];

const PERSON: &[&str] = &[
    "INSERT INTO customers (id, customer_no, name, email, birth_date, street, city, created_at) VALUES (1, 'P-1', 'Paula Plan', 'paula@example.org', '1970-01-02', 'Am Markt 1', 'Bonn', '2015-01-01')",
    "INSERT INTO contracts (id, customer_id, product, started_at, ended_at) VALUES (20, 1, 'IoT M2M 1GB', '2015-01-01', '2020-01-01')",
    "INSERT INTO invoices (id, customer_id, issued_at, amount_cents, iban) VALUES (60, 1, '2025-03-01', 1999, 'DE89370400440532013000')",
    "INSERT INTO tickets (id, customer_id, opened_at, topic, summary) VALUES (80, 1, '2026-04-01', 'sim', 'SIM not active')",
    "INSERT INTO customers (id, customer_no, name, email, birth_date, street, city, created_at) VALUES (2, 'E-1', 'Emil Erase', 'emil@example.org', '1980-05-06', 'Hauptstr. 2', 'Köln', '2016-01-01')",
    "INSERT INTO tickets (id, customer_id, opened_at, topic, summary) VALUES (81, 2, '2026-04-02', 'bill', 'Invoice question')",
];

/// A server with the demo operator database (named `db`) holding [`PERSON`], and Paula and Emil
/// as its customers.
async fn app_with_customers(sink: &SmtpSink, db: &str) -> TestApp {
    let app = TestApp::sqlite_with(
        sink.mailer(),
        Fulfilment {
            connectors: vec![crate::console_plans::demo_db(db, PERSON).await],
            notifier: Notifier::new(Vec::new(), None),
        },
    )
    .await;
    for (id, email) in [("P-1", "paula@example.org"), ("E-1", "emil@example.org")] {
        let (s, _, b) = app
            .call(
                "PUT",
                &format!("/v1/subjects/{id}"),
                Some(json!({"relationship": "customer", "contract_kind": "telecommunications", "email": email})),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    app
}

/// The text a reader sees on `html`; on console pages without `<code>` elements.
fn visible(html: &str, console: bool) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        out.push(' ');
        rest = &rest[i..];
        let lower = rest.get(..10).unwrap_or(rest).to_ascii_lowercase();
        let skip_to = if lower.starts_with("<script") {
            Some("</script>")
        } else if lower.starts_with("<style") {
            Some("</style>")
        } else if console && lower.starts_with("<code") {
            Some("</code>")
        } else if lower.starts_with("<textarea") {
            // What the reader typed or uploaded (a policy file), given back to them as is.
            Some("</textarea>")
        } else {
            None
        };
        if let Some(end) = skip_to {
            match rest.find(end) {
                Some(j) => rest = &rest[j + end.len()..],
                None => return out,
            }
            continue;
        }
        let Some(j) = rest.find('>') else {
            return out;
        };
        let tag = &rest[..=j];
        if !tag.contains("type=\"hidden\"") {
            for attr in ["title", "alt", "placeholder", "aria-label", "value"] {
                if attr == "value"
                    && !tag.starts_with("<button")
                    && !tag.contains("type=\"submit\"")
                {
                    continue;
                }
                if let Some(v) = attribute(tag, attr) {
                    out.push(' ');
                    out.push_str(v);
                    out.push(' ');
                }
            }
        }
        rest = &rest[j + 1..];
    }
    out.push_str(rest);
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&nbsp;", " ")
}

fn attribute<'t>(tag: &'t str, name: &str) -> Option<&'t str> {
    let needle = format!(" {name}=\"");
    let i = tag.find(&needle)? + needle.len();
    let j = tag[i..].find('"')? + i;
    Some(&tag[i..j])
}

/// Words only one of the two languages uses: seen on a page of the other, a sentence was not
/// translated.
const ONLY_GERMAN: &[&str] = &[
    "und", "Ihre", "Sie", "nicht", "oder", "für", "werden", "ist", "eine", "Bitte",
];
const ONLY_ENGLISH: &[&str] = &[
    "the", "your", "and", "not", "which", "will", "with", "is", "already", "this",
];

/// What a reader of `text` (in `lang`) would not understand.
fn faults(text: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || ",;()[]„“\"'«»".contains(c))
        .filter(|w| !w.is_empty())
        .collect();
    let allowed = |w: &str| ALLOWED.iter().any(|(a, _)| *a == w);
    for w in &words {
        let w = w.trim_end_matches(['.', ':', '!', '?']);
        if allowed(w) || w.contains('@') || w.starts_with("http") {
            continue;
        }
        // snake_case: letters on both sides of an underscore.
        let b = w.as_bytes();
        if b.windows(3)
            .any(|t| t[1] == b'_' && t[0].is_ascii_alphanumeric() && t[2].is_ascii_alphanumeric())
        {
            out.push(format!("code `{w}`"));
        }
        // A timestamp as a machine writes it: 2026-12-07T06:27:53Z.
        if b.windows(11).any(|t| {
            t[..4].iter().all(u8::is_ascii_digit) && t[4] == b'-' && t[7] == b'-' && t[10] == b'T'
        }) {
            out.push(format!("raw timestamp `{w}`"));
        }
        for prefix in ["operator:", "op_", "eu-gdpr:", "req_"] {
            if w.starts_with(prefix) {
                out.push(format!("internal id `{w}`"));
            }
        }
    }
    let other = if lang == "de" {
        ONLY_ENGLISH
    } else {
        ONLY_GERMAN
    };
    let foreign: Vec<&&str> = words.iter().filter(|w| other.contains(*w)).collect();
    // One word may be a name or a quotation; three are a sentence not translated.
    if foreign.len() >= 3 {
        out.push(format!("words of the other language: {foreign:?}"));
    }
    out
}

/// Every fault on page `path` in `lang`, with a little context.
fn check(seen: &mut Vec<String>, path: &str, lang: &str, html: &str, console: bool) {
    let text = visible(html, console);
    if std::env::var("PW_DUMP").is_ok() {
        eprintln!("=== {path} {lang}\n{text}");
    }
    for f in faults(&text, lang) {
        seen.push(format!("{path} ({lang}): {f}"));
    }
}

fn is_html(p: &crate::pages::Page) -> bool {
    p.headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

async fn signed_in_operator<'a>(app: &'a TestApp, name: &str, role: Role) -> Browser<'a> {
    let secret = operators::create(
        &app.engine.store,
        name,
        role,
        "correct horse battery",
        jiff::Timestamp::now(),
    )
    .await
    .expect("operator")
    .totp_secret;
    let mut b = Browser::new(app);
    let p = b.operator(name, "correct horse battery", &secret).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_and_report_speaks_plain_german_and_english() {
    let sink = SmtpSink::start().await;
    let app = app_with_customers(&sink, "plain-words").await;
    let (s, _, b) = app
        .call(
            "POST",
            "/v1/subjects/P-1/consents",
            Some(json!({"purpose": "email_marketing", "channel": "email", "granted": true, "source": "shop", "notice_version": "2026-01", "evidence": "double opt-in"})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let now = jiff::Timestamp::now();
    // The report is written in the language the person asked in: one of each.
    let access = app
        .file_verified(json!({"type": "access", "subject": "P-1", "email": "paula@example.org"}))
        .await;
    let access_en = app
        .file_verified(json!({"type": "access", "subject": "P-1", "email": "paula@example.org", "details": {"lang": "en"}}))
        .await;
    let export = app
        .file_verified(
            json!({"type": "portability", "subject": "P-1", "email": "paula@example.org"}),
        )
        .await;
    let erasure = app
        .file_verified(json!({"type": "erasure", "subject": "E-1", "email": "emil@example.org"}))
        .await;
    app.tick_at(now).await;
    app.tick_approved(&erasure, now).await;
    // A letter, not yet verified: the agent's page for it.
    let (s, _, letter) = app
        .call(
            "POST",
            "/v1/requests",
            Some(json!({"type": "access", "channel": "letter", "email": "paula@example.org", "details": {"text": "Bitte um Auskunft"}})),
        )
        .await;
    assert_eq!(s, 201, "{letter}");
    let letter = letter["id"].as_str().expect("id").to_owned();

    let mut seen = Vec::new();
    // The pages before anyone signs in: the person's sign-in, the operator's.
    let mut stranger = Browser::new(&app);
    for lang in ["de", "en"] {
        // `/?done=erasure_filed`: where an erasure that ran at once, and ended the session it
        // was filed in, leads the person.
        for path in [
            "/",
            "/console",
            "/notice",
            "/?done=erasure_filed",
            "/no-such-page",
            "/console/no-such-page",
        ] {
            let sep = if path.contains('?') { '&' } else { '?' };
            let p = stranger.get(&format!("{path}{sep}lang={lang}")).await;
            let want = if path.contains("no-such") { 404 } else { 200 };
            assert_eq!(p.status, want, "{path}: {}", p.body);
            check(
                &mut seen,
                &format!("{path} (signed out)"),
                lang,
                &p.body,
                false,
            );
        }
    }
    // A form's address opened in the address bar leads back to the form, not to an error.
    let p = stranger.get("/signin").await;
    assert_eq!((p.status.as_u16(), p.location.as_deref()), (303, Some("/")));
    let p = stranger.get("/?done=erasure_filed&lang=de").await;
    assert!(
        p.body.contains("deshalb sind Sie jetzt abgemeldet"),
        "{}",
        p.body
    );
    // The person's pages and documents.
    let mut paula = Browser::new(&app);
    paula.sign_in(&sink, "paula@example.org").await;
    for lang in ["de", "en"] {
        let report = if lang == "de" { &access } else { &access_en };
        for path in [
            "/".to_owned(),
            "/notice".to_owned(),
            format!("/requests/{report}"),
            format!("/requests/{export}"),
            format!("/requests/{report}/download/html"),
        ] {
            let p = paula.get(&format!("{path}?lang={lang}")).await;
            assert_eq!(p.status, 200, "{path}: {}", p.body);
            check(&mut seen, &path, lang, &p.body, false);
        }
    }
    // The console's pages, every GET route of its table, as the DPO who may see them all.
    let mut dpo = signed_in_operator(&app, "dora", Role::Dpo).await;
    for lang in ["de", "en"] {
        for (method, route, _) in tutela_server::web::console_routes() {
            if *method != "GET" {
                continue;
            }
            let paths: Vec<String> = if route.contains("{id}") {
                [&access, &erasure, &letter]
                    .iter()
                    .map(|id| route.replace("{id}", id))
                    .collect()
            } else {
                vec![(*route).to_owned()]
            };
            for path in paths {
                let p = dpo.get(&format!("{path}?lang={lang}")).await;
                assert_eq!(p.status, 200, "{path}: {}", p.body);
                // The record of processing is a download for the auditor's tools (CSV, JSON,
                // JSON-LD); what a person reads of it is the policy page.
                if !is_html(&p) {
                    continue;
                }
                check(&mut seen, &path, lang, &p.body, true);
            }
        }
        // A page that answers with a message: a request that does not exist.
        let p = dpo
            .get(&format!("/console/requests/req_0000?lang={lang}"))
            .await;
        assert_eq!(p.status, 404, "{}", p.body);
        check(
            &mut seen,
            "/console/requests/(unknown)",
            lang,
            &p.body,
            true,
        );
        let search = dpo.get(&format!("/console/subject?lang={lang}")).await;
        let csrf = search.hidden("csrf");
        let p = dpo
            .post("/console/subject", &[("csrf", &csrf), ("subject", "P-1")])
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
        check(&mut seen, "/console/subject P-1", lang, &p.body, true);
    }
    assert!(
        seen.is_empty(),
        "{} things a reader would not understand:\n{}",
        seen.len(),
        seen.join("\n")
    );
}

#[test]
fn the_checks_find_what_they_look_for() {
    let page = "<html><style>a_b{}</style><p>Am 2026-12-07T06:27:53Z: consent_given by operator:op_1 \
                <input type=\"hidden\" value=\"x_y\"><button title=\"Löschen\" value=\"a_b\">x</button></p>";
    let text = visible(page, false);
    assert!(!text.contains("a_b{}"), "{text}");
    assert!(!text.contains("x_y"), "{text}");
    let f = faults(&text, "de");
    assert!(f.iter().any(|f| f.contains("consent_given")), "{f:?}");
    assert!(f.iter().any(|f| f.contains("raw timestamp")), "{f:?}");
    assert!(f.iter().any(|f| f.contains("operator:op_1")), "{f:?}");
    assert!(
        f.iter().any(|f| f.contains("a_b")),
        "a button's value is read: {f:?}"
    );
    assert_eq!(
        faults("Your data and the report with your name", "de").len(),
        1
    );
    assert!(faults("Ihre Daten", "de").is_empty());
    assert!(visible("<code>customers</code> Kunden", true).contains("Kunden"));
    assert!(!visible("<code>birth_date</code>", true).contains("birth_date"));
}

/// Every page of `paths`, in both languages, checked; each answers `status`.
async fn walk(
    seen: &mut Vec<String>,
    b: &mut Browser<'_>,
    paths: &[String],
    status: u16,
    console: bool,
) {
    for lang in ["de", "en"] {
        for path in paths {
            let p = b.get(&format!("{path}?lang={lang}")).await;
            assert_eq!(p.status, status, "{path} ({lang}): {}", p.body);
            check(seen, path, lang, &p.body, console);
        }
    }
}

/// The pages only a form or a request's state reaches, in both languages: a broken policy
/// upload, the operators page after each change and its refusals, the message pages of both
/// sides, the privacy center after a consent, a mistyped code and a finished erasure, and a
/// request page in each state the walk can bring about.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_after_a_form_or_in_a_state_speak_plain_german_and_english() {
    let sink = SmtpSink::start().await;
    let app = app_with_customers(&sink, "plain-words-forms").await;
    let now = jiff::Timestamp::now();
    let mut seen = Vec::new();
    let mut dora = signed_in_operator(&app, "dora", Role::Dpo).await;
    operators::create(
        &app.engine.store,
        "erika",
        Role::Agent,
        "correct horse battery",
        now,
    )
    .await
    .expect("erika");
    let erika = tutela_store::WebStore::operator_by_name(&app.engine.store, "erika")
        .await
        .expect("store")
        .expect("erika");
    let dora_id = tutela_store::WebStore::operator_by_name(&app.engine.store, "dora")
        .await
        .expect("store")
        .expect("dora")
        .id;

    // The person's side: signed in before the erasure, so that its pages after it are seen.
    let mut paula = Browser::new(&app);
    paula.sign_in(&sink, "paula@example.org").await;
    let mut emil = Browser::new(&app);
    emil.sign_in(&sink, "emil@example.org").await;
    // A mistyped one-time code.
    for lang in ["de", "en"] {
        let mut stranger = Browser::new(&app);
        let p = stranger.get(&format!("/?lang={lang}")).await;
        let csrf = p.hidden("csrf");
        let p = stranger
            .post(
                "/signin",
                &[("csrf", &csrf), ("email", "paula@example.org")],
            )
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
        check(&mut seen, "/signin", lang, &p.body, false);
        let csrf = p.hidden("csrf");
        let p = stranger
            .post("/signin/code", &[("csrf", &csrf), ("code", "000000")])
            .await;
        check(&mut seen, "/signin/code (mistyped)", lang, &p.body, false);
    }
    // A consent given and withdrawn in the privacy center, and the page after each.
    for lang in ["de", "en"] {
        for granted in ["true", "false"] {
            let csrf = paula.get(&format!("/?lang={lang}")).await.hidden("csrf");
            let p = paula
                .post(
                    "/consents",
                    &[
                        ("csrf", &csrf),
                        ("purpose", "email_marketing"),
                        ("channel", "email"),
                        ("granted", granted),
                    ],
                )
                .await;
            assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
            let p = paula.get(&format!("/?done=saved&lang={lang}")).await;
            check(&mut seen, "/?done=saved (consent)", lang, &p.body, false);
        }
    }
    // A request that does not exist, on either side.
    walk(
        &mut seen,
        &mut paula,
        &["/requests/req_0000".to_owned()],
        404,
        false,
    )
    .await;

    // Requests in each state the walk can bring about.
    let (s, _, r) = app
        .call(
            "POST",
            "/v1/requests",
            Some(json!({"type": "access", "subject": "P-1", "email": "paula@example.org"})),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let received = r["id"].as_str().expect("id").to_owned();
    let verified = app
        .file_verified(
            json!({"type": "portability", "subject": "P-1", "email": "paula@example.org"}),
        )
        .await;
    let refused = app
        .file_verified(json!({"type": "access", "subject": "P-1", "email": "paula@example.org"}))
        .await;
    let csrf = dora.get("/console?lang=de").await.hidden("csrf");
    let p = dora
        .post(
            &format!("/console/requests/{refused}/refuse"),
            &[("csrf", &csrf), ("reason", "Offensichtlich unbegründet")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let person = [&received, &verified, &refused]
        .iter()
        .map(|id| format!("/requests/{id}"))
        .collect::<Vec<_>>();
    walk(&mut seen, &mut paula, &person, 200, false).await;
    // A refused request says why and where to complain (Art. 12(4)).
    let page = paula.get(&format!("/requests/{refused}?lang=de")).await;
    for said in [
        "Grund der Ablehnung: Offensichtlich unbegründet",
        "Aufsichtsbehörde beschweren",
    ] {
        assert!(page.body.contains(said), "{said} in {}", page.body);
    }
    let erasure = app
        .file_verified(json!({"type": "erasure", "subject": "E-1", "email": "emil@example.org"}))
        .await;
    app.tick_at(now).await;
    assert_eq!(app.request(&erasure).await["status"], "awaiting_approval");
    let waiting = vec![format!("/requests/{erasure}"), "/".to_owned()];
    walk(&mut seen, &mut emil, &waiting, 200, false).await;
    let console: Vec<String> = [&received, &verified, &refused, &erasure]
        .iter()
        .map(|id| format!("/console/requests/{id}"))
        .collect();
    walk(&mut seen, &mut dora, &console, 200, true).await;
    app.approve(&erasure).await;
    app.tick_at(now).await;
    app.tick_at(now).await;
    let done = app.request(&verified).await;
    assert_eq!(done["status"], "completed", "{done}");
    walk(&mut seen, &mut dora, &console, 200, true).await;
    walk(&mut seen, &mut paula, &person, 200, false).await;
    // The privacy center after the erasure: the person's pages, and a consent refused (409).
    for lang in ["de", "en"] {
        for path in ["/".to_owned(), format!("/requests/{erasure}")] {
            let p = emil.get(&format!("{path}?lang={lang}")).await;
            if is_html(&p) {
                check(&mut seen, &format!("{path} (erased)"), lang, &p.body, false);
            }
        }
        let home = emil.get(&format!("/?lang={lang}")).await;
        if home.body.contains("action=\"/signout\"") {
            let csrf = home.hidden("csrf");
            let p = emil
                .post(
                    "/consents",
                    &[
                        ("csrf", &csrf),
                        ("purpose", "email_marketing"),
                        ("channel", "email"),
                        ("granted", "true"),
                    ],
                )
                .await;
            assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.body);
            check(&mut seen, "/consents (after erasure)", lang, &p.body, false);
        }
    }

    // The console's answers to forms, in both languages.
    for lang in ["de", "en"] {
        let csrf = dora
            .get(&format!("/console?lang={lang}"))
            .await
            .hidden("csrf");
        // An action a finished request no longer takes (422), an unknown one (404).
        let p = dora
            .post(
                &format!("/console/requests/{verified}/refuse"),
                &[("csrf", &csrf), ("reason", "zu spät")],
            )
            .await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
        check(
            &mut seen,
            "/console/requests/(done)/refuse",
            lang,
            &p.body,
            true,
        );
        let p = dora
            .post(
                "/console/requests/req_0000/refuse",
                &[("csrf", &csrf), ("reason", "x")],
            )
            .await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{}", p.body);
        check(
            &mut seen,
            "/console/requests/(unknown)/refuse",
            lang,
            &p.body,
            true,
        );
        // A plan approved that no longer waits (409): the request page says why.
        let p = dora
            .post(
                &format!("/console/requests/{erasure}/approve"),
                &[("csrf", &csrf), ("note", "geprüft")],
            )
            .await;
        assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.body);
        check(
            &mut seen,
            "/console/requests/(done)/approve",
            lang,
            &p.body,
            true,
        );
        // A person number that is none (422), a person without a report (404).
        let p = dora
            .post("/console/subject", &[("csrf", &csrf), ("subject", "  ")])
            .await;
        check(&mut seen, "/console/subject (blank)", lang, &p.body, true);
        let p = dora
            .post(
                "/console/subject/report",
                &[("csrf", &csrf), ("subject", "E-1")],
            )
            .await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{}", p.body);
        check(
            &mut seen,
            "/console/subject/report (none)",
            lang,
            &p.body,
            true,
        );
        // A broken policy file: its errors with line and column.
        let p = dora
            .post(
                "/console/versions",
                &[
                    ("csrf", &csrf),
                    ("policy", "[policy]\nid = \"x\nversion = 1\n"),
                    ("effective_at", ""),
                ],
            )
            .await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
        check(&mut seen, "/console/versions (broken)", lang, &p.body, true);
        // A version refused: a time gone by, a consent purpose widened without saying what
        // the consents given so far still cover.
        let at = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24)).to_string();
        for (text, when) in [
            (crate::versions::widened(), "2020-01-01T00:00:00Z"),
            (crate::versions::widened_with(None), at.as_str()),
        ] {
            let p = dora
                .post(
                    "/console/versions",
                    &[("csrf", &csrf), ("policy", &text), ("effective_at", when)],
                )
                .await;
            assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
            check(
                &mut seen,
                "/console/versions (refused)",
                lang,
                &p.body,
                true,
            );
        }
        // The operators page after each change, and its refusals.
        for (action, id, status) in [
            ("disable", erika.id.as_str(), 200),
            ("enable", erika.id.as_str(), 200),
            ("reset-totp", erika.id.as_str(), 200),
            ("remove", dora_id.as_str(), 409),
            ("disable", "op_unknown", 404),
        ] {
            let p = dora
                .post(
                    &format!("/console/operators/{id}/{action}"),
                    &[("csrf", &csrf), ("confirm", "yes")],
                )
                .await;
            assert_eq!(p.status, status, "{action}: {}", p.body);
            check(
                &mut seen,
                &format!("/console/operators {action}"),
                lang,
                &p.body,
                true,
            );
        }
        let p = dora
            .post(
                &format!("/console/operators/{}/remove", erika.id),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
        check(
            &mut seen,
            "/console/operators remove (confirm)",
            lang,
            &p.body,
            true,
        );
    }
    // Removed, and a removed account changes no more (409).
    for (lang, status) in [("de", 200), ("en", 409)] {
        let csrf = dora
            .get(&format!("/console/operators?lang={lang}"))
            .await
            .hidden("csrf");
        let p = dora
            .post(
                &format!("/console/operators/{}/remove", erika.id),
                &[("csrf", &csrf), ("confirm", "yes")],
            )
            .await;
        assert_eq!(p.status, status, "{}", p.body);
        check(&mut seen, "/console/operators remove", lang, &p.body, true);
        let p = dora
            .post(
                &format!("/console/operators/{}/enable", erika.id),
                &[("csrf", &csrf), ("confirm", "yes")],
            )
            .await;
        assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.body);
        check(
            &mut seen,
            "/console/operators (removed)",
            lang,
            &p.body,
            true,
        );
    }
    walk(
        &mut seen,
        &mut dora,
        &["/console/operators".to_owned()],
        200,
        true,
    )
    .await;
    // An erasure a legal duty limits (Paula's invoices are kept for the tax law): the person
    // is told what stays, the agent sees why.
    let kept = app
        .file_verified(json!({"type": "erasure", "subject": "P-1", "email": "paula@example.org"}))
        .await;
    walk(
        &mut seen,
        &mut paula,
        &[format!("/requests/{kept}")],
        200,
        false,
    )
    .await;
    app.tick_approved(&kept, jiff::Timestamp::now()).await;
    let status = app.request(&kept).await["status"].clone();
    assert!(
        status == "partially_refused" || status == "completed",
        "{status}"
    );
    walk(
        &mut seen,
        &mut dora,
        &[format!("/console/requests/{kept}")],
        200,
        true,
    )
    .await;
    // A version scheduled: the versions page says what it changes.
    let csrf = dora.get("/console/versions").await.hidden("csrf");
    let at = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24)).to_string();
    let p = dora
        .post(
            "/console/versions",
            &[
                ("csrf", &csrf),
                ("policy", &crate::versions::widened()),
                ("effective_at", &at),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    walk(
        &mut seen,
        &mut dora,
        &["/console/versions".to_owned()],
        200,
        true,
    )
    .await;
    assert!(
        seen.is_empty(),
        "{} things a reader would not understand:\n{}",
        seen.len(),
        seen.join("\n")
    );
}
