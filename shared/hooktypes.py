"""The exact shape of what the suite hands to each hook, and what each hook may return.

Plugin authors import these from :mod:`shared.hookspecs` (which re-exports them) or from
here; :mod:`shared.hookspecs` annotates every hook with them. Everything a hook receives
is plain JSON data (dicts, lists, strings, numbers, booleans, None) except the
:class:`~shared.forms.FormContext` of the validation hooks, a dataclass whose fields are
described by the types below. ``tests/shared/test_hooktypes.py`` checks that what the
suite really passes (in a validation and a routing through the services) has exactly
these keys.

What a hook may return, and what happens when it fails, is summed up in
:data:`HOOK_RESULTS`; :mod:`shared.plugincalls` enforces it.
"""
# No ``from __future__ import annotations``: TypedDict must see NotRequired itself.
from typing import Any, Literal, Mapping, NotRequired, TypedDict, Union

from shared.forms import ERROR, WARNING, Finding, FormContext, FormSpec, Route

# --- organisations -----------------------------------------------------------------------

# ``OrgRef.branch``: which part of a local government applies.
Branch = Literal["executive", "board_of_education", "union", "national"]
BRANCHES: tuple[str, ...] = ("executive", "board_of_education", "union", "national")
# ``OrgRef.kind`` of a prefecture, a municipality (for its 首長部局 and its 教育委員会
# alike), a 一部事務組合・広域連合 and the two reviewing bodies.
PREFECTURE_KIND = "都道府県"
MUNICIPAL_KINDS: tuple[str, ...] = ("政令指定都市", "特別区", "市", "町", "村")
UNION_KINDS: tuple[str, ...] = ("一部事務組合", "広域連合", "後期高齢者医療広域連合")
NATIONAL_KIND = "国の機関等"
ORG_KINDS: tuple[str, ...] = (PREFECTURE_KIND, *MUNICIPAL_KINDS, *UNION_KINDS, NATIONAL_KIND)


class OrgRef(TypedDict):
    """An organisation as intake's registry describes it to plugins (``FormContext.org``,
    ``RoutedApplication["org"]``, ``required_for``'s ``org``).

    ``id``: ``"131016"`` (a 首長部局: its 全国地方公共団体コード), ``"131016-BOE"`` (its
    教育委員会), an operator-assigned id for a 一部事務組合・広域連合, ``"JLIS"`` / ``"MIC"``.
    ``kind``: one of :data:`ORG_KINDS` (a 教育委員会 has its local government's kind).
    ``prefecture_code``: the 6-digit code of its prefecture (None for JLIS and MIC).
    ``parent_id``: the 首長部局 of a 教育委員会, else None."""

    id: str
    name: str
    kind: str
    branch: Branch
    prefecture_code: str | None
    parent_id: str | None


# --- applications --------------------------------------------------------------------------

Kind = Literal["connection", "change"]


class ApplicationRef(TypedDict):
    """``nws_validate_application``'s ``application``."""

    id: int
    kind: Kind
    org_id: str


class ContextApplication(ApplicationRef):
    """``FormContext.application``: the application with the catalog version its
    selection was made against (None before a catalog is loaded)."""

    catalog_version: str | None


class RoutedApplication(TypedDict):
    """``nws_review_route``'s ``application``: the case as review holds it. ``number``
    is the application number (e.g. ``"2026-000001"``), ``round`` counts submissions
    (1 for the first), ``forms`` is every form's data by code (the JSON twins of
    DESIGN §7 "Form data")."""

    id: int
    number: str
    kind: Kind
    round: int
    org: OrgRef
    forms: dict[str, dict[str, Any]]


Stage = Literal["forwarding", "primary", "secondary"]
STAGES: tuple[str, ...] = ("forwarding", "primary", "secondary")

# --- what a validator sees ---------------------------------------------------------------

# A form's data after its schema loaded it (DESIGN §7 "Form data": common keys ``org``,
# ``application_date``, ``request_type``, ``writer``; the rest depends on the form).
FormData = Mapping[str, Any]
# Every form of the application by code ("02-01": FormData, ...).
Forms = Mapping[str, FormData]


