"""様03-08 情報照会者事務委任情報・情報提供者事務委任情報の登録（変更）申請書:
(1) 情報照会事務の委任 (delegatee side), (2) 情報提供の委任 (delegator side: the
委任先), (3) 情報提供の受任 (delegatee side: basis and 委任元)."""
from __future__ import annotations

from marshmallow import fields, validate

from plugins.forms.common import (COMMON_LABELS, TEXT_CODE, TEXT_FREE, TEXT_LEGAL,
                                  FormBaseSchema, ListRowSchema, attachment_findings, blank,
                                  check_common, check_row_operations, connection_only, layout,
                                  legal_name_findings, row_type_column)
from shared import legal
from shared import workbook as wbk
from shared.forms import ERROR, WARNING, Finding, FormSpec
from shared.hookspecs import hookimpl
from shared.schemas import BaseSchema
from shared.text import normalise_code

CODE = "03-08"
TITLE = "情報照会者事務委任情報・情報提供者事務委任情報の登録（変更）申請書"
# The statutory bases of DESIGN §2 (the pull-down); other statutory bases can exist.
ARTICLES = ("地方自治法第180条の2", "地方自治法第180条の7", "地方自治法第252条の14",
            "地方自治法第252条の17の2", "地方自治法第284条")
ORG_LIST = validate.Length(max=200)
# Rows this application does not file anew need no attached basis.
EVIDENCE_EXEMPT = ("削除", "変更なし")


class BasisSchema(BaseSchema):
    article = fields.String(required=True,
                            metadata={"label": "委任の根拠となる法令", **TEXT_LEGAL})
    rule_title = fields.String(required=True,
                               metadata={"label": "条例・規則・規約の名称", **TEXT_LEGAL})
    attachment_id = fields.String(load_default=None, allow_none=True,
                                  metadata={"label": "条例・規則・規約の添付資料ID", **TEXT_CODE})


ChainLinkSchema = BaseSchema.from_dict({
    "from": fields.String(required=True, metadata={"label": "委任元", "widget": "org", **TEXT_CODE}),
    "to": fields.String(required=True, metadata={"label": "委任先", "widget": "org", **TEXT_CODE}),
    "article": fields.String(required=True,
                             metadata={"label": "委任の根拠となる法令", **TEXT_LEGAL}),
    "rule_title": fields.String(required=True,
                                metadata={"label": "条例・規則・規約の名称", **TEXT_LEGAL}),
    "attachment_id": fields.String(load_default=None, allow_none=True,
                                   metadata={"label": "条例・規則・規約の添付資料ID", **TEXT_CODE}),
}, name="ChainLinkSchema")


class QueryDelegationSchema(ListRowSchema):
    item_no = fields.String(required=True, metadata={"label": "別表 項番", **TEXT_CODE})
    affair = fields.String(required=True, metadata={"label": "事務名", **TEXT_LEGAL})
    procedure = fields.String(load_default="", metadata={"label": "手続", **TEXT_FREE})
    basis = fields.Nested(BasisSchema, required=True, metadata={"label": "委任の根拠"})
    delegators = fields.List(fields.String(metadata=TEXT_CODE), required=True,
                             validate=ORG_LIST,
                             metadata={"label": "委任元機関", "widget": "org"})
    delegator_confirmed = fields.Boolean(required=True,
                                         metadata={"label": "委任元機関による確認"})
    chain = fields.List(fields.Nested(ChainLinkSchema), load_default=list,
                        validate=validate.Length(max=20), metadata={"label": "委任の経路"})


class ProvisionDelegationSchema(ListRowSchema):
    info_no = fields.String(required=True, metadata={"label": "特定個人情報番号", **TEXT_CODE})
    info_name = fields.String(required=True, metadata={"label": "特定個人情報名", **TEXT_LEGAL})
    delegatee = fields.String(required=True,
                              metadata={"label": "委任先機関", "widget": "org", **TEXT_CODE})


