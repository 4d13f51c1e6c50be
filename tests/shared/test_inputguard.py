"""Input that could wedge something is refused at the door, in Japanese, with nothing
stored: lone surrogates and NUL in JSON, forms and query strings; JSON nested too deep;
ids beyond the database's integer range."""
from __future__ import annotations

import re

import pytest

from tests import factories

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _form_with(value: str) -> dict:
    return factories.form_02_01(system_chief={"title": "部長", "name": value})


@pytest.mark.parametrize("value, what", [("山田\ud800", "サロゲート"), ("山田\x00", "NUL")])
def test_a_form_with_a_lone_surrogate_or_nul_is_refused_and_nothing_stored(idle_suite, value, what):
    s = idle_suite
    h = s.headers("demo-applicant")
    app_id = factories.create_application(s.client, h)
    import json

    body = json.dumps(_form_with(value))          # ASCII-escaped: "\\ud800" / "\\u0000"
    res = s.client.put(f"/api/intake/applications/{app_id}/forms/02-01", data=body,
                       content_type="application/json", headers=h)
    assert res.status_code == 400, res.get_json()
    error = res.get_json()["error"]
    assert error["code"] == "invalid_characters" and what in error["message"]
    assert "system_chief.name" in error["message"]
    assert s.get_app(app_id)["forms"] == {}


def test_json_nested_too_deep_is_400_in_japanese(idle_suite):
    s = idle_suite
    for depth in (40, 100_000):
        body = "[" * depth + "]" * depth
        res = s.client.post("/api/auth/token", data=body, content_type="application/json")
        assert res.status_code == 400, (depth, res.status_code)
        assert JAPANESE.search(res.get_json()["error"]["message"])


def test_nul_in_a_query_string_or_page_form_is_refused(idle_suite):
    s = idle_suite
    res = s.client.get("/api/review/queue?status=%00", headers=s.headers("demo-pref"))
    assert res.status_code == 400 and "NUL" in res.get_json()["error"]["message"]
    res = s.client.post("/auth/login", data={"login": "demo\x00", "password": "x"})
    assert res.status_code == 400


def test_a_multipart_part_without_a_name_is_no_server_error(idle_suite):
    # found by the schemathesis run: werkzeug files a nameless part under the key None
    s = idle_suite
    h = s.headers("demo-applicant")
    app_id = factories.create_application(s.client, h)
    body = (b"--b\r\nContent-Disposition: form-data\r\n\r\nab\r\n"
            b'--b\r\nContent-Disposition: form-data; name="a\\"\r\n\r\ncd\r\n--b--\r\n')
    for path in (f"/api/intake/applications/{app_id}/attachments",
                 f"/api/intake/applications/{app_id}/uploads"):
        res = s.client.post(path, data=body, content_type="multipart/form-data; boundary=b",
                            headers=h)
        assert res.status_code == 400, (path, res.get_json())
        assert JAPANESE.search(res.get_json()["error"]["message"])


@pytest.mark.parametrize("limit", [0, 7, 10, 99, 100, 305, 1000, 2024])
def test_the_id_pattern_takes_exactly_the_numbers_up_to_its_limit(limit):
    from shared.inputguard import digits_up_to

    pattern = re.compile(digits_up_to(limit) + r"\Z")
    assert [n for n in range(limit * 3 + 20) if pattern.match(str(n))] == list(range(limit + 1))
    assert pattern.match("000" + str(limit))


def test_the_id_pattern_stops_at_the_database_integer():
    from shared.inputguard import PG_INT_MAX, digits_up_to

    pattern = re.compile(digits_up_to(PG_INT_MAX) + r"\Z")
    for n in (0, 999_999_999, 1_999_999_999, 2_147_483_639, PG_INT_MAX):
        assert pattern.match(str(n)), n
    for n in (PG_INT_MAX + 1, 2_147_483_650, 2_147_483_700, 2_200_000_000, 10 ** 10, 2 ** 64):
        assert not pattern.match(str(n)), n


def test_an_id_beyond_the_integer_range_is_404_where_another_method_exists(idle_suite):
    # found by the schemathesis run: werkzeug answered 405 (Allow: PUT) when the GET
    # rule's converter refused the id after the PUT rule had matched the path
    s = idle_suite
    for method, path, login in (
            ("GET", "/api/intake/applications/2147483648/selection", "demo-applicant"),
            ("PUT", "/api/intake/applications/2147483648/selection", "demo-applicant"),
            ("DELETE", "/api/master/subscriptions/99999999999999999999", "demo-operator"),
            ("GET", "/api/master/subscriptions/99999999999999999999", "demo-operator")):
        res = s.client.open(path, method=method, json={}, headers=s.headers(login))
        assert res.status_code == 404, (method, path, res.status_code)
        assert JAPANESE.search(res.get_json()["error"]["message"])


def test_an_id_beyond_the_integer_range_is_404(idle_suite):
    s = idle_suite
    h = s.headers("demo-applicant")
    for path in ("/api/intake/applications/99999999999999999999",
                 "/api/intake/applications/2147483648"):
        res = s.client.get(path, headers=h)
        assert res.status_code == 404, path
        assert JAPANESE.search(res.get_json()["error"]["message"])
    assert s.client.get("/api/intake/applications/2147483647", headers=h).status_code == 404


@pytest.mark.parametrize("path, login", [
    ("/api/review/queue?min_age_days=²", "demo-pref"),
    ("/api/review/queue?min_age_days=99999999999999999999", "demo-pref"),
    ("/api/master/versions/1/diff?from=²", "demo-mic"),
])
def test_non_ascii_or_huge_digits_in_parameters_are_a_clear_4xx(idle_suite, path, login):
    s = idle_suite
    res = s.client.get(path, headers=s.headers(login))
    assert 400 <= res.status_code < 500, (path, res.status_code)
