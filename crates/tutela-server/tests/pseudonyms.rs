//! Pseudonyms over the API (N7b, N7c, N16): small batches, reversals recorded before they are
//! answered, and pseudonymised datasets deleted when their purpose's retention ends, proven
//! with an injected clock.

use axum::http::StatusCode;
use serde_json::json;
use tutela_core::pseudonym::{Identifier, Method, PseudonymKeys};
use tutela_store::{LogSource, LogStore};

use crate::support::TestApp;

fn keys() -> PseudonymKeys {
    PseudonymKeys::new("pk-test", [5; 32])
}

async fn app() -> TestApp {
    TestApp::sqlite().await.with_pseudonyms(keys())
}

// covers: N7b, N7c
#[tokio::test]
async fn pseudonyms_are_made_per_domain_and_reversed_only_with_a_recorded_reference() {
    let plain = TestApp::sqlite().await;
    let (s, _, b) = plain
        .call(
            "POST",
            "/v1/pseudonyms",
            Some(json!({"domain": "statistics", "method": "hmac", "values": ["x"]})),
        )
        .await;
    assert_eq!(
        (s, b["code"].clone()),
        (StatusCode::NOT_IMPLEMENTED, json!("not_configured"))
    );
    plain.finish().await;

    let app = app().await;
    let imsis = ["262011234567890", "262017654321098"];
    let (s, _, b) = app
        .call("POST", "/v1/pseudonyms", Some(json!({"domain": "service_quality_analysis", "method": "ff1:imsi", "values": imsis})))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let d = keys()
        .domain("service_quality_analysis", None)
        .expect("domain");
    let expected: Vec<String> = imsis
        .iter()
        .map(|v| d.pseudonym(Method::Ff1(Identifier::Imsi), v).expect("p"))
        .collect();
    assert_eq!(b["pseudonyms"], json!(expected));
    assert_eq!(b["key_id"], "pk-test");
    let (_, _, other) = app
        .call(
            "POST",
            "/v1/pseudonyms",
            Some(json!({"domain": "statistics", "method": "ff1:imsi", "values": imsis})),
        )
        .await;
    assert_ne!(
        other["pseudonyms"], b["pseudonyms"],
        "domains cannot be joined"
    );

    // Bad input names the field and never echoes the value.
    for (body, field) in [
        (
            json!({"domain": "nowhere", "method": "hmac", "values": ["a"]}),
            "domain",
        ),
        (
            json!({"domain": "statistics", "method": "md5", "values": ["a"]}),
            "method",
        ),
        (
            json!({"domain": "statistics", "method": "hmac", "values": []}),
            "values",
        ),
        (
            json!({"domain": "statistics", "method": "ff1:imei", "values": ["490154203237518", "490154203237519"]}),
            "values[1]",
        ),
    ] {
        let (s, _, p) = app.call("POST", "/v1/pseudonyms", Some(body)).await;
        assert_eq!(
            (s.as_u16() / 100, p["field"].clone()),
            (4, json!(field)),
            "{p}"
        );
        assert!(!p.to_string().contains("490154203237519"), "{p}");
    }
    let many: Vec<String> = (0..10_001).map(|i| i.to_string()).collect();
    let (s, _, _) = app
        .call(
            "POST",
            "/v1/pseudonyms",
            Some(json!({"domain": "statistics", "method": "hmac", "values": many})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // A reversal needs a reference, and is an audit row before the values come back.
    let reverse = |reference: &str| {
        json!({"domain": "service_quality_analysis", "identifier": "imsi", "key_id": "pk-test",
               "pseudonyms": expected, "reference": reference})
    };
    let (s, _, p) = app
        .call("POST", "/v1/pseudonyms/reverse", Some(reverse(" ")))
        .await;
    assert_eq!(
        (s, p["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("reference"))
    );
    let audit_before = app
        .engine
        .store
        .log_contents(LogSource::Audit, 0, 1000)
        .await
        .expect("audit")
        .len();
    let (s, _, r) = app
        .call(
            "POST",
            "/v1/pseudonyms/reverse",
            Some(reverse("ticket 4711")),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["values"], json!(imsis));
    let audit = app
        .engine
        .store
        .log_contents(LogSource::Audit, 0, 1000)
        .await
        .expect("audit");
    assert_eq!(audit.len(), audit_before + 1);
    let row = String::from_utf8_lossy(&audit[audit_before].1).into_owned();
    assert!(
        row.contains("pseudonym_reversal")
            && row.contains("ticket 4711")
            && row.contains("\"count\":2"),
        "{row}"
    );
    assert!(
        !row.contains("262011234567890"),
        "the values are never recorded: {row}"
    );
    let (s, _, p) = app
        .call("POST", "/v1/pseudonyms/reverse", Some(json!({"domain": "statistics", "identifier": "imsi", "key_id": "pk-gone", "pseudonyms": ["262011234567890"], "reference": "x"})))
        .await;
    assert_eq!(
        (s, p["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("key_id"))
    );
    app.finish().await;
}

// covers: N7b
#[tokio::test]
async fn a_pseudonymised_dataset_is_deleted_when_three_months_have_passed() {
    let app = app().await;
    let file = crate::support::dataset_path("usage.csv");
    std::fs::write(&file, "start,imsi\n2026-01-05T10:00:00Z,262015555555555\n").expect("write");
    let register = |purpose: &str, location: &str| json!({"purpose": purpose, "location": location, "columns": ["imsi=ff1:imsi"], "key_id": "pk-test", "rows": 1});
    let (s, _, d) = app
        .call(
            "POST",
            "/v1/pseudonymised-datasets",
            Some(register(
                "service_quality_analysis",
                &file.to_string_lossy(),
            )),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let created: jiff::Timestamp = d["created_at"]
        .as_str()
        .expect("created")
        .parse()
        .expect("time");
    let expires: jiff::Timestamp = d["expires_at"]
        .as_str()
        .expect("expires")
        .parse()
        .expect("time");
    // The purpose's retention rule (service_quality_data, P3M from collection) sets the date.
    let three_months = created
        .to_zoned(jiff::tz::TimeZone::UTC)
        .checked_add(jiff::Span::new().months(3))
        .expect("date");
    assert_eq!(expires, three_months.timestamp());

    // A purpose without a retention rule, a relative path, a bad column: refused, nothing kept.
    for (body, field) in [
        (register("statistics", &file.to_string_lossy()), "purpose"),
        (
            register("service_quality_analysis", "usage.csv"),
            "location",
        ),
        (
            register("service_quality_analysis", "/etc/passwd"),
            "location",
        ),
        (
            register(
                "service_quality_analysis",
                &format!("{}/../../etc/passwd", std::env::temp_dir().display()),
            ),
            "location",
        ),
        (
            json!({"purpose": "service_quality_analysis", "location": file.to_string_lossy(), "columns": ["imsi"], "key_id": "pk-test", "rows": 1}),
            "columns[0]",
        ),
    ] {
        let (s, _, p) = app
            .call("POST", "/v1/pseudonymised-datasets", Some(body))
            .await;
        assert_eq!(
            (s, p["field"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!(field)),
            "{p}"
        );
    }
    // A dataset that cannot be deleted: a file registered, then swapped for a directory.
    let stuck = crate::support::dataset_path("stuck");
    std::fs::write(&stuck, "imsi\n").expect("write");
    let (s, _, _) = app
        .call(
            "POST",
            "/v1/pseudonymised-datasets",
            Some(register(
                "service_quality_analysis",
                &stuck.to_string_lossy(),
            )),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    std::fs::remove_file(&stuck).expect("rm");
    std::fs::create_dir_all(&stuck).expect("dir");

    let t = tutela_runtime::jobs::datasets::step(
        &app.requests,
        expires - jiff::SignedDuration::from_hours(24),
    )
    .await
    .expect("step");
    assert_eq!((t.deleted, t.failed), (0, 0));
    assert!(file.exists(), "kept until its three months are over");
    let t = tutela_runtime::jobs::datasets::step(
        &app.requests,
        expires + jiff::SignedDuration::from_hours(2),
    )
    .await
    .expect("step");
    assert_eq!((t.deleted, t.failed), (1, 1), "{t:?}");
    assert!(!file.exists(), "deleted after three months");
    let (_, _, list) = app.call("GET", "/v1/pseudonymised-datasets", None).await;
    let list = list.as_array().expect("list");
    let gone = list
        .iter()
        .find(|d| d["location"] == json!(file.to_string_lossy()))
        .expect("gone");
    assert!(gone["deleted_at"].is_string(), "{gone}");
    let stuck_view = list
        .iter()
        .find(|d| d["location"] == json!(stuck.to_string_lossy()))
        .expect("stuck");
    assert!(
        stuck_view["deleted_at"].is_null() && stuck_view["error"].is_string(),
        "never reported deleted: {stuck_view}"
    );
    // The next sweep tries again.
    let t = tutela_runtime::jobs::datasets::step(
        &app.requests,
        expires + jiff::SignedDuration::from_hours(3),
    )
    .await
    .expect("step");
    assert_eq!(t.failed, 1);
    let _ = std::fs::remove_dir_all(stuck);
    app.finish().await;
}

/// Issue 30, defect 1: a token holder named the log key (or a link to /etc/passwd) as a
/// dataset, read its first line through a statistics error and had the sweep delete it.
#[tokio::test]
async fn the_register_never_reaches_a_key_file_a_link_or_a_swapped_file() {
    let app = app().await;
    let dir = tutela_store::testing::temp_dir("pseudonymised-secrets");
    let secret = dir.join("tutela-log.key");
    std::fs::write(&secret, "SECRET-SIGNING-KEY,x\n1,2\n").expect("write");
    let link = crate::support::dataset_path("x.csv");
    std::os::unix::fs::symlink(&secret, &link).expect("link");
    let hard = crate::support::dataset_path("h.csv");
    std::fs::hard_link(&secret, &hard).expect("hard link");
    let register = |location: &std::path::Path| json!({"purpose": "service_quality_analysis", "location": location.to_string_lossy(), "columns": ["imsi=ff1:imsi"], "key_id": "pk-test", "rows": 1});
    for location in [&link, &hard, &dir, &dir.join("tutela-log.key")] {
        let (s, _, p) = app
            .call(
                "POST",
                "/v1/pseudonymised-datasets",
                Some(register(location)),
            )
            .await;
        assert_eq!(
            (s, p["field"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!("location")),
            "{p}"
        );
        assert!(!p.to_string().contains("SECRET"), "{p}");
    }
    std::fs::remove_file(&hard).expect("rm");

    // A registered file swapped for a link afterwards: not read, not deleted through.
    let file = crate::support::dataset_path("usage.csv");
    std::fs::write(&file, "imsi,cell\n262015555555555,a\n").expect("write");
    let (s, _, d) = app
        .call("POST", "/v1/pseudonymised-datasets", Some(register(&file)))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let id = d["id"].as_str().expect("id").to_owned();
    let expires: jiff::Timestamp = d["expires_at"]
        .as_str()
        .expect("expires")
        .parse()
        .expect("time");
    std::fs::remove_file(&file).expect("rm");
    std::os::unix::fs::symlink(&secret, &file).expect("link");
    let (s, _, p) = app
        .call(
            "POST",
            "/v1/statistics",
            Some(json!({"dataset": id, "person": "SECRET-SIGNING-KEY", "aggregate": "count", "requested_by": "analyst-1"})),
        )
        .await;
    assert!(s.is_client_error(), "{s} {p}");
    assert!(!p.to_string().contains("SECRET"), "{p}");
    let t = tutela_runtime::jobs::datasets::step(
        &app.requests,
        expires + jiff::SignedDuration::from_hours(2),
    )
    .await
    .expect("step");
    assert_eq!(t.failed, 1, "{t:?}");
    assert!(secret.exists(), "the sweep never deletes through a link");
    let _ = std::fs::remove_file(&link);
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_dir_all(dir);
    app.finish().await;
}

/// The server's own default: no directory, so no location at all.
#[test]
fn without_pseudonymised_dirs_no_location_is_accepted() {
    let dirs = tutela_runtime::requests::RequestSettings::default().pseudonymised_dirs;
    assert!(dirs.is_empty());
    let file = std::env::temp_dir().join("tutela-no-dirs.csv");
    std::fs::write(&file, "imsi\n").expect("write");
    assert_eq!(
        dirs.file(&file),
        Err(tutela_runtime::dataset_files::LocationRefused::NotConfigured)
    );
    let _ = std::fs::remove_file(file);
}