class ProvisionAcceptanceSchema(ListRowSchema):
    info_no = fields.String(required=True, metadata={"label": "特定個人情報番号", **TEXT_CODE})
    info_name = fields.String(required=True, metadata={"label": "特定個人情報名", **TEXT_LEGAL})
    delegator = fields.String(required=True,
                              metadata={"label": "委任元機関", "widget": "org", **TEXT_CODE})
    basis = fields.Nested(BasisSchema, required=True, metadata={"label": "委任の根拠"})


class Form0308Schema(FormBaseSchema):
    query_delegations = fields.List(fields.Nested(QueryDelegationSchema), required=True,
                                    validate=validate.Length(max=2000),
                                    metadata={"label": "(1) 情報照会事務に関する委任情報"})
    provision_delegations = fields.List(fields.Nested(ProvisionDelegationSchema),
                                        required=True, validate=validate.Length(max=2000),
                                        metadata={"label": "(2) 特定個人情報の情報提供に係る委任情報"})
    provision_acceptances = fields.List(fields.Nested(ProvisionAcceptanceSchema),
                                        required=True, validate=validate.Length(max=2000),
                                        metadata={"label": "(3) 特定個人情報の情報提供に係る受任情報"})


LABELS = {**COMMON_LABELS, "query_delegations": "(1) 情報照会事務に関する委任情報",
          "provision_delegations": "(2) 特定個人情報の情報提供に係る委任情報",
          "provision_acceptances": "(3) 特定個人情報の情報提供に係る受任情報"}


def _article(path: str) -> wbk.Column:
    return wbk.Column(path, "委任の根拠となる法令", kind=wbk.CHOICE, choices=ARTICLES,
                      strict=False, width=26)


def _rule(path: str) -> tuple[wbk.Column, wbk.Column]:
    """The instrument's title and the 添付資料ID of its attached copy."""
    prefix = path.rpartition(".")[0]
    return (wbk.Column(path, "条例・規則・規約の名称（添付）", width=36),
            wbk.Column(f"{prefix}.attachment_id" if prefix else "attachment_id",
                       "条例・規則・規約の添付資料ID", optional=True, width=16))


LAYOUT = layout(CODE, TITLE, tables=(
    wbk.Table(f"様{CODE}(1)", "query_delegations", "(1) 情報照会事務に関する委任情報（受任した機関が記入）",
              (wbk.Column("item_no", "別表 項番", kind=wbk.AUTO, width=10),
               wbk.Column("affair", "事務名", kind=wbk.AUTO, width=44),
               wbk.Column("procedure", "手続", width=24),
               _article("basis.article"), *_rule("basis.rule_title"),
               wbk.Column("delegators", "委任元機関（すべて。機関コードを「、」区切り）",
                          type=wbk.LIST, width=30),
               wbk.Column("delegator_confirmed", "委任元機関による確認", kind=wbk.CHOICE,
                          type=wbk.BOOL, width=12),
               row_type_column()),
              blank_rows=0),
    wbk.Table(f"様{CODE}(1)委任経路", "chain", "(1) 多段階の委任: 経路上のすべての委任（例: 県A→市B、市B→組合C）",
              (wbk.Column("from", "委任元（機関コード）", width=16),
               wbk.Column("to", "委任先（機関コード）", width=16),
               _article("article"), *_rule("rule_title")),
              parent="query_delegations", key_label="(1)のNo.", blank_rows=20),
    wbk.Table(f"様{CODE}(2)", "provision_delegations", "(2) 特定個人情報の情報提供に係る委任情報（委任した機関が記入）",
              (wbk.Column("info_no", "特定個人情報番号", kind=wbk.AUTO, width=12),
               wbk.Column("info_name", "特定個人情報名", kind=wbk.AUTO, width=44),
               wbk.Column("delegatee", "委任先機関（機関コード）", width=20),
               row_type_column()),
              blank_rows=0),
    wbk.Table(f"様{CODE}(3)", "provision_acceptances", "(3) 特定個人情報の情報提供に係る受任情報（受任した機関が記入）",
              (wbk.Column("info_no", "特定個人情報番号", kind=wbk.AUTO, width=12),
               wbk.Column("info_name", "特定個人情報名", kind=wbk.AUTO, width=44),
               wbk.Column("delegator", "委任元機関（機関コード）", width=20),
               _article("basis.article"), *_rule("basis.rule_title"), row_type_column()),
              blank_rows=0),
), schema=Form0308Schema)


