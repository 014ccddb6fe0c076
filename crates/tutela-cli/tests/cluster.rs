//! Two `tutela serve` instances on one PostgreSQL schema, with the event stream on NATS,
//! under crashes (issue 9). Client threads send consent writes with idempotency keys to both
//! instances at once and retry a failed write, with the same key, on the other instance. The
//! harness meanwhile kills an instance (SIGKILL) at random moments and starts it again, and
//! stops NATS and starts it again; a second test restarts PostgreSQL itself (a private cluster,
//! stopped in immediate mode, which is a crash to its recovery). Afterwards every acknowledged
//! write is in the ledger exactly once, both instances decide from it, and every ledger event
//! is in the stream exactly once after deduplication by its id.
//!
//! The size comes from `TUTELA_CRASH_WRITES` and `TUTELA_CRASH_KILLS` (CI: 800 and 4); the
//! full size (10,000 and 20) runs as a benchmark (BENCHMARKS.md). Under `CI=true` a missing
//! PostgreSQL, `nats-server` or PostgreSQL server binaries fail the tests.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use tutela_store::testing::PgSchema;

use super::events::start_nats;
use super::gate::read_messages;
use super::gate_cluster::nats_server_or_skip;
use super::{BIN, free_port, temp_dir};

const TOKEN: &str = "cluster-test-token-0123456789";
const PERSONS: usize = 40;
const CLIENTS: usize = 8;

fn size(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One HTTP exchange that reports failure instead of panicking: the instances die under it.
fn try_http(
    port: u16,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> Option<(u16, String)> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(15))).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.get(9..12).and_then(|c| c.parse().ok())?;
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

/// A small xorshift generator: the kill moments, reproducible from the seed the test prints.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// A `tutela serve` process on a fixed port, started again on the same port after a kill.
struct Instance {
    name: &'static str,
    dir: PathBuf,
    port: u16,
    database: String,
    nats: String,
    child: Option<Child>,
}

