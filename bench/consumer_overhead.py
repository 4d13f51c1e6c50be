"""What the consumer wrapper costs per message, beside a bare Celery task.

One worker process (the suite's own runtime and Celery configuration, prefork with one
child, as ``nws worker`` runs) on real Redis and real PostgreSQL drains, in the same
run:

- ``bare``: N no-op Celery tasks (each only counts itself in Redis, so the run knows
  when they are done): the floor, what Celery and the broker cost;
- ``wrapped``: N messages of the suite's own types, as intake receives them
  (``form.validation_requested``, ``application.validation_requested``,
  ``upload.received`` from intake itself and ``application.status_changed`` from
  review), through the real consumer wrapper (``ServiceContext.consume``: envelope and
  payload schemas, the delivery mark, the transaction, the inbox row, the
  acknowledgement to the sender and the sender's worker marking its outbox row, in
  batches) with a handler that does nothing. The run ends when every outbox row is
  marked acknowledged, so the sender's side is in the time.

Target (issue 17): the wrapped message costs at most 3× the bare task.

Each kind runs ``--turns`` times (4), alternating (bare, wrapped, wrapped, bare, …), and
each turn is measured twice: the wall time per message, and the CPU time per message of
the worker process and its pool child (user + system, from /proc). On a machine other
jobs share, the CPU ratio is the robust figure (other processes' work does not enter it);
the wall ratio is reported as the median of the turns, each turn's pair of runs taken
back to back. The worker's idle CPU rate (its loops with nothing to do) is measured
first and reported: it enters both kinds' CPU in proportion to their wall time.

    .venv/bin/python bench/consumer_overhead.py                        # 4 turns of 1,000
    .venv/bin/python bench/consumer_overhead.py --messages 300         # quick (make bench)

The envelopes are made by the sending services' own ``emit`` (real outbox rows, held
back from the outbox sweeper) and sent to bench-only task names, so no real handler
runs. The database and the Redis prefix are the run's own and are dropped at the end.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.load_burst import NWS, PG_ADMIN, REDIS, stop_cluster  # noqa: E402

TARGET_RATIO = 3.0
TURNS = 4
IDLE_SECONDS = 5.0
COUNTER = "bench:consumer_overhead:done"
# (receiving service, sending service, message type, payload of message n)
MESSAGES = (
    ("intake", "intake", "form.validation_requested", lambda n: {"application_id": n}),
    ("intake", "intake", "application.validation_requested",
     lambda n: {"application_id": n, "round": 1,
                "actor": {"org_id": "131016", "login": "bench", "name": "申請 太郎"}}),
    ("intake", "intake", "upload.received", lambda n: {"application_id": n, "upload_id": n}),
    ("intake", "review", "application.status_changed",
     lambda n: {"application_id": n, "round": 1, "status": "primary_review",
                "event": "routed", "stage": "primary", "reviewer_org_id": "130001",
                "at": dt.datetime.now(dt.timezone.utc).isoformat()}),
)

VERSIONS = {"form.validation_requested": 2}     # the version the suite sends today


# --- the worker (``--worker``) -------------------------------------------------------------

def worker() -> None:
    """The suite's runtime for intake and review, plus the bench's tasks."""
    import redis

    from nws.runtime import Runtime
    from shared.config import Settings
    from shared.messaging import service_context

    runtime = Runtime(Settings.from_env(), services=("intake", "review"))
    app = runtime.celery
    counter = redis.Redis.from_url(os.environ["NWS_BROKER_URL"])
    prefix = os.environ["NWS_BROKER_KEY_PREFIX"]

    @app.task(name="bench.bare", acks_late=True)
    def bare(body: dict) -> None:
        counter.incr(prefix + COUNTER)

    def nothing(ctx, session, payload, envelope) -> None:
        return None

    for service, _sender, message_type, _payload in MESSAGES:
        def wrapped(self, envelope: dict, _service=service) -> str:
            return service_context(self.app, _service).consume(envelope, nothing)

        app.task(wrapped, name=f"bench.{service}.{message_type}", bind=True, acks_late=True)
    app.conf.task_routes = ({"bench.*": {"queue": "bench"}}, *app.conf.task_routes)
    app.worker_main(["worker", "-Q", "bench,intake,review", "-n", "bench@%h", "--pool",
                     "prefork", "--concurrency", "1", "--without-mingle", "--without-gossip",
                     "--loglevel", "WARNING"])


# --- the run ---------------------------------------------------------------------------

def run(messages: int, workdir: Path, turns: int = TURNS) -> dict:
    """``turns`` turns of ``messages`` bare tasks and ``messages`` wrapped messages."""
    import psycopg
    import redis
    from sqlalchemy import func, select, update

    from nws.runtime import Runtime
    from shared.config import Settings

    db = f"nws_overhead_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    admin.execute(f'CREATE DATABASE "{db}"')
    prefix = f"overhead-{uuid.uuid4().hex[:6]}:"
    env = {**os.environ,
           "NWS_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}",
           "NWS_BROKER_URL": REDIS, "NWS_BROKER_KEY_PREFIX": prefix,
           "NWS_SECRET_KEY": "bench-secret-" + "x" * 40, "NWS_DATA_DIR": str(workdir),
           "NWS_LOG_LEVEL": "WARNING", "NWS_LOG_FORMAT": "text", "PYTHONPATH": str(REPO)}
    procs = []
    runtime = None
    try:
        subprocess.run([NWS, "db", "upgrade"], env=env, check=True, capture_output=True)
        runtime = Runtime(Settings.from_env(env), services=("intake", "review"))
        counter = redis.Redis.from_url(REDIS)
        counter.delete(prefix + COUNTER)
        log = open(workdir / "worker.log", "ab")
        procs.append(subprocess.Popen([sys.executable, __file__, "--worker"], env=env,
                                      stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True))
        # the envelopes, made by the senders' own emit: real outbox rows, held back from
        # the outbox sweeper (their next attempt is tomorrow)
        envelopes = []
        warm = max(20, messages // 5)           # wrapped warm-up messages
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
        for sender in ("intake", "review"):
            ctx = runtime.services[sender]
            kinds = [m for m in MESSAGES if m[1] == sender]
            share = (messages * turns + warm) * len(kinds) // len(MESSAGES)
            with ctx.transaction() as session:
                ids = []
                for n in range(share):
                    service, _, message_type, payload = kinds[n % len(kinds)]
                    ids.append((service, ctx.emit(session, service, message_type, payload(n + 1),
                                                  version=VERSIONS.get(message_type, 1))))
                session.info["nws_outbox"] = []           # not published
                session.flush()
                session.execute(update(ctx.Outbox).values(next_attempt_at=later))
            with ctx.transaction() as session:
                rows = {r.id: r.envelope for r in session.scalars(select(ctx.Outbox))}
            envelopes += [(service, rows[i]) for service, i in ids]
        envelopes.sort(key=lambda e: e[1]["payload"].get("application_id", 0))
        celery = runtime.celery
        _wait_worker(celery)

        def drain(send, done) -> float:
            t0 = time.perf_counter()
            send()
            while not done():
                if time.perf_counter() - t0 > 600:
                    raise RuntimeError("the worker did not drain the messages in 10 minutes")
                time.sleep(0.02)
            return time.perf_counter() - t0

        warm_up, envelopes = envelopes[:warm], envelopes[warm:]
        per_turn = len(envelopes) // turns
        pid = procs[0].pid
        done_bare = [0]

        def send_bare():
            for n in range(per_turn):
                celery.send_task("bench.bare", args=[{"n": n}], queue="bench")

        def bare_done():
            return int(counter.get(prefix + COUNTER) or 0) >= done_bare[0]

        acked_target = [0]

        def wrapped_done():
            """Every wrapped message sent so far is acknowledged at its sender (its
            outbox row marked): the sender's side is in the time."""
            acked = 0
            for sender in ("intake", "review"):
                ctx = runtime.services[sender]
                with ctx.transaction() as session:
                    acked += session.scalar(select(func.count()).select_from(ctx.Outbox)
                                            .where(ctx.Outbox.acked_at.is_not(None)))
            return acked >= acked_target[0]

        def measured(kind: str, batch) -> dict:
            cpu0 = worker_cpu(pid)
            if kind == "bare":
                done_bare[0] += per_turn
                wall = drain(send_bare, bare_done)
            else:
                def send():
                    for service, env_ in batch:
                        celery.send_task(f"bench.{service}.{env_['type']}", args=[env_],
                                         queue="bench")
                acked_target[0] += len(batch)
                wall = drain(send, wrapped_done)
            return {"kind": kind, "wall_ms": wall / per_turn * 1000,
                    "cpu_ms": (worker_cpu(pid) - cpu0) / per_turn * 1000,
                    "load": os.getloadavg()[0]}

        # a warm-up of each kind, then the measured turns, alternating: bare, wrapped,
        # wrapped, bare, bare, wrapped, … (each kind goes first as often as the other)
        done_bare[0] += per_turn
        drain(send_bare, bare_done)
        acked_target[0] += len(warm_up)
        drain(lambda: [celery.send_task(f"bench.{service}.{env_['type']}", args=[env_],
                                        queue="bench") for service, env_ in warm_up],
              wrapped_done)
        # what the worker burns with nothing to do (its consumer loop, the outbox sweeper,
        # the acknowledgement drain, heartbeats): counted in every turn's CPU, reported
        idle_cpu0, idle_t0 = worker_cpu(pid), time.perf_counter()
        time.sleep(IDLE_SECONDS)
        idle_rate = (worker_cpu(pid) - idle_cpu0) / (time.perf_counter() - idle_t0)
        runs = []
        for t in range(turns):
            batch = envelopes[t * per_turn:(t + 1) * per_turn]
            order = ("bare", "wrapped") if t % 2 == 0 else ("wrapped", "bare")
            pair = {k: measured(k, batch) for k in order}
            runs.append(pair)
            progress(f"turn {t + 1}/{turns} (load {pair['bare']['load']:.1f}): "
                     f"bare {pair['bare']['wall_ms']:.2f} ms wall {pair['bare']['cpu_ms']:.2f} ms "
                     f"CPU; wrapped {pair['wrapped']['wall_ms']:.2f} ms wall "
                     f"{pair['wrapped']['cpu_ms']:.2f} ms CPU")
        total = per_turn * turns
        with runtime.services["intake"].transaction() as session:
            inbox = session.scalar(select(func.count()).select_from(runtime.services["intake"].Inbox))
        if inbox != total + len(warm_up):
            raise RuntimeError(f"{inbox} of {total + len(warm_up)} wrapped messages reached "
                               "the inbox")
        mean = lambda kind, key: sum(r[kind][key] for r in runs) / turns  # noqa: E731
        wall_ratios = sorted(r["wrapped"]["wall_ms"] / r["bare"]["wall_ms"] for r in runs)
        result = {"messages": per_turn, "turns": turns,
                  "bare_ms": mean("bare", "wall_ms"), "wrapped_ms": mean("wrapped", "wall_ms"),
                  "bare_cpu_ms": mean("bare", "cpu_ms"),
                  "wrapped_cpu_ms": mean("wrapped", "cpu_ms"),
                  "wall_ratios": wall_ratios,
                  "idle_cpu_per_s": idle_rate,
                  "wall_ratio": statistics.median(wall_ratios),
                  "load_start": runs[0]["bare"]["load"], "load_end": runs[-1]["bare"]["load"],
                  "turn_figures": runs}
        result["bare_per_s"] = 1000 / result["bare_ms"]
        result["wrapped_per_s"] = 1000 / result["wrapped_ms"]
        result["cpu_ratio"] = result["wrapped_cpu_ms"] / result["bare_cpu_ms"]
        result["ratio"] = result["cpu_ratio"]
        result["holds"] = result["cpu_ratio"] <= TARGET_RATIO
        result["wall_holds"] = result["wall_ratio"] <= TARGET_RATIO
        return result
    finally:
        if runtime is not None:
            runtime.close()
        stop_cluster(procs, admin, db)
        try:
            import redis as _redis
            client = _redis.Redis.from_url(REDIS)
            for key in client.scan_iter(match=prefix + "*"):
                client.delete(key)
        except Exception:
            pass


