"""The organisation's list of applications (the API's list and the applicant's
dashboard) is one query of the list's columns: the forms and history stay unread."""
from __future__ import annotations

from sqlalchemy import event


def test_the_list_is_one_query_and_reads_no_forms(idle_suite):
    from services.intake import applications as apps

    headers = idle_suite.headers("demo-applicant")
    from services.intake.models import Application

    with idle_suite.ctx("intake").transaction() as session:      # an older, registered one
        old = Application(org_id="131016", kind="connection", status="registered", round=1,
                          number="2025-000009", created_by="test")
        session.add(old)
        session.flush()
        made = [old.id]
    res = idle_suite.client.post("/api/intake/applications", json={"kind": "change"},
                                 headers=headers)
    assert res.status_code == 201, res.get_json()
    made.append(res.get_json()["id"])
    ctx = idle_suite.ctx("intake")
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(ctx.db.engine, "before_cursor_execute", listener)
    try:
        with ctx.reading() as session:
            items = apps.list_of_org(session, "131016")
    finally:
        event.remove(ctx.db.engine, "before_cursor_execute", listener)
    assert [i["id"] for i in items][:2] == sorted(made, reverse=True)      # newest first
    assert set(items[0]) == {"id", "number", "kind", "status", "round", "updated_at"}
    queries = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(queries) == 1 and "intake_form" not in queries[0]
    listed = idle_suite.client.get("/api/intake/applications", headers=headers).get_json()
    assert [i["id"] for i in listed["items"]][:2] == sorted(made, reverse=True)
