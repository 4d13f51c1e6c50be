"""A validating plugin's fault stays the plugin's: an exception or a wrong result (not a
list of Finding, an unknown severity) becomes one blocking finding naming the plugin,
in place of what it would have found. The form or application never stays
``validating``; the applicant sees the finding and cannot submit until an operator has
fixed or disabled the plugin; the fault is logged with the plugin's name and the
correlation id, counted in /metrics and shown by ``nws status``."""
from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner
from marshmallow import fields

import plugins
from nws.cli import main
from services.intake import validation
from shared.forms import ERROR, WARNING, Finding, FormSpec
from shared.hookspecs import hookimpl
from shared.pluginmanager import build_plugin_manager
from shared.schemas import BaseSchema
from tests import factories
from tests.conftest import Suite, wait_for
from tests.pages.support import client_for, text_of
from tests.plugins.conftest import all_forms, context

MESSAGE = "検証処理で問題が発生しました（プラグイン {}）"


def fault_findings(findings) -> list[dict]:
    return [f if isinstance(f, dict) else f.as_dict() for f in findings
            if (f["rule"] if isinstance(f, dict) else f.rule) == "plugin.failed"]


def failures_counted(suite: Suite, plugin: str, hook: str) -> float:
    """nws_plugin_failures_total{plugin, hook} as /metrics shows it (0 if absent)."""
    text = suite.client.get("/metrics").get_data(as_text=True)
    for line in text.splitlines():
        if (line.startswith("nws_plugin_failures_total{") and f'plugin="{plugin}"' in line
                and f'hook="{hook}"' in line):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# --- plugins at fault ------------------------------------------------------------------

class CrashingApplicationCheck:
    @hookimpl
    def nws_validate_application(self, application, forms, context):
        raise KeyError("system_chief")


class DictFormCheck:
    """Returns dicts, as a JSON-minded author might, instead of Findings."""

    @hookimpl
    def nws_validate_form(self, code, data, context):
        if code == "02-01":
            return [{"rule": "pref.chief", "severity": "error", "location": "system_chief",
                     "message": "部長級ではありません。"}]
        return None


class DictApplicationCheck:
    @hookimpl
    def nws_validate_application(self, application, forms, context):
        return {"rule": "pref.same", "severity": "error"}


class CapitalisedSeverity:
    @hookimpl
    def nws_validate_form(self, code, data, context):
        if code == "02-01":
            return [Finding("pref.chief", "Error", "system_chief.title", "部長級ではありません。")]
        return None


class GoodCheck:
    @hookimpl
    def nws_validate_form(self, code, data, context):
        if code == "02-01":
            return [Finding("pref.note", WARNING, "system_chief.title", "確認してください。")]
        return None


def fresh_pm(**plugins_by_name):
    pm = build_plugin_manager(plugins.BUILTIN)
    for name, plugin in plugins_by_name.items():
        pm.register(plugin, name=name)
    return pm


# --- the validation functions -----------------------------------------------------------------

def test_a_validator_returning_dicts_gives_one_blocking_finding_naming_it():
    pm = fresh_pm(dict_check=DictFormCheck(), good_check=GoodCheck())
    findings = validation.validate_form(pm, "02-01", factories.form_02_01(), context())
    assert [(f.rule, f.severity, f.location, f.plugin) for f in findings] == [
        ("pref.note", WARNING, "system_chief.title", None),      # the other plugin's stands
        ("plugin.failed", ERROR, "02-01", "dict_check")]
    assert findings[1].message.startswith(MESSAGE.format("dict_check"))
    assert validation.has_errors(findings)


def test_an_unknown_severity_is_the_plugins_fault_not_a_warning():
    pm = fresh_pm(capitalised=CapitalisedSeverity())
    findings = validation.validate_form(pm, "02-01", factories.form_02_01(), context())
    assert [(f.rule, f.severity) for f in findings] == [("plugin.failed", ERROR)]
    assert "Error" not in {f.severity for f in findings}
    assert MESSAGE.format("capitalised") in findings[0].message


def test_an_application_validator_returning_a_dict_blocks_the_application():
    pm = fresh_pm(dict_app=DictApplicationCheck())
    forms = all_forms()
    _, overall = validation.validate_application(
        pm, {"id": 1, "kind": "connection", "org_id": "131016"}, forms, context(forms))
    assert [(f.rule, f.severity, f.location, f.plugin) for f in overall] == [
        ("plugin.failed", ERROR, "application", "dict_app")]


class Form9903Schema(BaseSchema):
    org = fields.String(required=True)


def exploding_validator(data, ctx):
    yield Finding("99-03.ok", WARNING, "org", "確認")
    raise ZeroDivisionError("oops")


class ExtraForm:
    """A form plugin whose own validator fails half-way and whose required_for fails."""

    @hookimpl
    def nws_form_specs(self):
        return [FormSpec(code="99-03", title="独自様式", schema=Form9903Schema,
                         required_for=lambda kind, org: org["no such key"],
                         validators=(exploding_validator,))]


def test_a_forms_own_validator_and_required_for_are_its_plugins_faults():
    pm = fresh_pm(extra_form=ExtraForm())
    findings = validation.validate_form(pm, "99-03", {"org": "131016"}, context())
    assert [(f.rule, f.plugin) for f in findings] == [("plugin.failed", "extra_form")]
    faults: list[Finding] = []
    required = validation.required_codes(pm, "connection", context().org, faults)
    assert "99-03" in required                       # failing safe: counted as required
    assert [(f.rule, f.location, f.plugin) for f in faults] == [
        ("plugin.failed", "application", "extra_form")]


