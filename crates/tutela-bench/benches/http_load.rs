//! `cargo bench -p tutela-bench --bench http_load`: one and two `tutela serve` processes on one
//! PostgreSQL database, driven over loopback HTTP with a mix of decisions, durable consent
//! writes and request intake (issue 9). For each population (1M and 10M persons by default) and
//! each number of instances it reports, per operation, the throughput and p50/p99 latency, and
//! how long an instance took to become ready.
//!
//! The load driver is in this process: a single-threaded tokio runtime (so it takes at most one
//! of the machine's cores) keeping `TUTELA_BENCH_CONNECTIONS` keep-alive connections, spread
//! evenly over the instances. Each connection runs closed-loop: it sends the next request when
//! the answer to the previous one has arrived, choosing the operation at random by the mix.
//!
//! Needs the release binary (`cargo build --release -p tutela-cli`, or `TUTELA_BIN`). Persons
//! are seeded once per population into the schema `tutela_http_load_<persons>` through the store,
//! with the random histories of the decision benchmark, and kept for the next run (drop the
//! schema to reseed). The key store is the schema `tutela_http_load_keys`.
//!
//! Environment: `TUTELA_BENCH_PERSONS` (default `1000000,10000000`), `TUTELA_BENCH_INSTANCES`
//! (default `1,2`), `TUTELA_BENCH_SECONDS` (default 20), `TUTELA_BENCH_CONNECTIONS` (default
//! 32), `TUTELA_BENCH_MIX` (default `decisions=90,consents=8,requests=2`), `TUTELA_TEST_PG_URL`.

#![allow(
    clippy::print_stdout,
    clippy::panic,
    clippy::unwrap_used,
    reason = "a benchmark report"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use sqlx::AssertSqlSafe;
use tutela_bench::seed::{self, subject};
use tutela_bench::{Rng, reference};
use tutela_store::testing::pg_url;
use tutela_store::{AnyStore, PgStore, Store};

const TOKEN: &str = "load-bench-token-0123456789abcdef";
const OPS: [&str; 3] = ["decisions", "consents", "requests"];

/// The decisions asked, as the other systems of the notice's operator ask them.
const QUESTIONS: [&str; 6] = [
    r#""purpose":"contract_performance","categories":["contact","traffic"]"#,
    r#""purpose":"email_marketing","categories":["contact"],"channel":"email""#,
    r#""purpose":"phone_marketing","categories":["contact"],"channel":"phone""#,
    r#""purpose":"advertising_with_usage_data","categories":["usage","device"]"#,
    r#""purpose":"service_quality_analysis","categories":["usage"],"recipient":"cloud_us""#,
    r#""purpose":"contract_performance","categories":["contact"],"country":"IN""#,
];

fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect()
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |s| s.parse().unwrap())
}

fn mix() -> [u64; 3] {
    let spec = std::env::var("TUTELA_BENCH_MIX")
        .unwrap_or_else(|_| "decisions=90,consents=8,requests=2".to_owned());
    let mut weights = [0; 3];
    for part in spec.split(',') {
        let (op, w) = part.split_once('=').unwrap();
        let i = OPS.iter().position(|o| *o == op.trim()).unwrap();
        weights[i] = w.trim().parse().unwrap();
    }
    weights
}

fn schema_url(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

async fn admin() -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&pg_url())
        .await
        .unwrap()
}

/// Seeds `persons` persons into their schema unless an earlier run did; returns the ledger's
/// size.
async fn seed(persons: usize) -> i64 {
    let schema = format!("tutela_http_load_{persons}");
    let admin = admin().await;
    sqlx::query(AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}"
    )))
    .execute(&admin)
    .await
    .unwrap();
    let seeded: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT persons FROM {schema}.load_seeded"
    )))
    .fetch_optional(&admin)
    .await
    .unwrap_or(None);
    if seeded != Some(persons as i64) {
        // No marker: a seeding that did not finish, or none; start from an empty schema.
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP SCHEMA {schema} CASCADE; CREATE SCHEMA {schema}"
        )))
        .execute(&admin)
        .await
        .unwrap();
        let store = AnyStore::Postgres(
            PgStore::connect_in_schema(&pg_url(), Some(&schema))
                .await
                .unwrap(),
        );
        store.migrate().await.unwrap();
        let t = Instant::now();
        let policy = reference().unwrap();
        let mut shown = 0;
        seed::random_histories(&store, &policy, persons, &mut Rng::new(9), |done| {
            if done / 1_000_000 > shown && done < persons {
                shown = done / 1_000_000;
                println!(
                    "  seeded {done} persons in {:.0} s",
                    t.elapsed().as_secs_f64()
                );
            }
        })
        .await
        .unwrap();
        sqlx::query(AssertSqlSafe(format!(
            "CREATE TABLE {schema}.load_seeded (persons BIGINT NOT NULL)"
        )))
        .execute(&admin)
        .await
        .unwrap();
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {schema}.load_seeded VALUES ($1)"
        )))
        .bind(persons as i64)
        .execute(&admin)
        .await
        .unwrap();
        println!(
            "  seeded {persons} persons in {:.0} s",
            t.elapsed().as_secs_f64()
        );
    }
    sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT count(*) FROM {schema}.ledger"
    )))
    .fetch_one(&admin)
    .await
    .unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Instance {
    child: Child,
    port: u16,
}

