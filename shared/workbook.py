"""Workbook layouts: one description of a form's Excel workbook, used both to write it
and to read it back into the form's JSON twin.

A :class:`Layout` has a header sheet with single cells (:class:`Field`: a value cell, its
label to its left) and any number of row tables (:class:`Table`), each on its own sheet
(or below the header fields of the header sheet), whose rows extend downwards. A table
may be the child of another (``parent``): its rows name the parent row by its No. in
column A (e.g. the PIA reports of a 様03-07 row).

Cell kinds follow the paper forms: yellow = typed by hand (:data:`INPUT`), blue = picked
from a pull-down (:data:`CHOICE`, an Excel data-validation list), red = filled by the
system (:data:`AUTO`, locked), grey = the reviewers' block (:data:`REVIEWER`, locked and
left empty by the applicant). Sheets are protected; only yellow and blue cells are
unlocked.

Writing uses xlsxwriter (measured about 3x faster than openpyxl for a styled form-sized
workbook; see bench/README.md). Reading uses python-calamine where a scan shows it is safe
and openpyxl in read-only mode otherwise (:mod:`shared.xlsxread`); size, zip and XML
checks of the whole upload sit in front of it (:mod:`shared.upload_safety`).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
from typing import IO, Any, Iterable, Iterator, Mapping, Sequence

from shared import text as texts
from shared.forms import ERROR, Finding

# Cell kinds.
INPUT = "input"        # yellow, typed by hand
CHOICE = "choice"      # blue, pull-down
AUTO = "auto"          # red, filled by the system, locked
REVIEWER = "reviewer"  # grey, the reviewers' block: locked, filled by the system only

# Value types.
TEXT = "text"   # stored as text ('@'): codes and phone numbers keep their leading zeros
INT = "int"
BOOL = "bool"   # a check box: CHECK or empty
DATE = "date"   # "YYYY/MM/DD" in JSON, a real date in the workbook
LIST = "list"   # several codes in one cell, separated by 、

FILLS = {INPUT: "#FFFF99", CHOICE: "#BDD7EE", AUTO: "#F8CBAD", REVIEWER: "#D9D9D9"}
HIGHLIGHT = "#FF9900"
LABEL_FILL = "#F2F2F2"
CHECK = "○"
TRUE_MARKS = {"○", "◯", "〇", "✓", "✔", "レ", "V", "v", "TRUE", "true", "True", "1", "はい"}
FALSE_MARKS = {"×", "FALSE", "false", "False", "0", "いいえ"}
DATE_HINT = "西暦 YYYY/MM/DD で入力（例: 2026/11/26）"
LEGEND = "黄色: 手入力　青: プルダウンから選択　赤: 自動入力（変更不可）　灰色: 審査者記入欄（記入しないでください）"
LIST_SEPARATOR = "、"
# The reviewers' block (審査者記入欄) of every form: header value key -> label. The
# system fills it once a review stage has decided (the header values of these keys);
# the applicant never does.
REVIEWER_BLOCK = {
    "review_number": "申請番号",
    "primary_org_name": "一次審査者 機関名",
    "primary_department": "一次審査者 部署名",
    "primary_name": "一次審査者 氏名",
    "primary_result": "一次審査結果",
    "primary_comment": "一次審査コメント",
    "secondary_result": "二次審査結果",
    "secondary_comment": "二次審査コメント",
}
MAX_ROWS = 5000          # rows read from one sheet at most
_DEFAULT = object()      # "the type's blank value"
_BLANKS = {TEXT: "", INT: None, BOOL: False, DATE: "", LIST: []}
_REF_RE = re.compile(r"^([A-Z]+)(\d+)$")
_PATH_RE = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_SPLIT_RE = re.compile(r"[、,\s]+")
_DATE_RE = re.compile(r"^(\d{4})/(\d{2})/(\d{2})$")


# --- the description -----------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Field:
    """One cell of the header sheet. Its label goes in the cell to the left of ``ref``.

    ``path`` is the dotted JSON path of the value (None: display-only, or a reviewer
    cell). A BOOL field with ``member`` puts ``member`` into the list at ``path`` when
    checked (e.g. the attached-form check boxes of 様03-06). ``source`` names a value of
    the header context for display-only cells (機関名 …)."""

    ref: str
    label: str
    path: str | None = None
    kind: str = INPUT
    type: str = TEXT
    choices: tuple[str, ...] = ()
    strict: bool = True
    member: str | None = None
    source: str | None = None
    optional: bool = False
    blank: Any = _DEFAULT
    hint: str | None = None
    # How a TEXT value is read (shared.text): CODE normalised, FREE trimmed, LEGAL as written.
    text: str = texts.CODE


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of a row table; ``path`` is relative to the row."""

    path: str
    label: str
    kind: str = INPUT
    type: str = TEXT
    choices: tuple[str, ...] = ()
    strict: bool = True
    width: float = 16
    optional: bool = False
    blank: Any = _DEFAULT
    # How a TEXT value is read (shared.text): CODE normalised, FREE trimmed, LEGAL as written.
    text: str = texts.CODE


