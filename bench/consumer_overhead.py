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

    .venv/bin/python bench/consumer_overhead.py                 # 3,000 of each
    .venv/bin/python bench/consumer_overhead.py --messages 600  # quick (make bench)

The envelopes are made by the sending services' own ``emit`` (real outbox rows, held
back from the outbox sweeper) and sent to bench-only task names, so no real handler
runs. The database and the Redis prefix are the run's own and are dropped at the end.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
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
COUNTER = "bench:consumer_overhead:done"
# (receiving service, sending service, message type, payload of message n)
MESSAGES = (
    ("intake", "intake", "form.validation_requested",
     lambda n: {"application_id": n, "code": "02-01", "revision": 1}),
    ("intake", "intake", "application.validation_requested",
     lambda n: {"application_id": n, "round": 1,
                "actor": {"org_id": "131016", "login": "bench", "name": "申請 太郎"}}),
    ("intake", "intake", "upload.received", lambda n: {"application_id": n, "upload_id": n}),
    ("intake", "review", "application.status_changed",
     lambda n: {"application_id": n, "round": 1, "status": "primary_review",
                "event": "routed", "stage": "primary", "reviewer_org_id": "130001",
                "at": dt.datetime.now(dt.timezone.utc).isoformat()}),
)


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

def run(messages: int, workdir: Path) -> dict:
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
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
        for sender in ("intake", "review"):
            ctx = runtime.services[sender]
            kinds = [m for m in MESSAGES if m[1] == sender]
            share = messages * len(kinds) // len(MESSAGES)
            with ctx.transaction() as session:
                ids = []
                for n in range(share):
                    service, _, message_type, payload = kinds[n % len(kinds)]
                    ids.append((service, ctx.emit(session, service, message_type, payload(n + 1))))
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

        def send_bare():
            for n in range(len(envelopes)):
                celery.send_task("bench.bare", args=[{"n": n}], queue="bench")

        def send_wrapped():
            for service, env_ in envelopes:
                celery.send_task(f"bench.{service}.{env_['type']}", args=[env_], queue="bench")

        def wrapped_done():
            acked = 0
            for sender in ("intake", "review"):
                ctx = runtime.services[sender]
                with ctx.transaction() as session:
                    acked += session.scalar(select(func.count()).select_from(ctx.Outbox)
                                            .where(ctx.Outbox.acked_at.is_not(None)))
            return acked >= len(envelopes)

        total = len(envelopes)
        # a warm-up of each, then the measured runs: bare, wrapped, bare again
        bare_1 = drain(send_bare, lambda: int(counter.get(prefix + COUNTER) or 0) >= total)
        wrapped = drain(send_wrapped, wrapped_done)
        bare_2 = drain(send_bare, lambda: int(counter.get(prefix + COUNTER) or 0) >= 2 * total)
        bare = min(bare_1, bare_2)
        with runtime.services["intake"].transaction() as session:
            inbox = session.scalar(select(func.count()).select_from(runtime.services["intake"].Inbox))
        if inbox != total:
            raise RuntimeError(f"{inbox} of {total} wrapped messages reached the inbox")
        result = {"messages": total, "bare_per_s": total / bare, "wrapped_per_s": total / wrapped,
                  "bare_ms": bare / total * 1000, "wrapped_ms": wrapped / total * 1000,
                  "ratio": wrapped / bare}
        result["holds"] = result["ratio"] <= TARGET_RATIO
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
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nws-overhead-") as tmp:
        r = run(args.messages, Path(tmp))
    print(f"bare Celery task      {r['bare_per_s']:7.0f}/s  {r['bare_ms']:6.2f} ms each")
    print(f"consumer wrapper      {r['wrapped_per_s']:7.0f}/s  {r['wrapped_ms']:6.2f} ms each")
    print(f"ratio                 {r['ratio']:7.2f}×  (target ≤ {TARGET_RATIO:g}×: "
          f"{'holds' if r['holds'] else 'does not hold'})")
    if args.json:
        args.json.write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
