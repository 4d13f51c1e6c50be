"""Signatures verify with the Standard Webhooks reference library, unchanged."""
import http.server
import threading

from standardwebhooks.webhooks import Webhook

from shared import outbound, webhooks


def test_a_delivery_verifies_with_the_reference_library_under_each_active_secret():
    old, new = webhooks.generate_secret(), webhooks.generate_secret()
    body = webhooks.encode({"type": "review.decided", "result": "承認"})
    hdrs = webhooks.headers([old, new], "msg_2Qx", body)
    for secret in (old, new):
        assert Webhook(secret).verify(body, hdrs) == {"type": "review.decided", "result": "承認"}
        assert webhooks.verify(secret, hdrs, body)
    assert not webhooks.verify(webhooks.generate_secret(), hdrs, body)


def test_a_tampered_body_does_not_verify():
    secret = webhooks.generate_secret()
    hdrs = webhooks.headers([secret], "msg_1", b'{"a":1}')
    assert not webhooks.verify(secret, hdrs, b'{"a":2}')


def test_deliver_posts_signed_json_and_reports_the_status():
    received = []
    secret = webhooks.generate_secret()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append((dict(self.headers), body))
            self.send_response(204 if len(received) > 1 else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/hook"
    try:
        # The receiver listens on this machine: the policy must let 127.0.0.0/8 through.
        local = outbound.Policy.parse(["127.0.0.0/8"])
        first = webhooks.deliver(url, [secret], "msg_9", b'{"n":1}', policy=local)
        second = webhooks.deliver(url, [secret], "msg_9", b'{"n":1}', policy=local)
        refused = webhooks.deliver(url, [secret], "msg_9", b'{"n":1}')
    finally:
        server.shutdown()
    from prometheus_client import REGISTRY

    assert (first.ok, first.status, first.status_class) == (False, 503, "5xx")
    assert first.error == outbound.REASONS["server_error"]
    # Without an allow-list a loopback receiver is not reached at all.
    assert (refused.ok, refused.status, refused.status_class) == (False, None, "接続できませんでした")
    assert refused.error == outbound.REASONS["refused"] and len(received) == 2
    for outcome in ("delivered", "failed"):
        assert REGISTRY.get_sample_value("nws_deliveries_total",
                                         {"kind": "webhook", "outcome": outcome}) >= 1
    assert (second.ok, second.status) == (True, 204)
    hdrs, body = received[1]
    assert Webhook(secret).verify(body, hdrs) == {"n": 1}
