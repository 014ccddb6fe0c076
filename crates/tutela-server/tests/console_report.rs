//! An agent downloads a person's Art. 15 report from the console's person page: the same HTML
//! the person received, in plain words, as a file; an auditor may not.

use axum::http::StatusCode;
use serde_json::json;
use tutela_runtime::operators::{self, Role};
use tutela_store::{LogSource, LogStore, WebStore};

use crate::pages::Browser;
use crate::support::TestApp;

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

// covers: N9a
#[tokio::test]
async fn an_agent_downloads_the_persons_access_report() {
    let app = TestApp::sqlite().await;
    let (s, _, b) = app
        .call(
            "PUT",
            "/v1/subjects/R-1",
            Some(json!({"relationship": "customer", "contract_kind": "telecommunications", "email": "r1@example.org"})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let secret = add(&app, "erika", Role::Agent).await;
    let mut agent = Browser::new(&app);
    agent
        .operator("erika", "correct horse battery", &secret)
        .await;
    let csrf = agent.get("/console/subject").await.hidden("csrf");
    let form = [("csrf", csrf.as_str()), ("subject", "R-1")];
    // No finished access request yet: no button, and the route says what to do.
    let page = agent.post("/console/subject", &form).await;
    assert!(
        !page.body.contains("/console/subject/report"),
        "{}",
        page.body
    );
    let none = agent.post("/console/subject/report", &form).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    assert!(
        none.body.contains("keine abgeschlossene Auskunft"),
        "{}",
        none.body
    );

    let id = app
        .file_verified(json!({"type": "access", "subject": "R-1", "details": {"lang": "de"}}))
        .await;
    app.tick_at(jiff::Timestamp::now()).await;
    assert_eq!(app.request(&id).await["status"], "completed");
    let page = agent.post("/console/subject", &form).await;
    assert!(page.body.contains("Bericht herunterladen"), "{}", page.body);
    // The agent reads the console in English; the report is the German one the person received.
    let report = agent.post("/console/subject/report?lang=en", &form).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    let disposition = report
        .headers
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_eq!(disposition, format!("attachment; filename=\"{id}.html\""));
    assert!(report.body.contains("Kopie Ihrer Daten"));
    assert!(report.body.contains("Kunde/Kundin"));
    assert!(!report.body.contains("relationship_set"));

    // The download is a disclosure: in the audit trail, with erika, the request, the person
    // and the report's language.
    let rows = app
        .engine
        .store
        .log_contents(LogSource::Audit, 0, i64::MAX)
        .await
        .expect("audit");
    let downloads: Vec<String> = rows
        .iter()
        .map(|(_, r)| String::from_utf8_lossy(r).into_owned())
        .filter(|r| r.contains("access_report_downloaded"))
        .collect();
    assert_eq!(downloads.len(), 1, "{downloads:?}");
    let erika = app
        .engine
        .store
        .operator_by_name("erika")
        .await
        .expect("store")
        .expect("erika");
    for part in [
        format!("operator:{}", erika.id),
        id.clone(),
        "R-1".to_owned(),
        "\"lang\":\"de\"".to_owned(),
    ] {
        assert!(downloads[0].contains(&part), "{part}: {downloads:?}");
    }

    let secret = add(&app, "udo", Role::Auditor).await;
    let mut auditor = Browser::new(&app);
    auditor
        .operator("udo", "correct horse battery", &secret)
        .await;
    let csrf = auditor.get("/console/subject").await.hidden("csrf");
    let denied = auditor
        .post(
            "/console/subject/report",
            &[("csrf", &csrf), ("subject", "R-1")],
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    app.finish().await;
}
