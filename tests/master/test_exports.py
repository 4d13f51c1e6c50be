"""Exports of a master version: JSON, CSV (one file per table, zipped) and .xlsx, each
holding exactly the version's rows."""
from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from openpyxl import load_workbook

from services.master import registry
from services.master.content import PUBLISHED_TABLES
from services.master.exports import flatten
from tests.conftest import Suite
from tests.master import approved
from tests.master.approved import api

FORMULA = "=HYPERLINK(\"http://example.invalid\",\"x\")"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Version 1: 千代田区 with every form, one 連絡先 department written like a
    spreadsheet formula; version 2: 中央区."""
    suite = Suite(tmp_path_factory.mktemp("exports") / "var", start_worker=False)
    ctx = suite.ctx("master")
    forms = approved.forms("131016")
    forms["02-02"]["normal_contacts"][0]["department"] = FORMULA
    try:
        for body in (approved.payload("131016", forms), approved.payload("131024")):
            with ctx.transaction() as session:
                registry.register(ctx, session, body)
        out = {"suite": suite, "version": api(suite, "get", "/api/master/versions/1").get_json()}
        for fmt in ("json", "zip", "xlsx"):
            res = api(suite, "get", f"/api/master/versions/1/export.{fmt}", "demo-mic")
            assert res.status_code == 200, (fmt, res.data[:200])
            out[fmt] = res
        yield out
    finally:
        suite.close()


def expected_rows(version: dict) -> dict[str, list[dict]]:
    """The version's rows flattened as the tabular exports write them."""
    return {t: [{"key": r["key"], **flatten(r["data"])} for r in rows]
            for t, rows in version["tables"].items()}


def test_json_export_is_the_version_as_the_api_reads_it(exported):
    res = exported["json"]
    assert res.mimetype == "application/json"
    assert 'filename="nws-master-v1.json"' in res.headers["Content-Disposition"]
    assert json.loads(res.data) == exported["version"]


