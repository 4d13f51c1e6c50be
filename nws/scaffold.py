"""``nws plugins new NAME``: a plugin package to start from (docs/plugins.md).

The package registers itself in the ``nws`` entry-point group, provides one optional form
(a workbook with the common header, a list sheet and validators) and one router that
changes nothing until it is told to, and has tests written with :mod:`nws.testing` that
pass as generated.
"""
from __future__ import annotations

import keyword
import re
import string
import sys
from pathlib import Path
from typing import Iterable

from shared.pluginmanager import ENTRY_POINT_GROUP

CODE_RE = re.compile(r"^\d{2}-\d{2}$")
# The suite's own top-level packages, which a plugin package must not shadow.
SUITE_PACKAGES = ("nws", "shared", "services", "plugins", "tests")


class ScaffoldError(ValueError):
    """Why the plugin cannot be made (one line for the person who asked)."""


def check_name(name: str) -> None:
    if not name.isidentifier() or keyword.iskeyword(name) or not name.isascii():
        raise ScaffoldError(f"{name!r} is not a valid Python package name (letters, digits "
                            "and _, not starting with a digit), e.g. my_pref_checks")
    if name in SUITE_PACKAGES or name in sys.stdlib_module_names:
        raise ScaffoldError(f"{name!r} is the name of an existing package; choose another, "
                            "e.g. my_pref_checks")


def free_code(taken: Iterable[str], sheets: Iterable[str]) -> str:
    """The first form code 99-01, 99-02, … that no loaded form uses (nor its sheets)."""
    taken, sheets = set(taken), set(sheets)
    for n in range(1, 100):
        code = f"99-{n:02d}"
        if code not in taken and f"様{code}" not in sheets and f"様{code}一覧" not in sheets:
            return code
    raise ScaffoldError("every form code 99-01 … 99-99 is taken; give one with --code")


def loaded_forms() -> tuple[set[str], set[str]]:
    """The form codes and workbook sheet names of the suite as installed here (built-in
    plugins and every installed ``nws`` plugin)."""
    from pluggy import PluginValidationError

    import plugins
    from shared.pluginmanager import PluginError, build_plugin_manager, form_specs

    try:
        specs = form_specs(build_plugin_manager(plugins.BUILTIN))
    except (PluginError, PluginValidationError) as exc:
        raise ScaffoldError(f"the installed plugins cannot be loaded, so a free form code "
                            f"cannot be chosen: {exc}") from None
    sheets = {s for spec in specs.values() if spec.layout is not None
              for s in spec.layout.sheets}
    return set(specs), sheets


def new_plugin(name: str, target: Path, code: str | None = None) -> list[Path]:
    """Write the plugin package ``name`` into ``target`` (created; an existing folder
    must be empty); returns the files written."""
    check_name(name)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} already exists and is not an empty folder")
    taken, sheets = loaded_forms()
    if code is None:
        code = free_code(taken, sheets)
    elif not CODE_RE.match(code):
        raise ScaffoldError(f"form code {code!r} is not of the form NN-NN, e.g. 99-01")
    elif code in taken or f"様{code}" in sheets:
        raise ScaffoldError(f"form code {code} is already provided by a loaded plugin")
    values = {"name": name, "dist": name.replace("_", "-"), "code": code,
              "group": ENTRY_POINT_GROUP, "code_id": code.replace("-", "")}
    written = []
    for relative, template in TEMPLATES.items():
        path = target / string.Template(relative).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(string.Template(template).substitute(values), encoding="utf-8")
        written.append(path)
    return written


PYPROJECT = '''\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "${dist}"
version = "0.1.0"
description = "A plugin of the NWS connection-application suite: form ${code} and a router"
requires-python = ">=3.11"
dependencies = ["nws-suite"]

[project.optional-dependencies]
test = ["pytest>=8.3"]

# How the suite finds the plugin: the entry point's name is the plugin's name (what
# `nws plugins` lists and NWS_DISABLE_PLUGINS takes).
[project.entry-points.${group}]
${name} = "${name}"

[tool.setuptools.packages.find]
include = ["${name}*"]

[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = "-ra --strict-markers"
'''

