"""Write a synthetic labelled set: log lines, each labelled by the service that wrote it.

Each service writes lines from a handful of templates of its own, filled from pools of values
every service shares (hosts, users, ids, durations, paths), and a few templates are written by
several services alike, so that some lines cannot be told apart. The bytes depend on the seed
alone: Python's `random` gives the same stream for the same seed on every version and machine,
and only its version-stable calls are used (`random`, `randrange`, `choice`).
BENCHMARKS.md records the sha256 of what the classification benchmark writes.

    python scripts/service_logs.py logs.tsv                 # 2,000 lines a service
    charnn train configs/names-classify.yaml --data logs.tsv
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

SERVICES: dict[str, tuple[str, ...]] = {
    "auth": (
        "login ok user={user} from {ip}",
        "login failed user={user} from {ip} attempts={n}",
        "token issued to {user} ttl={n}s",
        "password reset requested for {user}",
        "session {id} expired after {ms}ms",
    ),
    "billing": (
        "invoice {id} created for {user} amount={amount}",
        "charge declined for {user} card=****{digits}",
        "refund {id} issued amount={amount}",
        "subscription renewed user={user} plan={plan}",
        "request {id} took {ms}ms for {user}",
    ),
    "cache": (
        "GET {key} hit in {ms}ms",
        "GET {key} miss",
        "evicted {n} keys from {node}",
        "SET {key} ttl={n}s size={n}b",
    ),
    "db": (
        "query on {table} took {ms}ms rows={n}",
        "deadlock on {table}, retrying txn {id}",
        "pool at {n}/{n} connections",
        "vacuum {table} freed {n} pages",
    ),
    "gateway": (
        "{method} {path} {code} {ms}ms",
        "upstream {host} timed out after {ms}ms",
        "rate limit for {ip} on {path}",
        "request {id} from {user} took {ms}ms",
    ),
    "mailer": (
        "sent mail {id} to {user}@{domain}",
        "bounce from {user}@{domain}: {reason}",
        "queue {queue} holds {n} messages",
    ),
    "scheduler": (
        "job {job} started on {host}",
        "job {job} finished in {ms}ms",
        "cron {cron} triggered {job}",
        "job {job} missed its slot by {ms}ms",
    ),
    "storage": (
        "PUT {path} {n} bytes on {node}",
        "replica {node} lagging {ms}ms",
        "disk {disk} on {host} at {percent}% full",
    ),
}
SHARED = ("connection to {host} lost", "retrying in {ms}ms", "health check ok")
"""Lines any service may write: no classifier can tell whose they are."""
SHARED_FRACTION = 0.05

WORDS = {
    "user": ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"),
    "host": ("web-1", "web-2", "api-3", "db-main", "db-replica", "cache-7", "worker-4"),
    "node": ("n1", "n2", "n3", "n4", "edge-a", "edge-b"),
    "table": ("users", "orders", "events", "sessions", "payments", "audit_log"),
    "plan": ("free", "pro", "team", "enterprise"),
    "method": ("GET", "POST", "PUT", "DELETE"),
    "code": ("200", "201", "204", "301", "400", "404", "500", "502", "503"),
    "domain": ("example.com", "mail.test", "corp.local"),
    "reason": ("mailbox full", "no such user", "spam rejected", "timeout"),
    "queue": ("outbound", "retry", "digest", "alerts"),
    "job": ("backup", "reindex", "report", "cleanup", "sync", "billing-run"),
    "cron": ("*/5 * * * *", "0 * * * *", "0 3 * * *", "30 2 * * 1"),
    "disk": ("sda", "sdb", "nvme0n1", "nvme1n1"),
    "path": ("/api/v1/users", "/api/v1/orders", "/static/app.js", "/health", "/login"),
    "key": ("user:42", "session:9f", "cart:17", "feed:home", "rate:ip"),
}


def fill(template: str, rng: random.Random) -> str:
    """The template with each `{field}` replaced by a value drawn for it."""
    out, rest = [], template
    while "{" in rest:
        before, _, after = rest.partition("{")
        field, _, rest = after.partition("}")
        out += [before, value(field, rng)]
    return "".join([*out, rest])


def value(field: str, rng: random.Random) -> str:
    if field in WORDS:
        return rng.choice(WORDS[field])
    if field == "ip":
        return ".".join(str(rng.randrange(256)) for _ in range(4))
    if field == "id":
        return "".join(rng.choice("0123456789abcdef") for _ in range(8))
    if field == "ms":
        # 1 ms to 10 s, spread over decades; integers alone, so no libm rounding can differ
        return str(rng.randrange(1, 10) * 10 ** rng.randrange(4) + rng.randrange(10))
    if field == "amount":
        cents = rng.randrange(100, 100_000)
        return f"{cents // 100}.{cents % 100:02d}"
    if field == "digits":
        return f"{rng.randrange(10_000):04d}"
    if field == "percent":
        return str(rng.randrange(50, 100))
    if field == "n":
        return str(rng.randrange(1, 5000))
    raise ValueError(f"no values for field {field!r}")


def service_log_rows(per_service: int, *, seed: int) -> list[tuple[str, str]]:
    """`per_service` (service, line) pairs for each service, in service order."""
    rng = random.Random(seed)
    rows = []
    for service, templates in SERVICES.items():
        for _ in range(per_service):
            shared = rng.random() < SHARED_FRACTION
            rows.append((service, fill(rng.choice(SHARED if shared else templates), rng)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the .tsv file to write (service<TAB>line)")
    parser.add_argument("--per-service", type=int, default=2000, help="lines a service")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = service_log_rows(args.per_service, seed=args.seed)
    args.out.write_text("".join(f"{label}\t{text}\n" for label, text in rows), encoding="utf-8")
    print(f"wrote {len(rows)} lines of {len(SERVICES)} services to {args.out}")


if __name__ == "__main__":
    main()
