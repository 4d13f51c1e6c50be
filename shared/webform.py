"""Web forms generated from a form plugin's one description (its :class:`FormSpec`): the
workbook ``layout`` says which cells there are, their Japanese labels, kinds (typed,
pull-down, automatic), value types, choices, hints and tables; the marshmallow ``schema``
says which fields are required (必須) and adds per-field metadata. A plugin's form gets
its page with no page code of its own: :func:`build` makes the view the template
``_webform.html`` renders, and :func:`data_from_post` turns the posted fields back into
the form's JSON twin, typed as the workbook reader types a cell (the same conversion), so
the page and the API save through the same domain function.

Posted field names are the layout's bracketed paths (``normal_contacts[1].phone``; a
check box of a list field is named by its path and posts its member,
``attached_forms`` = ``03-07``); each table row posts a marker ``_row`` = its path, so
rows with only empty check boxes still count, and rows are renumbered in the order
posted. The no-JavaScript row buttons post ``_action`` = ``add:<table path>`` or
``remove:<row path>``.

Schema field metadata read here: ``label`` (fallback label), ``help`` (a help text shown
under the field), ``widget`` (``"org"``: an organisation code, or a list of them, chosen
with the organisation picker of ``_org_picker.html``: the page sets each such control's
``picker``; the picker posts each chosen code under the field's name, and
:func:`data_from_post` joins them as the workbook's cell holds them, 「、」 between).

With JavaScript (``/static/webform.js``) rows are added and removed in the page: each
growable table carries a blank row (``TableView.template``, rendered in a ``<template>``
with index 0) that the script clones and renumbers, so the posted names are the ones the
server would have rendered.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Iterable, Mapping, Sequence

from marshmallow import Schema, fields as mfields

from shared import workbook as wbk

ROW_MARKER = "_row"
ACTION = "_action"
DATE_PATTERN = r"\d{4}/\d{2}/\d{2}"
DATE_PLACEHOLDER = "2026/11/26"
SEVERITY_NAMES = {"error": "誤り", "warning": "注意"}
# "（normal_contacts.0.phone）" or "（org）" in a message: a field path, never shown on pages.
_PATH_IN_MESSAGE = re.compile(r"[（(][A-Za-z0-9_.\[\]<>-]*[a-z_][A-Za-z0-9_.\[\]<>-]*[）)]")
_ROW_RE = re.compile(r"^(.*)\[(\d+)\]$")


# --- the view -----------------------------------------------------------------------

def anchor_for(path: str) -> str:
    """The id of the input for a field path, whichever way the path is written
    (``normal_contacts.1.phone`` or ``normal_contacts[1].phone``): ``f-normal-contacts-1-phone``.
    Other pages link to a field of a form page with ``#`` and this id."""
    return "f-" + re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")


@dataclasses.dataclass
class Control:
    """One input of the page."""

    path: str            # bracketed layout path; a member check box: "path<member>"
    name: str            # the posted name
    label: str
    widget: str          # text | date | int | list | select | choice_text | checkbox | auto | org
    value: Any = ""
    member: str | None = None
    choices: tuple[str, ...] = ()
    required: bool = False
    help: str | None = None
    findings: list[dict] = dataclasses.field(default_factory=list)
    org_list: bool = False   # an org field holding several codes (、 separated)
    where: str = ""          # how the findings summary names it (a table cell: table, row, column)
    picker: Any = None       # an org field's organisation picker, set by the page

    @property
    def id(self) -> str:
        return anchor_for(self.path)

    @property
    def invalid(self) -> bool:
        return any(f["severity"] == "error" for f in self.findings)

    @property
    def codes(self) -> list[str]:
        """The organisation codes an org field holds."""
        if self.widget != "org":
            return []
        return [c for c in re.split(r"[、,\s]+", str(self.value or "")) if c]


@dataclasses.dataclass
class Section:
    title: str | None
    controls: list[Control]
    shown: list[tuple[str, Any]] = dataclasses.field(default_factory=list)  # display only


