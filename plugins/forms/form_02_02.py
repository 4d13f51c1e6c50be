"""様02-02 連絡窓口登録（変更）申請書: 連絡窓口責任者, 通常連絡先 (published on the
情報共有サイト) and 緊急連絡先 (never published)."""
from __future__ import annotations

import re

from marshmallow import fields, validate

from plugins.forms.common import (COMMON_LABELS, TEXT_CODE, TEXT_FREE, FormBaseSchema,
                                  PersonSchema, body_fields, check_common, connection_only,
                                  layout, required_text, same_person)
from shared import workbook as wbk
from shared.forms import ERROR, WARNING, Finding, FormSpec
from shared.hookspecs import hookimpl
from shared.schemas import BaseSchema

CODE = "02-02"
TITLE = "連絡窓口登録（変更）申請書"
PHONE_RE = re.compile(r"^0\d{1,4}-\d{1,4}-\d{3,4}$|^0\d{9,10}$")
MOBILE_RE = re.compile(r"^0[789]0-?\d{4}-?\d{4}$")
def phone_ok(phone: str) -> bool:
    """A Japanese number: 0 and 9 more digits (landline, 0120), or 11 digits (mobile,
    IP phone, 0800), hyphens between the groups or none."""
    digits = re.sub(r"-", "", phone)
    return bool(PHONE_RE.match(phone)) and (len(digits) == 10 or (
        len(digits) == 11 and digits[:3] in ("050", "060", "070", "080", "090")) or
        digits.startswith("0800"))


EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


class NormalContactSchema(BaseSchema):
    priority = fields.Integer(required=True, metadata={"label": "優先順位"})
    department = fields.String(required=True, metadata={"label": "部署名", **TEXT_FREE})
    name = fields.String(load_default="", metadata={"label": "氏名", **TEXT_FREE})
    phone = fields.String(required=True, metadata={"label": "電話番号", **TEXT_CODE})
    email = fields.String(required=True, metadata={"label": "メールアドレス", **TEXT_CODE})


class EmergencyContactSchema(BaseSchema):
    priority = fields.Integer(required=True, metadata={"label": "優先順位"})
    name = fields.String(required=True, metadata={"label": "氏名", **TEXT_FREE})
    phone = fields.String(required=True, metadata={"label": "電話番号", **TEXT_CODE})
    email = fields.String(required=True, metadata={"label": "メールアドレス", **TEXT_CODE})


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

_PRIORITY = wbk.Column("priority", "優先順位", type=wbk.INT, width=10)
_PHONE = wbk.Column("phone", "電話番号", width=18)
_EMAIL = wbk.Column("email", "メールアドレス", width=30)
LAYOUT = layout(
    CODE, TITLE, section="連絡窓口",
    fields=body_fields(("contact_chief.title", LABELS["contact_chief.title"]),
                       ("contact_chief.name", LABELS["contact_chief.name"])),
    tables=(
        wbk.Table(f"様{CODE}", "normal_contacts", "通常連絡先（平日昼間）",
                  (_PRIORITY, wbk.Column("department", "部署名", width=30),
                   wbk.Column("name", "氏名（任意）", width=20), _PHONE, _EMAIL),
                  header_row=21, blank_rows=5,
                  note="部署の直通電話番号とメールアドレス。情報共有サイトで公開されます。"),
        wbk.Table(f"様{CODE}緊急連絡先", "emergency_contacts", "緊急連絡先（夜間・休日）",
                  (_PRIORITY, wbk.Column("name", "氏名", width=20), _PHONE, _EMAIL),
                  blank_rows=5,
                  note="公用または私用の携帯電話とメールアドレス。公開されず、他の機関にも表示されません。"),
    ), schema=Form0202Schema)


def check_contacts(data, ctx):
    """連絡窓口責任者 required; each contact list present, priorities 1..n without
    duplicates or gaps, phone numbers and e-mail addresses well formed; 緊急連絡先
    should be a mobile phone."""
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
                          f"{label}の優先順位が重複しています（{'、'.join(str(p) for p in priorities)}）。")
        elif sorted(priorities) != list(range(1, len(rows) + 1)):
            yield Finding(f"{CODE}.{key}.priority_gap", ERROR, key,
                          f"{label}の優先順位は 1 から連番で入力してください（{'、'.join(str(p) for p in priorities)}）。")
        for i, row in enumerate(rows):
            where = f"{key}[{i}]"
            if not phone_ok(row.get("phone") or ""):
                yield Finding(f"{CODE}.{key}.phone", ERROR, f"{where}.phone",
                              f"{label}（{i + 1} 行目）の電話番号「{row.get('phone')}」の形式が正しくありません（例: 03-1234-5678）。")
            elif key == "emergency_contacts" and not MOBILE_RE.match(row.get("phone") or ""):
                yield Finding(f"{CODE}.{key}.not_mobile", WARNING, f"{where}.phone",
                              f"{label}（{i + 1} 行目）の電話番号「{row.get('phone')}」は携帯電話の番号ではありません。夜間・休日に連絡のつく携帯電話を記入してください。")
            if not EMAIL_RE.match(row.get("email") or ""):
                yield Finding(f"{CODE}.{key}.email", ERROR, f"{where}.email",
                              f"{label}（{i + 1} 行目）のメールアドレス「{row.get('email')}」の形式が正しくありません。")
            if key == "normal_contacts" and not (row.get("department") or "").strip():
                yield Finding(f"{CODE}.{key}.department", ERROR, f"{where}.department",
                              f"{label}（{i + 1} 行目）の部署名を入力してください。")
            if key == "emergency_contacts" and not (row.get("name") or "").strip():
                yield Finding(f"{CODE}.{key}.name", ERROR, f"{where}.name",
                              f"{label}（{i + 1} 行目）の氏名を入力してください。")


@hookimpl
def nws_form_specs():
    return [FormSpec(code=CODE, title=TITLE, schema=Form0202Schema,
                     required_for=connection_only,
                     validators=(check_common(CODE), check_contacts), labels=LABELS,
                     layout=LAYOUT)]


@hookimpl
def nws_validate_application(application, forms, context):
    """連絡窓口責任者 is normally the 02-01 情報システム責任者: warn if not."""
    chief = (forms.get("02-01") or {}).get("system_chief") or {}
    contact = (forms.get("02-02") or {}).get("contact_chief") or {}
    if chief and contact and not (same_person(chief, contact) and re.sub(
            r"\s+", "", chief.get("title") or "") == re.sub(r"\s+", "", contact.get("title") or "")):
        return [Finding(f"{CODE}.contact_chief_not_system_chief", WARNING, "02-02.contact_chief",
                        "連絡窓口責任者が様02-01の情報システム責任者と異なります。通常は同一人物です。")]
    return []
