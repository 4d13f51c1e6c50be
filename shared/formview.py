"""A form as people read it: its data as label/value rows and tables laid out as its
workbook is, and a finding's location in Japanese. The review pages and intake's print
view show forms through these (never JSON, field paths or rule ids)."""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Mapping

from shared import workbook
from shared.forms import _schema_step

#: locations that are not inside one form
PLACES = {"forms": "申請全体", "application": "申請全体", "uploads": "アップロードしたファイル",
          "file": "ファイル", "selection": "申請前情報選択", "attachments": "添付資料"}
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


@dataclasses.dataclass(frozen=True)
class AttachmentLink:
    """A cell's 添付資料ID shown as the link to the file."""

    ref: str
    attachment_href: str


def form_view(spec, data: Mapping[str, Any], header: Mapping[str, Any],
              app_id: int | None = None) -> dict:
    """A form's data as label/value rows and tables, laid out as its workbook is (a form
    without a workbook layout: its labels, else its keys). With ``app_id``, a cell
    naming an attachment (添付資料ID) links to its file."""
    from shared.pages import attachment_href

    def cell(path, value):
        if app_id is not None and workbook.names_attachment(path) and isinstance(
                value, str) and value.strip():
            return AttachmentLink(value, attachment_href(app_id, value.strip()))
        return value

    layout = spec.layout if spec is not None else None
    if layout is None:
        labels = spec.labels if spec is not None else {}
        return {"fields": [(labels.get(k, k), v) for k, v in data.items()], "tables": []}
    fields = []
    for f in layout.fields:
        if f.kind == workbook.REVIEWER:
            continue
        if f.member is not None:
            value = "✓" if f.member in (workbook.get_path(data, f.path) or []) else ""
        elif f.path is not None:
            value = cell(f.path, workbook.get_path(data, f.path))
        elif f.source is not None:
            value = header.get(f.source)
        else:
            continue
        fields.append((f.label, value))
    tables = []
    for t in layout.tables:
        columns = [t.key_label] + [c.label for c in t.columns]
        rows = []
        if t.parent is None:
            for n, row in enumerate(workbook.get_path(data, t.path) or [], start=1):
                rows.append([n] + [cell(c.path, workbook.get_path(row, c.path))
                                   for c in t.columns])
        else:
            for n, parent in enumerate(workbook.get_path(data, t.parent) or [], start=1):
                for row in workbook.get_path(parent, t.path) or []:
                    rows.append([n] + [cell(c.path, workbook.get_path(row, c.path))
                                       for c in t.columns])
        tables.append({"title": t.title, "columns": columns, "rows": rows})
    return {"fields": fields, "tables": tables}


def location_label(location: str | None, specs: Mapping[str, Any], code: str | None = None
                   ) -> str:
    """A finding's ``location`` in Japanese: 「様03-07 (1) 情報照会を行う事務 2 行目
    特定個人情報保護評価」 for ``03-07.query_affairs.1.pia.status`` (the labels of the
    form's schema, rows counted from 1), 「様02-01 「様02-01」シート C7」 for a workbook
    cell, 「申請全体」 for ``forms``. A field the schema does not name ends the label at
    its parent (a field path is never shown). ``code``: the form the finding belongs to,
    for a location that does not start with its form code (``query_affairs``)."""
    loc = str(location or "")
    own = code
    code = next((c for c in sorted(specs, key=len, reverse=True)
                 if loc == c or loc.startswith(c + ".")), None)
    if code is None and own in specs and loc.split(".", 1)[0] not in PLACES:
        code, loc = own, f"{own}.{loc}" if loc else own
    if code is None:
        head = loc.split(".", 1)[0]
        if head in PLACES:
            return PLACES[head]
        if head == "reviewer":
            return f"審査者記入欄 {loc.split('.', 1)[1]}" if "." in loc else "審査者記入欄"
        return loc if _NON_ASCII.search(loc) else "申請全体"
    title = f"様{code}"
    rest = loc[len(code) + 1:]
    if not rest:
        return title
    if _NON_ASCII.search(rest):
        return f"{title} {rest}"       # a workbook cell (「sheet」シート C7) or a label
    if rest.startswith("reviewer."):
        return f"{title} 審査者記入欄 {rest.split('.', 1)[1]}"
    node: Any = specs[code].schema()
    labels: list[str] = []
    for key in workbook._tokens(workbook.bracket(rest)):
        child, label = _schema_step(node, str(key) if isinstance(key, int) else key)
        if label is None or label.startswith("「"):
            break
        if label not in labels[-1:]:
            labels.append(label)
        if child is None:
            break
        node = child
    return " ".join([title, *labels])


def field_labels(specs: Mapping[str, Any]) -> dict[str, str]:
    """Every field name of the installed forms' schemas with its Japanese label (the
    first form that labels a name wins), for showing stored form data whose layout is
    not at hand (the master's tables) without its field names."""
    from marshmallow import Schema, fields as mfields

    labels: dict[str, str] = {}

    def walk(node: Any, depth: int = 0) -> None:
        if depth > 8:
            return
        if isinstance(node, mfields.Nested):
            node = node.schema
        if isinstance(node, mfields.List):
            walk(node.inner, depth + 1)
            return
        if not isinstance(node, Schema):
            return
        for name, field in node.fields.items():
            key = field.data_key or name
            label = field.metadata.get("label")
            if label and key not in labels:
                labels[key] = label
            walk(field, depth + 1)

    for spec in specs.values():
        walk(spec.schema())
    return labels
