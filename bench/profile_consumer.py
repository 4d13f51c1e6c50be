"""Where the consumer wrapper's time goes: ``ServiceContext.consume`` with a handler that
does nothing, called in this process (no worker, no Celery task around it) on real
PostgreSQL and Redis, with the acknowledgement path of the sender included.

Per message it reports the wall time, the SQL statements and commits on each side, and
the broker round trips (publishes), then the top of a cProfile of the same loop.

    .venv/bin/python bench/profile_consumer.py               # 500 messages
    .venv/bin/python bench/profile_consumer.py --messages 2000 --top 40

The database and the Redis prefix are the run's own and are dropped at the end.
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import os
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.load_burst import PG_ADMIN, REDIS  # noqa: E402


def run(messages: int, top: int, profiler_kind: str = "cprofile") -> dict:
    import psycopg
    import redis
    from sqlalchemy import event, update

    from nws.runtime import Runtime
    from shared.config import Settings

    db = f"nws_profile_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    admin.execute(f'CREATE DATABASE "{db}"')
    prefix = f"profile-{uuid.uuid4().hex[:6]}:"
    workdir = Path(tempfile.mkdtemp(prefix="nws-profile-"))
    env = {"NWS_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}",
           "NWS_BROKER_URL": REDIS, "NWS_BROKER_KEY_PREFIX": prefix,
           "NWS_SECRET_KEY": "bench-secret-" + "x" * 40, "NWS_DATA_DIR": str(workdir),
           "NWS_LOG_LEVEL": "WARNING"}
    runtime = None
    try:
        runtime = Runtime(Settings.from_env(env), services=("intake", "review"))
        runtime.migrate()
        intake, review = runtime.services["intake"], runtime.services["review"]
        counts = {"sql": 0, "commit": 0, "publish": 0}

        def on_sql(*_a, **_k):
            counts["sql"] += 1

        def on_commit(*_a, **_k):
            counts["commit"] += 1

        for ctx in (intake, review):
            event.listen(ctx.db.engine, "before_cursor_execute", on_sql)
            event.listen(ctx.db.engine, "commit", on_commit)
        send_task = runtime.celery.send_task

        def counting_send(*a, **k):
            counts["publish"] += 1
            return send_task(*a, **k)

        runtime.celery.send_task = counting_send
        # envelopes made by review's own emit (real outbox rows, not published)
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
        with review.transaction() as session:
            ids = [review.emit(session, "intake", "application.status_changed",
                               {"application_id": n + 1, "round": 1, "status": "primary_review",
                                "event": "routed", "stage": "primary",
                                "reviewer_org_id": "130001",
                                "at": dt.datetime.now(dt.timezone.utc).isoformat()})
                   for n in range(messages * 2)]
            session.info["nws_outbox"] = []
            session.flush()
            session.execute(update(review.Outbox).values(next_attempt_at=later))
        with review.transaction() as session:
            envs = [session.get(review.Outbox, i).envelope for i in ids]

        def nothing(ctx, session, payload, envelope):
            return None

        batched = hasattr(review, "drain_acks")

        def one(env_):
            intake.consume(env_, nothing)
            if not batched:     # the sender's ack task, one per message (its body)
                review.acknowledge(env_["id"])

        def drain_acks():
            # the sender's side of the acknowledgements, drained in batches
            if batched:
                review.drain_acks()

        for env_ in envs[:messages // 5]:          # warm-up
            one(env_)
        drain_acks()
        for k in counts:
            counts[k] = 0
        measured = envs[messages:]
        t0, c0 = time.perf_counter(), time.process_time()
        for env_ in measured:
            one(env_)
        drain_acks()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        per = {k: v / len(measured) for k, v in counts.items()}
        rest = envs[messages // 5:messages]
        if profiler_kind == "pyinstrument":
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
            for env_ in rest:
                one(env_)
            drain_acks()
            profiler.stop()
            text = profiler.output_text(unicode=True, color=False, show_all=False)
        else:
            profiler = cProfile.Profile()
            profiler.enable()
            for env_ in rest:
                one(env_)
            drain_acks()
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            per["python_calls"] = stats.total_calls / len(rest)
            stats.sort_stats("cumulative").print_stats(top)
            text = out.getvalue()
        return {"messages": len(measured), "ms_per_message": wall / len(measured) * 1000,
                "cpu_ms_per_message": cpu / len(measured) * 1000,
                "per_message": per, "profile": text}
    finally:
        if runtime is not None:
            runtime.close()
        admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.close()
        client = redis.Redis.from_url(REDIS)
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--pyinstrument", action="store_true",
                    help="a pyinstrument profile (the frames that take the time) instead of "
                         "cProfile's table")
    args = ap.parse_args()
    r = run(args.messages, args.top, "pyinstrument" if args.pyinstrument else "cprofile")
    print(f"{r['messages']} messages: {r['ms_per_message']:.2f} ms wall, "
          f"{r['cpu_ms_per_message']:.3f} ms CPU each (consume, in process)")
    print("per message: " + ", ".join(f"{k} {v:.2f}" for k, v in r["per_message"].items()))
    print(r["profile"])


if __name__ == "__main__":
    os.environ.setdefault("NWS_LOG_LEVEL", "WARNING")
    main()
