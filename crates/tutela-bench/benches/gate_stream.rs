//! `cargo bench -p tutela-bench --bench gate_stream`: the gate end to end on NATS JetStream on
//! loopback, beside the NATS ceiling measured in the same run.
//!
//! 100,000 persons (random ledger histories, as in the decisions benchmark) in a SQLite store,
//! each linked to a SIM; `GATE_STREAM_EVENTS` (default 1,000,000) usage events of them in a
//! source stream, `GATE_STREAM_LINES` (default 1) to a message as JSON lines. Then, on the
//! same stream with fresh durable consumers:
//!
//! - *forward-only*: the gate's loop without the gate: fetch a batch, publish every payload
//!   as it is to a target stream with a message id, wait for the publish acks, ack the
//!   batch. This is the ceiling of what any consumer that stores exactly once can do here.
//! - *gate*: `tutela_runtime::gate::run` with `policies/gate.toml`: the same loop, plus the
//!   catch-up with the ledger, the transform, the day-filed subjects and the dead letters.
//!
//! Both run until their consumer has nothing pending or unacknowledged. The gate's figure
//! counts from when its consumer exists (it creates it once it has folded the ledger); the
//! figure with its start is printed beside it. NATS runs on the same
//! two cores as the consumer, so each figure includes the server's share of the machine.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    reason = "a benchmark report"
)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;
use tutela_bench::{Rng, bench_imsi, env, random_events, reference, seed, usage_event};
use tutela_core::gate::{TOKEN_DOMAIN, identifier_token, parse_routes};
use tutela_core::ledger::EventKind;
use tutela_core::pseudonym::{Identifier, PseudonymKeys};
use tutela_runtime::gate::{GateSettings, SharedCounts};
use tutela_store::{AnyStore, SqliteStore, Store};

const ROUTES: &str = include_str!("../../../policies/gate.toml");
const BATCH: usize = 1000;

async fn seed(store: &AnyStore, persons: usize, keys: &PseudonymKeys) {
    let policy = reference().unwrap();
    let tokens = keys.domain(TOKEN_DOMAIN, None).unwrap();
    let mut rng = Rng::new(11);
    let at: jiff::Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
    let mut batch = Vec::with_capacity(20_000);
    for i in 0..persons {
        let subject = format!("C{i:08}");
        let link = EventKind::Identifier {
            kind: Identifier::Imsi,
            key_id: tokens.key_id().to_owned(),
            token: identifier_token(&tokens, Identifier::Imsi, &bench_imsi(i)).unwrap(),
            active: true,
        };
        // The link first: an erasure among the random events ends what may be recorded.
        for kind in std::iter::once(link).chain(random_events(&policy, &mut rng)) {
            batch.push(seed::event(subject.clone(), at, kind));
        }
        if batch.len() >= 20_000 || i + 1 == persons {
            for r in store.append(&batch).await.unwrap() {
                r.unwrap();
            }
            batch.clear();
        }
    }
}

async fn pending(js: &jetstream::Context, stream: &str, durable: &str) -> (u64, u64) {
    let s = js.get_stream(stream).await.unwrap();
    let mut c: consumer::PullConsumer = s.get_consumer(durable).await.unwrap();
    let i = c.info().await.unwrap();
    (i.num_pending, i.num_ack_pending as u64)
}

