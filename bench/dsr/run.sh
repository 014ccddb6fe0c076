#!/usr/bin/env bash
# Data subject requests end to end over HTTP on the Fides DSR baseline's operator database
# (figures in BENCHMARKS.md). Builds the database with the baseline's own script and seed,
# serves it with `tutela serve` (release) on a PostgreSQL store with bench/dsr/operator.toml as
# its one dataset, and runs bench/dsr/bench_tutela.py for each MODES entry.
#
#   CUSTOMERS (100000) SEED (42) K (200) MODES ("sequential concurrent") CLIENTS (16)
#   SKIP_BUILD=1 (use target/release/tutela as it is)  SKIP_DB=1 (keep the operator database)
#   BIN (another tutela binary, e.g. a baseline build for an A/B run; nothing is built then)
#   PG_ADMIN_DSN, OPERATOR_DB (operator), TUTELA_DB (tutela_dsr), PORT (18090), OUT (results dir)
#   LIST_POLL (0.01: seconds between the concurrent mode's lists of open requests)
#   WORKERS (16: worker_concurrency)
#   KEYSTORE (sqlite://<tmp>/keys.db; e.g. postgres://postgres@127.0.0.1:5432/tutela_dsr_keys,
#   a database that must exist)
#
# Needs PostgreSQL at 127.0.0.1:5432 (user postgres) and python3; psycopg2 goes into a venv
# under target/. The erasure phase is destructive: every run rebuilds the database unless
# SKIP_DB=1 (then customers not erased yet are picked).
set -euo pipefail
cd "$(dirname "$0")/../.."

CUSTOMERS="${CUSTOMERS:-100000}"
SEED="${SEED:-42}"
K="${K:-200}"
MODES="${MODES:-sequential concurrent}"
CLIENTS="${CLIENTS:-16}"
PORT="${PORT:-18090}"
OPERATOR_DB="${OPERATOR_DB:-operator}"
TUTELA_DB="${TUTELA_DB:-tutela_dsr}"
PG_ADMIN_DSN="${PG_ADMIN_DSN:-host=127.0.0.1 port=5432 user=postgres password=postgres dbname=postgres}"
# The Fides DSR baseline's harness (its make_operator_db.py builds the operator database): not
# part of this repository, so named explicitly (absolute, or relative to the checkout).
FIDES_DIR="${FIDES_DIR:?must name the Fides DSR harness, the directory with make_operator_db.py}"
VENV="${VENV:-target/dsr-venv}"
OUT="${OUT:-target/dsr-results}"
export TUTELA_API_TOKEN="bench-token-0123456789abcdef"

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import psycopg2' 2>/dev/null || "$VENV/bin/pip" install -q psycopg2-binary
PY="$VENV/bin/python"

[ "${SKIP_BUILD:-0}" = 1 ] || [ -n "${BIN:-}" ] || cargo build --release --locked -p tutela-cli
BIN="${BIN:-$PWD/target/release/tutela}"
WORK="$(mktemp -d)"
mkdir -p "$OUT"
SERVER=""
stop() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true; SERVER=""; }
trap 'stop; rm -rf "$WORK"' EXIT

echo "## machine: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg); $CUSTOMERS customers, seed $SEED, K=$K"
if [ "${SKIP_DB:-0}" != 1 ]; then
  t=$(date +%s.%N)
  "$PY" "$FIDES_DIR/make_operator_db.py" --customers "$CUSTOMERS" --seed "$SEED" --db "$OPERATOR_DB" \
    --admin-dsn "$PG_ADMIN_DSN" | tail -1
  echo "operator database built in $(echo "$(date +%s.%N) - $t" | bc) s"
fi
# Both engines start on a settled database: the build's writes checkpointed before the clock
# starts (Fides' own start after its build takes long enough for PostgreSQL to do the same).
"$PY" - "$PG_ADMIN_DSN" <<'PY'
import sys, psycopg2
c = psycopg2.connect(sys.argv[1]); c.autocommit = True
c.cursor().execute('CHECKPOINT')
PY
# tutela's own store: a fresh database each run.
"$PY" - "$PG_ADMIN_DSN" "$TUTELA_DB" <<'PY'
import sys, psycopg2
c = psycopg2.connect(sys.argv[1]); c.autocommit = True
c.cursor().execute(f'DROP DATABASE IF EXISTS "{sys.argv[2]}" WITH (FORCE)')
c.cursor().execute(f'CREATE DATABASE "{sys.argv[2]}"')
PY
export TUTELA_DSR_OPERATOR_URL="postgres://postgres@127.0.0.1:5432/$OPERATOR_DB"
cat > "$WORK/tutela.toml" <<EOF
database = "postgres://postgres@127.0.0.1:5432/$TUTELA_DB"
keystore = "${KEYSTORE:-sqlite://$WORK/keys.db}"
worker_concurrency = ${WORKERS:-16}

[[dataset]]
map = "$PWD/bench/dsr/operator.toml"
EOF
"$BIN" datasets check bench/dsr/operator.toml --url "$TUTELA_DSR_OPERATOR_URL" || true

(cd "$WORK" && TUTELA_LOG=warn "$BIN" serve --config "$WORK/tutela.toml" --listen "127.0.0.1:$PORT") &
SERVER=$!
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "server did not start" >&2; exit 1; }

dsn="${PG_ADMIN_DSN/dbname=postgres/dbname=$OPERATOR_DB}"
status=0
for mode in $MODES; do
  # Each mode picks other customers (the seed moves on), so erasures never repeat.
  seed=$SEED; [ "$mode" = concurrent ] && seed=$((SEED + 1))
  "$PY" bench/dsr/bench_tutela.py --url "http://127.0.0.1:$PORT" --token "$TUTELA_API_TOKEN" \
    --dsn "$dsn" --k "$K" --seed "$seed" --mode "$mode" --clients "$CLIENTS" --list-poll "${LIST_POLL:-0.01}" \
    --out "$OUT/tutela_c${CUSTOMERS}_k${K}_${mode}.json" || status=1
done
exit $status
