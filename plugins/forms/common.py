"""What every form has: 機関情報, 申請年月日, 申請区分, 記入担当者, and the reviewer block
that only the system fills."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from typing import Any, Iterable, Mapping

from marshmallow import ValidationError, fields, pre_load, validate

from shared import rowops
from shared import text as texts
from shared import workbook as wbk
from shared.forms import ERROR, WARNING, Finding, FormContext
from shared.schemas import BaseSchema, text_kind

DATE_RE = re.compile(r"^(\d{4})/(\d{2})/(\d{2})$")
ERA_RE = re.compile(r"^(令和|平成|昭和|R|H|S)\s*\d")
# Japan time (Asia/Tokyo: UTC+9 all year, no daylight saving since 1951), for what
# "today" is when a date must not be in the future or in the past.
JST = dt.timezone(dt.timedelta(hours=9), "Asia/Tokyo")


def _now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def today_in_japan() -> dt.date:
    """Today's date in Japan, whatever the server's time zone."""
    return _now_utc().astimezone(JST).date()


def parse_date(raw: Any) -> dt.date | None:
    """The date of a valid ``YYYY/MM/DD`` string, else None."""
    match = DATE_RE.match(raw or "") if isinstance(raw, str) else None
    if not match:
        return None
    try:
        return dt.date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


COMMON_LABELS = {
    "org": "機関",
    "application_date": "申請年月日",
    "request_type": "申請区分",
    "writer": "記入担当者",
    "writer.department": "記入担当者 部署名",
    "writer.title": "記入担当者 職名",
    "writer.name": "記入担当者 氏名",
}

REQUEST_TYPES = ("登録申請", "変更申請")
# the header's 申請区分 each kind of application must carry
KIND_REQUEST_TYPES = {"connection": "登録申請", "change": "変更申請"}
KIND_NAMES = {"登録申請": "接続申請", "変更申請": "変更申請"}
# The forms of a connection application other than the summary 様03-06, in the order of
# its check boxes; "other" is the その他 box (documents attached separately).
ATTACHABLE_FORMS = ("02-01", "02-02", "02-06", "03-07", "03-08", "03-09")
OTHER = "other"
BOARD_KINDS = ("後期高齢者医療広域連合",)


def connection_only(kind: str, org: Mapping[str, Any]) -> bool:
    """Required in a 接続申請 (a 変更申請 files only the forms that change)."""
    return kind == "connection"


def same_text(a: Any, b: Any) -> bool:
    """The same words, as compared (never as stored): NFKC (半角カナ, 全角英数), spaces
    ignored."""
    return comparable(a) == comparable(b)


def comparable(value: Any) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", value or ""))


def same_person(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """The same name, spaces (half- or full-width) and character widths ignored."""
    name_a, name_b = (a or {}).get("name"), (b or {}).get("name")
    return bool(comparable(name_a)) and same_text(name_a, name_b)


# The kinds of text (shared.text) of the form fields: what people type as codes, numbers,
# phone numbers and dates is normalised; names only trimmed; legal text kept as given.
TEXT_CODE = {"text": texts.CODE}
TEXT_FREE = {"text": texts.FREE}
TEXT_LEGAL = {"text": texts.LEGAL}


class PersonSchema(BaseSchema):
    title = fields.String(required=True, validate=validate.Length(max=100),
                          metadata={"label": "役職名", **TEXT_FREE})
    name = fields.String(required=True, validate=validate.Length(max=100),
                         metadata={"label": "氏名", **TEXT_FREE})


class WriterSchema(BaseSchema):
    department = fields.String(required=True, validate=validate.Length(max=100),
                               metadata={"label": "部署名", **TEXT_FREE})
    title = fields.String(required=True, validate=validate.Length(max=100),
                          metadata={"label": "職名", **TEXT_FREE})
    name = fields.String(required=True, validate=validate.Length(max=100),
                         metadata={"label": "氏名", **TEXT_FREE})


class FormBaseSchema(BaseSchema):
    """Fields every form has. Dates stay strings here: their checks are findings."""

    org = fields.String(required=True, metadata={"label": "機関", **TEXT_CODE})
    application_date = fields.String(required=True, metadata={"label": "申請年月日", **TEXT_CODE})
    request_type = fields.String(required=True, metadata={"label": "申請区分", **TEXT_CODE})
    writer = fields.Nested(WriterSchema, required=True, metadata={"label": "記入担当者"})

    @pre_load
    def _refuse_reviewer_block(self, data, **_kwargs):
        """The reviewers' block (審査者記入欄) is the system's, never the applicant's."""
        if isinstance(data, Mapping):
            given = [k for k in ("reviewer", "review") if k in data]
            if given:
                raise ValidationError({given[0]: [
                    "審査者記入欄は審査者が記入します。申請者のデータに含めないでください。"]})
        return data


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def check_common(code: str, allowed_request_types: Iterable[str] = REQUEST_TYPES):
    """The validator of the common header for form ``code``."""
    allowed = tuple(allowed_request_types)

    def validate_common(data: Mapping[str, Any], ctx: FormContext) -> Iterable[Finding]:
        if data.get("org") != ctx.org.get("id"):
            yield Finding(f"{code}.org_mismatch", ERROR, "org",
                          f"機関（org）が申請した機関 {ctx.org.get('id')} と一致しません。")
        raw = data.get("application_date") or ""
        match = DATE_RE.match(raw)
        if ERA_RE.match(raw):
            yield Finding(f"{code}.application_date.era", ERROR, "application_date",
                          "申請年月日は西暦 YYYY/MM/DD で入力してください（和暦は使えません）。")
        elif not match:
            yield Finding(f"{code}.application_date.format", ERROR, "application_date",
                          f"申請年月日「{raw}」は YYYY/MM/DD の形式で入力してください。")
        else:
            date = parse_date(raw)
            today = today_in_japan()
            if date is None:
                yield Finding(f"{code}.application_date.invalid", ERROR, "application_date",
                              f"申請年月日「{raw}」は存在しない日付です。")
            elif date > today:
                yield Finding(f"{code}.application_date.future", ERROR, "application_date",
                              f"申請年月日「{raw}」は未来の日付です（本日は日本時間で {today:%Y/%m/%d}）。申請する日以前の日付を入力してください。")
        if data.get("request_type") not in allowed:
            yield Finding(f"{code}.request_type", ERROR, "request_type",
                          f"申請区分は {' / '.join(allowed)} のいずれかを選んでください。")
        elif allowed == REQUEST_TYPES:
            expected = KIND_REQUEST_TYPES.get((ctx.application or {}).get("kind"))
            if expected and data.get("request_type") != expected:
                yield Finding(f"{code}.request_type.kind_mismatch", ERROR, "request_type",
                              f"申請区分「{data.get('request_type')}」がこの申請（{KIND_NAMES[expected]}）と一致しません。「{expected}」を選んでください。")

    return validate_common