async fn drained(js: &jetstream::Context, stream: &str, durable: &str) {
    loop {
        if pending(js, stream, durable).await == (0, 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The forward-only consumer: the gate's loop with nothing between fetch and publish.
async fn forward_only(js: jetstream::Context, source: String, target: String, durable: String) {
    let s = js.get_stream(&source).await.unwrap();
    let c: consumer::PullConsumer = s
        .get_or_create_consumer(
            &durable,
            consumer::pull::Config {
                durable_name: Some(durable.clone()),
                ack_policy: consumer::AckPolicy::Explicit,
                max_ack_pending: 100_000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    loop {
        let mut batch = c
            .fetch()
            .max_messages(BATCH)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .unwrap();
        let mut messages = Vec::with_capacity(BATCH);
        while let Some(m) = batch.next().await {
            messages.push(m.unwrap());
        }
        if messages.is_empty() {
            continue;
        }
        let mut acks = Vec::with_capacity(messages.len());
        for m in &messages {
            let seq = m.info().unwrap().stream_sequence;
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(
                async_nats::header::NATS_MESSAGE_ID,
                format!("fwd:{seq}").as_str(),
            );
            acks.push(
                js.publish_with_headers(target.clone(), headers, m.payload.clone())
                    .await
                    .unwrap(),
            );
        }
        for a in acks {
            a.await.unwrap();
        }
        for m in &messages {
            m.ack().await.unwrap();
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let persons = env("GATE_STREAM_PERSONS", 100_000);
    let events = env("GATE_STREAM_EVENTS", 1_000_000);
    let lines = env("GATE_STREAM_LINES", 1).max(1);
    let url =
        std::env::var("TUTELA_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let client = async_nats::connect(&url).await.unwrap();
    let js = jetstream::new(client.clone());
    let run = format!("gb{}", std::process::id());

    let dir = tutela_store::testing::temp_dir("bench-gate");
    let store = AnyStore::Sqlite(
        SqliteStore::open(&dir.join("gate.db").to_string_lossy())
            .await
            .unwrap(),
    );
    store.migrate().await.unwrap();
    let keys = PseudonymKeys::new("k1", [5; 32]);
    let t = Instant::now();
    seed(&store, persons, &keys).await;
    println!(
        "seeded {persons} persons with SIM links in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let source = format!("{}_RAW", run.to_uppercase());
    js.create_stream(stream::Config {
        name: source.clone(),
        subjects: vec![format!("{run}.raw")],
        ..Default::default()
    })
    .await
    .unwrap();
    let fwd_stream = format!("{}_FWD", run.to_uppercase());
    js.create_stream(stream::Config {
        name: fwd_stream.clone(),
        subjects: vec![format!("{run}.fwd")],
        duplicate_window: Duration::from_secs(3600),
        ..Default::default()
    })
    .await
    .unwrap();
    let now = jiff::Timestamp::now().as_millisecond();
    let t = Instant::now();
    let mut acks = Vec::with_capacity(2_000);
    let mut bytes = 0;
    let mut message = Vec::new();
    let mut messages = 0;
    for i in 0..events {
        let e = usage_event(i * 7919 % persons, now - 60_000 + (i % 1000) as i64);
        bytes += e.len();
        if !message.is_empty() {
            message.push(b'\n');
        }
        message.extend_from_slice(e.as_bytes());
        if (i + 1) % lines == 0 || i + 1 == events {
            messages += 1;
            let body = std::mem::take(&mut message);
            acks.push(js.publish(format!("{run}.raw"), body.into()).await.unwrap());
        }
        // Below the context's 5,000 acks in flight.
        if acks.len() == 2_000 {
            for a in acks.drain(..) {
                a.await.unwrap();
            }
        }
    }
    for a in acks {
        a.await.unwrap();
    }
    println!(
        "published {events} events ({:.0} bytes each) in {messages} messages of {lines} to the source in {:.1} s",
        bytes as f64 / events as f64,
        t.elapsed().as_secs_f64()
    );

    // The NATS ceiling.
    let t = Instant::now();
    let fwd = tokio::spawn(forward_only(
        js.clone(),
        source.clone(),
        format!("{run}.fwd"),
        "fwd".to_owned(),
    ));
    loop {
        let s = js.get_stream(&source).await.unwrap();
        if s.get_consumer::<consumer::pull::Config>("fwd")
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drained(&js, &source, "fwd").await;
    let ceiling = events as f64 / t.elapsed().as_secs_f64();
    fwd.abort();

    // The gate.
    let policy = Arc::new(reference().unwrap());
    let text = ROUTES
        .replace("id = \"quality\"", &format!("id = \"{run}\""))
        .replace("\"usage.raw\"", &format!("\"{run}.raw\""))
        .replace("\"usage.quality.dead\"", &format!("\"{run}.dead\""))
        .replace("\"usage.quality\"", &format!("\"{run}.out\""));
    let routes = parse_routes("gate.toml", &text, &policy).unwrap();
    let counts: SharedCounts = Arc::new(Mutex::new(Vec::new()));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut settings = GateSettings::new(&url);
    settings.batch = BATCH;
    let t = Instant::now();
    let gate = tokio::spawn(tutela_runtime::gate::run(
        store.clone(),
        policy,
        routes,
        keys,
        settings,
        counts.clone(),
        stop_rx,
    ));
    // Wait for the consumer to exist, then for it to drain.
    let durable = format!("tutela-gate-{run}");
    loop {
        let s = js.get_stream(&source).await.unwrap();
        if s.get_consumer::<consumer::pull::Config>(&durable)
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The gate creates its consumer once it has folded the ledger: from here on it streams.
    let loaded = t.elapsed();
    let t = Instant::now();
    drained(&js, &source, &durable).await;
    let streaming = t.elapsed();
    let gated = events as f64 / streaming.as_secs_f64();
    let with_start = events as f64 / (loaded + streaming).as_secs_f64();
    stop_tx.send(true).unwrap();
    gate.await.unwrap().unwrap();
    let c = counts.lock().unwrap()[0].1.clone();

    println!("| consumer | events/s | share of the ceiling |");
    println!("|---|---|---|");
    println!("| forward-only (NATS ceiling) | {ceiling:.0} | 100 % |");
    println!(
        "| tutela gate | {gated:.0} | {:.0} % |",
        gated / ceiling * 100.0
    );
    println!(
        "| tutela gate, counting its start ({:.1} s to fold the ledger of {persons} persons) | {with_start:.0} | {:.0} % |",
        loaded.as_secs_f64(),
        with_start / ceiling * 100.0
    );
    println!(
        "gate verdicts: {} passed, {} dropped {:?}, {} dead letters {:?}, {} expired",
        c.passed,
        c.dropped.values().sum::<u64>(),
        c.dropped,
        c.dead.values().sum::<u64>(),
        c.dead,
        c.expired
    );
    for s in [
        source,
        fwd_stream,
        format!("TUTELA_GATE_{}", run.to_uppercase()),
    ] {
        let _ = js.delete_stream(&s).await;
    }
    let _ = std::fs::remove_dir_all(dir);
}
