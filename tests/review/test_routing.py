"""Routing by plugins, per stage: who reviews which applicant, and that a third-party
router overrides each built-in one."""
from __future__ import annotations

import pytest

import plugins as builtin_plugins
from services.review.routing import next_stage, route
from shared.forms import Route
from shared.hookspecs import hookimpl
from shared.pluginmanager import build_plugin_manager
from tests.conftest import Suite
from tests.review import support
from tests.review.support import CHIYODA, CHIYODA_BOE, OSAKA_CITY, TOKYO, TOKYO_BOE, UNION


def app(org: dict, kind: str = "connection") -> dict:
    return {"id": 1, "number": "2026-000001", "kind": kind, "round": 1, "org": org,
            "forms": {}}


def stages(pm, application: dict) -> list[tuple[str, str]]:
    """(stage, reviewing org) of every stage that has a reviewer, in order."""
    out, after = [], None
    while (nxt := next_stage(pm, application, after)) is not None:
        out.append((nxt[0], nxt[1].org_id))
        after = nxt[0]
    return out


@pytest.fixture(scope="module")
def pm():
    return build_plugin_manager(builtin_plugins.BUILTIN)


# --- the built-in routes -----------------------------------------------------------------

def test_municipal_executive_goes_to_its_prefecture_then_mic(pm):
    assert stages(pm, app(CHIYODA)) == [("primary", "130001"), ("secondary", "MIC")]
    assert stages(pm, app(OSAKA_CITY)) == [("primary", "270008"), ("secondary", "MIC")]


def test_municipal_board_of_education_goes_through_its_executive_first(pm):
    assert stages(pm, app(CHIYODA_BOE)) == [
        ("forwarding", "131016"), ("primary", "130001"), ("secondary", "MIC")]
    assert "経由" in route(pm, app(CHIYODA_BOE), "forwarding").reason


def test_union_goes_to_its_prefecture(pm):
    assert stages(pm, app(UNION)) == [("primary", "130001"), ("secondary", "MIC")]


def test_prefectural_board_of_education_goes_to_its_prefecture_without_forwarding(pm):
    assert stages(pm, app(TOKYO_BOE)) == [("primary", "130001"), ("secondary", "MIC")]


def test_prefectural_executive_goes_to_jlis(pm):
    assert stages(pm, app(TOKYO)) == [("primary", "JLIS"), ("secondary", "MIC")]


def test_account_requests_take_the_same_routes(pm):
    assert stages(pm, app(CHIYODA_BOE, kind="account")) == [
        ("forwarding", "131016"), ("primary", "130001"), ("secondary", "MIC")]
    assert stages(pm, app(TOKYO, kind="account")) == [("primary", "JLIS"), ("secondary", "MIC")]


# --- third-party routers override each built-in one ---------------------------------------

class NoForwarding:
    @hookimpl
    def nws_review_route(self, application, stage):
        if stage == "forwarding":
            return Route(None, "試行: 経由なし")
        return None


class UnionsToJlis:
    @hookimpl
    def nws_review_route(self, application, stage):
        if stage == "primary" and application["org"]["branch"] == "union":
            return Route("JLIS", "試行: 広域連合は J-LIS")
        return None


class SecondaryByJlis:
    @hookimpl
    def nws_review_route(self, application, stage):
        if stage == "secondary":
            return Route("JLIS", "試行: 二次審査の委託")
        return None


@pytest.mark.parametrize("plugin, org, expected", [
    (NoForwarding(), CHIYODA_BOE, [("primary", "130001"), ("secondary", "MIC")]),
    (UnionsToJlis(), UNION, [("primary", "JLIS"), ("secondary", "MIC")]),
    (SecondaryByJlis(), CHIYODA, [("primary", "130001"), ("secondary", "JLIS")]),
], ids=["forwarding", "primary", "secondary"])
def test_a_third_party_router_overrides_the_builtin_route(plugin, org, expected):
    pm = build_plugin_manager(builtin_plugins.BUILTIN)
    pm.register(plugin, name=type(plugin).__name__)
    assert stages(pm, app(org)) == expected
    # Applications the plugin does not care about keep the built-in routes.
    assert stages(pm, app(TOKYO))[0] == ("primary", "JLIS")


# --- through the review service ------------------------------------------------------------

@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("review-routing") / "var")
    yield s
    s.close()


def test_forwarder_passes_a_board_of_education_application_on(suite):
    app_id = support.submit(suite, CHIYODA_BOE)
    assert support.case(suite, app_id).status == "forwarding"
    assert [i["application_id"] for i in support.queue(suite, "demo-forwarder")] == [app_id]
    assert support.decide(suite, "demo-forwarder", app_id).status_code == 201
    c = support.case(suite, app_id)
    assert (c.status, c.stage, c.reviewer_org_id) == ("primary_review", "primary", "130001")
    assert app_id in [i["application_id"] for i in support.queue(suite, "demo-pref")]


def test_forwarder_returns_a_board_of_education_application_with_a_reason(suite):
    app_id = support.submit(suite, CHIYODA_BOE)
    res = support.decide(suite, "demo-forwarder", app_id, "否認", "教育長の決裁が未了です。")
    assert res.status_code == 201
    c = support.case(suite, app_id)
    assert c.status == "returned" and c.decisions[0].comment == "教育長の決裁が未了です。"
    assert app_id not in [i["application_id"] for i in support.queue(suite, "demo-pref")]


def test_prefectural_executive_reaches_the_jlis_queue_and_not_the_prefecture(suite):
    app_id = support.submit(suite, TOKYO)
    assert app_id in [i["application_id"] for i in support.queue(suite, "demo-jlis")]
    assert app_id not in [i["application_id"] for i in support.queue(suite, "demo-pref")]
    # 東京都 cannot review its own application, and J-LIS can.
    assert support.decide(suite, "demo-jlis", app_id).status_code == 201
    assert support.case(suite, app_id).reviewer_org_id == "MIC"


def test_a_registered_router_overrides_the_secondary_stage_in_the_service(suite):
    suite.runtime.plugins.register(SecondaryByJlis(), name="secondary_by_jlis")
    try:
        app_id = support.submit(suite, CHIYODA)
        assert support.decide(suite, "demo-pref", app_id).status_code == 201
        c = support.case(suite, app_id)
        assert (c.stage, c.reviewer_org_id) == ("secondary", "JLIS")
        assert c.routes["secondary"]["reason"] == "試行: 二次審査の委託"
    finally:
        suite.runtime.plugins.unregister(name="secondary_by_jlis")
