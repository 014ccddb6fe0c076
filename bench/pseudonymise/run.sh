#!/usr/bin/env bash
# Pseudonymisation throughput side by side in one run, on one core each (issue 6): the same
# usage-record CSV through `tutela pseudonymise` (release build), the obvious Python approach
# (pandas + hashlib HMAC, pandas_hmac.py) and Presidio's anonymizer hash operator
# (presidio_hash.py, on the first PRESIDIO_MB megabytes: at its rate the whole file would take
# hours). Two columns are pseudonymised: imsi and msisdn.
#
# Every tool writes its output to OUT (default a tmpfs, /dev/shm): the disk here writes
# 278 MB/s with fsync, less than tutela produces, so a disk would measure the disk. One more
# tutela run writes to the disk beside the input, for that figure.
#
#   bench/pseudonymise/run.sh          # MB=1024 PRESIDIO_MB=16 CORE=1 OUT=/dev/shm/…
set -euo pipefail
cd "$(dirname "$0")/../.."
MB="${MB:-1024}"
PRESIDIO_MB="${PRESIDIO_MB:-16}"
CORE="${CORE:-1}"
dir="$PWD/target/bench-pseudonymise"
venv=target/pseudonym-venv
out="${OUT:-/dev/shm/tutela-bench-pseudonymise}"
mkdir -p "$dir" "$out"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import pandas, presidio_anonymizer' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "pandas==3.1.1" "presidio-anonymizer==2.2.366"
fi
cargo build --release --quiet -p tutela-cli
tutela="$PWD/target/release/tutela"
csv="$dir/usage-$MB.csv"
if [ ! -f "$csv" ]; then
  TUTELA_BENCH_CSV_MB="$MB" TUTELA_BENCH_CSV_OUT="$csv" cargo bench --quiet -p tutela-bench --bench pseudonymise
fi
# A fixed secret (bytes 0..31), which pandas_hmac.py derives the same domain key from.
printf 'active pk-bench\nkey pk-bench %s\n' "$(seq 0 31 | xargs printf '%02x')" > "$dir/tutela-pseudonym.key"
bytes=$(stat -c %s "$csv")

# Seconds a command took, pinned to one core.
timed() {
  local start end
  start=$(date +%s.%N)
  taskset -c "$CORE" "$@" >/dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
rate() { echo "scale=1; $1 / $2 / 1000000" | bc -l; }

echo "input: $csv, $((bytes >> 20)) MB, $(($(wc -l < "$csv") - 1)) records; one core (taskset -c $CORE)"
for round in 1 2 3; do
  t_hmac=$(timed "$tutela" pseudonymise --keys "$dir/tutela-pseudonym.key" --in "$csv" --out "$out/out-tutela.csv" \
    --column imsi=hmac --column msisdn=hmac --domain service_quality_analysis)
  t_ff1=$(timed "$tutela" pseudonymise --keys "$dir/tutela-pseudonym.key" --in "$csv" --out "$out/out-tutela-ff1.csv" \
    --column imsi=ff1 --column msisdn=hmac --domain service_quality_analysis)
  echo "round $round: tutela imsi=hmac,msisdn=hmac: ${t_hmac} s, $(rate "$bytes" "$t_hmac") MB/s"
  echo "round $round: tutela imsi=ff1,msisdn=hmac:  ${t_ff1} s, $(rate "$bytes" "$t_ff1") MB/s"
done
t_pandas=$(timed "$venv/bin/python" bench/pseudonymise/pandas_hmac.py "$csv" "$out/out-pandas.csv" imsi msisdn)
echo "pandas + hashlib HMAC: ${t_pandas} s, $(rate "$bytes" "$t_pandas") MB/s"
head -c $((PRESIDIO_MB << 20)) "$csv" > "$out/presidio-in.csv"
pbytes=$(stat -c %s "$out/presidio-in.csv")
t_presidio=$(timed "$venv/bin/python" bench/pseudonymise/presidio_hash.py "$out/presidio-in.csv" "$out/out-presidio.csv" "$PRESIDIO_MB" imsi msisdn)
echo "presidio hash operator (first $PRESIDIO_MB MB): ${t_presidio} s, $(rate "$pbytes" "$t_presidio") MB/s"
t_disk=$(timed "$tutela" pseudonymise --keys "$dir/tutela-pseudonym.key" --in "$csv" --out "$dir/out-tutela-disk.csv" \
  --column imsi=hmac --column msisdn=hmac --domain service_quality_analysis)
echo "tutela imsi=hmac,msisdn=hmac, output on the disk (fsync): ${t_disk} s, $(rate "$bytes" "$t_disk") MB/s"
if cmp -s "$out/out-tutela.csv" "$out/out-pandas.csv"; then
  echo "tutela and pandas wrote the same file, byte for byte"
else
  echo "tutela and pandas wrote different files" >&2
  exit 1
fi
rm -f "$out"/out-*.csv "$out/presidio-in.csv" "$dir/out-tutela-disk.csv"
