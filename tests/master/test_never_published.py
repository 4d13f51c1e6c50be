"""緊急連絡先 never leave the master: not in any API answer or page (to MIC, operators,
other organisations or subscribers), not in exports, not in subscriber deliveries, not in
what the master tells plugins or other services. The directory of 通常連絡先 is for every
logged-in user.

Every endpoint of the master API and every master page is called (the test fails when one is added and
not covered here), in both publication modes, with three organisations whose 緊急連絡先
are stored in the restricted table."""
from __future__ import annotations

import io
import json
import zipfile
from urllib.parse import urlsplit

import pytest
from openpyxl import load_workbook

from shared import hookspecs
from services.master.models import Outbox, RestrictedContact
from tests.conftest import Suite, wait_for
from tests.master import approved
from tests.master.approved import EMERGENCY, EMERGENCY_SECRETS
from tests.master.receivers import Receiver, signed
from tests.pages.support import client_for

CHANGED_EMERGENCY = {"priority": 1, "name": "千代田 三郎", "phone": "070-4444-0004",
                     "email": "kinkyu-new@example.jp"}
SECRETS = EMERGENCY_SECRETS + [CHANGED_EMERGENCY["phone"], CHANGED_EMERGENCY["email"],
                               # names used nowhere else in the test data
                               EMERGENCY["131024"]["name"], EMERGENCY["131016-BOE"]["name"],
                               CHANGED_EMERGENCY["name"]]


class Published:
    """A plugin recording what the master hands to nws_master_published."""

    def __init__(self):
        self.calls = []

    @hookspecs.hookimpl
    def nws_master_published(self, version, changes):
        self.calls.append({"version": version, "changes": changes})


def text_of(res) -> str:
    """Everything a response carries, as text (archives and workbooks opened)."""
    parts = [json.dumps(dict(res.headers), ensure_ascii=False)]
    if res.mimetype == "application/zip":
        with zipfile.ZipFile(io.BytesIO(res.data)) as zf:
            parts += [zf.read(n).decode("utf-8-sig") for n in zf.namelist()]
    elif res.mimetype.endswith("spreadsheetml.sheet"):
        wb = load_workbook(io.BytesIO(res.data), read_only=True)
        parts += [json.dumps(row, ensure_ascii=False, default=str)
                  for ws in wb.worksheets for row in ws.iter_rows(values_only=True)]
    elif res.mimetype == "application/json":
        parts.append(readable(res.data))
    else:
        parts.append(res.data.decode())
    return "\n".join(parts)


