"""Benchmark of the master at national scale (DESIGN §6, issue 7).

A synthetic country of 5,000 organisations (47 prefectures and 1,741 municipalities,
each with its board of education, and 1,424 一部事務組合・広域連合), each registering
100 master rows (organisation, 責任体制, 連絡窓口 and two 通常連絡先, 58 query affairs,
30 provided information, 3 + 2 + 1 delegation rows, 1 independent-use affair): 500,000
rows. Rows go through ``services.master.registry`` exactly as the master worker writes
them (same functions, same transactions), on SQLite (the embedded default) and on
PostgreSQL when it is reachable (a database created for the run and dropped after).

Phase A — national build: in batched mode the 5,000 approvals are prepared (整備), then
published as ONE version (配信); then that version's diff from the previous one (every
row added). Then 10% of the organisations file a 変更申請 (contacts and five affairs
changed), published as the next version, and its diff.

Phase B — incremental registration as the master grows: in a fresh database, probe
organisations are registered, then the master grows by batches of 1,000 organisations
(100,000 rows) up to the national size; at each size 30 probe 変更申請 are registered one
by one in immediate mode (each its own transaction, as the consumer runs it) and the
median and 95th-percentile times and the number of SQL statements are recorded.

Time is ``time.perf_counter``; memory is the tracemalloc peak of the phase (Python
heap) and the process's peak RSS (``resource.getrusage``) after it. Tracing slows
Python, so it is on only with ``--trace`` and times are then reported from a separate
untraced run.

    .venv/bin/python bench/master_bench.py                      # SQLite, then PostgreSQL
    .venv/bin/python bench/master_bench.py --orgs 500 --db sqlite   # quick look
    .venv/bin/python bench/master_bench.py --trace              # memory peaks
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nws.runtime import Runtime  # noqa: E402
from shared.config import Settings  # noqa: E402
from services.master import distribution, registry  # noqa: E402
from services.master.models import MasterRow  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PIA = {"status": "実施済", "reason": "", "reports": [
    {"number": "0001", "name": "全項目評価書（ベンチマーク用）", "published": True}]}
ARTICLE = {"article": "地方自治法第252条の14", "rule_title": "事務の委託に関する規約"}


# --- the synthetic country ---------------------------------------------------------------

def organisations(n: int) -> list[dict]:
    """``n`` organisations in the national proportions (5,000 at scale 1)."""
    prefs = max(1, round(47 * n / 5000))
    munis = max(1, round(1741 * n / 5000))
    orgs = []
    for p in range(1, prefs + 1):
        code = f"{p:02d}0001"
        orgs.append({"id": code, "name": f"県{p:02d}", "kind": "都道府県",
                     "branch": "executive", "prefecture_code": code, "parent_id": None})
        orgs.append({"id": f"{code}-BOE", "name": f"県{p:02d}教育委員会", "kind": "都道府県",
                     "branch": "board_of_education", "prefecture_code": code,
                     "parent_id": code})
    for m in range(munis):
        pref = f"{m % prefs + 1:02d}0001"
        code = f"{m % prefs + 1:02d}{m // prefs + 2:03d}{m % 10}"
        orgs.append({"id": code, "name": f"市町村{m:04d}", "kind": "市",
                     "branch": "executive", "prefecture_code": pref, "parent_id": None})
        orgs.append({"id": f"{code}-BOE", "name": f"市町村{m:04d}教育委員会", "kind": "市",
                     "branch": "board_of_education", "prefecture_code": pref,
                     "parent_id": code})
    u = 0
    while len(orgs) < n:
        orgs.append({"id": f"U{u:05d}", "name": f"一部事務組合{u:04d}", "kind": "一部事務組合",
                     "branch": "union", "prefecture_code": f"{u % prefs + 1:02d}0001",
                     "parent_id": None})
        u += 1
    return orgs[:n]


def forms(org: dict, generation: int = 0) -> dict:
    """Every form of one organisation: 100 master rows. A later ``generation`` changes
    the 通常連絡先 and swaps five query affairs (a typical 変更申請)."""
    oid = org["id"]
    writer = {"department": "情報政策課", "title": "主任", "name": "申請 太郎"}
    base = {"org": oid, "application_date": "2026/11/26",
            "request_type": "登録申請" if generation == 0 else "変更申請", "writer": writer}
    first_item = 1 + 5 * generation
    return {
        "02-01": {**base, "system_chief": {"title": "情報政策担当部長", "name": "山田 一郎"},
                  "system_manager": {"title": "情報政策課長", "name": "佐藤 二郎"},
                  "staff": {"section": "情報政策課", "unit": "システム係"}},
        "02-02": {**base, "contact_chief": {"title": "情報政策担当部長", "name": "山田 一郎"},
                  "normal_contacts": [
                      {"priority": p, "department": "情報政策課", "name": "",
                       "phone": f"03-{generation:04d}-{p:04d}",
                       "email": f"joho{p}-{oid.lower()}@example.lg.jp"} for p in (1, 2)],
                  "emergency_contacts": [{"priority": 1, "name": "山田 一郎",
                                          "phone": "090-0000-0000",
                                          "email": "kinkyu@example.jp"}]},
        "03-07": {**base,
                  "query_affairs": [{"item_no": i, "affair": f"別表 項番{i} の事務",
                                     "request_type": "登録", "pia": PIA}
                                    for i in range(first_item, first_item + 58)],
                  "provided_info": [{"info_no": f"P{i:03d}", "info_name": f"特定個人情報 {i}",
                                     "request_type": "登録", "pia": PIA}
                                    for i in range(1, 31)]},
        "03-08": {**base,
                  "query_delegations": [{"item_no": 100 + i, "affair": f"委任事務 {i}",
                                         "procedure": "照会", "basis": ARTICLE,
                                         "delegators": ["010001"], "delegator_confirmed": True,
                                         "chain": []} for i in range(3)],
                  "provision_delegations": [{"info_no": f"P{i:03d}", "info_name": "特定個人情報",
                                             "delegatee": "U00000"} for i in (1, 2)],
                  "provision_acceptances": [{"info_no": "P003", "info_name": "特定個人情報 3",
                                             "delegator": "010001", "basis": ARTICLE}]},
        "03-09": {**base, "independent_affairs": [{"case_no": "1", "affair": "独自利用事務",
                                                   "ppc_notification_no": "PPC-0001",
                                                   "ordinance": "個人番号利用条例"}]},
    }


ROWS_PER_ORG = 100
_app_ids = iter(range(1, 10 ** 9))


def approval(org: dict, generation: int = 0) -> dict:
    app_id = next(_app_ids)
    return {"application_id": app_id, "number": f"R8-{app_id:07d}",
            "kind": "connection" if generation == 0 else "change", "round": 1, "org": org,
            "catalog_version": "2025-09-24", "approved_at": "2026-11-26T00:00:00+00:00",
            "forms": forms(org, generation)}


# --- measuring -----------------------------------------------------------------------------

def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def measured(results: dict, name: str, trace: bool):
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    out: dict = {}
    yield out
    out["seconds"] = round(time.perf_counter() - started, 3)
    if trace:
        out["heap_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2 ** 20, 1)
        tracemalloc.stop()
    out["peak_rss_mb"] = round(rss_mb(), 1)
    results[name] = out
    print(f"  {name}: {out}", flush=True)


class StatementCounter:
    def __init__(self, engine):
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._on)

    def _on(self, *args, **kwargs):
        self.count += 1


def runtime_for(url: str, data_dir: Path) -> Runtime:
    settings = Settings.from_env({"NWS_DATA_DIR": str(data_dir), "NWS_DATABASE_URL": url,
                                  "NWS_BROKER_URL": "memory://",
                                  "NWS_SECRET_KEY": "bench-" + "x" * 40})
    rt = Runtime(settings, services=("master",))
    rt.migrate()
    return rt


def add_subscribers(ctx) -> None:
    with ctx.db.transaction() as session:
        for mode in ("snapshot", "diff"):
            distribution.subscribe(ctx, session, f"http://127.0.0.1:9/{mode}", mode, "bench")


def prepare_and_publish(ctx, approvals, results: dict, prefix: str, trace: bool) -> int:
    with ctx.db.transaction() as session:
        registry.set_mode(session, "batched")
    with measured(results, f"{prefix} prepare (整備)", trace) as m:
        batch = []
        for a in approvals:
            batch.append(a)
            if len(batch) == 250:
                with ctx.db.transaction() as session:
                    for b in batch:
                        registry.register(ctx, session, b)
                batch = []
        if batch:
            with ctx.db.transaction() as session:
                for b in batch:
                    registry.register(ctx, session, b)
        m["registrations"] = len(approvals)
    with measured(results, f"{prefix} publish (配信)", trace) as m:
        with ctx.db.transaction() as session:
            version = registry.publish_prepared(ctx, session)
            number = version.number
            m["version"] = number
            m["summary_rows"] = sum(sum(c.values()) for c in version.summary.values())
    with ctx.db.transaction() as session:
        registry.set_mode(session, "immediate")
    return number


def phase_a(url: str, data_dir: Path, n_orgs: int, trace: bool) -> dict:
    results: dict = {}
    rt = runtime_for(url, data_dir)
    ctx = rt.services["master"]
    try:
        add_subscribers(ctx)
        orgs = organisations(n_orgs)
        print(f" phase A: national build of {len(orgs)} organisations", flush=True)
        v1 = prepare_and_publish(ctx, [approval(o) for o in orgs], results, "national",
                                 trace)
        with ctx.db.transaction() as session:
            rows = session.scalar(select(func.count()).select_from(MasterRow))
            results["national publish (配信)"]["master_rows"] = rows
        with measured(results, f"diff v{v1 - 1}→v{v1} (whole country added)", trace) as m:
            with ctx.db.transaction() as session:
                d = registry.diff(session, v1 - 1, v1)
            m["rows"] = sum(len(c["added"]) + len(c["removed"]) + len(c["changed"])
                            for c in d.values())
        del d
        with measured(results, f"diff v{v1 - 1}→v{v1} as JSON text (API, deliveries)",
                      trace) as m:
            with ctx.db.transaction() as session:
                m["megabytes"] = round(len(registry.diff_json(session, v1 - 1, v1)) / 2 ** 20)
        changed = orgs[::10]
        v2 = prepare_and_publish(ctx, [approval(o, 1) for o in changed], results,
                                 f"change batch ({len(changed)} 変更申請)", trace)
        with measured(results, f"diff v{v1}→v{v2} (change batch)", trace) as m:
            with ctx.db.transaction() as session:
                d = registry.diff(session, v1, v2)
            m["rows"] = {t: {k: len(v) for k, v in c.items()} for t, c in d.items()}
        del d
        with measured(results, f"read whole v{v2}", trace) as m:
            with ctx.db.transaction() as session:
                m["rows"] = sum(len(r) for r in registry.content(session, v2).values())
        with measured(results, f"read whole v{v2} as JSON text (API, snapshots)", trace) as m:
            with ctx.db.transaction() as session:
                m["megabytes"] = round(len(registry.content_json(session, v2)) / 2 ** 20)
    finally:
        rt.close()
    return results


def phase_b(url: str, data_dir: Path, n_orgs: int, step: int, probes: int) -> list[dict]:
    rt = runtime_for(url, data_dir)
    ctx = rt.services["master"]
    counter = StatementCounter(ctx.db.engine)
    points = []
    try:
        add_subscribers(ctx)
        orgs = organisations(n_orgs + probes)
        probe_orgs, growth = orgs[-probes:], orgs[:-probes]
        for org in probe_orgs:
            with ctx.db.transaction() as session:
                registry.register(ctx, session, approval(org))
        print(f" phase B: incremental registration, growing by {step} organisations",
              flush=True)
        generation = 0
        for done in range(0, len(growth) + 1, step):
            if done:
                prepare_and_publish(ctx, [approval(o) for o in growth[done - step:done]],
                                    {}, "growth", False)
            generation += 1
            times, statements = [], []
            for org in probe_orgs:
                payload = approval(org, generation)
                before = counter.count
                started = time.perf_counter()
                with ctx.db.transaction() as session:
                    registry.register(ctx, session, payload)
                times.append(time.perf_counter() - started)
                statements.append(counter.count - before)
            with ctx.db.transaction() as session:
                rows = session.scalar(select(func.count()).select_from(MasterRow).where(
                    MasterRow.to_version.is_(None)))
                versions = session.scalar(select(func.count()).select_from(MasterRow))
            times.sort()
            point = {"organisations": done + probes, "current_rows": rows,
                     "stored_rows": versions,
                     "median_ms": round(statistics.median(times) * 1000, 2),
                     "p95_ms": round(times[int(len(times) * 0.95) - 1] * 1000, 2),
                     "statements": sorted(set(statements))}
            points.append(point)
            print(f"  {point}", flush=True)
    finally:
        rt.close()
    return points


@contextmanager
def database(kind: str, folder: Path, name: str):
    if kind == "sqlite":
        yield f"sqlite:///{folder / (name + '.db')}"
        return
    import psycopg

    db = f"nws_bench_master_{name}"
    admin = PG_ADMIN.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}"')
        conn.execute(f'CREATE DATABASE "{db}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + db
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def postgres_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN.replace("postgresql+psycopg", "postgresql"),
                             connect_timeout=3):
            return True
    except Exception as exc:
        print(f"PostgreSQL not reachable ({exc}); skipping it", flush=True)
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orgs", type=int, default=5000)
    ap.add_argument("--step", type=int, default=1000, help="phase B growth per step")
    ap.add_argument("--probes", type=int, default=30)
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--phase", choices=["a", "b", "both"], default="both")
    ap.add_argument("--trace", action="store_true", help="tracemalloc heap peaks")
    ap.add_argument("--json", type=Path, help="write the results here too")
    args = ap.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    if "postgresql" in kinds and not postgres_reachable():
        kinds.remove("postgresql")
    out = {}
    for kind in kinds:
        print(f"== {kind}", flush=True)
        out[kind] = {}
        with tempfile.TemporaryDirectory(prefix="nws-master-bench-") as tmp:
            folder = Path(tmp)
            if args.phase in ("a", "both"):
                with database(kind, folder, "a") as url:
                    out[kind]["national"] = phase_a(url, folder, args.orgs, args.trace)
            if args.phase in ("b", "both"):
                with database(kind, folder, "b") as url:
                    out[kind]["incremental"] = phase_b(url, folder, args.orgs, args.step,
                                                       args.probes)
    if args.json:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
