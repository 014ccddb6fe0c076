#!/usr/bin/env python3
"""Data subject requests end to end over HTTP against a running `tutela serve`.

The counterpart of bench_fides.py of the Fides DSR harness ($FIDES_DIR) on the same operator
database (make_operator_db.py, same seed): files K access and then K erasure requests for customers
picked with the seed, verifies each by an agent over HTTP, and measures from just before the
verification's POST to the first poll that sees the request finished (`wall`), and from the
server's own `verified` event to its final event (`srv`). Every result is checked against the
operator database: an access report holds exactly the customer's rows of every table; after
an erasure no e-mail address of the customer or of their contact persons is left, and the
fields the map clears are NULL. Prints a summary and writes JSON (no e-mail addresses in it).

--mode sequential: one request at a time (file, verify, wait): the latency of one request.
--mode concurrent: all K filed first (not timed), then verified back to back from `--clients`
threads, then waited for: throughput = K / (last completion - first verification).
"""
import argparse
import json
import random
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import psycopg2

# The customer's rows in each table, as the map follows them (first reference to the person).
ROWS_SQL = {
    "customers": "SELECT count(*) FROM customers WHERE id = %(c)s",
    "contact_persons": "SELECT count(*) FROM contact_persons WHERE customer_id = %(c)s",
    "contracts": "SELECT count(*) FROM contracts WHERE customer_id = %(c)s",
    "sim_cards": "SELECT count(*) FROM sim_cards s JOIN contracts k ON s.contract_id = k.id WHERE k.customer_id = %(c)s",
    "devices": "SELECT count(*) FROM devices d JOIN sim_cards s ON d.sim_id = s.id JOIN contracts k ON s.contract_id = k.id WHERE k.customer_id = %(c)s",
    "invoices": "SELECT count(*) FROM invoices WHERE customer_id = %(c)s",
    "payments": "SELECT count(*) FROM payments p JOIN invoices i ON p.invoice_id = i.id WHERE i.customer_id = %(c)s",
    "usage_records": "SELECT count(*) FROM usage_records u JOIN sim_cards s ON u.sim_id = s.id JOIN contracts k ON s.contract_id = k.id WHERE k.customer_id = %(c)s",
    "service_tickets": "SELECT count(*) FROM service_tickets WHERE customer_id = %(c)s",
}

FINAL = {"completed", "partially_refused", "refused", "no_data_held"}


class Api:
    def __init__(self, base, token):
        self.base = base.rstrip("/")
        self.token = token

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")


def pick(conn, k, seed, skip):
    """2k customers chosen with the seed among those not erased yet (e-mail still an address)."""
    with conn.cursor() as cur:
        cur.execute("SELECT id FROM customers WHERE email LIKE '%%@%%' ORDER BY id")
        ids = [r[0] for r in cur.fetchall() if r[0] not in skip]
    rng = random.Random(seed)
    chosen = rng.sample(ids, 2 * k)
    return chosen[:k], chosen[k:]


def customer(conn, cid):
    with conn.cursor() as cur:
        cur.execute("SELECT customer_number, email FROM customers WHERE id = %s", (cid,))
        number, email = cur.fetchone()
        cur.execute("SELECT email FROM contact_persons WHERE customer_id = %s", (cid,))
        contacts = [r[0] for r in cur.fetchall() if r[0]]
    return {"id": cid, "number": number, "email": email, "contacts": contacts}


def file(api, kind, c):
    s, r = api.call("POST", "/v1/requests", {"type": kind, "subject": c["number"], "email": c["email"]})
    if s != 201:
        raise SystemExit(f"filing failed: {s} {r}")
    return r["id"]


def verify(api, rid, c):
    s, r = api.call("POST", f"/v1/requests/{rid}/verify-by-agent",
                    {"note": "benchmark: identity checked against the contract", "agent": "bench-agent",
                     "subject": c["number"]})
    if s != 200:
        raise SystemExit(f"verification failed: {s} {r}")


def approve(api, rid):
    # An erasure's plan for the operator's database waits for an agent's approval (issue 31);
    # the bench approves it as soon as it is shown, as a second agent, through the API.
    s, r = api.call("POST", f"/v1/requests/{rid}/approve",
                    {"agent": "bench-approver", "note": "benchmark: plan checked"})
    if s != 200:
        raise SystemExit(f"approval failed: {s} {r}")