def _check_basis(article, rule_title, where_article, where_rule, what, evidence=None):
    """A statutory basis: an article of a law plus the ordinance, rule or 規約 naming the
    affairs. The instrument is judged by its kind, which its title's ending tells
    (shared.legal): 「…通知に関する事務の委任に関する規則」 is a 規則; a 要綱, 通知, 要領 or
    anything else that is not a 条例, 規則 or 規約 is refused, as is an article of one.
    ``evidence`` (attachment_id, its path, the application's attachments), where the row
    needs it: the instrument's copy attached and named by its 添付資料ID."""
    if not blank(article) and legal.article_is_non_statutory(article):
        kind = legal.instrument_kind(legal.article_instrument(article))
        yield Finding(f"{CODE}.basis.non_statutory", ERROR, where_article,
                      f"{what}: 「{article}」は{kind}です。要綱・通知・要領などによる委任では情報提供ネットワークシステムは使えません。法令と、法令に基づく条例・規則・規約による委任でなければなりません。")
        return
    if not blank(rule_title) and not legal.is_statutory_title(rule_title):
        kind = legal.instrument_kind(rule_title)
        what_it_is = (f"{kind}です" if kind else
                      "条例・規則・規約の名称ではありません（名称の末尾が「条例」「規則」「規約」のいずれでもありません）")
        yield Finding(f"{CODE}.basis.non_statutory", ERROR, where_rule,
                      f"{what}: 「{rule_title}」は{what_it_is}。要綱・通知・要領などによる委任では情報提供ネットワークシステムは使えません。委任の根拠となる条例・規則・規約の名称を正式な題名で記入してください。")
        return
    if blank(article):
        yield Finding(f"{CODE}.basis.article_missing", ERROR, where_article,
                      f"{what}: 委任の根拠となる法令を選んでください。")
    elif normalise_code(article) not in ARTICLES:
        yield Finding(f"{CODE}.basis.article_unlisted", WARNING, where_article,
                      f"{what}: 「{article}」は一覧にない根拠法令です。審査で確認します。")
    if blank(rule_title):
        yield Finding(f"{CODE}.basis.rule_missing", ERROR, where_rule,
                      f"{what}: 委任の根拠となる条例・規則・規約の名称を記入し、その写しを添付してください。")
    elif evidence is not None:
        attachment, where, attachments = evidence
        yield from attachment_findings(
            (f"{CODE}.basis.rule_not_attached", f"{CODE}.basis.attachment_unknown"),
            attachment, attachments, where, what,
            f"「{rule_title}」の写し（PDF）を添付資料として登録し、その添付資料IDを記入してください。")


