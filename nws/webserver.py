"""The web server of `nws web` and `nws serve`: waitress, stopped gracefully.

On SIGTERM (a container stopping, a rolling restart) or Ctrl-C the server stops
accepting connections at once, lets every request already received finish and its
answer reach the client, closes idle keep-alive connections, and only then exits — or
after ``grace`` seconds, whatever is still running. waitress's own stop ends its loop
first and drops the answers of requests in flight, hence this loop around it.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Callable

from waitress import create_server
from waitress.channel import HTTPChannel

log = logging.getLogger(__name__)

DEFAULT_GRACE = 30.0


def serve(app, *, host: str, port: int, threads: int, grace: float = DEFAULT_GRACE,
          on_listen: Callable[[], None] | None = None, **options) -> None:
    server = create_server(app, host=host, port=port, threads=threads, **options)
    stopping = threading.Event()

    def request_stop(*_args) -> None:
        stopping.set()
        server.pull_trigger()           # wake the loop now

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM,
                                                                 signal.SIGINT)}
    if on_listen is not None:
        on_listen()
    try:
        while not stopping.is_set():
            server.asyncore.loop(timeout=server.adj.asyncore_loop_timeout, map=server._map,
                                 use_poll=server.adj.asyncore_use_poll, count=1)
        _drain(server, grace)
    finally:
        server.task_dispatcher.shutdown(timeout=1)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _busy(server) -> list[HTTPChannel]:
    """Connections with a request being received or served, or an answer not yet sent."""
    return [ch for ch in list(server._map.values()) if isinstance(ch, HTTPChannel)
            and (ch.request is not None or ch.requests or ch.total_outbufs_len)]


def _drain(server, grace: float) -> None:
    """Stop listening; keep serving the connections that have a request in progress or
    an answer not yet sent until they are done or ``grace`` is over."""
    server.accepting = False
    server.del_channel()
    server.socket.close()
    deadline = time.monotonic() + grace
    busy = _busy(server)
    log.info("stopping: no new connections; finishing %d request(s) in flight", len(busy))
    while busy and time.monotonic() < deadline:
        server.asyncore.loop(timeout=0.05, map=server._map,
                             use_poll=server.adj.asyncore_use_poll, count=1)
        busy = _busy(server)
    if busy:
        log.warning("stopped with %d request(s) unfinished after %.0f s", len(busy), grace)
    for channel in [ch for ch in list(server._map.values()) if isinstance(ch, HTTPChannel)]:
        channel.close()
