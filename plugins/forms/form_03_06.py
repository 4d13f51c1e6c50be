"""様03-06 接続開始（再開）申請書: the summary form with the check boxes of the attached
forms, the interface-system ASP and the validity period."""
from __future__ import annotations

from marshmallow import fields, validate

from plugins.forms.common import (ATTACHABLE_FORMS, BOARD_KINDS, COMMON_LABELS, OTHER,
                                  TEXT_CODE, TEXT_FREE, FormBaseSchema, blank, body_fields,
                                  check_common, connection_only, date_findings, layout,
                                  parse_date, required_text, today_in_japan)
from shared import workbook as wbk
from shared.forms import ERROR, Finding, FormSpec
from shared.hookspecs import hookimpl

CODE = "03-06"
TITLE = "接続開始（再開）申請書"
REQUEST_TYPES = ("接続申請", "再開申請")


class Form0306Schema(FormBaseSchema):
    address = fields.String(required=True, metadata={"label": "所在地住所（本庁）", **TEXT_FREE})
    attached_forms = fields.List(
        fields.String(validate=validate.OneOf(ATTACHABLE_FORMS + (OTHER,)), metadata=TEXT_CODE),
        required=True,
        metadata={"label": "添付様式"})
    uses_interface_asp = fields.Boolean(required=True,
                                        metadata={"label": "インターフェイスシステム集約ASP"})
    valid_from = fields.String(load_default=None, allow_none=True,
                               metadata={"label": "有効開始日", **TEXT_CODE})
    valid_to_undetermined = fields.Boolean(required=True, metadata={"label": "有効終了日未定"})
    valid_to = fields.String(load_default=None, allow_none=True,
                             metadata={"label": "有効終了日", **TEXT_CODE})


LABELS = {**COMMON_LABELS, "address": "所在地住所（本庁）", "attached_forms": "添付様式",
          "uses_interface_asp": "インターフェイスシステム集約ASP",
          "valid_from": "有効開始日", "valid_to_undetermined": "有効終了日未定",
          "valid_to": "有効終了日"}
_CHECK = {"kind": wbk.CHOICE, "type": wbk.BOOL}


def prefill(org) -> dict:
    """In principle every form but 様03-09 and その他; the ASP for every local government
    but a 後期高齢者医療広域連合; the end of validity undetermined."""
    return {"attached_forms": [c for c in ATTACHABLE_FORMS if c != "03-09"],
            "uses_interface_asp": (org or {}).get("kind") not in BOARD_KINDS,
            "valid_from": None, "valid_to_undetermined": True, "valid_to": None}


LAYOUT = layout(
    CODE, TITLE, request_types=REQUEST_TYPES, section="接続開始（再開）の内容", prefill=prefill,
    fields=body_fields(
        ("address", LABELS["address"]),
        *((("attached_forms", f"添付 様{c}" if c != OTHER else "添付 その他（条例・規則、未公表の評価書など）",
            {**_CHECK, "member": c})) for c in ATTACHABLE_FORMS + (OTHER,)),
        ("uses_interface_asp", LABELS["uses_interface_asp"], _CHECK),
        ("valid_from", "有効開始日（空欄のまま）", {"type": wbk.DATE, "blank": None,
                                            "hint": "記入しないでください"}),
        ("valid_to_undetermined", LABELS["valid_to_undetermined"], _CHECK),
        ("valid_to", "有効終了日（廃止が決まっている場合）", {"type": wbk.DATE, "blank": None,
                                                   "hint": wbk.DATE_HINT}),
    ), schema=Form0306Schema)