def check_delegations(data, ctx):
    """Every row's basis statutory and complete; (1) all 委任元機関 named and their
    confirmation checked, a multi-level chain declared whole; (2)(3) the counterpart
    named."""
    me = (ctx.org or {}).get("id")
    attachments = list(ctx.attachments or [])

    def evidence(row, basis, where):
        """What the basis needs attached: nothing for a row this application does not
        file anew (削除, or 変更なし: attached when it was registered)."""
        if row.get("request_type") in EVIDENCE_EXEMPT:
            return None
        return basis.get("attachment_id"), f"{where}.attachment_id", attachments

    for i, row in enumerate(data.get("query_delegations") or []):
        where, what = f"query_delegations[{i}]", f"(1) {i + 1} 行目（別表 項番 {row.get('item_no')}）"
        basis = row.get("basis") or {}
        yield from _check_basis(basis.get("article"), basis.get("rule_title"),
                                f"{where}.basis.article", f"{where}.basis.rule_title", what,
                                evidence(row, basis, f"{where}.basis"))
        delegators = [d for d in row.get("delegators") or [] if not blank(d)]
        if not delegators:
            yield Finding(f"{CODE}.delegators.missing", ERROR, f"{where}.delegators",
                          f"{what}: 委任元機関をすべて記入してください。")
        elif me in delegators:
            yield Finding(f"{CODE}.delegators.self", ERROR, f"{where}.delegators",
                          f"{what}: 委任元機関に申請する機関自身（{me}）が含まれています。")
        if not row.get("delegator_confirmed"):
            yield Finding(f"{CODE}.delegator_confirmed.unchecked", ERROR,
                          f"{where}.delegator_confirmed",
                          f"{what}: 委任元機関による確認にチェックがありません。委任元機関に確認を受けてからチェックしてください。")
        yield from _check_chain(row.get("chain") or [], delegators, me, where, what,
                                lambda link, at: evidence(row, link, at))
    for i, row in enumerate(data.get("provision_delegations") or []):
        where = f"provision_delegations[{i}]"
        if blank(row.get("delegatee")):
            yield Finding(f"{CODE}.delegatee.missing", ERROR, f"{where}.delegatee",
                          f"(2) {i + 1} 行目（特定個人情報番号 {row.get('info_no')}）: 委任先機関を記入してください。")
    for i, row in enumerate(data.get("provision_acceptances") or []):
        where, what = f"provision_acceptances[{i}]", f"(3) {i + 1} 行目（特定個人情報番号 {row.get('info_no')}）"
        if blank(row.get("delegator")):
            yield Finding(f"{CODE}.delegator.missing", ERROR, f"{where}.delegator",
                          f"{what}: 委任元機関を記入してください。")
        basis = row.get("basis") or {}
        yield from _check_basis(basis.get("article"), basis.get("rule_title"),
                                f"{where}.basis.article", f"{where}.basis.rule_title", what,
                                evidence(row, basis, f"{where}.basis"))


def _check_chain(chain, delegators, me, where, what, evidence=lambda link, at: None):
    """A multi-level delegation (県A → 市B → 組合C) is declared by the organisation that
    links (C) with EVERY link: from the first 委任元機関, each link starting where the
    previous ended, the last ending at the applicant; every organisation on the way is
    one of the row's 委任元機関."""
    if not chain:
        return
    for j, link in enumerate(chain):
        yield from _check_basis(link.get("article"), link.get("rule_title"),
                                f"{where}.chain[{j}].article", f"{where}.chain[{j}].rule_title",
                                f"{what} 委任の経路 {j + 1} 件目",
                                evidence(link, f"{where}.chain[{j}]"))
    route = " → ".join([chain[0].get("from") or "?"] + [link.get("to") or "?" for link in chain])
    if delegators and chain[0].get("from") != delegators[0]:
        yield Finding(f"{CODE}.chain.not_from_first_delegator", ERROR, f"{where}.chain[0].from",
                      f"{what}: 委任の経路（{route}）が最初の委任元機関 {delegators[0]} から始まっていません。経路上のすべての委任を記入してください。")
    for j in range(1, len(chain)):
        if chain[j].get("from") != chain[j - 1].get("to"):
            yield Finding(f"{CODE}.chain.broken", ERROR, f"{where}.chain[{j}].from",
                          f"{what}: 委任の経路（{route}）が {j} 件目と {j + 1} 件目の間でつながっていません。途中の委任が抜けています。")
    if chain[-1].get("to") != me:
        yield Finding(f"{CODE}.chain.not_to_applicant", ERROR, f"{where}.chain[{len(chain) - 1}].to",
                      f"{what}: 委任の経路（{route}）が申請する機関 {me} で終わっていません。経路上のすべての委任を記入してください。")
    on_route = {link.get("from") for link in chain} | {link.get("to") for link in chain}
    for org in sorted(o for o in on_route - {me} if o not in delegators):
        yield Finding(f"{CODE}.chain.undeclared_delegator", ERROR, f"{where}.delegators",
                      f"{what}: 委任の経路上の {org} が委任元機関に記入されていません。")
    for org in [d for d in delegators if d not in on_route]:
        yield Finding(f"{CODE}.chain.partial", ERROR, f"{where}.chain",
                      f"{what}: 委任元機関 {org} からの委任が委任の経路にありません。経路上のすべての委任（根拠を含む）を記入してください。")


