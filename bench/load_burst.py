"""Load test: a burst of connection applications against the distributed suite on this
machine — real PostgreSQL, real Redis, `nws web` and `nws worker` processes — run once
with 1 and once with 2 intake workers.

Applicants are the municipalities' 首長部局 and 教育委員会 (up to --apps; 3,482 in the
registry). Each application is created and gets every required form in one uploaded
workbook (or as JSON with --json-forms) and is submitted once its forms are validated;
a 教育委員会's application is passed on by its 首長部局, the prefecture approves and 総務省
approves, so it goes through intake, review, matching and master. Filing and acting run
at the same time, as in life; the harness watches state with one SQL query per tick and
each service queue's depth in Redis, so watching does not load the web processes.
Reported: throughput, latency percentiles per stage, each queue's largest depth and when
it last held work, and the CPU time each kind of process used per registered application
(web processes, workers, the run's PostgreSQL backends, Redis, the harness: the figure a
busy machine disturbs least; 20 applications a second on 2 cores is 100 ms), with the
idle cluster's CPU per second and the load average. ``--profile DIR`` samples the web
and worker processes with py-spy and sums the samples per function.

    .venv/bin/python bench/load_burst.py --apps 3482 --intake-workers 1 2

Stops by itself: request loops are bounded by --apps and --timeout. Traffic goes to
127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NWS = str(Path(sys.executable).with_name("nws"))
PG_ADMIN = os.environ.get("NWS_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("NWS_BENCH_REDIS", "redis://127.0.0.1:6379/8")
TABLE_SCANS = "select relname, seq_tup_read from pg_stat_user_tables"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) a live process has used, from /proc/<pid>/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK   # utime, stime


def proc_table() -> tuple[dict[int, list[int]], dict[int, str]]:
    """Every live process's children and command name, from one pass over /proc."""
    children: dict[int, list[int]] = {}
    comm: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            pid = int(entry.name)
            comm[pid] = stat[stat.index("(") + 1:stat.rindex(")")]
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(pid)
    return children, comm


