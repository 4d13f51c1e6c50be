"""A routing plugin's fault stays the plugin's: a router that raises, returns something
other than a Route, or names an organisation intake's registry does not know, parks the
case as 振分けできません. Operators see it in their list with the plugin and the problem,
and re-route it once the plugin is fixed or disabled; no reviewer sees a case meant for
nobody, and no message is republished for it."""
from __future__ import annotations

from contextlib import contextmanager

import pytest
from click.testing import CliRunner

from nws.cli import main
from shared.forms import Route
from shared.hookspecs import hookimpl
from tests import factories
from tests.conftest import Suite, wait_for
from tests.pages.support import client_for, post_form, text_of
from tests.review import support
from tests.review.support import CHIYODA, TOKYO
from tests.test_lifecycle_embedded import prepare_submitted


class Raising:
    """Breaks for the primary stage of 東京都's municipalities, as a buggy router does."""

    def __init__(self, stage: str = "primary") -> None:
        self.stage = stage
        self.broken = True

    @hookimpl
    def nws_review_route(self, application, stage):
        if stage == self.stage and application["org"]["prefecture_code"] == "130001":
            if self.broken:
                raise KeyError("municipality_code")
            return Route("JLIS", "試行: J-LIS が審査")
        return None


class ToNowhere:
    @hookimpl
    def nws_review_route(self, application, stage):
        if stage == "primary" and application["org"]["id"] == "131016":
            return Route("011002-TYPO", "札幌市に委託（誤記）")
        return None


class ReturnsADict:
    @hookimpl
    def nws_review_route(self, application, stage):
        if stage == "primary":
            return {"org_id": "130001"}
        return None


def known_orgs(suite: Suite) -> set[str]:
    from services.review.models import KnownOrganisation
    from sqlalchemy import select

    with suite.ctx("review").transaction() as session:
        return set(session.scalars(select(KnownOrganisation.org_id)))


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("review-unroutable") / "var")
    # intake's seed announced its registry to review (organisations.directory)
    wait_for(lambda: {"131016", "130001", "JLIS", "MIC"} <= known_orgs(s),
             what="the organisation directory in review")
    yield s
    s.close()


@contextmanager
def router(suite: Suite, plugin, name: str):
    suite.runtime.plugins.register(plugin, name=name)
    try:
        yield plugin
    finally:
        if suite.runtime.plugins.get_plugin(name) is not None:
            suite.runtime.plugins.unregister(name=name)


def reroute(suite: Suite, app_id: int, login: str = "demo-operator"):
    return suite.client.post(f"/api/review/applications/{app_id}/reroute",
                             headers=suite.headers(login))


def failures_counted(suite: Suite, plugin: str) -> float:
    text = suite.client.get("/metrics").get_data(as_text=True)
    for line in text.splitlines():
        if line.startswith("nws_plugin_failures_total{") and f'plugin="{plugin}"' in line \
                and 'hook="nws_review_route"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_raising_router_parks_the_case_for_operators_and_it_is_rerouted_after_the_fix(suite):
    with router(suite, Raising(), "raising_router") as plugin:
        app_id = prepare_submitted(suite)
        case = wait_for(lambda: (lambda c: c if c and c.status == "unroutable" else None)(
            support.case(suite, app_id)), what="case parked")
        assert (case.stage, case.reviewer_org_id) == ("primary", None)
        assert case.routing_problem["plugin"] == "raising_router"
        assert "KeyError" in case.routing_problem["problem"]
        assert case.routing_problem["correlation_id"]

        # operators see it, with the plugin; reviewers do not
        items = support.queue(suite, "demo-operator", status="unroutable")
        assert [(i["application_id"], i["routing_problem"]["plugin"]) for i in items] == [
            (app_id, "raising_router")]
        assert app_id not in {i["application_id"] for i in support.queue(suite, "demo-pref")}
        operator = client_for(suite, "demo-operator")
        listing = text_of(operator.get("/review/"))
        assert "振分けできない申請が 1 件あります" in listing and "振分けできません" in listing
        page = text_of(operator.get(f"/review/applications/{app_id}"))
        assert "振分けできません" in page and "raising_router" in page and 'id="reroute"' in page

        # the applicant's application is submitted, its history says why nothing moves
        # (status reports reach intake in batches: wait for this one)
        app = wait_for(lambda: (lambda a: a if a["history"][-1]["event"] == "routing_failed"
                                else None)(suite.get_app(app_id)), what="routing_failed reported")
        assert app["status"] == "submitted"
        assert app["history"][-1]["event"] == "routing_failed"
        assert "プラグイン raising_router" in app["history"][-1]["comment"]
        assert failures_counted(suite, "raising_router") >= 1.0

        env = {"NWS_DATA_DIR": str(suite.data_dir), "NWS_DATABASE_URL": ""}
        status = CliRunner().invoke(main, ["status", "--timeout", "0.2"], env=env)
        assert status.exit_code == 0, status.output
        assert f"unroutable at primary: plugin raising_router" in status.output

        # re-routing while the plugin is still broken: still parked, said so
        res = reroute(suite, app_id)
        assert res.status_code == 409 and res.get_json()["error"]["code"] == "still_unroutable"
        assert support.case(suite, app_id).status == "unroutable"
        # a reviewer may not re-route (nor see a case not routed to it)
        assert reroute(suite, app_id, "demo-pref").status_code == 404

        # fixed: the operator re-routes it from the page, and it reaches its reviewer
        plugin.broken = False
        res = post_form(operator, f"/review/applications/{app_id}",
                        f"/review/applications/{app_id}/reroute")
        assert res.status_code == 302
        case = support.case(suite, app_id)
        assert (case.status, case.stage, case.reviewer_org_id) == (
            "primary_review", "primary", "JLIS")
        assert case.routing_problem is None
        assert app_id in {i["application_id"] for i in support.queue(suite, "demo-jlis")}
        suite.wait_status(app_id, "primary_review")
        assert reroute(suite, app_id).status_code == 409        # not unroutable any more
    factories.withdraw_open(suite.client, suite.headers("demo-applicant"))