@dataclasses.dataclass(frozen=True)
class Table:
    """Rows of a list in the form data. Column A holds the row's No. (automatic), or for
    a child table the No. of the parent row it belongs to; the columns follow from B.
    ``header_row`` (1-based) holds the column labels, the title is the row above, data
    starts below. ``path`` is the list's path in the form (for a child table: inside the
    parent's row)."""

    sheet: str
    path: str
    title: str
    columns: tuple[Column, ...]
    header_row: int = 4
    parent: str | None = None
    blank_rows: int = 10
    key_label: str = "No."
    note: str | None = None


@dataclasses.dataclass(frozen=True)
class Layout:
    """The workbook of one form."""

    code: str
    title: str
    sheet: str
    fields: tuple[Field, ...]
    tables: tuple[Table, ...] = ()
    notes: tuple[tuple[str, str], ...] = ()     # (ref, text) written as bold labels
    widths: Mapping[str, float] = dataclasses.field(default_factory=dict)
    prefill: Any = None   # callable(org) -> dict: data a blank form starts from

    def __post_init__(self):
        sheets = [self.sheet] + [t.sheet for t in self.tables]
        for name in sheets:
            if len(name) > 31 or set(name) & set("[]:*?/\\"):
                raise ValueError(f"invalid sheet name {name!r}")
        on_sheet: dict[str, int] = {}
        for t in self.tables:
            on_sheet[t.sheet] = on_sheet.get(t.sheet, 0) + 1
            if on_sheet[t.sheet] > 1:
                raise ValueError(f"two tables on sheet {t.sheet!r}")
            if t.sheet == self.sheet and self.fields and t.header_row <= max(
                    _ref(f.ref)[0] for f in self.fields) + 1:
                raise ValueError(f"table {t.path} overlaps the header fields")
            if t.parent is not None and t.parent not in {p.path for p in self.tables
                                                         if p.parent is None}:
                raise ValueError(f"table {t.path}: unknown parent {t.parent}")

    @property
    def sheets(self) -> list[str]:
        return list(dict.fromkeys([self.sheet] + [t.sheet for t in self.tables]))

    def locations(self, data: Mapping[str, Any], header: Mapping[str, Any] | None = None
                  ) -> dict[str, str]:
        """Field path -> "「sheet」シート C7" of the workbook written from ``data``."""
        out = {}
        for p in _placements(self, data, header or {}):
            if p.path is not None:
                out.setdefault(p.path, address(p.sheet, p.row, p.col))
        for t, row, col in _table_titles(self, data):
            out.setdefault(_table_key(t), address(t.sheet, row, col))
        return out


ATTACHMENT_KEY = "attachment_id"   # a cell that names an attachment by its 添付資料ID


def names_attachment(path: str | None) -> bool:
    """Whether a field or column at ``path`` holds a 添付資料ID (its last key is
    ``attachment_id``)."""
    return bool(path) and path.rsplit(".", 1)[-1] == ATTACHMENT_KEY


