"""Outbound requests go only where they may (shared.outbound): every spelling of a
refused address is recognised, every address a name resolves to is checked, the
checked address is the one connected to, redirects are not followed, no proxy comes
from the environment, and what a failure tells is a status class and a Japanese
reason."""
from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
import threading

import pytest

from shared import outbound
from shared.config import Settings
from tests.outbound_support import (MALFORMED, PUBLIC_ADDRESS, REFUSED, Receiver,  # noqa: F401
                                    only_loopback, receiver, resolver)

STRICT = outbound.Policy()
LOCAL = outbound.Policy.parse(["127.0.0.0/8"])
BODY, HEADERS = b'{"n":1}', {"content-type": "application/json"}


# --- the text of a URL ---------------------------------------------------------------

@pytest.mark.parametrize("url, canonical", [
    ("http://127.1:8080/x", "http://127.0.0.1:8080/x"),
    ("http://2130706433/", "http://127.0.0.1/"),
    ("http://0x7f000001/", "http://127.0.0.1/"),
    ("http://0x7f.1/", "http://127.0.0.1/"),
    ("http://017700000001/", "http://127.0.0.1/"),
    ("http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/"),
    ("HTTPS://Hooks.Example.JP:443/a/../b?q=1#frag", "https://hooks.example.jp/b?q=1"),
    ("http://日本.example.jp/", "http://xn--wgv71a.example.jp/"),
])
def test_every_spelling_of_an_address_becomes_the_address_it_means(url, canonical):
    assert outbound.parse(url).href == canonical


@pytest.mark.parametrize("url, code", MALFORMED)
def test_only_http_and_https_without_userinfo_are_accepted(url, code):
    with pytest.raises(outbound.Refused) as exc:
        outbound.check(url.format(port=1), LOCAL)
    assert exc.value.code == code
    assert any("\u3040" <= ch <= "\u9fff" for ch in exc.value.message)


# --- registration: resolve, check every address ----------------------------------------

@pytest.mark.parametrize("url", REFUSED)
def test_internal_destinations_are_refused_at_registration(url, resolver):
    with pytest.raises(outbound.Refused) as exc:
        outbound.check(url.format(port=8080), STRICT)
    assert exc.value.code == "refused"
    assert "内部向け" in exc.value.message


def test_a_name_that_resolves_to_loopback_is_refused(resolver):
    # localhost resolves for real (to 127.0.0.1 and/or ::1): refused either way
    with pytest.raises(outbound.Refused):
        outbound.check("http://localhost:8080/", STRICT)
    resolver.answers["internal.example.jp"] = ["10.1.2.3"]
    with pytest.raises(outbound.Refused):
        outbound.check("https://internal.example.jp/hook", STRICT)


def test_every_address_of_a_name_is_checked_not_just_the_first(resolver):
    resolver.answers["mixed.example.jp"] = [PUBLIC_ADDRESS, "169.254.169.254"]
    with pytest.raises(outbound.Refused):
        outbound.check("https://mixed.example.jp/hook", STRICT)
    resolver.answers["mixed.example.jp"] = [PUBLIC_ADDRESS, "2001:4860:4860::8888"]
    assert outbound.check("https://mixed.example.jp/hook", STRICT) == "https://mixed.example.jp/hook"


def test_an_unresolvable_name_is_refused(resolver):
    with pytest.raises(outbound.Refused) as exc:
        outbound.check("https://nowhere.example.jp/hook", STRICT)
    assert exc.value.code == "unresolvable"


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://127.1:9/x",
                                 "http://2130706433:9/x", "http://0x7f000001:9/x",
                                 "http://[::ffff:127.0.0.1]:9/x", "http://127.8.9.10/x"])
def test_the_allow_list_lets_127_0_0_0_8_through(url):
    assert outbound.check(url, LOCAL)
    with pytest.raises(outbound.Refused):
        outbound.check(url, STRICT)


def test_the_allow_list_lets_nothing_else_through(resolver):
    for url in ("http://[::1]/x", "http://10.0.0.1/x", "http://169.254.169.254/"):
        with pytest.raises(outbound.Refused):
            outbound.check(url, LOCAL)
    resolver.answers["half.example.jp"] = ["127.0.0.1", "10.0.0.1"]
    with pytest.raises(outbound.Refused):
        outbound.check("http://half.example.jp/x", LOCAL)