def test_a_route_to_an_organisation_the_registry_does_not_know_parks_the_case(suite):
    with router(suite, ToNowhere(), "to_nowhere"):
        app_id = support.submit(suite, CHIYODA)
        case = support.case(suite, app_id)
        assert (case.status, case.stage) == ("unroutable", "primary")
        assert case.routing_problem["plugin"] == "to_nowhere"
        assert "'011002-TYPO'" in case.routing_problem["problem"]
        assert "does not know" in case.routing_problem["problem"]
        assert failures_counted(suite, "to_nowhere") >= 1.0
        assert app_id not in {i["application_id"] for i in support.queue(suite, "demo-pref")}
    # the operator disabled the plugin: re-routing takes the built-in route
    res = reroute(suite, app_id)
    assert res.status_code == 200, res.get_json()
    assert (res.get_json()["status"], res.get_json()["reviewer_org_id"]) == (
        "primary_review", "130001")
    assert app_id in {i["application_id"] for i in support.queue(suite, "demo-pref")}


def test_a_router_returning_something_else_than_a_route_parks_the_case(suite):
    with router(suite, ReturnsADict(), "returns_a_dict"):
        app_id = support.submit(suite, TOKYO)
        case = support.case(suite, app_id)
        assert case.status == "unroutable"
        assert case.routing_problem == {**case.routing_problem, "plugin": "returns_a_dict",
                                        "problem": "returned dict, not a Route"}


def test_a_fault_at_the_next_stage_keeps_the_decision_and_parks_the_case(suite):
    with router(suite, Raising("secondary"), "raising_secondary") as plugin:
        app_id = support.submit(suite, CHIYODA)
        assert support.decide(suite, "demo-pref", app_id).status_code == 201
        case = support.case(suite, app_id)
        assert (case.status, case.stage) == ("unroutable", "secondary")
        assert [d.stage for d in case.decisions] == ["primary"]       # the decision stands
        # the prefecture sees the case it decided, but only an operator re-routes
        res = reroute(suite, app_id, "demo-pref")
        assert res.status_code == 403 and res.get_json()["error"]["code"] == "operators_only"
        plugin.broken = False
        res = reroute(suite, app_id)
        assert res.status_code == 200
        case = support.case(suite, app_id)
        assert (case.status, case.stage, case.reviewer_org_id) == (
            "secondary_review", "secondary", "JLIS")


def test_an_unroutable_case_can_be_withdrawn(suite):
    with router(suite, ReturnsADict(), "returns_a_dict_again"):
        app_id = support.submit(suite, TOKYO)
    ctx = suite.ctx("review")
    from shared.db import utcnow

    with ctx.transaction() as session:
        ctx.emit(session, "review", "application.withdrawn", {
            "application_id": app_id, "round": 1, "actor": support.APPLICANT,
            "at": utcnow().isoformat(), "reason": "取下げ"})
    wait_for(lambda: support.case(suite, app_id).status == "withdrawn", what="withdrawn")


def test_an_older_directory_does_not_replace_a_newer_one(suite):
    from services.review import directory

    before = known_orgs(suite)
    with suite.ctx("review").transaction() as session:
        directory.store(session, {"org_ids": ["ONLY-ONE"],
                                  "generated_at": "2000-01-01T00:00:00+00:00"})
    assert known_orgs(suite) == before