def attachment_cells(layout: Layout, data: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(field path, Japanese label, value) of every cell of the form that names an
    attachment, blank ones included, in the order of the workbook."""
    for f in layout.fields:
        if f.member is None and names_attachment(f.path):
            yield f.path, f.label, get_path(data, f.path)
    for t in layout.tables:
        columns = [c for c in t.columns if names_attachment(c.path)]
        if not columns:
            continue
        if t.parent is None:
            for i, row in enumerate(get_path(data, t.path) or []):
                for c in columns:
                    yield (f"{t.path}[{i}].{c.path}", f"{t.title} {i + 1} 行目の{c.label}",
                           get_path(row, c.path))
            continue
        for n, parent in enumerate(get_path(data, t.parent) or []):
            for j, row in enumerate(get_path(parent, t.path) or []):
                for c in columns:
                    yield (f"{t.parent}[{n}].{t.path}[{j}].{c.path}",
                           f"{t.title} {t.key_label} {n + 1} の {j + 1} 件目の{c.label}",
                           get_path(row, c.path))


def address(sheet: str, row: int, col: int) -> str:
    """Where a cell is, for people: 「様02-01」シート C7 (row and col 0-based)."""
    return f"「{sheet}」シート {_col_letter(col)}{row + 1}"


# --- paths ---------------------------------------------------------------------------

def _tokens(path: str) -> list[str | int]:
    return [int(i) if i else name for name, i in _PATH_RE.findall(path)]


def get_path(data: Any, path: str, default: Any = None) -> Any:
    value = data
    for token in _tokens(path):
        if isinstance(token, int):
            if not isinstance(value, list) or token >= len(value):
                return default
            value = value[token]
        else:
            if not isinstance(value, Mapping) or token not in value:
                return default
            value = value[token]
    return value


def set_path(data: dict, path: str, value: Any) -> None:
    tokens = _tokens(path)
    target: Any = data
    for token, nxt in zip(tokens, tokens[1:]):
        empty: Any = [] if isinstance(nxt, int) else {}
        if isinstance(token, int):
            while len(target) <= token:
                target.append({} if not isinstance(nxt, int) else [])
            target = target[token]
        else:
            if not isinstance(target.get(token), (dict, list)):
                target[token] = empty
            target = target[token]
    last = tokens[-1]
    if isinstance(last, int):
        while len(target) <= last:
            target.append(None)
    target[last] = value


def _ref(ref: str) -> tuple[int, int]:
    """"C7" -> (6, 2), 0-based."""
    match = _REF_RE.match(ref)
    if not match:
        raise ValueError(f"bad cell reference {ref!r}")
    letters, digits = match.groups()
    col = 0
    for ch in letters:
        col = col * 26 + (ord(ch) - 64)
    return int(digits) - 1, col - 1


def _col_letter(col: int) -> str:
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _table_key(table: Table) -> str:
    return table.path if table.parent is None else f"{table.parent}[].{table.path}"


# --- placing cells (shared by the writer and Layout.locations) -----------------------

@dataclasses.dataclass
class _Placed:
    sheet: str
    row: int                 # 0-based
    col: int
    path: str | None
    kind: str
    type: str
    value: Any
    spec: Field | Column | None = None


def _field_value(f: Field, data: Mapping[str, Any], header: Mapping[str, Any]) -> Any:
    if f.kind == REVIEWER:
        return header.get(f.source) if f.source is not None else None
    if f.member is not None:
        return f.member in (get_path(data, f.path) or [])
    if f.path is not None:
        return get_path(data, f.path)
    if f.source is not None:
        return header.get(f.source)
    return None


def _placements(layout: Layout, data: Mapping[str, Any], header: Mapping[str, Any]
                ) -> Iterator[_Placed]:
    for f in layout.fields:
        row, col = _ref(f.ref)
        path = None if f.path is None else (
            f"{f.path}<{f.member}>" if f.member is not None else f.path)
        yield _Placed(layout.sheet, row, col, path, f.kind, f.type,
                      _field_value(f, data, header), f)
    for t in layout.tables:
        row = t.header_row  # 0-based index of the first data row
        if t.parent is None:
            items = [(None, i, r) for i, r in enumerate(get_path(data, t.path) or [])]
        else:
            items = [(i, j, r) for i, prow in enumerate(get_path(data, t.parent) or [])
                     for j, r in enumerate(get_path(prow, t.path) or [])]
        for n, (i, j, item) in enumerate(items):
            if t.parent is None:
                base = f"{t.path}[{j}]"
                yield _Placed(t.sheet, row, 0, None, AUTO, INT, n + 1)
            else:
                base = f"{t.parent}[{i}].{t.path}[{j}]"
                yield _Placed(t.sheet, row, 0, f"{base}<key>", INPUT, INT, i + 1)
            for c, column in enumerate(t.columns, start=1):
                yield _Placed(t.sheet, row, c, f"{base}.{column.path}", column.kind,
                              column.type, get_path(item, column.path), column)
            row += 1
        blank_rows = t.blank_rows
        if t.parent is not None:  # room for at least one more row per parent row
            blank_rows = max(blank_rows, len(get_path(data, t.parent) or []))
        for n in range(len(items), len(items) + blank_rows):
            if t.parent is None:
                yield _Placed(t.sheet, row, 0, None, AUTO, INT, n + 1)
            else:
                yield _Placed(t.sheet, row, 0, None, INPUT, INT, None)
            for c, column in enumerate(t.columns, start=1):
                yield _Placed(t.sheet, row, c, None, column.kind, column.type, None, column)
            row += 1


def _table_titles(layout: Layout, data) -> Iterator[tuple[Table, int, int]]:
    for t in layout.tables:
        yield t, t.header_row - 2, 0


# --- writing -------------------------------------------------------------------------

@dataclasses.dataclass
class FormPart:
    """One form to write: its layout, its data, the display values of the header
    (機関名 …, by Field.source) and findings to annotate (locations are field paths)."""

    layout: Layout
    data: Mapping[str, Any]
    header: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    findings: Sequence[Finding] = ()
    # choices offered in particular cells (by field path, e.g.
    # "query_delegations[0].procedure"): a pull-down that warns on other values, for
    # choices that depend on the row (the procedures the catalog knows for its item)
    cell_choices: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)


class _Formats:
    def __init__(self, wb):
        self.wb = wb
        self.cache: dict[tuple, Any] = {}

    def get(self, kind: str, type_: str, highlighted: bool = False):
        key = (kind, type_, highlighted)
        if key not in self.cache:
            props: dict[str, Any] = {"border": 1, "valign": "top",
                                     "bg_color": HIGHLIGHT if highlighted else FILLS[kind],
                                     "locked": kind not in (INPUT, CHOICE)}
            if type_ in (TEXT, LIST):
                props["num_format"] = "@"
            elif type_ == DATE:
                props["num_format"] = "yyyy/mm/dd"
            elif type_ == BOOL:
                props["align"] = "center"
            if highlighted:
                props.update(border_color="#C00000", border=2)
            self.cache[key] = self.wb.add_format(props)
        return self.cache[key]

    def named(self, name: str):
        if name not in self.cache:
            self.cache[name] = self.wb.add_format({
                "title": {"bold": True, "font_size": 14},
                "bold": {"bold": True},
                "label": {"border": 1, "bg_color": LABEL_FILL, "text_wrap": True,
                          "valign": "top"},
                "hint": {"font_color": "#595959", "italic": True},
                "legend": {"font_color": "#595959"},
                "alert": {"bold": True, "font_color": "#C00000"},
            }[name])
        return self.cache[name]


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, str):
        match = _DATE_RE.match(value)
        if match:
            try:
                return dt.date(*(int(g) for g in match.groups()))
            except ValueError:
                return None
    return None


def _write_value(ws, p: _Placed, fmt) -> None:
    value = p.value
    if p.type == BOOL:
        if value:
            ws.write_string(p.row, p.col, CHECK, fmt)
        else:
            ws.write_blank(p.row, p.col, None, fmt)
        return
    if value is None or value == "" or value == []:
        ws.write_blank(p.row, p.col, None, fmt)
    elif p.type == INT and isinstance(value, int) and not isinstance(value, bool):
        ws.write_number(p.row, p.col, value, fmt)
    elif p.type == DATE and _as_date(value) is not None:
        ws.write_datetime(p.row, p.col, dt.datetime.combine(_as_date(value), dt.time()), fmt)
    elif p.type == LIST and isinstance(value, list):
        ws.write_string(p.row, p.col, LIST_SEPARATOR.join(str(v) for v in value), fmt)
    else:
        ws.write_string(p.row, p.col, str(value), fmt)


def bracket(location: str, code: str = "") -> str:
    """A finding's location as a layout path: without the form code in front, list
    indices as [i] (marshmallow writes them as .i)."""
    loc = location[len(code) + 1:] if code and location.startswith(code + ".") else location
    return re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", loc)


def _resolve(location: str, code: str, cells: Mapping[str, tuple[str, int, int]]
             ) -> tuple[str, int, int] | None:
    loc = bracket(location, code)
    if loc in cells:
        return cells[loc]
    for path, where in cells.items():
        if path.startswith(loc + ".") or path.startswith(loc + "[") or path.startswith(
                loc + "<"):
            return where
    return None


def write_workbook(parts: Iterable[FormPart], target: IO[bytes] | None = None) -> bytes:
    """Write one workbook holding the given forms; returns its bytes (also written to
    ``target`` when given)."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False,
                                   "strings_to_formulas": False, "strings_to_urls": False})
    formats = _Formats(wb)
    lists: list[tuple[str, ...]] = []
    lists_ws = None
    for part in parts:
        layout = part.layout
        sheets = {name: wb.add_worksheet(name) for name in layout.sheets}
        placed = list(_placements(layout, part.data, part.header))
        cells = {p.path: (p.sheet, p.row, p.col) for p in placed if p.path is not None}
        for t, row, col in _table_titles(layout, part.data):
            cells.setdefault(_table_key(t), (t.sheet, row, col))
        notes: dict[tuple[str, int, int], list[str]] = {}
        for f in part.findings:
            where = _resolve(f.location, layout.code, cells) or (layout.sheet, 0, 0)
            mark = "【エラー】" if f.severity == ERROR else "【警告】"
            notes.setdefault(where, []).append(f"{mark}{f.message}（{f.rule}）")

        ws = sheets[layout.sheet]
        ws.write_string(0, 0, f"様{layout.code}　{layout.title}", formats.named("title"))
        ws.write_string(1, 0, LEGEND, formats.named("legend"))
        if part.findings:
            ws.write_string(0, 6, f"指摘事項 {len(part.findings)} 件: オレンジ色のセルのコメントを確認してください。",
                            formats.named("alert"))
        for ref, text in layout.notes:
            r, c = _ref(ref)
            ws.write_string(r, c, text, formats.named("bold"))
        for col, width in layout.widths.items():
            c = _ref(f"{col}1")[1]
            ws.set_column(c, c, width)
        for f in layout.fields:
            r, c = _ref(f.ref)
            if c > 0:
                ws.write_string(r, c - 1, f.label, formats.named("label"))
            if f.hint:
                ws.write_string(r, c + 1, f.hint, formats.named("hint"))
        for t in layout.tables:
            tws = sheets[t.sheet]
            if t.sheet != layout.sheet:
                tws.write_string(0, 0, f"様{layout.code}　{layout.title}", formats.named("title"))
                tws.write_string(1, 0, LEGEND, formats.named("legend"))
            tws.write_string(t.header_row - 2, 0, t.title, formats.named("bold"))
            if t.note:
                tws.write_string(t.header_row - 2, 2, t.note, formats.named("hint"))
            tws.write_string(t.header_row - 1, 0, t.key_label, formats.named("label"))
            tws.set_column(0, 0, 8 if t.parent is None else 12)
            for c, column in enumerate(t.columns, start=1):
                tws.write_string(t.header_row - 1, c, column.label, formats.named("label"))
                if t.sheet != layout.sheet or c not in {_ref(f"{k}1")[1] for k in layout.widths}:
                    tws.set_column(c, c, column.width)
            tws.freeze_panes(t.header_row, 1)
        validations: dict[tuple[str, int, tuple, bool], list[int]] = {}
        for p in placed:
            highlighted = (p.sheet, p.row, p.col) in notes
            _write_value(sheets[p.sheet], p, formats.get(p.kind, p.type, highlighted))
            spec = p.spec
            own = part.cell_choices.get(p.path) if p.path is not None else None
            if own and p.kind in (CHOICE, INPUT):
                validations.setdefault((p.sheet, p.col, tuple(own), False), []).append(p.row)
                continue
            choices = (CHECK,) if p.type == BOOL else (spec.choices if spec else ())
            if p.kind in (CHOICE, INPUT) and choices and (p.kind == CHOICE or p.type == BOOL):
                key = (p.sheet, p.col, tuple(choices), spec.strict if spec else True)
                validations.setdefault(key, []).append(p.row)
        for (sheet, col, choices, strict), rows in validations.items():
            source: Any = list(choices)
            if len(",".join(choices)) > 250 or any("," in c for c in choices):
                if lists_ws is None:
                    lists_ws = wb.add_worksheet("_lists")
                    lists_ws.hide()
                lists.append(choices)
                n = len(lists) - 1
                for i, choice in enumerate(choices):
                    lists_ws.write_string(i, n, choice)
                letter = _col_letter(n)
                source = f"='_lists'!${letter}$1:${letter}${len(choices)}"
            for first, last in _runs(rows):
                sheets[sheet].data_validation(first, col, last, col, {
                    "validate": "list", "source": source,
                    "error_type": "stop" if strict else "warning",
                    "error_title": "選択肢にない値です",
                    "error_message": "プルダウンの選択肢から選んでください。"})
        for (sheet, row, col), messages in notes.items():
            sheets[sheet].write_comment(row, col, "\n".join(messages), {
                "author": "NWS 申請処理機能", "x_scale": 3, "y_scale": 2 + len(messages)})
        for tws in sheets.values():
            tws.protect("", {"format_columns": True, "format_rows": True})
    wb.close()
    data = buf.getvalue()
    if target is not None:
        target.write(data)
    return data