@dataclasses.dataclass
class Row:
    path: str
    number: int
    cells: list[Control]
    children: list["TableView"]
    findings: list[dict] = dataclasses.field(default_factory=list)

    @property
    def id(self) -> str:
        return "r-" + re.sub(r"[^A-Za-z0-9]+", "-", self.path).strip("-")


@dataclasses.dataclass
class TableView:
    path: str            # the list's bracketed path (a child table: inside its parent row)
    title: str
    note: str | None
    columns: list[tuple[str, bool]]    # (label, required)
    rows: list[Row]
    growable: bool
    findings: list[dict] = dataclasses.field(default_factory=list)
    child: bool = False
    template: Row | None = None     # a growable table's blank row (index 0), for the script

    @property
    def id(self) -> str:
        return "t-" + re.sub(r"[^A-Za-z0-9]+", "-", self.path).strip("-")


@dataclasses.dataclass
class WebForm:
    code: str
    title: str
    sections: list[Section]
    tables: list[TableView]
    summary: list[dict]     # {"severity", "label", "message", "anchor"}

    def controls(self) -> Iterable[Control]:
        for s in self.sections:
            yield from s.controls
        stack = list(self.tables)
        while stack:
            t = stack.pop(0)
            for r in t.rows:
                yield from r.cells
                stack.extend(r.children)

    def org_codes(self) -> set[str]:
        return {c for control in self.controls() for c in control.codes}

    def templates(self) -> Iterable[Row]:
        """The blank rows of the growable tables (and of their rows' child tables)."""
        stack = list(self.tables)
        while stack:
            t = stack.pop(0)
            if t.template is not None:
                yield t.template
                stack.extend(t.template.children)
            for r in t.rows:
                stack.extend(r.children)


# --- the schema side ----------------------------------------------------------------

def schema_field(schema: type[Schema] | Schema, path: str) -> mfields.Field | None:
    """The marshmallow field at a dotted path without indices (``a.b.c``), through nested
    schemas and lists; None if there is none. A list field is returned as the list (its
    ``required`` and metadata), not as its items."""
    current: Any = schema() if isinstance(schema, type) else schema
    field = None
    for part in path.split("."):
        if current is None:
            return None
        by_key = {f.data_key or name: f for name, f in current.fields.items()}
        field = by_key.get(part)
        if field is None:
            return None
        inner = field
        while isinstance(inner, mfields.List):
            inner = inner.inner
        current = inner.schema if isinstance(inner, mfields.Nested) else None
    return field


def _metadata(schema, path: str) -> Mapping[str, Any]:
    field = schema_field(schema, path) if schema is not None else None
    if field is None:
        return {}
    meta: dict[str, Any] = {}
    inner = field
    while isinstance(inner, mfields.List):     # the items' metadata, then the list's
        inner = inner.inner
    meta.update(inner.metadata)
    meta.update(field.metadata)
    return meta


def _required(schema, path: str, spec) -> bool:
    """必須: the schema requires the field, and it is typed or picked (not a check box,
    not filled by the system)."""
    field = schema_field(schema, path) if schema is not None else None
    return bool(field is not None and field.required and spec.type != wbk.BOOL
                and spec.kind != wbk.AUTO)


def _schema_path(path: str) -> str:
    """``query_affairs[0].pia.reports[1].number`` -> ``query_affairs.pia.reports.number``."""
    return re.sub(r"\[\d+\]", "", path)


# --- building the view ---------------------------------------------------------------

def _widget(spec: wbk.Field | wbk.Column, meta: Mapping[str, Any], own_choices=None) -> str:
    if spec.kind == wbk.AUTO:
        return "auto"
    if spec.type == wbk.BOOL:
        return "checkbox"
    if meta.get("widget") == "org":
        return "org"
    if own_choices:
        return "choice_text"
    if spec.kind == wbk.CHOICE and spec.choices:
        return "select" if spec.strict else "choice_text"
    return {wbk.DATE: "date", wbk.INT: "int", wbk.LIST: "list"}.get(spec.type, "text")


