"""Latency under load: the pages and lists people use all day, with a country's worth of
applications in the database.

The database holds ``--apps`` applications (5,000 by default: every applying
organisation of the country once) at every status, with their forms, history and review
cases, written straight into the tables. Then ``--clients`` concurrent clients (50)
each keep one keep-alive connection and loop for ``--seconds`` on one endpoint at a
time:

- ``healthz``: ``GET /healthz`` of the same server (the floor: the web server and the
  client alone);
- ``review queue``: a prefecture reviewer's page of 50 with a filter
  (``GET /api/review/queue?status=primary_review&sort=since``);
- ``operator list``: the operator's list of every application, a page of 50 sorted by
  number (``GET /api/review/queue?sort=number&order=desc``);
- ``case detail``: one application as its reviewer reads it
  (``GET /api/review/applications/ID``);
- ``application detail``: one application as its clerk reads it
  (``GET /api/intake/applications/ID``);
- ``applicant dashboard``: the clerk's home page (``GET /applicant/``, page session).

Two set-ups, ``--backend``: ``embedded`` (`nws serve`: one process, SQLite, the
newcomer's default) and ``postgres`` (``nws web`` per service on PostgreSQL, as
deployed). Target (issue 17): every endpoint p99 ≤ 100 ms and at least half the
requests per second of ``/healthz`` on the same server in the same run.

    .venv/bin/python bench/latency.py                          # both back ends, 10 s each
    .venv/bin/python bench/latency.py --backend embedded --seconds 4 --apps 2000   # quick

``--scaling``: how the figures move with a second process. The PostgreSQL set-up behind
an nginx gateway (as ``deploy/nginx.conf`` fronts the replicas of each service; here an
``upstream`` of each service's ports, round robin) with 1, then 2 ``nws web`` processes
per service, in alternating turns, for the review queue and the application detail with
their /healthz; each figure carries the CPU time per request of the web processes and
nginx (from /proc), which other jobs on the machine do not change.

    .venv/bin/python bench/latency.py --scaling --apps 5000 --seconds 8 --turns 2

Traffic goes to 127.0.0.1 only; the run's database (or data folder) is its own.
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.load_burst import (NWS, PG_ADMIN, REDIS, free_port, pct, stop_cluster,  # noqa: E402
                              wait_http)

CLERK_ORG = "131016"
CLERK_LOGIN, CLERK_PASSWORD = "latency-clerk", "latency-bench-passphrase-2026"
P99_TARGET_MS = 100.0
RPS_SHARE = 0.5
STATUSES = (("primary_review", 40), ("secondary_review", 20), ("registered", 20),
            ("returned", 10), ("draft", 10))


# --- the data --------------------------------------------------------------------------

def seed(settings, apps: int) -> dict:
    """``apps`` applications of the registry's organisations, at every status, with
    their forms, history and (once submitted) review cases; the clerk's organisation
    gets a few. Returns ids the clients read."""
    from sqlalchemy import select

    from services.intake.models import Application, FormEntry, HistoryEntry, Organisation
    from services.review.models import Decision, ReviewCase
    from shared.db import Database
    from tests.factories import all_forms

    rnd = random.Random(17)
    intake = Database(settings.database_url("intake"))
    review = Database(settings.database_url("review"))
    with intake.transaction() as session:
        orgs = [dict(id=o.id, name=o.name, kind=o.kind, branch=o.branch,
                     prefecture_code=o.prefecture_code, parent_id=o.parent_id)
                for o in session.scalars(select(Organisation).where(Organisation.can_apply)
                                         .order_by(Organisation.id))]
    clerk = next(o for o in orgs if o["id"] == CLERK_ORG)
    weights = [w for _, w in STATUSES]
    now = dt.datetime.now(dt.timezone.utc)
    forms_of: dict[str, dict] = {}
    owned, reviewed = [], []
    chunk = 250
    for start in range(0, apps, chunk):
        batch_apps, batch_cases = [], []
        with intake.transaction() as session:
            for n in range(start, min(apps, start + chunk)):
                org = clerk if n % 500 == 0 else orgs[n % len(orgs)]
                status = rnd.choices([s for s, _ in STATUSES], weights)[0]
                submitted = status != "draft"
                at = now - dt.timedelta(minutes=rnd.randint(10, 60 * 24 * 90))
                stage = {"primary_review": "primary", "secondary_review": "secondary"}.get(status)
                reviewer = ("MIC" if stage == "secondary" else
                            (org["prefecture_code"] if org["kind"] != "都道府県" else "JLIS"))
                app = Application(number=f"B{n + 1:07d}" if submitted else None,
                                  org_id=org["id"], kind="connection", status=status,
                                  round=1 if submitted else 0, stage=stage,
                                  reviewer_org_id=reviewer if stage else None,
                                  created_by="bench", created_at=at, updated_at=at,
                                  submitted_at=at if submitted else None)
                data = forms_of.setdefault(org["id"], all_forms(org["id"]))
                app.forms = [FormEntry(code=code, data=form, status="valid", findings=[])
                             for code, form in data.items()]
                app.history = [HistoryEntry(round=0, at=at, event="created", status="draft",
                                            actor={"login": "bench"}, org_id=org["id"])]
                if submitted:
                    app.history.append(HistoryEntry(round=1, at=at, event="submitted",
                                                    status=status, stage=stage,
                                                    actor={"login": "bench"}, org_id=org["id"]))
                session.add(app)
                batch_apps.append((app, org, data, at, stage, reviewer))
            session.flush()
            for app, org, data, at, stage, reviewer in batch_apps:
                if org["id"] == CLERK_ORG:
                    owned.append(app.id)
                if app.status != "draft":
                    batch_cases.append((app.id, app.number, app.status, org, data, at, stage,
                                        reviewer))
        with review.transaction() as session:
            for app_id, number, status, org, data, at, stage, reviewer in batch_cases:
                first = org["prefecture_code"] if org["kind"] != "都道府県" else "JLIS"
                routes = {"primary": {"org_id": first, "reason": "bench"},
                          "secondary": {"org_id": "MIC", "reason": "bench"}}
                case = ReviewCase(application_id=app_id, round=1, number=number,
                                  kind="connection", org=org, org_id=org["id"],
                                  prefecture_code=org["prefecture_code"],
                                  status=status if stage else
                                  ("approved" if status == "registered" else status),
                                  stage=stage or "primary", reviewer_org_id=reviewer,
                                  routes=routes, forms=data, findings=[], catalog_version=None,
                                  submitted_by={"login": "bench", "org_id": org["id"]},
                                  submitted_at=at, received_at=at, stage_started_at=at)
                case.search_columns()
                if status in ("secondary_review", "registered"):
                    case.decisions = [Decision(stage="primary", result="承認", comment="",
                                               reviewer_org_id=org["prefecture_code"],
                                               reviewer_login="bench", reviewer_name="審査",
                                               reviewer_department="課", decided_at=at)]
                session.add(case)
                if stage == "primary" and reviewer == "130001":
                    reviewed.append(app_id)
    intake.dispose()
    review.dispose()
    return {"owned": owned, "reviewed": reviewed}


# --- the clients -----------------------------------------------------------------------

def page_cookie(port: int, login: str, password: str) -> str:
    """Log in through the login page; the session cookie every page then takes."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/auth/login")
    res = conn.getresponse()
    html = res.read().decode()
    cookie = res.getheader("Set-Cookie", "").split(";", 1)[0]
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    body = urllib.parse.urlencode({"csrf_token": token, "login": login, "password": password,
                                   "next": "/applicant/"})
    conn.request("POST", "/auth/login", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    res = conn.getresponse()
    res.read()
    if res.status != 302:
        raise RuntimeError(f"page login failed: {res.status}")
    return res.getheader("Set-Cookie", "").split(";", 1)[0]


def hammer(port: int, paths: list[str], headers: dict, clients: int, seconds: float) -> dict:
    """``clients`` threads, each on its own keep-alive connection, loop over ``paths``
    for ``seconds``: requests per second and latency percentiles (ms)."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start = threading.Barrier(clients + 1)

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, k = latencies[n], n
        start.wait()
        while time.monotonic() < stop_at[0]:
            path = paths[k % len(paths)]
            k += 1
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                res = conn.getresponse()
                res.read()
                ok = res.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                ok = False
            if ok:
                mine.append((time.perf_counter() - t0) * 1000)
            else:
                errors[n] += 1
        conn.close()

    stop_at = [float("inf")]                       # set once every client is ready
    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    began = time.monotonic()
    stop_at[0] = began + seconds
    for t in threads:
        t.join(seconds + 60)
    elapsed = time.monotonic() - began
    every = [x for part in latencies for x in part]
    return {"requests": len(every), "errors": sum(errors), "rps": len(every) / elapsed,
            "p50_ms": pct(every, 50), "p99_ms": pct(every, 99)}


def measure(ports: dict, tokens: dict, cookie: str, ids: dict, clients: int,
            seconds: float, only: tuple[str, ...] = (), servers: dict | None = None
            ) -> list[dict]:
    """Each endpoint of the plan in turn (``only``: those named, with the /healthz of
    their server). ``servers``: port → the pids serving it (web processes and gateway),
    whose CPU time per request is measured beside the wall figures."""
    bearer = lambda who: {"Authorization": f"Bearer {tokens[who]}"}  # noqa: E731
    review, intake = ports["review"], ports["intake"]
    cases = ids["reviewed"][:50] or [0]
    owned = ids["owned"][:20] or [0]
    plan = [
        ("healthz (review's server)", review, ["/healthz"], {}),
        ("review queue", review, ["/api/review/queue?status=primary_review&sort=since"],
         bearer("pref")),
        ("operator list", review, ["/api/review/queue?sort=number&order=desc",
                                   "/api/review/queue?sort=number&order=desc&page=40"],
         bearer("operator")),
        ("case detail", review, [f"/api/review/applications/{i}" for i in cases], bearer("pref")),
        ("healthz (intake's server)", intake, ["/healthz"], {}),
        ("application detail", intake, [f"/api/intake/applications/{i}" for i in owned],
         bearer("clerk")),
        ("applicant dashboard", intake, ["/applicant/"], {"Cookie": cookie}),
    ]
    if only:
        wanted = {port for name, port, _p, _h in plan if name in only}
        plan = [step for step in plan if step[0] in only
                or (step[0].startswith("healthz") and step[1] in wanted)]
    out, floor = [], {}
    for name, port, paths, headers in plan:
        pids = (servers or {}).get(port, ())
        cpu0 = proc_cpu(pids)
        figures = hammer(port, paths, headers, clients, seconds)
        if pids:
            figures["server_cpu_ms"] = ((proc_cpu(pids) - cpu0) * 1000
                                        / max(1, figures["requests"] + figures["errors"]))
        if name.startswith("healthz"):
            floor[port] = figures["rps"]
        share = figures["rps"] / floor[port] if floor.get(port) else None
        holds = (name.startswith("healthz") or
                 (figures["p99_ms"] <= P99_TARGET_MS and share is not None and share >= RPS_SHARE
                  and figures["errors"] == 0))
        out.append({"endpoint": name, **figures, "share_of_healthz": share, "holds": holds,
                    "load": os.getloadavg()[0]})
        print(f"  {name:28} {figures['rps']:8.0f}/s  p50 {figures['p50_ms']:6.1f} ms  "
              f"p99 {figures['p99_ms']:6.1f} ms  errors {figures['errors']}"
              + (f"  {share:4.2f}× healthz" if share and not name.startswith("healthz") else "")
              + (f"  server CPU {figures['server_cpu_ms']:.2f} ms/request"
                 if "server_cpu_ms" in figures else ""),
              flush=True)
    return out


def proc_cpu(pids) -> float:
    """CPU seconds (user + system) so far of the processes ``pids`` (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick    # utime, stime
    return total


def children(pid: int) -> list[int]:
    """``pid`` and its child processes (nginx's master and worker)."""
    found = [pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return found


NGINX = "/usr/sbin/nginx"


def start_gateway(workdir: Path, upstreams: dict[str, list[int]]) -> tuple[subprocess.Popen, dict]:
    """nginx in front of each service's web processes, as deploy/nginx.conf puts the
    gateway in front of the replicas of a service (there by DNS round robin, here by an
    ``upstream`` of the processes' ports: round robin, keep-alive connections to them).
    One port per service; returns the process and service → port."""
    ports = {service: free_port() for service in upstreams}
    tmp = workdir / "nginx"
    tmp.mkdir(exist_ok=True)
    blocks = []
    for service, backends in upstreams.items():
        servers = "".join(f"        server 127.0.0.1:{p};\n" for p in backends)
        blocks.append(f"""    upstream {service} {{
{servers}        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{ports[service]};
        location / {{
            proxy_pass http://{service};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_buffering on;
        }}
    }}
""")
    conf = tmp / "nginx.conf"
    conf.write_text(f"""worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 1000000;
{"".join(blocks)}}}
""")
    proc = subprocess.Popen([NGINX, "-e", str(tmp / "error.log"), "-p", str(tmp), "-c", str(conf),
                             "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, start_new_session=True)
    for port in ports.values():
        wait_http(port, 30)
    return proc, ports


# --- the set-ups -----------------------------------------------------------------------

def _tokens(secret: str) -> dict:
    from shared.auth import Principal, issue_token

    def tok(*args):
        return issue_token(Principal(*args), secret, 86400)[0]

    return {"pref": tok(91_001, "latency-pref", "130001", "primary_reviewer", "審査", "課"),
            "operator": tok(91_002, "latency-op", "MIC", "operator", "運用", "課"),
            "clerk": tok(91_003, "latency-clerk-token", CLERK_ORG, "applicant", "申請", "課")}


def _add_clerk(env: dict) -> None:
    subprocess.run([NWS, "users", "add", "--login", CLERK_LOGIN, "--password-stdin",
                    "--org", CLERK_ORG, "--role", "applicant"], env=env,
                   input=CLERK_PASSWORD + "\n", text=True, check=True, capture_output=True)


def run_embedded(apps: int, clients: int, seconds: float, workdir: Path) -> list[dict]:
    from shared.config import Settings

    env = {**os.environ, "NWS_DATA_DIR": str(workdir / "var"), "NWS_LOG_LEVEL": "WARNING",
           "NWS_LOG_FORMAT": "text", "PYTHONPATH": str(REPO)}
    for key in ("NWS_DATABASE_URL", "NWS_BROKER_URL", "NWS_SECRET_KEY"):
        env.pop(key, None)
    subprocess.run([NWS, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([NWS, "refdata", "load"], env=env, check=True, capture_output=True)
    _add_clerk(env)
    settings = Settings.from_env(env, embedded=True)
    t0 = time.monotonic()
    ids = seed(settings, apps)
    print(f"  seeded {apps} applications in {time.monotonic() - t0:.0f} s", flush=True)
    port = free_port()
    log = open(workdir / "serve.log", "ab")
    proc = subprocess.Popen([NWS, "serve", "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_http(port, 120)
        cookie = page_cookie(port, CLERK_LOGIN, CLERK_PASSWORD)
        ports = {"review": port, "intake": port}
        return measure(ports, _tokens(settings.secret_key), cookie, ids, clients, seconds)
    finally:
        stop_cluster([proc], _NoAdmin(), "")


class _NoAdmin:
    def execute(self, *_a):
        pass

    def close(self):
        pass


def _pg_database(workdir: Path):
    """A new PostgreSQL database for one run: its name, an admin connection (to drop it
    afterwards) and the environment of the suite's processes on it."""
    import psycopg

    db = f"nws_latency_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    admin.execute(f'CREATE DATABASE "{db}"')
    env = {**os.environ,
           "NWS_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}",
           "NWS_BROKER_URL": REDIS, "NWS_BROKER_KEY_PREFIX": f"latency-{uuid.uuid4().hex[:6]}:",
           "NWS_SECRET_KEY": "bench-secret-" + "x" * 40, "NWS_DATA_DIR": str(workdir / "data"),
           "NWS_LOG_LEVEL": "WARNING", "NWS_LOG_FORMAT": "text", "PYTHONPATH": str(REPO)}
    return db, admin, env


def _prepare(env: dict, apps: int):
    """Migrate, load the reference data, add the clerk and seed ``apps`` applications:
    the settings and the seeded ids."""
    from shared.config import Settings

    subprocess.run([NWS, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([NWS, "refdata", "load"], env=env, check=True, capture_output=True)
    _add_clerk(env)
    settings = Settings.from_env(env)
    t0 = time.monotonic()
    ids = seed(settings, apps)
    print(f"  seeded {apps} applications in {time.monotonic() - t0:.0f} s", flush=True)
    return settings, ids


def run_postgres(apps: int, clients: int, seconds: float, workdir: Path) -> list[dict]:
    db, admin, env = _pg_database(workdir)
    procs: list[subprocess.Popen] = []
    try:
        settings, ids = _prepare(env, apps)
        ports = {s: free_port() for s in ("identity", "intake", "review")}
        env["NWS_IDENTITY_URL"] = f"http://127.0.0.1:{ports['identity']}"
        for service, port in ports.items():
            log = open(workdir / f"web-{service}.log", "ab")
            procs.append(subprocess.Popen(
                [NWS, "web", "--service", service, "--host", "127.0.0.1", "--port", str(port)],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        for port in ports.values():
            wait_http(port, 120)
        # the login page is identity's; the session cookie is the host's, for every port
        cookie = page_cookie(ports["identity"], CLERK_LOGIN, CLERK_PASSWORD)
        return measure(ports, _tokens(settings.secret_key), cookie, ids, clients, seconds)
    finally:
        stop_cluster(procs, admin, db)


SCALING_ENDPOINTS = ("review queue", "application detail")


def run_scaling(apps: int, clients: int, seconds: float, workdir: Path,
                procs_each: tuple[int, ...] = (1, 2), turns: int = 2,
                only: tuple[str, ...] = SCALING_ENDPOINTS) -> list[dict]:
    """The PostgreSQL set-up behind an nginx gateway with 1, then 2 ``nws web``
    processes per service (``procs_each``), in ``turns`` alternating rounds on one
    database: how the figures move with a second process. Each figure carries the CPU
    time per request of the serving processes (web processes + nginx)."""
    db, admin, env = _pg_database(workdir)
    results = []
    try:
        settings, ids = _prepare(env, apps)
        tokens = _tokens(settings.secret_key)
        for turn in range(turns):
            for n in (procs_each if turn % 2 == 0 else tuple(reversed(procs_each))):
                print(f"  turn {turn + 1}: {n} web process(es) per service behind nginx",
                      flush=True)
                procs: list[subprocess.Popen] = []
                try:
                    backends = {s_: [free_port() for _ in range(n)]
                                for s_ in ("identity", "intake", "review")}
                    run_env = {**env, "NWS_IDENTITY_URL":
                               f"http://127.0.0.1:{backends['identity'][0]}"}
                    pids: dict[str, list[int]] = {}
                    for service, ports_ in backends.items():
                        for port in ports_:
                            log = open(workdir / f"web-{service}-{port}.log", "ab")
                            p = subprocess.Popen(
                                [NWS, "web", "--service", service, "--host", "127.0.0.1",
                                 "--port", str(port)], env=run_env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
                            procs.append(p)
                            pids.setdefault(service, []).append(p.pid)
                    for ports_ in backends.values():
                        for port in ports_:
                            wait_http(port, 120)
                    gateway, gports = start_gateway(workdir, backends)
                    procs.append(gateway)
                    nginx_pids = children(gateway.pid)
                    cookie = page_cookie(gports["identity"], CLERK_LOGIN, CLERK_PASSWORD)
                    servers = {gports[s_]: pids[s_] + nginx_pids for s_ in gports}
                    for row in measure(gports, tokens, cookie, ids, clients, seconds,
                                       only=only, servers=servers):
                        results.append({"turn": turn + 1, "web_processes": n, **row})
                finally:
                    stop_cluster(procs, _NoAdmin(), "")
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.close()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=("embedded", "postgres", "both"), default="both")
    ap.add_argument("--apps", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--json", type=Path, help="write the figures here as JSON")
    ap.add_argument("--scaling", action="store_true",
                    help="PostgreSQL behind nginx with 1, then 2 web processes per service, in "
                         "alternating turns, for the review queue and the application detail")
    ap.add_argument("--turns", type=int, default=2, help="rounds of 1 and 2 processes (--scaling)")
    args = ap.parse_args()
    results = {}
    if args.scaling:
        print(f"scaling: {args.apps} applications, {args.clients} clients, {args.seconds:g} s "
              "per endpoint, 1 and 2 web processes per service behind nginx", flush=True)
        with tempfile.TemporaryDirectory(prefix="nws-latency-") as tmp:
            results["scaling"] = run_scaling(args.apps, args.clients, args.seconds, Path(tmp),
                                             turns=args.turns)
        if args.json:
            args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2))
        return
    with tempfile.TemporaryDirectory(prefix="nws-latency-") as tmp:
        for backend in (("embedded", "postgres") if args.backend == "both" else (args.backend,)):
            print(f"{backend}: {args.apps} applications, {args.clients} clients, "
                  f"{args.seconds:g} s per endpoint", flush=True)
            workdir = Path(tmp) / backend
            workdir.mkdir()
            run = run_embedded if backend == "embedded" else run_postgres
            results[backend] = run(args.apps, args.clients, args.seconds, workdir)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
