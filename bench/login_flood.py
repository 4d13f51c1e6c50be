"""Login flood: do anonymous password guessers slow down everyone else?

The distributed suite on this machine — real PostgreSQL, real Redis, `nws web` for
identity and intake (8 threads each, the default) — with four signed-in clerks working: each
loops on ``GET /api/auth/me`` (identity, the process under attack) and ``GET
/api/intake/applications`` (intake, which shares the two cores). Their latency is
measured in three phases of equal length:

- ``quiet``: the clerks alone (the floor);
- ``one address``: 12 anonymous loops posting wrong passwords for made-up and real
  logins from one client address (what the security review tried);
- ``many addresses``: 12 loops, every attempt from a new address (X-Forwarded-For
  through the trusted gateway address) and a new made-up login, so no per-address or
  per-account counter ever stops one: the worst case for the password hash.

Target (issue 15): the clerks' p99 under a flood at most 2× the quiet p99.

    .venv/bin/python bench/login_flood.py                 # 20 s per phase
    .venv/bin/python bench/login_flood.py --seconds 8     # quick (make bench)

Traffic goes to 127.0.0.1 only; the database and the Redis prefix are the run's own and
are dropped at the end.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.load_burst import (NWS, PG_ADMIN, REDIS, free_port, pct, stop_cluster,  # noqa: E402
                              wait_http)

PASSWORD = "flood-bench-passphrase-2026"
CLERKS = 4
ATTACKERS = 12


class Cluster:
    def __init__(self, workdir: Path):
        import psycopg

        self.workdir = workdir
        self.db = f"nws_flood_{uuid.uuid4().hex[:8]}"
        self.admin = psycopg.connect(PG_ADMIN, autocommit=True)
        self.admin.execute(f'CREATE DATABASE "{self.db}"')
        self.env = {**os.environ,
                    "NWS_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.db}",
                    "NWS_BROKER_URL": REDIS,
                    "NWS_BROKER_KEY_PREFIX": f"flood-{uuid.uuid4().hex[:6]}:",
                    "NWS_SECRET_KEY": "bench-secret-" + "x" * 40,
                    "NWS_DATA_DIR": str(workdir / "data"),
                    "NWS_TRUSTED_PROXY": "127.0.0.1",
                    "NWS_LOG_LEVEL": "WARNING", "NWS_LOG_FORMAT": "text",
                    "PYTHONPATH": str(REPO)}
        self.procs: list[subprocess.Popen] = []
        subprocess.run([NWS, "db", "upgrade"], env=self.env, check=True, capture_output=True)
        subprocess.run([NWS, "refdata", "load"], env=self.env, check=True, capture_output=True)
        for n in range(CLERKS):
            subprocess.run([NWS, "users", "add", "--login", f"clerk-{n}", "--password-stdin",
                            "--org", "131016", "--role", "applicant"], env=self.env,
                           input=PASSWORD + "\n", text=True, check=True, capture_output=True)
        self.identity, self.intake = free_port(), free_port()
        self.env["NWS_IDENTITY_URL"] = f"http://127.0.0.1:{self.identity}"
        self._spawn("identity", self.identity, 8)
        self._spawn("intake", self.intake, 8)
        for port in (self.identity, self.intake):
            wait_http(port)

    def _spawn(self, service: str, port: int, threads: int) -> None:
        log = open(self.workdir / f"web-{service}.log", "ab")
        self.procs.append(subprocess.Popen(
            [NWS, "web", "--service", service, "--host", "127.0.0.1", "--port", str(port),
             "--threads", str(threads)], env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True))

    def close(self) -> None:
        stop_cluster(self.procs, self.admin, self.db)


def request(url: str, body: dict | None = None, headers: dict | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={
        **({"Content-Type": "application/json"} if data else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            res.read()
            return res.status
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code


def login(cluster: Cluster, name: str) -> str:
    req = urllib.request.Request(
        f"http://127.0.0.1:{cluster.identity}/api/auth/token",
        data=json.dumps({"login": name, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.load(res)["token"]


def phase(cluster: Cluster, tokens: list[str], seconds: float, flood: str | None) -> dict:
    stop = threading.Event()
    latencies: dict[str, list[float]] = collections.defaultdict(list)
    attacks: collections.Counter = collections.Counter()
    lock = threading.Lock()
    me = f"http://127.0.0.1:{cluster.identity}/api/auth/me"
    apps = f"http://127.0.0.1:{cluster.intake}/api/intake/applications"
    token_url = f"http://127.0.0.1:{cluster.identity}/api/auth/token"

    def clerk(token: str) -> None:
        auth = {"Authorization": f"Bearer {token}"}
        while not stop.is_set():
            for name, url in (("identity", me), ("intake", apps)):
                t0 = time.perf_counter()
                status = request(url, headers=auth)
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies[name].append(elapsed)
                    if status != 200:
                        attacks[f"clerk {status}"] += 1
            time.sleep(0.05)        # a person's pace, not a load generator's

    def attacker(n: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            if flood == "one address":
                # Made-up logins and, every fifth attempt, a real one, from one address.
                name = f"clerk-{i % CLERKS}" if i % 5 == 0 else f"guess-{n}-{i}"
                headers = {}
            else:
                name = f"guess-{n}-{i}-{uuid.uuid4().hex[:6]}"
                headers = {"X-Forwarded-For": f"10.{n}.{(i >> 8) & 255}.{i & 255}"}
            status = request(token_url, {"login": name, "password": "wrong-password-123"},
                             headers)
            with lock:
                attacks[status] += 1

    threads = [threading.Thread(target=clerk, args=(t,)) for t in tokens]
    if flood:
        threads += [threading.Thread(target=attacker, args=(n,)) for n in range(ATTACKERS)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    result = {"attempts": dict(attacks)}
    for name, values in latencies.items():
        result[name] = {"n": len(values), "p50": pct(values, 50) * 1000,
                        "p95": pct(values, 95) * 1000, "p99": pct(values, 99) * 1000}
    return result


def run(seconds: float, workdir: Path) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(workdir)
    try:
        tokens = [login(cluster, f"clerk-{n}") for n in range(CLERKS)]
        results = {}
        for name, flood in (("quiet", None), ("one address", "one address"),
                            ("many addresses", "many addresses")):
            # Unlock between phases so each starts from the same state.
            for n in range(CLERKS):
                subprocess.run([NWS, "users", "unlock", f"clerk-{n}"], env=cluster.env,
                               capture_output=True)
            results[name] = phase(cluster, tokens, seconds, flood)
        return results
    finally:
        cluster.close()


def table(results: dict) -> str:
    quiet = results["quiet"]
    lines = ["| phase | service | requests | p50 ms | p95 ms | p99 ms | p99 ÷ quiet | login attempts |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        for service in ("identity", "intake"):
            s = r[service]
            ratio = s["p99"] / quiet[service]["p99"]
            attempts = ", ".join(f"{k}: {v}" for k, v in sorted(r["attempts"].items(),
                                                                 key=str))
            lines.append(f"| {name} | {service} | {s['n']} | {s['p50']:.1f} | "
                         f"{s['p95']:.1f} | {s['p99']:.1f} | {ratio:.2f} | "
                         f"{attempts if service == 'identity' else ''} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp") / f"nws-flood-{os.getpid()}")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = parser.parse_args()
    results = run(args.seconds, args.workdir)
    print(json.dumps(results, indent=2) if args.json else table(results))


if __name__ == "__main__":
    main()
