"""Benchmark: reading uploads. Parse and validate N filled workbooks end to end, beside
the floor of only loading the same files.

The workbooks are the seven forms filled with the test sample data (tests/form_data.py),
written by the suite's own writer; each one is a form workbook as an applicant uploads
it. Three passes over the same bytes, in one process (one worker):

- floors: only loading the same bytes and iterating every row of every sheet, with each
  engine: python-calamine behind its safety scan (``shared.xlsxread.calamine_safe``,
  what the reader does for every file it hands to calamine) and
  ``openpyxl.load_workbook(read_only=True)`` (loading alone is lazy in read-only mode;
  iterating is what reading costs);
- door: ``shared.upload_safety.check_workbook`` alone (zip directory, DTD scan, sheet
  dimensions);
- end to end: the door, ``shared.workbook.read_workbook`` (JSON twin, locations, reader
  findings) and every validator of the form (``services.intake.validation.validate_form``
  with a FormContext holding the other forms, the attachments and a selection), findings
  placed on their cells — what the ``upload.received`` task does apart from the database
  writes; once as the task does it (calamine, since these files are safe) and once with
  the reader forced onto openpyxl, the engine before calamine.

The machine is shared and busy: CPU time (``time.process_time``) is reported beside wall
time; the CPU figure is the one to compare. Peak memory: Python allocations during the
pass (tracemalloc, which slows the pass down, so it runs as a separate pass on a sample)
and the process's maximum resident set size.

    .venv/bin/python bench/forms_parse.py                # 700 workbooks (100 per form)
    .venv/bin/python bench/forms_parse.py --per-form 20  # quick
"""
from __future__ import annotations

import argparse
import io
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def build(per_form: int):
    import plugins as builtin
    from shared import workbook as wbk
    from shared.pluginmanager import build_plugin_manager, form_specs
    from tests import form_data

    pm = build_plugin_manager(builtin.BUILTIN)
    layouts = {c: s.layout for c, s in form_specs(pm).items() if s.layout is not None}
    forms = {**form_data.required_forms(), "03-09": form_data.form_03_09()}
    books = []
    for code, data in forms.items():
        for i in range(per_form):
            filled = dict(data, writer=dict(data["writer"], name=f"記入 太郎{i}"))
            books.append((code, wbk.write_workbook([wbk.FormPart(layouts[code], filled)])))
    return pm, layouts, forms, books


def context(forms):
    from shared.forms import FormContext

    selection = {"query_affairs": [{"item_no": "九", "choice": "照会する", "delegators": []}],
                 "provided_info": [{"info_no": "EX0001", "choice": "提供する", "counterpart": None}]}
    return FormContext(application={"id": 1, "kind": "connection", "org_id": "131016",
                                    "catalog_version": "bench"},
                       org={"id": "131016", "name": "東京都千代田区", "kind": "特別区",
                            "branch": "executive", "prefecture_code": "130001",
                            "parent_id": None},
                       forms=forms, attachments=["A001"], selection=selection)


def floor_calamine(content: bytes) -> int:
    from shared import xlsxread

    assert xlsxread.calamine_safe(content)
    book = xlsxread.CalamineBook(content)
    cells = 0
    for name in book.sheetnames:
        for row in book.rows(name, 16384, 1 << 20):
            cells += len(row)
    book.close()
    return cells


def floor(content: bytes) -> int:
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    cells = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            cells += len(row)
    wb.close()
    return cells


def door(content: bytes, sheets) -> None:
    from shared.upload_safety import check_workbook

    check_workbook(content, sheets)


def end_to_end(content: bytes, pm, layouts, sheets, ctx, engine: str | None = None) -> int:
    """The number of error findings."""
    from services.intake import validation
    from shared import workbook as wbk
    from shared.upload_safety import check_workbook

    check_workbook(content, sheets)
    found = 0
    for result in wbk.read_workbook(content, layouts, engine):
        findings = result.findings + result.place(
            validation.validate_form(pm, result.code, result.data, ctx))
        found += sum(f.severity == "error" for f in findings)
    return found


