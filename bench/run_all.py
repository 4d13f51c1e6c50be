"""`make bench`: a quick run of every benchmark in bench/ and one table of their headline
figures, each beside its floor (measured in the same run) and its target, and whether it
holds.

    .venv/bin/python bench/run_all.py                        # all of them, about 5 minutes
    .venv/bin/python bench/run_all.py --only forms_parse --only login_flood
    .venv/bin/python bench/run_all.py --json /tmp/bench.json # the figures as JSON too

Each benchmark runs in a Python process of its own (a fresh interpreter, its memory given
back, a crash its own); what it prints while it runs goes to standard error, prefixed with
its name, and the table goes to standard output. The exit status is 1 only when a benchmark
crashed or ran out of time; a missed target is a figure like the others, not a failure.

The quick runs are small versions of the full ones; where a figure depends on size (the
national burst), the quick figure says less than the full run, and the note under the
table says so. The full runs and their recorded figures are in bench/README.md.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# "Flat" (does not grow with the size): the figure at the larger size is at most this many
# times the figure at the smaller size, while the size itself grows 4x or more. Linear
# growth would give the size ratio; the margin is for the noise of a shared machine.
FLAT = 1.5


# --- figures, targets, the table ------------------------------------------------------------

_OPS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "<=": ("≤", lambda a, b: a <= b),
    "<": ("<", lambda a, b: a < b),
    ">=": ("≥", lambda a, b: a >= b),
    ">": (">", lambda a, b: a > b),
    "==": ("=", lambda a, b: a == b),
}


@dataclass
class Target:
    """``value op limit``; with ``of_floor`` the limit is ``limit`` times the floor."""
    op: str
    limit: float
    of_floor: bool = False
    source: str = ""          # where the target is written down, e.g. "#17"

    def __post_init__(self):
        if self.op not in _OPS:
            raise ValueError(f"unknown operator {self.op!r}")

    def text(self, unit: str = "") -> str:
        sym = _OPS[self.op][0]
        if self.of_floor:
            body = f"{sym} floor" if self.limit == 1 else f"{sym} {self.limit:g}× floor"
        else:
            body = f"{sym} {fmt(self.limit)} {unit}".rstrip()
        return f"{body} ({self.source})" if self.source else body

    def holds(self, value: float | None, floor: float | None = None) -> bool | None:
        """True or False; None when there is nothing to compare (no value, or a target
        relative to a floor that was not measured)."""
        if value is None:
            return None
        limit = self.limit
        if self.of_floor:
            if floor is None:
                return None
            limit = self.limit * floor
        return _OPS[self.op][1](value, limit)


@dataclass
class Row:
    benchmark: str
    figure: str
    value: float | None
    unit: str = ""
    floor: float | None = None
    floor_label: str = ""     # what the floor is: "unstyled", "quiet", "at 10 organisations"
    target: Target | None = None
    note: str = ""

    @property
    def holds(self) -> bool | None:
        return self.target.holds(self.value, self.floor) if self.target else None

    def as_dict(self) -> dict:
        return {**asdict(self), "holds": self.holds}

    @classmethod
    def from_dict(cls, d: dict) -> "Row":
        d = {k: v for k, v in d.items() if k != "holds"}
        if d.get("target") is not None:
            d["target"] = Target(**d["target"])
        return cls(**d)


def fmt(x) -> str:
    """A number the way a person reads it: 1,234 / 56.7 / 8.90; None is a dash."""
    if x is None:
        return "—"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _with_unit(value, unit: str) -> str:
    return f"{fmt(value)} {unit}".rstrip() if value is not None else "—"


def holds_mark(holds: bool | None) -> str:
    return {True: "✓", False: "✗", None: "—"}[holds]


def cells(row: Row, note_number: int | None = None) -> list[str]:
    measured = _with_unit(row.value, row.unit)
    if row.value is not None and row.floor:
        measured += f" ({fmt(row.value / row.floor)}× floor)"
    floor = "—"
    if row.floor is not None:
        floor = _with_unit(row.floor, row.unit)
        if row.floor_label:
            floor += f" ({row.floor_label})"
    figure = row.figure + (f" [{note_number}]" if note_number else "")
    return [row.benchmark, figure, measured, floor,
            row.target.text(row.unit) if row.target else "—", holds_mark(row.holds)]


def width(text: str) -> int:
    """Columns on a terminal: East Asian wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def markdown(header: list[str], body: list[list[str]]) -> str:
    widths = [max(width(c) for c in col) for col in zip(header, *body)]

    def line(cs):
        return "| " + " | ".join(c + " " * (w - width(c)) for c, w in zip(cs, widths)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|",
                      *(line(b) for b in body)])


