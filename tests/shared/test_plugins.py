"""The plugin system: built-ins and entry points registered alike, blocking, misspelt
hooks, and an out-of-tree plugin that adds a form without touching any service."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pluggy
import pytest

import plugins as builtin
from shared import hookspecs
from shared.forms import Finding, Route
from shared.pluginmanager import PluginError, build_plugin_manager, describe, form_specs
from tests.conftest import Suite, wait_for

PLUGIN_SOURCE = '''
"""An out-of-tree plugin: form 99-01 (a prefecture's own extra sheet)."""
from marshmallow import fields
from shared.forms import ERROR, Finding, FormSpec
from shared.hookspecs import hookimpl
from shared.schemas import BaseSchema


class Form9901Schema(BaseSchema):
    org = fields.String(required=True)
    note = fields.String(required=True)


def no_shouting(data, ctx):
    if data["note"].isupper():
        yield Finding("99-01.shouting", ERROR, "note", "備考を大文字だけで書かないでください。")


@hookimpl
def nws_form_specs():
    return [FormSpec(code="99-01", title="独自追加様式", schema=Form9901Schema,
                     required_for=lambda kind, org: False, validators=(no_shouting,))]
'''


def install_out_of_tree_plugin(root: Path) -> Path:
    """A distribution on ``root`` with an ``nws`` entry point, as pip would lay it out."""
    (root / "nws_extra_form").mkdir(parents=True)
    (root / "nws_extra_form" / "__init__.py").write_text(textwrap.dedent(PLUGIN_SOURCE))
    dist = root / "nws_extra_form-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: nws-extra-form\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[nws]\nextra_form = nws_extra_form\n")
    return root


@pytest.fixture
def plugin_path(tmp_path, monkeypatch):
    root = install_out_of_tree_plugin(tmp_path / "site")
    monkeypatch.syspath_prepend(str(root))
    yield root
    sys.modules.pop("nws_extra_form", None)


def test_builtin_plugins_are_registered_by_name():
    pm = build_plugin_manager(builtin.BUILTIN)
    names = {name for name, _ in pm.list_name_plugin()}
    assert {"form_02_01", "form_02_02", "route_primary", "route_secondary",
            "route_forwarding"} <= names
    assert set(form_specs(pm)) >= {"02-01", "02-02"}


def test_a_plugin_can_be_blocked_by_name():
    pm = build_plugin_manager(builtin.BUILTIN, disabled=["form_02_02"])
    assert "02-02" not in form_specs(pm)
    assert pm.is_blocked("form_02_02")


def test_a_misspelt_hook_fails_loudly():
    class Typo:
        @hookspecs.hookimpl
        def nws_form_spec(self):  # missing the final s
            return []

    pm = pluggy.PluginManager("nws")
    pm.add_hookspecs(hookspecs)
    pm.register(Typo())
    with pytest.raises(pluggy.PluginValidationError):
        pm.check_pending()


def test_two_plugins_providing_one_form_code_is_an_error(tmp_path, monkeypatch):
    (tmp_path / "dup_form.py").write_text(
        "from shared.hookspecs import hookimpl\n"
        "import plugins.forms.form_02_01 as original\n"
        "@hookimpl\ndef nws_form_specs():\n    return original.nws_form_specs()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match="02-01"):
        build_plugin_manager(builtin.BUILTIN, extra=["dup_form"])


def test_entry_point_plugin_is_loaded_like_a_builtin(plugin_path):
    pm = build_plugin_manager(builtin.BUILTIN)
    assert "99-01" in form_specs(pm)
    row = next(r for r in describe(pm) if r["name"] == "extra_form")
    assert row["origin"].startswith("entry point (nws-extra-form 1.0)")
    assert row["hooks"] == ["nws_form_specs"]


def test_entry_point_plugin_can_be_blocked_from_the_environment(plugin_path):
    pm = build_plugin_manager(builtin.BUILTIN, disabled=["extra_form"])
    assert "99-01" not in form_specs(pm)


def test_out_of_tree_form_is_validated_by_intake_without_service_changes(plugin_path, tmp_path):
    suite = Suite(tmp_path / "var")
    try:
        h = suite.headers("demo-applicant")
        forms = suite.client.get("/api/intake/forms", headers=h).get_json()["items"]
        assert {"code": "99-01", "title": "独自追加様式"} in forms
        app_id = suite.client.post("/api/intake/applications", json={"kind": "connection"},
                                   headers=h).get_json()["id"]
        res = suite.client.put(f"/api/intake/applications/{app_id}/forms/99-01",
                               json={"org": "131016", "note": "LOUD"}, headers=h)
        assert res.status_code == 202
        form = wait_for(lambda: (lambda f: f if f["status"] != "validating" else None)(
            suite.get_app(app_id)["forms"]["99-01"]), what="99-01 validated")
        assert form["status"] == "invalid"
        assert form["findings"][0]["rule"] == "99-01.shouting"
    finally:
        suite.close()


def test_nws_plugins_lists_plugins_and_their_hooks(plugin_path, tmp_path):
    env = {**os.environ, "NWS_DATA_DIR": str(tmp_path / "var"),
           "PYTHONPATH": os.pathsep.join([str(plugin_path), str(Path.cwd())])}
    env.pop("NWS_DATABASE_URL", None)
    out = subprocess.run([str(Path(sys.executable).with_name("nws")), "plugins"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "extra_form" in out.stdout and "entry point (nws-extra-form 1.0)" in out.stdout
    assert "route_primary" in out.stdout and "nws_review_route" in out.stdout
    assert "99-01 独自追加様式" in out.stdout


def test_every_hook_is_documented_and_exercised_by_a_test():
    """Each hookspec has a docstring, is described in the plugin guide, and is
    implemented by a plugin in at least one test."""
    tests_text = "\n".join(p.read_text() for p in Path(__file__).parents[1].rglob("test_*.py"))
    guide = (Path(__file__).parents[2] / "docs" / "plugins.md").read_text()
    for name in dir(hookspecs):
        if name.startswith("nws_"):
            hook = getattr(hookspecs, name)
            assert hook.__doc__ and len(hook.__doc__) > 40, f"{name} lacks documentation"
            assert f"def {name}(" in tests_text, f"no test implements {name}"
            assert name in guide, f"{name} is missing from docs/plugins.md"


class ExtraChecks:
    """A third-party plugin adding a check to a built-in form."""

    @hookspecs.hookimpl
    def nws_validate_form(self, code, data, context):
        if code == "02-01" and "部長" not in data["system_chief"]["title"]:
            return [Finding("pref.chief_rank", "warning", "system_chief.title",
                            "情報システム責任者は部長級を想定しています。")]
        return None


def test_a_plugin_adds_findings_to_a_builtin_form(suite):
    from tests import factories

    suite.runtime.plugins.register(ExtraChecks(), name="extra_checks")
    h = suite.headers("demo-applicant")
    app_id = factories.create_application(suite.client, h)
    chief = {"title": "情報政策課長", "name": "山田 一郎"}
    factories.put_forms(suite.client, h, app_id,
                        {"02-01": factories.form_02_01(system_chief=chief)})
    form = wait_for(lambda: (lambda f: f if f["status"] != "validating" else None)(
        suite.get_app(app_id)["forms"]["02-01"]))
    assert form["status"] == "valid"  # a warning does not block
    assert [f["rule"] for f in form["findings"]] == ["pref.chief_rank"]


class ToJlis:
    """A third-party router that sends 東京都's municipalities to J-LIS instead."""

    @hookspecs.hookimpl
    def nws_review_route(self, application, stage):
        if stage == "primary" and application["org"]["prefecture_code"] == "130001":
            return Route("JLIS", "試行: J-LIS が一次審査")
        return None


def test_a_third_party_router_overrides_the_builtin_one(suite):
    from tests.test_lifecycle_embedded import prepare_submitted

    suite.runtime.plugins.register(ToJlis(), name="to_jlis")
    app_id = prepare_submitted(suite)
    app = suite.wait_status(app_id, "primary_review")
    routed = [h for h in app["history"] if h["event"] == "routed"][0]
    assert routed["org_id"] == "JLIS"
    queue = suite.client.get("/api/review/queue", headers=suite.headers("demo-jlis")).get_json()
    assert [i["application_id"] for i in queue["items"]] == [app_id]
    assert suite.client.get("/api/review/queue",
                            headers=suite.headers("demo-pref")).get_json()["items"] == []


class Publications:
    def __init__(self):
        self.seen = []

    @hookspecs.hookimpl
    def nws_master_published(self, version, changes):
        self.seen.append((version["number"], sorted(changes)))


def test_master_publication_hook_sees_each_new_version(suite):
    from tests.test_lifecycle_embedded import decide, prepare_submitted

    pub = Publications()
    suite.runtime.plugins.register(pub, name="publications")
    app_id = prepare_submitted(suite)
    suite.wait_status(app_id, "primary_review")
    decide(suite, "demo-pref", app_id, "承認")
    suite.wait_status(app_id, "secondary_review")
    decide(suite, "demo-mic", app_id, "承認")
    suite.wait_status(app_id, "registered")
    assert pub.seen == [(1, ["connections", "contact_chiefs", "contacts", "organisations",
                             "provided_info", "query_affairs", "responsibility"])]


class SameDay:
    @hookspecs.hookimpl
    def nws_validate_application(self, application, forms, context):
        dates = {f.get("application_date") for f in forms.values()}
        if len(dates) > 1:
            return [Finding("app.same_date", "error", "application_date",
                            "全様式の申請年月日をそろえてください。")]
        return []


def test_whole_application_checks_block_submission(suite):
    from tests import factories

    suite.runtime.plugins.register(SameDay(), name="same_day")
    h = suite.headers("demo-applicant")
    app_id = factories.create_application(suite.client, h)
    factories.put_forms(suite.client, h, app_id, {
        **factories.all_forms(), "02-02": factories.form_02_02(application_date="2026/11/27")})
    wait_for(lambda: all(f["status"] == "valid" for f in suite.get_app(app_id)["forms"].values()))
    assert suite.client.post(f"/api/intake/applications/{app_id}/submit", headers=h).status_code == 202
    app = suite.wait_status(app_id, "draft")
    assert [f["rule"] for f in app["findings"]] == ["app.same_date"]
    assert app["history"][-1]["event"] == "validation_failed"
