#!/usr/bin/env bash
# PII recognition side by side in one run, on one core each (issue 6): the labelled corpus of
# make_corpus.py (Faker de_DE/en_US, python-stdnum, fixed seed) through tutela's recognisers
# (`cargo bench --bench redact`, release build) and Presidio's pattern recognisers
# (presidio_eval.py: presidio-analyzer without an NLP model), scored the same way; compare.py
# prints the table BENCHMARKS.md keeps.
#
#   bench/redact/run.sh          # DOCS=2000 SEED=6 CORE=1
set -euo pipefail
cd "$(dirname "$0")/../.."
DOCS="${DOCS:-2000}"
SEED="${SEED:-6}"
CORE="${CORE:-1}"
dir="$PWD/target/bench-redact"
venv=target/redact-venv
mkdir -p "$dir"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import faker, stdnum, presidio_analyzer' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "Faker==40.63.0" "python-stdnum==2.2" "presidio-analyzer==2.2.366"
fi
corpus="$dir/corpus-$DOCS-$SEED.jsonl"
"$venv/bin/python" bench/redact/make_corpus.py "$corpus" "$DOCS" "$SEED"
echo "corpus: $corpus, $DOCS documents, $(stat -c %s "$corpus") bytes of JSON lines (sha256 $(sha256sum "$corpus" | cut -c1-16))"
cargo bench --quiet -p tutela-bench --bench redact --no-run
TUTELA_REDACT_CORPUS="$corpus" taskset -c "$CORE" cargo bench --quiet -p tutela-bench --bench redact > "$dir/tutela.txt"
head -1 "$dir/tutela.txt" > "$dir/tutela.json"
taskset -c "$CORE" "$venv/bin/python" bench/redact/presidio_eval.py "$corpus" > "$dir/presidio.json"
"$venv/bin/python" bench/redact/compare.py "$dir/tutela.json" "$dir/presidio.json"