def read_csv_zip(data: bytes) -> tuple[dict, dict[str, list[dict]]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        meta = json.loads(zf.read("version.json"))
        tables = {}
        for name in zf.namelist():
            if name.endswith(".csv"):
                raw = zf.read(name)
                assert raw.startswith("\ufeff".encode()), name
                tables[name[:-4]] = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    return meta, tables


def as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_csv_export_has_one_file_per_table_with_every_row(exported):
    assert exported["zip"].mimetype == "application/zip"
    meta, tables = read_csv_zip(exported["zip"].data)
    version = exported["version"]
    assert {k: meta[k] for k in ("number", "created_at", "checksum", "sources")} == {
        k: version[k] for k in ("number", "created_at", "checksum", "sources")}
    assert sorted(tables) == sorted(PUBLISHED_TABLES)
    expected = expected_rows(version)
    for table in PUBLISHED_TABLES:
        rows = expected.get(table, [])
        got = tables[table]
        assert len(got) == len(rows), table
        for want, have in zip(rows, got):
            want = {k: as_text(v) for k, v in want.items()}
            if table == "contacts":
                want["department"] = "'" + want["department"]  # written as text
            assert {k: v for k, v in have.items() if v != ""} == {
                k: v for k, v in want.items() if v != ""}, table


def test_csv_flattens_nested_fields_into_dotted_columns(exported):
    _, tables = read_csv_zip(exported["zip"].data)
    [row] = tables["responsibility"]
    assert row["system_chief.title"] == "情報政策担当部長"
    assert row["staff.unit"] == "システム係"
    [delegation] = tables["query_delegations"]
    assert json.loads(delegation["delegators"]) == ["131016"]


def test_xlsx_export_has_a_sheet_per_table_with_every_row(exported):
    res = exported["xlsx"]
    assert res.mimetype.endswith("spreadsheetml.sheet")
    wb = load_workbook(io.BytesIO(res.data), read_only=True)
    assert wb.sheetnames == ["version", *sorted(PUBLISHED_TABLES)]
    meta = {r[0]: r[1] for r in wb["version"].iter_rows(values_only=True)}
    assert meta["checksum"] == exported["version"]["checksum"]
    assert meta["number"] == 1
    expected = expected_rows(exported["version"])
    for table in PUBLISHED_TABLES:
        rows = list(wb[table].iter_rows(values_only=True))
        header, body = rows[0], rows[1:]
        want = expected.get(table, [])
        assert len(body) == len(want), table
        for values, row in zip(body, want):
            # an empty string reads back as an empty cell
            assert {h: v for h, v in zip(header, values) if v not in (None, "")} == {
                k: v for k, v in row.items() if v not in (None, "")}, table


def test_xlsx_writes_formula_like_text_as_text(exported):
    wb = load_workbook(io.BytesIO(exported["xlsx"].data))
    ws = wb["contacts"]
    header = [c.value for c in ws[1]]
    cell = ws.cell(row=2, column=header.index("department") + 1)
    assert cell.value == FORMULA
    assert cell.data_type == "s"


def test_exports_are_for_mic_and_operators(exported):
    suite = exported["suite"]
    assert api(suite, "get", "/api/master/versions/1/export.zip").status_code == 200
    for login in ("demo-applicant", "demo-pref"):
        assert api(suite, "get", "/api/master/versions/1/export.zip",
                   login).status_code == 403


@pytest.mark.parametrize("path", ["/api/master/versions/1/export.pdf",
                                  "/api/master/versions/9/export.json"])
def test_an_unknown_format_or_version_is_404(exported, path):
    res = api(exported["suite"], "get", path)
    assert res.status_code == 404
    assert res.get_json()["error"]["code"] == "not_found"


def test_json_text_documents_equal_the_decoded_ones(exported):
    """The API, exports and deliveries embed rows as stored JSON text."""
    ctx = exported["suite"].ctx("master")
    with ctx.db.transaction() as session:
        for number in (1, 2):
            assert json.loads(registry.content_json(session, number)) == registry.content(
                session, number)
        for a, b in ((0, 1), (1, 2), (2, 1), (0, 2), (2, 2)):
            assert json.loads(registry.diff_json(session, a, b)) == registry.diff(
                session, a, b), (a, b)


def _nws(data_dir, *args, cwd):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith("NWS_")}
    env["NWS_DATA_DIR"] = str(data_dir)
    return subprocess.run([str(Path(sys.executable).with_name("nws")), *args], env=env,
                          cwd=cwd, capture_output=True, text=True, timeout=120)


def test_nws_master_export_writes_the_same_tables_with_progress(exported, tmp_path):
    suite = exported["suite"]
    out = _nws(suite.data_dir, "master", "export", "1", "--format", "zip", "--out",
               str(tmp_path / "v1.zip"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "exporting master version 1 as zip" in out.stderr
    assert f"[{len(PUBLISHED_TABLES)}/{len(PUBLISHED_TABLES)}] done" in out.stderr
    with zipfile.ZipFile(tmp_path / "v1.zip") as got, \
            zipfile.ZipFile(io.BytesIO(exported["zip"].data)) as served:
        assert sorted(got.namelist()) == sorted(served.namelist())
        for name in served.namelist():
            assert got.read(name) == served.read(name), name
    assert not list(tmp_path.glob("*.partial"))
    # Without a number: the newest version, here 2; default file name in the folder.
    out = _nws(suite.data_dir, "master", "export", "--format", "json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "nws-master-v2.json").read_text())["number"] == 2
    missing = _nws(suite.data_dir, "master", "export", "9", cwd=tmp_path)
    assert missing.returncode != 0 and "master version 9 does not exist" in missing.stderr


def test_an_interrupted_export_leaves_no_file(exported, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from nws.cli import main
    from services.master import exports

    def interrupted(session, version, progress):
        progress("reading rows", 0, 1)
        raise KeyboardInterrupt

    monkeypatch.setattr(exports, "as_csv_zip", interrupted)
    monkeypatch.setenv("NWS_DATA_DIR", str(exported["suite"].data_dir))
    target = tmp_path / "v1.zip"
    result = CliRunner().invoke(main, ["master", "export", "1", "--out", str(target)])
    assert result.exit_code != 0
    assert "interrupted: no file was written; run it again" in result.output
    assert list(tmp_path.iterdir()) == []
