"""What the suite really hands to each hook has exactly the shape shared.hooktypes
declares (and shared.hookspecs annotates the hooks with): a plugin records every call
through a whole application's life — form validation, submission, routing at each stage,
registration in the master — and each argument is checked against its declared type."""
from __future__ import annotations

import dataclasses
import typing

import pytest

from nws.testing import shape_problems
from shared import hookspecs, hooktypes
from shared.forms import FormContext
from tests.test_lifecycle_embedded import decide, prepare_submitted

# FormContext's fields, by the types of shared.hooktypes.
CONTEXT_FIELDS = {"application": hooktypes.ContextApplication, "org": hooktypes.OrgRef,
                  "forms": hooktypes.Forms, "attachments": list[str],
                  "selection": hooktypes.Selection | None, "registered": hooktypes.Forms}


class Recorder:
    """Records the arguments of every hook call; decides nothing."""

    def __init__(self):
        self.calls: dict[str, list[dict]] = {}

    def _note(self, hook, **kwargs):
        self.calls.setdefault(hook, []).append(kwargs)

    @hookspecs.hookimpl
    def nws_validate_form(self, code, data, context):
        self._note("nws_validate_form", code=code, data=data, context=context)

    @hookspecs.hookimpl
    def nws_validate_application(self, application, forms, context):
        self._note("nws_validate_application", application=application, forms=forms,
                   context=context)

    @hookspecs.hookimpl(tryfirst=True)
    def nws_review_route(self, application, stage):
        self._note("nws_review_route", application=application, stage=stage)

    @hookspecs.hookimpl
    def nws_master_published(self, version, changes):
        self._note("nws_master_published", version=version, changes=changes)


def problems_of(hook: str, call: dict) -> list[str]:
    """What in one recorded call does not fit the hook's annotations."""
    hints = typing.get_type_hints(getattr(hookspecs, hook))
    out = []
    for name, value in call.items():
        if isinstance(value, FormContext):
            assert set(CONTEXT_FIELDS) == {f.name for f in dataclasses.fields(FormContext)}
            for field, expected in CONTEXT_FIELDS.items():
                out += shape_problems(getattr(value, field), expected, f"{name}.{field}")
        else:
            out += shape_problems(value, hints[name], name)
    return out


@pytest.fixture
def recorded(suite):
    recorder = Recorder()
    suite.runtime.plugins.register(recorder, name="recorder")
    # a saved selection, so that FormContext.selection is the real thing, not None
    app_id = prepare_submitted(suite)
    suite.wait_status(app_id, "primary_review")
    assert decide(suite, "demo-pref", app_id, "承認").status_code == 201
    suite.wait_status(app_id, "secondary_review")
    assert decide(suite, "demo-mic", app_id, "承認").status_code == 201
    suite.wait_status(app_id, "registered")
    suite.runtime.plugins.unregister(name="recorder")
    return recorder.calls


def test_every_hook_receives_the_shapes_hooktypes_declares(recorded):
    assert set(recorded) == {"nws_validate_form", "nws_validate_application",
                             "nws_review_route", "nws_master_published"}
    for hook, calls in recorded.items():
        for call in calls:
            assert problems_of(hook, call) == [], (hook, call)
    stages = [c["stage"] for c in recorded["nws_review_route"]]
    assert stages == ["forwarding", "primary", "secondary"]
    contexts = [c["context"] for c in recorded["nws_validate_form"]]
    assert any(ctx.selection for ctx in contexts), "a real selection was checked too"


def test_a_wrong_shape_is_reported_by_key():
    org = {"id": "131016", "name": "東京都千代田区", "kind": "特別区", "branch": "city",
           "prefecture_code": "130001", "extra": 1}
    assert shape_problems(org, hooktypes.OrgRef, "org") == [
        "org: missing key 'parent_id' (OrgRef)",
        "org: unexpected key 'extra' (OrgRef)",
        "org['branch']: 'city' is not one of ('executive', 'board_of_education', 'union', "
        "'national')"]


def test_every_hook_states_its_result_and_failure():
    hooks = {name for name in dir(hookspecs) if name.startswith("nws_")}
    assert set(hooktypes.HOOK_RESULTS) == hooks
    for name in hooks:
        hints = typing.get_type_hints(getattr(hookspecs, name))
        assert "return" in hints and all(v is not typing.Any for v in hints.values()), name


def test_the_kinds_plugins_see_are_the_registry_kinds():
    from services.intake.registry import read_rows

    kinds = {(row.kind, row.branch) for row in read_rows()}
    assert {kind for kind, _ in kinds} <= set(hooktypes.ORG_KINDS)
    assert {branch for _, branch in kinds} <= set(hooktypes.BRANCHES)
