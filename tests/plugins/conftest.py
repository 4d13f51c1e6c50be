"""Validating one form, or a whole application, through the built-in plugins."""
from __future__ import annotations

import pytest

import plugins
from services.intake import validation
from shared.forms import FormContext
from shared.pluginmanager import build_plugin_manager
from tests import form_data

CHIYODA = {"id": "131016", "name": "東京都千代田区", "kind": "特別区", "branch": "executive",
           "prefecture_code": "130001", "parent_id": None}
KOUKI = {"id": "U13-0001", "name": "東京都後期高齢者医療広域連合（例）",
         "kind": "後期高齢者医療広域連合", "branch": "union", "prefecture_code": "130001",
         "parent_id": None}


@pytest.fixture(scope="session")
def pm():
    return build_plugin_manager(plugins.BUILTIN)


def context(forms=None, org=CHIYODA, attachments=(), selection=None, kind="connection",
            registered=None) -> FormContext:
    return FormContext(application={"id": 1, "kind": kind, "org_id": org["id"]},
                       org=org, forms=forms or {}, attachments=list(attachments),
                       selection=selection, registered=registered or {})


@pytest.fixture
def check(pm):
    """check(code, data, **context) -> findings of that one form."""
    def run(code, data, **kw):
        return validation.validate_form(pm, code, data, context(**kw))
    return run


@pytest.fixture
def check_app(pm):
    """check_app(forms, **context) -> the whole-application findings."""
    def run(forms, **kw):
        _, overall = validation.validate_application(
            pm, {"id": 1, "kind": "connection", "org_id": kw.get("org", CHIYODA)["id"]},
            forms, context(forms, **kw))
        return overall
    return run


def rules(findings) -> list[tuple[str, str, str]]:
    """(rule, severity, location) of each finding."""
    return [(f.rule, f.severity, f.location) for f in findings]


def all_forms(**replace):
    forms = form_data.required_forms()
    forms.update(replace)
    return forms