def attachment_findings(rules: tuple[str, str], attachment: Any, attachments: Iterable[str],
                        where: str, label: str, missing: str | None) -> list[Finding]:
    """The evidence rule of a cell that names an attachment (添付資料ID): blank while the
    document must be attached → ``rules[0]`` with the ``missing`` message (None: not
    needed here); a 添付資料ID the application does not have (never attached, or deleted
    since) → ``rules[1]``. Both ERROR, located at the cell ``where``."""
    if blank(attachment):
        return [] if missing is None else [Finding(rules[0], ERROR, where, f"{label}: {missing}")]
    if attachment not in set(attachments):
        return [Finding(rules[1], ERROR, where,
                        f"{label}: 添付資料「{attachment}」はこの申請に添付されていません"
                        "（削除された場合は添付し直して、その添付資料IDを記入してください）。")]
    return []


def required_text(code: str, data: Mapping[str, Any], path: str, label: str) -> list[Finding]:
    """A finding if the text at dotted ``path`` is empty."""
    value: Any = data
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if blank(value):
        return [Finding(f"{code}.required.{path}", ERROR, path, f"{label}を入力してください。")]
    return []


# --- workbook layout of the common header ---------------------------------------------

WIDTHS = {"A": 5, "B": 30, "C": 36, "D": 30, "E": 22, "F": 30}
REVIEWER_LABELS = tuple(wbk.REVIEWER_BLOCK.values())
BODY_ROW = 16   # first row of a form's own fields


