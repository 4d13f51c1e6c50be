"""様02-02 連絡窓口登録（変更）申請書: 連絡窓口責任者, 通常連絡先 (published on the
情報共有サイト) and 緊急連絡先 (never published)."""
from __future__ import annotations

import re

from marshmallow import fields, validate

from plugins.forms.common import (COMMON_LABELS, TEXT_CODE, TEXT_FREE, FormBaseSchema,
                                  PersonSchema, body_fields, check_common, connection_only,
                                  layout, required_text, same_person, same_text)
from shared import workbook as wbk
from shared.forms import ERROR, WARNING, Finding, FormSpec
from shared.hookspecs import hookimpl
from shared.schemas import BaseSchema
from shared.text import DASHES, normalise_code

CODE = "02-02"
TITLE = "連絡窓口登録（変更）申請書"
# How people write a Japanese phone number, once full-width digits and dashes are
# half-width and the spaces around separators are gone: 042-626-1111, 042(626)1111,
# (042)626-1111, 0426261111 (a space between groups counts as a hyphen).
PHONE_SHAPES = (re.compile(r"^0\d{1,4}-\d{1,4}-\d{3,4}$"),
                re.compile(r"^0\d{1,4}\(\d{1,4}\)\d{3,4}$"),
                re.compile(r"^\(0\d{1,4}\)\d{1,4}-?\d{3,4}$"),
                re.compile(r"^\d+$"))
# Numbers of 11 digits: mobile phones (070, 080, 090), 060, IP phones (050) and 0800.
ELEVEN_DIGITS = ("050", "060", "070", "080", "090", "0800")
MOBILE_PREFIXES = ("070", "080", "090")
PHONE_EXAMPLE = "例: 042-626-1111、042(626)1111"


def phone_digits(phone: str) -> tuple[str | None, str]:
    """(the digits of a phone number as people write it, "") or (None, what is wrong):
    full-width digits, dashes and brackets, spaces; it must start with 0 (but not 00:
    0000000000 is no number) and have 10 digits, 11 for a mobile, 050, 060 or 0800."""
    text = normalise_code(phone or "")
    text = re.sub(f"[{DASHES}]", "-", text)
    text = re.sub(r"\s*([-()])\s*", r"\1", text)
    text = re.sub(r"\s+", "-", text)
    bad_format = f"形式が正しくありません（{PHONE_EXAMPLE}）"
    digits = re.sub(r"[-()]", "", text)
    if not digits.isdigit() or not digits.isascii():
        return None, bad_format
    if not digits.startswith("0"):
        return None, "市外局番の 0 から記入してください"
    if digits[1:2] == "0":
        return None, "存在しない番号です（0 の次に 0 が続く番号はありません）"
    expected = 11 if digits.startswith(ELEVEN_DIGITS) else 10
    if len(digits) != expected:
        kind = "携帯電話・IP 電話などは 11 桁" if expected == 11 else "固定電話などは 10 桁"
        return None, f"桁数が正しくありません（{len(digits)} 桁。{kind}です）"
    if not any(shape.match(text) for shape in PHONE_SHAPES):
        return None, bad_format
    return digits, ""


def phone_ok(phone: str) -> bool:
    """Whether ``phone`` is a possible Japanese phone number (see :func:`phone_digits`)."""
    return phone_digits(phone)[0] is not None


EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


class NormalContactSchema(BaseSchema):
    priority = fields.Integer(required=True, metadata={"label": "優先順位"})
    department = fields.String(required=True, metadata={"label": "部署名", **TEXT_FREE})
    name = fields.String(load_default="", metadata={"label": "氏名", **TEXT_FREE})
    phone = fields.String(required=True, metadata={
        "label": "電話番号", "help": f"部署の直通番号（{PHONE_EXAMPLE}）", **TEXT_CODE})
    email = fields.String(required=True, metadata={
        "label": "メールアドレス", "help": "個人または共有のアドレス", **TEXT_CODE})


class EmergencyContactSchema(BaseSchema):
    priority = fields.Integer(required=True, metadata={"label": "優先順位"})
    name = fields.String(required=True, metadata={"label": "氏名", **TEXT_FREE})
    phone = fields.String(required=True, metadata={
        "label": "電話番号", "help": "公用または私用の携帯電話（例: 090-1234-5678）", **TEXT_CODE})
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
    duplicates or gaps, phone numbers possible (as people write them: 042(626)1111,
    042-626-1111, full-width) and e-mail addresses well formed; 緊急連絡先 should be a
    mobile phone."""
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
            digits, problem = phone_digits(row.get("phone") or "")
            if digits is None:
                yield Finding(f"{CODE}.{key}.phone", ERROR, f"{where}.phone",
                              f"{label}（{i + 1} 行目）の電話番号「{row.get('phone')}」は{problem}。")
            elif key == "emergency_contacts" and not digits.startswith(MOBILE_PREFIXES):
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
    chief = (forms.get("02-01") or (getattr(context, "registered", None) or {}).get("02-01")
             or {}).get("system_chief") or {}
    contact = (forms.get("02-02") or {}).get("contact_chief") or {}
    if chief and contact and not (same_person(chief, contact)
                                  and same_text(chief.get("title"), contact.get("title"))):
        return [Finding(f"{CODE}.contact_chief_not_system_chief", WARNING, "02-02.contact_chief",
                        "連絡窓口責任者が様02-01の情報システム責任者と異なります。通常は同一人物です。")]
    return []
