"""様02-06 安全管理措置確認結果報告書: the self-check over five categories and their
重点報告事項, reported by the 情報システム責任者 of 様02-01."""
from __future__ import annotations

from marshmallow import fields, validate

from plugins.forms.common import (COMMON_LABELS, TEXT_CODE, TEXT_FREE, FormBaseSchema,
                                  PersonSchema, body_fields, check_common, connection_only,
                                  layout, required_text, same_person)
from shared import workbook as wbk
from shared.forms import ERROR, WARNING, Finding, FormSpec
from shared.hookspecs import hookimpl
from shared.schemas import BaseSchema

CODE = "02-06"
TITLE = "安全管理措置確認結果報告書"
RESULTS = ("実施", "一部実施", "未実施", "該当なし")
# category -> (name, 重点報告事項)
CATEGORIES = {
    1: ("基本的枠組み", ("責任体制の整備", "報告体制の整備", "インシデントへの対応")),
    2: ("外部委託", ("業者の選定基準の規定", "情報セキュリティ対策の履行状況の確認")),
    3: ("情報システムのライフサイクル", ("文書の適正な取り扱い", "保守作業の確認",
                                 "情報セキュリティ対策の見直し")),
    4: ("セキュリティ要件", ("主体認証", "アクセス制御", "不正プログラム対策")),
    5: ("構成要素", ("通信回線に係る対策", "フリーメールの禁止", "時刻同期")),
}
ITEMS = [(category, item) for category, (_, items) in CATEGORIES.items() for item in items]


class CheckSchema(BaseSchema):
    category = fields.Integer(required=True, validate=validate.Range(1, 5),
                              metadata={"label": "分類"})
    item = fields.String(required=True, metadata={"label": "重点報告事項", **TEXT_CODE})
    result = fields.String(required=True, validate=validate.OneOf(RESULTS),
                           metadata={"label": "確認結果", **TEXT_CODE})
    note = fields.String(load_default="", metadata={"label": "備考", **TEXT_FREE})


class Form0206Schema(FormBaseSchema):
    reporter = fields.Nested(PersonSchema, required=True, metadata={"label": "報告者"})
    checks = fields.List(fields.Nested(CheckSchema), required=True,
                         validate=validate.Length(max=50), metadata={"label": "確認結果"})


LABELS = {**COMMON_LABELS, "reporter.title": "報告者（情報システム責任者） 役職名",
          "reporter.name": "報告者（情報システム責任者） 氏名", "checks": "確認結果"}


def prefill(org) -> dict:
    """Every 重点報告事項, results left for the applicant."""
    return {"checks": [{"category": c, "item": item, "result": "", "note": ""}
                       for c, item in ITEMS]}


LAYOUT = layout(
    CODE, TITLE, section="報告者（様02-01の情報システム責任者）", prefill=prefill,
    fields=body_fields(("reporter.title", LABELS["reporter.title"]),
                       ("reporter.name", LABELS["reporter.name"])),
    tables=(wbk.Table(f"様{CODE}確認結果", "checks", "安全管理措置の確認結果（重点報告事項）",
                      (wbk.Column("category", "分類", kind=wbk.AUTO, type=wbk.INT, width=8),
                       wbk.Column("item", "重点報告事項", kind=wbk.AUTO, width=36),
                       wbk.Column("result", "確認結果", kind=wbk.CHOICE, choices=RESULTS,
                                  width=14),
                       wbk.Column("note", "備考（一部実施・未実施の理由と対応予定）", width=50)),
                      blank_rows=0,
                      note="分類 1 基本的枠組み / 2 外部委託 / 3 情報システムのライフサイクル / 4 セキュリティ要件 / 5 構成要素"),),
    schema=Form0206Schema)


def check_report(data, ctx):
    """報告者 required; every 重点報告事項 answered once, none unknown; 一部実施 and
    未実施 explained (warning)."""
    for path in ("reporter.title", "reporter.name"):
        yield from required_text(CODE, data, path, LABELS[path])
    seen: dict[tuple, int] = {}
    for i, row in enumerate(data.get("checks") or []):
        key = (row.get("category"), row.get("item"))
        where = f"checks[{i}]"
        if key not in ITEMS:
            name = CATEGORIES.get(row.get("category"), ("?",))[0]
            yield Finding(f"{CODE}.checks.unknown_item", ERROR, f"{where}.item",
                          f"確認結果 {i + 1} 行目: 「{row.get('item')}」は分類 {row.get('category')}（{name}）の重点報告事項ではありません。")
            continue
        if key in seen:
            yield Finding(f"{CODE}.checks.duplicate", ERROR, f"{where}.item",
                          f"確認結果 {i + 1} 行目: 「{row.get('item')}」が {seen[key] + 1} 行目と重複しています。")
            continue
        seen[key] = i
        if row.get("result") in ("一部実施", "未実施") and not (row.get("note") or "").strip():
            yield Finding(f"{CODE}.checks.note_missing", WARNING, f"{where}.note",
                          f"確認結果 {i + 1} 行目: 「{row.get('item')}」が{row.get('result')}です。備考に理由と対応予定を記入してください。")
    for category, item in ITEMS:
        if (category, item) not in seen:
            yield Finding(f"{CODE}.checks.missing_item", ERROR, "checks",
                          f"確認結果に分類 {category}（{CATEGORIES[category][0]}）の「{item}」がありません。")


@hookimpl
def nws_form_specs():
    return [FormSpec(code=CODE, title=TITLE, schema=Form0206Schema,
                     required_for=connection_only,
                     validators=(check_common(CODE), check_report), labels=LABELS,
                     layout=LAYOUT)]


def _form(forms, context, code):
    found = forms.get(code)
    return found if found is not None else (getattr(context, "registered", None) or {}).get(code)


@hookimpl
def nws_validate_application(application, forms, context):
    """The reporter must be 02-01's 情報システム責任者 (error)."""
    report = forms.get(CODE)
    # in a 変更申請 without 02-01, the registered 02-01
    chief = (_form(forms, context, "02-01") or {}).get("system_chief")
    if not report or not chief:
        return []
    reporter = report.get("reporter") or {}
    if not same_person(reporter, chief):
        return [Finding(f"{CODE}.reporter_not_system_chief", ERROR, f"{CODE}.reporter",
                        f"様02-06の報告者「{reporter.get('name', '')}」が様02-01の情報システム責任者「{chief.get('name', '')}」と異なります。報告者は情報システム責任者本人です。")]
    return []
