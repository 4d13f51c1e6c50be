"""Validating one form, or a whole application, through the built-in plugins."""
from __future__ import annotations

import pytest

import plugins
from nws.testing import EXAMPLE_UNION, form_context, org_ref
from services.intake import validation
from shared.forms import FormContext
from shared.pluginmanager import build_plugin_manager
from tests import form_data

CHIYODA = org_ref("131016")
KOUKI = dict(EXAMPLE_UNION)


@pytest.fixture(scope="session")
def pm():
    return build_plugin_manager(plugins.BUILTIN)


def context(forms=None, org=CHIYODA, attachments=(), selection=None, kind="connection",
            registered=None) -> FormContext:
    return form_context(org, forms, kind=kind, attachments=attachments, selection=selection,
                        registered=registered)


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
