"""The client address of the login throttle and audit: X-Forwarded-For counts only from
the proxy NWS_TRUSTED_PROXY names, and then only its own (last) entry; otherwise the
peer's address. Served by waitress with the options `nws web` and `nws serve` use."""
from __future__ import annotations

import dataclasses
import json
import socket
import threading
import urllib.error
import urllib.request

import pytest
from sqlalchemy import select

from nws.cli import proxy_options
from services.identity.models import LoginAudit


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(suite, trusted_proxy: str):
    from waitress import create_server

    settings = dataclasses.replace(suite.runtime.settings, trusted_proxy=trusted_proxy)
    port = _free_port()
    server = create_server(suite.app, host="127.0.0.1", port=port, threads=2,
                           **proxy_options(settings))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return server, thread, port


def _failed_login(port: int, forwarded_for: str | None) -> None:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/auth/token", method="POST",
                                 data=json.dumps({"login": "demo-pref",
                                                  "password": "wrong-password-1"}).encode(),
                                 headers={"Content-Type": "application/json"})
    if forwarded_for:
        req.add_header("X-Forwarded-For", forwarded_for)
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 401


def _last_address(suite) -> str:
    with suite.ctx("identity").transaction() as session:
        return session.scalars(select(LoginAudit.address).order_by(LoginAudit.id.desc())).first()


@pytest.mark.parametrize("trusted,forwarded,expected", [
    ("", "203.0.113.7", "127.0.0.1"),                          # no proxy trusted: ignored
    ("192.0.2.250", "203.0.113.7", "127.0.0.1"),               # not from the trusted proxy
    ("127.0.0.1", "203.0.113.7", "203.0.113.7"),               # from it: the client
    ("127.0.0.1", "198.51.100.1, 203.0.113.7", "203.0.113.7"),  # a client's own entry: ignored
    ("*", "203.0.113.8", "203.0.113.8"),
    ("127.0.0.1", None, "127.0.0.1"),
])
def test_forwarded_for_counts_only_from_the_trusted_proxy(idle_suite, trusted, forwarded,
                                                           expected):
    server, thread, port = _serve(idle_suite, trusted)
    try:
        _failed_login(port, forwarded)
    finally:
        server.close()
        thread.join(5)
    assert _last_address(idle_suite) == expected
