"""``nws.testing``: test data and pytest fixtures for the suite's own tests and for plugin
authors (docs/plugins.md, "Testing a plugin").

Installed with the suite, this module is a pytest plugin (entry point ``nws`` in the
``pytest11`` group): every pytest run in that environment has its fixtures.

Plain functions (importable anywhere)::

    form_02_01(org="131016", **changes) ... form_03_09(...)   # valid form data
    BUILDERS                     # form code -> one of those builders
    required_forms(org)          # every form a 接続申請 of ``org`` requires, consistent
    org_ref(org_id)              # an organisation as plugins see it (OrgRef)
    form_context(org, forms=..)  # the FormContext validators get
    shape_problems(value, T)     # what in ``value`` does not fit the type T (TypedDict…)

Fixtures (each returns a function)::

    nws_plugin_manager           # the built-in plugins and every installed ``nws`` plugin
    nws_org(org_id)              -> OrgRef
    nws_form_data(code, org=.., **changes) -> valid form data
    nws_validate(code, data_or_workbook, org=.., **context) -> [Finding]
    nws_validate_application(forms, org=.., kind=..) -> (per form, overall)
    nws_workbook(code, data, org=..) -> .xlsx bytes, as the suite generates the form
    nws_route(org, stage="primary", forms=None) -> Route

Importing this module costs nothing: the suite is imported when a fixture or builder is
first used.
"""
from __future__ import annotations

import copy
import functools
import os
import types
import typing
from pathlib import Path
from typing import Any, Iterable, Mapping

import pytest

# --- organisations ---------------------------------------------------------------------------

# The example 一部事務組合・広域連合 of the demo data (operators register the real ones).
EXAMPLE_UNION = {"id": "U13-0001", "name": "東京都後期高齢者医療広域連合（例）",
                 "kind": "後期高齢者医療広域連合", "branch": "union",
                 "prefecture_code": "130001", "parent_id": None}


@functools.lru_cache(maxsize=1)
def _registry() -> dict[str, dict]:
    from services.intake.registry import read_rows

    return {row.id: {"id": row.id, "name": row.name, "kind": row.kind, "branch": row.branch,
                     "prefecture_code": row.prefecture_code, "parent_id": row.parent_id}
            for row in read_rows()}


def org_ref(org: str | Mapping[str, Any]) -> dict:
    """The organisation ``org`` (an id of the reference data: "131016", "131016-BOE",
    "130001", "JLIS", the example union "U13-0001"; or an OrgRef, returned as a copy)
    as plugins see it (:class:`shared.hooktypes.OrgRef`)."""
    if isinstance(org, Mapping):
        return dict(org)
    if org == EXAMPLE_UNION["id"]:
        return dict(EXAMPLE_UNION)
    try:
        return dict(_registry()[org])
    except KeyError:
        raise KeyError(f"no organisation {org!r} in the reference data (a 6-digit "
                       "全国地方公共団体コード, the same with -BOE, JLIS, MIC or "
                       f"{EXAMPLE_UNION['id']}); pass an OrgRef dict for others") from None


def _org_id(org: str | Mapping[str, Any]) -> str:
    return org["id"] if isinstance(org, Mapping) else org


# --- form data -------------------------------------------------------------------------------
# In the canonical shape a workbook reads back to: blank text is "", blank dates None,
# lists in layout order.

WRITER = {"department": "情報政策課", "title": "主任", "name": "申請 太郎"}


@functools.lru_cache(maxsize=None)
def beppyo_affair(item_no: str) -> str:
    """The 事務 of a 番号法 別表 row, exactly as the shipped catalog has it."""
    import csv

    from services.intake.catalog import BEPPYO_CSV

    with BEPPYO_CSV.open(encoding="utf-8-sig") as f:
        return next(r["事務（下欄）"] for r in csv.DictReader(f) if r["項番"] == item_no)


CHECK_ITEMS = [
    (1, "責任体制の整備"), (1, "報告体制の整備"), (1, "インシデントへの対応"),
    (2, "業者の選定基準の規定"), (2, "情報セキュリティ対策の履行状況の確認"),
    (3, "文書の適正な取り扱い"), (3, "保守作業の確認"), (3, "情報セキュリティ対策の見直し"),
    (4, "主体認証"), (4, "アクセス制御"), (4, "不正プログラム対策"),
    (5, "通信回線に係る対策"), (5, "フリーメールの禁止"), (5, "時刻同期"),
]