def header_fields(request_types: Iterable[str] = REQUEST_TYPES) -> tuple[wbk.Field, ...]:
    """機関情報, 申請年月日, 申請区分, 記入担当者 and the reviewers' block."""
    auto = dict(kind=wbk.AUTO)
    return (
        wbk.Field("C4", "機関コード", "org", **auto),
        wbk.Field("C5", "機関区分①", source="org_category", **auto),
        wbk.Field("C6", "機関区分② 都道府県名", source="prefecture", **auto),
        wbk.Field("C7", "機関名", source="org_name", **auto),
        wbk.Field("C8", "機関の分類", source="org_class", **auto),
        wbk.Field("C9", "申請年月日", "application_date", type=wbk.DATE, hint=wbk.DATE_HINT),
        wbk.Field("C10", "申請区分", "request_type", kind=wbk.CHOICE,
                  choices=tuple(request_types)),
        wbk.Field("C11", "記入担当者 部署名", "writer.department"),
        wbk.Field("C12", "記入担当者 職名", "writer.title"),
        wbk.Field("C13", "記入担当者 氏名", "writer.name"),
        *(wbk.Field(f"F{4 + i}", label, kind=wbk.REVIEWER, source=key)
          for i, (key, label) in enumerate(wbk.REVIEWER_BLOCK.items())),
    )


HEADER_NOTES = (("B3", "機関情報・申請者記入欄"), ("E3", "審査者記入欄（申請者は記入しないでください）"))


def body_fields(*specs: tuple, start: int = BODY_ROW) -> tuple[wbk.Field, ...]:
    """Fields of a form's own part, one per row from ``start`` in column C:
    each spec is (path, label) or (path, label, {Field options})."""
    out = []
    for i, spec in enumerate(specs):
        path, label, *rest = spec
        out.append(wbk.Field(f"C{start + i}", label, path, **(rest[0] if rest else {})))
    return tuple(out)


def layout(code: str, title: str, *, fields: tuple = (), tables: tuple = (),
           request_types: Iterable[str] = REQUEST_TYPES, section: str | None = None,
           prefill=None, schema=None) -> wbk.Layout:
    """The form's layout with the common header. Given the form's ``schema``, every text
    cell is read as the schema field at its path says (``metadata["text"]``): legal text
    exactly as written, names trimmed, codes normalised."""
    notes = HEADER_NOTES + (((f"B{BODY_ROW - 1}", section),) if section else ())
    all_fields = header_fields(request_types) + tuple(fields)
    tables = tuple(tables)
    if schema is not None:
        all_fields, tables = text_kinds_from(schema, all_fields, tables)
    return wbk.Layout(code=code, title=title, sheet=f"様{code}", fields=all_fields,
                      tables=tables, notes=notes, widths=WIDTHS, prefill=prefill)


def schema_field(schema, path: str):
    """The marshmallow field at dotted ``path`` of ``schema`` (a class or an instance),
    through nested schemas and lists; None when there is none."""
    current = schema() if isinstance(schema, type) else schema
    field = None
    for part in path.split("."):
        if current is None:
            return None
        by_key = {f.data_key or name: f for name, f in current.fields.items()}
        field = by_key.get(part)
        if field is None:
            return None
        while isinstance(field, fields.List):
            field = field.inner
        current = field.schema if isinstance(field, fields.Nested) else None
    return field


