"""A status report from review or master locks the application and changes its status
and history; it reads neither the forms' data nor the history entries, which only the
pages and the registration need (the largest CPU cost of the intake worker in the
national burst, bench/README.md "Load burst"). What the report writes is unchanged."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, select

from services.intake import applications as apps
from services.intake.models import Application, HistoryEntry
from shared.db import utcnow
from tests import factories
from tests.conftest import Suite


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("intake-status-reports") / "var")
    yield s
    s.close()


def report(app_id: int, status: str, event_name: str, **extra) -> dict:
    return {"application_id": app_id, "round": 1, "status": status, "event": event_name,
            "at": utcnow().isoformat(), "stage": "primary", "reviewer_org_id": "13",
            "actor": None, "comment": None, **extra}


class Statements:
    """The SQL statements a block of code sends (an engine event; this thread's only:
    the suite's worker thread goes on with its own)."""

    def __init__(self, engine):
        self.engine, self.seen, self.thread = engine, [], threading.get_ident()

    def _note(self, conn, cursor, statement, *args):
        if threading.get_ident() == self.thread:
            self.seen.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._note)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._note)

    def reading(self, table: str) -> list[str]:
        return [s for s in self.seen if s.lstrip().upper().startswith("SELECT")
                and f"FROM {table}" in s]


def submitted_with_forms(suite) -> int:
    headers = suite.headers("demo-applicant")
    app_id = factories.create_application(suite.client, headers)
    factories.put_forms(suite.client, headers, app_id, factories.all_forms())
    ctx = suite.ctx("intake")
    with ctx.transaction() as session:
        app = session.get(Application, app_id)
        app.status, app.round = "submitted", 1
    return app_id


def test_a_status_report_reads_neither_the_forms_nor_the_history(suite):
    app_id = submitted_with_forms(suite)
    ctx = suite.ctx("intake")
    with Statements(ctx.db.engine) as sql:
        with ctx.transaction() as session:
            apps.apply_status_change(ctx, session, report(app_id, "primary_review", "routed"),
                                     ctx.plugins)
    assert sql.reading("intake_forms") == []
    assert sql.reading("intake_history") == []
    with ctx.transaction() as session:
        app = session.get(Application, app_id)
        assert (app.status, app.stage, app.reviewer_org_id) == ("primary_review", "primary",
                                                                  "13")
        assert app.routes == {"primary": "13"}
        assert [h.event for h in app.history][-1] == "routed"
        assert len(app.forms) == len(factories.all_forms())   # the forms are untouched


def test_the_locked_application_reads_its_forms_and_history_when_they_are_used(suite):
    app_id = submitted_with_forms(suite)
    ctx = suite.ctx("intake")
    with ctx.transaction() as session:
        app = apps.lock_application(session, app_id)
        apps.history(session, app, "note", comment="追加")
        session.flush()
        # read on first use, in the same transaction: the entry just added is there
        assert sorted(f.code for f in app.forms) == sorted(factories.all_forms())
        assert "note" in [h.event for h in app.history]
    with ctx.transaction() as session:
        events = session.scalars(select(HistoryEntry.event).where(
            HistoryEntry.application_id == app_id)).all()
        assert events.count("note") == 1