def common(org: str | Mapping[str, Any] = "131016", request_type: str = "登録申請") -> dict:
    """The keys every form has (org, application_date, request_type, writer)."""
    return {"org": _org_id(org), "application_date": "2026/11/26",
            "request_type": request_type, "writer": dict(WRITER)}


def _apply(data: dict, changes: dict) -> dict:
    data.update(copy.deepcopy(changes))
    return data


def form_02_01(org="131016", **changes) -> dict:
    data = {**common(org),
            "system_chief": {"title": "情報政策担当部長", "name": "山田 一郎"},
            "system_manager": {"title": "情報政策課長", "name": "佐藤 二郎"},
            "staff": {"section": "情報政策課", "unit": "システム係"}}
    return _apply(data, changes)


def form_02_02(org="131016", **changes) -> dict:
    data = {**common(org),
            "contact_chief": {"title": "情報政策担当部長", "name": "山田 一郎"},
            "normal_contacts": [{"priority": 1, "department": "情報政策課", "name": "",
                                 "phone": "03-1234-5678", "email": "joho@example.lg.jp"}],
            "emergency_contacts": [{"priority": 1, "name": "山田 一郎",
                                    "phone": "090-1234-5678", "email": "yamada-kinkyu@example.jp"}]}
    return _apply(data, changes)


def form_02_06(org="131016", **changes) -> dict:
    data = {**common(org), "reporter": {"title": "情報政策担当部長", "name": "山田 一郎"},
            "checks": [{"category": c, "item": item, "result": "実施", "note": ""}
                       for c, item in CHECK_ITEMS]}
    return _apply(data, changes)


def form_03_06(org="131016", **changes) -> dict:
    data = {**common(org, "接続申請"), "address": "東京都千代田区九段南1-2-1",
            "attached_forms": ["02-01", "02-02", "02-06", "03-07", "03-08"],
            "uses_interface_asp": True, "valid_from": None, "valid_to_undetermined": True,
            "valid_to": None}
    return _apply(data, changes)


def pia_done(number: str = "12", name: str = "住民基本台帳に関する事務 全項目評価書",
             published: bool = True, **report) -> dict:
    return {"status": "実施済", "reason": "",
            "reports": [{"number": number, "name": name, "published": published, **report}]}


def form_03_07(org="131016", **changes) -> dict:
    data = {**common(org),
            "query_affairs": [{"item_no": "九", "affair": beppyo_affair("九"),
                               "request_type": "登録", "pia": pia_done()}],
            "provided_info": [{"info_no": "001", "info_name": "住民票関係情報",
                               "request_type": "登録",
                               "pia": {"status": "1000人未満", "reason": "", "reports": []}}]}
    return _apply(data, changes)


# The 添付資料ID the 様03-08 builders name for their bases' 条例・規則・規約: the first
# attachment of an application (attach a PDF before submitting; the project's tests use
# tests.factories.attach_evidence).
EVIDENCE = "A001"


def query_delegation(**changes) -> dict:
    data = {"item_no": "九", "affair": beppyo_affair("九"),
            "procedure": "認定請求", "basis": {"article": "地方自治法第252条の14",
                                         "rule_title": "児童手当事務の委託に関する規約",
                                         "attachment_id": EVIDENCE},
            "delegators": ["132012"], "delegator_confirmed": True, "chain": [],
            "request_type": "登録"}
    return _apply(data, changes)


def form_03_08(org="131016", **changes) -> dict:
    data = {**common(org), "query_delegations": [], "provision_delegations": [],
            "provision_acceptances": []}
    return _apply(data, changes)


