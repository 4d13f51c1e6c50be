"""A matching service fed through its message consumers (no worker): delegation
records arrive as ``delegations.submitted`` / ``delegations.withdrawn`` envelopes, and
the ``matching.results`` it publishes are recorded instead of sent."""
from __future__ import annotations

import uuid

import pytest

from nws.app import create_app
from nws.runtime import Runtime
from shared.auth import Principal, issue_token
from shared.db import utcnow
from shared.messaging import task_name
from services.matching import matcher
from tests.conftest import embedded_settings

AUTONOMY = "地方自治法第252条の14"


class RecordingCelery:
    """Stands in for the broker connection only: records what would be published."""

    def __init__(self):
        self.sent: list[tuple[str, dict]] = []

    def send_task(self, name, args=(), queue=None, **_kw):
        self.sent.append((name, args[0]))


def envelope(message_type: str, payload: dict) -> dict:
    msg_id = str(uuid.uuid4())
    return {"v": 1, "id": msg_id, "type": message_type, "version": 1, "sender": "intake",
            "sent_at": utcnow().isoformat(), "correlation_id": msg_id, "payload": payload}


def query(item, delegators, article=AUTONOMY, rule="事務の委託に関する規約", chain=None,
          affair="事務", procedure="委託"):
    row = {"item_no": item, "affair": affair, "procedure": procedure,
           "basis": {"article": article, "rule_title": rule}, "delegators": list(delegators),
           "delegator_confirmed": True, "chain": []}
    if chain:
        row["chain"] = [{"from": f, "to": t, "article": a, "rule_title": r}
                        for f, t, a, r in chain]
    return row


def delegation(info, delegatee, name=None, basis=None):
    row = {"info_no": info, "info_name": name or f"特定個人情報{info}", "delegatee": delegatee}
    if basis:
        row["basis"] = {"article": basis[0], "rule_title": basis[1]}
    return row


def acceptance(info, delegator, article=AUTONOMY, rule="事務の委託に関する規約", name=None,
               chain=None):
    row = {"info_no": info, "info_name": name or f"特定個人情報{info}", "delegator": delegator,
           "basis": {"article": article, "rule_title": rule}}
    if chain:
        row["chain"] = [{"from": f, "to": t, "article": a, "rule_title": r}
                        for f, t, a, r in chain]
    return row


class Matching:
    """Only the matching service (its database, API and Celery tasks), no worker."""

    def __init__(self, data_dir):
        self.runtime = Runtime(embedded_settings(data_dir), services=("matching",))
        self.runtime.migrate()
        self.app = create_app(self.runtime, {"TESTING": True})
        self.client = self.app.test_client()
        self.ctx = self.runtime.services["matching"]
        self.ctx.celery = RecordingCelery()
        self.rounds: dict[int, int] = {}

    def headers(self, org: str, role: str = "applicant") -> dict:
        principal = Principal(1, f"user-{org}-{role}".lower(), org, role, "テスト 花子", "テスト課")
        token, _ = issue_token(principal, self.runtime.settings.secret_key, 3600)
        return {"Authorization": f"Bearer {token}"}

    def submit(self, app_id: int, org: str, *, queries=(), delegations=(), acceptances=(),
               round: int | None = None) -> None:
        rnd = round if round is not None else self.rounds.get(app_id, 0) + 1
        self.rounds[app_id] = max(rnd, self.rounds.get(app_id, 0))
        payload = {"application_id": app_id, "round": rnd, "org_id": org,
                   "query_delegations": list(queries),
                   "provision_delegations": list(delegations),
                   "provision_acceptances": list(acceptances)}
        assert self.task("delegations.submitted")(
            envelope("delegations.submitted", payload)) == "done"

    def withdraw(self, app_id: int, org: str) -> None:
        assert self.task("delegations.withdrawn")(envelope(
            "delegations.withdrawn", {"application_id": app_id, "org_id": org})) == "done"

    def task(self, message_type: str):
        """The service's real Celery task, called in this thread."""
        return self.runtime.celery.tasks[task_name("matching", message_type)]

    def records(self, app_id: int) -> list[dict]:
        with self.ctx.transaction() as session:
            return matcher.results_of(session, app_id)

    def one(self, app_id: int, item: str | None = None) -> dict:
        found = [r for r in self.records(app_id) if item is None or r["item"] == item]
        assert len(found) == 1, found
        return found[0]

    def reported(self) -> dict[int, dict]:
        """The latest matching.results per application published since the last call."""
        out = {}
        for name, env in self.ctx.celery.sent:
            if name == "nws.review.matching.results":
                out[env["payload"]["application_id"]] = env["payload"]
        self.ctx.celery.sent.clear()
        return out


@pytest.fixture
def matching(tmp_path):
    m = Matching(tmp_path / "var")
    yield m
    m.runtime.close()