def figures_table(rows: list[Row]) -> str:
    """The table of figures, then the notes its rows refer to by number."""
    body, notes = [], []
    for row in rows:
        number = None
        if row.note:
            notes.append(row.note)
            number = len(notes)
        body.append(cells(row, number))
    out = markdown(["benchmark", "figure", "measured", "floor", "target", "holds"], body)
    if notes:
        out += "\n\n" + "\n".join(f"- [{i}] {n}" for i, n in enumerate(notes, 1))
    return out


@dataclass
class BenchResult:
    name: str
    quick: str
    seconds: float = 0.0
    load_start: float = 0.0
    load_end: float = 0.0
    status: str = "ok"         # ok | crashed (exit N) | timed out after N s
    rows: list[Row] = field(default_factory=list)
    error: str = ""            # the last lines it printed, when it did not end well

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def as_dict(self) -> dict:
        return {**asdict(self), "rows": [r.as_dict() for r in self.rows]}


def runs_table(results: list[BenchResult]) -> str:
    return markdown(
        ["benchmark", "quick run", "seconds", "load average (1 min) start → end", "result"],
        [[r.name, r.quick, f"{r.seconds:.0f}", f"{r.load_start:.1f} → {r.load_end:.1f}",
          r.status] for r in results])


# What issue 17 asks for that no benchmark in bench/ measures yet.
NOT_MEASURED: list[str] = []


def report(results: list[BenchResult], started: datetime, seconds: float) -> str:
    rows = [r for res in results for r in res.rows]
    for res in results:
        if not res.ok:
            last = res.error.strip().splitlines()[-1:] or [""]
            rows.append(Row(res.name, f"no figures: {res.status}", None,
                            note=f"{res.name}: {last[0][:200]}" if last[0] else ""))
    with_target = [r for r in rows if r.holds is not None]
    held = sum(bool(r.holds) for r in with_target)
    parts = [
        f"make bench: {started:%Y-%m-%d %H:%M} UTC, {seconds / 60:.1f} min, "
        f"{os.cpu_count()} cores, load average at the end "
        f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())}",
        "",
        figures_table(rows),
        "",
        f"{held} of {len(with_target)} figures with a target hold.",
        "",
        runs_table(results),
    ]
    if NOT_MEASURED:
        parts += ["", "Not measured by any benchmark yet: " + "; ".join(NOT_MEASURED) + "."]
    return "\n".join(parts)


def exit_status(results: list[BenchResult]) -> int:
    """1 when a benchmark crashed or timed out; missed targets do not count."""
    return 0 if all(r.ok for r in results) else 1


# --- the quick runs (each runs in a child process) --------------------------------------

def progress(*args) -> None:
    print(*args, flush=True)


