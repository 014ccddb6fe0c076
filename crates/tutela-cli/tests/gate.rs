//! `tutela gate run` against the real NATS JetStream on loopback (N7b): two gate processes
//! share a route, one is killed with SIGKILL while events flow and started again; afterwards
//! every lawful event is in the target exactly once, no unlawful one is there, and the bad
//! ones are dead letters. Under `CI=true` a missing NATS fails the test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;

use super::{BIN, Server, http, start, temp_dir, text};

pub(super) fn nats_url() -> String {
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

/// One run of the gate test: a server whose ledger links `persons` IMSIs and records their
/// fates, a routes file with subjects and streams of this run only, and `events` events.
pub(super) struct Scenario {
    pub persons: usize,
    pub events: usize,
    pub run: String,
    pub dir: PathBuf,
    pub server: Server,
    pub token: String,
    pub routes: PathBuf,
    pub source_stream: String,
    pub target_stream: String,
    /// Events per source message (JSON lines).
    pub per_message: usize,
    now_ms: i64,
    /// Every gate process started, killed when the scenario ends (a failed assertion
    /// included) so none outlives the test.
    gates: std::cell::RefCell<Vec<u32>>,
}

impl Drop for Scenario {
    fn drop(&mut self) {
        for pid in self.gates.borrow().iter() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// What reached the target stream and the dead letters, against what should have.
pub(super) struct Tally {
    pub lawful: usize,
    pub passed: usize,
    pub seen: BTreeMap<usize, usize>,
    pub lost: usize,
    pub duplicated: usize,
    pub unlawful: usize,
    pub dead_by_reason: BTreeMap<String, usize>,
    pub expected: BTreeMap<&'static str, usize>,
}

impl Scenario {
    pub fn new(tag: &str, persons: usize, events: usize, per_message: usize) -> Scenario {
        let dir = temp_dir(tag);
        let server = start(&dir, "sqlite://tutela.db");
        let token = std::fs::read_to_string(dir.join("tutela.token")).expect("token");
        let run = format!("{tag}{}", std::process::id());
        let routes = dir.join("routes.toml");
        let example =
            std::fs::read_to_string(super::root().join("policies/gate.toml")).expect("routes");
        let routes_text = example
            .replace("id = \"quality\"", &format!("id = \"{run}\""))
            .replace("\"usage.raw\"", &format!("\"{run}.raw\""))
            .replace("\"usage.quality.dead\"", &format!("\"{run}.dead\""))
            .replace("\"usage.quality\"", &format!("\"{run}.out\""));
        std::fs::write(&routes, routes_text).expect("routes file");
        let s = Scenario {
            persons,
            events,
            source_stream: format!("{}_RAW", run.to_uppercase()),
            target_stream: format!("TUTELA_GATE_{}", run.to_uppercase()),
            run,
            dir,
            server,
            token: token.trim().to_owned(),
            routes,
            per_message: per_message.max(1),
            gates: Default::default(),
            now_ms: jiff::Timestamp::now().as_millisecond(),
        };
        for i in 0..persons {
            let id = format!("G-{i}");
            s.call(
                "PUT",
                &format!("/v1/subjects/{id}"),
                r#"{"relationship":"customer"}"#,
            );
            s.call(
                "POST",
                &format!("/v1/subjects/{id}/identifiers"),
                &format!(r#"{{"kind":"imsi","value":"{}","active":true}}"#, imsi(i)),
            );
            match fate(i) {
                Fate::Objected => s.call(
                    "POST",
                    &format!("/v1/subjects/{id}/objections"),
                    r#"{"scope":"service_quality_analysis","reason":"my particular situation"}"#,
                ),
                Fate::Erased => s.call("POST", &format!("/v1/subjects/{id}/erasure"), ""),
                Fate::Restricted => s.call(
                    "POST",
                    &format!("/v1/subjects/{id}/restriction"),
                    r#"{"reason":"accuracy contested"}"#,
                ),
                Fate::Lawful => {}
            }
        }
        s
    }

    pub fn call(&self, method: &str, path: &str, body: &str) {
        let (s, b) = http(self.server.port, method, path, &self.token, body);
        assert!((200..300).contains(&s), "{method} {path}: {s} {b}");
    }

    /// Event n: person n % (persons + 10); the last ten "persons" have no link. Every 97th
    /// event is malformed. Returns the bytes and what the gate must do with them.
    pub fn payload(&self, n: usize) -> (Vec<u8>, &'static str) {
        let p = n % (self.persons + 10);
        if n % 97 == 5 {
            return (
                format!(r#"{{"imsi":"{}","ts":"#, imsi(p)).into_bytes(),
                "malformed",
            );
        }
        let e = format!(
            r#"{{"imsi":"{}","ts":{},"cell":"26201-{p}","bytes_up":{n},"bytes_down":1}}"#,
            imsi(p),
            self.now_ms - 60_000
        );
        let kind = if p >= self.persons {
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
    }

    /// The events `0..events` the gate must pass.
    pub fn lawful(&self) -> BTreeSet<usize> {
        (0..self.events)
            .filter(|&n| self.payload(n).1 == "passed")
            .collect()
    }

    /// A gate process on this run's routes, talking to `nats` (one URL or a cluster's list).
    pub fn gate(&self, nats: &str, replicas: usize) -> Child {
        let log = self
            .dir
            .join(format!("gate-new-{}.log", self.gates.borrow().len()));
        let child = Command::new(BIN)
            .args([
                "gate",
                "run",
                "--routes",
                &self.routes.to_string_lossy(),
                "--database",
                "sqlite://tutela.db",
                "--keys",
                "tutela-pseudonym.key",
                "--nats",
                nats,
                "--replicas",
                &replicas.to_string(),
                "--batch",
                "500",
                "--ack-wait-seconds",
                "2",
                "--purge-seconds",
                "1",
            ])
            .current_dir(&self.dir)
            .env(
                "TUTELA_LOG",
                std::env::var("TUTELA_GATE_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            // A file, not a pipe: a gate that logs more than a pipe holds (warnings while a
            // NATS node dies) would block on its next log line until someone reads it.
            .stderr(std::fs::File::create(&log).expect("gate log"))
            .spawn()
            .expect("spawn the gate");
        let _ = std::fs::rename(&log, self.gate_log(child.id()));
        self.gates.borrow_mut().push(child.id());
        child
    }

    fn gate_log(&self, pid: u32) -> PathBuf {
        self.dir.join(format!("gate-{pid}.log"))
    }

    /// Stops a gate with SIGTERM and returns what it printed (its summary).
    pub fn stop(&self, mut gate: Child) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &gate.id().to_string()])
            .status();
        let out = wait_output(&mut gate);
        if out.trim().is_empty() {
            let log = std::fs::read_to_string(self.gate_log(gate.id())).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            panic!(
                "the gate printed no summary; the end of its log:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        out
    }

    /// Publishes events `from..to` to the source, `per_message` to a message, each message
    /// with its message id so a publish retried after a lost ack (a NATS node died) is stored
    /// once; retries until every one is stored.
    pub fn publish(
        &self,
        rt: &tokio::runtime::Runtime,
        js: &jetstream::Context,
        from: usize,
        to: usize,
    ) {
        let subject = format!("{}.raw", self.run);
        let deadline = Instant::now() + Duration::from_secs(300);
        let mut todo: Vec<usize> = (from..to).step_by(self.per_message).collect();
        rt.block_on(async {
            while !todo.is_empty() {
                let mut failed = Vec::new();
                for chunk in todo.chunks(2000) {
                    let mut acks = Vec::with_capacity(chunk.len());
                    for &first in chunk {
                        let mut body = Vec::new();
                        for n in first..(first + self.per_message).min(to) {
                            if !body.is_empty() {
                                body.push(b'\n');
                            }
                            body.extend_from_slice(&self.payload(n).0);
                        }
                        let message = PublishMessage::build()
                            .payload(body.into())
                            .message_id(format!("e{first}"));
                        match js.send_publish(subject.clone(), message).await {
                            Ok(ack) => acks.push((first, ack)),
                            Err(_) => failed.push(first),
                        }
                    }
                    for (first, ack) in acks {
                        if ack.await.is_err() {
                            failed.push(first);
                        }
                    }
                }
                todo = failed;
                if !todo.is_empty() {
                    assert!(
                        Instant::now() < deadline,
                        "{} messages not stored",
                        todo.len()
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        });
    }

    /// Messages in the target stream now (0 while it is missing or unreachable).
    pub fn target_count(&self, rt: &tokio::runtime::Runtime, js: &jetstream::Context) -> u64 {
        rt.block_on(async {
            match js.get_stream(&self.target_stream).await {
                Ok(mut s) => s.info().await.map(|i| i.state.messages).unwrap_or(0),
                Err(_) => 0,
            }
        })
    }

    /// Reads the target stream and the dead letters and counts them against the events.
    pub fn tally(&self, rt: &tokio::runtime::Runtime, js: &jetstream::Context) -> Tally {
        let (passed, dead) = rt.block_on(async {
            (
                stream_messages(js, &self.target_stream, &format!("{}.out.*", self.run)).await,
                stream_messages(js, &self.target_stream, &format!("{}.dead.*", self.run)).await,
            )
        });
        let lawful = self.lawful();
        let mut expected: BTreeMap<&'static str, usize> = BTreeMap::new();
        for n in 0..self.events {
            *expected.entry(self.payload(n).1).or_default() += 1;
        }
        // A message of the target holds one event per line.
        let lines = |messages: &[Vec<u8>]| -> Vec<Vec<u8>> {
            messages
                .iter()
                .flat_map(|m| m.split(|&b| b == b'\n').map(<[u8]>::to_vec))
                .collect()
        };
        let (passed, dead) = (lines(&passed), lines(&dead));
        let mut seen = BTreeMap::new();
        for m in &passed {
            let v: serde_json::Value = serde_json::from_slice(m).expect("json");
            let n = v["bytes_up"].as_u64().expect("n") as usize;
            *seen.entry(n).or_insert(0) += 1;
            let text = String::from_utf8_lossy(m);
            assert!(!text.contains(&imsi(n % (self.persons + 10))), "{text}");
            assert!(v["expires_at"].as_str().is_some_and(|e| e.ends_with('Z')));
        }
        let real: Vec<String> = (0..self.persons + 10).map(imsi).collect();
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
        Tally {
            lawful: lawful.len(),
            passed: passed.len(),
            lost: lawful.iter().filter(|n| !seen.contains_key(n)).count(),
            duplicated: seen.values().filter(|&&c| c > 1).count(),
            unlawful: seen.keys().filter(|n| !lawful.contains(n)).count(),
            seen,
            dead_by_reason,
            expected,
        }
    }

    pub fn delete_streams(&self, rt: &tokio::runtime::Runtime, js: &jetstream::Context) {
        rt.block_on(async {
            let _ = js.delete_stream(&self.target_stream).await;
            let _ = js.delete_stream(&self.source_stream).await;
        });
    }
}

impl Tally {
    /// Every lawful event once, no other, and every bad one a dead letter with its reason.
    pub fn assert_exact(&self, what: &str) {
        eprintln!(
            "{what}: {} events, {} lawful; in the target {} ({} distinct), lost {}, duplicated {}, unlawful {}; dead letters {:?}; expected {:?}",
            self.expected.values().sum::<usize>(),
            self.lawful,
            self.passed,
            self.seen.len(),
            self.lost,
            self.duplicated,
            self.unlawful,
            self.dead_by_reason,
            self.expected
        );
        assert_eq!((self.lost, self.duplicated, self.unlawful), (0, 0, 0));
        assert_eq!(self.passed, self.lawful);
        for reason in [
            "subject_erased",
            "restricted",
            "unknown_identifier",
            "malformed",
        ] {
            assert_eq!(
                self.dead_by_reason.get(reason).copied().unwrap_or(0),
                self.expected.get(reason).copied().unwrap_or(0),
                "{reason}"
            );
        }
    }
}

/// A gate's JSON summary line, parsed.
pub(super) fn summary_of(output: &str) -> serde_json::Value {
    let line = output.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {output}"))
}

// covers: N7b
#[test]
fn two_gates_one_killed_deliver_every_lawful_event_exactly_once() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let _in_runtime = rt.enter();
    let Some(client) = connect(&rt, &nats_url()) else {
        return;
    };
    let js = jetstream::new(client);
    let events: usize = std::env::var("TUTELA_GATE_TEST_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let s = Scenario::new("gt", 200, events, 1);
    // The ledger holds tokens, never the IMSIs.
    let (_, history) = http(
        s.server.port,
        "GET",
        "/v1/subjects/G-0/consents",
        &s.token,
        "",
    );
    assert!(!history.contains(&imsi(0)), "{history}");
    let (status, problem) = http(
        s.server.port,
        "POST",
        "/v1/subjects/G-0/identifiers",
        &s.token,
        r#"{"kind":"imsi","value":"26201-not-digits","active":true}"#,
    );
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem.contains("\"field\":\"value\"") && !problem.contains("26201-not"),
        "{problem}"
    );
    let run = s.run.clone();
    rt.block_on(async {
        let _ = js.delete_stream(&s.target_stream).await;
        js.get_or_create_stream(stream::Config {
            name: s.source_stream.clone(),
            subjects: vec![format!("{run}.raw")],
            ..Default::default()
        })
        .await
        .expect("source stream");
    });
    let lawful = s.lawful().len() as u64;

    let mut a = s.gate(&nats_url(), 1);
    let b = s.gate(&nats_url(), 1);
    s.publish(&rt, &js, 0, events / 2);
    // Kill gate A while it works: once some, not all, of the first half are through.
    let deadline = Instant::now() + Duration::from_secs(60);
    while s.target_count(&rt, &js) < lawful / 8 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    a.kill().expect("SIGKILL gate A");
    let _ = a.wait();
    s.publish(&rt, &js, events / 2, events);
    let a2 = s.gate(&nats_url(), 1);

    wait_idle(&rt, &js, &s.source_stream, &run);
    // An objection recorded now takes effect for the very next event of that person.
    s.call(
        "POST",
        "/v1/subjects/G-1/objections",
        r#"{"scope":"service_quality_analysis","reason":"my particular situation"}"#,
    );
    let late: Vec<usize> = (events..)
        .filter(|n| n % (s.persons + 10) == 1 && n % 97 != 5)
        .take(50)
        .collect();
    rt.block_on(async {
        for &n in &late {
            let (bytes, kind) = s.payload(n);
            assert_eq!(kind, "passed", "person 1 was lawful until now");
            js.publish(format!("{run}.raw"), bytes.into())
                .await
                .expect("publish")
                .await
                .expect("stored");
        }
    });
    wait_idle(&rt, &js, &s.source_stream, &run);
    // The running gates purge a day that has come, whichever process filed it.
    let due_count = |day: &str| {
        rt.block_on(async {
            let st = js.get_stream(&s.target_stream).await.expect("target");
            let mut subjects = st
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
    let summaries: Vec<String> = [b, a2].into_iter().map(|g| s.stop(g)).collect();

    let tally = s.tally(&rt, &js);
    let objected_late = late.iter().filter(|n| tally.seen.contains_key(n)).count();
    assert_eq!(objected_late, 0, "events after the objection passed");
    tally.assert_exact("gate crash test");
    // The surviving gates' summaries count what they saw, by reason.
    let summaries: Vec<serde_json::Value> = summaries.iter().map(|o| summary_of(o)).collect();
    for v in &summaries {
        assert_eq!(v["routes"][0]["route"], run.as_str(), "{v}");
    }
    let objected: u64 = summaries
        .iter()
        .map(|v| v["routes"][0]["dropped"]["objected"].as_u64().unwrap_or(0))
        .sum();
    assert!(objected >= 50, "{summaries:?}");
    let redelivered: u64 = summaries
        .iter()
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
            &s.routes.to_string_lossy(),
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
        &s.target_stream,
        &format!("{run}.out.*"),
    ));
    assert_eq!(after.len(), tally.passed);

    s.delete_streams(&rt, &js);
    let dir = s.dir.clone();
    drop(s);
    let _ = std::fs::remove_dir_all(dir);
}

/// A client of `url` (one or several servers, separated by commas).
pub(super) fn try_connect(
    rt: &tokio::runtime::Runtime,
    url: &str,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    let servers: Vec<&str> = url.split(',').collect();
    rt.block_on(
        async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(3))
            .connect(servers.as_slice()),
    )
}

/// A client of `url`, or None to skip when NATS is missing outside CI.
pub(super) fn connect(rt: &tokio::runtime::Runtime, url: &str) -> Option<async_nats::Client> {
    match try_connect(rt, url) {
        Ok(c) => Some(c),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("NATS is required under CI=true: {e}")
        }
        Err(e) => {
            eprintln!("skipping: no NATS ({e})");
            None
        }
    }
}

/// Every message of `stream` under `filter`. A cluster electing leaders after a node was killed
/// can time out a request, so a failed read starts over (a partial read would miscount).
async fn stream_messages(js: &jetstream::Context, stream: &str, filter: &str) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match read_messages(js, stream, filter).await {
            Ok(out) => return out,
            Err(e) => {
                assert!(Instant::now() < deadline, "reading {stream}: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Every message of `stream` under `filter`, as far as the stream held them when the read
/// began; an error when a request failed on the way.
pub(super) async fn read_messages(
    js: &jetstream::Context,
    stream: &str,
    filter: &str,
) -> Result<Vec<Vec<u8>>, String> {
    let s = js.get_stream(stream).await.map_err(|e| e.to_string())?;
    let c: consumer::PullConsumer = s
        .create_consumer(consumer::pull::Config {
            filter_subject: filter.to_owned(),
            ack_policy: consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    // The count at creation: the gates are stopped, so nothing arrives after it.
    let expected = c.cached_info().num_pending as usize;
    let mut out = Vec::with_capacity(expected);
    let mut empty_fetches = 0;
    while out.len() < expected {
        let mut batch = c
            .fetch()
            .max_messages(5000)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .map_err(|e| e.to_string())?;
        let before = out.len();
        while let Some(m) = batch.next().await {
            out.push(m.map_err(|e| e.to_string())?.payload.to_vec());
        }
        if out.len() == before {
            empty_fetches += 1;
            if empty_fetches > 20 {
                return Err(format!("stalled at {} of {expected}", out.len()));
            }
        } else {
            empty_fetches = 0;
        }
    }
    Ok(out)
}

/// Waits until the route's consumer has nothing pending or unacknowledged (an unreachable
/// stream or consumer, as during a cluster's leader election, is not idle).
pub(super) fn wait_idle(
    rt: &tokio::runtime::Runtime,
    js: &jetstream::Context,
    source: &str,
    run: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let idle = rt.block_on(async {
            let Ok(s) = js.get_stream(source).await else {
                return false;
            };
            let Ok(mut c) = s
                .get_consumer::<consumer::pull::Config>(&format!("tutela-gate-{run}"))
                .await
            else {
                return false;
            };
            c.info()
                .await
                .is_ok_and(|i| i.num_pending == 0 && i.num_ack_pending == 0)
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

/// Waits for a stopping gate (killing it after 30 s) and returns its standard output.
fn wait_output(child: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut o, &mut out);
    }
    let _ = child.wait();
    out
}
