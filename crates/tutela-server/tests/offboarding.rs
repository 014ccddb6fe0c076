//! Offboarding a leaver in the console (issue 32): a DPO disables, enables, resets the second
//! factor of and removes operators; sessions end at once; the last active DPO stays; nobody
//! else may; every step is in the audit trail; a removed operator's past actions still name
//! them. And a policy version uploaded as a file, its errors with line and column in words.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;
use tutela_runtime::operators::totp;
use tutela_runtime::operators::{self, Role};
use tutela_store::{LogSource, LogStore, WebStore};

use crate::pages::{Browser, Page};
use crate::support::TestApp;

const PASSWORD: &str = "correct horse battery";

async fn add(app: &TestApp, name: &str, role: Role) -> (String, String) {
    let c = operators::create(
        &app.engine.store,
        name,
        role,
        PASSWORD,
        jiff::Timestamp::now(),
    )
    .await
    .expect("operator");
    (c.operator.id, c.totp_secret)
}

/// The code of `secret` `steps` time steps from now: each sign-in needs a later step than the
/// last one (replay guard), and one step either side is accepted.
fn code(secret: &str, steps: i64) -> String {
    let key = totp::base32_decode(secret).expect("base32");
    totp::code_at(
        &key,
        jiff::Timestamp::now().as_second() + steps * totp::STEP_SECONDS,
    )
}

async fn sign_in(b: &mut Browser<'_>, name: &str, code: &str) -> Page {
    let token = b.get("/console").await.hidden("csrf");
    b.post(
        "/console/login",
        &[
            ("csrf", &token),
            ("name", name),
            ("password", PASSWORD),
            ("totp", code),
        ],
    )
    .await
}

/// Signs in and returns the session's form token.
async fn signed_in(b: &mut Browser<'_>, name: &str, code: &str) -> String {
    let p = sign_in(b, name, code).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{name}: {}", p.body);
    b.get("/console").await.hidden("csrf")
}

async fn act(b: &mut Browser<'_>, csrf: &str, id: &str, action: &str) -> Page {
    b.post(
        &format!("/console/operators/{id}/{action}"),
        &[("csrf", csrf), ("confirm", "yes")],
    )
    .await
}

