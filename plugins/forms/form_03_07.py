"""様03-07 情報連携事務・特定個人情報の登録（変更）申請書: (1) the affairs the
organisation queries, (2) the specific personal information it provides, each row with
its 特定個人情報保護評価 (PIA)."""
from __future__ import annotations

from marshmallow import fields, pre_load, validate

from plugins.forms.common import (COMMON_LABELS, ROW_TYPES, TEXT_CODE, TEXT_FREE, TEXT_LEGAL,
                                  FormBaseSchema, attachment_findings, blank, check_common, check_row_operations,
                                  connection_only, layout, legal_name_findings,
                                  row_type_column)
from shared import workbook as wbk
from shared.forms import ERROR, WARNING, Finding, FormSpec
from shared.hookspecs import hookimpl
from shared.schemas import BaseSchema

CODE = "03-07"
TITLE = "情報連携事務・特定個人情報の登録（変更）申請書"
PIA_DONE, PIA_SMALL, PIA_OTHER = "実施済", "1000人未満", "その他"
PIA_STATUSES = (PIA_DONE, PIA_SMALL, PIA_OTHER)
# selection choices that put a row on this form
QUERY_CHOICES = ("照会する", "受任事務")
PROVIDE_CHOICES = ("提供する", "受任により情報提供を行う")


class ReportSchema(BaseSchema):
    number = fields.String(required=True, metadata={"label": "評価書番号", **TEXT_CODE})
    name = fields.String(required=True, metadata={"label": "評価書名", **TEXT_LEGAL})
    published = fields.Boolean(required=True,
                               metadata={"label": "特定個人情報保護評価WEBで公表済"})
    attachment_id = fields.String(allow_none=True, metadata={
        "label": "添付資料ID", "help": "評価WEBで公表されていない評価書は添付し、その添付資料IDを記入",
        **TEXT_CODE})


class PiaSchema(BaseSchema):
    """A row's 特定個人情報保護評価. As the guide says, 実施済 is written by leaving the PIA
    column blank: a blank or missing status is read as 実施済 (which still needs its
    評価書)."""

    status = fields.String(load_default=PIA_DONE, validate=validate.OneOf(PIA_STATUSES),
                           metadata={"label": "特定個人情報保護評価", **TEXT_CODE})
    reason = fields.String(load_default="", allow_none=True, metadata={"label": "理由", **TEXT_FREE})
    reports = fields.List(fields.Nested(ReportSchema), load_default=list,
                          validate=validate.Length(max=20), metadata={"label": "評価書"})

    @pre_load
    def _blank_is_done(self, data, **_kwargs):
        if isinstance(data, dict) and blank(data.get("status")):
            return {**data, "status": PIA_DONE}
        return data


class _PiaRowSchema(BaseSchema):
    """A row of (1) or (2): without a PIA at all, the blank PIA column (実施済)."""

    @pre_load
    def _blank_pia_is_done(self, data, **_kwargs):
        if isinstance(data, dict) and data.get("pia") is None:
            return {**data, "pia": {}}
        return data


class QueryAffairSchema(_PiaRowSchema):
    item_no = fields.String(required=True, metadata={"label": "別表 項番", **TEXT_CODE})
    affair = fields.String(required=True, metadata={"label": "事務名", **TEXT_LEGAL})
    request_type = fields.String(required=True, validate=validate.OneOf(ROW_TYPES),
                                 metadata={"label": "申請区分", **TEXT_CODE})
    pia = fields.Nested(PiaSchema, required=True,
                        metadata={"label": "特定個人情報保護評価"})


class ProvidedInfoSchema(_PiaRowSchema):
    info_no = fields.String(required=True, metadata={"label": "特定個人情報番号", **TEXT_CODE})
    info_name = fields.String(required=True, metadata={"label": "特定個人情報名", **TEXT_LEGAL})
    request_type = fields.String(required=True, validate=validate.OneOf(ROW_TYPES),
                                 metadata={"label": "申請区分", **TEXT_CODE})
    pia = fields.Nested(PiaSchema, required=True,
                        metadata={"label": "特定個人情報保護評価"})


