#!/usr/bin/env bash
# A/B: single decisions over HTTP, two tutela binaries on the same machine, alternating, so a
# change is measured against its baseline in one run (BENCHMARKS.md). Build the baseline in a
# separate checkout with its own target directory and put it at /tmp/tutela-old (sharing a
# target directory between checkouts mixes their crates); this builds the current one, unless
# SKIP_BUILD=1 (then /tmp/tutela-new is used as it is). WRITES=1 also measures durable consent
# writes on SQLite (bench/http/consents.lua, 32 connections) in each round, BATCH=1 batches of
# 10,000 decisions (bench/http/batch.lua, 4 connections).
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release --locked -p tutela-cli -q
  cp target/release/tutela /tmp/tutela-new
fi
export TUTELA_API_TOKEN="bench-token-0123456789abcdef"
H=(-H "Authorization: Bearer $TUTELA_API_TOKEN" -H "content-type: application/json")
URL=http://127.0.0.1:18090
for round in 1 2; do
for v in old new; do
  W=$(mktemp -d)
  (cd "$W" && TUTELA_LOG=warn /tmp/tutela-$v serve --listen 127.0.0.1:18090 --database "sqlite://$W/d.db") &
  S=$!
  for _ in $(seq 1 100); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.1; done
  for i in $(seq 0 999); do
    curl -sf -X PUT "$URL/v1/subjects/load-$i" "${H[@]}" -d '{"relationship":"customer"}' >/dev/null
    if [ $((i % 3)) = 0 ]; then curl -sf "$URL/v1/subjects/load-$i/consents" "${H[@]}" -d '{"purpose":"advertising_with_usage_data","granted":true,"source":"seed"}' >/dev/null; fi
  done
  echo "### round $round: $v"
  wrk -t1 -c32 -d10s --latency -s bench/http/decisions.lua "$URL" | grep -E "Requests/sec| 50%| 99%"
  if [ "${BATCH:-0}" = 1 ]; then
    echo "#### batches of 10,000 decisions"
    wrk -t1 -c4 -d10s --latency -s bench/http/batch.lua "$URL" | grep -E "Requests/sec| 50%| 99%"
  fi
  if [ "${WRITES:-0}" = 1 ]; then
    echo "#### consent writes"
    wrk -t2 -c32 -d10s --latency -s bench/http/consents.lua "$URL" | grep -E "Requests/sec| 50%| 99%|acknowledged"
  fi
  kill $S; wait $S 2>/dev/null || true; rm -rf "$W"
done
done