def descendants(pid: int, children: dict[int, list[int]]) -> list[int]:
    """``pid`` and every live descendant (a Celery worker's pool child, for one)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


class CpuMeter:
    """CPU seconds used during a run, per kind of process: each web process, each worker
    (with its pool children), the PostgreSQL backends serving the run's database, Redis and
    the harness itself. CPU time, unlike wall time, does not grow when other work shares
    the cores, so CPU-ms per application is the figure that survives a busy machine.

    Each tick reads /proc for every process seen; a pid's CPU counts from its first to its
    last reading, so a short-lived PostgreSQL backend that starts and ends between two
    ticks is missed (the suite's connections are pooled and live through the run)."""

    def __init__(self, procs: dict[str, int], pg_pids):
        self.procs, self.pg_pids = procs, pg_pids
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self.load: list[float] = []
        self.tick()

    def _see(self, kind: str, pid: int) -> None:
        cpu = proc_cpu(pid)
        if cpu is not None:
            self.first.setdefault((kind, pid), cpu)
            self.last[(kind, pid)] = cpu

    def tick(self) -> None:
        children, comm = proc_table()
        for kind, pid in self.procs.items():
            for p in descendants(pid, children):
                self._see(kind, p)
        for p in self.pg_pids():
            self._see("postgresql (the run's backends)", p)
        for p, name in comm.items():
            if name == "redis-server":
                self._see("redis", p)
        self._see("harness", os.getpid())
        self.load.append(os.getloadavg()[0])

    def seconds(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for (kind, pid), cpu in self.last.items():
            out[kind] = out.get(kind, 0.0) + cpu - self.first[(kind, pid)]
        return out


class Api:
    def __init__(self, base: str, token: str):
        self.base, self.token = base, token

    def upload(self, path: str, content: bytes):
        body, boundary = _multipart("file", "connection.xlsx", content)
        req = urllib.request.Request(self.base + path, data=body, method="POST")
        req.add_header("Authorization", f"Bearer {self.token}")
        req.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
        try:
            with urllib.request.urlopen(req, timeout=60) as res:
                return res.status, json.loads(res.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def call(self, method: str, path: str, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as res:
                return res.status, json.loads(res.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")


def _multipart(field: str, filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"{filename}\"\r\nContent-Type: application/vnd.openxmlformats-"
            f"officedocument.spreadsheetml.sheet\r\n\r\n").encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), boundary


class Cluster:
    """PostgreSQL database, Redis prefix, web processes and workers for one run."""

    def __init__(self, workdir: Path, intake_workers: int):
        import psycopg

        self.workdir = workdir
        self.db = f"nws_bench_{uuid.uuid4().hex[:8]}"
        self.admin = psycopg.connect(PG_ADMIN, autocommit=True)
        self.admin.execute(f'CREATE DATABASE "{self.db}"')
        self.env = {**os.environ,
                    "NWS_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.db}",
                    "NWS_BROKER_URL": REDIS,
                    "NWS_BROKER_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:6]}:",
                    "NWS_SECRET_KEY": "bench-secret-" + "x" * 40,
                    "NWS_DATA_DIR": str(workdir / "data"),
                    "NWS_LOG_LEVEL": "WARNING", "NWS_LOG_FORMAT": "text",
                    "NWS_SWEEP_INTERVAL": "2", "PYTHONPATH": str(REPO)}
        self.procs: list[subprocess.Popen] = []
        self.named: dict[str, int] = {}   # process kind → pid, for the CPU meter
        subprocess.run([NWS, "db", "upgrade"], env=self.env, check=True, capture_output=True)
        subprocess.run([NWS, "refdata", "load"], env=self.env, check=True, capture_output=True)
        self.ports = {}
        # identity's web process serves the revocation state the others check tokens
        # against (NWS_IDENTITY_URL); the benchmark's tokens are signed here, not issued.
        identity_port = free_port()
        self.env["NWS_IDENTITY_URL"] = f"http://127.0.0.1:{identity_port}"
        self._spawn([NWS, "web", "--service", "identity", "--host", "127.0.0.1",
                     "--port", str(identity_port), "--threads", "4"], "web-identity")
        for service in ("intake", "review", "matching", "master"):
            port = free_port()
            self.ports[service] = port
            self._spawn([NWS, "web", "--service", service, "--host", "127.0.0.1",
                         "--port", str(port), "--threads", "8"], f"web-{service}")
        self._wait_http(identity_port)
        for i in range(intake_workers):
            self._spawn([NWS, "worker", "--service", "intake", "--concurrency", "1",
                         "--hostname", f"intake{i}@%h"], f"worker-intake-{i}")
        # identity's worker takes the notifications review, matching and master send
        for service in ("review", "matching", "master", "identity"):
            self._spawn([NWS, "worker", "--service", service, "--concurrency", "1"],
                        f"worker-{service}")
        for service, port in self.ports.items():
            self._wait_http(port)
        self._wait_workers(intake_workers + 4)

    def _wait_workers(self, count: int, timeout: float = 180) -> None:
        """Until ``count`` workers have registered (they do once started: on a busy
        machine their imports take many seconds, CPU that is not the burst's)."""
        from shared.processes import ProcessRegistry

        found = ProcessRegistry(REDIS, self.env["NWS_BROKER_KEY_PREFIX"])
        deadline = time.monotonic() + timeout
        while len(found.processes("worker")) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fewer than {count} workers started")
            time.sleep(0.5)
        found.client.close()
        time.sleep(2)   # their first timers and sweeps

    def _spawn(self, argv, name):
        log = open(self.workdir / f"{name}.log", "ab")
        proc = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append(proc)
        self.named[name] = proc.pid

    def _wait_http(self, port, timeout=60):
        wait_http(port, timeout)

    def url(self, service):
        return f"http://127.0.0.1:{self.ports[service]}"

    def close(self):
        stop_cluster(self.procs, self.admin, self.db)


def wait_http(port: int, timeout: float = 60) -> None:
    """Until the web process on ``port`` answers /healthz."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"web on {port} did not start")


def start_profilers(named: dict[str, int], into: Path) -> list[subprocess.Popen]:
    """py-spy sampling each web and worker process (and its pool children) for the run,
    only the thread holding the GIL (``--gil``: what runs Python, not what waits), writing collapsed stacks to ``into/<process>.txt`` (:func:`profile_table` sums them
    per application)."""
    into.mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).with_name("py-spy"))
    return [subprocess.Popen([spy, "record", "--pid", str(pid), "--subprocesses", "--gil", "--rate", "50",
                              "--format", "raw", "--output", str(into / f"{name}.txt")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for name, pid in named.items() if name != "web-identity"]


def stop_profilers(spies: list[subprocess.Popen]) -> None:
    for spy in spies:
        spy.send_signal(signal.SIGINT)   # py-spy writes its output on SIGINT
    for spy in spies:
        try:
            spy.wait(60)
        except subprocess.TimeoutExpired:
            spy.kill()


# --- the profile, summed: where the CPU goes per application ---------------------------

# Leaf frames where a thread waits rather than computes (py-spy's idle detection misses
# them on a loaded machine): the database's answer, a lock, the broker's socket, the
# pool's pipe. Their samples are wall time, not CPU, and are left out of the sums.
WAITS = ("psycopg/connection.py:Connection.wait", "threading.py:Condition.wait",
         "threading.py:Event.wait", "kombu/utils/eventio.py:_epoll.poll",
         "redis/_parsers/socket.py:SocketBuffer._read_from_socket",
         "billiard/connection.py:Connection._recv", "selectors.py:EpollSelector.select",
         "socketserver.py:BaseServer.serve_forever", "socket.py:socket.accept",
         "socket.py:SocketIO.readinto", "threading.py:Thread._wait_for_tstate_lock",
         "time.sleep", "queue.py:Queue.get", "ssl.py:SSLSocket.read",
         "concurrent/futures/thread.py:_worker")

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")


def short(frame: str) -> str:
    """``store_upload (services/intake/uploads.py:301)`` → ``intake/uploads.py:store_upload``."""
    m = FRAME.match(frame)
    if not m:
        return frame
    path = m["file"]
    for cut in ("/site-packages/", "/wt-burst/", "/main/", "/lib/python3.11/"):
        if cut in path:
            path = path.split(cut, 1)[1]
            break
    return f"{path}:{m['func']}"


def summarise(path: Path, top: int = 25) -> tuple[int, Counter, Counter]:
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [short(f) for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames or frames[-1] in WAITS or frames[-1].endswith(":sleep"):
            continue
        total += n
        for f in set(frames):
            inclusive[f] += n
        own[frames[-1]] += n
    return total, inclusive, own


def profile_table(into: Path, apps: int, rate: int = 50, top: int = 30) -> str:
    """Per process sampled, the functions holding the most samples (inclusive, and self)
    as CPU-ms per application; written next to the samples as ``summary.txt``. py-spy
    samples the thread holding the GIL ``rate`` times a second; on a loaded machine a
    process that holds the GIL while it waits for a core is sampled too, so the figures
    run above the CPU the meter measures — compare shares within a process."""
    ms = 1000 / rate / max(1, apps)
    out = []
    for path in sorted(into.glob("*.txt")):
        if path.name == "summary.txt":
            continue
        total, inclusive, own = summarise(path)
        out.append(f"== {path.stem}: {total * ms:.1f} ms sampled per application")
        out.append("   inclusive, the suite's own functions:")
        ours = [(f, n) for f, n in inclusive.most_common()
                if f.startswith(("services/", "shared/", "plugins/", "nws/"))]
        out.extend(f"   {n * ms:8.1f}  {f}" for f, n in ours[:top])
        out.append("   self:")
        out.extend(f"   {n * ms:8.1f}  {f}" for f, n in own.most_common(top // 2))
    text = "\n".join(out) + "\n"
    (into / "summary.txt").write_text(text)
    return text


def stop_cluster(procs: list, admin, db: str) -> None:
    """SIGTERM every process group (SIGKILL after 30 s), then drop the run's database."""
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
    admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    admin.close()


def run(apps: int, intake_workers: int, concurrency: int, timeout: float, workdir: Path,
        workbooks: bool = True, profile: Path | None = None, idle_seconds: float = 15) -> dict:
    import plugins
    from shared import workbook as wbk
    from shared.auth import Principal, issue_token
    from shared.pluginmanager import build_plugin_manager, form_specs
    from tests.factories import all_forms

    layouts = {c: spec.layout for c, spec in form_specs(
        build_plugin_manager(plugins.BUILTIN)).items()}

    workdir.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(workdir, intake_workers)
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + "/" + cluster.db) as conn:
            # Every municipality's 首長部局 and 教育委員会 (the latter passes through its
            # 首長部局 first), interleaved so both kinds arrive throughout the burst.
            rows = conn.execute(
                "select id, prefecture_code, parent_id from intake_organisations"
                " where kind in ('市', '特別区', '町', '村', '政令指定都市') and can_apply"
                " order by coalesce(parent_id, id), branch desc limit %s", (apps,)).fetchall()
        orgs = [r[0] for r in rows]
        prefs = {r[0]: r[1] for r in rows}
        forwarder_of = {r[0]: r[2] for r in rows if r[2]}
        secret = cluster.env["NWS_SECRET_KEY"]
        tok = lambda p: issue_token(p, secret, 86400)[0]  # noqa: E731
        applicant = {o: Api(cluster.url("intake"), tok(Principal(10_000 + i, f"bench-{o}", o,
                                                                 "applicant", "申請者", "課")))
                     for i, o in enumerate(orgs)}
        reviewer = {p: tok(Principal(20_000 + i, f"bench-pref-{p}", p, "primary_reviewer",
                                     "審査者", "課")) for i, p in enumerate(set(prefs.values()))}
        mic = tok(Principal(30_000, "bench-mic", "MIC", "secondary_reviewer", "総務", "課"))
        forwarder = {o: tok(Principal(40_000 + i, f"bench-fwd-{o}", o, "forwarder", "首長", "課"))
                     for i, o in enumerate(sorted(set(forwarder_of.values())))}
        times: dict[str, dict[str, float]] = {o: {} for o in orgs}
        harness_cpu = {"writing workbooks": 0.0}   # the harness's own share, by thread CPU

        def file_one(org):
            api = applicant[org]
            t0 = time.monotonic()
            status, body = api.call("POST", "/api/intake/applications", {"kind": "connection"})
            assert status == 201, body
            app_id = body["id"]
            forms = all_forms(org)
            # 様03-07 carries the rows that follow from the organisation's kind, as the
            # selection screen would fill them (default selection: every automatic row).
            s, catalog = api.call("GET", f"/api/intake/catalog?org={org}")
            assert s == 200, catalog
            small = {"status": "1000人未満", "reason": "", "reports": []}
            forms["03-07"]["query_affairs"] = [
                {"item_no": r["item_no"], "affair": r["affair"], "request_type": "登録",
                 "pia": small} for r in catalog["query_affairs"]["automatic"]]
            forms["03-07"]["provided_info"] = [
                {"info_no": r["info_no"], "info_name": r["info_name"], "request_type": "登録",
                 "pia": small} for r in catalog["provided_info"]["automatic"]]
            if workbooks:
                # One workbook holding every form, as an applicant uploads it.
                c0 = time.thread_time()
                content = wbk.write_workbook([wbk.FormPart(layouts[c], d) for c, d in forms.items()])
                harness_cpu["writing workbooks"] += time.thread_time() - c0
                status, body = api.upload(f"/api/intake/applications/{app_id}/uploads", content)
                assert status == 202, body
            else:
                for code, data in forms.items():
                    status, body = api.call(
                        "PUT", f"/api/intake/applications/{app_id}/forms/{code}", data)
                    assert status == 202, body
            times[org].update(app_id=app_id, created=t0, forms_sent=time.monotonic(),
                              nforms=len(forms))
            by_app[app_id] = org
            return org

        import redis

        broker = redis.Redis.from_url(REDIS)
        prefix = cluster.env["NWS_BROKER_KEY_PREFIX"]
        queues = ("intake", "review", "matching", "master")
        depth_max = dict.fromkeys(queues, 0)
        depth_drained = dict.fromkeys(queues, 0.0)   # last time a queue was seen non-empty

        pending = set(orgs)
        submitted, routed, forwarded, decided2 = set(), set(), set(), set()
        deadline = time.monotonic() + timeout
        by_app: dict[int, str] = {}

        # The harness watches the database with one query per tick (as an operator's
        # dashboard would), so watching does not load the web processes it measures;
        # only what applicants and reviewers do goes through HTTP.
        def observe(conn):
            return conn.execute(
                "select a.id, a.status,"
                " (select count(*) from intake_forms f where f.application_id = a.id),"
                " (select count(*) from intake_forms f where f.application_id = a.id"
                "  and f.status = 'validating'),"
                " (select count(*) from intake_uploads u where u.application_id = a.id"
                "  and u.status = 'failed')"
                " from intake_applications a where a.id = any(%s)",
                (list(by_app),)).fetchall()

        def act(row):
            app_id, status, nforms, validating, failed_uploads = row
            org = by_app[app_id]
            t = times[org]
            now = time.monotonic()
            if org not in submitted:
                if failed_uploads:
                    t["failed"] = "upload failed"
                    pending.discard(org)
                elif nforms >= t["nforms"] and not validating:
                    t.setdefault("forms_valid", now)
                    s, b = applicant[org].call("POST", f"/api/intake/applications/{app_id}/submit")
                    if s == 202:
                        t["submitted"] = time.monotonic()
                        submitted.add(org)
                    else:
                        t["failed"] = json.dumps(b, ensure_ascii=False)[:300]
                        pending.discard(org)
                return
            if status == "forwarding" and org not in forwarded:
                forwarded.add(org)
                t["forwarding"] = now
                fw = Api(cluster.url("review"), forwarder[forwarder_of[org]])
                fw.call("POST", f"/api/review/applications/{app_id}/decisions",
                        {"result": "承認", "comment": ""})
                t["forwarded"] = time.monotonic()
                return
            if org not in routed and status == "primary_review":
                t["routed"] = now
                routed.add(org)
                rv = Api(cluster.url("review"), reviewer[prefs[org]])
                rv.call("POST", f"/api/review/applications/{app_id}/decisions",
                        {"result": "承認", "comment": ""})
                t["primary_decided"] = time.monotonic()
                return
            if org in routed and org not in decided2 and status == "secondary_review":
                t["secondary_reached"] = now
                rv = Api(cluster.url("review"), mic)
                rv.call("POST", f"/api/review/applications/{app_id}/decisions",
                        {"result": "承認", "comment": ""})
                t["secondary_decided"] = time.monotonic()
                decided2.add(org)
                return
            if status == "registered":
                t["registered"] = now
                pending.discard(org)

        with psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + "/" + cluster.db,
                             autocommit=True) as conn, \
                cf.ThreadPoolExecutor(concurrency) as pool:
            sent = None
            stat_sql = ("select xact_commit + xact_rollback, tup_returned + tup_fetched,"
                        " tup_inserted + tup_updated + tup_deleted from pg_stat_database"
                        " where datname = current_database()")
            meter = CpuMeter(cluster.named, lambda: [r[0] for r in conn.execute(
                "select pid from pg_stat_activity where datname = current_database()"
                " and pid <> pg_backend_pid()").fetchall()])
            # The cluster idle first: what its processes use with nothing to do (timers,
            # sweeps, heartbeats), so the run's CPU can be split into per-application
            # work and a cost per second that a faster run spreads thinner.
            time.sleep(idle_seconds)
            meter.tick()
            idle_cpu = meter.seconds()
            stats0 = conn.execute(stat_sql).fetchone()
            tables0 = dict(conn.execute(TABLE_SCANS).fetchall())
            spies = start_profilers(cluster.named, profile) if profile else []
            # Applicants file while the harness already acts on what is ready, as in life.
            started = time.monotonic()
            filing = cf.ThreadPoolExecutor(concurrency)
            filed = [filing.submit(file_one, org) for org in orgs]
            while pending and time.monotonic() < deadline:
                meter.tick()
                if sent is None and all(f.done() for f in filed):
                    sent = time.monotonic()
                    for f in filed:
                        f.result()   # a filing that failed stops the run here
                now = time.monotonic()
                for q in queues:
                    depth = broker.llen(prefix + q)
                    depth_max[q] = max(depth_max[q], depth)
                    if depth:
                        depth_drained[q] = now - started
                rows = [r for r in observe(conn) if by_app[r[0]] in pending]
                list(pool.map(act, rows))
                time.sleep(0.5)
            meter.tick()
            stop_profilers(spies)
            time.sleep(0.6)   # pg_stat_database is updated every 0.5 s
            stats1 = conn.execute(stat_sql).fetchone()
            tables1 = dict(conn.execute(TABLE_SCANS).fetchall())
        napps = max(1, sum(1 for t in times.values() if "registered" in t))
        conn_stats = {"transactions": round((stats1[0] - stats0[0]) / napps, 1),
                      "rows read": round((stats1[1] - stats0[1]) / napps, 1),
                      "rows written": round((stats1[2] - stats0[2]) / napps, 1),
                      # rows read by sequential scans, by table (the harness's watch
                      # query included): a table whose figure grows with the run's size
                      # is read whole by some query
                      "rows read by sequential scans, by table": dict(sorted(
                          ((t, round((n - tables0.get(t, 0)) / napps, 1))
                           for t, n in tables1.items() if n - tables0.get(t, 0) > 0),
                          key=lambda kv: -kv[1])[:8])}
        filing.shutdown()
        sent = sent or time.monotonic()
        finished = time.monotonic()

        def lat(a, b, only=lambda t: True):
            return [t[b] - t[a] for t in times.values() if a in t and b in t and only(t)]

        stages = {
            "forms sent → all forms validated": lat("forms_sent", "forms_valid"),
            "submitted → routed to the prefecture (首長部局)": lat("submitted", "routed",
                                                                 lambda t: "forwarding" not in t),
            "教育委員会: submitted → at its 首長部局": lat("submitted", "forwarding"),
            "教育委員会: forwarded → at the prefecture": lat("forwarded", "routed"),
            "primary decided → at 総務省": lat("primary_decided", "secondary_reached"),
            "secondary decided → registered in the master": lat("secondary_decided", "registered"),
            "created → registered (end to end)": lat("created", "registered"),
        }
        done = [t for t in times.values() if "registered" in t]
        run_s = finished - started
        cpu = {k: v - idle_cpu.get(k, 0.0) for k, v in meter.seconds().items()}
        idle_rate = {k: v / idle_seconds for k, v in idle_cpu.items()} if idle_seconds else {}
        per_app = lambda sec: round(1000 * sec / max(1, len(done)), 1)  # noqa: E731

        def by_kind(seconds: dict[str, float]) -> dict[str, float]:
            kinds: dict[str, float] = {}
            for name, sec in seconds.items():
                kind = name.rsplit("-", 1)[0] if name.startswith("worker-intake-") else name
                kinds[kind] = kinds.get(kind, 0.0) + sec
            return dict(sorted(kinds.items(), key=lambda kv: -kv[1]))

        kinds = by_kind(cpu)
        # what the same processes would have used idle for as long as the run lasted
        background = by_kind({k: v * run_s for k, v in idle_rate.items()})
        pg_stats = conn_stats
        return {
            "apps": len(orgs), "intake_workers": intake_workers,
            "forms_as": "one uploaded workbook per application" if workbooks else "JSON", "registered": len(done),
            "failed": [t.get("failed") for t in times.values() if "failed" in t][:3],
            "filing_seconds": round(sent - started, 1),
            "total_seconds": round(finished - started, 1),
            "throughput_registered_per_s": round(len(done) / (finished - started), 2),
            "validated_per_s": round(len(lat("forms_sent", "forms_valid")) / max(
                1e-9, max((t.get("forms_valid", 0) for t in times.values()), default=0) - started
                if any("forms_valid" in t for t in times.values()) else 1), 2),
            "cpu_ms_per_registered_app": dict(
                ((k, per_app(v)) for k, v in kinds.items()), total=per_app(sum(cpu.values()))),
            "idle_cpu_ms_per_s": {k: round(1000 * v / idle_seconds, 1)
                                  for k, v in by_kind(idle_cpu).items()} if idle_seconds else {},
            "cpu_ms_per_app_beyond_idle": dict(
                ((k, per_app(v - background.get(k, 0.0))) for k, v in kinds.items()),
                total=per_app(sum(cpu.values()) - sum(background.values()))),
            "postgresql_per_app": pg_stats,
            "cpu_seconds": {k: round(v, 1) for k, v in sorted(cpu.items())},
            "harness_cpu_ms_per_app": {k: per_app(v) for k, v in harness_cpu.items()},
            "loadavg_1min": {"min": round(min(meter.load), 2),
                             "median": round(pct(meter.load, 50), 2),
                             "max": round(max(meter.load), 2)},
            "queue_depth_max": depth_max,
            "queue_last_nonempty_s": {q: round(v, 1) for q, v in depth_drained.items()},
            "stages": {k: {"n": len(v), "p50": round(pct(v, 50), 2), "p95": round(pct(v, 95), 2),
                           "max": round(max(v), 2) if v else None} for k, v in stages.items()},
        }
    finally:
        cluster.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--apps", type=int, default=500)
    parser.add_argument("--intake-workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--concurrency", type=int, default=16, help="client threads")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--workdir", default="/tmp/nws-load-burst")
    parser.add_argument("--json-forms", action="store_true",
                        help="PUT forms as JSON instead of uploading workbooks")
    parser.add_argument("--idle-seconds", type=float, default=15,
                        help="seconds the cluster idles, measured, before the burst")
    parser.add_argument("--profile", metavar="DIR",
                        help="sample the web and worker processes with py-spy into DIR; "
                             "the sums per application go to DIR/w<N>/summary.txt")
    args = parser.parse_args()
    results = []
    for n in args.intake_workers:
        print(f"--- {args.apps} applications, {n} intake worker(s) ---", flush=True)
        profile = Path(args.profile) / f"w{n}" if args.profile else None
        result = run(args.apps, n, args.concurrency, args.timeout, Path(args.workdir) / f"w{n}",
                     workbooks=not args.json_forms, profile=profile,
                     idle_seconds=args.idle_seconds)
        print(json.dumps(result, ensure_ascii=False, indent=2), flush=True)
        if profile is not None:
            print(profile_table(profile, result["registered"]), flush=True)
        results.append(result)
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "load_burst.json").write_text(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
