"""A master version as files: JSON, CSV (one file per table, zipped) and .xlsx.

Rows are flattened for the tabular formats: nested objects become dotted columns
(``system_chief.title``), lists become JSON text in one cell. Columns of a table are the
union of its rows' fields in first-seen order, after ``key``. Text that a spreadsheet
would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or CR) is written as
text: prefixed with ``'`` in CSV, typed as a string in .xlsx. Only published tables are
read, never the restricted one.
"""
from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any, Callable, Iterator

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy.orm import Session

from services.master import registry
from services.master.content import PUBLISHED_TABLES
from services.master.models import MasterVersion

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# progress(step, done, total): called as an export goes (the CLI shows it; HTTP does not).
Progress = Callable[[str, int, int], None]


def _quiet(step: str, done: int, total: int) -> None:
    pass


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    if isinstance(data, list):
        data = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return {prefix[:-1]: data}


def tables(session: Session, number: int) -> dict[str, tuple[list[str], list[dict]]]:
    """{table: (columns, flattened rows)} of version ``number``."""
    out: dict[str, tuple[list[str], list[dict]]] = {}
    with registry.bulk_work():
        for table, key, data in registry.iter_rows(session, number):
            columns, rows = out.setdefault(table, (["key"], []))
            flat = {"key": key, **flatten(data)}
            for column in flat:
                if column not in columns:
                    columns.append(column)
            rows.append(flat)
    return out


def metadata(version: MasterVersion) -> dict:
    return registry.describe_version(version)


def as_json(session: Session, version: MasterVersion, progress: Progress = _quiet) -> bytes:
    head = json.dumps(metadata(version), ensure_ascii=False)
    progress("content", 0, 1)
    body = (head[:-1] + ', "tables": ' + registry.content_json(session, version.number)
            + "}").encode()
    progress("content", 1, 1)
    return body


def _csv_text(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def _csv(columns: list[str], rows: list[dict]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_text(row.get(c)) for c in columns])
    return ("\ufeff" + buf.getvalue()).encode()  # BOM: Excel reads it as UTF-8


def as_csv_zip(session: Session, version: MasterVersion, progress: Progress = _quiet) -> bytes:
    """``version.json`` (number, time, checksum, sources) and ``<table>.csv`` per table
    (UTF-8 with BOM, CRLF), tables without rows included with their header only."""
    buf = io.BytesIO()
    progress("reading rows", 0, 1)
    found = tables(session, version.number)
    names = sorted(set(PUBLISHED_TABLES) | set(found))
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("version.json", json.dumps(metadata(version), ensure_ascii=False,
                                               indent=1))
        for n, table in enumerate(names):
            progress(table, n, len(names))
            columns, rows = found.get(table, (["key"], []))
            zf.writestr(f"{table}.csv", _csv(columns, rows))
        progress("done", len(names), len(names))
    return buf.getvalue()


def _cells(ws, values: list[Any]) -> Iterator[WriteOnlyCell]:
    for value in values:
        if isinstance(value, (dict, list)):
            value = json.dumps(value, ensure_ascii=False)
        cell = WriteOnlyCell(ws, value=value)
        if isinstance(value, str):
            cell.data_type = "s"  # never a formula
        yield cell


def as_xlsx(session: Session, version: MasterVersion, progress: Progress = _quiet) -> bytes:
    """Sheet ``version`` (metadata), then one sheet per table with a header row."""
    wb = Workbook(write_only=True)
    meta = wb.create_sheet("version")
    info = metadata(version)
    for name in ("number", "created_at", "checksum"):
        meta.append(list(_cells(meta, [name, info[name]])))
    meta.append(list(_cells(meta, ["sources", json.dumps(info["sources"],
                                                         ensure_ascii=False)])))
    progress("reading rows", 0, 1)
    found = tables(session, version.number)
    names = sorted(set(PUBLISHED_TABLES) | set(found))
    for n, table in enumerate(names):
        progress(table, n, len(names))
        columns, rows = found.get(table, (["key"], []))
        ws = wb.create_sheet(table[:31])
        ws.append(list(_cells(ws, columns)))
        for row in rows:
            ws.append(list(_cells(ws, [row.get(c) for c in columns])))
    progress("saving", len(names), len(names))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


FORMATS = {
    "json": (as_json, "application/json"),
    "zip": (as_csv_zip, "application/zip"),
    "xlsx": (as_xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}


def download(number: int, fmt: str):
    """Version ``number`` as a file to download, for the API (bearer token) and the
    pages (page session) alike."""
    from flask import Response

    from shared.service import context
    from shared.web import ApiError, not_found
    from services.master.models import MasterVersion

    if fmt not in FORMATS:
        raise ApiError(404, "not_found",
                       "出力形式は export.json, export.zip（CSV）, export.xlsx のいずれかです。")
    make, mimetype = FORMATS[fmt]
    with context("master").transaction() as session:
        version = session.get(MasterVersion, number)
        if version is None:
            raise not_found(f"マスタ版 {number} ")
        data = make(session, version)
    name = f"nws-master-v{number}.{fmt}"
    return Response(data, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
