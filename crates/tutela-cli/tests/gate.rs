//! `tutela gate run` against the real NATS JetStream on loopback (N7b): two gate processes
//! share a route, one is killed with SIGKILL while events flow and started again; afterwards
//! every lawful event is in the target exactly once, no unlawful one is there, and the bad
//! ones are dead letters. Under `CI=true` a missing NATS fails the test.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;

use super::{BIN, http, start, temp_dir, text};

fn nats_url() -> String {
    std::env::var("TUTELA_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

fn imsi(i: usize) -> String {
    format!("26201{i:010}")
}

/// What the test did with the `i`-th person: every tenth objects, one in 25 is erased, one in
/// 40 restricted, the rest lawful.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Lawful,
    Objected,
    Erased,
    Restricted,
}

fn fate(i: usize) -> Fate {
    if i % 10 == 3 {
        Fate::Objected
    } else if i % 25 == 7 {
        Fate::Erased
    } else if i % 40 == 11 {
        Fate::Restricted
    } else {
        Fate::Lawful
    }
}

fn gate(dir: &Path, routes: &Path) -> Child {
    Command::new(BIN)
        .args([
            "gate",
            "run",
            "--routes",
            &routes.to_string_lossy(),
            "--database",
            "sqlite://tutela.db",
            "--keys",
            "tutela-pseudonym.key",
            "--nats",
            &nats_url(),
            "--batch",
            "500",
            "--ack-wait-seconds",
            "2",
            "--purge-seconds",
            "1",
        ])
        .current_dir(dir)
        .env("TUTELA_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the gate")
}

async fn stream_messages(js: &jetstream::Context, stream: &str, filter: &str) -> Vec<Vec<u8>> {
    let s = js.get_stream(stream).await.expect("target stream");
    let c: consumer::PullConsumer = s
        .create_consumer(consumer::pull::Config {
            filter_subject: filter.to_owned(),
            ack_policy: consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("reader");
    let mut out = Vec::new();
    loop {
        let mut batch = c
            .fetch()
            .max_messages(5000)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .expect("fetch");
        let before = out.len();
        while let Some(m) = batch.next().await {
            out.push(m.expect("message").payload.to_vec());
        }
        if out.len() == before {
            return out;
        }
    }
}

// covers: N7b
#[test]
fn two_gates_one_killed_deliver_every_lawful_event_exactly_once() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let _in_runtime = rt.enter();
    let client = match rt.block_on(
        async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(3))
            .connect(nats_url()),
    ) {
        Ok(c) => c,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("NATS is required under CI=true: {e}")
        }
        Err(e) => {
            eprintln!("skipping: no NATS ({e})");
            return;
        }
    };
    let js = jetstream::new(client);
    let persons: usize = 200;
    let events: usize = std::env::var("TUTELA_GATE_TEST_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);

    let dir = temp_dir("gate");
    let server = start(&dir, "sqlite://tutela.db");
    let token = std::fs::read_to_string(dir.join("tutela.token")).expect("token");
    let token = token.trim();
    let call = |method: &str, path: String, body: &str| {
        let (s, b) = http(server.port, method, &path, token, body);
        assert!((200..300).contains(&s), "{method} {path}: {s} {b}");
    };
    for i in 0..persons {
        let id = format!("G-{i}");
        call(
            "PUT",
            format!("/v1/subjects/{id}"),
            r#"{"relationship":"customer"}"#,
        );
        call(
            "POST",
            format!("/v1/subjects/{id}/identifiers"),
            &format!(r#"{{"kind":"imsi","value":"{}","active":true}}"#, imsi(i)),
        );
        match fate(i) {
            Fate::Objected => call(
                "POST",
                format!("/v1/subjects/{id}/objections"),
                r#"{"scope":"service_quality_analysis","reason":"my particular situation"}"#,
            ),
            Fate::Erased => call("POST", format!("/v1/subjects/{id}/erasure"), ""),
            Fate::Restricted => call(
                "POST",
                format!("/v1/subjects/{id}/restriction"),
                r#"{"reason":"accuracy contested"}"#,
            ),
            Fate::Lawful => {}
        }
    }
    // The ledger holds tokens, never the IMSIs.
    let (_, history) = http(server.port, "GET", "/v1/subjects/G-0/consents", token, "");
    assert!(!history.contains(&imsi(0)), "{history}");
    let (s, problem) = http(
        server.port,
        "POST",
        "/v1/subjects/G-0/identifiers",
        token,
        r#"{"kind":"imsi","value":"26201-not-digits","active":true}"#,
    );
    assert_eq!(s, 422, "{problem}");
    assert!(
        problem.contains("\"field\":\"value\"") && !problem.contains("26201-not"),
        "{problem}"
    );

    // Subjects and streams of this run only.
    let run = format!("gt{}", std::process::id());
    let routes = dir.join("routes.toml");
    let example =
        std::fs::read_to_string(super::root().join("policies/gate.toml")).expect("routes");
    let routes_text = example
        .replace("id = \"quality\"", &format!("id = \"{run}\""))
        .replace("\"usage.raw\"", &format!("\"{run}.raw\""))
        .replace("\"usage.quality.dead\"", &format!("\"{run}.dead\""))
        .replace("\"usage.quality\"", &format!("\"{run}.out\""));
    std::fs::write(&routes, routes_text).expect("routes file");
    let source_stream = format!("{}_RAW", run.to_uppercase());
    let target_stream = format!("TUTELA_GATE_{}", run.to_uppercase());
    rt.block_on(async {
        let _ = js.delete_stream(&target_stream).await;
        js.get_or_create_stream(stream::Config {
            name: source_stream.clone(),
            subjects: vec![format!("{run}.raw")],
            ..Default::default()
        })
        .await
        .expect("source stream");
    });

    // Event n: person n % (persons + 10); the last ten "persons" have no link. Every 97th
    // event is malformed.
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let mut expected: BTreeMap<&str, usize> = BTreeMap::new();
    let mut lawful = std::collections::BTreeSet::new();
    let payload = |n: usize| -> (Vec<u8>, &'static str) {
        let p = n % (persons + 10);
        if n % 97 == 5 {
            return (
                format!(r#"{{"imsi":"{}","ts":"#, imsi(p)).into_bytes(),
                "malformed",
            );
        }
        let e = format!(
            r#"{{"imsi":"{}","ts":{},"cell":"26201-{p}","bytes_up":{n},"bytes_down":1}}"#,
            imsi(p),
            now_ms - 60_000
        );
        let kind = if p >= persons {
            "unknown_identifier"
        } else {
            match fate(p) {
                Fate::Lawful => "passed",
                Fate::Objected => "objected",
                Fate::Erased => "subject_erased",
                Fate::Restricted => "restricted",
            }
        };
        (e.into_bytes(), kind)
    };
    for n in 0..events {
        let (_, kind) = payload(n);
        *expected.entry(kind).or_default() += 1;
        if kind == "passed" {
            lawful.insert(n);
        }
    }

    let mut a = gate(&dir, &routes);
    let b = gate(&dir, &routes);
    let publish = |from: usize, to: usize| {
        rt.block_on(async {
            let mut acks = Vec::new();
            for n in from..to {
                let (bytes, _) = payload(n);
                acks.push(
                    js.publish(format!("{run}.raw"), bytes.into())
                        .await
                        .expect("publish"),
                );
                if acks.len() >= 2000 {
                    for a in acks.drain(..) {
                        a.await.expect("stored");
                    }
                }
            }
            for a in acks {
                a.await.expect("stored");
            }
        })
    };
    let target_count = || {
        rt.block_on(async {
            match js.get_stream(&target_stream).await {
                Ok(mut s) => s.info().await.map(|i| i.state.messages).unwrap_or(0),
                Err(_) => 0,
            }
        })
    };
    publish(0, events / 2);
    // Kill gate A while it works: once some, not all, of the first half are through.
    let deadline = Instant::now() + Duration::from_secs(60);
    while target_count() < (lawful.len() / 8) as u64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    a.kill().expect("SIGKILL gate A");
    let _ = a.wait();
    publish(events / 2, events);
    let a2 = gate(&dir, &routes);

    wait_idle(&rt, &js, &source_stream, &run);
    // An objection recorded now takes effect for the very next event of that person.
    call(
        "POST",
        "/v1/subjects/G-1/objections".into(),
        r#"{"scope":"service_quality_analysis","reason":"my particular situation"}"#,
    );
    let late: Vec<usize> = (events..)
        .filter(|n| n % (persons + 10) == 1 && n % 97 != 5)
        .take(50)
        .collect();
    rt.block_on(async {
        for &n in &late {
            let (bytes, kind) = payload(n);
            assert_eq!(kind, "passed", "person 1 was lawful until now");
            js.publish(format!("{run}.raw"), bytes.into())
                .await
                .expect("publish")
                .await
                .expect("stored");
        }
    });
    wait_idle(&rt, &js, &source_stream, &run);
    // The running gates purge a day that has come, whichever process filed it.
    let due_count = |day: &str| {
        rt.block_on(async {
            let s = js.get_stream(&target_stream).await.expect("target");
            let mut subjects = s
                .info_with_subjects(format!("{run}.out.{day}"))
                .await
                .expect("subjects");
            let mut n = 0;
            while let Some(x) = subjects.next().await {
                n += x.expect("subject").1;
            }
            n
        })
    };
    rt.block_on(async {
        js.publish(format!("{run}.out.20200102"), "{}".into())
            .await
            .expect("publish")
            .await
            .expect("stored");
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while due_count("20200102") > 0 {
        assert!(
            Instant::now() < deadline,
            "the gates did not purge a due day"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut summaries = Vec::new();
    for mut g in [b, a2] {
        let _ = Command::new("kill")
            .args(["-TERM", &g.id().to_string()])
            .status();
        let out = wait_output(&mut g);
        summaries.push(out);
    }

    let (passed, dead) = rt.block_on(async {
        (
            stream_messages(&js, &target_stream, &format!("{run}.out.*")).await,
            stream_messages(&js, &target_stream, &format!("{run}.dead.*")).await,
        )
    });
    let mut seen = BTreeMap::new();
    for m in &passed {
        let v: serde_json::Value = serde_json::from_slice(m).expect("json");
        let n = v["bytes_up"].as_u64().expect("n") as usize;
        *seen.entry(n).or_insert(0) += 1;
        let text = String::from_utf8_lossy(m);
        assert!(!text.contains(&imsi(n % (persons + 10))), "{text}");
        assert!(v["expires_at"].as_str().is_some_and(|e| e.ends_with('Z')));
    }
    let objected_late = late.iter().filter(|n| seen.contains_key(n)).count();
    assert_eq!(objected_late, 0, "events after the objection passed");
    let duplicated = seen.values().filter(|&&c| c > 1).count();
    let unlawful = seen.keys().filter(|n| !lawful.contains(n)).count();
    let lost = lawful.iter().filter(|n| !seen.contains_key(n)).count();
    let real: Vec<String> = (0..persons + 10).map(imsi).collect();
    let mut dead_by_reason: BTreeMap<String, usize> = BTreeMap::new();
    for m in &dead {
        let v: serde_json::Value = serde_json::from_slice(m).expect("json");
        *dead_by_reason
            .entry(v["reason"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
        if let Some(pseudonym) = v["event"]["imsi"].as_str() {
            assert!(real.iter().all(|i| i != pseudonym), "{v}");
        }
    }
    eprintln!(
        "gate crash test: {events} events, {} lawful; in the target {} ({} distinct), lost {lost}, duplicated {duplicated}, unlawful {unlawful}; dead letters {dead_by_reason:?}; expected {expected:?}",
        lawful.len(),
        passed.len(),
        seen.len()
    );
    assert_eq!((lost, duplicated, unlawful), (0, 0, 0));
    assert_eq!(passed.len(), lawful.len());
    for reason in [
        "subject_erased",
        "restricted",
        "unknown_identifier",
        "malformed",
    ] {
        assert_eq!(
            dead_by_reason.get(reason).copied().unwrap_or(0),
            expected.get(reason).copied().unwrap_or(0),
            "{reason}"
        );
    }
    // The surviving gates' summaries count what they saw, by reason.
    for s in &summaries {
        let line = s.lines().last().unwrap_or_default();
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {s}"));
        assert_eq!(v["routes"][0]["route"], run.as_str(), "{s}");
    }
    let objected: u64 = summaries
        .iter()
        .filter_map(|s| serde_json::from_str::<serde_json::Value>(s.lines().last()?).ok())
        .map(|v| v["routes"][0]["dropped"]["objected"].as_u64().unwrap_or(0))
        .sum();
    assert!(objected >= 50, "{summaries:?}");
    let redelivered: u64 = summaries
        .iter()
        .filter_map(|s| serde_json::from_str::<serde_json::Value>(s.lines().last()?).ok())
        .map(|v| v["routes"][0]["redelivered"].as_u64().unwrap_or(0))
        .sum();
    eprintln!("gate crash test: {redelivered} events delivered again after the kill");
    assert!(
        redelivered > 0,
        "the kill left nothing in flight: {summaries:?}"
    );

    // The retention companion: a day that has come is purged, the days ahead stay.
    rt.block_on(async {
        js.publish(format!("{run}.out.20200101"), "{}".into())
            .await
            .expect("publish")
            .await
            .expect("stored");
    });
    let purge = Command::new(BIN)
        .args([
            "gate",
            "purge",
            "--routes",
            &routes.to_string_lossy(),
            "--nats",
            &nats_url(),
        ])
        .current_dir(super::root())
        .output()
        .expect("purge");
    assert!(purge.status.success(), "{}", text(&purge));
    assert!(
        text(&purge).contains(&format!("route {run}: 1 expired events purged")),
        "{}",
        text(&purge)
    );
    let after = rt.block_on(stream_messages(
        &js,
        &target_stream,
        &format!("{run}.out.*"),
    ));
    assert_eq!(after.len(), passed.len());

    rt.block_on(async {
        let _ = js.delete_stream(&target_stream).await;
        let _ = js.delete_stream(&source_stream).await;
    });
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// Waits until the route's consumer has nothing pending or unacknowledged.
fn wait_idle(rt: &tokio::runtime::Runtime, js: &jetstream::Context, source: &str, run: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let idle = rt.block_on(async {
            let s = js.get_stream(source).await.expect("source");
            let mut c: consumer::PullConsumer = s
                .get_consumer(&format!("tutela-gate-{run}"))
                .await
                .expect("consumer");
            let i = c.info().await.expect("consumer info");
            i.num_pending == 0 && i.num_ack_pending == 0
        });
        if idle {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the gates did not drain the source"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn wait_output(child: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut o, &mut out);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    let _ = child.wait();
    assert!(!out.trim().is_empty(), "the gate printed no summary: {err}");
    out
}