def write_form(layout: Layout, data: Mapping[str, Any], header: Mapping[str, Any] | None = None,
               findings: Sequence[Finding] = ()) -> bytes:
    return write_workbook([FormPart(layout, data, header or {}, findings)])


def _runs(rows: list[int]) -> Iterator[tuple[int, int]]:
    rows = sorted(rows)
    start = prev = rows[0]
    for r in rows[1:]:
        if r != prev + 1:
            yield start, prev
            start = r
        prev = r
    yield start, prev


# --- reading -------------------------------------------------------------------------

@dataclasses.dataclass
class ReadResult:
    """A form read from a workbook: the JSON twin, where each field path was found, and
    what could not be read as it stands (reviewer cells filled, a value not in its
    pull-down, formulas, a sheet missing)."""

    code: str
    data: dict
    locations: dict[str, str]
    findings: list[Finding]

    def place(self, findings: Iterable[Finding]) -> list[Finding]:
        """Validator findings (located by field path) with the sheet and cell put in
        front of their message. A schema finding (``<code>.schema``) on a cell the
        reading already found wrong is left out: the reader's finding says it in the
        workbook's terms (the pull-down's choices, the cell's type), and nobody reads
        of one cell twice."""
        read_wrong = {bracket(f.location, self.code) for f in self.findings
                      if f.severity == ERROR}
        out = []
        for f in findings:
            if f.rule == f"{self.code}.schema" and bracket(f.location, self.code) in read_wrong:
                continue
            where = _resolve_address(f.location, self.code, self.locations)
            out.append(f if where is None or f.message.startswith("「") else
                       dataclasses.replace(f, message=f"{where}: {f.message}"))
        return out


