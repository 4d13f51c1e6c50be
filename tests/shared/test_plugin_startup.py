"""Start-up refuses plugins that cannot work, each time with one message naming the
plugin(s) and what is wrong; a name in NWS_DISABLE_PLUGINS that matches no plugin is a
warning; every process reports its plugin set (names, versions, digest) and
``nws status`` flags a worker whose set differs."""
from __future__ import annotations

import logging
import sys
import textwrap
import uuid

import pytest

import plugins as builtin
from shared import hookspecs
from shared.forms import FormSpec
from shared.pluginmanager import PluginError, build_plugin_manager, plugin_set

FORM = '''
from marshmallow import fields
from shared import workbook as wbk
from shared.forms import FormSpec
from shared.hookspecs import hookimpl
from shared.schemas import BaseSchema


class Schema(BaseSchema):
    org = fields.String(required=True)


@hookimpl
def nws_form_specs():
    return [FormSpec({args})]
'''


@pytest.fixture
def write_plugin(tmp_path, monkeypatch):
    """write_plugin(source) -> the module name of a fresh plugin module (NWS_PLUGINS)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written = []

    def write(source: str) -> str:
        name = f"plugin_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


def form_plugin(write_plugin, args: str) -> str:
    return write_plugin(FORM.replace("{args}", args))


def test_a_form_spec_without_required_for_is_refused_naming_the_plugin(write_plugin):
    name = form_plugin(write_plugin, 'code="99-05", title="独自様式", schema=Schema')
    with pytest.raises(PluginError) as refused:
        build_plugin_manager(builtin.BUILTIN, extra=[name])
    message = str(refused.value)
    assert message.startswith(f"plugin {name}: nws_form_specs failed")
    assert "FormSpec 99-05: required_for is required" in message


def test_required_for_has_no_silent_default():
    with pytest.raises(TypeError, match="required_for is required"):
        FormSpec(code="99-05", title="独自様式", schema=object)
    with pytest.raises(TypeError, match="must be a function"):
        FormSpec(code="99-05", title="独自様式", schema=object, required_for=True)


def test_a_duplicate_form_code_names_both_plugins(write_plugin):
    name = form_plugin(write_plugin, 'code="02-02", title="写し", schema=Schema, '
                                     'required_for=lambda kind, org: False')
    with pytest.raises(PluginError) as refused:
        build_plugin_manager(builtin.BUILTIN, extra=[name])
    assert str(refused.value) == f"form 02-02 is provided by two plugins: form_02_02 and {name}"


def test_a_header_sheet_name_used_by_two_forms_is_refused(write_plugin):
    layout = ('layout=wbk.Layout(code="99-06", title="独自様式", sheet="様02-01", '
              'fields=(wbk.Field("C4", "機関コード", "org", kind=wbk.AUTO),))')
    name = form_plugin(write_plugin, 'code="99-06", title="独自様式", schema=Schema, '
                                     f'required_for=lambda kind, org: False, {layout}')
    with pytest.raises(PluginError) as refused:
        build_plugin_manager(builtin.BUILTIN, extra=[name])
    assert str(refused.value).startswith(
        f"sheet '様02-01' is used by two forms: 02-01 (plugin form_02_01) and 99-06 "
        f"(plugin {name})")


def test_form_specs_of_the_wrong_type_are_refused(write_plugin):
    name = write_plugin('''
        from shared.hookspecs import hookimpl

        @hookimpl
        def nws_form_specs():
            return {"code": "99-07"}
        ''')
    with pytest.raises(PluginError, match=f"plugin {name}: nws_form_specs returned dict, "
                                          "not a list of FormSpec"):
        build_plugin_manager(builtin.BUILTIN, extra=[name])


def test_a_hook_wrapper_is_refused(write_plugin):
    name = write_plugin('''
        from shared.hookspecs import hookimpl

        @hookimpl(wrapper=True)
        def nws_validate_form(code, data, context):
            return (yield)
        ''')
    with pytest.raises(PluginError, match=f"plugin {name}: nws_validate_form is a hook wrapper"):
        build_plugin_manager(builtin.BUILTIN, extra=[name])


def test_a_plugin_module_that_cannot_be_imported_is_named():
    with pytest.raises(PluginError, match="plugin no_such_plugin: module "
                                          "nws_tests.no_such_plugin \\(NWS_PLUGINS\\)"):
        build_plugin_manager(builtin.BUILTIN, extra=["nws_tests.no_such_plugin"])


def test_unknown_names_in_nws_disable_plugins_are_a_warning_naming_them(caplog):
    with caplog.at_level(logging.WARNING, logger="shared.pluginmanager"):
        pm = build_plugin_manager(builtin.BUILTIN, disabled=["form_02_02", "form_02_2",
                                                             "route_primry"])
    assert pm.is_blocked("form_02_02")
    [warning] = [r for r in caplog.records if "NWS_DISABLE_PLUGINS" in r.getMessage()]
    assert warning.levelno == logging.WARNING
    assert "names no plugin: form_02_2, route_primry" in warning.getMessage()
    assert warning.unknown_plugins == "form_02_2,route_primry"


def test_known_names_in_nws_disable_plugins_do_not_warn(caplog):
    with caplog.at_level(logging.WARNING, logger="shared.pluginmanager"):
        build_plugin_manager(builtin.BUILTIN, disabled=["form_02_02"])
    assert not [r for r in caplog.records if "NWS_DISABLE_PLUGINS" in r.getMessage()]


def test_settings_pass_nws_disable_plugins_to_the_warning(tmp_path, caplog):
    from nws.runtime import Runtime
    from tests.conftest import embedded_settings

    with caplog.at_level(logging.WARNING, logger="shared.pluginmanager"):
        runtime = Runtime(embedded_settings(tmp_path / "var",
                                            env={"NWS_DISABLE_PLUGINS": "form_99_99"}), ())
    runtime.close()
    assert any("names no plugin: form_99_99" in r.getMessage() for r in caplog.records)


# --- the plugin set each process reports ---------------------------------------------------

class Extra:
    __version__ = "2.1"

    @hookspecs.hookimpl
    def nws_validate_form(self, code, data, context):
        return None


def test_the_plugin_set_names_versions_and_a_digest_that_changes_with_the_set():
    pm = build_plugin_manager(builtin.BUILTIN)
    first = plugin_set(pm)
    assert {"name": "route_primary", "version": first["plugins"][0]["version"]} in first["plugins"]
    assert plugin_set(build_plugin_manager(builtin.BUILTIN))["digest"] == first["digest"]
    pm.register(Extra(), name="extra")
    second = plugin_set(pm)
    assert {"name": "extra", "version": "2.1"} in second["plugins"]
    assert second["digest"] != first["digest"]


def test_readyz_and_metrics_report_the_plugin_set(idle_suite):
    expected = idle_suite.runtime.plugin_set()
    body = idle_suite.client.get("/readyz").get_json()
    assert body["plugins"] == expected
    metrics = idle_suite.client.get("/metrics").get_data(as_text=True)
    assert (f'nws_plugin_set_info{{digest="{expected["digest"]}",'
            f'plugins="{len(expected["plugins"])}"}} 1.0') in metrics


def test_nws_status_flags_a_worker_whose_plugin_set_differs(idle_suite, monkeypatch,
                                                          capsys):
    from nws import cli

    runtime = idle_suite.runtime
    own = runtime.plugin_set()
    other = {"digest": "0" * 16, "plugins": [p for p in own["plugins"]
                                             if p["name"] != "form_02_02"]
             + [{"name": "extra_form", "version": "1.0"}]}
    replies = [{"intake@a": own}, {"review@b": other}]
    monkeypatch.setattr(runtime.celery.control, "broadcast",
                        lambda command, **kw: replies if command == "nws_plugins" else [])
    # (this suite's embedded worker never started: say workers may answer)
    monkeypatch.setattr(cli, "_workers_may_answer", lambda runtime: True)
    cli._plugin_sets(runtime, timeout=0.1)
    out = capsys.readouterr().out
    assert f"plugins: {own['digest']}" in out
    assert "intake@a: same" in out
    line = next(line for line in out.splitlines() if "review@b" in line)
    assert "DIFFERS" in line and "only there: extra_form 1.0" in line
    assert "missing there: form_02_02" in line


def test_the_worker_answers_the_nws_plugins_inspect_command(idle_suite):
    from types import SimpleNamespace

    from nws.runtime import nws_plugins

    state = SimpleNamespace(consumer=SimpleNamespace(app=idle_suite.runtime.celery))
    assert nws_plugins(state) == idle_suite.runtime.plugin_set()
