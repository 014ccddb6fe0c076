//! The privacy center's and console's sign-in against an outsider (issue 30): the answer tells
//! no one whether an address is on file, with or without a mail server; without one the code
//! reaches the person through the outbox directory; a copy of the database gives neither the
//! pending sign-in's cookie nor its code; rate limits hold across restarts, believe
//! `X-Forwarded-For` only from a trusted proxy, and let no stranger lock anybody out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use tutela_runtime::Engine;
use tutela_runtime::hmac_key::HmacKey;
use tutela_runtime::requests::RequestSettings;
use tutela_runtime::requests::mailer::{DirMailer, MailFuture, Mailer, NoMailer};
use tutela_server::web::WebSettings;
use tutela_server::web::client::TrustedProxies;
use tutela_server::{AppState, app};
use tutela_store::testing::{PgSchema, temp_dir, vault};
use tutela_store::{AnyStore, PgStore, SqliteStore, WebStore};

use crate::smtp_sink::SmtpSink;
use crate::support::{Connectors, TOKEN, policy};

/// One server instance over `store`.
struct Instance {
    router: Router,
    state: AppState,
    _jobs: tutela_runtime::jobs::Running,
}

async fn instance(
    store: AnyStore,
    key: HmacKey,
    mailer: Arc<dyn Mailer>,
    web: WebSettings,
) -> Instance {
    let settings = RequestSettings {
        worker_interval: Duration::from_secs(3600),
        hmac_key: key,
        ..RequestSettings::default()
    };
    instance_with(store, settings, mailer, web).await
}

async fn instance_with(
    store: AnyStore,
    settings: RequestSettings,
    mailer: Arc<dyn Mailer>,
    web: WebSettings,
) -> Instance {
    let engine = Engine::start(store, policy()).await.expect("engine");
    let state = AppState::new(engine, settings, mailer, Connectors::default(), TOKEN).with_web(web);
    Instance {
        router: app(state.clone()),
        _jobs: state.jobs().start(),
        state,
    }
}

async fn sqlite_store(dir: &std::path::Path) -> AnyStore {
    AnyStore::Sqlite(
        SqliteStore::open(&dir.join("tutela.db").to_string_lossy())
            .await
            .expect("sqlite")
            .with_vault(vault(dir).await),
    )
}

async fn pg_store(pg: &PgSchema, keys: &std::path::Path) -> AnyStore {
    AnyStore::Postgres(
        PgStore::connect_in_schema(&pg.url, Some(&pg.schema))
            .await
            .expect("pg")
            .with_vault(vault(keys).await),
    )
}

async fn sqlite(mailer: Arc<dyn Mailer>) -> (Instance, std::path::PathBuf) {
    let dir = temp_dir("signin");
    let i = instance(
        sqlite_store(&dir).await,
        HmacKey::default(),
        mailer,
        WebSettings::default(),
    )
    .await;
    (i, dir)
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
    took: Duration,
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

/// Posts a form as a browser at `peer` (behind proxies that wrote `xff`) with `cookies`.
async fn post(
    router: &Router,
    path: &str,
    peer: Option<&str>,
    xff: Option<&str>,
    cookies: &str,
    form: &[(&str, &str)],
) -> Answer {
    let body = form
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut req = Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookies);
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    let mut req = req.body(Body::from(body)).expect("request");
    if let Some(p) = peer {
        let addr: SocketAddr = format!("{p}:40000").parse().expect("peer");
        req.extensions_mut().insert(ConnectInfo(addr));
    }
    let started = Instant::now();
    let res = router.clone().oneshot(req).await.expect("response");
    let took = started.elapsed();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .expect("body");
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        took,
    }
}

/// Asks for a sign-in code for `email`, with a fresh form token (double submit).
async fn ask_code(router: &Router, email: &str, peer: Option<&str>, xff: Option<&str>) -> Answer {
    post(
        router,
        "/signin",
        peer,
        xff,
        "tutela_form=form-token-1",
        &[("csrf", "form-token-1"), ("email", email)],
    )
    .await
}

