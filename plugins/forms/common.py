"""What every form has: 機関情報, 申請年月日, 申請区分, 記入担当者, and the reviewer block
that only the system fills."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Iterable, Mapping

from marshmallow import fields, validate

from shared.forms import ERROR, Finding, FormContext
from shared.schemas import BaseSchema

DATE_RE = re.compile(r"^(\d{4})/(\d{2})/(\d{2})$")
ERA_RE = re.compile(r"^(令和|平成|昭和|R|H|S)\s*\d")

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


class PersonSchema(BaseSchema):
    title = fields.String(required=True, validate=validate.Length(max=100),
                          metadata={"label": "役職名"})
    name = fields.String(required=True, validate=validate.Length(max=100),
                         metadata={"label": "氏名"})


class WriterSchema(BaseSchema):
    department = fields.String(required=True, validate=validate.Length(max=100),
                               metadata={"label": "部署名"})
    title = fields.String(required=True, validate=validate.Length(max=100),
                          metadata={"label": "職名"})
    name = fields.String(required=True, validate=validate.Length(max=100),
                         metadata={"label": "氏名"})


class FormBaseSchema(BaseSchema):
    """Fields every form has. Dates stay strings here: their checks are findings."""

    org = fields.String(required=True, metadata={"label": "機関"})
    application_date = fields.String(required=True, metadata={"label": "申請年月日"})
    request_type = fields.String(required=True, metadata={"label": "申請区分"})
    writer = fields.Nested(WriterSchema, required=True, metadata={"label": "記入担当者"})


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
            try:
                dt.date(*(int(g) for g in match.groups()))
            except ValueError:
                yield Finding(f"{code}.application_date.invalid", ERROR, "application_date",
                              f"申請年月日「{raw}」は存在しない日付です。")
        if data.get("request_type") not in allowed:
            yield Finding(f"{code}.request_type", ERROR, "request_type",
                          f"申請区分は {' / '.join(allowed)} のいずれかを選んでください。")

    return validate_common


def required_text(code: str, data: Mapping[str, Any], path: str, label: str) -> list[Finding]:
    """A finding if the text at dotted ``path`` is empty."""
    value: Any = data
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if blank(value):
        return [Finding(f"{code}.required.{path}", ERROR, path, f"{label}を入力してください。")]
    return []
