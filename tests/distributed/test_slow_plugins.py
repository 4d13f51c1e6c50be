"""Slow plugins with real intake worker processes, Redis and PostgreSQL (issue 16
point 4): a slow validator holds up no other organisation; the time limit is the
worker's own (NWS_TASK_TIME_LIMIT in its environment), messages carry none; a validator
past the soft limit becomes its plugin's timeout finding; a worker process killed by
the hard limit is counted apart from handler failures and, after
NWS_LOST_DELIVERY_AFTER deliveries, leaves a dead letter an operator retries."""
from __future__ import annotations

import json
import time

from tests import factories
from tests.conftest import wait_for

PLUGIN = "tests.plugins.slow_validator_plugin"
CHIYODA, CHUO = "131016", "131024"


def _add_applicant(d, login: str, org: str) -> dict:
    from services.identity.accounts import create_account

    with d.runtime.services["identity"].transaction() as session:
        create_account(session, login=login, password=factories.DEMO_PASSWORD, org_id=org,
                       role="applicant", name=login, department="テスト課")
    return d.headers(login)


def _form(d, app_id: int, login: str = "demo-applicant") -> dict:
    return d.get_app(app_id, login)["forms"]["02-01"]


def test_a_slow_validator_does_not_hold_up_another_organisations_requests(distributed,
                                                                          tmp_path):
    d = distributed
    marker = tmp_path / "slow-started"
    d.start_worker("intake", {"NWS_PLUGINS": PLUGIN, "NWS_TEST_SLOW_ORG": CHUO,
                              "NWS_TEST_SLOW_SECONDS": "6",
                              "NWS_TEST_SLOW_MARKER": str(marker)})
    chuo = _add_applicant(d, "chuo-applicant", CHUO)
    slow_app = factories.create_application(d.client, chuo)
    factories.put_forms(d.client, chuo, slow_app, {"02-01": factories.form_02_01(CHUO)})
    wait_for(marker.exists, timeout=60, what="the slow validator started")
    slow_started = time.monotonic()

    h = d.headers("demo-applicant")
    calls = [
        lambda: d.client.post("/api/intake/applications", json={"kind": "connection"},
                              headers=h),
        lambda: d.client.put(f"/api/intake/applications/{app_id}/selection",
                             json={"query_affairs": []}, headers=h),
        lambda: d.client.put(f"/api/intake/applications/{app_id}/forms/02-01",
                             json=factories.form_02_01(CHIYODA), headers=h),
        lambda: d.client.get(f"/api/intake/applications/{app_id}", headers=h),
    ]
    app_id = None
    for call, expected in zip(calls, (201, 200, 202, 200)):
        started = time.monotonic()
        res = call()
        took = time.monotonic() - started
        assert res.status_code == expected and took < 0.5, (res.get_json(), took)
        app_id = app_id or res.get_json()["id"]
    assert time.monotonic() - slow_started < 6
    wait_for(lambda: _form(d, slow_app, "chuo-applicant")["status"] == "valid", timeout=60,
             what="the slow form validated")
    wait_for(lambda: _form(d, app_id)["status"] == "valid", timeout=60,
             what="the other organisation's form validated")


def test_messages_carry_no_time_limit_of_their_sender(distributed):
    d = distributed                      # no worker: the message stays in Redis
    assert d.runtime.settings.task_time_limit == 900
    h = d.headers("demo-applicant")
    app_id = factories.create_application(d.client, h)
    factories.put_forms(d.client, h, app_id, {"02-01": factories.form_02_01()})
    queued = [json.loads(m) for m in d.redis.lrange(d.prefix + "intake", 0, -1)]
    assert [m["headers"]["task"] for m in queued] == ["nws.intake.form.validation_requested"]
    assert queued[0]["headers"]["timelimit"] == [None, None]


def test_a_validator_past_the_workers_soft_limit_becomes_its_timeout_finding(distributed):
    d = distributed
    # the sender (this process) has the default 900 s; the worker its own 8 s (soft: 6 s)
    d.start_worker("intake", {"NWS_PLUGINS": PLUGIN, "NWS_TEST_SLOW_SECONDS": "120",
                              "NWS_TASK_TIME_LIMIT": "8"})
    h = d.headers("demo-applicant")
    app_id = factories.create_application(d.client, h)
    started = time.monotonic()
    factories.put_forms(d.client, h, app_id, {"02-01": factories.form_02_01()})
    form = wait_for(lambda: (lambda f: f if f["status"] != "validating" else None)(
        _form(d, app_id)), timeout=60, interval=0.2, what="the form validated")
    assert time.monotonic() - started < 30
    assert form["status"] == "invalid"
    [finding] = form["findings"]
    assert finding["rule"] == "plugin.failed" and finding["severity"] == "error"
    assert finding["message"].startswith(
        "検証処理で問題が発生しました（プラグイン slow_validator_plugin）。"
        "処理に時間がかかりすぎたため中断しました。")
    # a finding, not a failed message
    assert d.runtime.services["intake"].dead_letters() == []


def test_a_worker_killed_by_the_hard_limit_ends_as_a_dead_letter_of_lost_deliveries(
        distributed, tmp_path):
    d = distributed
    marker = tmp_path / "slow-started"
    d.start_worker("intake", {"NWS_PLUGINS": PLUGIN, "NWS_TEST_SLOW_SECONDS": "120",
                              "NWS_TEST_SLOW_IGNORE_SOFT": "1", "NWS_TASK_TIME_LIMIT": "4",
                              "NWS_LOST_DELIVERY_AFTER": "2",
                              "NWS_TEST_SLOW_MARKER": str(marker)})
    h = d.headers("demo-applicant")
    app_id = factories.create_application(d.client, h)
    factories.put_forms(d.client, h, app_id, {"02-01": factories.form_02_01()})
    ctx = d.runtime.services["intake"]
    try:
        [dead] = wait_for(ctx.dead_letters, timeout=90, interval=0.3, what="a dead letter")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- worker logs ---\n{d.logs()}") from None
    assert dead["type"] == "form.validation_requested"
    assert (dead["lost"], dead["attempts"]) == (2, 0)    # no handler failure counted
    assert "worker process ended" in dead["error"]
    # killed twice by the hard limit; the third delivery ran no validator
    assert len(marker.read_text().splitlines()) == 2
    app = d.get_app(app_id)
    assert app["processing_problem"] is True and app["forms"]["02-01"]["status"] == "validating"

    # the operator fixes the plugin (here: a worker without the slow setting), retries it
    d.stop_worker("intake")
    d.start_worker("intake", {"NWS_PLUGINS": PLUGIN, "NWS_TEST_SLOW_SECONDS": "0"})
    assert ctx.retry_dead_letter(dead["id"]) is True
    wait_for(lambda: _form(d, app_id)["status"] == "valid", timeout=60, what="validated")
    assert ctx.dead_letters() == [] and d.get_app(app_id)["processing_problem"] is False