/// Enters `code` for the pending sign-in `pending`.
async fn enter_code(router: &Router, pending: &str, code: &str, peer: Option<&str>) -> Answer {
    post(
        router,
        "/signin/code",
        peer,
        None,
        &format!("tutela_form=form-token-1; tutela_signin={pending}"),
        &[("csrf", "form-token-1"), ("code", code)],
    )
    .await
}

fn cookie(a: &Answer, name: &str) -> Option<String> {
    a.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next()?.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The answer with its random parts (form token, cookie values) blanked out, to compare.
fn shape(a: &Answer) -> (StatusCode, String, Vec<String>) {
    let mut body = a.body.clone();
    let needle = "name=\"csrf\" value=\"";
    if let Some(i) = body.find(needle) {
        let start = i + needle.len();
        if let Some(len) = body[start..].find('"') {
            let token = body[start..start + len].to_owned();
            body = body.replace(&token, "TOKEN");
        }
    }
    // The reference differs per pending sign-in, on file or not.
    let needle = "<strong class=\"reference\">";
    if let Some(i) = body.find(needle) {
        let start = i + needle.len();
        body.replace_range(start..start + 4, "REF.");
    }
    let cookies = a
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|c| {
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let name = pair.split('=').next().unwrap_or("");
            format!("{name}=…;{attrs}")
        })
        .collect();
    (a.status, body, cookies)
}

async fn customer(router: &Router, id: &str, email: &str) {
    let req = Request::builder()
        .method("PUT")
        .uri(format!("/v1/subjects/{id}"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"relationship": "customer", "contract_kind": "telecommunications", "email": email})
                .to_string(),
        ))
        .expect("request");
    let res = router.clone().oneshot(req).await.expect("response");
    assert_eq!(res.status(), StatusCode::CREATED);
}

async fn api(
    router: &Router,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    let res = router.clone().oneshot(req).await.expect("response");
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .expect("body");
    serde_json::from_slice(&bytes).expect("json")
}

/// A mail server that takes its time, as a remote one does.
struct SlowMailer;

impl Mailer for SlowMailer {
    fn send<'a>(&'a self, _: &'a str, _: &'a str, _: &'a str) -> MailFuture<'a> {
        Box::pin(async {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            Ok(())
        })
    }
}

// covers: issue 30 defect 4
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_answers_alike_for_every_address_with_or_without_a_mail_server() {
    let sink = SmtpSink::start().await;
    let mailers: Vec<(&str, Arc<dyn Mailer>)> = vec![
        ("no mail server", Arc::new(NoMailer)),
        ("a slow mail server", Arc::new(SlowMailer)),
        ("an SMTP server", sink.mailer()),
    ];
    for (what, mailer) in mailers {
        let (i, dir) = sqlite(mailer).await;
        customer(&i.router, "K-1", "known@example.org").await;
        let mut known = vec![];
        let mut unknown = vec![];
        for n in 0..3 {
            let peer = format!("198.51.100.{}", 10 + n);
            known.push(ask_code(&i.router, "known@example.org", Some(&peer), None).await);
            unknown.push(ask_code(&i.router, "nobody@example.org", Some(&peer), None).await);
        }
        for (k, u) in known.iter().zip(&unknown) {
            assert_eq!(k.status, StatusCode::OK, "{what}: {}", k.body);
            assert_eq!(shape(k), shape(u), "{what}: the answers differ");
            assert!(cookie(k, "tutela_signin").is_some());
        }
        // The mail is off the request path: a slow mail server does not slow the answer.
        let slowest = known.iter().map(|a| a.took).max().unwrap_or_default();
        assert!(
            slowest < Duration::from_millis(1000),
            "{what}: a known address took {slowest:?}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
    // The mails went, to the known address only.
    assert!(sink.wait_code_for("known@example.org", 2).await.is_some());
    assert_eq!(sink.count_to("nobody@example.org"), 0);
}

// covers: issue 30 defect 4
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_without_smtp_with_the_code_from_the_outbox() {
    let outbox = temp_dir("outbox").join("tutela-outbox");
    let (i, dir) = sqlite(Arc::new(DirMailer::new(&outbox).expect("outbox"))).await;
    customer(&i.router, "O-1", "olga@example.org").await;
    let a = ask_code(&i.router, "olga@example.org", Some("198.51.100.1"), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let pending = cookie(&a, "tutela_signin").expect("pending cookie");
    let mail = wait_outbox(&outbox, "olga@example.org", 0).await;
    let code = code_in(&mail);
    let a = enter_code(&i.router, &pending, &code, Some("198.51.100.1")).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert!(cookie(&a, "tutela_session").is_some());

    // A request filed through the API gets its code through the outbox too, not an agent.
    let r = api(
        &i.router,
        "POST",
        "/v1/requests",
        json!({"type": "access", "email": "olga@example.org", "channel": "email"}),
    )
    .await;
    let id = r["id"].as_str().expect("id").to_owned();
    let mail = wait_outbox(&outbox, "olga@example.org", 1).await;
    let r = api(
        &i.router,
        "POST",
        &format!("/v1/requests/{id}/verify"),
        json!({"code": code_in(&mail)}),
    )
    .await;
    assert_eq!(r["verification"], "code", "{r}");
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(outbox);
}

/// The text of mail number `n` (in order) to `to` in the outbox, waiting for it; each file
/// readable by the owner only.
async fn wait_outbox(dir: &std::path::Path, to: &str, n: usize) -> String {
    for _ in 0..200 {
        let mut mails: Vec<(String, String)> = std::fs::read_dir(dir)
            .expect("outbox")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".eml"))
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = e.metadata().expect("meta").permissions().mode() & 0o777;
                    assert_eq!(mode, 0o600, "{:?}", e.path());
                }
                let text = std::fs::read_to_string(e.path()).expect("mail");
                (e.file_name().to_string_lossy().into_owned(), text)
            })
            .filter(|(_, t)| t.contains(&format!("To: {to}\r\n")))
            .collect();
        mails.sort();
        if let Some((_, text)) = mails.into_iter().nth(n) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no mail {n} to {to} in {}", dir.display());
}

