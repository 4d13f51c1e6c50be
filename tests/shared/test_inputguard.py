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