def _resolve_address(location: str, code: str, locations: Mapping[str, str]) -> str | None:
    loc = bracket(location, code)
    if loc in locations:
        return locations[loc]
    for path, where in locations.items():
        if path.startswith((loc + ".", loc + "[", loc + "<")):
            return where
    return None


def open_workbook(source: bytes | IO[bytes] | str, engine: str | None = None):
    """The workbook for reading: python-calamine where a scan shows it is safe, openpyxl
    (read-only, formulas as written) otherwise; see :mod:`shared.xlsxread`."""
    from shared import xlsxread

    return xlsxread.open_book(source, engine)


def identify(sheetnames: Iterable[str], layouts: Mapping[str, Layout]) -> list[str]:
    """Codes of the forms whose header sheet is in the workbook, in layout order."""
    names = set(sheetnames)
    return [code for code, layout in layouts.items() if layout.sheet in names]


def read_workbook(source, layouts: Mapping[str, Layout], engine: str | None = None,
                  reviewer: Mapping[str, Iterable[str]] | None = None) -> list[ReadResult]:
    """Every form found in the workbook (by its header sheet). ``reviewer`` maps a
    reviewer cell's source key to the values the system wrote there (see
    :func:`read_form`)."""
    wb = open_workbook(source, engine)
    try:
        return [read_form(wb, layouts[code], reviewer)
                for code in identify(wb.sheetnames, layouts)]
    finally:
        wb.close()


