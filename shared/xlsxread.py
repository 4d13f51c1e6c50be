"""Reading an uploaded .xlsx: python-calamine where it is safe, openpyxl otherwise.

python-calamine (Rust) loads a form-sized workbook in about a twentieth of openpyxl's time
(bench/README.md, "Reading uploads"), but it has two properties a hostile file could use:

- it builds each sheet as a dense grid from the first to the last cell it finds, so one
  cell at XFD1048576 (or a long run of rows and cells without a reference, which it
  numbers one after another) asks for billions of cells before any Python code can
  refuse them;
- it reports a formula's cached value, not the formula, so "数式は使えません" could not be
  told.

So calamine reads a workbook only after :func:`calamine_safe` has checked, with expat
(C, no entity expansion without a DTD, and a DTD stops the scan), that the zip directory
is within the upload limits and that every worksheet is well-formed XML whose every row
and cell carries an explicit reference inside the bounds of a form
(:data:`shared.upload_safety.MAX_SHEET_ROWS` × :data:`MAX_SHEET_COLS`) and holds no
formula. Anything else — a formula, a reference-less cell, a sheet too large, XML the scan
cannot parse — is read by openpyxl in read-only mode (streaming, through defusedxml,
bounded by the reader's own row and column limits), exactly as before; a workbook that
openpyxl cannot read either is a finding for the uploader. Whatever reads it, the
reader above sees the same thing: per sheet, rows of ``(value, data_type)`` starting at A1,
``data_type`` ``"f"`` for a formula.

Both engines are checked against each other by tests/shared/test_xlsxread.py, on the
generated forms filled with sample data and on the same workbooks re-saved by
LibreOffice.
"""
from __future__ import annotations

import io
import re
import zipfile
from typing import IO, Any, Iterator

from shared import upload_safety

Row = list[tuple[Any, str]]
_CELL_REF = re.compile(r"([A-Z]{1,3})([0-9]{1,7})")


class _Unsafe(Exception):
    """The scan found something calamine must not be given."""


def _scan_sheet(xml: bytes, max_rows: int, max_cols: int) -> None:
    """Raise :class:`_Unsafe` unless every row and cell of the worksheet XML has an
    explicit reference within bounds and no cell holds a formula."""
    import pyexpat

    def start(name: str, attrs: dict[str, str]) -> None:
        local = name.rpartition(":")[2]
        if local == "c":
            match = _CELL_REF.fullmatch(attrs.get("r", ""))
            if match is None or int(match.group(2)) > max_rows or \
                    upload_safety.column_number(match.group(1)) > max_cols:
                raise _Unsafe
        elif local == "row":
            r = attrs.get("r", "")
            if not r.isdigit() or int(r) > max_rows:
                raise _Unsafe
        elif local == "f":
            raise _Unsafe

    def refuse(*_args) -> None:
        raise _Unsafe

    parser = pyexpat.ParserCreate()
    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(xml, True)
    except pyexpat.ExpatError:
        raise _Unsafe from None


def calamine_safe(content: bytes, max_rows: int = upload_safety.MAX_SHEET_ROWS,
                  max_cols: int = upload_safety.MAX_SHEET_COLS) -> bool:
    """True when python-calamine may read ``content`` (see the module docstring)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            infos = upload_safety.check_directory(zf)
            names = {i.filename for i in infos}
            for _name, path in upload_safety.sheet_members(zf, names):
                if path is None or path not in names:
                    return False
                _scan_sheet(zf.read(path), max_rows, max_cols)
    except Exception:  # _Unsafe, UploadRejected, a broken zip: openpyxl decides
        return False
    return True


class Book:
    """An open workbook for the reader: sheet names and rows of (value, data_type)."""

    engine = ""
    sheetnames: list[str]

    def rows(self, name: str, max_col: int, limit: int) -> Iterator[Row]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class CalamineBook(Book):
    engine = "calamine"

    def __init__(self, content: bytes) -> None:
        import python_calamine

        self._wb = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content))
        self.sheetnames = list(self._wb.sheet_names)

    def rows(self, name: str, max_col: int, limit: int) -> Iterator[Row]:
        sheet = self._wb.get_sheet_by_name(name)
        # skip_empty_area=False: rows and columns start at A1, as openpyxl's do.
        for row in sheet.to_python(skip_empty_area=False, nrows=limit):
            yield [(value, "n") for value in row[:max_col]]

    def close(self) -> None:
        self._wb.close()


class OpenpyxlBook(Book):
    engine = "openpyxl"

    def __init__(self, content: bytes) -> None:
        import openpyxl

        self._wb = openpyxl.load_workbook(io.BytesIO(content), read_only=True,
                                          data_only=False)
        self.sheetnames = list(self._wb.sheetnames)

    def rows(self, name: str, max_col: int, limit: int) -> Iterator[Row]:
        # max_col bounds a row with a cell in column XFD to the columns the layout reads.
        for n, row in enumerate(self._wb[name].iter_rows(max_col=max_col)):
            if n >= limit:
                return
            yield [(getattr(c, "value", None), getattr(c, "data_type", "n")) for c in row]

    def close(self) -> None:
        self._wb.close()


def open_book(source: bytes | IO[bytes] | str, engine: str | None = None) -> Book:
    """The workbook for reading: calamine when :func:`calamine_safe`, else openpyxl.
    ``engine`` forces one (tests compare the two)."""
    if isinstance(source, str):
        with open(source, "rb") as fh:
            content = fh.read()
    elif isinstance(source, (bytes, bytearray)):
        content = bytes(source)
    else:
        content = source.read()
    if engine is None:
        engine = "calamine" if calamine_safe(content) else "openpyxl"
    return CalamineBook(content) if engine == "calamine" else OpenpyxlBook(content)