def form_03_08_full(org="131016", **changes) -> dict:
    """A 03-08 with a row in each of (1), (2) and (3), and a two-level chain in (1)."""
    org = _org_id(org)
    data = form_03_08(org)
    data["query_delegations"] = [
        query_delegation(),
        query_delegation(item_no="十", affair=beppyo_affair("十"),
                         delegators=["130001", "132012"], chain=[
                             {"from": "130001", "to": "132012", "article": "地方自治法第252条の17の2",
                              "rule_title": "東京都の事務処理の特例に関する条例",
                              "attachment_id": EVIDENCE},
                             {"from": "132012", "to": org, "article": "地方自治法第252条の14",
                              "rule_title": "事務の委託に関する規約",
                              "attachment_id": EVIDENCE}])]
    data["provision_delegations"] = [{"info_no": "002", "info_name": "地方税関係情報",
                                      "delegatee": "132012", "request_type": "登録"}]
    data["provision_acceptances"] = [{"info_no": "003", "info_name": "児童手当関係情報",
                                      "delegator": "132012",
                                      "basis": {"article": "地方自治法第252条の14",
                                                "rule_title": "児童手当事務の委託に関する規約",
                                                "attachment_id": EVIDENCE},
                                      "request_type": "登録"}]
    return _apply(data, changes)


def form_03_09(org="131016", **changes) -> dict:
    data = {**common(org), "independent_affairs": [
        {"case_no": "0001", "affair": "千代田区子ども医療費助成に関する事務",
         "ppc_notification_no": "PPC-2026-0123", "ordinance": "千代田区子ども医療費の助成に関する条例",
         "request_type": "登録"}]}
    return _apply(data, changes)


BUILDERS = {"02-01": form_02_01, "02-02": form_02_02, "02-06": form_02_06,
            "03-06": form_03_06, "03-07": form_03_07, "03-08": form_03_08,
            "03-09": form_03_09}


# 03-07 rows of the demo catalog's selection (an 教育委員会 declares other rows than a
# 首長部局): the validators check the rows, and their names, against the application's
# real selection.
SELECTED_ROWS = {
    "executive": ("九", "EX0001", "【例】地方税関係情報（例示・法令ではない）"),
    "board_of_education": ("四十", "EX0006", "【例】学校保健関係情報（例示・法令ではない）"),
}


def form_03_07_selected(org="131016") -> dict:
    """A 様03-07 whose rows are in the demo organisation's selection."""
    org = _org_id(org)
    item_no, info_no, info_name = SELECTED_ROWS[
        "board_of_education" if org.endswith("-BOE") else "executive"]
    data = form_03_07(org)
    data["query_affairs"][0].update(item_no=item_no, affair=beppyo_affair(item_no))
    data["provided_info"][0].update(info_no=info_no, info_name=info_name)
    return data


def required_forms(org="131016") -> dict[str, dict]:
    """Every form a 接続申請 requires (all but 様03-09), consistent with each other and
    with the organisation's selection in the demo catalog."""
    forms = {code: build(org) for code, build in BUILDERS.items() if code != "03-09"}
    forms["03-07"] = form_03_07_selected(org)
    return forms


def selection_for(form_0308: Mapping[str, Any]) -> dict:
    """The selection (DESIGN §7) that the rows of a 様03-08 presuppose: its delegated
    affairs as 受任事務 and its provision rows as 委任した / 受任により情報提供を行う."""
    return {
        "query_affairs": [{"item_no": r["item_no"], "choice": "受任事務",
                           "delegators": list(r["delegators"])}
                          for r in form_0308.get("query_delegations", [])],
        "provided_info": (
            [{"info_no": r["info_no"], "choice": "委任した", "counterpart": r["delegatee"]}
             for r in form_0308.get("provision_delegations", [])]
            + [{"info_no": r["info_no"], "choice": "受任により情報提供を行う",
                "counterpart": r["delegator"]}
               for r in form_0308.get("provision_acceptances", [])]),
    }


# --- running the suite's code --------------------------------------------------------------

def plugin_manager(disabled: Iterable[str] = (), extra: Iterable[str] = ()):
    """A plugin manager as a suite process builds one: the built-in plugins, ``extra``
    modules and every installed plugin of the ``nws`` entry-point group (start-up
    checks included: a plugin the suite would refuse fails here)."""
    import plugins
    from shared.pluginmanager import build_plugin_manager

    return build_plugin_manager(plugins.BUILTIN, disabled=disabled, extra=extra)


