"""Real HTTP receivers on 127.0.0.1 for delivery tests, and signed subscriber requests.

Outbound requests reach loopback only when allowed: a suite that delivers to these
receivers sets ``NWS_OUTBOUND_ALLOW=127.0.0.0/8`` (``Suite(..., env=...)``)."""
from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
import time
import uuid

from standardwebhooks.webhooks import Webhook


class Receiver:
    """An HTTP server in a thread that records every POST. The first ``fail_first``
    requests are answered ``fail_status``; later ones 204 (or always ``fail_status``
    when ``fail_first`` is None)."""

    def __init__(self, fail_first: int | None = 0, fail_status: int = 503) -> None:
        self.requests: list[dict] = []
        self.fail_first, self.fail_status = fail_first, fail_status
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.requests.append({"at": time.monotonic(),
                                          "headers": {k.lower(): v for k, v
                                                      in self.headers.items()},
                                          "body": body})
                failing = (receiver.fail_first is None
                           or len(receiver.requests) <= receiver.fail_first)
                self.send_response(receiver.fail_status if failing else 204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/nws-master"

    def documents(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def signed(secret: str, body: bytes = b"") -> dict[str, str]:
    """Headers a subscriber sends to reach its subscription: the request body (empty for
    GET) signed with its secret by the Standard Webhooks reference library."""
    msg_id = f"msg_{uuid.uuid4().hex}"
    now = dt.datetime.now(dt.timezone.utc)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, now, body.decode())}