def wait(api, rid, poll):
    while True:
        s, r = api.call("GET", f"/v1/requests/{rid}")
        if s == 200 and r["status"] in FINAL:
            return time.monotonic(), r
        if s == 200 and r["status"] == "awaiting_approval":
            approve(api, rid)
            continue
        time.sleep(poll)


def server_seconds(view):
    """From the `verified` event to the final one, by the server's clock."""
    events = view.get("events", [])
    verified = next((e["at"] for e in events if e["event"] == "verified"), None)
    if verified is None or not events:
        return None

    def ts(s):
        return datetime.fromisoformat(s.replace("Z", "+00:00"))

    return (ts(events[-1]["at"]) - ts(verified)).total_seconds()


def tables_of(report):
    """The collected tables of the report, wherever the JSON holds them."""
    out = {}

    def walk(v):
        if isinstance(v, dict):
            if {"dataset", "table", "rows"} <= v.keys() and v["dataset"] == "operator":
                out[v["table"]] = out.get(v["table"], 0) + len(v["rows"])
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(report)
    return out


def check_access(api, conn, rid, c):
    s, report = api.call("GET", f"/v1/requests/{rid}/result")
    if s != 200:
        return False, {"error": f"result: {s}"}
    got = tables_of(report)
    want = {}
    with conn.cursor() as cur:
        for t, q in ROWS_SQL.items():
            cur.execute(q, {"c": c["id"]})
            want[t] = cur.fetchone()[0]
    ok = all(got.get(t, 0) == n for t, n in want.items())
    return ok, {"rows_reported": sum(got.values()), "rows_in_db": sum(want.values()),
                "mismatch": sorted(t for t, n in want.items() if got.get(t, 0) != n)}


def check_erasure(conn, c):
    with conn.cursor() as cur:
        addresses = [c["email"]] + c["contacts"]
        cur.execute("SELECT (SELECT count(*) FROM customers WHERE email = ANY(%(a)s))"
                    " + (SELECT count(*) FROM contact_persons WHERE email = ANY(%(a)s))", {"a": addresses})
        left = cur.fetchone()[0]
        cur.execute("SELECT phone IS NULL AND iban IS NULL AND birth_date IS NULL AND street IS NULL"
                    " AND city IS NULL AND zip IS NULL, customer_number FROM customers WHERE id = %s", (c["id"],))
        cleared, number = cur.fetchone()
        cur.execute("SELECT count(*) FROM usage_records u JOIN sim_cards s ON u.sim_id = s.id"
                    " JOIN contracts k ON s.contract_id = k.id WHERE k.customer_id = %s AND u.cell_id IS NOT NULL",
                    (c["id"],))
        cells = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM service_tickets WHERE customer_id = %s AND text IS NOT NULL", (c["id"],))
        texts = cur.fetchone()[0]
    ok = left == 0 and cleared and cells == 0 and texts == 0 and number == c["number"]
    return ok, {"addresses_left": left, "fields_cleared": cleared, "cell_ids_left": cells, "ticket_texts_left": texts}


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(p / 100 * len(xs) + 0.5)) - 1))]


def summary(rows, span):
    wall = [r["wall_s"] for r in rows if r["wall_s"] is not None]
    srv = [r["srv_s"] for r in rows if r["srv_s"] is not None]
    d = lambda xs: {"p50": pct(xs, 50), "p95": pct(xs, 95), "max": max(xs), "min": min(xs),
                    "mean": statistics.mean(xs)} if xs else {}
    return {"completed": sum(r["status"] in FINAL for r in rows), "wall_s": d(wall), "server_s": d(srv),
            "span_s": span, "throughput_req_per_s": len(rows) / span if span > 0 else None,
            "verified_ok": sum(r["verified"] for r in rows),
            "failed": [r["request"] for r in rows if not r["verified"]],
            "statuses": sorted({r["status"] for r in rows})}