def form_context(org="131016", forms: Mapping[str, Mapping[str, Any]] | None = None, *,
                 kind: str = "connection", application_id: int = 1,
                 attachments: Iterable[str] = (), selection: Mapping[str, Any] | None = None,
                 registered: Mapping[str, Mapping[str, Any]] | None = None,
                 catalog_version: str | None = None):
    """The :class:`~shared.forms.FormContext` validators get in intake, for ``org``."""
    from shared.forms import FormContext

    ref = org_ref(org)
    return FormContext(application={"id": application_id, "kind": kind, "org_id": ref["id"],
                                    "catalog_version": catalog_version},
                       org=ref, forms=dict(forms or {}), attachments=list(attachments),
                       selection=selection, registered=dict(registered or {}))


def _is_workbook(source: Any) -> bool:
    if isinstance(source, (bytes, bytearray, Path)):
        return True
    return isinstance(source, str) and source.lower().endswith(".xlsx")


def validate(pm, code: str, source: Any, org="131016", **context: Any) -> list:
    """Findings of form ``code`` as intake would record them: ``source`` is the form's
    JSON data (a dict), or a filled workbook (.xlsx bytes or a path) from which form
    ``code`` is read (what cannot be read is among the findings, and a validator's
    finding names its sheet and cell). ``context``: ``forms``, ``kind``,
    ``attachments``, ``selection``, ``registered`` (see :func:`form_context`)."""
    from services.intake import validation

    if not _is_workbook(source):
        return validation.validate_form(pm, code, source, form_context(org, **context))
    from services.intake.workbooks import layouts
    from shared import workbook

    content = Path(source).read_bytes() if isinstance(source, (str, Path)) else bytes(source)
    found = [r for r in workbook.read_workbook(content, layouts(pm)) if r.code == code]
    if not found:
        raise AssertionError(f"the workbook has no sheet of form {code}")
    result = found[0]
    forms = {**dict(context.pop("forms", None) or {}), code: result.data}
    return result.findings + result.place(validation.validate_form(
        pm, code, result.data, form_context(org, forms, **context)))


def validate_application(pm, forms: Mapping[str, Mapping[str, Any]], org="131016",
                         kind: str = "connection", **context: Any):
    """(findings per form code, findings of the whole application) as at submission."""
    from services.intake import validation

    ctx = form_context(org, forms, kind=kind, **context)
    application = {key: ctx.application[key] for key in ("id", "kind", "org_id")}
    return validation.validate_application(pm, application, forms, ctx)


def workbook_of(pm, code: str, data: Mapping[str, Any], org="131016") -> bytes:
    """Form ``code`` with ``data`` as the .xlsx the suite hands out (its header showing
    ``org``): what a person fills in and uploads."""
    from services.intake.workbooks import header_of
    from shared import workbook
    from shared.pluginmanager import form_specs

    spec = form_specs(pm)[code]
    if spec.layout is None:
        raise AssertionError(f"form {code} has no workbook layout")
    ref = org_ref(org)
    prefecture = _registry().get(ref.get("prefecture_code") or "", {}).get("name", "")
    return workbook.write_form(spec.layout, data, header_of(ref, prefecture))


def routed_application(org="131016", forms: Mapping[str, Mapping[str, Any]] | None = None,
                       *, kind: str = "connection", application_id: int = 1,
                       number: str = "2026-000001", round: int = 1) -> dict:
    """The application as routers see it (:class:`shared.hooktypes.RoutedApplication`)."""
    return {"id": application_id, "number": number, "kind": kind, "round": round,
            "org": org_ref(org), "forms": dict(forms if forms is not None
                                                else required_forms(_org_id(org)))}


def route(pm, org="131016", stage: str = "primary", **application: Any):
    """The installed routers' decision (a :class:`~shared.forms.Route`) for an
    application of ``org`` at ``stage``, exactly as review asks them; raises
    ``services.review.routing.RoutingError`` when the stage cannot be routed (a router
    at fault, or none deciding)."""
    from services.review.routing import route as ask

    return ask(pm, routed_application(org, **application), stage)


# --- checking shapes -------------------------------------------------------------------------