impl Instance {
    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("serve-{}.log", self.name)))
            .expect("serve log");
        let child = Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .args(["--database", &self.database])
            .args(["--config", "tutela.toml"])
            .current_dir(&self.dir)
            .env("TUTELA_API_TOKEN", TOKEN)
            .env("TUTELA_NATS_URL", &self.nats)
            .env("TUTELA_LOG", "warn")
            .env_remove("TUTELA_LOG_KEY")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn tutela serve");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if try_http(self.port, "GET", "/healthz", "", "").is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "instance {} did not start; see {}",
            self.name,
            self.dir.display()
        );
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn ready(&self) -> Option<serde_json::Value> {
        let (status, body) = try_http(self.port, "GET", "/readyz", "", "")?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        (status == 200).then_some(v)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `nats-server` with JetStream on its own port and storage, killed and started again.
struct Nats {
    binary: PathBuf,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Nats {
    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn start(&mut self) {
        self.child = Some(start_nats(&self.binary, &self.dir, self.port));
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A PostgreSQL cluster of the test's own, so that the test may crash and restart it.
struct PrivatePostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    /// `None` (the test skips) only outside CI when the server binaries are missing.
    fn create(dir: &Path) -> Option<PrivatePostgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|versions| versions.flatten().map(|v| v.path().join("bin")).max())
            .filter(|b| b.join("pg_ctl").exists());
        let Some(bin) = bin else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "PostgreSQL's server binaries (/usr/lib/postgresql/*/bin) are required under CI=true"
                );
            }
            eprintln!("skipping: no PostgreSQL server binaries; CI=true makes this a failure");
            return None;
        };
        let data = dir.join("pgdata");
        // PostgreSQL refuses to run as root: the cluster belongs to the `postgres` user.
        let own = Command::new("chown")
            .args(["postgres"])
            .arg(dir)
            .status()
            .expect("chown");
        assert!(own.success(), "chown postgres {}", dir.display());
        let init = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .status()
            .expect("initdb");
        assert!(init.success(), "initdb failed");
        let pg = PrivatePostgres {
            bin,
            data,
            port: free_port(),
        };
        pg.start();
        Some(pg)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg_ctl(&self, args: &[&str]) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.data.display()
        );
        let status = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-o", &options, "-l"])
            .arg(self.data.join("server.log"))
            .args(args)
            .stdout(Stdio::null())
            .status()
            .expect("pg_ctl");
        assert!(status.success(), "pg_ctl {args:?} failed");
    }

    fn start(&self) {
        self.pg_ctl(&["-w", "start"]);
    }

    /// A crash as far as the database knows: no checkpoint, recovery from the WAL at start.
    fn crash(&self) {
        self.pg_ctl(&["-m", "immediate", "-w", "stop"]);
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// What goes wrong during the run.
#[derive(Clone, Copy)]
enum Fault {
    /// SIGKILL an instance and start it again; NATS is killed at the middle kill and started
    /// again at the next.
    Instances,
    /// Crash PostgreSQL and start it again.
    Postgres,
}

/// The acknowledged writes: key index to the ledger sequence number the instance answered.
type Acknowledged = HashMap<usize, i64>;

/// Sends `writes` consent writes from `CLIENTS` threads; each failed write goes to the other
/// instance with the same key until one acknowledges it.
fn drive(
    ports: [u16; 2],
    writes: usize,
    run: &str,
    acked: &Arc<AtomicUsize>,
) -> std::thread::JoinHandle<Acknowledged> {
    let run = run.to_owned();
    let acked = acked.clone();
    std::thread::spawn(move || {
        let mut clients = Vec::new();
        for c in 0..CLIENTS {
            let run = run.clone();
            let acked = acked.clone();
            clients.push(std::thread::spawn(move || {
                let mut mine = Acknowledged::new();
                for i in (c..writes).step_by(CLIENTS) {
                    let granted = (i / PERSONS).is_multiple_of(2);
                    let body = format!(
                        r#"{{"purpose":"phone_marketing","channel":"phone","granted":{granted},"source":"call_center","evidence":"recorded call"}}"#
                    );
                    let headers = format!("Idempotency-Key: {run}-{i}\r\n");
                    let path = format!("/v1/subjects/K-{}/consents", i % PERSONS);
                    let deadline = Instant::now() + Duration::from_secs(120);
                    let mut target = i % 2;
                    let seq = loop {
                        match try_http(ports[target], "POST", &path, &headers, &body) {
                            Some((200 | 201, b)) => {
                                let v: serde_json::Value =
                                    serde_json::from_str(&b).expect("a Recorded body");
                                break v["seq"].as_i64().expect("seq");
                            }
                            Some((s, b)) if s < 500 => panic!("write {i} refused: {s} {b}"),
                            _ => {}
                        }
                        assert!(Instant::now() < deadline, "write {i} never acknowledged");
                        target = 1 - target;
                        std::thread::sleep(Duration::from_millis(20));
                    };
                    mine.insert(i, seq);
                    acked.fetch_add(1, Ordering::Relaxed);
                }
                mine
            }));
        }
        let mut all = Acknowledged::new();
        for c in clients {
            all.extend(c.join().expect("client"));
        }
        all
    })
}

fn crash_run(fault: Fault) {
    let Some(nats_binary) = nats_server_or_skip() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let Some(keys_schema) = rt.block_on(PgSchema::create()) else {
        return;
    };
    let dir = temp_dir("cluster");
    let private = match fault {
        Fault::Postgres => match PrivatePostgres::create(&dir) {
            Some(pg) => Some(pg),
            None => return,
        },
        Fault::Instances => None,
    };
    let ledger_schema = match fault {
        Fault::Instances => rt.block_on(PgSchema::create()),
        Fault::Postgres => None,
    };
    let database = match (&private, &ledger_schema) {
        (Some(pg), _) => pg.url(),
        (None, Some(schema)) => schema.store_url(),
        (None, None) => return,
    };
    // The key store is another database, shared by the instances, as the operator guide says.
    std::fs::write(
        dir.join("tutela.toml"),
        format!("keystore = \"{}\"\n", keys_schema.store_url()),
    )
    .expect("config");
    let writes = size("TUTELA_CRASH_WRITES", 800);
    let kills = size("TUTELA_CRASH_KILLS", 4);
    let mut nats = Nats {
        binary: nats_binary,
        dir: dir.clone(),
        port: free_port(),
        child: None,
    };
    nats.start();
    let instance = |name| Instance {
        name,
        dir: dir.clone(),
        port: free_port(),
        database: database.clone(),
        nats: nats.url(),
        child: None,
    };
    let mut instances = [instance("a"), instance("b")];
    // One after the other: the first start creates the key files both share.
    for i in &mut instances {
        i.start();
    }
    for p in 0..PERSONS {
        let (s, b) = try_http(
            instances[p % 2].port,
            "PUT",
            &format!("/v1/subjects/K-{p}"),
            "",
            r#"{"relationship":"customer"}"#,
        )
        .expect("relationship");
        assert!(s == 201 || s == 200, "{s} {b}");
    }

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64 | 1)
        .unwrap_or(7);
    eprintln!("crash run: {writes} writes, {kills} faults, seed {seed}");
    let mut rng = Rng(seed);
    let acked = Arc::new(AtomicUsize::new(0));
    let run = format!("crash-{seed}");
    let driver = drive([instances[0].port, instances[1].port], writes, &run, &acked);
    let started = Instant::now();
    let mut nats_down = false;
    for k in 0..kills {
        // A random moment within the k-th share of the writes.
        let share = writes / (kills + 1);
        let at = share * (k + 1) - rng.below(share as u64 / 2) as usize;
        while acked.load(Ordering::Relaxed) < at && !driver.is_finished() {
            std::thread::sleep(Duration::from_millis(2));
        }
        match fault {
            Fault::Instances => {
                let victim = rng.below(2) as usize;
                instances[victim].kill();
                if k == kills / 2 {
                    nats.kill();
                    nats_down = true;
                } else if nats_down {
                    nats.start();
                    nats_down = false;
                }
                std::thread::sleep(Duration::from_millis(rng.below(200)));
                instances[victim].start();
            }
            Fault::Postgres => {
                let pg = private.as_ref().expect("private cluster");
                pg.crash();
                std::thread::sleep(Duration::from_millis(200 + rng.below(500)));
                pg.start();
            }
        }
    }
    if nats_down {
        nats.start();
    }
    let acknowledged = driver.join().expect("driver");
    let load_seconds = started.elapsed().as_secs_f64();
    assert_eq!(acknowledged.len(), writes);

    // Both instances ready and at the ledger's head.
    let admin = rt.block_on(async {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&database)
            .await
            .expect("connect to the ledger's database")
    });
    let ledger: Vec<(i64, String, String, Option<String>)> = rt
        .block_on(
            sqlx::query_as("SELECT seq, subject, kind, idempotency_key FROM ledger ORDER BY seq")
                .fetch_all(&admin),
        )
        .expect("ledger");
    let head = ledger.last().map_or(0, |r| r.0);
    let deadline = Instant::now() + Duration::from_secs(30);
    for i in &instances {
        loop {
            if let Some(v) = i.ready()
                && v["applied_seq"].as_i64() == Some(head)
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "instance {} never caught up to {head}",
                i.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    // Every acknowledged write once, at the position it was acknowledged with.
    let mut by_key: HashMap<&str, Vec<i64>> = HashMap::new();
    for (seq, _, _, key) in &ledger {
        if let Some(k) = key {
            by_key.entry(k.as_str()).or_default().push(*seq);
        }
    }
    let mut lost = 0;
    let mut duplicated = 0;
    for (i, seq) in &acknowledged {
        match by_key.get(format!("{run}-{i}").as_str()).map(Vec::as_slice) {
            None | Some([]) => lost += 1,
            Some([found]) => assert_eq!(found, seq, "write {i} acknowledged at another seq"),
            Some(_) => duplicated += 1,
        }
    }
    let found = acknowledged.len() - lost;
    eprintln!(
        "crash run: writes acknowledged {}, found {found}, lost {lost}, duplicated {duplicated}; load {load_seconds:.1} s",
        acknowledged.len()
    );
    assert_eq!((lost, duplicated), (0, 0));
    let extra = by_key.keys().filter(|k| k.starts_with(&run)).count() - found;
    assert_eq!(extra, 0, "ledger rows no client wrote");

    // Both instances decide from the ledger: each person's last consent.
    let mut expected: HashMap<&str, bool> = HashMap::new();
    for (_, subject, kind, _) in &ledger {
        match kind.as_str() {
            "consent_given" => expected.insert(subject, true),
            "consent_withdrawn" => expected.insert(subject, false),
            _ => None,
        };
    }
    for i in &instances {
        for (subject, allowed) in &expected {
            let body = format!(
                r#"{{"subject":"{subject}","purpose":"phone_marketing","categories":["contact"],"channel":"phone"}}"#
            );
            let (s, b) = try_http(i.port, "POST", "/v1/decisions", "", &body).expect("decision");
            assert_eq!(s, 200, "{b}");
            assert!(
                b.contains(&format!("\"allowed\":{allowed}")),
                "instance {} on {subject}: {b}",
                i.name
            );
        }
    }

    // Every ledger event in the stream once after deduplication by id.
    let deadline = Instant::now() + Duration::from_secs(90);
    let (raw, ids) = loop {
        let got = rt.block_on(async {
            let client = async_nats::connect(nats.url()).await.ok()?;
            let js = jetstream::new(client);
            read_messages(&js, "TUTELA_EVENTS", "tutela.events.>")
                .await
                .ok()
        });
        let raw = got.unwrap_or_default();
        let ids: HashSet<String> = raw
            .iter()
            .filter_map(|m| serde_json::from_slice::<serde_json::Value>(m).ok())
            .filter(|v| v["source"] == "ledger")
            .filter_map(|v| v["id"].as_str().map(str::to_owned))
            .collect();
        if ids.len() >= ledger.len() {
            break (raw, ids);
        }
        assert!(
            Instant::now() < deadline,
            "the stream holds {} of {} ledger events; see {}",
            ids.len(),
            ledger.len(),
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let missing = ledger
        .iter()
        .filter(|(seq, ..)| !ids.contains(&format!("ledger:{seq}")))
        .count();
    eprintln!(
        "crash run: ledger events {}, in the stream {} (messages {}), missing {missing}",
        ledger.len(),
        ids.len(),
        raw.len()
    );
    assert_eq!(missing, 0);
    assert_eq!(ids.len(), ledger.len(), "events no ledger row explains");

    drop(instances);
    drop(nats);
    drop(private);
    rt.block_on(async {
        keys_schema.drop_schema().await;
        if let Some(s) = ledger_schema {
            s.drop_schema().await;
        }
    });
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn two_instances_lose_no_acknowledged_write_when_killed_at_random() {
    crash_run(Fault::Instances);
}

#[test]
fn two_instances_lose_no_acknowledged_write_when_postgresql_crashes() {
    crash_run(Fault::Postgres);
}
