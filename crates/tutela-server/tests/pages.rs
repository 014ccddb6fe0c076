//! The privacy center and the console through the real router, as a browser uses them: cookies,
//! forms with their CSRF tokens, the code read from a real SMTP sink. The Playwright tests in
//! `tests/e2e` drive the same pages in Chromium; these check every route and role exhaustively.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use tower::ServiceExt;
use tutela_core::request::Status;
use tutela_runtime::operators::totp;
use tutela_runtime::operators::{self, Role};
use tutela_store::RequestStore;

use crate::smtp_sink::SmtpSink;
use crate::support::TestApp;

/// A browser: a cookie jar over the router.
pub struct Browser<'a> {
    app: &'a TestApp,
    cookies: HashMap<String, String>,
    headers: Vec<(&'static str, String)>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
    pub headers: axum::http::HeaderMap,
}

impl Page {
    /// The value of the first hidden input `name`.
    pub fn hidden(&self, name: &str) -> String {
        let needle = format!("name=\"{name}\" value=\"");
        let i = self
            .body
            .find(&needle)
            .unwrap_or_else(|| panic!("no {name} in {}", self.body))
            + needle.len();
        let j = self.body[i..].find('"').expect("closing quote") + i;
        self.body[i..j].to_owned()
    }
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            cookies: HashMap::new(),
            headers: vec![],
        }
    }

    async fn request(&mut self, method: &str, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        let mut req = Request::builder().method(method).uri(path);
        let jar: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !jar.is_empty() {
            req = req.header("cookie", jar.join("; "));
        }
        for (k, v) in &self.headers {
            req = req.header(*k, v.as_str());
        }
        let req = match form {
            Some(fields) => req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(encode(fields))),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let res = self
            .app
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("response");
        for c in res.headers().get_all("set-cookie") {
            let c = c.to_str().expect("ascii");
            assert!(
                c.contains("HttpOnly") && c.contains("Secure") && c.contains("SameSite=Strict"),
                "{c}"
            );
            let (pair, _) = c.split_once(';').expect("attributes");
            let (k, v) = pair.split_once('=').expect("pair");
            if c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let status = res.status();
        let headers = res.headers().clone();
        let location = headers
            .get("location")
            .map(|v| v.to_str().expect("ascii").to_owned());
        let bytes = axum::body::to_bytes(res.into_body(), 16 << 20)
            .await
            .expect("body");
        Page {
            status,
            location,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            headers,
        }
    }

    /// The browser's cookies as one `Cookie` header.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.request("GET", path, None).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.request("POST", path, Some(form)).await
    }

    /// Signs in with the code mailed to `email`.
    pub async fn sign_in(&mut self, sink: &SmtpSink, email: &str) {
        let p = self.get("/").await;
        let token = p.hidden("csrf");
        let before = sink.count_to(email);
        let p = self
            .post("/signin", &[("csrf", &token), ("email", email)])
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
        let code = sink
            .wait_code_for(email, before)
            .await
            .expect("code mailed");
        let token = p.hidden("csrf");
        let p = self
            .post("/signin/code", &[("csrf", &token), ("code", &code)])
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
        assert!(self.cookies.contains_key("tutela_session"));
    }

    /// Signs an operator in with password and the current TOTP code.
    pub async fn operator(&mut self, name: &str, password: &str, secret: &str) -> Page {
        let key = totp::base32_decode(secret).expect("base32");
        let code = totp::code_at(&key, jiff::Timestamp::now().as_second());
        self.operator_with(name, password, &code).await
    }

    /// Signs an operator in with this TOTP code.
    async fn operator_with(&mut self, name: &str, password: &str, code: &str) -> Page {
        let p = self.get("/console").await;
        let token = p.hidden("csrf");
        self.post(
            "/console/login",
            &[
                ("csrf", &token),
                ("name", name),
                ("password", password),
                ("totp", code),
            ],
        )
        .await
    }
}

fn encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

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