def shape_problems(value: Any, expected: Any, where: str = "value") -> list[str]:
    """What in ``value`` does not fit ``expected`` (a TypedDict of shared.hooktypes, a
    list/dict/Mapping/Literal/union of them, or a plain class): missing or unexpected
    keys, wrong types. Empty when it fits."""
    origin = typing.get_origin(expected)
    args = typing.get_args(expected)
    if expected is Any:
        return []
    if expected is None or expected is type(None):
        return [] if value is None else [f"{where}: {value!r} is not None"]
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return []
        tries = [shape_problems(value, arg, where) for arg in args if arg is not type(None)]
        return [] if any(not t for t in tries) else min(tries, key=len)
    if origin is typing.Literal:
        return [] if value in args else [f"{where}: {value!r} is not one of {args!r}"]
    if typing.is_typeddict(expected):
        if not isinstance(value, Mapping):
            return [f"{where}: {type(value).__name__}, not a {expected.__name__}"]
        hints = typing.get_type_hints(expected)
        out = [f"{where}: missing key {key!r} ({expected.__name__})"
               for key in sorted(expected.__required_keys__ - set(value))]
        out += [f"{where}: unexpected key {key!r} ({expected.__name__})"
                for key in sorted(set(value) - set(hints))]
        for key in sorted(set(value) & set(hints)):
            out += shape_problems(value[key], hints[key], f"{where}[{key!r}]")
        return out
    if origin in (list, tuple, typing.Sequence, Iterable) or expected in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return [f"{where}: {type(value).__name__}, not a list"]
        return [p for i, item in enumerate(value)
                for p in shape_problems(item, args[0] if args else Any, f"{where}[{i}]")]
    if origin in (dict, Mapping, typing.Mapping) or expected in (dict, Mapping):
        if not isinstance(value, Mapping):
            return [f"{where}: {type(value).__name__}, not a mapping"]
        key_t, value_t = args if args else (Any, Any)
        return [p for k, v in value.items()
                for p in shape_problems(k, key_t, f"{where} key") + shape_problems(
                    v, value_t, f"{where}[{k!r}]")]
    if isinstance(expected, type):
        if expected is int and isinstance(value, bool):
            return [f"{where}: bool, not int"]
        return [] if isinstance(value, expected) else [
            f"{where}: {type(value).__name__}, not {expected.__name__}"]
    return []


# --- fixtures -----------------------------------------------------------------------------

def _env_list(name: str) -> tuple[str, ...]:
    from shared.config import _list

    return _list(os.environ, name)


@pytest.fixture(scope="session")
def nws_plugin_manager():
    """The plugin manager of a suite process: built-in plugins, ``NWS_PLUGINS`` modules
    and every installed ``nws`` entry point, less ``NWS_DISABLE_PLUGINS``."""
    return plugin_manager(disabled=_env_list("NWS_DISABLE_PLUGINS"),
                          extra=_env_list("NWS_PLUGINS"))


@pytest.fixture
def nws_org():
    """nws_org(org_id) -> the organisation as plugins see it (OrgRef)."""
    return org_ref


@pytest.fixture
def nws_form_data():
    """nws_form_data(code, org="131016", **changes) -> valid data of a built-in form for
    ``org`` (changes replace top-level keys)."""
    def build(code: str, org="131016", **changes):
        if code not in BUILDERS:
            raise KeyError(f"no test data for form {code}: build your own form's data")
        if code == "03-07" and not changes:
            return form_03_07_selected(org)
        return BUILDERS[code](_org_id(org), **changes)
    return build


@pytest.fixture
def nws_validate(nws_plugin_manager):
    """nws_validate(code, data | xlsx bytes | path, org="131016", **context) -> findings."""
    return functools.partial(validate, nws_plugin_manager)


@pytest.fixture
def nws_validate_application(nws_plugin_manager):
    """nws_validate_application(forms, org="131016", kind="connection") -> (per form,
    overall)."""
    return functools.partial(validate_application, nws_plugin_manager)


@pytest.fixture
def nws_workbook(nws_plugin_manager):
    """nws_workbook(code, data, org="131016") -> the form as .xlsx bytes."""
    return functools.partial(workbook_of, nws_plugin_manager)


@pytest.fixture
def nws_route(nws_plugin_manager):
    """nws_route(org, stage="primary", forms=None, kind="connection") -> Route."""
    return functools.partial(route, nws_plugin_manager)
