"""Test data in one place: form payloads and the steps of an application."""
from __future__ import annotations

from nws.testing import WRITER, form_02_01, form_02_02  # noqa: F401  (re-exported for tests)
from services.identity.seed import DEMO_PASSWORD  # noqa: F401  (re-exported for tests)


def all_forms(org: str = "131016") -> dict[str, dict]:
    """Every form a 接続申請 requires."""
    from nws.testing import required_forms

    return required_forms(org)


OPEN_LIFECYCLE = ("draft", "returned", "validating", "submitted", "forwarding",
                  "primary_review", "secondary_review")


def withdraw_open(client, headers, timeout: float = 90.0) -> None:
    """Withdraw the organisation's open connection or change application, if any, and
    wait until it is withdrawn (or registered, when a decision came first): an
    organisation has one open application at a time, so a test that wants a new one
    ends the previous one as an applicant would."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        items = client.get("/api/intake/applications", headers=headers).get_json()["items"]
        waiting = [a for a in items if a["kind"] in ("connection", "change")
                   and a["status"] in OPEN_LIFECYCLE + ("approved",)]
        if not waiting:
            return
        for a in waiting:
            if a["status"] in OPEN_LIFECYCLE:
                client.post(f"/api/intake/applications/{a['id']}/withdraw", headers=headers)
        assert time.monotonic() < deadline, f"open applications not withdrawn: {waiting}"
        time.sleep(0.05)


def create_application(client, headers, kind: str = "connection") -> int:
    res = client.post("/api/intake/applications", json={"kind": kind}, headers=headers)
    if res.status_code == 409 and res.get_json()["error"]["code"] == "application_open":
        withdraw_open(client, headers)
        res = client.post("/api/intake/applications", json={"kind": kind}, headers=headers)
    assert res.status_code == 201, res.get_json()
    return res.get_json()["id"]


def put_forms(client, headers, app_id: int, forms: dict[str, dict]) -> None:
    for code, data in forms.items():
        res = client.put(f"/api/intake/applications/{app_id}/forms/{code}", json=data,
                         headers=headers)
        assert res.status_code == 202, res.get_json()


PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def attach_pdf(client, headers, app_id: int, name: str = "条例.pdf", title: str = "",
               content: bytes = PDF):
    """POST an attachment; the response."""
    import io

    return client.post(f"/api/intake/applications/{app_id}/attachments", headers=headers,
                       data={"file": (io.BytesIO(content), name), "title": title},
                       content_type="multipart/form-data")


def attach_evidence(client, headers, app_id: int, forms: dict[str, dict]) -> dict[str, dict]:
    """Attach the 規約 the 様03-08 builders name (form_data.EVIDENCE) and check その他 on
    様03-06, as an applicant filing delegation rows does; the forms to PUT."""
    from tests.form_data import EVIDENCE

    res = attach_pdf(client, headers, app_id, "事務の委託に関する規約.pdf", "事務の委託に関する規約")
    assert res.status_code == 201 and res.get_json()["id"] == EVIDENCE, res.get_json()
    forms = dict(forms)
    if "03-06" in forms:
        listed = forms["03-06"]["attached_forms"]
        forms["03-06"] = {**forms["03-06"], "attached_forms": [*listed, "other"]
                          if "other" not in listed else listed}
    return forms