def test_a_fault_is_logged_with_the_plugin_and_the_correlation_id(caplog):
    from shared.observability import correlation_id

    pm = fresh_pm(crashing_app=CrashingApplicationCheck())
    token = correlation_id.set("cid-plugin-fault-1")
    try:
        with caplog.at_level(logging.ERROR, logger="shared.plugincalls"):
            validation.validate_application(pm, {"id": 1, "kind": "change", "org_id": "131016"},
                                            {}, context())
    finally:
        correlation_id.reset(token)
    [record] = [r for r in caplog.records if getattr(r, "plugin", None) == "crashing_app"]
    assert record.hook == "nws_validate_application"
    assert "cid-plugin-fault-1" in record.getMessage() and "KeyError" in record.getMessage()
    assert record.exc_info is not None


# --- through the suite ------------------------------------------------------------------------

@pytest.fixture
def fault_suite(tmp_path):
    s = Suite(tmp_path / "var")
    yield s
    s.close()


def test_an_exception_in_the_application_validator_returns_the_application_to_the_applicant(
        fault_suite, caplog):
    s = fault_suite
    s.runtime.plugins.register(CrashingApplicationCheck(), name="crashing_app_check")
    h = s.headers("demo-applicant")
    app_id = factories.create_application(s.client, h)
    factories.put_forms(s.client, h, app_id, factories.all_forms())
    wait_for(lambda: all(f["status"] == "valid" for f in s.get_app(app_id)["forms"].values()),
             what="forms validated")
    with caplog.at_level(logging.ERROR, logger="shared.plugincalls"):
        res = s.client.post(f"/api/intake/applications/{app_id}/submit",
                            headers={**h, "X-Request-Id": "submit-with-a-broken-plugin"})
        assert res.status_code == 202
        app = s.wait_status(app_id, "draft")           # not validating for ever

    [fault] = fault_findings(app["findings"])
    assert fault["severity"] == "error" and fault["plugin"] == "crashing_app_check"
    assert fault["message"].startswith(MESSAGE.format("crashing_app_check"))
    assert app["history"][-1]["event"] == "validation_failed"
    assert app["processing_problem"] is False          # handled: not a dead letter
    assert ctx_dead_letters(s) == []
    # logged with the plugin's name and the request's correlation id
    assert any(getattr(r, "plugin", None) == "crashing_app_check"
               and "submit-with-a-broken-plugin" in r.getMessage() for r in caplog.records)
    # counted as a failure: per plugin, and the task's outcome
    assert failures_counted(s, "crashing_app_check", "nws_validate_application") == 1.0
    metrics = s.client.get("/metrics").get_data(as_text=True)
    assert ('nws_tasks_total{outcome="plugin_failure",'
            'task="nws.intake.application.validation_requested"}') in metrics

    # the applicant sees it on the application's page
    page = text_of(client_for(s, "demo-applicant").get(f"/applicant/applications/{app_id}"))
    assert MESSAGE.format("crashing_app_check") in page

    # nws status shows what waits for the operator
    env = {"NWS_DATA_DIR": str(s.data_dir), "NWS_DATABASE_URL": ""}
    status = CliRunner().invoke(main, ["status", "--timeout", "0.2"], env=env)
    assert status.exit_code == 0, status.output
    assert "plugin faults: 1" in status.output
    assert "blocked by plugin crashing_app_check" in status.output

    # submitting again while the plugin is broken: returned again
    assert s.client.post(f"/api/intake/applications/{app_id}/submit", headers=h).status_code == 202
    wait_for(lambda: (lambda a: a["status"] == "draft" and a["history"][-1]["event"]
                      == "validation_failed" and a["history"][-2]["event"]
                      == "submit_requested")(s.get_app(app_id)), what="returned again")
    # the operator removes the plugin: the next submission goes to review
    s.runtime.plugins.unregister(name="crashing_app_check")
    assert s.client.post(f"/api/intake/applications/{app_id}/submit", headers=h).status_code == 202
    app = s.wait_status(app_id, "primary_review")
    assert fault_findings(app["findings"]) == []


def ctx_dead_letters(suite: Suite) -> list:
    return [d for name in ("intake", "review") for d in suite.ctx(name).dead_letters()]


def test_a_form_validator_returning_dicts_leaves_the_form_invalid_and_blocks_submission(
        fault_suite):
    s = fault_suite
    s.runtime.plugins.register(DictFormCheck(), name="dict_form_check")
    h = s.headers("demo-applicant")
    app_id = factories.create_application(s.client, h)
    factories.put_forms(s.client, h, app_id, factories.all_forms())
    form = wait_for(lambda: (lambda f: f if f["status"] != "validating" else None)(
        s.get_app(app_id)["forms"]["02-01"]), what="02-01 validated")
    assert form["status"] == "invalid"
    [fault] = fault_findings(form["findings"])
    assert fault["plugin"] == "dict_form_check" and fault["location"] == "02-01"
    assert failures_counted(s, "dict_form_check", "nws_validate_form") >= 1.0

    res = s.client.post(f"/api/intake/applications/{app_id}/submit", headers=h)
    assert res.status_code == 422
    assert [f["plugin"] for f in fault_findings(res.get_json()["findings"])] == [
        "dict_form_check"]
    page = text_of(client_for(s, "demo-applicant").get(f"/applicant/applications/{app_id}"))
    assert MESSAGE.format("dict_form_check") in page

    # fixed: saving the form again validates it again, and it can be submitted
    s.runtime.plugins.unregister(name="dict_form_check")
    factories.put_forms(s.client, h, app_id, {"02-01": factories.form_02_01()})
    wait_for(lambda: s.get_app(app_id)["forms"]["02-01"]["status"] == "valid",
             what="02-01 valid after the fix")
    assert s.client.post(f"/api/intake/applications/{app_id}/submit", headers=h).status_code == 202