class SelectedAffair(TypedDict):
    """One row of ``FormContext.selection["query_affairs"]`` (rows declined with
    情報照会を行わない are left out). ``procedures``: the 手続 the catalog knows for the
    item, when it knows any (様03-08's pull-down)."""

    item_no: str
    affair: str
    choice: Literal["照会する", "受任事務"]
    delegators: list[str]
    procedures: NotRequired[list[str]]


class SelectedInfo(TypedDict):
    """One row of ``FormContext.selection["provided_info"]`` (rows declined with
    情報提供を行わない are left out)."""

    info_no: str
    info_name: str
    choice: Literal["提供する", "受任により情報提供を行う", "委任した"]
    counterpart: str | None


class SelectedIndependentAffair(TypedDict):
    """One row of ``FormContext.selection["independent_affairs"]`` (条例連携: the
    独自利用事務 as notified to 個人情報保護委員会, 様03-09's rows)."""

    case_no: str
    affair: str


class Selection(TypedDict):
    """``FormContext.selection``: the application's effective selection (None when no
    catalog is loaded; then checks against it are skipped)."""

    query_affairs: list[SelectedAffair]
    provided_info: list[SelectedInfo]
    independent_affairs: list[SelectedIndependentAffair]


# --- master ------------------------------------------------------------------------------

class VersionSource(TypedDict):
    """An application round a master version registered."""

    application_id: int
    number: str
    round: int
    org_id: str


class MasterVersion(TypedDict):
    """``nws_master_published``'s ``version``: ``created_at`` in ISO 8601 (UTC),
    ``summary`` counts {"added", "removed", "changed"} per table."""

    number: int
    created_at: str
    checksum: str
    sources: list[VersionSource]
    summary: dict[str, dict[str, int]]


class RowChanges(TypedDict):
    """One table's changes: added ``{"key", "data"}``, removed ``{"key", "data"}``,
    changed ``{"key", "before", "after"}``."""

    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    changed: list[dict[str, Any]]


# ``nws_master_published``'s ``changes``: table name -> its changes.
MasterChanges = dict[str, RowChanges]

# --- results -------------------------------------------------------------------------------

FindingsResult = Union[list[Finding], None]
RouteResult = Union[Route, None]


class HookResult(TypedDict):
    """What a hook may return and what happens when it raises or returns anything else
    (English, for developers; docs/plugins.md says the same)."""

    returns: str
    on_failure: str


HOOK_RESULTS: dict[str, HookResult] = {
    "nws_form_specs": HookResult(
        returns="a list of FormSpec (each with required_for), or None",
        on_failure="start-up is refused with one message naming the plugin"),
    "nws_validate_form": HookResult(
        returns="a list (or other iterable) of Finding with severity 'error' or 'warning', "
                "or None",
        on_failure="the form gets one blocking finding plugin.failed "
                   "「検証処理で問題が発生しました（プラグイン NAME）」"),
    "nws_validate_application": HookResult(
        returns="a list of Finding, or None",
        on_failure="the application returns to the applicant with the finding "
                   "plugin.failed at location 'application'"),
    "nws_review_route": HookResult(
        returns="Route(org_id, reason) naming a registered organisation, Route(None, "
                "reason) to skip the stage, or None to let the next router decide",
        on_failure="the case is parked as unroutable (振分けできません) for an operator"),
    "nws_master_published": HookResult(
        returns="None (the result is ignored)",
        on_failure="the new master version is rolled back and its task retried"),
}

__all__ = [
    "ERROR", "WARNING", "ApplicationRef", "BRANCHES", "Branch", "ContextApplication", "Finding",
    "FindingsResult", "FormContext", "FormData", "FormSpec", "Forms", "HOOK_RESULTS",
    "HookResult", "Kind", "MUNICIPAL_KINDS", "MasterChanges", "MasterVersion",
    "NATIONAL_KIND", "ORG_KINDS", "OrgRef", "PREFECTURE_KIND", "Route", "RouteResult",
    "RowChanges", "STAGES", "SelectedAffair", "SelectedIndependentAffair", "SelectedInfo", "Selection", "Stage",
    "UNION_KINDS", "VersionSource",
]
