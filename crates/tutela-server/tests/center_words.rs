//! Issue 32: the privacy center and the console's request pages say things in words, not in
//! tutela's codes, and do not contradict themselves. The history reads as sentences; the
//! rectification list offers labels (a field without one by its category's name); a
//! request's status and the line below it agree; after an erasure no consent is offered and a
//! posted one is refused in words; an objection says which consent it ended; the console
//! shows the requester of a letter, the person of each request and the completed requests.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::json;
use tutela_connectors::Connector;
use tutela_connectors::demo::{MAP, SCHEMA};
use tutela_runtime::operators::{self, Role};
use tutela_runtime::requests::Fulfilment;
use tutela_runtime::requests::notify::Notifier;
use tutela_store::RequestStore;
use tutela_store::testing::temp_dir;

use crate::pages::{Browser, Page};
use crate::smtp_sink::SmtpSink;
use crate::support::{TestApp, policy};

const EMAIL: &str = "paula@example.org";

async fn customer(app: &TestApp, id: &str, email: &str) {
    let (s, _, b) = app
        .call(
            "PUT",
            &format!("/v1/subjects/{id}"),
            Some(json!({"relationship": "customer", "contract_kind": "telecommunications", "email": email})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
}

/// The part of `page` from the element with `id` to the end of its table or section.
fn part(page: &Page, id: &str, end: &str) -> String {
    page.body
        .split(&format!("id=\"{id}\""))
        .nth(1)
        .and_then(|s| s.split(end).next())
        .unwrap_or_else(|| panic!("no #{id} in {}", page.body))
        .to_owned()
}

/// The text between tags, without attributes: what a reader sees.
fn visible(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[tokio::test]
async fn the_history_reads_as_sentences_and_an_objection_says_what_it_ended() {
    let sink = SmtpSink::start().await;
    let app = TestApp::sqlite_with_mailer(sink.mailer()).await;
    customer(&app, "H-1", "h@example.org").await;
    let (s, _, b) = app
        .call(
            "POST",
            "/v1/subjects/H-1/consents",
            Some(json!({"purpose": "email_marketing", "channel": "email", "granted": true, "source": "crm_import_7", "notice_version": "2026-01"})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let mut h = Browser::new(&app);
    h.sign_in(&sink, "h@example.org").await;
    let csrf = h.get("/").await.hidden("csrf");
    let p = h
        .post(
            "/consents",
            &[
                ("csrf", &csrf),
                ("purpose", "phone_marketing"),
                ("channel", "phone"),
                ("granted", "true"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = h
        .post("/objections/direct-marketing", &[("csrf", &csrf)])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);

    let home = h.get("/?lang=de").await;
    let history = visible(&part(&home, "history", "</table>"));
    for said in [
        "Uhr haben Sie in Werbung per Telefon eingewilligt (über das Datenschutz-Center).",
        "Uhr haben Sie in Werbung per E-Mail eingewilligt (über unsere Systeme).",
        "Uhr haben Sie der Direktwerbung widersprochen.",
        "Uhr haben wir Ihre Angaben festgehalten: Sie sind unser Kunde.",
    ] {
        assert!(history.contains(said), "{said} in {history}");
    }
    assert!(history.contains("Am "), "{history}");
    for code in [
        "privacy_center",
        "direct_marketing",
        "phone_marketing",
        "crm_import_7",
        "consent_given",
        "customer",
    ] {
        assert!(!history.contains(code), "{code} in {history}");
    }
    // The objection ended both consents without a withdrawal: the page says so, per consent.
    let consents = visible(&part(&home, "h-consents", "</section>"));
    for said in [
        "Weil Sie der Direktwerbung widersprochen haben, gilt Ihre Einwilligung in Werbung per Telefon nicht mehr.",
        "Weil Sie der Direktwerbung widersprochen haben, gilt Ihre Einwilligung in Werbung per E-Mail nicht mehr.",
    ] {
        assert!(consents.contains(said), "{said} in {consents}");
    }
    // A consent never given is not said to be ended.
    assert!(
        !consents.contains("Werbung per SMS nicht mehr"),
        "{consents}"
    );
    let home = h.get("/?lang=en").await;
    let history = visible(&part(&home, "history", "</table>"));
    assert!(
        history.contains("you consented to Marketing by phone (through the privacy center)."),
        "{history}"
    );
    assert!(history.contains("On "), "{history}");
    let consents = visible(&part(&home, "h-consents", "</section>"));
    assert!(
        consents.contains(
            "Because you objected to direct marketing, your consent to Marketing by phone no longer applies."
        ),
        "{consents}"
    );
    app.finish().await;
}

#[tokio::test]
async fn a_requests_status_and_its_progress_line_agree() {
    let sink = SmtpSink::start().await;
    let app = TestApp::sqlite_with_mailer(sink.mailer()).await;
    customer(&app, "S-1", "s@example.org").await;
    let mut s = Browser::new(&app);
    s.sign_in(&sink, "s@example.org").await;
    let csrf = s.get("/").await.hidden("csrf");
    for t in ["access", "erasure"] {
        let p = s.post("/requests", &[("csrf", &csrf), ("type", t)]).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    }
    let mine = app.engine.store.requests_of("S-1", 10).await.expect("list");
    let access = mine
        .iter()
        .find(|r| r.request_type == "access")
        .expect("access")
        .id
        .clone();
    let erasure = mine
        .iter()
        .find(|r| r.request_type == "erasure")
        .expect("erasure")
        .id
        .clone();

    // Filed and verified by the code: in progress, and the page says it is being worked on.
    let p = s.get(&format!("/requests/{access}")).await;
    assert_eq!(part(&p, "status", "</dd>"), ">in Bearbeitung");
    assert!(part(&p, "progress", "</p>").contains("Wir bearbeiten Ihre Anfrage"));
    let home = s.get("/").await;
    assert!(
        part(&home, "requests", "</table>").contains("<td>in Bearbeitung</td>"),
        "the list says what the page says"
    );

    // Refused by the office: refused, and nothing says it is still being processed.
    let (st, _, v) = app
        .act(
            &erasure,
            "refuse",
            json!({"reason": "manifestly unfounded"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let p = s.get(&format!("/requests/{erasure}")).await;
    assert_eq!(part(&p, "status", "</dd>"), ">abgelehnt");
    let line = part(&p, "progress", "</p>");
    assert!(
        line.contains("abgelehnt") && !line.contains("zeigt den Stand"),
        "{line}"
    );

    // Done: completed, the report offered and shown, no "still being processed".
    app.tick_at(jiff::Timestamp::now()).await;
    let p = s.get(&format!("/requests/{access}")).await;
    assert_eq!(part(&p, "status", "</dd>"), ">erledigt");
    assert!(part(&p, "progress", "</p>").contains("Ihre Anfrage ist erledigt."));
    assert!(!p.body.contains("zeigt den Stand") && !p.body.contains("Noch in Bearbeitung"));
    assert!(p.body.contains("/download/html") && p.body.contains("class=\"report\""));
    let home = s.get("/").await;
    let list = part(&home, "requests", "</table>");
    assert!(
        list.contains("<td>erledigt</td>") && list.contains("<td>abgelehnt</td>"),
        "{list}"
    );
    // Any state reads the same in English.
    let p = s.get(&format!("/requests/{access}?lang=en")).await;
    assert_eq!(part(&p, "status", "</dd>"), ">completed");
    app.finish().await;
}

/// The demo operator on SQLite: Paula with a running contract; `street` has no label in the
/// map (so the privacy center must name it by its category).
async fn operator() -> Arc<Connector> {
    let dir = temp_dir("center-words");
    let file = dir.join("operator.db");
    std::fs::File::create(&file).expect("file");
    let url = format!("sqlite://{}", file.display());
    let text = MAP
        .replace("connector = \"postgres\"", "connector = \"sqlite\"")
        .replace(
            "label = { de = \"Straße und Hausnummer\", en = \"Street and number\" }\n",
            "",
        );
    assert!(!text.contains("Straße und Hausnummer"), "the label is gone");
    let map = tutela_core::datamap::load("demo.toml", &text, &policy().policy).expect("map");
    let c = Connector::open(map, Some(&url), b"test-key-0123456789".to_vec())
        .await
        .expect("open");
    let mut seed: Vec<String> = SCHEMA.iter().map(|s| (*s).to_owned()).collect();
    seed.extend([
        format!("INSERT INTO customers (id, customer_no, name, email, birth_date, street, city, created_at) VALUES (1, 'P-1', 'Paula Plan', '{EMAIL}', '1970-01-02', 'Am Markt 3', 'Bonn', '2015-01-01')"),
        "INSERT INTO contracts (id, customer_id, product, started_at, ended_at) VALUES (20, 1, 'IoT M2M 1GB', '2015-01-01', NULL)".to_owned(),
    ]);
    c.run_statements(&seed).await.expect("seed");
    Arc::new(c)
}

async fn with_operator(sink: &SmtpSink) -> TestApp {
    let app = TestApp::sqlite_with(
        sink.mailer(),
        Fulfilment {
            connectors: vec![operator().await],
            notifier: Notifier::new(Vec::new(), None),
        },
    )
    .await;
    customer(&app, "P-1", EMAIL).await;
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rectification_offers_labels_and_an_erasure_ends_the_consent_offers() {
    let sink = SmtpSink::start().await;
    let app = with_operator(&sink).await;
    let mut paula = Browser::new(&app);
    paula.sign_in(&sink, EMAIL).await;
    let home = paula.get("/?lang=de").await;
    let select = part(&home, "rect-field", "</select>");
    for offered in [
        "<option value=\"email\">E-Mail-Adresse</option>",
        "<option value=\"name\">Name</option>",
        "<option value=\"city\">Ort</option>",
        // No label in the map: the category's name from the policy, never the column.
        "<option value=\"street\">Kontaktdaten (Postanschrift, E-Mail-Adresse, Telefonnummer)</option>",
    ] {
        assert!(select.contains(offered), "{offered} in {select}");
    }
    let words = visible(&select);
    for never in [
        "street",
        "customer_no",
        "customer_number",
        "iccid",
        "imsi",
        "birth_date",
    ] {
        assert!(!words.contains(never), "{never} in {words}");
    }

    // The erasure: the running contract keeps the person, every consent ends.
    let csrf = home.hidden("csrf");
    let p = paula
        .post("/requests", &[("csrf", &csrf), ("type", "erasure")])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let id = app.engine.store.requests_of("P-1", 10).await.expect("list")[0]
        .id
        .clone();
    app.tick_approved(&id, jiff::Timestamp::now()).await;
    let status = app.request(&id).await["status"].clone();
    assert_eq!(
        status, "partially_refused",
        "the running contract keeps its records"
    );
    // Art. 12(4): the person is told by mail what stays, why and until when, and where to
    // complain, in words (quoted-printable lines joined again).
    let told = sink
        .mails()
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t == EMAIL))
        .map(|m| m.data.replace("=\r\n", "").replace("=\n", ""))
        .find(|d| d.contains("except for the following"))
        .expect("a mail says what was not done");
    for said in [
        "We have carried out your privacy request (Erasure)",
        "as long as your contract runs",
        "Art. 6(1)(b) GDPR",
        "You may complain to the competent supervisory authority",
        "Graurheindorfer",
    ] {
        assert!(told.contains(said), "{said} in {told}");
    }
    for never in [
        "contracts",
        "operator",
        "erasure",
        "kept for the running contract",
    ] {
        assert!(!told.contains(never), "{never} in {told}");
    }
    let home = paula.get("/").await;
    assert_eq!(home.status, 200);
    let consents = part(&home, "h-consents", "</section>");
    assert!(
        consents.contains("Ihre Daten wurden auf Ihren Wunsch gelöscht"),
        "{consents}"
    );
    assert!(!consents.contains("action=\"/consents\""), "{consents}");
    // A consent posted anyway is refused in a sentence, not as invalid input.
    let p = paula
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
    assert!(
        p.body
            .contains("deshalb nehmen wir keine neue Einwilligung an")
            && !p.body.contains("unvollständig oder ungültig"),
        "{}",
        p.body
    );
    let (_, _, v) = app.call("GET", "/v1/subjects/P-1", None).await;
    assert!(v["consents"].as_array().is_none_or(|c| c.is_empty()), "{v}");
    app.finish().await;
}

#[tokio::test]
async fn the_console_shows_the_requester_the_person_and_completed_requests() {
    let app = TestApp::sqlite().await;
    let secret = operators::create(
        &app.engine.store,
        "erika",
        Role::Agent,
        "correct horse battery",
        jiff::Timestamp::now(),
    )
    .await
    .expect("operator")
    .totp_secret;
    // A letter from someone who names themselves and their customer number.
    let (s, _, r) = app
        .call(
            "POST",
            "/v1/requests",
            Some(json!({"type": "access", "channel": "letter", "email": "lena@example.org", "details": {
                "name": "Lena Brief", "address": "Am Markt 3, 53111 Bonn",
                "identities": {"customer_number": ["L-9"]},
                "text": "Bitte schicken Sie mir eine Kopie meiner Daten."
            }})),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let letter = r["id"].as_str().expect("id").to_owned();
    customer(&app, "D-1", "d@example.org").await;
    let done = app
        .file_verified(json!({"type": "access", "subject": "D-1", "channel": "phone"}))
        .await;
    app.tick_at(jiff::Timestamp::now()).await;
    assert_eq!(app.request(&done).await["status"], "completed");

    let mut erika = Browser::new(&app);
    let p = erika
        .operator("erika", "correct horse battery", &secret)
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = erika.get(&format!("/console/requests/{letter}")).await;
    let requester = visible(&part(&p, "requester", "</section>"));
    for given in [
        "Lena Brief",
        "lena@example.org",
        "Am Markt 3, 53111 Bonn",
        "Kundennummer",
        "L-9",
        "Bitte schicken Sie mir eine Kopie meiner Daten.",
    ] {
        assert!(requester.contains(given), "{given} in {requester}");
    }
    assert!(!p.body.contains("<code>{"), "no raw details: {}", p.body);
    // Who did what, in words: no `operator:` ids, no transition codes.
    let words = visible(&p.body);
    assert!(
        !words.contains("operator:") && !words.contains("awaiting_verification"),
        "{words}"
    );

    // The open list names each person (or that none is known yet), the completed one apart.
    let open = erika.get("/console").await;
    let rows = part(&open, "queue", "</table>");
    assert!(rows.contains(&letter) && !rows.contains(&done), "{rows}");
    assert!(rows.contains("noch nicht zugeordnet"), "{rows}");
    let closed = erika.get("/console?view=done").await;
    let rows = part(&closed, "queue", "</table>");
    assert!(rows.contains(&done) && !rows.contains(&letter), "{rows}");
    assert!(
        rows.contains("<td class=\"person\">D-1</td>") && rows.contains("erledigt"),
        "{rows}"
    );
    assert!(
        closed.body.contains("aria-current=\"page\">Erledigt"),
        "{}",
        closed.body
    );
    app.finish().await;
}