def test_settings_allow_nothing_by_default_in_every_mode(tmp_path):
    embedded = Settings.from_env({"NWS_DATA_DIR": str(tmp_path)}, embedded=True)
    distributed = Settings.from_env({"NWS_DATA_DIR": str(tmp_path),
                                     "NWS_SECRET_KEY": "k" * 40})
    for settings in (embedded, distributed):
        assert settings.outbound_allow == () and settings.outbound_proxy == ""
        assert outbound.Policy.of(settings) == STRICT
    given = Settings.from_env({"NWS_DATA_DIR": str(tmp_path), "NWS_SECRET_KEY": "k" * 40,
                               "NWS_OUTBOUND_ALLOW": " 127.0.0.0/8, 10.20.0.5 ,fd00::/8"})
    assert given.outbound_allow == ("127.0.0.0/8", "10.20.0.5/32", "fd00::/8")
    with pytest.raises(ValueError, match="NWS_OUTBOUND_ALLOW"):
        Settings.from_env({"NWS_DATA_DIR": str(tmp_path), "NWS_SECRET_KEY": "k" * 40,
                           "NWS_OUTBOUND_ALLOW": "localhost"})
    with pytest.raises(ValueError, match="NWS_OUTBOUND_PROXY"):
        Settings.from_env({"NWS_DATA_DIR": str(tmp_path), "NWS_SECRET_KEY": "k" * 40,
                           "NWS_OUTBOUND_PROXY": "socks5://proxy:1080"})


# --- delivery: checked again, connected to the checked address ---------------------------

@pytest.mark.parametrize("url", REFUSED)
def test_internal_destinations_are_refused_at_delivery(url, receiver, resolver, only_loopback):
    res = outbound.post(url.format(port=receiver.port), BODY, HEADERS, STRICT)
    assert (res.ok, res.status, res.status_class) == (False, None, "接続できませんでした")
    assert res.reason == "refused"
    assert receiver.requests == [] and only_loopback == []


@pytest.mark.parametrize("url, code", MALFORMED)
def test_malformed_destinations_are_refused_at_delivery(url, code, receiver, only_loopback):
    res = outbound.post(url.format(port=receiver.port), BODY, HEADERS, LOCAL)
    assert (res.ok, res.status, res.reason) == (False, None, "invalid_url")
    assert receiver.requests == [] and only_loopback == []


def test_the_allow_list_lets_a_delivery_to_127_0_0_0_8_through(receiver, only_loopback):
    res = outbound.post(receiver.url, BODY, HEADERS, LOCAL)
    assert (res.ok, res.status, res.status_class, res.reason) == (True, 204, "2xx", None)
    [req] = receiver.requests
    assert req["path"] == receiver.path and req["body"] == BODY


def test_dns_rebinding_between_registration_and_delivery_is_refused(receiver, resolver,
                                                                   only_loopback):
    url = f"http://rebind.example.jp:{receiver.port}{receiver.path}"
    resolver.answers["rebind.example.jp"] = [PUBLIC_ADDRESS]
    assert outbound.check(url, STRICT) == url                 # registered: public
    resolver.answers["rebind.example.jp"] = ["127.0.0.1"]     # then rebound to loopback
    res = outbound.post(url, BODY, HEADERS, STRICT)
    assert (res.ok, res.reason) == (False, "refused")
    assert receiver.requests == [] and only_loopback == []


def test_the_checked_address_is_the_one_connected_to(receiver, resolver, only_loopback):
    """The name is resolved once, by the check; the client connects to that address and
    sends the registered name as Host (a second lookup could have been rebound)."""
    url = f"http://pinned.example.jp:{receiver.port}{receiver.path}"
    resolver.answers["pinned.example.jp"] = ["127.0.0.1"]
    res = outbound.post(url, BODY, HEADERS, LOCAL)
    assert res.ok
    assert resolver.asked == ["pinned.example.jp"]
    assert only_loopback == ["127.0.0.1"]
    [req] = receiver.requests
    assert req["headers"]["host"] == f"pinned.example.jp:{receiver.port}"


def test_the_next_checked_address_is_tried_when_one_is_down(receiver, resolver, only_loopback):
    # the receiver listens on 127.0.0.1 only: 127.0.0.3 refuses the connection
    resolver.answers["two.example.jp"] = ["127.0.0.3", "127.0.0.1"]
    url = f"http://two.example.jp:{receiver.port}{receiver.path}"
    assert outbound.post(url, BODY, HEADERS, LOCAL).ok
    assert only_loopback == ["127.0.0.3", "127.0.0.1"] and len(receiver.requests) == 1


@pytest.mark.parametrize("location", ["{other}", "http://169.254.169.254/latest/meta-data/",
                                      "http://10.0.0.1/"])