def timed(fn, books) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for _, content in books:
        fn(content)
    return time.perf_counter() - wall, time.process_time() - cpu


def peak(fn, books) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    for _, content in books:
        fn(content)
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top


FLOOR = "floor: scan + calamine load + iterate"
OPENPYXL_FLOOR = "floor: openpyxl load + iterate"
DOOR = "door checks only"
END_TO_END = "end to end (door + read + validate)"
END_TO_END_OPENPYXL = "end to end, reader on openpyxl"


def measure(per_form: int = 100, rounds: int = 3, out=print) -> dict:
    """Run the benchmark, report each pass through ``out`` as it goes and return the
    figures: ``workbooks`` (how many), ``passes`` (per pass: best wall and CPU seconds
    over all workbooks, tracemalloc peak bytes of a sample) and ``max_rss_mb``."""
    pm, layouts, forms, books = build(per_form)
    sheets = [lay.sheet for lay in layouts.values()]
    ctx = context(forms)
    sizes = sorted(len(c) for _, c in books)
    # every workbook reads and validates without errors (so no pass stops early)
    assert all(end_to_end(c, pm, layouts, sheets, ctx) == 0 for _, c in books)
    passes = {
        FLOOR: floor_calamine,
        OPENPYXL_FLOOR: floor,
        DOOR: lambda c: door(c, sheets),
        END_TO_END: lambda c: end_to_end(c, pm, layouts, sheets, ctx),
        END_TO_END_OPENPYXL: lambda c: end_to_end(c, pm, layouts, sheets, ctx, "openpyxl"),
    }
    n = len(books)
    out(f"{n} workbooks ({per_form} per form x {len(forms)} forms), "
        f"{sizes[0]:,}-{sizes[-1]:,} bytes (median {sizes[n // 2]:,})")
    results = {}
    for name, fn in passes.items():
        best = min((timed(fn, books) for _ in range(rounds)), key=lambda t: t[1])
        top = peak(fn, books[:: max(1, n // 70)])
        wall, cpu = best
        results[name] = {"wall": wall, "cpu": cpu, "peak_bytes": top}
        out(f"{name:42s} wall {wall:7.2f} s  cpu {cpu:7.2f} s  "
            f"{n / cpu:7.1f} wb/s/worker (cpu)  {n / wall:7.1f} (wall)  "
            f"{1000 * cpu / n:6.2f} ms/wb  peak py alloc {top / 1e6:6.1f} MB")
    floor_cpu = results[FLOOR]["cpu"]
    e2e_cpu = results[END_TO_END]["cpu"]
    door_cpu = results[DOOR]["cpu"]
    out(f"end to end / calamine floor (cpu): {e2e_cpu / floor_cpu:.2f}; "
        f"reading and validating beyond door and floor: "
        f"{1000 * (e2e_cpu - door_cpu - floor_cpu) / n:.2f} ms/wb "
        f"against {1000 * floor_cpu / n:.2f} ms/wb of loading")
    old = results[END_TO_END_OPENPYXL]["cpu"]
    out(f"openpyxl floor / calamine floor: {results[OPENPYXL_FLOOR]['cpu'] / floor_cpu:.1f}x; "
        f"end to end openpyxl / calamine: {old / e2e_cpu:.1f}x")
    per_wb = e2e_cpu / n
    out(f"35,000 workbooks at {1000 * per_wb:.2f} ms: {35000 * per_wb:.0f} s cpu on one worker, "
        f"{35000 * per_wb / 2:.0f} s on two")
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out(f"max RSS {max_rss:.0f} MB")
    return {"workbooks": n, "passes": results, "max_rss_mb": max_rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-form", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="best of N passes")
    args = parser.parse_args()
    measure(args.per_form, args.rounds)


if __name__ == "__main__":
    main()