class Form0307Schema(FormBaseSchema):
    query_affairs = fields.List(fields.Nested(QueryAffairSchema), required=True,
                                validate=validate.Length(max=2000),
                                metadata={"label": "(1) 情報照会を行う事務"})
    provided_info = fields.List(fields.Nested(ProvidedInfoSchema), required=True,
                                validate=validate.Length(max=2000),
                                metadata={"label": "(2) 情報提供を行う特定個人情報"})


LABELS = {**COMMON_LABELS, "query_affairs": "(1) 情報照会を行う事務",
          "provided_info": "(2) 情報提供を行う特定個人情報"}
TABLES = {"query_affairs": ("(1)", "item_no", "別表 項番", "affair", "事務名"),
          "provided_info": ("(2)", "info_no", "特定個人情報番号", "info_name", "特定個人情報名")}


def _pia_columns() -> tuple[wbk.Column, ...]:
    return (row_type_column(),
            wbk.Column("pia.status", "特定個人情報保護評価", kind=wbk.CHOICE,
                       choices=PIA_STATUSES, width=16),
            wbk.Column("pia.reason", "評価を実施していない理由（その他の場合）", width=40))


def _report_table(parent: str, part: str) -> wbk.Table:
    return wbk.Table(
        f"様{CODE}{part}評価書", "pia.reports", f"{part} の評価書（実施済の行ごとに記入）",
        (wbk.Column("number", "評価書番号", width=14),
         wbk.Column("name", "評価書名", width=40),
         wbk.Column("published", "評価WEBで公表済", kind=wbk.CHOICE, type=wbk.BOOL, width=14),
         wbk.Column("attachment_id", "添付資料ID（未公表の場合）", optional=True, width=22)),
        parent=parent, key_label=f"{part}のNo.", blank_rows=20,
        note=f"A 列に {part} シートの No. を記入。未公表の評価書は添付し、その添付資料IDを記入してください。")


LAYOUT = layout(CODE, TITLE, tables=(
    wbk.Table(f"様{CODE}(1)", "query_affairs", "(1) 情報照会を行う事務（申請前情報選択画面の選択から）",
              (wbk.Column("item_no", "別表 項番", kind=wbk.AUTO, width=10),
               wbk.Column("affair", "事務名", kind=wbk.AUTO, width=60), *_pia_columns()),
              blank_rows=0),
    _report_table("query_affairs", "(1)"),
    wbk.Table(f"様{CODE}(2)", "provided_info", "(2) 情報提供を行う特定個人情報（申請前情報選択画面の選択から）",
              (wbk.Column("info_no", "特定個人情報番号", kind=wbk.AUTO, width=12),
               wbk.Column("info_name", "特定個人情報名", kind=wbk.AUTO, width=50),
               *_pia_columns()),
              blank_rows=0),
    _report_table("provided_info", "(2)"),
), schema=Form0307Schema)


def check_rows(data, ctx):
    """Rows present and not duplicated; every row's PIA as DESIGN §2 says: 実施済 (the
    PIA column left blank, or 実施済 chosen) → each 評価書 with number and name, and
    attached unless published; not done → 1000人未満, or その他 with a reason."""
    if not (data.get("query_affairs") or data.get("provided_info")):
        yield Finding(f"{CODE}.rows_missing", ERROR, "query_affairs",
                      "(1) 情報照会を行う事務と (2) 情報提供を行う特定個人情報が 1 件もありません。申請前情報選択画面で選択してください。")
    attachments = set(ctx.attachments or [])
    for key, (part, no_key, no_label, _, _) in TABLES.items():
        seen: dict[str, int] = {}
        for i, row in enumerate(data.get(key) or []):
            where, what = f"{key}[{i}]", f"{part} {i + 1} 行目（{no_label} {row.get(no_key)}）"
            number = row.get(no_key)
            if number in seen:
                yield Finding(f"{CODE}.{key}.duplicate", ERROR, f"{where}.{no_key}",
                              f"{what}: {seen[number] + 1} 行目と重複しています。")
            seen.setdefault(number, i)
            yield from _check_pia(row.get("pia") or {}, f"{where}.pia", what, attachments)