@contextmanager
def workdir_kept_on_failure(prefix: str):
    """A folder for the processes' logs: removed after a run that ended well, kept (and
    named) after one that did not."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield workdir
    except BaseException:
        progress(f"the processes' logs are kept in {workdir}")
        raise
    shutil.rmtree(workdir, ignore_errors=True)


def quick_forms_generate() -> list[Row]:
    from bench import forms_generate as fg

    b = "forms_generate"
    r = fg.measure(orgs=200, processes=2, repeat=30, out=progress)
    styled, floor = r["runs"]["styled"], r["runs"]["floor"]
    wc = r["writer_choice"]
    forms = fg.TARGET_ORGS * 7

    def per_form(run):
        return (run["prepare"] + run["write"]) / run["forms"] * 1000

    return [
        Row(b, f"whole country ({forms:,} forms), CPU time ÷ 2 cores", styled["nation_cpu_s"],
            "s", floor["nation_cpu_s"], "unstyled", Target("<", 180, source="#3, #17"),
            note=f"forms_generate: CPU time of the first {styled['orgs']} organisations' forms, "
                 f"scaled to {fg.TARGET_ORGS:,} organisations on 2 cores; the figure to plan with"),
        Row(b, "whole country at this run's wall rate, 2 processes", styled["nation_wall_s"],
            "s", floor["nation_wall_s"], "unstyled", Target("<", 180, source="#3, #17"),
            note=f"forms_generate: what the machine gave at load average {styled['load']:.1f}; "
                 "on a shared machine it measures the other jobs too (quiet full run: 49 s)"),
        Row(b, "CPU per form, prepare + write", per_form(styled), "ms", per_form(floor),
            "unstyled"),
        Row(b, "synthetic form workbook, xlsxwriter styled", wc["xlsxwriter"], "ms",
            wc["xlsxwriter_floor"], "unstyled", Target("<", wc["openpyxl"], source="#3"),
            note="forms_generate: the target is openpyxl's styled workbook in the same run "
                 "(the writer is chosen by this measurement)"),
    ]


def quick_forms_parse() -> list[Row]:
    from bench import forms_parse as fp

    b = "forms_parse"
    r = fp.measure(per_form=15, rounds=3, out=progress)
    n, passes = r["workbooks"], r["passes"]

    def ms(name):
        return passes[name]["cpu"] / n * 1000

    e2e, floor, door = ms(fp.END_TO_END), ms(fp.FLOOR), ms(fp.DOOR)
    return [
        Row(b, "end to end (door + read + validate), CPU per workbook", e2e, "ms", floor,
            "safety scan + calamine load", Target("<=", 2.5, of_floor=True, source="#17")),
        Row(b, "reading + validating beyond door and load, CPU per workbook",
            e2e - door - floor, "ms", floor, "safety scan + calamine load",
            Target("<=", 1, of_floor=True, source="#4")),
        Row(b, "whole country (35,000 workbooks) on 2 workers, CPU", 35000 * e2e / 1000 / 2,
            "s", 35000 * floor / 1000 / 2, "load only", Target("<", 60, source="#4")),
        Row(b, "end to end with the reader on openpyxl, CPU per workbook",
            ms(fp.END_TO_END_OPENPYXL), "ms", ms(fp.OPENPYXL_FLOOR), "openpyxl load"),
    ]


MATCHING_SCALES = (0.05, 0.2)


def quick_matching() -> list[Row]:
    from bench import matching_bench as mb

    b = "matching_bench"
    res = {}
    for scale in MATCHING_SCALES:
        with tempfile.TemporaryDirectory() as folder:
            res[scale] = mb.run(scale, 30, Path(folder), trace=False)
        progress(json.dumps(res[scale], ensure_ascii=False))
    small, large = (res[s] for s in MATCHING_SCALES)
    grew = large["records"] / small["records"]
    label = f"scale {MATCHING_SCALES[0]}, {small['records']:,} records"

    def per_record(r):
        return r["full_cpu_s"] / r["records"] * 1e6

    return [
        Row(b, f"full re-match CPU per record, scale {MATCHING_SCALES[1]} "
               f"({large['records']:,} records)", per_record(large), "µs", per_record(small),
            label, Target("<=", FLAT, of_floor=True, source="#6"),
            note=f"matching_bench: linear in the records means a flat cost per record; the "
                 f"records grew {grew:.1f}×, the floor column is the smaller scale"),
        Row(b, f"incremental re-match CPU median, scale {MATCHING_SCALES[1]}",
            large["incremental_cpu_median_ms"], "ms", small["incremental_cpu_median_ms"],
            label, Target("<=", FLAT, of_floor=True, source="#6, #17"),
            note=f"matching_bench: must not grow with the total ({grew:.1f}× the records); "
                 f"{large['incremental_samples']} resubmissions at each scale"),
        Row(b, "records re-evaluated per resubmission, median",
            large["incremental_records_evaluated_median"], "",
            small["incremental_records_evaluated_median"], label),
    ]


MASTER_A_ORGS = 500
MASTER_B = {"n_orgs": 1000, "step": 500, "probes": 10}


def quick_master() -> list[Row]:
    from bench import master_bench as mb

    b = "master_bench"
    kinds = ["sqlite"] + (["postgresql"] if mb.postgres_reachable() else [])
    rows = []
    with tempfile.TemporaryDirectory(prefix="nws-master-bench-") as tmp:
        folder = Path(tmp)
        progress("== sqlite")
        with mb.database("sqlite", folder, "a") as url:
            a = mb.phase_a(url, folder, MASTER_A_ORGS, False)
        publish = a["national publish (配信)"]
        rate = publish["master_rows"] / publish["seconds"]
        rows.append(Row(b, f"publish (配信) of {MASTER_A_ORGS} organisations at once, SQLite",
                        rate, "rows/s",
                        note=f"master_bench: the national 500,000 rows at this rate: "
                             f"{500_000 / rate:.0f} s (full run, quiet: 20 s)"))
        for kind in kinds:
            progress(f"== {kind}")
            with mb.database(kind, folder, "b") as url:
                points = mb.phase_b(url, folder, **MASTER_B)
            first, last = points[0], points[-1]
            name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[kind]
            label = f"{first['organisations']:,} organisations"
            rows.append(Row(
                b, f"one registration, median, {name}, {last['organisations']:,} organisations",
                last["median_ms"], "ms", first["median_ms"], label,
                Target("<=", FLAT, of_floor=True, source="#7, #17")))
            same = first["statements"] == last["statements"]
            rows.append(Row(
                b, f"SQL statements per registration, {name}, "
                   f"{last['organisations']:,} organisations",
                max(last["statements"]), "", max(first["statements"]), label,
                Target("==", 1, of_floor=True, source="#7"),
                note="" if same else f"master_bench: statement counts differ between probes: "
                                     f"{first['statements']} and {last['statements']}"))
    return rows


BURST_APPS = 100


def quick_load_burst() -> list[Row]:
    from bench import load_burst as lb

    b = "load_burst"
    with workdir_kept_on_failure("nws-bench-burst-") as workdir:
        r = lb.run(BURST_APPS, 1, 16, 600, workdir, idle_seconds=5)
    progress(json.dumps(r, ensure_ascii=False, indent=2))
    e2e = r["stages"]["created → registered (end to end)"]
    size = f"the target is for the national burst (3,482 applications), this is {r['apps']}"
    return [
        Row(b, f"applications registered of {r['apps']}, 1 intake worker", r["registered"],
            "", target=Target(">=", r["apps"], source="#17: nothing lost"),
            note=f"load_burst: failures: {r['failed']}" if r["failed"] else ""),
        Row(b, "throughput, applications registered per second",
            r["throughput_registered_per_s"], "/s", target=Target(">=", 20, source="#17"),
            note=f"load_burst: {size}; the recorded national run (2026-12-03, quiet) is 7.15/s "
                 f"(1 intake worker) and 6.98/s (2). Not reached on 2 cores (bench/README.md)"),
        Row(b, "end to end (created → registered), p95", e2e["p95"], "s",
            target=Target("<", 60, source="#17"),
            note=f"load_burst: {size}, so a pass here says little: the national run's p95 is "
                 f"409 s (1 worker) and 362 s (2)"),
        Row(b, "CPU per registered application, every process (harness and PostgreSQL too)",
            r["cpu_ms_per_registered_app"]["total"], "ms", target=Target(
                "<=", 100, source="#17: 20 applications/s on 2 cores"),
            note="load_burst: a busy machine disturbs CPU time far less than throughput; "
                 "the shares by process and the floor on 2 cores are in bench/README.md, "
                 "\"Load burst\""),
        Row(b, "intake queue, largest depth", r["queue_depth_max"]["intake"], "messages",
            note="load_burst: the messages per application on each queue are "
                 "messages_per_app's figure"),
    ]


FLOOD_SECONDS = 8


def quick_login_flood() -> list[Row]:
    from bench import login_flood as lf

    b = "login_flood"
    with workdir_kept_on_failure("nws-bench-flood-") as workdir:
        r = lf.run(FLOOD_SECONDS, workdir)
    progress(lf.table(r))
    rows = []
    for phase in ("one address", "many addresses"):
        rows.append(Row(b, f"clerks' intake p99, flood from {phase}", r[phase]["intake"]["p99"],
                        "ms", r["quiet"]["intake"]["p99"], "quiet",
                        Target("<=", 2, of_floor=True, source="#15")))
    for phase in ("one address", "many addresses"):
        rows.append(Row(b, f"identity /api/auth/me p99, flood from {phase}",
                        r[phase]["identity"]["p99"], "ms", r["quiet"]["identity"]["p99"],
                        "quiet"))
    rows[-1].note = ("login_flood: no target for identity, the process under attack: its own "
                     "endpoints queue behind the flood's requests (bench/README.md)")
    return rows


OVERHEAD_MESSAGES = 300      # per turn, 4 alternating turns


def quick_consumer_overhead() -> list[Row]:
    from bench import consumer_overhead as co

    b = "consumer_overhead"
    with workdir_kept_on_failure("nws-bench-overhead-") as workdir:
        r = co.run(OVERHEAD_MESSAGES, workdir)
    progress(json.dumps(r, indent=2))
    return [Row(b, "one message through the consumer wrapper (no-op handler), worker CPU",
                r["wrapped_cpu_ms"], "ms", r["bare_cpu_ms"], "bare Celery task, worker CPU",
                Target("<=", co.TARGET_RATIO, of_floor=True, source="#17"),
                note=f"consumer_overhead: {r['turns']} alternating turns of {r['messages']}; "
                     "CPU of the worker process and its pool child (from /proc), the figure a "
                     "shared machine does not distort; the wall row beside it does"),
            Row(b, "one message through the consumer wrapper (no-op handler), wall",
                r["wrapped_ms"], "ms", r["bare_ms"], "bare Celery task, wall",
                Target("<=", co.TARGET_RATIO, of_floor=True, source="#17"))]


PROFILE_MESSAGES = 300


def quick_profile_consumer() -> list[Row]:
    from bench import profile_consumer as pc

    b = "profile_consumer"
    r = pc.run(PROFILE_MESSAGES, 25)
    progress(r["profile"])
    per = r["per_message"]
    return [
        Row(b, "consume in process (no Celery), PostgreSQL and Redis", r["ms_per_message"], "ms"),
        Row(b, "SQL statements per message, receiver and sender", per["sql"], ""),
        Row(b, "commits per message, receiver and sender", per["commit"], ""),
        Row(b, "broker publishes per message (acknowledgements)", per["publish"], "",
            note="profile_consumer: acknowledgements go beside the queues and are drained in "
                 "batches; before issue 17 each was a message (1.00 per message)"),
    ]


APPS_COUNTED = 20


def quick_messages_per_app() -> list[Row]:
    from bench import messages_per_app as mpa

    b = "messages_per_app"
    with workdir_kept_on_failure("nws-bench-msgcount-") as workdir:
        r = mpa.run(APPS_COUNTED, workdir)
    progress(json.dumps(r, ensure_ascii=False, indent=2))
    rows = [Row(b, f"messages per application, largest queue ({r['largest_queue']})",
                r["largest_per_app"], "", target=Target("<=", mpa.TARGET, source="#17"))]
    for q in mpa.QUEUES:
        rows.append(Row(b, f"messages per application, {q} queue", r["messages_per_app"][q], ""))
    rows[-1].note = (f"messages_per_app: {r['apps']} applications through the whole lifecycle "
                     f"together in the embedded suite; acknowledgements are not messages "
                     f"(beside the queues), status reports and notices go in batches")
    return rows


LATENCY = {"apps": 2000, "clients": 50, "seconds": 4}


def quick_latency() -> list[Row]:
    from bench import latency as lt

    b = "latency"
    rows = []
    for backend, run in (("embedded", lt.run_embedded), ("postgres", lt.run_postgres)):
        with workdir_kept_on_failure(f"nws-bench-latency-{backend}-") as workdir:
            figures = run(LATENCY["apps"], LATENCY["clients"], LATENCY["seconds"], workdir)
        floor = None
        for f in figures:
            if f["endpoint"].startswith("healthz"):
                floor = f
                continue
            label = f"/healthz {floor['rps']:.0f}/s" if floor else ""
            rows.append(Row(b, f"{f['endpoint']}, {backend}, requests per second", f["rps"], "/s",
                            floor["rps"] if floor else None, label,
                            Target(">=", lt.RPS_SHARE, of_floor=True, source="#17")))
            rows.append(Row(b, f"{f['endpoint']}, {backend}, p99", f["p99_ms"], "ms",
                            floor["p99_ms"] if floor else None, "/healthz p99",
                            Target("<=", lt.P99_TARGET_MS, source="#17")))
    rows[-1].note = (f"latency: quick run with {LATENCY['apps']:,} applications "
                     f"(the full run has 5,000), {LATENCY['clients']} clients, "
                     f"{LATENCY['seconds']} s per endpoint")
    return rows


def quick_latency_profile() -> list[Row]:
    """What one request costs in process (bench/latency_profile.py): CPU and Python calls
    per request against /healthz's. The calls are the same on every run, so they show a
    change where the busy machine's timings cannot."""
    from bench import latency_profile as lp

    b = "latency_profile"
    figures = lp.run(LATENCY["apps"], 200)
    progress(json.dumps(figures, indent=2))
    floor = next(f for f in figures if f["endpoint"] == "healthz")
    rows = []
    for f in figures:
        if f is floor:
            continue
        rows.append(Row(b, f"{f['endpoint']}, CPU per request in process (SQLite)", f["cpu_ms"],
                        "ms", floor["cpu_ms"], "/healthz"))
        rows.append(Row(b, f"{f['endpoint']}, Python calls per request", f["calls"], "",
                        floor["calls"], "/healthz"))
    rows[-1].note = ("latency_profile: in process, one request at a time, "
                     f"{LATENCY['apps']:,} applications; no target of its own: it explains the "
                     "latency rows (bench/README.md)")
    return rows