def test_a_redirect_is_a_failed_delivery_and_is_not_followed(location, receiver,
                                                            only_loopback):
    redirecting = Receiver(status=302, location=location.format(other=receiver.url))
    try:
        res = outbound.post(redirecting.url, BODY, HEADERS, LOCAL)
    finally:
        redirecting.close()
    assert (res.ok, res.status, res.status_class, res.reason) == (False, 302, "3xx", "redirect")
    assert len(redirecting.requests) == 1 and receiver.requests == []
    assert only_loopback == ["127.0.0.1"]


@pytest.mark.parametrize("status, cls, reason", [(404, "4xx", "client_error"),
                                                 (500, "5xx", "server_error"),
                                                 (503, "5xx", "server_error")])
def test_an_error_answer_is_a_failure_with_its_class(status, cls, reason):
    r = Receiver(status=status)
    try:
        res = outbound.post(r.url, BODY, HEADERS, LOCAL)
    finally:
        r.close()
    assert (res.ok, res.status_class, res.reason) == (False, cls, reason)


def test_nothing_listening_is_a_connection_failure(only_loopback):
    res = outbound.post("http://127.0.0.1:9/hook", BODY, HEADERS, LOCAL)
    assert (res.ok, res.status, res.status_class, res.reason) == (
        False, None, "接続できませんでした", "connect")


def test_no_proxy_is_taken_from_the_environment(receiver, monkeypatch, only_loopback):
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                 "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")   # nothing listens there
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert outbound.post(receiver.url, BODY, HEADERS, LOCAL).ok
    assert len(receiver.requests) == 1 and only_loopback == ["127.0.0.1"]


def test_a_configured_proxy_is_asked_for_the_checked_address(resolver, only_loopback):
    proxy = Receiver()     # answers 204 to whatever it is asked, recording the request
    try:
        policy = outbound.Policy.parse(["127.0.0.0/8"], proxy=f"http://127.0.0.1:{proxy.port}")
        resolver.answers["via-proxy.example.jp"] = ["127.0.0.5"]
        res = outbound.post("http://via-proxy.example.jp:8080/hook?x=1", BODY, HEADERS, policy)
        assert res.ok
        [req] = proxy.requests
        assert req["path"] == "http://127.0.0.5:8080/hook?x=1"
        assert req["headers"]["host"] == "via-proxy.example.jp:8080"
        # a refused destination is not handed to the proxy either
        res = outbound.post("http://169.254.169.254/", BODY, HEADERS, policy)
        assert res.reason == "refused" and len(proxy.requests) == 1
    finally:
        proxy.close()


def test_what_a_failure_tells_is_japanese_and_never_internal():
    for text in outbound.REASONS.values():
        assert any("\u3040" <= ch <= "\u9fff" for ch in text)
    # texts recorded before (exception messages with addresses) are not shown again
    legacy = "URLError: <urlopen error [Errno 111] Connection refused> 10.0.0.1"
    assert outbound.public_reason(None, legacy) == outbound.REASONS["failed"]
    assert outbound.public_reason(503, "HTTP 503") == outbound.REASONS["server_error"]
    assert outbound.public_reason(204, None) is None


# --- TLS: the certificate is checked against the registered name -----------------------

@pytest.fixture(scope="module")
def tls_receiver(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=tls.example.jp", "-addext", "subjectAltName=DNS:tls.example.jp",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    seen: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length") or 0))
            seen.append({"host": self.headers.get("Host"),
                         "sni": getattr(self.connection, "nws_sni", None)})
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def remember_sni(sock, name, _ctx):
        sock.nws_sni = name
    context.sni_callback = remember_sni
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"port": server.server_port, "cert": str(cert), "seen": seen}
    server.shutdown()
    server.server_close()


def test_https_to_the_checked_address_verifies_the_registered_name(tls_receiver, resolver,
                                                                  only_loopback):
    port = tls_receiver["port"]
    policy = outbound.Policy.parse(["127.0.0.0/8"], ca_file=tls_receiver["cert"])
    resolver.answers["tls.example.jp"] = ["127.0.0.1"]
    res = outbound.post(f"https://tls.example.jp:{port}/hook", BODY, HEADERS, policy)
    assert res.ok, res
    assert tls_receiver["seen"][-1] == {"host": f"tls.example.jp:{port}", "sni": "tls.example.jp"}
    # Another name on the same address: its certificate does not match, so nothing is sent.
    resolver.answers["other.example.jp"] = ["127.0.0.1"]
    before = len(tls_receiver["seen"])
    res = outbound.post(f"https://other.example.jp:{port}/hook", BODY, HEADERS, policy)
    assert (res.ok, res.status_class, res.reason) == (False, "接続できませんでした", "tls")
    assert len(tls_receiver["seen"]) == before