def text_kinds_from(schema, layout_fields: tuple, tables: tuple) -> tuple[tuple, tuple]:
    """``layout_fields`` and ``tables`` with the kind of text of each TEXT cell taken from
    the schema field at its path."""
    def kind(path: str | None) -> str:
        field = schema_field(schema, path) if path else None
        return text_kind(field) if field is not None else texts.CODE

    out_fields = tuple(dataclasses.replace(f, text=kind(f.path)) if f.type == wbk.TEXT
                       and f.path and f.member is None else f for f in layout_fields)
    by_path = {t.path: t for t in tables if t.parent is None}

    def table_path(t: wbk.Table) -> str:
        return t.path if t.parent is None else f"{table_path(by_path[t.parent])}.{t.path}"

    out_tables = []
    for t in tables:
        base = table_path(t)
        out_tables.append(dataclasses.replace(t, columns=tuple(
            dataclasses.replace(c, text=kind(f"{base}.{c.path}")) if c.type == wbk.TEXT else c
            for c in t.columns)))
    return out_fields, tuple(out_tables)


def date_findings(code: str, path: str, label: str, raw: Any) -> list[Finding]:
    """Findings for a YYYY/MM/DD date that is not one (the value is not blank)."""
    raw = raw or ""
    if ERA_RE.match(raw):
        return [Finding(f"{code}.{path}.era", ERROR, path,
                        f"{label}は西暦 YYYY/MM/DD で入力してください（和暦は使えません）。")]
    match = DATE_RE.match(raw)
    if not match:
        return [Finding(f"{code}.{path}.format", ERROR, path,
                        f"{label}「{raw}」は YYYY/MM/DD の形式で入力してください。")]
    try:
        dt.date(*(int(g) for g in match.groups()))
    except ValueError:
        return [Finding(f"{code}.{path}.invalid", ERROR, path, f"{label}「{raw}」は存在しない日付です。")]
    return []


def catalog_names(ctx: FormContext, key: str, no_key: str, name_key: str) -> dict[str, str]:
    """The catalog's text by number for the rows of the application's selection
    (``ctx.selection``, whose rows carry the catalog version's ``affair`` /
    ``info_name``); empty when the selection is not known."""
    rows = (ctx.selection or {}).get(key) or []
    return {str(r.get(no_key)): r[name_key] for r in rows if isinstance(r.get(name_key), str)}


def legal_name_findings(code: str, key: str, rows, ctx: FormContext, *, no_key: str,
                        name_key: str, part: str, no_label: str, name_label: str
                        ) -> Iterable[Finding]:
    """A row's 事務名 / 特定個人情報名 must be the catalog version's text for its number,
    character for character (rule ``{code}.{key}.{name_key}_mismatch``). Rows whose number
    is not in the selection are left to the ``not_selected`` check."""
    names = catalog_names(ctx, "query_affairs" if no_key == "item_no" else "provided_info",
                          no_key, name_key)
    version = (ctx.application or {}).get("catalog_version")
    source = f"法令カタログ（{version}）" if version else "法令カタログ"
    for i, row in enumerate(rows or []):
        expected = names.get(str(row.get(no_key)))
        given = row.get(name_key)
        if expected is None or given == expected:
            continue
        yield Finding(f"{code}.{key}.{name_key}_mismatch", ERROR, f"{key}[{i}].{name_key}",
                      f"{part} {i + 1} 行目（{no_label} {row.get(no_key)}）: {name_label}「{given}」が"
                      f"{source}の名称と一致しません。法令の名称を一字一句そのまま「{expected}」と記入してください。")


def row_label(label: str, index: int) -> str:
    return f"{label} {index + 1} 行目"


# --- row operations (申請区分 per row) against what is registered ----------------------

ROW_TYPES = rowops.ROW_TYPES


class ListRowSchema(BaseSchema):
    """A row of a list form whose 申請区分 may be left blank: blank means 登録 (the first
    application's rows; a 変更申請 marks the rows it changes)."""

    request_type = fields.String(load_default=rowops.DEFAULT_ROW_TYPE,
                                 validate=validate.OneOf(ROW_TYPES),
                                 metadata={"label": "申請区分", **TEXT_CODE})

    @pre_load
    def _blank_row_type(self, data, **_kwargs):
        if isinstance(data, Mapping) and blank(data.get("request_type")):
            return {k: v for k, v in data.items() if k != "request_type"}
        return data