def check_summary(data, ctx):
    """所在地 required; 有効開始日 blank; 有効終了日未定 or a real end date, not in the
    past (Japan time), not both;
    the ASP checked unless the organisation is a 後期高齢者医療広域連合."""
    yield from required_text(CODE, data, "address", LABELS["address"])
    if not blank(data.get("valid_from")):
        yield Finding(f"{CODE}.valid_from.filled", ERROR, "valid_from",
                      f"有効開始日「{data.get('valid_from')}」は空欄にしてください（システムが設定します）。")
    undetermined, valid_to = data.get("valid_to_undetermined"), data.get("valid_to")
    if not undetermined and blank(valid_to):
        yield Finding(f"{CODE}.valid_to.missing", ERROR, "valid_to",
                      "有効終了日未定にチェックがありません。機関の廃止が決まっている場合は有効終了日を、決まっていない場合は有効終了日未定にチェックを入れてください。")
    elif undetermined and not blank(valid_to):
        yield Finding(f"{CODE}.valid_to.contradiction", ERROR, "valid_to",
                      f"有効終了日未定にチェックがあるのに有効終了日「{valid_to}」が入力されています。どちらか一方にしてください。")
    if not blank(valid_to):
        problems = date_findings(CODE, "valid_to", "有効終了日", valid_to)
        yield from problems
        today = today_in_japan()
        if not problems and parse_date(valid_to) < today:
            yield Finding(f"{CODE}.valid_to.past", ERROR, "valid_to",
                          f"有効終了日「{valid_to}」は過去の日付です（本日は日本時間で {today:%Y/%m/%d}）。機関の廃止が決まっている場合は、本日以降の廃止日を入力してください。")
    kind = (ctx.org or {}).get("kind")
    if not data.get("uses_interface_asp") and kind not in BOARD_KINDS:
        yield Finding(f"{CODE}.uses_interface_asp.unchecked", ERROR, "uses_interface_asp",
                      f"インターフェイスシステム集約ASPにチェックを入れてください（後期高齢者医療広域連合以外の地方公共団体は必須です。この機関の種別: {kind}）。")
    listed = data.get("attached_forms") or []
    if len(set(listed)) != len(listed):
        yield Finding(f"{CODE}.attached_forms.duplicate", ERROR, "attached_forms",
                      "添付様式に同じ様式が重複しています。")


@hookimpl
def nws_form_specs():
    return [FormSpec(code=CODE, title=TITLE, schema=Form0306Schema,
                     required_for=connection_only,
                     validators=(check_common(CODE, REQUEST_TYPES), check_summary),
                     labels=LABELS, layout=LAYOUT)]


@hookimpl
def nws_validate_application(application, forms, context):
    """The check boxes of 様03-06 against the forms and attachments actually filed; その他
    and the attachments are judged on the その他 box's own cell."""
    summary = forms.get(CODE)
    if summary is None:
        return []
    checked = set(summary.get("attached_forms") or [])
    out = []
    for code in ATTACHABLE_FORMS:
        if code in checked and code not in forms:
            out.append(Finding(f"{CODE}.attached_forms.not_filed", ERROR, f"{CODE}.attached_forms",
                               f"様03-06で様{code}にチェックがありますが、様{code}が提出されていません。"))
        elif code not in checked and code in forms:
            out.append(Finding(f"{CODE}.attached_forms.unchecked", ERROR, f"{CODE}.attached_forms",
                               f"様{code}が提出されていますが、様03-06の様{code}にチェックがありません。"))
    attachments = list(getattr(context, "attachments", None) or [])
    if OTHER in checked and not attachments:
        out.append(Finding(f"{CODE}.attached_forms.other_without_attachments", ERROR,
                           f"{CODE}.attached_forms<{OTHER}>",
                           "様03-06で「その他」にチェックがありますが、添付資料がありません。条例・規則や未公表の評価書を添付するか、チェックを外してください。"))
    elif attachments and OTHER not in checked:
        out.append(Finding(f"{CODE}.attached_forms.attachments_without_other", ERROR,
                           f"{CODE}.attached_forms<{OTHER}>",
                           f"添付資料が {len(attachments)} 件ありますが、様03-06の「その他」にチェックがありません。"))
    return out
