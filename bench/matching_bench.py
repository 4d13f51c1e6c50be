"""Benchmark of delegation matching at national scale (DESIGN §6).

A synthetic country (about 5,000 organisations at scale 1: 47 prefectures, 1,741
municipalities with their boards of education, 1,500 一部事務組合) files 様03-08 records:

- every union's members delegate the provision of some 特定個人情報 to it ((2) by the
  member, (3) by the union, 地方自治法第284条), a few pairs with one side missing or a
  different name;
- every union files 情報照会 delegations naming all its members (confirmation requests);
- three-level chains 県A → 市B → 組合C (B files A→B, C files the whole chain; one in ten
  leaves out A→B);
- every municipality delegates two 特定個人情報 to its board of education (第180条の2).

At scale 1 that is about 113,000 records. For each scale the benchmark stores every
application's records (no matching), times a full re-match of everything
(``matcher.rematch_all``), then times incremental re-matches: sample organisations
resubmit their application with one row fewer (``matcher.receive``, as the consumer runs
it, in its own transaction, messages to review included). Memory is the tracemalloc
peak of a second, identical run of each phase (tracing slows Python, so times come from
the untraced run).

    .venv/bin/python bench/matching_bench.py                 # scales 0.25 0.5 1
    .venv/bin/python bench/matching_bench.py --scales 0.1    # quick look

Storage is the embedded default, SQLite on local disk; figures in bench/README.md.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from sqlalchemy import func, select, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nws.runtime import Runtime  # noqa: E402
from shared.config import Settings  # noqa: E402
from services.matching import matcher  # noqa: E402
from services.matching.models import (Confirmation, DelegationEdge,  # noqa: E402
                                      DelegationRecord)

ART_284 = ("地方自治法第284条", "一部事務組合規約")
ART_SPECIAL = ("地方自治法第252条の17の2", "事務処理の特例に関する条例")
ART_BOARD = ("地方自治法第180条の2", "教育委員会への事務委任規則")


class NullCelery:
    def send_task(self, *args, **kwargs):
        pass


def basis(art):
    return {"article": art[0], "rule_title": art[1]}


def synthetic_country(scale: float, seed: int = 2026) -> dict[str, dict]:
    """Payload rows per filing organisation."""
    rnd = random.Random(seed)
    n_pref = max(1, round(47 * scale))
    n_muni = max(n_pref, round(1741 * scale))
    n_union = max(1, round(1500 * scale))
    prefs = [f"{p + 1:02d}0000" for p in range(n_pref)]
    munis_of = {p: [] for p in prefs}
    for i in range(n_muni):
        pref = prefs[i % n_pref]
        munis_of[pref].append(f"{pref[:2]}{i // n_pref + 1:03d}1")
    rows: dict[str, dict] = {}

    def of(org):
        return rows.setdefault(org, {"query_delegations": [], "provision_delegations": [],
                                     "provision_acceptances": []})

    for u in range(n_union):
        pref = prefs[u % n_pref]
        union = f"U{u:09d}"
        members = rnd.sample(munis_of[pref], min(len(munis_of[pref]), rnd.randint(3, 8)))
        for info in rnd.sample(range(1, 301), 6):
            info_no, name = str(info), f"特定個人情報{info}"
            for m in members:
                roll = rnd.random()
                if roll >= 0.02:   # 2 %: the member has not filed its (2)
                    of(m)["provision_delegations"].append(
                        {"info_no": info_no, "info_name": name, "delegatee": union})
                if 0.02 <= roll < 0.05:
                    continue       # 3 %: the union has not filed its (3)
                of(union)["provision_acceptances"].append(
                    {"info_no": info_no, "info_name": name + ("（旧）" if roll > 0.99 else ""),
                     "delegator": m, "basis": basis(ART_284)})
        for item in rnd.sample(range(1, 178), 3):
            of(union)["query_delegations"].append({
                "item_no": str(item), "affair": f"別表{item}の項の事務", "procedure": "共同処理",
                "basis": basis(ART_284), "delegators": list(members),
                "delegator_confirmed": True, "chain": []})
        # Three levels: the prefecture → one member → the union, for one affair.
        b, item = members[0], str(rnd.randint(1, 177))
        of(b)["query_delegations"].append({
            "item_no": item, "affair": f"別表{item}の項の事務", "procedure": "事務処理特例",
            "basis": basis(ART_SPECIAL), "delegators": [pref], "delegator_confirmed": True,
            "chain": []})
        chain = [{"from": pref, "to": b, "article": ART_SPECIAL[0], "rule_title": ART_SPECIAL[1]},
                 {"from": b, "to": union, "article": ART_284[0], "rule_title": ART_284[1]}]
        whole = rnd.random() >= 0.1
        of(union)["query_delegations"].append({
            "item_no": item, "affair": f"別表{item}の項の事務", "procedure": "再委託",
            "basis": basis(ART_284), "delegators": [pref, b] if whole else [b],
            "delegator_confirmed": True, "chain": chain if whole else []})
    for pref in prefs:
        for m in munis_of[pref]:
            for info in (401, 402):
                of(m)["provision_delegations"].append(
                    {"info_no": str(info), "info_name": f"特定個人情報{info}",
                     "delegatee": f"{m}-BOE"})
                of(f"{m}-BOE")["provision_acceptances"].append(
                    {"info_no": str(info), "info_name": f"特定個人情報{info}", "delegator": m,
                     "basis": basis(ART_BOARD)})
    return rows


def payloads(rows: dict[str, dict]) -> dict[str, dict]:
    return {org: {"application_id": i + 1, "round": 1, "org_id": org, **r}
            for i, (org, r) in enumerate(sorted(rows.items()))}


def traced(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run(scale: float, samples: int, folder: Path, trace: bool = True) -> dict:
    """One scale: the figures as a dict. ``trace=False`` leaves out the second, traced
    run of each phase (its peaks are then None), for a quicker look."""
    settings = Settings.from_env({"NWS_DATA_DIR": str(folder)}, embedded=True)
    runtime = Runtime(settings, services=("matching",))
    runtime.migrate()
    ctx = runtime.services["matching"]
    ctx.celery = NullCelery()
    print(f"scale {scale}: generating the synthetic country …", file=sys.stderr, flush=True)
    countries = synthetic_country(scale)
    by_org = payloads(countries)
    orgs = {o for o in by_org} | {d for r in countries.values()
                                  for row in r["provision_delegations"] for d in [row["delegatee"]]}
    t = time.perf_counter()
    items = list(by_org.values())
    for start in range(0, len(items), 500):
        with ctx.transaction() as session:
            for payload in items[start:start + 500]:
                matcher.store_records(session, payload)
        print(f"  stored {min(start + 500, len(items)):,}/{len(items):,} organisations' records",
              file=sys.stderr, flush=True)
    load_s = time.perf_counter() - t
    with ctx.transaction() as session:
        n_records = session.scalar(select(func.count()).select_from(DelegationRecord))
        n_edges = session.scalar(select(func.count()).select_from(DelegationEdge))
        n_conf = session.scalar(select(func.count()).select_from(Confirmation))

    def full():
        with ctx.transaction() as session:
            return matcher.rematch_all(session)

    def reset():
        with ctx.transaction() as session:
            session.execute(update(DelegationRecord).values(status="pending", findings=None,
                                                            detail=None))

    t, c = time.perf_counter(), time.process_time()
    changed = full()
    full_s, full_cpu = time.perf_counter() - t, time.process_time() - c
    with ctx.transaction() as session:
        outcome = dict(session.execute(select(DelegationRecord.status, func.count())
                                       .group_by(DelegationRecord.status)).all())
    full_peak = None
    if trace:
        reset()
        full_peak = traced(full)

    rnd = random.Random(7)
    filers = sorted(by_org)
    unions = [o for o in filers if o.startswith("U")]
    others = [o for o in filers if not o.startswith("U")]
    picked = rnd.sample(unions, min(len(unions), samples // 2)) + \
        rnd.sample(others, min(len(others), samples - samples // 2))

    def resubmit(org: str, round_: int) -> tuple[float, int]:
        payload = dict(by_org[org], round=round_)
        for key in ("provision_acceptances", "provision_delegations", "query_delegations"):
            if payload[key] and round_ % 2 == 0:
                payload[key] = payload[key][1:]      # the change: one row fewer
                break
        t0, c0 = time.perf_counter(), time.process_time()
        with ctx.transaction() as session:
            matcher.receive(ctx, session, payload)
            evaluated = session.info.get("matching_evaluated", 0)
        return time.perf_counter() - t0, time.process_time() - c0, evaluated

    timings, cpu, evaluated = [], [], []
    for org in picked:
        seconds, cpu_s, n = resubmit(org, 2)
        timings.append(seconds)
        cpu.append(cpu_s)
        evaluated.append(n)
    incr_peak = None
    if trace:
        incr_peak = 0
        for org in picked:
            incr_peak = max(incr_peak, traced(lambda: resubmit(org, 3)))
    runtime.close()
    return {
        "scale": scale, "organisations": len(orgs), "filing_organisations": len(by_org),
        "records": n_records, "edges": n_edges, "confirmations": n_conf,
        "load_s": round(load_s, 2),
        "full_s": round(full_s, 2), "full_cpu_s": round(full_cpu, 2),
        "full_changed": changed,
        "full_us_per_record": round(full_s / n_records * 1e6, 1),
        "full_peak_mib": None if full_peak is None else round(full_peak / 2**20, 1),
        "outcome": outcome,
        "incremental_samples": len(timings),
        "incremental_median_ms": round(statistics.median(timings) * 1000, 1),
        "incremental_p95_ms": round(sorted(timings)[int(0.95 * (len(timings) - 1))] * 1000, 1),
        "incremental_max_ms": round(max(timings) * 1000, 1),
        "incremental_cpu_median_ms": round(statistics.median(cpu) * 1000, 1),
        "incremental_records_evaluated_median": statistics.median(evaluated),
        "incremental_records_evaluated_max": max(evaluated),
        "incremental_peak_mib": None if incr_peak is None else round(incr_peak / 2**20, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results = []
    for scale in args.scales:
        with tempfile.TemporaryDirectory() as folder:
            result = run(scale, args.samples, Path(folder))
        results.append(result)
        print(json.dumps(result, ensure_ascii=False), flush=True)
    print()
    print("| scale | orgs | records | full re-match wall (CPU) | µs/record | full peak MiB | "
          "incremental median / p95 / max ms (CPU median) | records re-evaluated "
          "(median / max) | incremental peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['scale']} | {r['organisations']} | {r['records']} | {r['full_s']} s "
              f"({r['full_cpu_s']} s) | "
              f"{r['full_us_per_record']} | {r['full_peak_mib']} | "
              f"{r['incremental_median_ms']} / {r['incremental_p95_ms']} / "
              f"{r['incremental_max_ms']} ({r['incremental_cpu_median_ms']}) | "
              f"{r['incremental_records_evaluated_median']} / "
              f"{r['incremental_records_evaluated_max']} | {r['incremental_peak_mib']} |")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