/// The reference the code page shows.
fn reference_in(page: &str) -> String {
    let needle = "<strong class=\"reference\">";
    let i = page.find(needle).expect("a reference on the page") + needle.len();
    let reference = page[i..i + 4].to_owned();
    assert!(
        reference.chars().all(|c| c.is_ascii_uppercase()),
        "{reference}"
    );
    reference
}

fn code_in(mail: &str) -> String {
    let i = mail.find("Code: ").expect("a code") + "Code: ".len();
    mail[i..i + 8].to_owned()
}

fn sha(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every row of `sql`, whose columns are all text.
async fn rows(store: &AnyStore, sql: &'static str) -> Vec<Vec<String>> {
    use sqlx::Row;
    match store {
        AnyStore::Sqlite(s) => sqlx::query(sql)
            .fetch_all(s.pool())
            .await
            .expect("rows")
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| {
                        r.try_get::<Option<String>, _>(i)
                            .expect("text")
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect(),
        AnyStore::Postgres(s) => sqlx::query(sql)
            .fetch_all(s.pool())
            .await
            .expect("rows")
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| {
                        r.try_get::<Option<String>, _>(i)
                            .expect("text")
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect(),
    }
}

async fn secrets_at_rest(i: &Instance, sink: &SmtpSink, what: &str) {
    customer(&i.router, "S-1", "sam@example.org").await;
    let a = ask_code(&i.router, "sam@example.org", Some("198.51.100.1"), None).await;
    let pending = cookie(&a, "tutela_signin").expect("pending");
    let code = sink
        .wait_code_for("sam@example.org", 0)
        .await
        .expect("code mailed");
    let store = &i.state.engine.store;
    let signins = rows(
        store,
        "SELECT id_hash, subject, salt, code_hash FROM signin_codes",
    )
    .await;
    assert_eq!(signins.len(), 1, "{what}");
    let row = &signins[0];
    for column in row {
        assert!(
            !column.contains(&pending),
            "{what}: the cookie is stored: {row:?}"
        );
        assert!(
            !column.contains(&code),
            "{what}: the code is stored: {row:?}"
        );
    }
    assert_eq!(row[0], sha(&pending), "{what}: found by the cookie's hash");
    let salt = &row[2];
    for unkeyed in [
        sha(&format!("signin:{salt}:{code}")),
        sha(&format!("{salt}:{code}")),
        sha(&code),
    ] {
        assert_ne!(row[3], unkeyed, "{what}: the code hash is unkeyed");
    }
    // The keyed hash still signs the person in.
    let a = enter_code(&i.router, &pending, &code, Some("198.51.100.1")).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{what}: {}", a.body);

    // A request's code is keyed the same way.
    api(
        &i.router,
        "POST",
        "/v1/requests",
        json!({"type": "access", "subject": "S-1", "channel": "email"}),
    )
    .await;
    let code = sink
        .wait_code_for("sam@example.org", 1)
        .await
        .expect("request code");
    let codes = rows(store, "SELECT salt, code_hash FROM request_codes").await;
    assert_eq!(codes.len(), 1, "{what}");
    let (salt, hash) = (&codes[0][0], &codes[0][1]);
    assert_ne!(*hash, sha(&format!("{salt}:{code}")), "{what}");
    assert!(!hash.contains(&code) && !salt.contains(&code), "{what}");
}

// covers: issue 30 defect 5
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_holds_no_pending_id_and_no_unkeyed_code_hash() {
    let sink = SmtpSink::start().await;
    let (i, dir) = sqlite(sink.mailer()).await;
    secrets_at_rest(&i, &sink, "sqlite").await;
    let _ = std::fs::remove_dir_all(dir);
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let sink = SmtpSink::start().await;
    let keys = temp_dir("signin-pg-keys");
    let i = instance(
        pg_store(&pg, &keys).await,
        HmacKey::default(),
        sink.mailer(),
        WebSettings::default(),
    )
    .await;
    secrets_at_rest(&i, &sink, "postgres").await;
    pg.drop_schema().await;
    let _ = std::fs::remove_dir_all(keys);
}

/// Five codes for one address from one client, then a restart: the sixth is still refused
/// for that client, and another client is not.
async fn limits_hold_across_a_restart<F, Fut>(open: F, what: &str)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = AnyStore>,
{
    let key = HmacKey::default();
    let first = instance(
        open().await,
        key.clone(),
        Arc::new(NoMailer),
        WebSettings::default(),
    )
    .await;
    for n in 0..5 {
        let a = ask_code(&first.router, "r@example.org", Some("198.51.100.1"), None).await;
        assert_eq!(a.status, StatusCode::OK, "{what}: code {n}");
    }
    drop(first);
    let second = instance(
        open().await,
        key,
        Arc::new(NoMailer),
        WebSettings::default(),
    )
    .await;
    let a = ask_code(&second.router, "r@example.org", Some("198.51.100.1"), None).await;
    assert_eq!(
        a.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{what}: the limit was forgotten"
    );
    let a = ask_code(&second.router, "r@example.org", Some("198.51.100.2"), None).await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "{what}: another client is refused"
    );
}

// covers: issue 30 defect 6
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_hold_across_a_restart_on_sqlite_and_postgres() {
    let dir = temp_dir("signin-restart");
    limits_hold_across_a_restart(|| sqlite_store(&dir), "sqlite").await;
    let _ = std::fs::remove_dir_all(&dir);
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let keys = temp_dir("signin-restart-keys");
    limits_hold_across_a_restart(|| pg_store(&pg, &keys), "postgres").await;
    pg.drop_schema().await;
    let _ = std::fs::remove_dir_all(keys);
}

// covers: issue 30 defect 6
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let dir = temp_dir("signin-xff");
    let web = WebSettings {
        attempts_per_client: 3,
        trusted_proxies: TrustedProxies::parse(&["10.0.0.0/8"]).expect("proxies"),
        ..WebSettings::default()
    };
    let i = instance(
        sqlite_store(&dir).await,
        HmacKey::default(),
        Arc::new(NoMailer),
        web,
    )
    .await;
    let lb = Some("10.0.0.2");
    let wrong = |peer: Option<&'static str>, xff: Option<&'static str>| {
        let router = i.router.clone();
        async move {
            post(
                &router,
                "/signin/code",
                peer,
                xff,
                "tutela_form=t; tutela_signin=nothing",
                &[("csrf", "t"), ("code", "00000000")],
            )
            .await
            .status
        }
    };
    // Behind the load balancer, each client has its own bucket.
    for _ in 0..3 {
        assert_eq!(wrong(lb, Some("203.0.113.1")).await, StatusCode::OK);
    }
    assert_eq!(
        wrong(lb, Some("203.0.113.1")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        wrong(lb, Some("203.0.113.2")).await,
        StatusCode::OK,
        "clients behind the proxy share a bucket"
    );
    // A client cannot leave its bucket by writing the header itself: the proxy appends.
    assert_eq!(
        wrong(lb, Some("192.0.2.99, 203.0.113.1")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // From a peer that is not a trusted proxy, the header is ignored.
    let direct = Some("198.51.100.9");
    for _ in 0..3 {
        assert_eq!(wrong(direct, Some("203.0.113.50")).await, StatusCode::OK);
    }
    assert_eq!(
        wrong(direct, Some("203.0.113.51")).await,
        StatusCode::TOO_MANY_REQUESTS,
        "an untrusted peer chose its bucket"
    );
    let _ = std::fs::remove_dir_all(dir);
}

// covers: issue 30 defect 6
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_attempts_lock_out_neither_a_person_nor_an_operator() {
    let sink = SmtpSink::start().await;
    let dir = temp_dir("signin-lockout");
    let web = WebSettings {
        ceiling_window: Duration::from_secs(6),
        attempts_per_operator_ceiling: 5,
        ceiling_delay: Duration::from_millis(300),
        ..WebSettings::default()
    };
    let settings = RequestSettings {
        worker_interval: Duration::from_secs(3600),
        // Room to try each code mailed to Pia in the window against her pending sign-in.
        code_attempts: 10,
        ..RequestSettings::default()
    };
    let i = instance_with(sqlite_store(&dir).await, settings, sink.mailer(), web).await;
    customer(&i.router, "P-1", "pia@example.org").await;
    // Strangers from three addresses ask for Pia's code until they are refused: past the
    // per-client limits (5 each) and the address's ceiling (10 in the window).
    for n in 1..=3 {
        let peer = format!("203.0.113.{n}");
        let statuses = [
            ask_code(&i.router, "pia@example.org", Some(&peer), None)
                .await
                .status,
            ask_code(&i.router, "pia@example.org", Some(&peer), None)
                .await
                .status,
            ask_code(&i.router, "pia@example.org", Some(&peer), None)
                .await
                .status,
            ask_code(&i.router, "pia@example.org", Some(&peer), None)
                .await
                .status,
            ask_code(&i.router, "pia@example.org", Some(&peer), None)
                .await
                .status,
            ask_code(&i.router, "pia@example.org", Some(&peer), None)
                .await
                .status,
        ];
        assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    }
    // The ten under the ceiling leave at once.
    assert!(sink.wait_code_for("pia@example.org", 9).await.is_some());
    let before = sink.mails().len();
    // Pia, from her own address, is not refused: her mail waits for the ceiling's window and
    // then goes first, and names the reference her page shows.
    let a = ask_code(&i.router, "pia@example.org", Some("198.51.100.1"), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let pending = cookie(&a, "tutela_signin").expect("pending");
    let reference = reference_in(&a.body);
    let store = &i.state.engine.store;
    let mut sent = false;
    for _ in 0..100 {
        i.state
            .requests
            .deliver_signin_mails(
                None,
                jiff::Timestamp::now(),
                i.state.web.settings.mail_ceiling(),
            )
            .await
            .expect("deliver");
        let row = store
            .signin(&sha(&pending))
            .await
            .expect("read")
            .expect("row");
        if row.mail_due.is_none() {
            sent = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(sent, "Pia's mail never left");
    let since = sink.mails()[before..].to_vec();
    assert!(since.len() <= 6, "{} mails in the window", since.len());
    // Hers is the one mail since that names her page's reference, and its code signs her in.
    let hers: Vec<String> = since
        .iter()
        .map(|m| m.data.replace("=\r\n", ""))
        .filter(|d| d.contains(&format!("reference {reference},")))
        .collect();
    assert_eq!(hers.len(), 1, "mails naming {reference}: {hers:?}");
    let a = enter_code(
        &i.router,
        &pending,
        &code_in(&hers[0]),
        Some("198.51.100.1"),
    )
    .await;
    assert_eq!(
        a.status,
        StatusCode::SEE_OTHER,
        "Pia is locked out: {}",
        a.body
    );

    // An operator: a stranger's wrong passwords are refused for the stranger only; the
    // operator signs in from her own address, slowed down over the ceiling, not refused.
    let secret = tutela_runtime::operators::create(
        &i.state.engine.store,
        "erika",
        tutela_runtime::operators::Role::Agent,
        "correct horse battery",
        jiff::Timestamp::now(),
    )
    .await
    .expect("operator")
    .totp_secret;
    let login = |peer: &'static str, password: &'static str, totp: String| {
        let router = i.router.clone();
        async move {
            post(
                &router,
                "/console/login",
                Some(peer),
                None,
                "tutela_console_form=t",
                &[
                    ("csrf", "t"),
                    ("name", "erika"),
                    ("password", password),
                    ("totp", &totp),
                ],
            )
            .await
        }
    };
    let mut refused = false;
    for _ in 0..12 {
        let a = login("203.0.113.9", "wrong password here", "000000".into()).await;
        refused |= a.status == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(refused, "the stranger is not limited");
    let key = tutela_runtime::operators::totp::base32_decode(&secret).expect("base32");
    let totp = tutela_runtime::operators::totp::code_at(&key, jiff::Timestamp::now().as_second());
    let a = login("198.51.100.1", "correct horse battery", totp).await;
    assert_eq!(
        a.status,
        StatusCode::SEE_OTHER,
        "the operator is locked out: {}",
        a.body
    );
    assert!(
        a.took >= Duration::from_millis(300),
        "over the ceiling, answers are slowed"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A mail server that records when each mail arrived, to whom, and its text.
#[derive(Default)]
struct Recorder {
    mails: std::sync::Mutex<Vec<(Instant, String, String)>>,
}

impl Mailer for Recorder {
    fn send<'a>(&'a self, to: &'a str, _: &'a str, body: &'a str) -> MailFuture<'a> {
        Box::pin(async move {
            self.mails
                .lock()
                .expect("lock")
                .push((Instant::now(), to.to_owned(), body.to_owned()));
            Ok(())
        })
    }
}

impl Recorder {
    fn to(&self, to: &str) -> Vec<(Instant, String)> {
        self.mails
            .lock()
            .expect("lock")
            .iter()
            .filter(|(_, t, _)| t == to)
            .map(|(at, _, body)| (*at, body.clone()))
            .collect()
    }
}

/// Strangers from twenty clients ask for codes to Flo's address, and Flo asks too: at most the
/// ceiling reaches Flo in each window, held mails go in later windows, those whose code
/// expired before their turn never go, and Flo's own mail names the reference her page shows
/// and signs her in.
async fn flooded_address_gets_at_most_the_ceiling(store: AnyStore, what: &str) {
    const CEILING: usize = 4;
    let window = Duration::from_secs(3);
    let web = WebSettings {
        codes_per_address_ceiling: 4,
        ceiling_window: window,
        ..WebSettings::default()
    };
    let settings = RequestSettings {
        worker_interval: Duration::from_secs(3600),
        code_validity: jiff::SignedDuration::from_secs(8),
        ..RequestSettings::default()
    };
    let recorder = Arc::new(Recorder::default());
    let i = instance_with(store, settings, recorder.clone(), web).await;
    customer(&i.router, "F-1", "flo@example.org").await;
    let started = Instant::now();
    for n in 1..=20 {
        let peer = format!("203.0.113.{n}");
        let a = ask_code(&i.router, "flo@example.org", Some(&peer), None).await;
        assert_eq!(
            a.status,
            StatusCode::OK,
            "{what}: nobody is refused: {}",
            a.body
        );
    }
    let a = ask_code(&i.router, "flo@example.org", Some("198.51.100.1"), None).await;
    assert_eq!(a.status, StatusCode::OK, "{what}: {}", a.body);
    let reference = reference_in(&a.body);
    // Sweep often (the server's own sweep runs too) until every code expired.
    while started.elapsed() < Duration::from_secs(11) {
        i.state
            .requests
            .deliver_signin_mails(
                None,
                jiff::Timestamp::now(),
                i.state.web.settings.mail_ceiling(),
            )
            .await
            .expect("deliver");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mails = recorder.to("flo@example.org");
    // No span shorter than a window holds more than the ceiling (each window's mails leave
    // when it opens, so half a second of slack tells windows apart).
    for (k, (at, _)) in mails.iter().enumerate() {
        let span = mails[k..]
            .iter()
            .filter(|(b, _)| b.duration_since(*at) < window - Duration::from_millis(500))
            .count();
        assert!(
            span <= CEILING,
            "{what}: {span} mails within one window: {:?}",
            mails
                .iter()
                .map(|(t, _)| t.duration_since(started))
                .collect::<Vec<_>>()
        );
    }
    // Held mails went in later windows; the rest expired first and never went.
    assert!(
        mails.len() > CEILING,
        "{what}: no held mail went: {}",
        mails.len()
    );
    assert!(
        mails.len() <= 3 * CEILING,
        "{what}: {} mails in a code's 8 seconds",
        mails.len()
    );
    assert!(mails.len() < 21, "{what}: every mail went");
    let store = &i.state.engine.store;
    assert!(
        rows(
            store,
            "SELECT id_hash FROM signin_codes WHERE mail_due_us IS NOT NULL"
        )
        .await
        .is_empty(),
        "{what}: mails still wait after their codes expired"
    );
    // Flo's own mail went, the newest first when a window opened, and names her reference.
    let hers: Vec<&String> = mails
        .iter()
        .map(|(_, body)| body)
        .filter(|b| b.contains(&format!("reference {reference},")))
        .collect();
    assert_eq!(hers.len(), 1, "{what}: mails naming {reference}: {mails:?}");
    assert!(
        hers[0].contains(&format!("Referenz {reference}, angefordert um ")),
        "{what}: {}",
        hers[0]
    );
    assert!(hers[0].contains("requested at "), "{what}");
}

// covers: issue 30 follow-up, review finding C (the ceiling delayed but did not limit)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooded_address_receives_at_most_the_ceiling_per_window() {
    let dir = temp_dir("signin-flood");
    flooded_address_gets_at_most_the_ceiling(sqlite_store(&dir).await, "sqlite").await;
    let _ = std::fs::remove_dir_all(dir);
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let keys = temp_dir("signin-flood-keys");
    flooded_address_gets_at_most_the_ceiling(pg_store(&pg, &keys).await, "postgres").await;
    pg.drop_schema().await;
    let _ = std::fs::remove_dir_all(keys);
}

// covers: issue 30 follow-up, review finding C (a flooded person cannot tell their code)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooded_person_signs_in_with_the_mail_naming_their_pages_reference() {
    let dir = temp_dir("signin-reference");
    let web = WebSettings {
        codes_per_address_ceiling: 4,
        ceiling_window: Duration::from_secs(2),
        ..WebSettings::default()
    };
    let settings = RequestSettings {
        worker_interval: Duration::from_secs(3600),
        ..RequestSettings::default()
    };
    let recorder = Arc::new(Recorder::default());
    let i = instance_with(sqlite_store(&dir).await, settings, recorder.clone(), web).await;
    customer(&i.router, "G-1", "gus@example.org").await;
    // Strangers' codes before and after Gus's.
    for n in 1..=3 {
        let peer = format!("203.0.113.{n}");
        ask_code(&i.router, "gus@example.org", Some(&peer), None).await;
    }
    let a = ask_code(&i.router, "gus@example.org", Some("198.51.100.7"), None).await;
    let pending = cookie(&a, "tutela_signin").expect("pending");
    let reference = reference_in(&a.body);
    for n in 4..=8 {
        let peer = format!("203.0.113.{n}");
        ask_code(&i.router, "gus@example.org", Some(&peer), None).await;
    }
    // A wrong code leaves the page on the same reference.
    let wrong = enter_code(&i.router, &pending, "00000000", Some("198.51.100.7")).await;
    assert_eq!(reference_in(&wrong.body), reference);
    let mut hers = None;
    for _ in 0..100 {
        i.state
            .requests
            .deliver_signin_mails(
                None,
                jiff::Timestamp::now(),
                i.state.web.settings.mail_ceiling(),
            )
            .await
            .expect("deliver");
        hers = recorder
            .to("gus@example.org")
            .into_iter()
            .map(|(_, body)| body)
            .find(|b| b.contains(&format!("reference {reference},")));
        if hers.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let hers = hers.expect("Gus's mail never left");
    // "requested at HH:MM" in the operator's time zone.
    let at = hers.find("requested at ").expect("time") + "requested at ".len();
    let hhmm = &hers[at..at + 5];
    assert!(
        hhmm.as_bytes()[2] == b':' && hhmm.replace(':', "").chars().all(|c| c.is_ascii_digit()),
        "{hers}"
    );
    // Another mail's code does not open Gus's sign-in; his own does.
    let others: Vec<String> = recorder
        .to("gus@example.org")
        .into_iter()
        .map(|(_, body)| body)
        .filter(|b| !b.contains(&format!("reference {reference},")))
        .collect();
    assert!(!others.is_empty());
    let a = enter_code(
        &i.router,
        &pending,
        &code_in(&others[0]),
        Some("198.51.100.7"),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "another's code signed Gus in");
    let a = enter_code(&i.router, &pending, &code_in(&hers), Some("198.51.100.7")).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert!(cookie(&a, "tutela_session").is_some());
    let _ = std::fs::remove_dir_all(dir);
}

/// The names of the `.eml` files in the outbox.
fn outbox_files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("outbox")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    names.sort();
    names
}

// covers: issue 30 follow-up, review finding D (outbox mails stayed forever, also erased)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_mails_go_with_an_erasure_and_once_their_code_expired() {
    let outbox = temp_dir("outbox-clean").join("tutela-outbox");
    let (i, dir) = sqlite(Arc::new(DirMailer::new(&outbox).expect("outbox"))).await;
    customer(&i.router, "E-1", "erin@example.org").await;
    customer(&i.router, "E-2", "emil@example.org").await;
    // A sign-in code and a request's code to Erin, a sign-in code to Emil.
    ask_code(&i.router, "erin@example.org", Some("198.51.100.1"), None).await;
    wait_outbox(&outbox, "erin@example.org", 0).await;
    api(
        &i.router,
        "POST",
        "/v1/requests",
        json!({"type": "access", "subject": "E-1", "channel": "email"}),
    )
    .await;
    wait_outbox(&outbox, "erin@example.org", 1).await;
    ask_code(&i.router, "emil@example.org", Some("198.51.100.2"), None).await;
    wait_outbox(&outbox, "emil@example.org", 0).await;
    let files = outbox_files(&outbox);
    assert_eq!(files.len(), 3, "{files:?}");
    for f in &files {
        assert!(
            !f.contains("erin") && !f.contains("emil"),
            "a name tells the address: {f}"
        );
    }

    // Erasing Erin removes her mails at once, and only hers.
    let req = Request::builder()
        .method("POST")
        .uri("/v1/subjects/E-1/erasure")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .expect("request");
    let res = i.router.clone().oneshot(req).await.expect("response");
    assert_eq!(res.status(), StatusCode::CREATED);
    let left = outbox_files(&outbox);
    assert_eq!(left.len(), 1, "{left:?}");
    let text = std::fs::read_to_string(outbox.join(&left[0])).expect("mail");
    assert!(text.contains("To: emil@example.org\r\n"), "{text}");

    // Emil's goes once its code can no longer be used (the sweep runs this each minute).
    let validity = i.state.requests.settings.code_validity;
    i.state
        .requests
        .remove_old_outbox_mails(jiff::Timestamp::now())
        .await;
    assert_eq!(
        outbox_files(&outbox).len(),
        1,
        "removed while its code works"
    );
    let later = jiff::Timestamp::now()
        .checked_add(validity)
        .expect("time")
        .checked_add(jiff::SignedDuration::from_secs(1))
        .expect("time");
    i.state.requests.remove_old_outbox_mails(later).await;
    assert!(
        outbox_files(&outbox).is_empty(),
        "{:?}",
        outbox_files(&outbox)
    );
    // A file that is not a mail is the operator's: left alone.
    std::fs::write(outbox.join("README"), "mine").expect("write");
    i.state.requests.remove_old_outbox_mails(later).await;
    assert!(outbox.join("README").exists());
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(outbox);
}
