"""様03-09 独自利用事務に関する情報連携事務の登録（変更）申請書: affairs of independent
use by ordinance (条例連携). Filed only when 条例連携 is applied for, which 様03-06 says by
its check box: so never required by itself, and 様03-06's whole-application check makes
the two agree."""
from __future__ import annotations

from marshmallow import fields, validate

from plugins.forms.common import (COMMON_LABELS, TEXT_CODE, TEXT_LEGAL, FormBaseSchema,
                                  ListRowSchema, blank, check_common, check_row_operations,
                                  layout, row_type_column)
from shared import legal
from shared import workbook as wbk
from shared.forms import ERROR, WARNING, Finding, FormSpec
from shared.hookspecs import hookimpl

CODE = "03-09"
TITLE = "独自利用事務に関する情報連携事務の登録（変更）申請書"
COLUMNS = (("case_no", "事例番号"), ("affair", "独自利用事務名"),
           ("ppc_notification_no", "個人情報保護委員会への届出番号"), ("ordinance", "根拠条例"))


class IndependentAffairSchema(ListRowSchema):
    case_no = fields.String(required=True, metadata={"label": "事例番号", **TEXT_CODE})
    affair = fields.String(required=True, metadata={"label": "独自利用事務名", **TEXT_LEGAL})
    ppc_notification_no = fields.String(
        required=True, metadata={"label": "個人情報保護委員会への届出番号", **TEXT_CODE})
    ordinance = fields.String(required=True, metadata={"label": "根拠条例", **TEXT_LEGAL})


class Form0309Schema(FormBaseSchema):
    independent_affairs = fields.List(fields.Nested(IndependentAffairSchema), required=True,
                                      validate=validate.Length(max=2000),
                                      metadata={"label": "独自利用事務"})


LABELS = {**COMMON_LABELS, "independent_affairs": "独自利用事務",
          **{f"independent_affairs.{k}": v for k, v in COLUMNS}}

LAYOUT = layout(CODE, TITLE, tables=(
    wbk.Table(f"様{CODE}独自利用事務", "independent_affairs",
              "独自利用事務（個人情報保護委員会への届出と同じ内容で記入）",
              tuple(wbk.Column(k, v, width=w) for (k, v), w in zip(COLUMNS, (12, 50, 24, 40)))
              + (row_type_column(),),
              blank_rows=30),), schema=Form0309Schema)


def check_affairs(data, ctx):
    """At least one affair; every column filled; 事例番号 not repeated; the basis a 条例
    (its title ends in 条例: shared.legal)."""
    rows = data.get("independent_affairs") or []
    if not rows:
        yield Finding(f"{CODE}.rows_missing", ERROR, "independent_affairs",
                      "独自利用事務を 1 件以上記入してください（条例連携を申請しない場合、様03-09は不要です）。")
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        for key, label in COLUMNS:
            if blank(row.get(key)):
                yield Finding(f"{CODE}.required.{key}", ERROR, f"independent_affairs[{i}].{key}",
                              f"独自利用事務 {i + 1} 行目: {label}を入力してください。")
        ordinance = row.get("ordinance")
        if not blank(ordinance) and legal.instrument_kind(ordinance) != legal.ORDINANCE:
            kind = legal.instrument_kind(ordinance)
            what_it_is = f"{kind}です" if kind else "条例の名称ではありません（名称の末尾が「条例」ではありません）"
            yield Finding(f"{CODE}.ordinance.not_ordinance", ERROR,
                          f"independent_affairs[{i}].ordinance",
                          f"独自利用事務 {i + 1} 行目: 根拠「{ordinance}」は{what_it_is}。独自利用事務の情報連携の根拠は条例（番号法第9条第2項）でなければなりません。条例の正式な題名を記入してください。")
        case = row.get("case_no")
        if not blank(case) and case in seen:
            yield Finding(f"{CODE}.case_no.duplicate", ERROR, f"independent_affairs[{i}].case_no",
                          f"独自利用事務 {i + 1} 行目: 事例番号 {case} が {seen[case] + 1} 行目と重複しています。")
        seen.setdefault(case, i)


ROW_KEYS = {"independent_affairs": ("case_no",)}


def check_selection(data, ctx):
    """When the selection lists the 独自利用事務 (as notified to 個人情報保護委員会), the
    rows are those: each 事例番号 selected, its name as entered there; a selected one
    missing is a warning. A 削除 row is one the selection no longer has."""
    chosen = {str(r.get("case_no")): r for r in (ctx.selection or {}).get("independent_affairs") or []}
    if not chosen:
        return
    present = set()
    for i, row in enumerate(data.get("independent_affairs") or []):
        if row.get("request_type") == "削除":
            continue
        case = str(row.get("case_no"))
        present.add(case)
        where = f"independent_affairs[{i}]"
        if case not in chosen:
            yield Finding(f"{CODE}.independent_affairs.not_selected", ERROR, f"{where}.case_no",
                          f"独自利用事務 {i + 1} 行目: 事例番号 {case} は申請前情報選択画面の独自利用事務にありません。")
        elif row.get("affair") != chosen[case].get("affair"):
            yield Finding(f"{CODE}.independent_affairs.affair_differs", ERROR, f"{where}.affair",
                          f"独自利用事務 {i + 1} 行目: 独自利用事務名が申請前情報選択画面の「{chosen[case].get('affair')}」と一致しません（個人情報保護委員会への届出と同じ名称にしてください）。")
    for case in sorted(set(chosen) - present):
        yield Finding(f"{CODE}.independent_affairs.selected_missing", WARNING, "independent_affairs",
                      f"独自利用事務: 申請前情報選択画面の事例番号 {case} の行がありません。")


@hookimpl
def nws_form_specs():
    return [FormSpec(code=CODE, title=TITLE, schema=Form0309Schema,
                     required_for=lambda kind, org: False,
                     validators=(check_common(CODE), check_affairs, check_selection,
                                 check_row_operations(CODE, ROW_KEYS, LABELS, duplicates=False)),
                     labels=LABELS, layout=LAYOUT, row_keys=ROW_KEYS)]