def row_type_column(width: int = 10) -> wbk.Column:
    """The 申請区分 column of a list form's table (pull-down)."""
    return wbk.Column("request_type", "申請区分", kind=wbk.CHOICE, choices=ROW_TYPES,
                      width=width)


def check_row_operations(code: str, row_keys: Mapping[str, tuple[str, ...]],
                         labels: Mapping[str, str], *, duplicates: bool = True):
    """The validator of the rows' 申請区分 (shared.rowops) against the registered form:
    a 接続申請 only registers (登録); in a 変更申請, 登録 needs a key not registered,
    変更 / 削除 / 変更なし one that is, and 削除 / 変更なし rows must be left as
    registered. ``duplicates``: also refuse a key given twice."""

    def validate_rows(data: Mapping[str, Any], ctx: FormContext) -> Iterable[Finding]:
        kind = (ctx.application or {}).get("kind")
        registered_form = (ctx.registered or {}).get(code) or {}
        for field, columns in row_keys.items():
            registered = {rowops.key_of(r, columns): r
                          for r in registered_form.get(field) or []}
            label = labels.get(field, field)
            seen: dict[str, int] = {}
            for i, row in enumerate(data.get(field) or []):
                where = f"{field}[{i}]"
                key = rowops.key_of(row, columns)
                shown = "・".join(str(row.get(c) or "") for c in columns)
                what = f"{label} {i + 1} 行目（{shown}）"
                if duplicates and key in seen:
                    yield Finding(f"{code}.{field}.duplicate", ERROR, where,
                                  f"{what}: {seen[key] + 1} 行目と重複しています。")
                    continue
                seen.setdefault(key, i)
                kind_of_row = rowops.row_type(row)
                at = f"{where}.request_type"
                if kind_of_row not in rowops.ROW_TYPES:
                    yield Finding(f"{code}.row.request_type_unknown", ERROR, at,
                                  f"{what}: 申請区分「{kind_of_row}」は使えません（{' / '.join(rowops.ROW_TYPES)}）。")
                    continue
                if kind != "change":
                    if kind_of_row != rowops.ADD:
                        yield Finding(f"{code}.row.not_registered_yet", ERROR, at,
                                      f"{what}: 接続申請（初回の申請）の行の申請区分は「登録」です。「{kind_of_row}」は登録済みの行を変更する変更申請でのみ使えます。")
                    continue
                held = registered.get(key)
                if kind_of_row == rowops.ADD:
                    if held is not None:
                        yield Finding(f"{code}.row.already_registered", ERROR, at,
                                      f"{what}: この行は既に登録されています。内容を変える場合は「変更」、そのままの場合は「変更なし」を選んでください。")
                    continue
                if held is None:
                    yield Finding(f"{code}.row.not_registered", ERROR, at,
                                  f"{what}: この行は登録されていないため「{kind_of_row}」はできません。新しく加える場合は「登録」を選んでください。")
                elif kind_of_row == rowops.DELETE and not rowops.same_content(row, held):
                    yield Finding(f"{code}.row.delete_changed", ERROR, where,
                                  f"{what}: 「削除」の行は登録内容のまま（他の欄を変えずに）にしてください。")
                elif kind_of_row == rowops.KEEP and not rowops.same_content(row, held):
                    yield Finding(f"{code}.row.keep_changed", ERROR, at,
                                  f"{what}: 「変更なし」の行の内容が登録内容と異なります。内容を変える場合は申請区分を「変更」にしてください。")
                elif kind_of_row == rowops.CHANGE and rowops.same_content(row, held):
                    yield Finding(f"{code}.row.change_unchanged", WARNING, at,
                                  f"{what}: 「変更」の行ですが登録内容から変わっていません。変更しない場合は「変更なし」を選んでください。")

    return validate_rows
