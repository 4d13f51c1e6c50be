"""Two intake workers apply reports about one application at the same moment, on
PostgreSQL (READ COMMITTED): 総務省's 承認 arriving while the master's 登録 is being
applied must not write the status back to 承認 (the lost update bench/load_burst.py found
with two intake workers)."""
from __future__ import annotations

from sqlalchemy import select

from services.intake import applications as apps
from services.intake.models import Application, HistoryEntry
from shared.db import utcnow
from tests import factories
from tests.distributed.conftest import race


def report(app_id: int, status: str, event: str, **extra) -> dict:
    return {"application_id": app_id, "round": 1, "status": status, "event": event,
            "at": utcnow().isoformat(), "stage": None, "reviewer_org_id": None,
            "actor": None, "comment": None, **extra}


def test_a_late_report_read_during_another_workers_transaction_changes_nothing(distributed):
    d = distributed
    ctx = d.runtime.services["intake"]
    app_id = factories.create_application(d.client, d.headers("demo-applicant"))
    with ctx.transaction() as session:
        app = session.get(Application, app_id)
        app.status, app.round, app.stage = "secondary_review", 1, "secondary"

    def approved() -> None:     # the earlier report, delivered later to another worker
        with ctx.transaction() as session:
            apps.apply_status_change(ctx, session, report(app_id, "approved", "decided"))

    # Worker 1 applies the master's 登録 and holds its transaction open meanwhile.
    race(ctx.transaction, lambda session: apps.apply_status_change(
        ctx, session, report(app_id, "registered", "registered", master_version=7)), approved,
        hold=1.0)
    with ctx.transaction() as session:
        app = session.get(Application, app_id)
        assert (app.status, app.master_version) == ("registered", 7)
        events = session.scalars(select(HistoryEntry.event).where(
            HistoryEntry.application_id == app_id, HistoryEntry.round == 1)).all()
        assert sorted(events) == ["decided", "registered"]   # both kept in the history
