"""What the outbound (SSRF) tests share: the matrix of refused destinations, a guard that
fails a test if anything connects anywhere but loopback, a scriptable resolver, and a
receiver that can answer with a redirect."""
from __future__ import annotations

import http.server
import ipaddress
import threading
import uuid

import pytest

from shared import outbound

#: destinations refused without an allow-list; ``{port}`` is a receiver's port on this
#: machine where the address is a loopback one (so a leak would actually arrive)
REFUSED = [
    pytest.param("http://127.0.0.1:{port}/hook", id="127.0.0.1"),
    pytest.param("http://127.1:{port}/hook", id="127.1"),
    pytest.param("http://2130706433:{port}/hook", id="2130706433"),
    pytest.param("http://0x7f000001:{port}/hook", id="0x7f000001"),
    pytest.param("http://0x7f.1:{port}/hook", id="0x7f.1"),
    pytest.param("http://[::1]:{port}/hook", id="[::1]"),
    pytest.param("http://[::ffff:127.0.0.1]:{port}/hook", id="[::ffff:127.0.0.1]"),
    pytest.param("http://localhost:{port}/hook", id="localhost"),
    pytest.param("http://0.0.0.0:{port}/hook", id="0.0.0.0"),
    pytest.param("http://[::]:{port}/hook", id="[::]"),
    pytest.param("http://169.254.169.254/latest/meta-data/", id="169.254.169.254"),
    pytest.param("http://[fe80::1]/hook", id="fe80::1"),
    pytest.param("http://10.0.0.1/hook", id="10.0.0.1"),
    pytest.param("http://172.16.0.1/hook", id="172.16.0.1"),
    pytest.param("http://192.168.1.1/hook", id="192.168.1.1"),
    pytest.param("http://[fd00::1]/hook", id="fd00::1"),
    pytest.param("http://100.64.0.1/hook", id="100.64.0.1"),
    pytest.param("http://224.0.0.1/hook", id="224.0.0.1"),
    pytest.param("http://[ff02::1]/hook", id="ff02::1"),
    pytest.param("http://240.0.0.1/hook", id="240.0.0.1-reserved"),
    pytest.param("http://[::ffff:169.254.169.254]/hook", id="[::ffff:169.254.169.254]"),
    pytest.param("http://[64:ff9b::a00:1]/hook", id="nat64-10.0.0.1"),
]

#: refused by their form before any address is looked at
MALFORMED = [
    pytest.param("ftp://127.0.0.1:{port}/hook", "scheme", id="ftp"),
    pytest.param("file:///etc/passwd", "scheme", id="file"),
    pytest.param("gopher://127.0.0.1:{port}/", "scheme", id="gopher"),
    pytest.param("http://user:pass@hooks.example.jp/hook", "userinfo", id="userinfo"),
    pytest.param("http://hooks.example.jp@127.0.0.1:{port}/hook", "userinfo",
                 id="userinfo-host-confusion"),
    pytest.param("http://1.2.3.4.5/", "invalid_url", id="not-an-address"),
]

#: what the test names of public receivers resolve to; never connected to (the
#: ``only_loopback`` guard fails a test that tries)
PUBLIC_ADDRESS = "93.184.215.14"


class Resolver:
    """Stands in for :func:`shared.outbound.resolve`: ``answers[name]`` is the list of
    addresses a name resolves to now (change it to rebind); other names resolve
    normally (``localhost``)."""

    def __init__(self, real):
        self.real = real
        self.answers: dict[str, list[str]] = {}
        self.asked: list[str] = []

    def __call__(self, host: str, port: int):
        self.asked.append(host)
        if host in self.answers:
            return [ipaddress.ip_address(a) for a in self.answers[host]]
        if host.endswith(".example.jp"):   # never ask the network for test names
            raise OSError("unknown test name")
        return self.real(host, port)


@pytest.fixture
def resolver(monkeypatch):
    fake = Resolver(outbound.resolve)
    monkeypatch.setattr(outbound, "resolve", fake)
    return fake


@pytest.fixture
def only_loopback(monkeypatch):
    """Fail the test if the HTTP client connects anywhere but loopback: the refused
    destinations must never see a packet (and this machine must send none to private
    or public ranges)."""
    import urllib3.util.connection as conn

    real = conn.create_connection
    attempts: list[str] = []

    def guarded(address, *args, **kwargs):
        host = address[0]
        attempts.append(host)
        if not ipaddress.ip_address(host).is_loopback:
            raise AssertionError(f"the HTTP client connected to {host}")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(conn, "create_connection", guarded)
    return attempts


class Receiver:
    """An HTTP endpoint on 127.0.0.1 recording POSTs; answers ``status`` (with
    ``location`` as its Location header when given)."""

    def __init__(self, status: int = 204, location: str | None = None):
        self.status, self.location = status, location
        self.requests: list[dict] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver.requests.append({"path": self.path, "body": body,
                                          "headers": {k.lower(): v
                                                      for k, v in self.headers.items()}})
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("content-length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.path = f"/hooks/{uuid.uuid4().hex}"
        self.url = f"http://127.0.0.1:{self.port}{self.path}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def no_address_in(text: str) -> bool:
    """Nothing in ``text`` looks like an address the suite resolved or an exception."""
    return not any(s in text for s in ("127.0.0.1", "::1", "169.254", "10.0.0.1",
                                      "Errno", "Error", "Traceback", "refused by"))


# Receivers on this machine are reached only when allowed explicitly.
LOCAL = {"NWS_OUTBOUND_ALLOW": "127.0.0.0/8"}


@pytest.fixture
def local(tmp_path):
    """An embedded suite (with its worker) whose outbound requests may reach loopback."""
    from tests.conftest import Suite

    s = Suite(tmp_path / "var", env=LOCAL)
    yield s
    s.close()


def japanese(text: str) -> bool:
    return any("\u3040" <= ch <= "\u9fff" for ch in text)