impl Instance {
    fn start(bin: &Path, dir: &Path, database: &str, n: usize) -> Instance {
        let port = free_port();
        let log = std::fs::File::create(dir.join(format!("serve-{n}.log"))).unwrap();
        let child = Command::new(bin)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database", database, "--config", "tutela.toml"])
            .current_dir(dir)
            .env("TUTELA_API_TOKEN", TOKEN)
            .env("TUTELA_LOG", "warn")
            .env_remove("TUTELA_NATS_URL")
            .env_remove("TUTELA_LOG_KEY")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Instance { child, port }
    }

    /// The resident memory of the process, in MiB.
    fn rss_mib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map_or(0, |kb| kb / 1024)
    }

    /// Stops the process with SIGTERM, so that it writes its snapshot as in a rolling restart.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(port: u16) -> Option<Sender> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    stream.set_nodelay(true).ok()?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Some(sender)
}

async fn call(
    sender: &mut Sender,
    port: u16,
    method: &str,
    path: &str,
    body: String,
) -> Option<u16> {
    sender.ready().await.ok()?;
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", format!("127.0.0.1:{port}"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let answer = sender.send_request(req).await.ok()?;
    let status = answer.status().as_u16();
    answer.into_body().collect().await.ok()?;
    Some(status)
}

/// Waits for `/readyz` to answer 200 (the state loaded and caught up with the ledger).
async fn wait_ready(instance: &Instance) -> Duration {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(600) {
        if let Some(mut s) = connect(instance.port).await
            && call(&mut s, instance.port, "GET", "/readyz", String::new()).await == Some(200)
        {
            return t.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("instance on port {} not ready after 600 s", instance.port);
}

#[derive(Default)]
struct Samples {
    micros: [Vec<u32>; 3],
    errors: [u64; 3],
    /// Refusals by operation and status (an erased person's consent is refused, for one).
    statuses: std::collections::BTreeMap<(usize, u16), u64>,
}

/// One closed-loop connection until `until`; samples are kept only after `from`.
async fn drive(
    port: u16,
    persons: usize,
    seed: u64,
    weights: [u64; 3],
    from: Instant,
    until: Instant,
) -> Samples {
    let mut rng = Rng::new(seed);
    let mut out = Samples::default();
    let total: u64 = weights.iter().sum();
    let mut sender = connect(port).await.unwrap();
    let mut n = 0u64;
    while Instant::now() < until {
        n += 1;
        let pick = rng.next_u64() % total;
        let op = if pick < weights[0] {
            0
        } else if pick < weights[0] + weights[1] {
            1
        } else {
            2
        };
        let who = subject(rng.below(persons));
        let (path, body) = match op {
            0 => (
                "/v1/decisions".to_owned(),
                format!(
                    r#"{{"subject":"{who}",{}}}"#,
                    QUESTIONS[rng.below(QUESTIONS.len())]
                ),
            ),
            1 => (
                format!("/v1/subjects/{who}/consents"),
                format!(
                    r#"{{"purpose":"email_marketing","channel":"email","granted":{},"source":"load"}}"#,
                    n.is_multiple_of(2)
                ),
            ),
            _ => (
                "/v1/requests".to_owned(),
                format!(r#"{{"type":"access","subject":"{who}"}}"#),
            ),
        };
        let t = Instant::now();
        let status = call(&mut sender, port, "POST", &path, body).await;
        let took = t.elapsed();
        if t < from {
            if status.is_none() {
                sender = connect(port).await.unwrap();
            }
            continue;
        }
        match status {
            Some(200 | 201) => out.micros[op].push(took.as_micros() as u32),
            Some(status) => {
                out.errors[op] += 1;
                *out.statuses.entry((op, status)).or_default() += 1;
            }
            None => {
                out.errors[op] += 1;
                sender = connect(port).await.unwrap();
            }
        }
    }
    out
}

fn percentile_ms(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1e3
}

fn run(persons: usize, instances: &[Instance], connections: u64, seconds: u64) {
    let weights = mix();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let from = Instant::now() + Duration::from_secs(3);
    let until = from + Duration::from_secs(seconds);
    let ports: Vec<u16> = instances.iter().map(|i| i.port).collect();
    let parts = rt.block_on(async {
        let tasks: Vec<_> = (0..connections)
            .map(|c| {
                let port = ports[c as usize % ports.len()];
                tokio::spawn(drive(port, persons, 1000 + c, weights, from, until))
            })
            .collect();
        let mut parts = Vec::new();
        for t in tasks {
            parts.push(t.await.unwrap());
        }
        parts
    });
    let mut all = Samples::default();
    for p in parts {
        for (op, micros) in p.micros.into_iter().enumerate() {
            all.micros[op].extend(micros);
            all.errors[op] += p.errors[op];
        }
        for (k, v) in p.statuses {
            *all.statuses.entry(k).or_default() += v;
        }
    }
    let mut total = 0usize;
    for (op, name) in OPS.iter().enumerate() {
        let samples = &mut all.micros[op];
        samples.sort_unstable();
        total += samples.len();
        println!(
            "| {persons} | {} | {} | {:.0} | {:.2} | {:.2} | {} |",
            instances.len(),
            name,
            samples.len() as f64 / seconds as f64,
            percentile_ms(samples, 0.5),
            percentile_ms(samples, 0.99),
            all.errors[op],
        );
    }
    for ((op, status), n) in &all.statuses {
        println!("  refused: {} answered {status} {n} times", OPS[*op]);
    }
    println!(
        "| {persons} | {} | **all** | **{:.0}** | | | |",
        instances.len(),
        total as f64 / seconds as f64
    );
}

fn binary() -> PathBuf {
    let bin = std::env::var("TUTELA_BIN").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/tutela"),
        PathBuf::from,
    );
    assert!(
        bin.exists(),
        "{} missing: cargo build --release -p tutela-cli",
        bin.display()
    );
    bin
}

fn main() {
    let bin = binary();
    let persons_list = env_list("TUTELA_BENCH_PERSONS", "1000000,10000000");
    let instance_counts = env_list("TUTELA_BENCH_INSTANCES", "1,2");
    let seconds = env_num("TUTELA_BENCH_SECONDS", 20);
    let connections = env_num("TUTELA_BENCH_CONNECTIONS", 32);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join("tutela-http-load");
    std::fs::create_dir_all(&dir).unwrap();
    rt.block_on(async {
        let admin = admin().await;
        sqlx::query("CREATE SCHEMA IF NOT EXISTS tutela_http_load_keys")
            .execute(&admin)
            .await
            .unwrap();
    });
    std::fs::write(
        dir.join("tutela.toml"),
        format!(
            "keystore = \"{}\"\n",
            schema_url(&pg_url(), "tutela_http_load_keys")
        ),
    )
    .unwrap();
    println!(
        "machine: {} cores; {connections} connections, {seconds} s measured after 3 s of warm-up, mix {:?} of {OPS:?}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        mix()
    );
    for &persons in &persons_list {
        let events = rt.block_on(seed(persons));
        println!("\n{persons} persons, {events} ledger events");
        let database = schema_url(&pg_url(), &format!("tutela_http_load_{persons}"));
        let mut rows = Vec::new();
        for &count in &instance_counts {
            let instances: Vec<Instance> = (0..count)
                .map(|n| Instance::start(&bin, &dir, &database, n))
                .collect();
            let ready: Vec<Duration> = instances
                .iter()
                .map(|i| rt.block_on(wait_ready(i)))
                .collect();
            rows.push((count, ready));
            println!(
                "\n| persons | instances | operation | per second | p50 ms | p99 ms | refused or failed |"
            );
            println!("|---|---|---|---|---|---|---|");
            run(persons, &instances, connections, seconds);
            let rss: Vec<String> = instances
                .iter()
                .map(|i| format!("{} MiB", i.rss_mib()))
                .collect();
            println!("resident memory after the run: {}", rss.join(", "));
            for i in instances {
                i.stop();
            }
        }
        for (count, ready) in rows {
            let secs: Vec<String> = ready
                .iter()
                .map(|d| format!("{:.1} s", d.as_secs_f64()))
                .collect();
            println!("{count} instance(s): ready after {}", secs.join(", "));
        }
    }
}