@dataclass
class Bench:
    name: str
    quick: str
    run: Callable[[], list[Row]]


BENCHMARKS = [
    Bench("forms_generate", "--orgs 200, writer choice of 30", quick_forms_generate),
    Bench("forms_parse", "--per-form 15 (105 workbooks)", quick_forms_parse),
    Bench("matching_bench", f"scales {MATCHING_SCALES[0]} and {MATCHING_SCALES[1]}, 30 samples, "
                            "no traced run", quick_matching),
    Bench("master_bench", f"phase A {MASTER_A_ORGS} orgs (SQLite); phase B to "
                          f"{MASTER_B['n_orgs']:,} by {MASTER_B['step']}, "
                          f"{MASTER_B['probes']} probes (SQLite, PostgreSQL)", quick_master),
    Bench("load_burst", f"--apps {BURST_APPS} --intake-workers 1", quick_load_burst),
    Bench("login_flood", f"--seconds {FLOOD_SECONDS}", quick_login_flood),
    Bench("consumer_overhead", f"--messages {OVERHEAD_MESSAGES} --turns 4",
          quick_consumer_overhead),
    Bench("profile_consumer", f"--messages {PROFILE_MESSAGES}", quick_profile_consumer),
    Bench("messages_per_app", f"--apps {APPS_COUNTED}", quick_messages_per_app),
    Bench("latency", f"--apps {LATENCY['apps']} --clients {LATENCY['clients']} "
                     f"--seconds {LATENCY['seconds']}, embedded and PostgreSQL", quick_latency),
    Bench("latency_profile", f"--apps {LATENCY['apps']} --requests 200", quick_latency_profile),
]