def _check_pia(pia, where, what, attachments):
    status, reason, reports = pia.get("status"), pia.get("reason"), pia.get("reports") or []
    if status == PIA_DONE:
        if not reports:
            yield Finding(f"{CODE}.pia.reports_missing", ERROR, f"{where}.reports",
                          f"{what}: 評価を実施済の場合（特定個人情報保護評価の欄が空欄の場合を含みます）は、関係するすべての評価書の評価書番号と評価書名を記入してください。実施していない場合は「1000人未満」または「その他」を選んでください。")
        if not blank(reason):
            yield Finding(f"{CODE}.pia.reason_unexpected", WARNING, f"{where}.reason",
                          f"{what}: 評価を実施済の場合、理由欄は空欄にしてください。")
    elif status == PIA_OTHER and blank(reason):
        yield Finding(f"{CODE}.pia.reason_missing", ERROR, f"{where}.reason",
                      f"{what}: 「その他」の場合は評価を実施していない具体的な理由を記入してください。")
    if status != PIA_DONE and reports:
        yield Finding(f"{CODE}.pia.reports_unexpected", WARNING, f"{where}.reports",
                      f"{what}: 評価を実施していない（{status}）のに評価書が記入されています。")
    for j, report in enumerate(reports):
        at = f"{where}.reports[{j}]"
        label = f"{what} 評価書 {j + 1} 件目"
        for field, name in (("number", "評価書番号"), ("name", "評価書名")):
            if blank(report.get(field)):
                yield Finding(f"{CODE}.pia.report_incomplete", ERROR, f"{at}.{field}",
                              f"{label}: {name}を入力してください。")
        yield from attachment_findings(
            (f"{CODE}.pia.report_not_attached", f"{CODE}.pia.attachment_unknown"),
            report.get("attachment_id"), attachments,
            f"{at}.attachment_id", label,
            None if report.get("published") else
            "特定個人情報保護評価WEBで公表されていない評価書は添付し、添付資料IDを記入してください。")


def check_selection(data, ctx):
    """Rows must be those of the application's selection, their 事務名 / 特定個人情報名
    the catalog's text (skipped when the selection is not known to the validator); a
    削除 row is one the selection no longer has."""
    if ctx.selection is None:
        return
    wanted = {
        "query_affairs": {str(r.get("item_no")) for r in ctx.selection.get("query_affairs") or []
                          if r.get("choice") in QUERY_CHOICES},
        "provided_info": {str(r.get("info_no")) for r in ctx.selection.get("provided_info") or []
                          if r.get("choice") in PROVIDE_CHOICES},
    }
    for key, (part, no_key, no_label, name_key, name_label) in TABLES.items():
        yield from legal_name_findings(CODE, key, data.get(key), ctx, no_key=no_key,
                                       name_key=name_key, part=part, no_label=no_label,
                                       name_label=name_label)
        present = set()
        for i, row in enumerate(data.get(key) or []):
            number = str(row.get(no_key))
            if row.get("request_type") == "削除":
                continue   # a registered row the selection no longer has: removed
            present.add(number)
            if number not in wanted[key]:
                yield Finding(f"{CODE}.{key}.not_selected", ERROR, f"{key}[{i}].{no_key}",
                              f"{part} {i + 1} 行目: {no_label} {number} は申請前情報選択画面で選択されていません（または申請の参照する法令カタログにありません）。")
        for number in sorted(wanted[key] - present):
            yield Finding(f"{CODE}.{key}.selected_missing", WARNING, key,
                          f"{part}: 選択した {no_label} {number} の行がありません。")


ROW_KEYS = {"query_affairs": ("item_no",), "provided_info": ("info_no",)}


@hookimpl
def nws_form_specs():
    return [FormSpec(code=CODE, title=TITLE, schema=Form0307Schema,
                     required_for=connection_only,
                     validators=(check_common(CODE), check_rows, check_selection,
                                 check_row_operations(CODE, ROW_KEYS, LABELS, duplicates=False)),
                     labels=LABELS, layout=LAYOUT, row_keys=ROW_KEYS)]
