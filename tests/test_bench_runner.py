"""bench/run_all.py (`make bench`): the holds logic, the table and the exit status, on
synthetic figures. No benchmark runs here: benchmarks never run inside `make test`."""
from __future__ import annotations

import importlib.util
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[1] / "bench" / "run_all.py"


@pytest.fixture(scope="module")
def ra():
    spec = importlib.util.spec_from_file_location("bench_run_all", PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def test_absolute_targets(ra):
    assert ra.Target("<", 180).holds(97.3) is True
    assert ra.Target("<", 180).holds(180) is False
    assert ra.Target("<=", 180).holds(180) is True
    assert ra.Target(">=", 20).holds(1.67) is False
    assert ra.Target(">=", 100).holds(100) is True
    assert ra.Target("<", 60).holds(None) is None


def test_targets_relative_to_the_floor(ra):
    two = ra.Target("<=", 2, of_floor=True)
    assert two.holds(51.9, 39.9) is True
    assert two.holds(80.0, 39.9) is False
    assert two.holds(51.9, None) is None          # no floor measured: nothing to compare
    same = ra.Target("==", 1, of_floor=True)
    assert same.holds(19, 19) is True
    assert same.holds(20, 19) is False


def test_unknown_operator_is_refused(ra):
    with pytest.raises(ValueError):
        ra.Target("~", 1)


def test_target_text(ra):
    assert ra.Target("<", 180, source="#3").text("s") == "< 180 s (#3)"
    assert ra.Target("<=", 2.5, of_floor=True).text("ms") == "≤ 2.5× floor"
    assert ra.Target("==", 1, of_floor=True, source="#7").text() == "= floor (#7)"
    assert ra.Target(">=", 20).text("/s") == "≥ 20 /s"


def test_numbers(ra):
    assert ra.fmt(None) == "—"
    assert ra.fmt(35000) == "35,000"
    assert ra.fmt(538.4) == "538"
    assert ra.fmt(1234.5) == "1,234"
    assert ra.fmt(54.61) == "54.6"
    assert ra.fmt(1.567) == "1.57"
    assert ra.fmt(0.0) == "0.00"


def test_a_row_and_its_cells(ra):
    row = ra.Row("login_flood", "clerks' intake p99", 80.0, "ms", 40.0, "quiet",
                 ra.Target("<=", 2, of_floor=True, source="#15"))
    assert row.holds is True
    assert ra.cells(row) == ["login_flood", "clerks' intake p99", "80.0 ms (2.00× floor)",
                             "40.0 ms (quiet)", "≤ 2× floor (#15)", "✓"]
    missed = ra.Row("load_burst", "throughput", 1.67, "/s", target=ra.Target(">=", 20))
    assert missed.holds is False
    assert ra.cells(missed, 3)[1:] == ["throughput [3]", "1.67 /s", "—", "≥ 20 /s", "✗"]
    info = ra.Row("forms_parse", "openpyxl", 11.0, "ms", 9.56, "openpyxl load")
    assert info.holds is None and ra.cells(info)[-2:] == ["—", "—"]


def test_rows_survive_json(ra):
    row = ra.Row("b", "f", 1.5, "s", 1.0, "x", ra.Target("<=", 1.5, of_floor=True), "n")
    again = ra.Row.from_dict(json.loads(json.dumps(row.as_dict())))
    assert again == row and again.holds is True
    plain = ra.Row("b", "f", 3, "")
    assert ra.Row.from_dict(json.loads(json.dumps(plain.as_dict()))) == plain


def test_the_table_lines_up_and_numbers_its_notes(ra):
    rows = [
        ra.Row("master_bench", "publish (配信) of 500 organisations", 7042.0, "rows/s",
               note="first note"),
        ra.Row("forms_parse", "end to end", 2.97, "ms", 1.35, "calamine",
               ra.Target("<=", 2.5, of_floor=True)),
        ra.Row("load_burst", "throughput", 1.67, "/s", target=ra.Target(">=", 20),
               note="second note"),
    ]
    text = ra.figures_table(rows)
    lines = text.splitlines()
    assert [c.strip() for c in lines[0].split("|")[1:-1]] == [
        "benchmark", "figure", "measured", "floor", "target", "holds"]
    assert set(lines[1]) == {"|", "-"}
    table = lines[:5]
    assert len({ra.width(line) for line in table}) == 1          # every line equally wide
    assert "publish (配信) of 500 organisations [1]" in table[2]
    assert "throughput [2]" in table[4]
    assert table[3].rstrip().endswith("| ✓     |") and table[4].rstrip().endswith("| ✗     |")
    assert lines[-2:] == ["- [1] first note", "- [2] second note"]


def test_report_counts_what_holds_and_shows_a_crash(ra):
    ok = ra.BenchResult("forms_parse", "--per-form 15", 20.0, 5.0, 6.0, rows=[
        ra.Row("forms_parse", "e2e", 2.0, "ms", 1.0, "floor", ra.Target("<=", 2.5, of_floor=True)),
        ra.Row("forms_parse", "nation", 70.0, "s", target=ra.Target("<", 60)),
        ra.Row("forms_parse", "info", 1.0, "ms")])
    crashed = ra.BenchResult("load_burst", "--apps 100", 3.0, 6.0, 6.0,
                             status="crashed (exit 1)",
                             error="Traceback …\nRuntimeError: web on 4242 did not start\n")
    text = ra.report([ok, crashed], datetime(2026, 12, 2, tzinfo=timezone.utc), 23.0)
    assert "1 of 2 figures with a target hold." in text
    assert "no figures: crashed (exit 1)" in text
    assert "load_burst: RuntimeError: web on 4242 did not start" in text
    runs = [[c.strip() for c in line.split("|")[1:-1]] for line in text.splitlines()
            if line.startswith("| load_burst") and "--apps" in line]
    assert runs == [["load_burst", "--apps 100", "3", "6.0 → 6.0", "crashed (exit 1)"]]
    # every point of issue 17 has its benchmark now: the line is gone
    assert ra.NOT_MEASURED == [] and "Not measured by any benchmark yet" not in text


def test_exit_status_only_for_crashes(ra):
    missed = ra.BenchResult("load_burst", "", rows=[
        ra.Row("load_burst", "throughput", 1.0, "/s", target=ra.Target(">=", 20))])
    assert ra.exit_status([missed]) == 0                      # a missed target is information
    assert ra.exit_status([missed, ra.BenchResult("x", "", status="crashed (exit 1)")]) == 1
    assert ra.exit_status([ra.BenchResult("x", "", status="timed out after 900 s")]) == 1


def test_only_selects_by_script_name(ra):
    names = [b.name for b in ra.select(None)]
    assert names == ["forms_generate", "forms_parse", "matching_bench", "master_bench",
                     "load_burst", "login_flood", "consumer_overhead", "profile_consumer",
                     "messages_per_app", "latency",
                     "latency_profile"]
    # every script in bench/ has its quick run in the table
    scripts = {p.stem for p in Path(ra.__file__).parent.glob("*.py")} - {"run_all", "__init__"}
    assert scripts == set(names)
    assert [b.name for b in ra.select(["login_flood,matching", "bench/forms_parse.py"])] == \
        ["forms_parse", "matching_bench", "login_flood"]          # in the usual order
    with pytest.raises(ValueError, match="no benchmark called 'nope'"):
        ra.select(["nope"])


def test_an_unknown_name_stops_before_anything_runs(ra, capsys):
    with pytest.raises(SystemExit) as exc:
        ra.main(["--only", "nope"])
    assert exc.value.code == 2
    assert "no benchmark called 'nope'" in capsys.readouterr().err


def test_every_benchmark_script_has_a_quick_run(ra):
    scripts = {p.stem for p in PATH.parent.glob("*.py")} - {"run_all"}
    assert scripts == {b.name for b in ra.BENCHMARKS}
