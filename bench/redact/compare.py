"""Prints tutela's and Presidio's scores side by side: precision, recall per entity type, and
throughput on one core. Arguments: the JSON lines of benches/redact.rs and presidio_eval.py."""

import json
import sys

tutela = json.loads(open(sys.argv[1]).readline())
presidio = json.loads(open(sys.argv[2]).readline())


def pr(c):
    tp, fp, fn = c["tp"], c["fp"], c["fn"]
    p = tp / (tp + fp) if tp + fp else float("nan")
    r = tp / (tp + fn) if tp + fn else float("nan")
    return p, r


labels = sorted(set(tutela["counts"]) | set(presidio["counts"]))
print(f"| entity | gold | tutela precision | tutela recall | Presidio precision | Presidio recall |")
print("|---|---:|---:|---:|---:|---:|")
empty = {"tp": 0, "fp": 0, "fn": 0}
for label in labels:
    t = tutela["counts"].get(label, empty)
    p = presidio["counts"].get(label, empty)
    gold = t["tp"] + t["fn"]
    tp_, tr = pr(t)
    pp, prr = pr(p)
    fmt = lambda x: "–" if x != x else f"{x:.3f}"
    print(f"| {label} | {gold} | {fmt(tp_)} | {fmt(tr)} | {fmt(pp)} | {fmt(prr)} |")
t_rate = tutela["bytes"] / tutela["seconds"] / 1e6
p_rate = presidio["bytes"] / presidio["seconds"] / 1e6
print()
print(f"throughput on one core: tutela {t_rate:.2f} MB/s, Presidio {p_rate:.4f} MB/s: {t_rate / p_rate:.0f} times")
