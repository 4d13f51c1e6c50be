"""The cost of one registration does not grow with the master: the same statements run
whatever the master's size, and every one that reads or changes master rows goes
through an index (no scan of the table). bench/master_bench.py measures the times."""
from __future__ import annotations

import copy

from sqlalchemy import event, text

from services.master import registry
from tests.master import approved

BASE = approved.ORGS["131024"]


def org(i: int) -> dict:
    return {**BASE, "id": f"X{i:05d}", "name": f"組合{i:05d}", "branch": "union"}


def grow(ctx, first: int, count: int) -> None:
    """``count`` more organisations with every form, in one batched publication."""
    with ctx.transaction() as session:
        registry.set_mode(session, "batched")
        for i in range(first, first + count):
            o = org(i)
            body = approved.payload("131024", copy.deepcopy(approved.forms("131024")))
            body["org"] = o
            registry.register(ctx, session, body)
        registry.publish_prepared(ctx, session)
        registry.set_mode(session, "immediate")


def change_of(i: int, generation: int) -> dict:
    forms = approved.forms("131024")
    forms["03-07"] = approved.form_03_07("131024", items=(generation, generation + 1))
    forms["02-02"]["normal_contacts"][0]["phone"] = f"03-9999-{generation:04d}"
    body = approved.payload("131024", forms, kind="change")
    body["org"] = org(i)
    return body


def statements_of_one_registration(ctx, body) -> list[tuple[str, object]]:
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(ctx.db.engine, "before_cursor_execute", record)
    try:
        with ctx.transaction() as session:
            assert registry.register(ctx, session, body) is not None
    finally:
        event.remove(ctx.db.engine, "before_cursor_execute", record)
    return seen


def shape(statements) -> list[str]:
    return [" ".join(s.split()) for s, _ in statements]


def test_one_registration_runs_the_same_indexed_statements_at_any_master_size(idle_suite):
    ctx = idle_suite.ctx("master")
    grow(ctx, 0, 3)
    small = statements_of_one_registration(ctx, change_of(1, 10))
    grow(ctx, 3, 120)
    large = statements_of_one_registration(ctx, change_of(2, 20))
    assert shape(small) == shape(large)

    plans = []
    with ctx.db.engine.connect() as conn:
        for statement, params in large:
            words = statement.split()
            if "master_rows" not in statement or words[0] not in ("SELECT", "UPDATE"):
                continue
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
            plans.append((statement, [r[-1] for r in rows]))
    assert plans, "no statement read master rows"
    for statement, plan in plans:
        assert not any(p.startswith("SCAN master_rows") for p in plan), (statement, plan)


def test_a_version_diff_reads_only_the_rows_that_changed(idle_suite):
    ctx = idle_suite.ctx("master")
    grow(ctx, 0, 50)
    with ctx.transaction() as session:
        registry.register(ctx, session, change_of(3, 7))
        head = registry.head(session).number
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(ctx.db.engine, "before_cursor_execute", record)
    with ctx.db.transaction() as session:
        d = registry.diff(session, head - 1, head)
    event.remove(ctx.db.engine, "before_cursor_execute", record)
    assert sorted(d) == ["contacts", "query_affairs"]
    with ctx.db.engine.connect() as conn:
        for statement, params in seen:
            plan = [r[-1] for r in conn.exec_driver_sql(
                text("EXPLAIN QUERY PLAN " + statement).text, params).all()]
            assert not any(p.startswith("SCAN master_rows") for p in plan), (statement, plan)