def readable(data: bytes) -> str:
    """JSON re-written without \\u escapes, so Japanese text is searched as written."""
    return json.dumps(json.loads(data), ensure_ascii=False)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    snapshot, diff = Receiver(), Receiver()
    suite = Suite(tmp_path_factory.mktemp("never") / "var",
                  # the receivers listen on this machine
                  env={"NWS_OUTBOUND_ALLOW": "127.0.0.0/8"})
    plugin = Published()
    suite.runtime.plugins.register(plugin, name="published-recorder")
    answers: dict[str, str] = {}
    bodies: dict[str, bytes] = {}
    endpoints: set[str] = set()
    adapter = suite.app.url_map.bind("localhost")

    def call(name, method, path, login="demo-operator", headers=None, **kw):
        endpoint, _ = adapter.match(urlsplit(path).path, method=method.upper())
        endpoints.add(endpoint)
        hdrs = suite.headers(login) if headers is None else headers
        res = getattr(suite.client, method)(path, headers=hdrs, **kw)
        assert res.status_code < 300, (name, res.status_code, res.data[:300])
        answers[name] = text_of(res)
        bodies[name] = res.data
        return res

    try:
        subs = {"snapshot": call("subscribe snapshot", "post", "/api/master/subscriptions",
                                 json={"url": snapshot.url, "mode": "snapshot"}).get_json(),
                "diff": call("subscribe diff", "post", "/api/master/subscriptions",
                             json={"url": diff.url, "mode": "diff"}).get_json()}
        approved.register(suite, approved.payload("131016"), 1)
        wait_for(lambda: diff.requests, what="delivery of v1")
        body = json.dumps({"version": 1}).encode()
        call("ack", "post", f"/api/master/subscriptions/{subs['diff']['id']}/ack",
             headers=signed(subs["diff"]["secret"], body), data=body,
             content_type="application/json")
        call("batched", "put", "/api/master/publication", json={"mode": "batched"})
        change = approved.forms("131016", full=False)
        change["02-02"]["emergency_contacts"] = [CHANGED_EMERGENCY]
        for body_ in (approved.payload("131024"), approved.payload("131016-BOE"),
                      approved.payload("131016", {"02-02": change["02-02"]}, kind="change")):
            approved.send(suite, body_)
        wait_for(lambda: approved.pending_count(suite) == 3, what="prepared registrations")
        call("publication with pending", "get", "/api/master/publication")
        call("配信", "post", "/api/master/publications")
        call("immediate", "put", "/api/master/publication", json={"mode": "immediate"})
        for receiver in (snapshot, diff):
            wait_for(lambda: len(receiver.requests) == 2, what="deliveries of v1 and v2")
        for n in (1, 2):
            call(f"version {n}", "get", f"/api/master/versions/{n}", "demo-mic")
            for fmt in ("json", "zip", "xlsx"):
                call(f"export {n} {fmt}", "get", f"/api/master/versions/{n}/export.{fmt}")
        call("versions", "get", "/api/master/versions", "demo-mic")
        for a, b in ((0, 1), (1, 2), (0, 2), (2, 1)):
            call(f"diff {a}->{b}", "get", f"/api/master/versions/{b}/diff?from={a}")
        for login in ("demo-applicant", "demo-boe", "demo-pref", "demo-mic", "demo-operator"):
            call(f"contacts as {login}", "get", "/api/master/contacts", login)
        call("subscriptions", "get", "/api/master/subscriptions")
        for kind, sub in subs.items():
            base = f"/api/master/subscriptions/{sub['id']}"
            call(f"{kind} subscription", "get", base, headers=signed(sub["secret"]))
            call(f"{kind} deliveries", "get", f"{base}/deliveries", headers=signed(sub["secret"]))
            for query in ("", "?mode=snapshot", "?mode=diff&from=0", "?version=1"):
                call(f"{kind} pull{query}", "get", f"{base}/pull{query}",
                     headers=signed(sub["secret"]))
        call("publication", "get", "/api/master/publication")
        for login in ("demo-mic", "demo-operator"):
            call(f"self-check as {login}", "get", "/api/master/self-checks/131016", login)
        pages = client_for(suite, "demo-operator")
        for path in ("/master/", "/master/versions/1", "/master/versions/2",
                     "/master/versions/2/diff", "/master/versions/2/diff?from=0",
                     *(f"/master/subscribers/{sub['id']}" for sub in subs.values())):
            endpoints.add(adapter.match(urlsplit(path).path, method="GET")[0])
            res = pages.get(path)
            assert res.status_code == 200, (path, res.status_code)
            answers[f"page {path}"] = res.get_data(as_text=True)
        for n in (1, 2):
            for fmt in ("json", "zip", "xlsx"):
                path = f"/master/versions/{n}/export.{fmt}"
                endpoints.add(adapter.match(path, method="GET")[0])
                res = pages.get(path)
                assert res.status_code == 200, (path, res.status_code)
                answers[f"page {path}"] = text_of(res)
        call("unsubscribe", "delete", f"/api/master/subscriptions/{subs['snapshot']['id']}")
        for name, receiver in (("snapshot", snapshot), ("diff", diff)):
            for i, req in enumerate(receiver.requests):
                answers[f"delivery to {name} #{i}"] = (
                    json.dumps(req["headers"], ensure_ascii=False) + readable(req["body"]))
        answers["nws_master_published"] = json.dumps(plugin.calls, ensure_ascii=False)
        with suite.ctx("master").db.transaction() as session:
            answers["messages sent by the master"] = json.dumps(
                [o.envelope for o in session.query(Outbox).all()], ensure_ascii=False)
            restricted = {r.org_id: r.data for r in session.query(RestrictedContact).all()}
        master_endpoints = {r.endpoint for r in suite.app.url_map.iter_rules()
                            if r.endpoint.startswith("master_api.") or (
                                r.endpoint.startswith("master_pages.")
                                and "GET" in r.methods)}
        yield {"answers": answers, "restricted": restricted, "endpoints": endpoints,
               "master_endpoints": master_endpoints, "plugin": plugin,
               "bodies": bodies, "contacts": json.loads(bodies["contacts as demo-boe"])}
    finally:
        suite.close()
        snapshot.stop()
        diff.stop()


def test_every_master_endpoint_is_checked_here(outputs):
    assert outputs["master_endpoints"] - outputs["endpoints"] == set()


def test_the_restricted_table_holds_the_emergency_contacts(outputs):
    """They are stored: their absence from every output below means something."""
    assert outputs["restricted"] == {"131016": CHANGED_EMERGENCY,
                                     "131024": EMERGENCY["131024"],
                                     "131016-BOE": EMERGENCY["131016-BOE"]}


def test_the_outputs_cover_both_versions_and_every_channel(outputs):
    answers = outputs["answers"]
    assert len(answers) >= 40
    assert len(outputs["plugin"].calls) == 2
    assert "kinkyu" not in json.dumps(outputs["contacts"])
    assert "03-0000-1310" in answers["export 2 zip"]  # 通常連絡先 are exported


@pytest.mark.parametrize("secret", SECRETS)
def test_no_emergency_contact_appears_in_any_output(outputs, secret):
    leaks = [name for name, text in outputs["answers"].items() if secret in text]
    assert leaks == []


def test_no_output_names_the_emergency_fields(outputs):
    leaks = [name for name, text in outputs["answers"].items()
             if "emergency" in text or "緊急" in text]
    assert leaks == []


def test_the_directory_lists_every_registered_organisations_normal_contacts(outputs):
    contacts = outputs["contacts"]
    assert contacts["version"] == 2
    assert sorted((c["org_id"], c["org_name"], c["phone"]) for c in contacts["items"]) == [
        ("131016", "東京都千代田区", "03-0000-1310"),
        ("131016-BOE", "東京都千代田区教育委員会", "03-0000-1310"),
        ("131024", "東京都中央区", "03-0000-1310")]
    bodies = outputs["bodies"]
    assert len({bodies[f"contacts as {login}"] for login in
                ("demo-applicant", "demo-boe", "demo-pref", "demo-mic", "demo-operator")}) == 1
