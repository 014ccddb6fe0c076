"""The floor under any durable answer on this disk, measured beside the HTTP figures.

Two loops in the directory given, one writer, no HTTP and no tutela:
- `fdatasync`: overwrite one 4 KiB block of a preallocated file and flush it (the disk alone);
- `sqlite`: one INSERT per transaction into SQLite in WAL mode with synchronous=FULL, the
  settings of tutela's embedded store (what one durable commit costs there).

Prints p50, p90, p99 and p99.9 of each in milliseconds.

    python3 bench/http/commit_floor.py DIR [COUNT]
"""

import os
import sqlite3
import sys
import time


def percentiles(name, latencies):
    latencies.sort()
    n = len(latencies)
    cells = ", ".join(
        f"p{p} {latencies[min(n - 1, int(n * p / 100))] * 1e3:.3f} ms"
        for p in (50, 90, 99, 99.9)
    )
    print(f"{name}: {n} commits, {cells}")


def fdatasync_loop(directory, count):
    path = os.path.join(directory, "floor.bin")
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    os.ftruncate(fd, 64 << 20)
    os.fsync(fd)
    block = b"x" * 4096
    latencies = []
    for i in range(count):
        start = time.perf_counter()
        os.pwrite(fd, block, (i % 16384) * 4096)
        os.fdatasync(fd)
        latencies.append(time.perf_counter() - start)
    os.close(fd)
    os.unlink(path)
    percentiles("fdatasync of one 4 KiB block", latencies)


def sqlite_loop(directory, count):
    path = os.path.join(directory, "floor.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    body = "x" * 600  # about the size of a recorded risk check
    latencies = []
    for _ in range(count):
        start = time.perf_counter()
        db.execute("BEGIN")
        db.execute("INSERT INTO t (body) VALUES (?)", (body,))
        db.execute("COMMIT")
        latencies.append(time.perf_counter() - start)
    db.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    percentiles("SQLite commit (WAL, synchronous=FULL)", latencies)


if __name__ == "__main__":
    directory = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    fdatasync_loop(directory, count)
    sqlite_loop(directory, count)
