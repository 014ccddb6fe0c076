//! The event stream for downstream systems through a NATS outage and a server crash (issue
//! 9): `tutela serve` publishes every ledger event to a `nats-server` the test starts; the
//! test kills NATS (SIGKILL) and keeps writing, kills the server (SIGKILL) and starts it again,
//! then starts NATS again on the same storage. Afterwards every acknowledged write is in the
//! stream exactly once, each person's events in the order they were written, and `tutela
//! events tail` prints them. Under `CI=true` a missing `nats-server` binary fails the test.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream;

use super::gate::read_messages;
use super::gate_cluster::nats_server_or_skip;
use super::{BIN, Server, free_port, http, temp_dir};

const TOKEN: &str = "events-test-token-0123456789";
const PERSONS: usize = 20;

pub(super) fn start_nats(binary: &Path, dir: &Path, port: u16) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("nats.log"))
        .expect("nats log");
    Command::new(binary)
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(dir.join("nats"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn nats-server")
}

fn start_server(dir: &Path, nats: &str) -> Server {
    let port = free_port();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("serve.log"))
        .expect("serve log");
    let child = Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--database", "sqlite://tutela.db"])
        .current_dir(dir)
        .env("TUTELA_API_TOKEN", TOKEN)
        .env("TUTELA_NATS_URL", nats)
        .env("TUTELA_LOG", "warn")
        .env_remove("TUTELA_LOG_KEY")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn tutela serve");
    let server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("tutela serve did not start");
}

/// What the test wrote and the server acknowledged: per person, the kinds in order.
#[derive(Default)]
struct Written {
    kinds: Vec<Vec<&'static str>>,
}

impl Written {
    fn consents(&mut self, server: &Server, rounds: usize) {
        for _ in 0..rounds {
            for p in 0..PERSONS {
                let granted = self.kinds[p].len() % 2 == 1;
                let body = format!(
                    r#"{{"purpose":"email_marketing","channel":"email","granted":{granted},"source":"web","evidence":"opt-in form"}}"#
                );
                let (s, b) = http(
                    server.port,
                    "POST",
                    &format!("/v1/subjects/V-{p}/consents"),
                    TOKEN,
                    &body,
                );
                assert_eq!(s, 201, "{b}");
                self.kinds[p].push(if granted {
                    "consent_given"
                } else {
                    "consent_withdrawn"
                });
            }
        }
    }

    fn total(&self) -> usize {
        self.kinds.iter().map(Vec::len).sum()
    }
}

/// The stream's events, or `None` while NATS or the stream is not there (yet).
async fn stream_events(js: &jetstream::Context) -> Option<Vec<serde_json::Value>> {
    let messages = read_messages(js, "TUTELA_EVENTS", "tutela.events.>")
        .await
        .ok()?;
    messages
        .iter()
        .map(|m| serde_json::from_slice(m).ok())
        .collect()
}

#[test]
fn every_acknowledged_write_reaches_nats_once_across_an_outage_and_a_crash() {
    let Some(binary) = nats_server_or_skip() else {
        return;
    };
    let dir = temp_dir("events-outage");
    let nats_port = free_port();
    let url = format!("nats://127.0.0.1:{nats_port}");
    let mut nats = start_nats(&binary, &dir, nats_port);
    let mut server = start_server(&dir, &url);
    let mut written = Written {
        kinds: vec![Vec::new(); PERSONS],
    };
    for p in 0..PERSONS {
        let (s, b) = http(
            server.port,
            "PUT",
            &format!("/v1/subjects/V-{p}"),
            TOKEN,
            r#"{"relationship":"customer"}"#,
        );
        assert_eq!(s, 201, "{b}");
        written.kinds[p].push("relationship_set");
    }
    written.consents(&server, 3);
    // NATS dies; the server keeps acknowledging writes (the ledger holds them).
    nats.kill().expect("SIGKILL nats-server");
    let _ = nats.wait();
    written.consents(&server, 3);
    // The server dies too, and starts again while NATS is still down.
    drop(server);
    server = start_server(&dir, &url);
    written.consents(&server, 2);
    // NATS stays down until the publisher has failed at least once (its requests time out).
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(dir.join("serve.log"))
        .unwrap_or_default()
        .contains("retrying")
    {
        assert!(
            Instant::now() < deadline,
            "the publisher never noticed that NATS is down"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    nats = start_nats(&binary, &dir, nats_port);

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let deadline = Instant::now() + Duration::from_secs(90);
    let events = loop {
        let got = rt.block_on(async {
            let client = async_nats::connect(url.as_str()).await.ok()?;
            stream_events(&jetstream::new(client)).await
        });
        if let Some(events) = got
            && events.len() >= written.total()
        {
            break events;
        }
        assert!(
            Instant::now() < deadline,
            "the stream holds {:?} of {} events; see {}",
            got_len(&rt, &url),
            written.total(),
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    // The outage was felt: the server's publisher failed and retried.
    let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
    assert!(
        log.contains("retrying"),
        "no failed publish during the outage: {log}"
    );
    let ids: std::collections::HashSet<&str> =
        events.iter().filter_map(|v| v["id"].as_str()).collect();
    assert_eq!(ids.len(), events.len(), "an event is in the stream twice");
    assert_eq!(events.len(), written.total(), "lost or extra events");
    for (p, kinds) in written.kinds.iter().enumerate() {
        let person = format!("V-{p}");
        let seen: Vec<&str> = events
            .iter()
            .filter(|v| v["subject"] == person.as_str())
            .filter_map(|v| v["kind"].as_str())
            .collect();
        assert_eq!(&seen, kinds, "{person}'s events out of order");
    }
    assert!(
        events
            .iter()
            .all(|v| !v.to_string().contains("opt-in form"))
    );
    eprintln!(
        "events outage test: {} writes acknowledged, {} in the stream, {} distinct, lost 0, duplicated 0",
        written.total(),
        events.len(),
        ids.len()
    );

    // `tutela events tail` prints the same events.
    let out = Command::new(BIN)
        .args(["events", "tail", "--nats", &url, "--idle-seconds", "2"])
        .args(["--subject", "tutela.events.consent_withdrawn"])
        .output()
        .expect("tail");
    let text = String::from_utf8_lossy(&out.stdout);
    let withdrawn = written
        .kinds
        .iter()
        .flatten()
        .filter(|k| **k == "consent_withdrawn")
        .count();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text.lines().count(), withdrawn, "{text}");
    drop(server);
    let _ = nats.kill();
    let _ = nats.wait();
    let _ = std::fs::remove_dir_all(dir);
}

fn got_len(rt: &tokio::runtime::Runtime, url: &str) -> Option<usize> {
    rt.block_on(async {
        let client = async_nats::connect(url).await.ok()?;
        stream_events(&jetstream::new(client))
            .await
            .map(|e| e.len())
    })
}
