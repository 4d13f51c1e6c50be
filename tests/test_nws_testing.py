"""nws.testing, the pytest plugin shipped for plugin authors: its fixtures build valid
data for any organisation, validate JSON and filled workbooks as intake does, and route
an application through the installed routers."""
from __future__ import annotations

import io

import openpyxl
import pytest

from shared.forms import ERROR, Route

# One organisation of each kind and branch (and the example 後期高齢者医療広域連合).
ORGS = ["010006", "010006-BOE", "011002", "011002-BOE", "012025", "013030", "013048",
        "131016", "131016-BOE", "U13-0001"]


def errors(findings) -> list:
    return [f for f in findings if f.severity == ERROR]


@pytest.mark.parametrize("org", ORGS)
def test_the_required_forms_are_valid_for_any_organisation(org, nws_form_data,
                                                           nws_validate_application):
    forms = {code: nws_form_data(code, org) for code in
             ("02-01", "02-02", "02-06", "03-06", "03-07", "03-08")}
    assert {data["org"] for data in forms.values()} == {org}
    per_form, overall = nws_validate_application(forms, org=org)
    assert {code: errors(found) for code, found in per_form.items()} == {
        code: [] for code in forms}
    assert errors(overall) == []


def test_nws_org_describes_an_organisation_as_plugins_see_it(nws_org):
    assert nws_org("131016-BOE") == {
        "id": "131016-BOE", "name": "東京都千代田区教育委員会", "kind": "特別区",
        "branch": "board_of_education", "prefecture_code": "130001", "parent_id": "131016"}
    with pytest.raises(KeyError, match="no organisation '999999'"):
        nws_org("999999")


def test_nws_validate_finds_what_intake_finds_in_json(nws_form_data, nws_validate):
    assert nws_validate("02-01", nws_form_data("02-01")) == []
    data = nws_form_data("02-01", system_chief={"title": "", "name": "山田 一郎"})
    [finding] = nws_validate("02-01", data)
    assert (finding.severity, finding.location) == (ERROR, "system_chief.title")


def test_nws_validate_reads_a_filled_workbook(nws_form_data, nws_validate, nws_workbook,
                                              tmp_path):
    body = nws_workbook("02-01", nws_form_data("02-01"))
    assert nws_validate("02-01", body) == []
    wb = openpyxl.load_workbook(io.BytesIO(body))
    sheet = wb["様02-01"]
    [chief] = [c for row in sheet.iter_rows() for c in row if c.value == "情報政策担当部長"]
    chief.value = None      # 情報システム責任者's 役職名 left blank
    path = tmp_path / "様02-01.xlsx"
    wb.save(path)
    found = errors(nws_validate("02-01", path))
    assert found and all(f.message.startswith(f"「様02-01」シート {chief.coordinate}")
                         for f in found), found


def test_nws_route_asks_the_installed_routers(nws_route):
    assert nws_route("131016", "primary") == Route(
        "130001", "一次審査は取りまとめ都道府県が行います。")
    assert nws_route("130001", "primary").org_id == "JLIS"
    assert nws_route("131016-BOE", "forwarding").org_id == "131016"
    assert nws_route("131016", "forwarding").org_id is None
    assert nws_route("131016", "secondary").org_id == "MIC"


def test_the_fixtures_come_with_the_suite_for_pytest(pytestconfig):
    assert pytestconfig.pluginmanager.has_plugin("nws.testing") or \
        pytestconfig.pluginmanager.has_plugin("nws")


def test_every_fixture_and_hook_type_is_in_the_plugin_guide():
    import typing
    from pathlib import Path

    import nws.testing
    from shared import hooktypes

    guide = (Path(__file__).parents[1] / "docs" / "plugins.md").read_text()
    fixtures = [name for name in dir(nws.testing) if name.startswith("nws_")]
    assert fixtures and [f for f in fixtures if f"`{f}`" not in guide] == []
    types = [name for name, value in vars(hooktypes).items() if typing.is_typeddict(value)
             and name not in ("HookResult", "RowChanges", "VersionSource",
                              "SelectedIndependentAffair")]
    assert [t for t in types if f"`{t}`" not in guide] == []
