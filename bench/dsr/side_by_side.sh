#!/usr/bin/env bash
# Fides, then tutela three times, back to back on one machine (figures in BENCHMARKS.md).
# Run it on a quiet machine: nothing else building or testing (the session that recorded the
# figures ran it under the cargo lock its builds share). Needs Fides 2.78.2 in FIDES_VENV
# (see $FIDES_DIR/README.md) and PostgreSQL at 127.0.0.1:5432 (user postgres). FIDES_DIR, which
# must be set, names the Fides DSR harness (run_fides.sh, make_operator_db.py).
# SKIP_BUILD=1 runs target/release/tutela as it is.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
FIDES_DIR="$(cd "${FIDES_DIR:?must name the Fides DSR harness, the directory with run_fides.sh}" && pwd)"
export FIDES_DIR # for bench/dsr/run.sh
export FIDES_WORK="${FIDES_WORK:-/tmp/fides-dsr}"

[ "${SKIP_BUILD:-0}" = 1 ] || (cd "$ROOT" && cargo build --release --locked -p tutela-cli)
cd "$FIDES_DIR"
./run_fides.sh all --customers 100000 --k 100 --mode concurrent --reset-app-db
./run_fides.sh all --customers 100000 --k 20 --mode sequential
cd "$ROOT"
keys() {
  psql -h 127.0.0.1 -U postgres -q -c 'DROP DATABASE IF EXISTS tutela_dsr_keys WITH (FORCE)' \
    -c 'CREATE DATABASE tutela_dsr_keys'
}
export KEYSTORE=postgres://postgres@127.0.0.1:5432/tutela_dsr_keys CUSTOMERS=100000 K=1000 SKIP_BUILD=1
keys && OUT=target/dsr-results/run1 bench/dsr/run.sh
for n in 2 3; do
  keys && OUT=target/dsr-results/run$n MODES=concurrent bench/dsr/run.sh
done
