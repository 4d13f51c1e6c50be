"""Benchmark: 様式作成 for the whole registry.

Generates the full set of forms (every form plugin with a workbook layout: seven) for
every organisation in the registry that can apply, through the same code as
``GET /api/intake/applications/ID/forms.zip`` (services.intake.workbooks.form_part, then
shared.workbook.write_workbook), and reports forms per second and peak memory, beside
the floor of writing the same cells with no styling (no formats, pull-downs,
protection). It also measures the writer choice on one synthetic form-sized workbook
(8 x 60 cells, fills, one pull-down per row, protection): xlsxwriter against openpyxl.

    .venv/bin/python bench/forms_generate.py              # every organisation, 2 processes
    .venv/bin/python bench/forms_generate.py --orgs 500 --processes 1

The registry and the legal catalog are loaded into a temporary SQLite database first
(not timed). Figures are in bench/README.md.
"""
from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_ORGS = 5000
FLOOR_KEY = "floor"


def setup_database(data_dir: Path) -> str:
    from nws.runtime import Runtime
    from shared.config import Settings

    settings = Settings.from_env({"NWS_DATA_DIR": str(data_dir)}, embedded=True)
    runtime = Runtime(settings, services=["intake"])
    runtime.migrate()
    runtime.seed()
    runtime.close()
    return settings.database_url("intake")


# --- per process ---------------------------------------------------------------------

_state: dict = {}


def _init(url: str) -> None:
    import plugins
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from shared.pluginmanager import build_plugin_manager, form_specs

    engine = create_engine(url)
    _state["session"] = Session(engine)
    _state["specs"] = [s for s in form_specs(build_plugin_manager(plugins.BUILTIN)).values()
                       if s.layout is not None]


def _parts(org_id: str):
    from services.intake import workbooks
    from services.intake.models import Application, Organisation

    session = _state["session"]
    org = session.get(Organisation, org_id)
    app = Application(org_id=org.id, kind="connection", number=f"BENCH-{org.id}", findings=[])
    header = workbooks.header_values(session, org)
    sel = workbooks.selection_rows(session, app)
    return [workbooks.form_part(session, spec, app, org, header, sel) for spec in _state["specs"]]


def floor_write(part) -> bytes:
    """The same cells and sheets, written with no styling at all."""
    import xlsxwriter

    from shared import workbook as wbk

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    sheets = {name: wb.add_worksheet(name) for name in part.layout.sheets}
    for p in wbk._placements(part.layout, part.data, part.header):
        value = p.value
        if value is None or value == "" or value is False or value == []:
            continue
        if isinstance(value, list):
            value = "、".join(map(str, value))
        if isinstance(value, bool):
            value = "○"
        if isinstance(value, int):
            sheets[p.sheet].write_number(p.row, p.col, value)
        else:
            sheets[p.sheet].write_string(p.row, p.col, str(value))
    wb.close()
    return buf.getvalue()


def _run(args: tuple[list[str], str]) -> dict:
    from shared import workbook as wbk

    org_ids, mode = args
    out = {"forms": 0, "bytes": 0, "prepare": 0.0, "write": 0.0}
    for org_id in org_ids:
        t0 = time.process_time()
        parts = _parts(org_id)
        t1 = time.process_time()
        for part in parts:
            body = floor_write(part) if mode == FLOOR_KEY else wbk.write_workbook([part])
            out["bytes"] += len(body)
            out["forms"] += 1
        out["prepare"] += t1 - t0
        out["write"] += time.process_time() - t1
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run(url: str, org_ids: list[str], processes: int, mode: str) -> dict:
    chunks = [org_ids[i::processes * 8] for i in range(processes * 8)]
    started = time.perf_counter()
    if processes == 1:
        _init(url)
        results = [_run((c, mode)) for c in chunks]
    else:
        with mp.get_context("fork").Pool(processes, initializer=_init, initargs=(url,)) as pool:
            results = pool.map(_run, [(c, mode) for c in chunks])
    wall = time.perf_counter() - started
    total = {k: sum(r[k] for r in results) for k in ("forms", "bytes", "prepare", "write")}
    total.update(wall=wall, processes=processes, mode=mode, orgs=len(org_ids),
                 maxrss_mb=max(r["maxrss_mb"] for r in results))
    return total


# --- the writer choice on one synthetic form-sized workbook --------------------------

ROWS, COLS = 60, 8


def synthetic_xlsxwriter() -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("様03-07")
    fmts = [wb.add_format({"bg_color": c, "locked": c != "#F8CBAD", "num_format": "@", "border": 1})
            for c in ("#FFFF99", "#BDD7EE", "#F8CBAD")]
    for i in range(ROWS):
        for j in range(COLS):
            ws.write_string(i, j, f"v{i}-{j}", fmts[j % 3])
        ws.data_validation(i, 1, i, 1, {"validate": "list", "source": ["実施済", "1000人未満", "その他"]})
    ws.protect()
    wb.close()
    return buf.getvalue()


