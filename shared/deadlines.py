"""When applicants are told about a phase deadline (docs/notifications.md): a notice
``before:<days>`` at each of ``NWS_DEADLINE_NOTICE_DAYS`` (the smallest threshold the
days left have reached) and ``passed`` after the end. Review tells the applicants of
returned cases, intake those of applications never submitted; each keeps one notice per
application, phase and notice so a second run or worker sends nothing."""
from __future__ import annotations

import datetime as dt
from typing import Iterable, NamedTuple


class Notice(NamedTuple):
    notice: str          # "before:7", "before:1", "passed"
    kind: str            # the notification kind: deadline_near | deadline_passed
    days_left: int


def notice_due(end: dt.date | None, day: dt.date, notice_days: Iterable[int]) -> Notice | None:
    """The notice the day calls for, if any, for a phase that ends on ``end``."""
    if end is None:
        return None
    left = (end - day).days
    if left < 0:
        return Notice("passed", "deadline_passed", left)
    due = [d for d in notice_days if left <= d]
    return Notice(f"before:{min(due)}", "deadline_near", left) if due else None