def check_selection(data, ctx):
    """Rows must follow the application's selection, their 事務名 / 特定個人情報名 the
    catalog's text (skipped when it is not known)."""
    if ctx.selection is None:
        return
    for key, part, no_key, no_label, name_key, name_label in (
            ("query_delegations", "(1)", "item_no", "別表 項番", "affair", "事務名"),
            ("provision_delegations", "(2)", "info_no", "特定個人情報番号", "info_name", "特定個人情報名"),
            ("provision_acceptances", "(3)", "info_no", "特定個人情報番号", "info_name", "特定個人情報名")):
        yield from legal_name_findings(CODE, key, data.get(key), ctx, no_key=no_key,
                                       name_key=name_key, part=part, no_label=no_label,
                                       name_label=name_label)
    queries = {str(r.get("item_no")): r for r in ctx.selection.get("query_affairs") or []
               if r.get("choice") == "受任事務"}
    provided = {str(r.get("info_no")): r for r in ctx.selection.get("provided_info") or []}
    for i, row in enumerate(data.get("query_delegations") or []):
        if row.get("request_type") == "削除":
            continue   # a registered row the selection no longer has: removed
        chosen = queries.get(str(row.get("item_no")))
        where = f"query_delegations[{i}]"
        procedures = (chosen or {}).get("procedures") or []
        if procedures and not blank(row.get("procedure")) and row["procedure"] not in procedures:
            yield Finding(f"{CODE}.query_delegations.procedure_unlisted", WARNING,
                          f"{where}.procedure",
                          f"(1) {i + 1} 行目: 手続「{row['procedure']}」は法令カタログの別表 項番 {row.get('item_no')} の手続（{'、'.join(procedures)}）にありません。審査で確認します。")
        if chosen is None:
            yield Finding(f"{CODE}.query_delegations.not_selected", ERROR, f"{where}.item_no",
                          f"(1) {i + 1} 行目: 別表 項番 {row.get('item_no')} は申請前情報選択画面で受任事務として選択されていません。")
        elif chosen.get("delegators") and set(chosen["delegators"]) != set(row.get("delegators") or []):
            yield Finding(f"{CODE}.query_delegations.delegators_differ", ERROR,
                          f"{where}.delegators",
                          f"(1) {i + 1} 行目: 委任元機関（{'、'.join(row.get('delegators') or [])}）が選択した委任元機関（{'、'.join(chosen['delegators'])}）と一致しません。")
    for key, choice, org_key, part in (
            ("provision_delegations", "委任した", "delegatee", "(2)"),
            ("provision_acceptances", "受任により情報提供を行う", "delegator", "(3)")):
        for i, row in enumerate(data.get(key) or []):
            if row.get("request_type") == "削除":
                continue
            chosen = provided.get(str(row.get("info_no")))
            where = f"{key}[{i}]"
            if chosen is None or chosen.get("choice") != choice:
                yield Finding(f"{CODE}.{key}.not_selected", ERROR, f"{where}.info_no",
                              f"{part} {i + 1} 行目: 特定個人情報番号 {row.get('info_no')} は申請前情報選択画面で「{choice}」として選択されていません。")
            elif chosen.get("counterpart") and chosen["counterpart"] != row.get(org_key):
                yield Finding(f"{CODE}.{key}.counterpart_differs", ERROR, f"{where}.{org_key}",
                              f"{part} {i + 1} 行目: {row.get(org_key)} が選択した相手機関 {chosen['counterpart']} と一致しません。")


ROW_KEYS = {"query_delegations": ("item_no",),
            "provision_delegations": ("info_no", "delegatee"),
            "provision_acceptances": ("info_no", "delegator")}


@hookimpl
def nws_form_specs():
    return [FormSpec(code=CODE, title=TITLE, schema=Form0308Schema,
                     required_for=connection_only,
                     validators=(check_common(CODE), check_delegations, check_selection,
                                 check_row_operations(CODE, ROW_KEYS, LABELS)),
                     labels=LABELS, layout=LAYOUT, row_keys=ROW_KEYS)]