def normalise(text: str) -> str:
    """What people type in a code, number, phone number or date cell, as the validators
    expect it: NFKC (全角 digits, hyphens and spaces become half-width; the
    long-vowel-like dashes of phone numbers become hyphens) and trimmed. Names are only
    trimmed and legal text is read as written (``Column.text``, :mod:`shared.text`)."""
    return texts.normalise_code(text)


class _Sheet:
    """A sheet read once into rows of (value, data_type)."""

    def __init__(self, wb, name: str, findings: list[Finding], code: str, max_col: int):
        self.name = name
        self.rows: list[list[tuple[Any, str]]] = []
        # Columns beyond the layout's are never looked at: bounding them keeps a row with
        # a cell in column XFD from being padded to 16,384 cells.
        for n, row in enumerate(wb.rows(name, max_col, MAX_ROWS + 1)):
            if n >= MAX_ROWS:
                findings.append(Finding("workbook.too_many_rows", ERROR, name,
                                        f"「{name}」シート: 行が多すぎます（{MAX_ROWS} 行まで読み取ります）。"))
                break
            self.rows.append(row)

    def cell(self, row: int, col: int) -> tuple[Any, str]:
        if row < len(self.rows) and col < len(self.rows[row]):
            return self.rows[row][col]
        return None, "n"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _convert(value: Any, type_: str, kind: str = texts.CODE) -> tuple[Any, str | None]:
    """A cell value as the JSON twin has it, or (raw, problem) if it cannot be; a TEXT
    value cleaned as its kind of text says (:func:`shared.text.clean`)."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        text = value.strftime("%Y/%m/%d")
        return (text, None) if type_ in (TEXT, DATE) else (text, "形式が正しくありません。")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if type_ == INT:
        if isinstance(value, bool):
            return str(value), "整数で入力してください。"
        if isinstance(value, int):
            return value, None
        text = normalise(str(value))
        return (int(text), None) if text.isdigit() else (text, "整数で入力してください。")
    if type_ == BOOL:
        if isinstance(value, bool):
            return value, None
        text = normalise(str(value))
        if text in TRUE_MARKS:
            return True, None
        if text in FALSE_MARKS:
            return False, None
        return False, f"「{text}」はチェック欄の値として読めません。「{CHECK}」を選ぶか空欄にしてください。"
    if isinstance(value, bool):
        value = "TRUE" if value else "FALSE"
    if type_ == TEXT and kind != texts.CODE:
        return texts.clean(str(value), kind), None
    text = normalise(str(value))
    if type_ == LIST:
        return [v for v in _SPLIT_RE.split(text) if v], None
    return text, None


def blank_value(spec: Field | Column) -> Any:
    """What a blank cell of ``spec`` reads as: its ``blank``, else its type's blank value
    (a fresh list for LIST)."""
    value = _BLANKS[spec.type] if spec.blank is _DEFAULT else spec.blank
    return list(value) if isinstance(value, list) else value


def read_value(value: Any, spec: Field | Column) -> tuple[Any, str | None]:
    """A typed value (a cell's, or a web form field's text) as the JSON twin has it, with
    what is wrong with it (None: nothing); see :func:`_convert`."""
    return _convert(value, spec.type, spec.text)


def cell_position(ref: str) -> tuple[int, int]:
    """"C7" -> (6, 2): a cell's row and column, 0-based."""
    return _ref(ref)


