"""RateLimits.acquire counts and checks in one step of the shared storage: concurrent
callers never get more than the limit between them (Redis, as the distributed suite
uses it)."""
from __future__ import annotations

import os
import threading
import uuid

import pytest

from shared.ratelimit import RateLimits
from shared.web import ApiError


class _Settings:
    def __init__(self, broker_url: str, prefix: str) -> None:
        self.broker_url = broker_url
        self.broker_key_prefix = prefix


def _redis_up() -> bool:
    import redis

    try:
        return redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    except redis.RedisError:
        return False


@pytest.mark.parametrize("broker", ["memory://", "redis://127.0.0.1:6379/0"])
def test_concurrent_acquires_never_exceed_the_limit(broker):
    if broker.startswith("redis") and not _redis_up():
        if os.environ.get("CI") == "true":
            pytest.fail("Redis is not running on 127.0.0.1:6379")
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    # On Redis, several RateLimits (each its own connection pool) stand for several web
    # processes sharing the storage; in memory there is one process.
    prefix = f"test-{uuid.uuid4().hex[:8]}-"
    count = 4 if broker.startswith("redis") else 1
    processes = [RateLimits(_Settings(broker, prefix)) for _ in range(count)]
    start = threading.Barrier(40)
    granted, refused = [], []

    def one(n):
        limits = processes[n % len(processes)]
        start.wait()
        try:
            limits.acquire("7/hour", "test.acquire", "org-1", what="テスト")
            granted.append(n)
        except ApiError as exc:
            assert exc.status == 429 and "1 時間あたり 7 回" in exc.message
            assert 1 <= int(exc.headers["Retry-After"]) <= 3600
            refused.append(n)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 7 and len(refused) == 33