fn audit_kinds(rows: &[(i64, Vec<u8>)]) -> String {
    rows.iter()
        .map(|(_, r)| String::from_utf8_lossy(r).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn a_leaver_is_offboarded(app: TestApp) {
    let (dora_id, dora_key) = add(&app, "dora", Role::Dpo).await;
    let (dieter_id, dieter_key) = add(&app, "dieter", Role::Dpo).await;
    let (erika_id, erika_key) = add(&app, "erika", Role::Agent).await;
    let mut dora = Browser::new(&app);
    let csrf = signed_in(&mut dora, "dora", &code(&dora_key, 0)).await;
    let mut erika = Browser::new(&app);
    let erika_csrf = signed_in(&mut erika, "erika", &code(&erika_key, 0)).await;

    // The list names every account with its role and creation date in words.
    let list = dora.get("/console/operators").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("Angelegt am"), "{}", list.body);
    assert!(list.body.contains("Sachbearbeitung") && list.body.contains("erika"));
    assert!(!list.body.contains("Eingegangen"));

    // An agent may do none of it.
    assert_eq!(erika.get("/console/operators").await.status, 403);
    for action in ["disable", "enable", "reset-totp", "remove"] {
        let p = act(&mut erika, &erika_csrf, &dora_id, action).await;
        assert_eq!(p.status, 403, "{action}");
    }
    assert!(
        app.engine
            .store
            .operator(&dora_id)
            .await
            .expect("read")
            .is_some_and(|o| o.disabled_at.is_none() && !o.totp_secret.is_empty())
    );

    // Disabled: erika's open session ends at once, and she cannot sign in.
    let p = act(&mut dora, &csrf, &erika_id, "disable").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("erika ist gesperrt"), "{}", p.body);
    assert_eq!(
        erika.get("/console/policy").await.status,
        StatusCode::SEE_OTHER
    );
    let p = sign_in(&mut erika, "erika", &code(&erika_key, 1)).await;
    assert_eq!(p.status, 401);

    // Enabled again: she signs in.
    let p = act(&mut dora, &csrf, &erika_id, "enable").await;
    assert_eq!(p.status, 200, "{}", p.body);
    signed_in(&mut erika, "erika", &code(&erika_key, 1)).await;

    // Second factor reset: her session ends, the old code opens nothing, and with her password
    // she sets up a new one and signs in with it.
    let p = act(&mut dora, &csrf, &erika_id, "reset-totp").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(
        erika.get("/console/policy").await.status,
        StatusCode::SEE_OTHER
    );
    let p = sign_in(&mut erika, "erika", "").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("Zweiten Faktor einrichten"), "{}", p.body);
    let start = p.body.find("id=\"totp-secret\">").expect("secret shown") + 17;
    let end = p.body[start..].find('<').expect("end") + start;
    let fresh = p.body[start..end].to_owned();
    assert_ne!(fresh, erika_key);
    // Shown once: a second try is an ordinary sign-in that wants the code.
    assert_eq!(sign_in(&mut erika, "erika", "").await.status, 401);
    assert_eq!(
        sign_in(&mut erika, "erika", &code(&erika_key, 0))
            .await
            .status,
        401,
        "the old app entry is void"
    );
    signed_in(&mut erika, "erika", &code(&fresh, 0)).await;

    // dieter schedules a version, then leaves: removed, his action still names him.
    let mut dieter = Browser::new(&app);
    signed_in(&mut dieter, "dieter", &code(&dieter_key, 0)).await;
    let at = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48)).to_string();
    let text = crate::versions::widened();
    let dieter_csrf = dieter.get("/console/versions").await.hidden("csrf");
    let p = dieter
        .post(
            "/console/versions",
            &[
                ("csrf", &dieter_csrf),
                ("policy", &text),
                ("effective_at", &at),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    // Removing wants its box ticked.
    let p = dora
        .post(
            &format!("/console/operators/{dieter_id}/remove"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(p.status, 422, "{}", p.body);
    let p = act(&mut dora, &csrf, &dieter_id, "remove").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("entfernt am"), "{}", p.body);
    assert_eq!(
        dieter.get("/console/policy").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        sign_in(&mut dieter, "dieter", &code(&dieter_key, 1))
            .await
            .status,
        401
    );
    let versions = dora.get("/console/versions").await;
    assert!(
        versions.body.contains("<td>dieter</td>"),
        "{}",
        versions.body
    );
    assert!(!versions.body.contains("operator:op_"), "{}", versions.body);
    let p = act(&mut dora, &csrf, &dieter_id, "enable").await;
    assert_eq!(p.status, 409, "a removed account stays removed");

    // dora is the last active DPO: she can neither be disabled nor removed.
    for action in ["disable", "remove"] {
        let p = act(&mut dora, &csrf, &dora_id, action).await;
        assert_eq!(p.status, 409, "{action}: {}", p.body);
        assert!(p.body.contains("letzte aktive"), "{}", p.body);
    }
    let p = dora
        .post(
            &format!("/console/operators/{dora_id}/disable?lang=en"),
            &[("csrf", &csrf)],
        )
        .await;
    assert!(
        p.body.contains("last active data protection officer"),
        "{}",
        p.body
    );
    assert_eq!(dora.get("/console/operators").await.status, 200, "still in");

    // Every step in the audit trail, by dora.
    let rows = app
        .engine
        .store
        .log_contents(LogSource::Audit, 0, i64::MAX)
        .await
        .expect("audit");
    let audit = audit_kinds(&rows);
    for kind in [
        "operator_disabled",
        "operator_enabled",
        "operator_totp_reset",
        "operator_totp_enrolled",
        "operator_removed",
    ] {
        assert!(audit.contains(kind), "{kind} missing: {audit}");
    }
    assert!(audit.contains(&format!("operator:{dora_id}")), "{audit}");
    app.finish().await;
}

#[tokio::test]
async fn a_leaver_is_offboarded_in_the_console_on_sqlite() {
    a_leaver_is_offboarded(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn a_leaver_is_offboarded_in_the_console_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    a_leaver_is_offboarded(app).await;
}

/// Posts the activation form as a browser does with a file chosen.
async fn upload(
    app: &TestApp,
    b: &Browser<'_>,
    csrf: &str,
    file: &str,
    text: &str,
    query: &str,
) -> (StatusCode, String) {
    let boundary = "----tutela-test-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"policy_file\"; filename=\"{file}\"\r\n\
         Content-Type: application/toml\r\n\r\n{text}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"policy\"\r\n\r\n\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"effective_at\"\r\n\r\n\r\n\
         --{boundary}--\r\n"
    );
    let req = Request::builder()
        .method("POST")
        .uri(format!("/console/versions{query}"))
        .header("cookie", b.cookie_header())
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .expect("request");
    let res = app.router.clone().oneshot(req).await.expect("response");
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 16 << 20)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn a_policy_version_is_uploaded_as_a_file_and_its_errors_are_placed_in_words() {
    let app = TestApp::sqlite().await;
    let (_, key) = add(&app, "dora", Role::Dpo).await;
    let mut dora = Browser::new(&app);
    let csrf = signed_in(&mut dora, "dora", &code(&key, 0)).await;
    let page = dora.get("/console/versions").await;
    assert!(page.body.contains("enctype=\"multipart/form-data\""));
    assert!(page.body.contains("type=\"file\""));

    let broken = "[policy]\nid = \"x\nversion = 1\n";
    let (s, body) = upload(&app, &dora, &csrf, "tarif-2027.toml", broken, "").await;
    assert_eq!(s, 422, "{body}");
    assert!(body.contains("tarif-2027.toml enthält 1 Fehler"), "{body}");
    assert!(body.contains("Zeile 2, Spalte"), "{body}");
    assert!(
        body.contains("Die Fehlermeldungen selbst sind englisch"),
        "{body}"
    );
    let (s, body) = upload(&app, &dora, &csrf, "tarif-2027.toml", broken, "?lang=en").await;
    assert_eq!(s, 422, "{body}");
    assert!(body.contains("Line 2, column"), "{body}");

    // A form without its token is refused before anything is read.
    let (s, _) = upload(&app, &dora, "wrong", "t.toml", broken, "").await;
    assert_eq!(s, 403);

    // A valid file is scheduled under its own name.
    let (s, body) = upload(
        &app,
        &dora,
        &csrf,
        "../../tarif 2027.toml",
        &crate::versions::widened(),
        "",
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    let list = tutela_store::ActivationStore::activations(&app.engine.store)
        .await
        .expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].root, "tarif2027.toml");
    app.finish().await;
}