async fn may_email(app: &TestApp, id: &str) -> bool {
    let (s, _, d) = app
        .call(
            "POST",
            "/v1/decisions",
            Some(json!({"subject": id, "purpose": "email_marketing", "channel": "email", "categories": ["contact"]})),
        )
        .await;
    assert_eq!(s, 200, "{d}");
    d["allowed"] == true
}

async fn consents(app: &TestApp, id: &str) -> Vec<serde_json::Value> {
    let (_, _, v) = app.call("GET", &format!("/v1/subjects/{id}"), None).await;
    v["consents"].as_array().cloned().unwrap_or_default()
}

// covers: N9a, N9c, N9d, N9e, N9g, N17
#[tokio::test]
async fn a_person_exercises_their_rights_in_the_privacy_center() {
    let sink = SmtpSink::start().await;
    let app = TestApp::sqlite_with_mailer(sink.mailer()).await;
    customer(&app, "P-1", "anna@example.org").await;
    let (s, _, b) = app
        .call(
            "POST",
            "/v1/subjects/P-1/consents",
            Some(json!({"purpose": "email_marketing", "channel": "email", "granted": true, "source": "shop", "notice_version": "2026-01"})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert!(may_email(&app, "P-1").await);

    let mut anna = Browser::new(&app);
    anna.sign_in(&sink, "anna@example.org").await;
    let home = anna.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("<html lang=\"de\""));
    // Each right's button says what it asks for, not five times "Anfrage stellen".
    for ask in [
        "Auskunft anfordern",
        "Export anfordern",
        "Berichtigung beantragen",
        "Löschung beantragen",
        "Einschränkung beantragen",
    ] {
        assert!(home.body.contains(ask), "{ask}");
    }
    assert!(!home.body.contains("Anfrage stellen"));
    // Two supervisory authorities, each named with what it is competent for.
    assert!(
        home.body
            .contains("Aufsichtsbehörde für Telekommunikationsdienste")
            && home
                .body
                .contains("Aufsichtsbehörde für alle anderen Verarbeitungen")
            && !home.body.contains("Zuständige Aufsichtsbehörde"),
        "{}",
        home.body
    );
    assert!(
        home.headers["content-security-policy"]
            .to_str()
            .expect("ascii")
            .contains("default-src 'none'")
    );
    assert!(
        home.body.contains("E-Mail-Werbung") || home.body.contains("email_marketing"),
        "{}",
        home.body
    );
    let csrf = home.hidden("csrf");

    // Withdraw the e-mail consent: a ledger event with the page as its source.
    let p = anna
        .post(
            "/consents",
            &[
                ("csrf", &csrf),
                ("purpose", "email_marketing"),
                ("channel", "email"),
                ("granted", "false"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/?done=saved"));
    assert!(consents(&app, "P-1").await.is_empty());
    let (_, _, history) = app.call("GET", "/v1/subjects/P-1/consents", None).await;
    assert!(history.to_string().contains("privacy_center"), "{history}");

    // Object to all direct marketing, one click.
    let p = anna
        .post("/objections/direct-marketing", &[("csrf", &csrf)])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let (_, _, v) = app.call("GET", "/v1/subjects/P-1", None).await;
    assert_eq!(v["objections"]["direct_marketing"], true);
    assert!(
        !may_email(&app, "P-1").await,
        "no e-mail marketing after the objection"
    );
    // An objection on grounds of the particular situation needs its reason.
    let p = anna
        .post(
            "/objections",
            &[
                ("csrf", &csrf),
                ("purpose", "product_analytics"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    let p = anna
        .post(
            "/objections",
            &[
                ("csrf", &csrf),
                ("purpose", "product_analytics"),
                ("reason", "I am a journalist"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);

    // Erasure and access requests: filed verified, listed with their due date.
    for t in ["erasure", "access"] {
        let p = anna
            .post("/requests", &[("csrf", &csrf), ("type", t)])
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    }
    let mine = app
        .engine
        .store
        .requests_of("P-1", 10)
        .await
        .expect("requests");
    assert_eq!(mine.len(), 2);
    assert!(
        mine.iter()
            .all(|r| r.status == Status::Verified && r.channel == "privacy_center")
    );
    let home = anna.get("/?done=filed").await;
    let due = tutela_server::web::format_date(mine[0].due_at, tutela_core::render::Lang::De);
    assert!(home.body.contains(&due), "due date {due} listed");
    assert!(home.body.contains("Löschung"));
    // Intake is rate-limited: ten requests in the window, the eleventh waits.
    let mut statuses = vec![];
    for _ in 0..9 {
        statuses.push(
            anna.post("/requests", &[("csrf", &csrf), ("type", "access")])
                .await
                .status,
        );
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        1,
        "{statuses:?}"
    );

    // English one click away, remembered.
    let en = anna.get("/?lang=en").await;
    assert!(en.body.contains("<html lang=\"en\"") && en.body.contains("Your consents"));
    assert!(anna.get("/").await.body.contains("Your consents"));

    // Sign out with a wrong form token (issue 30: it cleared the cookie and kept the session):
    // refused, nothing ended, the person is still signed in.
    let csrf = anna.get("/").await.hidden("csrf");
    let stolen = anna.cookies.clone();
    let p = anna.post("/signout", &[("csrf", "wrong")]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert_eq!(anna.cookies, stolen, "the cookie is kept");
    assert!(anna.get("/").await.body.contains("action=\"/signout\""));
    // Sign out: the cookie no longer opens anything.
    anna.post("/signout", &[("csrf", &csrf)]).await;
    anna.cookies = stolen;
    assert!(anna.get("/").await.body.contains("action=\"/signin\""));
    app.finish().await;
}

// covers: N9a
#[tokio::test]
async fn a_person_reaches_nothing_of_another_person() {
    let sink = SmtpSink::start().await;
    let app = TestApp::sqlite_with_mailer(sink.mailer()).await;
    customer(&app, "A-1", "a@example.org").await;
    customer(&app, "B-1", "b@example.org").await;
    let mut b = Browser::new(&app);
    b.sign_in(&sink, "b@example.org").await;
    let csrf = b.get("/").await.hidden("csrf");
    b.post("/requests", &[("csrf", &csrf), ("type", "access")])
        .await;
    let theirs = app.engine.store.requests_of("B-1", 1).await.expect("list")[0]
        .id
        .clone();

    let mut a = Browser::new(&app);
    a.sign_in(&sink, "a@example.org").await;
    for path in [
        format!("/requests/{theirs}"),
        format!("/requests/{theirs}/download/json"),
        format!("/requests/{theirs}/download/html"),
        format!("/requests/{theirs}/download/zip"),
    ] {
        let p = a.get(&path).await;
        assert_eq!(p.status, 404, "{path}");
        assert!(!p.body.contains("B-1"));
    }
    // No form names a person: a forged field is ignored, the session decides whose data it is.
    let csrf = a.get("/").await.hidden("csrf");
    let p = a
        .post(
            "/consents",
            &[
                ("csrf", &csrf),
                ("purpose", "email_marketing"),
                ("channel", "email"),
                ("granted", "true"),
                ("subject", "B-1"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(consents(&app, "A-1").await.len(), 1);
    assert!(consents(&app, "B-1").await.is_empty());
    // A's page shows none of B's data.
    let home = a.get("/").await;
    assert!(!home.body.contains(&theirs) && !home.body.contains("b@example.org"));
    app.finish().await;
}

#[tokio::test]
async fn forms_need_their_token_and_codes_are_limited() {
    let sink = SmtpSink::start().await;
    let app = TestApp::sqlite_with_mailer(sink.mailer()).await;
    customer(&app, "C-1", "c@example.org").await;
    let mut c = Browser::new(&app);
    c.sign_in(&sink, "c@example.org").await;
    // A wrong token, or a form from another site, changes nothing.
    let p = c
        .post("/objections/direct-marketing", &[("csrf", "forged")])
        .await;
    assert_eq!(p.status, 403, "{:?}", p.location);
    let csrf = c.get("/").await.hidden("csrf");
    c.headers.push(("origin", "https://evil.example".into()));
    let p = c
        .post("/objections/direct-marketing", &[("csrf", &csrf)])
        .await;
    assert_eq!(p.status, 403);
    c.headers.clear();
    let (_, _, v) = app.call("GET", "/v1/subjects/C-1", None).await;
    assert_eq!(v["objections"]["direct_marketing"], false);
    // Malformed input gets a page, not a panic.
    let p = c
        .post(
            "/consents",
            &[("csrf", &csrf), ("purpose", "x"), ("granted", "maybe")],
        )
        .await;
    assert_eq!(p.status, 400);

    // An unknown address gets the same page as a known one, and no mail.
    let mut x = Browser::new(&app);
    let token = x.get("/").await.hidden("csrf");
    let before = sink.mails().len();
    let p = x
        .post(
            "/signin",
            &[("csrf", &token), ("email", "nobody@example.org")],
        )
        .await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("action=\"/signin/code\""));
    assert_eq!(sink.mails().len(), before);
    // Wrong codes do not sign in.
    let token = p.hidden("csrf");
    let p = x
        .post("/signin/code", &[("csrf", &token), ("code", "00000000")])
        .await;
    assert_eq!(p.status, 200);
    assert!(!x.cookies.contains_key("tutela_session"));

    // At most five codes per address in a window.
    let mut statuses = vec![];
    for _ in 0..6 {
        let mut y = Browser::new(&app);
        let token = y.get("/").await.hidden("csrf");
        statuses.push(
            y.post("/signin", &[("csrf", &token), ("email", "c@example.org")])
                .await
                .status,
        );
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        2,
        "{statuses:?}"
    );
    app.finish().await;
}

// covers: N9d, N17
#[tokio::test]
async fn the_gpc_signal_is_an_objection_to_marketing_and_is_shown() {
    let sink = SmtpSink::start().await;
    let app = TestApp::sqlite_with_mailer(sink.mailer()).await;
    customer(&app, "G-1", "g@example.org").await;
    let mut g = Browser::new(&app);
    g.sign_in(&sink, "g@example.org").await;
    g.headers.push(("sec-gpc", "1".into()));
    let home = g.get("/").await;
    assert!(home.body.contains("Global Privacy Control"));
    let (_, _, v) = app.call("GET", "/v1/subjects/G-1", None).await;
    assert_eq!(v["objections"]["direct_marketing"], true);
    app.finish().await;
}

async fn add(app: &TestApp, name: &str, role: Role) -> String {
    operators::create(
        &app.engine.store,
        name,
        role,
        "correct horse battery",
        jiff::Timestamp::now(),
    )
    .await
    .expect("operator")
    .totp_secret
}

/// An overdue request that came in by letter six weeks ago, waiting for an agent.
async fn overdue_letter(app: &TestApp) -> String {
    let received = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 42);
    let (s, _, r) = app
        .call(
            "POST",
            "/v1/requests",
            Some(json!({"type": "access", "subject": "L-1", "channel": "letter", "received_at": received.to_string()})),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    r["id"].as_str().expect("id").to_owned()
}

// covers: N9a, N10
#[tokio::test]
async fn an_agent_verifies_an_overdue_request_first_in_the_queue() {
    let app = TestApp::sqlite().await;
    let secret = add(&app, "erika", Role::Agent).await;
    let (s, _, _) = app
        .call(
            "POST",
            "/v1/requests",
            Some(json!({"type": "erasure", "subject": "L-2"})),
        )
        .await;
    assert_eq!(s, 201);
    let id = overdue_letter(&app).await;
    let mut erika = Browser::new(&app);
    let p = erika
        .operator("erika", "correct horse battery", &secret)
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let queue = erika.get("/console").await;
    let first = queue.body.find("/console/requests/").expect("a request");
    assert_eq!(
        &queue.body[first + 18..first + 18 + id.len()],
        id,
        "the overdue one first"
    );
    assert!(queue.body.contains("überfällig"));
    let page = erika.get(&format!("/console/requests/{id}")).await;
    let csrf = page.hidden("csrf");
    let p = erika
        .post(
            &format!("/console/requests/{id}/verify"),
            &[
                ("csrf", &csrf),
                ("note", "signature compared with the contract"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let r = app
        .engine
        .store
        .request(&id)
        .await
        .expect("read")
        .expect("request");
    assert_eq!(r.status, Status::Verified);
    let events = app.engine.store.request_events(&id).await.expect("events");
    let op = tutela_store::WebStore::operator_by_name(&app.engine.store, "erika")
        .await
        .expect("read")
        .expect("op");
    assert!(
        events
            .iter()
            .any(|e| e.kind == "verified" && e.actor == format!("operator:{}", op.id))
    );
    app.finish().await;
}

#[tokio::test]
async fn operators_need_password_and_a_fresh_code() {
    let app = TestApp::sqlite().await;
    let secret = add(&app, "olga", Role::Dpo).await;
    let mut b = Browser::new(&app);
    let p = b.operator("olga", "wrong password!!", &secret).await;
    assert_eq!(p.status, 401);
    let p = b.operator("nobody", "correct horse battery", &secret).await;
    assert_eq!(p.status, 401);
    let key = totp::base32_decode(&secret).expect("base32");
    let code = totp::code_at(&key, jiff::Timestamp::now().as_second());
    let p = b
        .operator_with("olga", "correct horse battery", &code)
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    // The same code a second time is a replay.
    let mut c = Browser::new(&app);
    let p = c
        .operator_with("olga", "correct horse battery", &code)
        .await;
    assert_eq!(p.status, 401);
    // A person's session opens nothing in the console.
    let mut anon = Browser::new(&app);
    assert_eq!(
        anon.get("/console/policy").await.status,
        StatusCode::SEE_OTHER
    );
    app.finish().await;
}

#[tokio::test]
async fn every_console_route_allows_exactly_what_the_role_may() {
    use tutela_runtime::operators::Permission;
    let app = TestApp::sqlite().await;
    let id = overdue_letter(&app).await;
    let mut sessions = vec![];
    for (name, role) in [
        ("dora", Role::Dpo),
        ("anton", Role::Agent),
        ("udo", Role::Auditor),
    ] {
        let secret = add(&app, name, role).await;
        let mut b = Browser::new(&app);
        let p = b.operator(name, "correct horse battery", &secret).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
        let csrf = b.get("/console").await.hidden("csrf");
        sessions.push((role, b, csrf));
    }
    for (role, b, csrf) in &mut sessions {
        for (method, route, need) in tutela_server::web::console_routes() {
            let path = route.replace("{id}", &id);
            let form: Vec<(&str, &str)> = vec![
                ("csrf", csrf.as_str()),
                ("note", "checked"),
                ("subject", "L-1"),
                ("months", "1"),
                ("reason", "many systems"),
                ("type", "access"),
                ("policy", "[policy]\nid = 1\n"),
            ];
            let p = if *method == "GET" {
                b.get(&path).await
            } else {
                b.post(&path, &form).await
            };
            let allowed = role.may(*need);
            if allowed {
                assert_ne!(p.status, 403, "{role:?} {method} {route}: {}", p.body);
                // Allowed: the handler ran (a conflict or bad input is its own answer).
                assert!(
                    p.status != 401 && !p.status.is_server_error(),
                    "{role:?} {method} {route}: {}",
                    p.status
                );
            } else {
                assert_eq!(p.status, 403, "{role:?} {method} {route}");
            }
        }
        let _ = Permission::Read;
    }
    // The auditor changed nothing: only the dpo's and agent's actions are in the request's events.
    let events = app.engine.store.request_events(&id).await.expect("events");
    let udo = tutela_store::WebStore::operator_by_name(&app.engine.store, "udo")
        .await
        .expect("read")
        .expect("op");
    assert!(
        events
            .iter()
            .all(|e| e.actor != format!("operator:{}", udo.id))
    );
    app.finish().await;
}

// covers: N33
#[tokio::test]
async fn a_dpo_activates_a_policy_version_in_the_console() {
    let app = TestApp::sqlite().await;
    let secret = add(&app, "dora", Role::Dpo).await;
    let mut dora = Browser::new(&app);
    dora.operator("dora", "correct horse battery", &secret)
        .await;
    let page = dora.get("/console/versions").await;
    assert_eq!(page.status, 200);
    let csrf = page.hidden("csrf");
    // A broken file: its errors with line and column, nothing scheduled.
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
    assert_eq!(p.status, 422);
    assert!(p.body.contains("Zeile 2, Spalte"), "{}", p.body);
    // A valid version for tomorrow: scheduled, listed, and cancelled again.
    let at = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24)).to_string();
    let text = crate::versions::widened();
    let p = dora
        .post(
            "/console/versions",
            &[("csrf", &csrf), ("policy", &text), ("effective_at", &at)],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let list = tutela_store::ActivationStore::activations(&app.engine.store)
        .await
        .expect("list");
    assert_eq!(list.len(), 1);
    let op = tutela_store::WebStore::operator_by_name(&app.engine.store, "dora")
        .await
        .expect("read")
        .expect("op");
    assert_eq!(list[0].requested_by, format!("operator:{}", op.id));
    let page = dora.get("/console/versions").await;
    assert!(page.body.contains("geplant") && page.body.contains("2026-07"));
    // The page says in words what the scheduled version changes: the purpose and the
    // category by their labels in the policy, not by their ids.
    assert!(
        page.body.contains("„Werbung per Telefon“") && page.body.contains("„Vertragsdaten"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("phone_marketing"), "{}", page.body);
    let en = dora.get("/console/versions?lang=en").await;
    assert!(en.body.contains("“Marketing by phone”"), "{}", en.body);
    // So does the API, between any two versions whose files are kept; unknown ones are named.
    let (s, _, d) = app
        .call("GET", "/v1/policy/diff?from=2026-01&to=2026-07", None)
        .await;
    assert_eq!(s, 200, "{d}");
    assert!(
        d["changes"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["widens_consent"] == true)),
        "{d}"
    );
    assert_eq!(
        d["renewal_gaps"],
        json!([]),
        "the widened purpose declares its renewal"
    );
    let (s, _, d) = app
        .call("GET", "/v1/policy/diff?from=2026-01&to=1999-01", None)
        .await;
    assert_eq!((s.as_u16(), d["field"].as_str()), (404, Some("to")));
    let (s, _, d) = app.call("GET", "/v1/policy/diff?to=2026-07", None).await;
    assert_eq!((s.as_u16(), d["field"].as_str()), (422, Some("from")));
    let p = dora
        .post(
            &format!("/console/versions/{}/cancel", list[0].id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let list = tutela_store::ActivationStore::activations(&app.engine.store)
        .await
        .expect("list");
    assert_eq!(list[0].status, "cancelled");
    // Issue 30: the cancellation was audited as `system`; it names the operator who did it.
    let audit = tutela_store::LogStore::log_contents(
        &app.engine.store,
        tutela_store::LogSource::Audit,
        0,
        i64::MAX,
    )
    .await
    .expect("audit");
    let last = String::from_utf8_lossy(&audit.last().expect("a row").1).into_owned();
    assert!(
        last.contains("policy_activation_decided") && last.contains("operator:"),
        "{last}"
    );
    // The record of processing per version: the one in force, and an unknown one is a clear 404.
    let (s, _, _) = app
        .call("GET", "/v1/record?format=csv&version=2026-01", None)
        .await;
    assert_eq!(s, 200);
    let (s, _, b) = app.call("GET", "/v1/record?version=1999-01", None).await;
    assert_eq!(s, 404, "{b}");
    assert_eq!(b["field"], "version");
    let (s, _, b) = app
        .call("GET", "/v1/record?format=jsonld&version=2026-07", None)
        .await;
    assert_eq!(s, 200, "the cancelled version's files are kept: {b}");
    app.finish().await;
}