README = '''\
# ${name}

A plugin of the NWS connection-application suite (申請処理機能), made by
`nws plugins new ${name}`. It provides

- form ${code} (`${name}/form.py`): its JSON schema, its workbook (the common header, a
  sheet of rows) and its validators; optional for every application;
- a router (`${name}/router.py`) that sends the 一次審査 of the organisations listed in
  `PRIMARY_REVIEWERS` to another reviewer, and leaves every other case to the built-in
  routers (the list is empty: installed as generated, it changes no routing).

Install it next to the suite and run its tests (the fixtures come from `nws.testing`,
installed with the suite):

    pip install -e .
    pytest

`nws plugins` then lists `${name}` and form ${code}. The suite's docs/plugins.md
describes every hook, its arguments (`shared.hooktypes`) and what happens when a plugin
fails.
'''

INIT = '''\
"""${name}: a plugin of the NWS connection-application suite (form ${code}, a router).

The suite registers this module (entry point `${name}` in the `${group}` group); its
hook implementations are the functions below."""
from ${name}.form import nws_form_specs
from ${name}.router import nws_review_route

__all__ = ["nws_form_specs", "nws_review_route"]
'''

FORM = '''\
"""Form ${code}: 追加確認事項 — rows of checks, each 実施 or 未実施, and a note."""
from __future__ import annotations

from typing import Iterable

from marshmallow import fields, validate

from plugins.forms.common import (TEXT_FREE, FormBaseSchema, body_fields, check_common,
                                  layout)
from shared import workbook as wbk
from shared.hookspecs import (ERROR, WARNING, Finding, FormContext, FormData, FormSpec,
                              OrgRef, hookimpl)
from shared.schemas import BaseSchema

CODE = "${code}"
TITLE = "追加確認事項（${name}）"
RESULTS = ("実施", "未実施")


class CheckRowSchema(BaseSchema):
    item = fields.String(required=True, validate=validate.Length(min=1, max=200),
                         metadata={"label": "確認項目", **TEXT_FREE})
    result = fields.String(required=True, validate=validate.OneOf(
        RESULTS, error="結果は 実施 / 未実施 のいずれかを選んでください。"),
        metadata={"label": "結果"})


class Form${code_id}Schema(FormBaseSchema):
    """The JSON twin of the workbook (also the body of PUT .../forms/${code})."""

    note = fields.String(required=True, validate=validate.Length(max=400),
                         metadata={"label": "備考", **TEXT_FREE})
    checks = fields.List(fields.Nested(CheckRowSchema), required=True,
                         metadata={"label": "確認項目一覧"})


LAYOUT = layout(
    CODE, TITLE, section="追加確認事項",
    fields=body_fields(("note", "備考")),
    tables=(wbk.Table(f"様{CODE}一覧", "checks", "確認項目一覧",
                      (wbk.Column("item", "確認項目", width=40),
                       wbk.Column("result", "結果", kind=wbk.CHOICE, choices=RESULTS))),),
    prefill=lambda org: {"note": "", "checks": []},
    schema=Form${code_id}Schema)


def check_rows(data: FormData, context: FormContext) -> Iterable[Finding]:
    """At least one row (an error); a row 未実施 is shown as a warning."""
    if not data["checks"]:
        yield Finding(f"{CODE}.checks.empty", ERROR, "checks",
                      "確認項目を 1 行以上記入してください。")
    for i, row in enumerate(data["checks"]):
        if row["result"] == "未実施":
            yield Finding(f"{CODE}.checks.not_done", WARNING, f"checks[{i}].result",
                          f"確認項目「{row['item']}」が未実施です。実施予定を備考に記入してください。")


def required_for(kind: str, org: OrgRef) -> bool:
    """Which applications must include the form: none (it is optional)."""
    return False


@hookimpl
def nws_form_specs() -> list[FormSpec]:
    return [FormSpec(code=CODE, title=TITLE, schema=Form${code_id}Schema,
                     required_for=required_for,
                     validators=(check_common(CODE), check_rows), layout=LAYOUT)]
'''