def synthetic_openpyxl() -> bytes:
    import openpyxl
    from openpyxl.styles import Border, PatternFill, Protection, Side
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "様03-07"
    fills = [PatternFill("solid", fgColor=c) for c in ("FFFF99", "BDD7EE", "F8CBAD")]
    side = Side(style="thin")
    border = Border(left=side, right=side, top=side, bottom=side)
    unlocked = Protection(locked=False)
    for i in range(1, ROWS + 1):
        for j in range(1, COLS + 1):
            cell = ws.cell(i, j, f"v{i}-{j}")
            cell.fill, cell.border, cell.number_format = fills[j % 3], border, "@"
            if j % 3 != 2:
                cell.protection = unlocked
        dv = DataValidation(type="list", formula1='"実施済,1000人未満,その他"')
        ws.add_data_validation(dv)
        dv.add(f"B{i}")
    ws.protection.sheet = True
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def synthetic_openpyxl_floor() -> bytes:
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("様03-07")
    for i in range(ROWS):
        ws.append([f"v{i}-{j}" for j in range(COLS)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def synthetic_xlsxwriter_floor() -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("様03-07")
    for i in range(ROWS):
        for j in range(COLS):
            ws.write_string(i, j, f"v{i}-{j}")
    wb.close()
    return buf.getvalue()


def writer_choice(repeat: int = 200) -> dict[str, float]:
    out = {}
    for fn in (synthetic_xlsxwriter, synthetic_openpyxl, synthetic_xlsxwriter_floor,
               synthetic_openpyxl_floor):
        fn()
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            for _ in range(repeat // 3):
                fn()
            best = min(best, (time.perf_counter() - t) / (repeat // 3))
        out[fn.__name__.replace("synthetic_", "")] = best * 1000
    return out


def measure(orgs: int = 0, processes: int = 2, skip_floor: bool = False, repeat: int = 200,
            out=print) -> dict:
    """Run the benchmark, report each step through ``out`` as it goes and return the
    figures: ``writer_choice`` (ms per synthetic workbook) and ``runs`` (per mode: forms,
    bytes, CPU seconds of prepare and write, wall seconds, peak RSS, the machine's load
    average when it ended, and the whole country projected from CPU and from wall time)."""
    out("writer choice, one synthetic form-sized workbook (ms, best of 3):")
    choice = writer_choice(repeat)
    for name, ms in choice.items():
        out(f"  {name:20s} {ms:6.2f}")

    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        url = setup_database(Path(tmp))
        out(f"registry and catalog loaded in {time.perf_counter() - t:.1f} s (not timed below)")
        from sqlalchemy import create_engine, select
        from sqlalchemy.orm import Session

        from services.intake.models import Organisation

        with Session(create_engine(url)) as session:
            org_ids = list(session.scalars(select(Organisation.id).where(
                Organisation.can_apply.is_(True)).order_by(Organisation.id)))
        if orgs:
            org_ids = org_ids[:orgs]
        modes = ["styled"] + ([] if skip_floor else [FLOOR_KEY])
        for mode in modes:
            r = run(url, org_ids, processes, mode)
            cpu = r["prepare"] + r["write"]
            r.update(cpu=cpu, load=os.getloadavg()[0],
                     nation_cpu_s=cpu / r["orgs"] * TARGET_ORGS / 2,
                     nation_wall_s=r["wall"] / r["orgs"] * TARGET_ORGS)
            runs[mode] = r
            out(f"{mode:7s}: {r['orgs']} orgs, {r['forms']} forms in {r['wall']:.1f} s wall "
                f"with {r['processes']} process(es) = {r['forms'] / r['wall']:.0f} forms/s "
                f"(machine load {r['load']:.1f}); CPU {cpu:.1f} s = "
                f"{r['forms'] / cpu:.0f} forms/s per core: prepare {r['prepare'] / r['forms'] * 1000:.2f}"
                f" + write {r['write'] / r['forms'] * 1000:.2f} ms per form; "
                f"avg {r['bytes'] / r['forms'] / 1024:.1f} KiB per form; "
                f"peak RSS per process {r['maxrss_mb']:.0f} MB; "
                f"{TARGET_ORGS} orgs x 7 on 2 idle cores: "
                f"{r['nation_cpu_s']:.0f} s (CPU / 2), at this run's wall rate "
                f"{r['nation_wall_s']:.0f} s")
    return {"writer_choice": choice, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orgs", type=int, default=0, help="only the first N organisations")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--skip-floor", action="store_true")
    args = parser.parse_args()
    measure(args.orgs, args.processes, args.skip_floor)


if __name__ == "__main__":
    os.environ.setdefault("NWS_LOG_LEVEL", "WARNING")
    main()