def phase(api, conn, kind, customers, a):
    people = [customer(conn, cid) for cid in customers]
    rows = []
    if a.mode == "sequential":
        t_first = None
        for c in people:
            rid = file(api, kind, c)
            t0 = time.monotonic()
            t_first = t_first or t0
            verify(api, rid, c)
            t1, view = wait(api, rid, a.poll)
            rows.append({"request": rid, "c": c, "t0": t0, "t1": t1, "view": view})
        span = rows[-1]["t1"] - t_first
    else:
        ids = [file(api, kind, c) for c in people]
        # One poller for all (the list of open requests), so that polling does not load the
        # server K times over; a request is done when it leaves the list after its verification.
        lock = threading.Lock()
        t0s, t1s = {}, {}
        pending = set()
        finished = threading.Event()
        approvals = ThreadPoolExecutor(a.clients)
        approved = set()

        def poller():
            while not finished.is_set():
                s, r = api.call("GET", "/v1/requests?status=verified,in_progress,awaiting_approval")
                now = time.monotonic()
                open_ids = {x["id"] for x in r["requests"]} if s == 200 else None
                for x in (r["requests"] if s == 200 else []):
                    if x["status"] == "awaiting_approval" and x["id"] not in approved:
                        approved.add(x["id"])
                        approvals.submit(approve, api, x["id"])
                with lock:
                    if open_ids is not None:
                        for rid in [x for x in pending if x not in open_ids]:
                            pending.discard(rid)
                            t1s[rid] = now
                    if len(t1s) == len(ids):
                        finished.set()
                time.sleep(a.list_poll)

        def go(i):
            t0 = time.monotonic()
            verify(api, ids[i], people[i])
            with lock:
                t0s[ids[i]] = t0
                pending.add(ids[i])

        watcher = threading.Thread(target=poller)
        watcher.start()
        with ThreadPoolExecutor(a.clients) as ex:
            list(ex.map(go, range(len(ids))))
        watcher.join()
        approvals.shutdown()
        for i, rid in enumerate(ids):
            s, view = api.call("GET", f"/v1/requests/{rid}")
            rows.append({"request": rid, "c": people[i], "t0": t0s[rid], "t1": t1s[rid], "view": view})
        span = max(r["t1"] for r in rows) - min(r["t0"] for r in rows)
    out = []
    for r in rows:
        if kind == "access":
            ok, detail = check_access(api, conn, r["request"], r["c"])
        else:
            ok, detail = check_erasure(conn, r["c"])
        ok = ok and r["view"]["status"] == "completed"
        out.append({"request": r["request"], "customer": r["c"]["id"], "status": r["view"]["status"],
                    "wall_s": r["t1"] - r["t0"], "srv_s": server_seconds(r["view"]), "verified": ok,
                    "check": detail})
    return {"summary": summary(out, span), "requests": out}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:18090")
    ap.add_argument("--token", required=True)
    ap.add_argument("--dsn", default="host=127.0.0.1 port=5432 user=postgres password=postgres dbname=operator")
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--mode", choices=["sequential", "concurrent"], default="concurrent")
    ap.add_argument("--clients", type=int, default=16, help="threads verifying (concurrent)")
    ap.add_argument("--poll", type=float, default=0.002, help="seconds between polls of one request (sequential)")
    ap.add_argument("--list-poll", type=float, default=0.01,
                    help="seconds between polls of the open list (concurrent): each lists every open request")
    ap.add_argument("--phases", default="access,erasure")
    ap.add_argument("--out")
    a = ap.parse_args()
    api = Api(a.url, a.token)
    conn = psycopg2.connect(a.dsn)
    conn.autocommit = True
    access, erasure = pick(conn, a.k, a.seed, set())
    result = {"params": vars(a) | {"token": None}, "phases": {}}
    for kind, cs in (("access", access), ("erasure", erasure)):
        if kind not in a.phases.split(","):
            continue
        p = phase(api, conn, kind, cs, a)
        result["phases"][kind] = p
        s = p["summary"]
        w, v = s["wall_s"], s["server_s"]
        print(f"{kind:8} {a.mode:10} K={a.k:<5} done {s['completed']}/{a.k}  "
              f"wall p50 {w['p50']*1000:.1f} ms  p95 {w['p95']*1000:.1f} ms  max {w['max']*1000:.1f} ms  "
              f"srv p50 {v.get('p50', 0)*1000:.1f} ms  p95 {v.get('p95', 0)*1000:.1f} ms  "
              f"throughput {s['throughput_req_per_s']:.1f}/s  verified {s['verified_ok']}/{a.k}  "
              f"statuses {','.join(s['statuses'])}", flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(result, f, indent=1, default=str)
    bad = sum(len(p["summary"]["failed"]) for p in result["phases"].values())
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
