"""様02-02 連絡窓口登録（変更）申請書."""
from __future__ import annotations

import re

from marshmallow import fields, validate

from plugins.forms.common import (COMMON_LABELS, FormBaseSchema, PersonSchema, check_common,
                                  required_text)
from shared.forms import ERROR, WARNING, Finding, FormSpec
from shared.hookspecs import hookimpl
from shared.schemas import BaseSchema

CODE = "02-02"
PHONE_RE = re.compile(r"^0\d{1,4}-\d{1,4}-\d{3,4}$|^0\d{9,10}$")
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


class NormalContactSchema(BaseSchema):
    priority = fields.Integer(required=True, metadata={"label": "優先順位"})
    department = fields.String(required=True, metadata={"label": "部署名"})
    name = fields.String(load_default="", metadata={"label": "氏名"})
    phone = fields.String(required=True, metadata={"label": "電話番号"})
    email = fields.String(required=True, metadata={"label": "メールアドレス"})


class EmergencyContactSchema(BaseSchema):
    priority = fields.Integer(required=True, metadata={"label": "優先順位"})
    name = fields.String(required=True, metadata={"label": "氏名"})
    phone = fields.String(required=True, metadata={"label": "電話番号"})
    email = fields.String(required=True, metadata={"label": "メールアドレス"})


class Form0202Schema(FormBaseSchema):
    contact_chief = fields.Nested(PersonSchema, required=True,
                                  metadata={"label": "連絡窓口責任者"})
    normal_contacts = fields.List(fields.Nested(NormalContactSchema), required=True,
                                  validate=validate.Length(max=20),
                                  metadata={"label": "通常連絡先"})
    emergency_contacts = fields.List(fields.Nested(EmergencyContactSchema), required=True,
                                     validate=validate.Length(max=20),
                                     metadata={"label": "緊急連絡先"})


LABELS = {**COMMON_LABELS, "contact_chief.title": "連絡窓口責任者 役職名",
          "contact_chief.name": "連絡窓口責任者 氏名", "normal_contacts": "通常連絡先",
          "emergency_contacts": "緊急連絡先"}


def check_contacts(data, ctx):
    for path in ("contact_chief.title", "contact_chief.name"):
        yield from required_text(CODE, data, path, LABELS[path])
    for key, label in (("normal_contacts", "通常連絡先"), ("emergency_contacts", "緊急連絡先")):
        rows = data.get(key) or []
        if not rows:
            yield Finding(f"{CODE}.{key}.missing", ERROR, key, f"{label}を 1 件以上入力してください。")
            continue
        priorities = [r.get("priority") for r in rows]
        if len(set(priorities)) != len(priorities):
            yield Finding(f"{CODE}.{key}.priority_duplicate", ERROR, key,
                          f"{label}の優先順位が重複しています。")
        elif sorted(priorities) != list(range(1, len(rows) + 1)):
            yield Finding(f"{CODE}.{key}.priority_gap", ERROR, key,
                          f"{label}の優先順位は 1 から連番で入力してください。")
        for i, row in enumerate(rows):
            where = f"{key}[{i}]"
            if not PHONE_RE.match(row.get("phone") or ""):
                yield Finding(f"{CODE}.{key}.phone", ERROR, f"{where}.phone",
                              f"{label}（{i + 1} 行目）の電話番号「{row.get('phone')}」の形式が正しくありません（例: 03-1234-5678）。")
            if not EMAIL_RE.match(row.get("email") or ""):
                yield Finding(f"{CODE}.{key}.email", ERROR, f"{where}.email",
                              f"{label}（{i + 1} 行目）のメールアドレス「{row.get('email')}」の形式が正しくありません。")


@hookimpl
def nws_form_specs():
    return [FormSpec(code=CODE, title="連絡窓口登録（変更）申請書", schema=Form0202Schema,
                     # a 変更申請 includes only the forms that change
                     required_for=lambda kind, org: kind != "change",
                     validators=(check_common(CODE), check_contacts), labels=LABELS)]


@hookimpl
def nws_validate_application(application, forms, context):
    """連絡窓口責任者 is normally the 02-01 情報システム責任者: warn if not."""
    chief = (forms.get("02-01") or {}).get("system_chief") or {}
    contact = (forms.get("02-02") or {}).get("contact_chief") or {}
    if chief and contact and (chief.get("name"), chief.get("title")) != (
            contact.get("name"), contact.get("title")):
        return [Finding(f"{CODE}.contact_chief_not_system_chief", WARNING, "02-02.contact_chief",
                        "連絡窓口責任者が様02-01の情報システム責任者と異なります。通常は同一人物です。")]
    return []
