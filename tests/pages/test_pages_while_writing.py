"""Pages that only read answer while another transaction holds a database's write lock
(the embedded suite on SQLite): the page header's unread count, the dashboard and the
queue read in reading sessions, which never wait for the lock."""
from __future__ import annotations

import sqlite3
import time

from tests.pages.support import client_for


def _hold_write_lock(suite, service: str) -> sqlite3.Connection:
    path = suite.runtime.settings.database_url(service).removeprefix("sqlite:///")
    conn = sqlite3.connect(path, isolation_level=None, timeout=0.1)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_pages_answer_while_a_writer_holds_the_lock(idle_suite):
    pages = {"demo-applicant": "/applicant/", "demo-pref": "/review/"}
    clients = {login: client_for(idle_suite, login) for login in pages}
    for login, url in pages.items():
        assert clients[login].get(url).status_code == 200       # revocation state fetched
    held = [_hold_write_lock(idle_suite, s) for s in ("identity", "intake", "review")]
    try:
        for login, url in pages.items():
            started = time.monotonic()
            res = clients[login].get(url)
            assert res.status_code == 200
            assert time.monotonic() - started < 5        # a writer's BEGIN would wait 30 s
            assert "お知らせ" in res.get_data(as_text=True)
    finally:
        for conn in held:
            conn.rollback()
            conn.close()