def _shown(value: Any, type_: str) -> Any:
    """A data value as the input shows it."""
    if type_ == wbk.BOOL:
        return bool(value)
    if value is None:
        return ""
    if isinstance(value, list):
        return wbk.LIST_SEPARATOR.join(str(v) for v in value)
    return str(value)


def _label(spec, meta: Mapping[str, Any], widget: str) -> str:
    """The layout's label; for an organisation field the schema's, as the workbook's
    column label says how to type codes into a cell (「機関コードを「、」区切り」), which
    the picker does not ask for."""
    if widget == "org" and meta.get("label"):
        return meta["label"]
    return spec.label or meta.get("label") or ""


def _control(spec, path: str, value: Any, schema, cell_choices) -> Control:
    meta = _metadata(schema, _schema_path(path))
    own = tuple(cell_choices.get(path) or ())
    widget = _widget(spec, meta, own)
    choices = own or tuple(spec.choices)
    if widget == "select" and value not in (None, "") and str(value) not in choices:
        choices = choices + (str(value),)   # what was typed stays visible (its finding says why)
    help_text = getattr(spec, "hint", None) or meta.get("help")
    if spec.type == wbk.DATE and not help_text:
        help_text = wbk.DATE_HINT
    return Control(path=path, name=path, label=_label(spec, meta, widget), widget=widget,
                   value=_shown(value, spec.type), choices=choices,
                   required=_required(schema, _schema_path(path), spec),
                   help=help_text, org_list=spec.type == wbk.LIST)


def _sections(layout: wbk.Layout, data: Mapping[str, Any], header: Mapping[str, Any],
              schema, cell_choices) -> list[Section]:
    notes = sorted(((wbk.cell_position(ref), text) for ref, text in layout.notes), key=lambda n: n[0])
    sections: dict[str | None, Section] = {}
    for f in layout.fields:
        if f.kind == wbk.REVIEWER:
            continue
        row, col = wbk.cell_position(f.ref)
        title = None
        for (n_row, n_col), text in notes:
            if n_row < row and n_col <= col:
                title = text
        section = sections.setdefault(title, Section(title, []))
        if f.path is None:
            if f.source is not None:
                section.shown.append((f.label, header.get(f.source) or ""))
            continue
        if f.member is not None:
            checked = f.member in (wbk.get_path(data, f.path) or [])
            c = _control(f, f"{f.path}<{f.member}>", checked, schema, {})
            c.name, c.member = f.path, f.member
            section.controls.append(c)
            continue
        section.controls.append(_control(f, f.path, wbk.get_path(data, f.path), schema,
                                         cell_choices))
    return list(sections.values())


def _growable(table: wbk.Table) -> bool:
    """Rows may be added and removed where the workbook offers blank rows to type into
    (a child table always); a table filled from the selection (no blank rows) is not."""
    return table.parent is not None or table.blank_rows > 0


def _table(layout: wbk.Layout, t: wbk.Table, base: str, rows: list, schema_base: str,
           schema, cell_choices, child: bool = False) -> TableView:
    """The view of table ``t`` whose list is at bracketed path ``base``."""
    children = [c for c in layout.tables if c.parent == t.path] if not child else []
    columns = []
    for c in t.columns:
        meta = _metadata(schema, f"{schema_base}.{c.path}")
        columns.append((_label(c, meta, _widget(c, meta)),
                        _required(schema, f"{schema_base}.{c.path}", c)))
    view = TableView(path=base, title=t.title, note=t.note, columns=columns, rows=[],
                     growable=_growable(t), child=child)

    def row(i: int, item: Any) -> Row:
        item = item if isinstance(item, Mapping) else {}
        path = f"{base}[{i}]"
        cells = [_control(c, f"{path}.{c.path}", wbk.get_path(item, c.path), schema,
                          cell_choices) for c in t.columns]
        for cell in cells:
            cell.where = f"{t.title} {i + 1} 行目 {cell.label}"
        kids = [_table(layout, c, f"{path}.{c.path}", wbk.get_path(item, c.path) or [],
                       f"{schema_base}.{c.path}", schema, cell_choices, child=True)
                for c in children]
        return Row(path, i + 1, cells, kids)

    for i, item in enumerate(rows if isinstance(rows, list) else []):
        view.rows.append(row(i, item))
    if view.growable:
        view.template = row(0, _blank_row(layout, t))
    return view