def _width(layout: Layout, sheet: str) -> int:
    """How many columns of ``sheet`` the layout reads (1-based count)."""
    width = 1
    if sheet == layout.sheet:
        width = max([width] + [_ref(f.ref)[1] + 1 for f in layout.fields])
    for t in layout.tables:
        if t.sheet == sheet:
            width = max(width, len(t.columns) + 1)
    return width


def _system_wrote(raw: Any, f: Field, reviewer: Mapping[str, Iterable[str]]) -> bool:
    """Whether a filled reviewer cell holds a value the system wrote there."""
    written = reviewer.get(f.source or "", ())
    return str(raw).strip() in {str(v).strip() for v in written if v}


def read_form(wb, layout: Layout,
              reviewer: Mapping[str, Iterable[str]] | None = None) -> ReadResult:
    """Read one form from an open workbook (see :func:`open_workbook`). The reviewers'
    block is never read into the data: a cell left empty, or holding a value the system
    wrote there for this application (``reviewer``: source key -> values), is fine;
    anything else was typed by the applicant and is refused."""
    code = layout.code
    findings: list[Finding] = []
    data: dict[str, Any] = {}
    locations: dict[str, str] = {}
    sheets: dict[str, _Sheet | None] = {}
    for name in layout.sheets:
        if name in wb.sheetnames:
            sheets[name] = _Sheet(wb, name, findings, code, _width(layout, name))
        else:
            sheets[name] = None
            findings.append(Finding("workbook.sheet_missing", ERROR, name,
                                    f"「{name}」シートがありません。様{code}の様式をダウンロードし直して記入してください。"))

    def take(sheet: _Sheet, row: int, col: int, spec: Field | Column, where: str):
        """(converted value, is_blank) of a cell, with findings for what is wrong."""
        raw, data_type = sheet.cell(row, col)
        if data_type == "f":
            findings.append(Finding("workbook.formula", ERROR, where,
                                    f"{address(sheet.name, row, col)}: 数式は使えません。値を入力してください（{spec.label}）。"))
            raw = None
        if _blank(raw):
            return None, True
        value, problem = _convert(raw, spec.type, spec.text)
        if problem:
            findings.append(Finding("workbook.value", ERROR, where,
                                    f"{address(sheet.name, row, col)}: {spec.label}: {problem}"))
        elif spec.choices and spec.strict and spec.kind == CHOICE and value not in spec.choices:
            findings.append(Finding("workbook.choice_not_in_list", ERROR, where,
                                    f"{address(sheet.name, row, col)}: {spec.label}「{value}」はプルダウンの選択肢"
                                    f"（{' / '.join(spec.choices)}）にありません。一覧から選んでください。"))
        return value, False

    blank_of = blank_value

    header = sheets.get(layout.sheet)
    for f in layout.fields:
        if header is None:
            break
        row, col = _ref(f.ref)
        if f.kind == REVIEWER:
            raw, _ = header.cell(row, col)
            if not _blank(raw) and not _system_wrote(raw, f, reviewer or {}):
                findings.append(Finding(f"{code}.reviewer_filled", ERROR, f"reviewer.{f.label}",
                                        f"{address(header.name, row, col)}: 審査者記入欄（{f.label}）は審査者が記入します。申請者は空欄にしてください"
                                        "（審査後にダウンロードした様式でシステムが記入した内容は、そのままで構いません）。"))
            continue
        if f.path is None:
            continue
        if f.member is not None:
            if get_path(data, f.path) is None:
                set_path(data, f.path, [])
            value, is_blank = take(header, row, col, f, f"{f.path}<{f.member}>")
            locations[f"{f.path}<{f.member}>"] = address(header.name, row, col)
            locations.setdefault(f.path, address(header.name, row, col))
            if value:
                get_path(data, f.path).append(f.member)
            continue
        value, is_blank = take(header, row, col, f, f.path)
        locations[f.path] = address(header.name, row, col)
        if is_blank:
            if f.optional:
                continue
            value = blank_of(f)
        set_path(data, f.path, value)

    parents: dict[str, dict[int, int]] = {}   # table path -> {sheet No.: list index}
    for t in layout.tables:
        sheet = sheets.get(t.sheet)
        key = _table_key(t)
        locations[key] = address(t.sheet, t.header_row - 2, 0)
        if t.parent is None:
            set_path(data, t.path, [])
        if sheet is None:
            continue
        labels = [sheet.cell(t.header_row - 1, c)[0] for c in range(1, len(t.columns) + 1)]
        expected = [normalise(c.label) for c in t.columns]
        if [normalise(str(v or "")) for v in labels] != expected:
            findings.append(Finding("workbook.layout_mismatch", ERROR, key,
                                    f"{address(t.sheet, t.header_row - 1, 1)}: 「{t.title}」の見出し行が様式と一致しません。"
                                    f"様{code}の様式をダウンロードし直して記入してください。"))
            continue
        index: dict[int, int] = {}
        rows = data[t.path] if t.parent is None else None
        for r in range(t.header_row, len(sheet.rows)):
            if all(_blank(sheet.cell(r, c)[0]) for c in range(1, len(t.columns) + 1)):
                continue
            if t.parent is None:
                siblings = rows
                base = f"{t.path}[{len(rows)}]"
            else:
                number, _ = take(sheet, r, 0, Column("", t.key_label, type=INT), key)
                parent_index = parents.get(t.parent, {}).get(number)
                if parent_index is None:
                    findings.append(Finding("workbook.unknown_parent_row", ERROR, key,
                                            f"{address(t.sheet, r, 0)}: {t.key_label}「{'' if number is None else number}」に当たる行がありません。"))
                    continue
                siblings = get_path(data[t.parent][parent_index], t.path)
                base = f"{t.parent}[{parent_index}].{t.path}[{len(siblings)}]"
            item: dict[str, Any] = {}
            locations[base] = address(t.sheet, r, 0)
            for c, column in enumerate(t.columns, start=1):
                path = f"{base}.{column.path}"
                value, is_blank = take(sheet, r, c, column, path)
                locations[path] = address(t.sheet, r, c)
                if is_blank:
                    if column.optional:
                        continue
                    value = blank_of(column)
                set_path(item, column.path, value)
            if t.parent is None:
                for child in layout.tables:
                    if child.parent == t.path:
                        set_path(item, child.path, [])
                index[r - t.header_row + 1] = len(rows)
            siblings.append(item)
        parents[t.path] = index
    return ReadResult(code, data, locations, findings)
