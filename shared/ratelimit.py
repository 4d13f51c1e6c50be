"""Rate limits on actions that make the suite send something on demand (redelivering a
webhook, for instance), counted per thing acted on, with the ``limits`` library.

The counters live in Redis when the broker is Redis, so every web process of the
distributed suite counts together; the embedded suite (one process) keeps them in
memory. Each Flask app has its own :class:`RateLimits` (``create_app`` makes it).
"""
from __future__ import annotations

import math
import time

from flask import current_app
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter

from shared.web import ApiError

UNITS = {"second": "秒", "minute": "分", "hour": "時間", "day": "日", "month": "か月",
         "year": "年"}


def describe(item: RateLimitItem) -> str:
    """``5/minute`` as a Japanese reader says it: 「1 分あたり 5 回」."""
    unit = UNITS.get(item.GRANULARITY.name, item.GRANULARITY.name)
    return f"{item.multiples} {unit}あたり {item.amount} 回"


class RateLimits:
    def __init__(self, settings) -> None:
        if settings.broker_url.startswith(("redis://", "rediss://")):
            storage = RedisStorage(settings.broker_url,
                                   key_prefix=f"{settings.broker_key_prefix}nws-ratelimit")
        else:
            storage = MemoryStorage()
        self.limiter = MovingWindowRateLimiter(storage)

    def retry_after(self, limit: str, *key: str) -> int | None:
        """Seconds until ``key`` may act again under ``limit`` (None: it may now)."""
        item = parse(limit)
        if self.limiter.test(item, *key):
            return None
        reset = self.limiter.get_window_stats(item, *key).reset_time
        return max(1, math.ceil(reset - time.time()))

    def check(self, limit: str, *key: str, what: str) -> None:
        """429 (Japanese, with Retry-After) if ``key`` used up ``limit``; ``what`` names
        the action in the message. Counts nothing: a cheap early refusal."""
        wait = self.retry_after(limit, *key)
        if wait is not None:
            raise self._refusal(limit, wait, what)

    def acquire(self, limit: str, *key: str, what: str) -> None:
        """Count one action of ``key`` if ``limit`` allows it, in one atomic step of the
        storage (a Lua script on Redis), so that concurrent callers on any number of
        processes never get more than ``limit`` between them; 429 otherwise."""
        wait = self.take(limit, *key)
        if wait is not None:
            raise self._refusal(limit, wait, what)

    def take(self, limit: str, *key: str) -> int | None:
        """Count one action of ``key`` atomically if ``limit`` allows it (None), or the
        seconds to wait (nothing counted)."""
        if self.limiter.hit(parse(limit), *key):
            return None
        return self.retry_after(limit, *key) or 1

    @staticmethod
    def _refusal(limit: str, wait: int, what: str) -> ApiError:
        return ApiError(429, "rate_limited",
                        f"{what}は{describe(parse(limit))}までです。"
                        f"{wait} 秒後に再度お試しください。",
                        headers={"Retry-After": str(wait)}, retry_after=wait)


def rate_limits() -> RateLimits:
    """The rate limits of the current Flask app."""
    return current_app.extensions["nws.ratelimits"]