def build(spec, data: Mapping[str, Any], *, header: Mapping[str, Any] | None = None,
          findings: Sequence[Mapping[str, Any]] = (),
          cell_choices: Mapping[str, Sequence[str]] | None = None) -> WebForm:
    """The page of form ``spec`` (a FormSpec with a layout) showing ``data``, the display
    values of the header (機関名 …, by ``Field.source``) and ``findings`` (dicts with
    ``severity``, ``location``, ``message``) placed at their fields."""
    layout: wbk.Layout = spec.layout
    schema = spec.schema
    cell_choices = cell_choices or {}
    sections = _sections(layout, data, header or {}, schema, cell_choices)
    tables = [_table(layout, t, t.path, wbk.get_path(data, t.path) or [], t.path, schema,
                     cell_choices)
              for t in layout.tables if t.parent is None]
    form = WebForm(spec.code, spec.title, sections, tables, [])
    _place(form, findings)
    return form


# --- findings at their fields ----------------------------------------------------------

def plain_message(message: str) -> str:
    """A finding's message as a page shows it: without field paths in brackets."""
    return _PATH_IN_MESSAGE.sub("", str(message or ""))


def _place(form: WebForm, findings: Sequence[Mapping[str, Any]]) -> None:
    controls = {c.path: c for c in form.controls()}
    tables: dict[str, TableView] = {}
    rows: dict[str, tuple[Row, TableView]] = {}
    stack = list(form.tables)
    while stack:
        t = stack.pop(0)
        tables[t.path] = t
        for r in t.rows:
            rows[r.path] = (r, t)
            stack.extend(r.children)
    first_controls = list(controls.values())
    for raw in findings:
        loc = wbk.bracket(str(raw.get("location") or ""), form.code)
        item = {"severity": raw.get("severity", "error"),
                "message": plain_message(raw.get("message", ""))}
        anchor, label = None, None
        if loc in controls:
            target = controls[loc]
            target.findings.append(item)
            anchor, label = target.id, target.where or target.label
        elif loc in tables:
            tables[loc].findings.append(item)
            anchor, label = tables[loc].id, tables[loc].title
        elif loc in rows:
            row, table = rows[loc]
            row.findings.append(item)
            anchor, label = row.id, f"{table.title} {row.number} 行目"
        else:
            target = next((c for c in first_controls if c.path.startswith(
                (loc + ".", loc + "[", loc + "<"))), None) if loc else None
            if target is not None:
                target.findings.append(item)
                anchor, label = target.id, target.where or target.label
        form.summary.append({**item, "anchor": anchor, "label": label})


# --- from the posted fields back to the JSON twin ------------------------------------------

def _value(spec, raw: str | None) -> tuple[bool, Any]:
    """(is_blank, value) of a posted text, converted as the workbook reader converts a
    cell (a value it cannot convert stays as typed: the schema then says why)."""
    if raw is None or not str(raw).strip():
        return True, wbk.blank_value(spec)
    value, _problem = wbk.read_value(str(raw), spec)
    return False, value


def _set(target: dict, spec, path: str, form: Mapping[str, Any], text) -> None:
    if spec.type == wbk.BOOL:
        wbk.set_path(target, spec.path, form.get(path) in ("on", "1", "true", wbk.CHECK))
        return
    is_blank, value = _value(spec, text(spec, path))
    if is_blank and spec.optional:
        return
    wbk.set_path(target, spec.path, value)


def _row_paths(markers: Iterable[str], base: str) -> list[str]:
    """The posted row paths directly under list ``base``, in the order posted."""
    out = []
    for m in markers:
        match = _ROW_RE.match(m)
        if match and match.group(1) == base and m not in out:
            out.append(m)
    return out