ROUTER = '''\
"""Routing: the 一次審査 of the organisations in PRIMARY_REVIEWERS goes to the reviewer
named there; every other case is left to the built-in routers (return None)."""
from __future__ import annotations

from shared.hookspecs import Route, RoutedApplication, Stage, hookimpl

# organisation id -> the organisation that does its 一次審査 (e.g. {"131016": "JLIS"}).
# Empty: installed as generated, the plugin changes no routing.
PRIMARY_REVIEWERS: dict[str, str] = {}


@hookimpl
def nws_review_route(application: RoutedApplication, stage: Stage) -> Route | None:
    if stage != "primary":
        return None
    reviewer = PRIMARY_REVIEWERS.get(application["org"]["id"])
    if reviewer is None:
        return None
    return Route(reviewer, "${name} の設定により一次審査の振分け先を変更しています。")
'''

TEST_FORM = '''\
"""Form ${code}, through the suite's own validation (fixtures of nws.testing)."""
from nws.testing import common
from shared.forms import ERROR, WARNING
from shared.pluginmanager import form_specs

from ${name}.form import CODE


def valid(org="131016", **changes):
    return {**common(org), "note": "",
            "checks": [{"item": "外部委託先の監査", "result": "実施"}], **changes}


def test_the_suite_loads_the_form_from_this_plugin(nws_plugin_manager):
    spec = form_specs(nws_plugin_manager)[CODE]
    assert spec.plugin == "${name}"
    assert spec.required_for("connection", {"kind": "市"}) is False


def test_valid_data_has_no_findings(nws_validate):
    assert nws_validate(CODE, valid()) == []


def test_no_rows_is_an_error(nws_validate):
    [finding] = nws_validate(CODE, valid(checks=[]))
    assert (finding.rule, finding.severity) == (f"{CODE}.checks.empty", ERROR)


def test_a_row_not_done_is_a_warning(nws_validate):
    findings = nws_validate(CODE, valid(checks=[{"item": "時刻同期", "result": "未実施"}]))
    assert [(f.severity, f.location) for f in findings] == [(WARNING, "checks[0].result")]


def test_a_value_outside_the_pull_down_is_refused_in_japanese(nws_validate):
    [finding] = nws_validate(CODE, valid(checks=[{"item": "時刻同期", "result": "済"}]))
    assert finding.severity == ERROR and "実施 / 未実施" in finding.message


def test_the_filled_workbook_reads_back_valid(nws_workbook, nws_validate):
    assert nws_validate(CODE, nws_workbook(CODE, valid())) == []


def test_a_form_of_another_organisation_is_refused(nws_validate):
    findings = nws_validate(CODE, valid(org="131024"), org="131016")
    assert [f.rule for f in findings] == [f"{CODE}.org_mismatch"]
'''

TEST_ROUTER = '''\
"""The router, asked exactly as review asks the installed routers (nws.testing)."""
from ${name} import router


def test_other_organisations_are_left_to_the_built_in_routers(nws_route):
    assert nws_route("131016", "primary").org_id == "130001"   # 取りまとめ都道府県


def test_a_listed_organisation_goes_to_its_reviewer(nws_route, monkeypatch):
    monkeypatch.setitem(router.PRIMARY_REVIEWERS, "131016", "JLIS")
    assert nws_route("131016", "primary").org_id == "JLIS"
    assert nws_route("131016", "secondary").org_id == "MIC"   # other stages unchanged
'''

TEMPLATES = {
    "pyproject.toml": PYPROJECT,
    "README.md": README,
    "${name}/__init__.py": INIT,
    "${name}/form.py": FORM,
    "${name}/router.py": ROUTER,
    "tests/test_form.py": TEST_FORM,
    "tests/test_router.py": TEST_ROUTER,
}