def progress(line: str) -> None:
    print(f"[consumer_overhead] {line}", file=sys.stderr, flush=True)


def worker_cpu(pid: int) -> float:
    """CPU seconds (user + system) so far of process ``pid`` and its live children (the
    worker and its prefork pool process), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")

    def stat(p: int) -> list[str]:
        with open(f"/proc/{p}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()

    total = 0.0
    pids = [pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != pid:
            try:
                if int(stat(int(entry))[1]) == pid:     # field 4: the parent
                    pids.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    for p in pids:
        fields_ = stat(p)
        total += (int(fields_[11]) + int(fields_[12])) / tick   # fields 14, 15: utime, stime
    return total


def _wait_worker(celery, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if celery.control.ping(timeout=1.0):
            return
    raise RuntimeError("the bench worker did not start")


def main() -> None:
    if "--worker" in sys.argv:
        worker()
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=1000, help="of each kind per turn")
    ap.add_argument("--turns", type=int, default=TURNS)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nws-overhead-") as tmp:
        r = run(args.messages, Path(tmp), args.turns)
    print(f"{r['turns']} turns of {r['messages']} of each, load average "
          f"{r['load_start']:.1f} → {r['load_end']:.1f}")
    print(f"                      worker CPU per message   wall per message")
    print(f"bare Celery task      {r['bare_cpu_ms']:8.3f} ms              {r['bare_ms']:8.2f} ms")
    print(f"consumer wrapper      {r['wrapped_cpu_ms']:8.3f} ms              "
          f"{r['wrapped_ms']:8.2f} ms")
    print(f"ratio                 {r['cpu_ratio']:8.2f}×                "
          f"{r['wall_ratio']:8.2f}× (median of the turns: "
          + ", ".join(f"{x:.2f}" for x in r["wall_ratios"]) + ")")
    print(f"the worker idle: {r['idle_cpu_per_s'] * 1000:.1f} ms CPU per second (in both "
          "kinds' CPU, in proportion to their wall time)")
    print(f"target ≤ {TARGET_RATIO:g}×: CPU {'holds' if r['holds'] else 'does not hold'}, "
          f"wall {'holds' if r['wall_holds'] else 'does not hold'}")
    if args.json:
        args.json.write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