def data_from_post(spec, form) -> dict:
    """The JSON twin of the posted fields (``form``: a MultiDict, or a dict whose list
    values stand for repeated fields). An organisation field (``widget: "org"``) posts
    each chosen code under its name: a list field gets them all, in order, a single one
    the first."""
    layout: wbk.Layout = spec.layout
    get_list = form.getlist if hasattr(form, "getlist") else (
        lambda k: form.get(k) if isinstance(form.get(k), list) else
        ([] if form.get(k) is None else [form.get(k)]))
    markers = get_list(ROW_MARKER)
    org_fields: dict[str, bool] = {}

    def text(f, path: str) -> str | None:
        schema_path = _schema_path(path)
        if schema_path not in org_fields:
            org_fields[schema_path] = _metadata(spec.schema, schema_path).get("widget") == "org"
        if not org_fields[schema_path]:
            return form.get(path)
        codes = list(dict.fromkeys(str(v).strip() for v in get_list(path) if str(v or "").strip()))
        if not codes:
            return None
        return wbk.LIST_SEPARATOR.join(codes) if f.type == wbk.LIST else codes[0]

    data: dict[str, Any] = {}
    for f in layout.fields:
        if f.kind == wbk.REVIEWER or f.path is None:
            continue
        if f.member is not None:
            if wbk.get_path(data, f.path) is None:
                wbk.set_path(data, f.path, [])
            if f.member in get_list(f.path):
                wbk.get_path(data, f.path).append(f.member)
            continue
        if f.type == wbk.BOOL:
            wbk.set_path(data, f.path, form.get(f.path) in ("on", "1", "true", wbk.CHECK))
            continue
        is_blank, value = _value(f, text(f, f.path))
        if is_blank and f.optional:
            continue
        wbk.set_path(data, f.path, value)
    for t in layout.tables:
        if t.parent is not None:
            continue
        children = [c for c in layout.tables if c.parent == t.path]
        items = []
        for row_path in _row_paths(markers, t.path):
            item: dict[str, Any] = {}
            for c in t.columns:
                _set(item, c, f"{row_path}.{c.path}", form, text)
            for child in children:
                kids = []
                for kid_path in _row_paths(markers, f"{row_path}.{child.path}"):
                    kid: dict[str, Any] = {}
                    for c in child.columns:
                        _set(kid, c, f"{kid_path}.{c.path}", form, text)
                    kids.append(kid)
                wbk.set_path(item, child.path, kids)
            items.append(item)
        wbk.set_path(data, t.path, items)
    return data


def _blank_row(layout: wbk.Layout, t: wbk.Table) -> dict[str, Any]:
    """A new row of table ``t`` as 「行を追加」 makes it: every column blank, child tables
    empty."""
    row: dict[str, Any] = {}
    for c in t.columns:
        if not c.optional:
            wbk.set_path(row, c.path, wbk.blank_value(c))
    for child in layout.tables:
        if child.parent == t.path and t.parent is None:
            wbk.set_path(row, child.path, [])
    return row


def apply_action(spec, data: dict, action: str) -> bool:
    """Add a blank row (``add:<table path>``) or remove one (``remove:<row path>``) in
    ``data``; False if ``action`` names nothing that may change."""
    layout: wbk.Layout = spec.layout
    verb, _, path = action.partition(":")
    tables = {t.path: t for t in layout.tables}

    def table_of(list_path: str) -> wbk.Table | None:
        parts = re.sub(r"\[\d+\]", "", list_path).split(".")
        top = tables.get(parts[0])
        if top is None:
            return None
        if len(parts) == 1:
            return top if top.parent is None else None
        rest = ".".join(parts[1:])
        return next((c for c in layout.tables if c.parent == top.path and c.path == rest), None)

    if verb == "add":
        t = table_of(path)
        rows = wbk.get_path(data, path)
        if t is None or not _growable(t) or not isinstance(rows, list):
            return False
        rows.append(_blank_row(layout, t))
        return True
    if verb == "remove":
        match = _ROW_RE.match(path)
        if not match:
            return False
        t = table_of(match.group(1))
        rows = wbk.get_path(data, match.group(1))
        index = int(match.group(2))
        if t is None or not _growable(t) or not isinstance(rows, list) or index >= len(rows):
            return False
        del rows[index]
        return True
    return False
