//! The gate against a three-node NATS JetStream cluster the test starts on loopback ports
//! (N7b): two gate processes share a route whose streams keep three replicas; during the run
//! one gate and the NATS node leading the target stream are killed with SIGKILL. Afterwards
//! every lawful event is in the target exactly once, no unlawful one is there, and the bad
//! ones are dead letters. Source messages carry five events each (JSON lines). `TUTELA_GATE_CLUSTER_EVENTS` sets the size (20,000 by default and
//! in CI; 1,000,000 for the figures in BENCHMARKS.md). Under `CI=true` a missing
//! `nats-server` binary fails the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};

use super::free_port;
use super::gate::{Scenario, summary_of, try_connect, wait_idle};

/// The `nats-server` binary: `$TUTELA_NATS_SERVER`, else the one on the PATH or Debian's.
/// The `nats-server` binary; `None` (the test skips) when it is missing, a failure under
/// `CI=true`.
pub(super) fn nats_server_or_skip() -> Option<PathBuf> {
    let found = nats_server();
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "nats-server is required under CI=true (apt-get install nats-server)"
        );
        eprintln!("skipping: no nats-server binary");
    }
    found
}

fn nats_server() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("TUTELA_NATS_SERVER") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
}

struct Node {
    name: String,
    client: u16,
    child: Option<Child>,
}

/// Three JetStream servers routed to each other; killed when dropped.
struct Cluster {
    nodes: Vec<Node>,
}

impl Cluster {
    fn start(binary: &Path, dir: &Path) -> Cluster {
        let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let mut nodes = Vec::new();
        for (i, &route) in routes.iter().enumerate() {
            let name = format!("n{}", i + 1);
            let client = free_port();
            let others: Vec<String> = routes
                .iter()
                .filter(|&&r| r != route)
                .map(|r| format!("nats://127.0.0.1:{r}"))
                .collect();
            let log = std::fs::File::create(dir.join(format!("{name}.log"))).expect("log file");
            let child = Command::new(binary)
                .args([
                    "-a",
                    "127.0.0.1",
                    "-p",
                    &client.to_string(),
                    "-n",
                    &name,
                    "-js",
                    "-sd",
                    &dir.join(&name).to_string_lossy(),
                    "--cluster_name",
                    "tutela-test",
                    "--cluster",
                    &format!("nats://127.0.0.1:{route}"),
                    "--routes",
                    &others.join(","),
                ])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn nats-server");
            nodes.push(Node {
                name,
                client,
                child: Some(child),
            });
        }
        Cluster { nodes }
    }

    fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.client))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn kill(&mut self, name: &str) {
        for n in &mut self.nodes {
            if n.name == name
                && let Some(mut c) = n.child.take()
            {
                c.kill().expect("SIGKILL the NATS node");
                let _ = c.wait();
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

// covers: N7b
#[test]
fn two_gates_on_a_three_node_cluster_survive_a_gate_and_a_node_killed() {
    let Some(binary) = nats_server_or_skip() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let _in_runtime = rt.enter();
    let events: usize = std::env::var("TUTELA_GATE_CLUSTER_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    // Five events to a message (JSON lines), as a network element batches them.
    let s = Scenario::new("gc", 200, events, 5);
    let mut cluster = Cluster::start(&binary, &s.dir);
    let urls = cluster.urls();
    // The servers take a moment to route to each other and elect a meta leader.
    let deadline = Instant::now() + Duration::from_secs(60);
    let client = loop {
        match try_connect(&rt, &urls) {
            Ok(c) => break c,
            Err(e) => assert!(Instant::now() < deadline, "the cluster did not start: {e}"),
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let js = jetstream::new(client);
    loop {
        let created = rt.block_on(js.get_or_create_stream(stream::Config {
            name: s.source_stream.clone(),
            subjects: vec![format!("{}.raw", s.run)],
            num_replicas: 3,
            duplicate_window: Duration::from_secs(600),
            ..Default::default()
        }));
        match created {
            Ok(_) => break,
            Err(e) => {
                assert!(Instant::now() < deadline, "no JetStream cluster: {e}");
                std::thread::sleep(Duration::from_millis(250));
            }
        }
    }
    // Target messages to expect: about one per source message with a lawful event.
    let lawful = (s.lawful().len() / s.per_message) as u64;
    let started = Instant::now();

    let mut a = s.gate(&urls, 3);
    let b = s.gate(&urls, 3);
    s.publish(&rt, &js, 0, events / 3);
    let deadline = Instant::now() + Duration::from_secs(120);
    while s.target_count(&rt, &js) < lawful / 12 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    a.kill().expect("SIGKILL gate A");
    let _ = a.wait();
    s.publish(&rt, &js, events / 3, 2 * events / 3);
    // The node leading the target stream dies while gate B works through the backlog.
    while s.target_count(&rt, &js) < lawful / 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let leader = rt
        .block_on(async {
            let mut st = js.get_stream(&s.target_stream).await.ok()?;
            st.info().await.ok()?.cluster.as_ref()?.leader.clone()
        })
        .unwrap_or_else(|| "n1".to_owned());
    let before_node_kill = s.target_count(&rt, &js);
    cluster.kill(&leader);
    let a2 = s.gate(&urls, 3);
    s.publish(&rt, &js, 2 * events / 3, events);
    wait_idle(&rt, &js, &s.source_stream, &s.run);
    let elapsed = started.elapsed();
    let summaries: Vec<serde_json::Value> = [b, a2]
        .into_iter()
        .map(|g| summary_of(&s.stop(g)))
        .collect();

    let tally = s.tally(&rt, &js);
    tally.assert_exact(&format!(
        "gate cluster test (killed gate A and NATS node {leader} at {before_node_kill} in the target; {:.1} s)",
        elapsed.as_secs_f64()
    ));
    let redelivered: u64 = summaries
        .iter()
        .map(|v| v["routes"][0]["redelivered"].as_u64().unwrap_or(0))
        .sum();
    eprintln!("gate cluster test: {redelivered} events delivered again after the kills");
    assert!(
        redelivered > 0,
        "the kills left nothing in flight: {summaries:?}"
    );
    s.delete_streams(&rt, &js);
    drop(cluster);
    let dir = s.dir.clone();
    drop(s);
    let _ = std::fs::remove_dir_all(dir);
}