def select(names: list[str] | None) -> list[Bench]:
    """The benchmarks named (script names, with or without ``.py`` or ``_bench``; commas
    allowed), in the order of BENCHMARKS; all of them when none is named."""
    if not names:
        return list(BENCHMARKS)
    wanted = set()
    for item in names:
        for name in filter(None, (n.strip() for n in item.split(","))):
            name = Path(name).name.removesuffix(".py")
            match = [b for b in BENCHMARKS if name in (b.name, b.name.removesuffix("_bench"))]
            if not match:
                known = ", ".join(b.name for b in BENCHMARKS)
                raise ValueError(f"no benchmark called {name!r} (there are: {known})")
            wanted.add(match[0].name)
    return [b for b in BENCHMARKS if b.name in wanted]


# --- running them ---------------------------------------------------------------------------

def child(name: str, rows_to: Path) -> int:
    """In the child process: run one quick benchmark, write its rows as JSON."""
    os.environ.setdefault("NWS_LOG_LEVEL", "WARNING")
    (bench,) = select([name])
    rows = bench.run()
    rows_to.write_text(json.dumps([r.as_dict() for r in rows], ensure_ascii=False))
    return 0


def run_one(bench: Bench, timeout: float) -> BenchResult:
    result = BenchResult(bench.name, bench.quick, load_start=os.getloadavg()[0])
    fd, rows_path = tempfile.mkstemp(prefix=f"nws-bench-{bench.name}-", suffix=".json")
    os.close(fd)
    tail: collections.deque[str] = collections.deque(maxlen=20)
    prefix = f"[{bench.name}] ".encode()
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-u", str(Path(__file__).resolve()), "--child", bench.name,
         "--rows-to", rows_path],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))})

    def pump():
        for line in proc.stdout:
            sys.stderr.buffer.write(prefix + line)
            sys.stderr.buffer.flush()
            tail.append(line.decode(errors="replace"))

    pumper = threading.Thread(target=pump, daemon=True)
    pumper.start()
    try:
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            # Ctrl-C lets the benchmark stop its processes and drop its database.
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            code = None
            result.status = f"timed out after {timeout:.0f} s"
    except KeyboardInterrupt:
        # The child got the same Ctrl-C from the terminal: let it clean up.
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            proc.kill()
        os.unlink(rows_path)
        raise
    pumper.join(5)
    result.seconds = time.monotonic() - started
    result.load_end = os.getloadavg()[0]
    text = Path(rows_path).read_text()
    os.unlink(rows_path)
    if code == 0 and text:
        result.rows = [Row.from_dict(d) for d in json.loads(text)]
    else:
        if code is not None:
            result.status = f"crashed (exit {code})"
        result.error = "".join(tail)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="benchmarks: " + ", ".join(b.name for b in BENCHMARKS))
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this benchmark (repeat, or separate with commas)")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="also write every figure, with the runs' times and load, here")
    parser.add_argument("--timeout", type=float, default=900, metavar="SECONDS",
                        help="stop a benchmark that runs longer than this (default 900)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--rows-to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.rows_to)
    try:
        selected = select(args.only)
    except ValueError as exc:
        parser.error(str(exc))
    started, t0 = datetime.now(timezone.utc), time.monotonic()
    results = []
    for bench in selected:
        print(f"--- {bench.name}: {bench.quick} (load average {os.getloadavg()[0]:.1f})",
              file=sys.stderr, flush=True)
        results.append(run_one(bench, args.timeout))
    seconds = time.monotonic() - t0
    print(report(results, started, seconds), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "started": started.isoformat(timespec="seconds"), "seconds": round(seconds, 1),
            "cpus": os.cpu_count(), "load_average_end": os.getloadavg(),
            "benchmarks": [r.as_dict() for r in results]}, ensure_ascii=False, indent=2))
    return exit_status(results)


if __name__ == "__main__":
    sys.exit(main())
